/* planes.c: storage shared by masks (width 1) and codes (width 1..8): per sample
 * ceil(D/32) blocks of `width` bit-plane words (pack.c), plus one "saved" byte per
 * sample so restoring a sample never read garbage. */
#include <string.h>

#include "internal.h"

static size_t align64(size_t v) { return (v + 63) & ~(size_t)63; }

int planes_create(actnn_ctx *ctx, size_t N, size_t D, int width, planes_store **out)
{
    size_t payload, meta;
    int err = actnn_codes_size(N, D, width, &payload, &meta);
    if (err) return err;
    if (meta > SIZE_MAX / 2 || payload > SIZE_MAX / 2 - meta - 128) return ACTNN_E_TOO_LARGE;
    size_t off_words = align64(meta);
    unsigned char *blk = pool_alloc(&ctx->pool, off_words + payload);
    if (!blk) return ACTNN_E_NOMEM;
    planes_store *s = (planes_store *)blk;
    *s = (planes_store){.magic = ACTNN_MAGIC_PLANES, .width = width, .N = N, .D = D,
                        .words_per_sample = sample_payload_bytes(D, width) / 4,
                        .payload_bytes = payload, .meta_bytes = meta,
                        .saved = blk + sizeof(planes_store),
                        .words = (uint32_t *)(blk + off_words)};
    memset(s->saved, 0, N);
    ctx_account(ctx, payload, meta, +1);
    *out = s;
    return ACTNN_OK;
}

int planes_check(const planes_store *s, size_t i, const void *ptr)
{
    if (!s || !ptr) return ACTNN_E_NULL;
    return i < s->N ? ACTNN_OK : ACTNN_E_INDEX;
}

int planes_free(actnn_ctx *ctx, planes_store *s)
{
    if (s->magic != ACTNN_MAGIC_PLANES) return ACTNN_E_PARAM; /* freed twice (tensor.c) */
    ctx_account(ctx, s->payload_bytes, s->meta_bytes, -1);
    s->magic = 0;
    pool_free(&ctx->pool, s);
    return ACTNN_OK;
}
