/* codes.c: exact small integer codes of width 1..8 bits (maxpool argmax positions). */
#include "internal.h"

int actnn_codes_create(actnn_ctx *ctx, size_t N, size_t D, int width, actnn_codes **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    if (!ctx) return ACTNN_E_NULL;
    planes_store *s;
    int err = planes_create(ctx, N, D, width, &s);
    if (!err) *out = (actnn_codes *)s;
    return err;
}

int actnn_codes_set(actnn_ctx *ctx, actnn_codes *c, size_t i, const uint8_t *codes)
{
    if (!ctx || !c) return ACTNN_E_NULL;
    planes_store *s = &c->s;
    int err = planes_check(s, i, codes);
    if (err) return err;
    s->saved[i] = 0;
    unsigned over = 0;
    for (size_t k = 0; k < s->D; ++k) over |= (unsigned)codes[k] >> s->width;
    if (over) return ACTNN_E_CODE;
    planes_pack(codes, s->D, s->width, s->words + i * s->words_per_sample, ctx_simd(ctx));
    s->saved[i] = 1;
    return ACTNN_OK;
}

int actnn_codes_get(actnn_ctx *ctx, const actnn_codes *c, size_t i, uint8_t *out)
{
    if (!ctx || !c) return ACTNN_E_NULL;
    const planes_store *s = &c->s;
    int err = planes_check(s, i, out);
    if (err) return err;
    if (!s->saved[i]) return ACTNN_E_NOT_SAVED;
    planes_unpack(s->words + i * s->words_per_sample, s->D, s->width, out, ctx_simd(ctx));
    return ACTNN_OK;
}

int actnn_codes_free(actnn_ctx *ctx, actnn_codes *c)
{
    if (!c) return ACTNN_OK;
    if (!ctx) return ACTNN_E_NULL;
    return planes_free(ctx, &c->s);
}

/* ---- caller memory (actnn.h "masks and codes in the caller's memory") ---- */

static int raw_codes_args(const actnn_ctx *ctx, const void *a, const void *b, size_t D, int width,
                          size_t count)
{
    if (!ctx || !a || !b) return ACTNN_E_NULL;
    if (width < 1 || width > 8) return ACTNN_E_BITS;
    return size_check_nd(count, D);
}

int actnn_raw_codes_set(actnn_ctx *ctx, size_t D, int width, size_t count, const uint8_t *codes,
                        uint32_t *words)
{
    int err = raw_codes_args(ctx, codes, words, D, width, count);
    if (err) return err;
    unsigned over = 0;
    for (size_t k = 0; k < count * D; ++k) over |= (unsigned)codes[k] >> width;
    if (over) return ACTNN_E_CODE; /* nothing stored, as actnn_codes_set */
    size_t wps = sample_payload_bytes(D, width) / 4;
    for (size_t n = 0; n < count; ++n)
        planes_pack(codes + n * D, D, width, words + n * wps, ctx_simd(ctx));
    return ACTNN_OK;
}

int actnn_raw_codes_get(actnn_ctx *ctx, size_t D, int width, size_t count, const uint32_t *words,
                        uint8_t *codes)
{
    int err = raw_codes_args(ctx, words, codes, D, width, count);
    if (err) return err;
    size_t wps = sample_payload_bytes(D, width) / 4;
    for (size_t n = 0; n < count; ++n)
        planes_unpack(words + n * wps, D, width, codes + n * D, ctx_simd(ctx));
    return ACTNN_OK;
}

int actnn_codes_raw(const actnn_codes *c, const void **words, size_t *bytes)
{
    if (!c || !words || !bytes) return ACTNN_E_NULL;
    if (c->s.magic != ACTNN_MAGIC_PLANES) return ACTNN_E_PARAM;
    *words = c->s.words;
    *bytes = c->s.N * c->s.words_per_sample * sizeof(uint32_t);
    return ACTNN_OK;
}
