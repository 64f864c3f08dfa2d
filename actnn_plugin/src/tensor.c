/* tensor.c: quantized tensors: create, save (whole batch or per sample), restore, free.
 *
 * One pooled block holds a tensor: [struct][sample table][group metadata][payload].
 * The work unit is (sample, group): every group's bytes depend only on its own values,
 * the seed, the tensor id and its position, so any thread may do any unit and the
 * stored bytes never depend on the number of threads. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static size_t align64(size_t v) { return (v + 63) & ~(size_t)63; }

static int check_bits(int bits, const uint8_t *sample_bits, size_t N)
{
    if (!sample_bits) return bits_valid(bits) ? ACTNN_OK : ACTNN_E_BITS;
    for (size_t n = 0; n < N; ++n)
        if (!bits_valid(sample_bits[n])) return ACTNN_E_BITS;
    return ACTNN_OK;
}

/* Offsets of every sample's payload and metadata; returns the group count. */
static size_t fill_samples(actnn_tensor *t, int bits, const uint8_t *sample_bits)
{
    size_t pay = 0, groups = 0;
    for (size_t n = 0; n < t->N; ++n) {
        int b = sample_bits ? sample_bits[n] : bits;
        t->samples[n] = (tensor_sample){.pay_off = pay, .meta_off = groups, .bits = (uint8_t)b};
        pay += sample_payload_bytes(t->D, b);
        if (b <= 8) groups += t->ngroups;
    }
    return groups;
}

int actnn_tensor_create(actnn_ctx *ctx, size_t N, size_t D, int bits, const uint8_t *sample_bits,
                        uint64_t tensor_id, actnn_tensor **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    if (!ctx) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (!err) err = check_bits(bits, sample_bits, N);
    if (err) return err;
    size_t G = ctx->cfg.group_size, payload, meta;
    err = sample_bits ? actnn_tensor_size_mixed(N, D, sample_bits, G, &payload, &meta)
                      : actnn_tensor_size(N, D, bits, G, &payload, &meta);
    if (err) return err;
    /* meta = struct + table + 4 bytes per group, so the offsets below cannot overflow
     * once meta + payload + 3*64 does not. */
    if (meta > SIZE_MAX / 2 || payload > SIZE_MAX / 2 - meta - 256) return ACTNN_E_TOO_LARGE;
    size_t off_tab = align64(sizeof(actnn_tensor));
    size_t off_meta = align64(off_tab + N * sizeof(tensor_sample));
    size_t gbytes = meta - sizeof(actnn_tensor) - N * sizeof(tensor_sample);
    size_t off_pay = align64(off_meta + gbytes);
    unsigned char *blk = pool_alloc(&ctx->pool, off_pay + payload);
    if (!blk) return ACTNN_E_NOMEM;
    actnn_tensor *t = (actnn_tensor *)blk;
    *t = (actnn_tensor){.magic = ACTNN_MAGIC_TENSOR, .N = N, .D = D, .G = G,
                        .ngroups = D / G + (D % G != 0), .tensor_id = tensor_id,
                        .seed = ctx->cfg.seed, .payload_bytes = payload, .meta_bytes = meta,
                        .samples = (tensor_sample *)(blk + off_tab),
                        .gmeta = (uint16_t *)(blk + off_meta), .payload = blk + off_pay};
    t->gmeta_count = fill_samples(t, bits, sample_bits);
    ctx_account(ctx, payload, meta, +1);
    *out = t;
    return ACTNN_OK;
}

int actnn_tensor_free(actnn_ctx *ctx, actnn_tensor *t)
{
    if (!t) return ACTNN_OK;
    if (!ctx) return ACTNN_E_NULL;
    /* A second free would push the block on the free list twice; the cleared magic
     * catches it as long as the pool has not handed the block out again. */
    if (t->magic != ACTNN_MAGIC_TENSOR) return ACTNN_E_PARAM;
    ctx_account(ctx, t->payload_bytes, t->meta_bytes, -1);
    t->magic = 0;
    pool_free(&ctx->pool, t);
    return ACTNN_OK;
}

/* ---- one unit: group g of sample n ---- */

static void unit_span(const actnn_tensor *t, size_t g, size_t *j0, size_t *len)
{
    *j0 = g * t->G;
    *len = t->D - *j0 < t->G ? t->D - *j0 : t->G;
}

/* v: the group's own values (len of them) */
static int save_unit(const actnn_tensor *t, const float *v, size_t n, size_t g, int simd)
{
    const tensor_sample *s = &t->samples[n];
    size_t j0, len;
    unit_span(t, g, &j0, &len);
    unsigned char *pay = t->payload + s->pay_off;
    if (s->bits == 32) {
        memcpy(pay + 4 * j0, v, 4 * len);
        return ACTNN_OK;
    }
    if (s->bits == 16) {
        uint16_t *h = (uint16_t *)pay;
        half_encode(v, len, h + j0, simd);
        if (j0 + len == t->D && t->D % 2) h[t->D] = 0; /* the padding half, for stable bytes */
        return ACTNN_OK;
    }
    int b = s->bits;
    rng_key key = rng_sample_key(t->seed, t->tensor_id, n, RNG_DOMAIN_QUANT);
    uint32_t *words = (uint32_t *)pay + (j0 / 32) * (size_t)b;
    uint16_t *meta = t->gmeta + 2 * (s->meta_off + g);
    return q_save_group(v, len, j0, b, key, meta, words, simd);
}

static void restore_unit(const actnn_tensor *t, float *out, size_t n, size_t g, int simd)
{
    const tensor_sample *s = &t->samples[n];
    size_t j0, len;
    unit_span(t, g, &j0, &len);
    const unsigned char *pay = t->payload + s->pay_off;
    if (s->bits == 32) {
        memcpy(out + j0, pay + 4 * j0, 4 * len);
    } else if (s->bits == 16) {
        half_decode((const uint16_t *)pay + j0, len, out + j0, simd);
    } else {
        const uint32_t *words = (const uint32_t *)pay + (j0 / 32) * (size_t)s->bits;
        q_restore_group(words, t->gmeta + 2 * (s->meta_off + g), len, s->bits, out + j0, simd);
    }
}

/* Saves samples [n0, n0 + count) from x (count * D floats), units spread over threads. */
static int save_samples(actnn_ctx *ctx, actnn_tensor *t, const float *x, size_t n0, size_t count)
{
    size_t ng = t->ngroups, units = count * ng;
    int nt = ctx_threads(ctx, count * t->D), simd = ctx_simd(ctx), err = ACTNN_OK;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(min : err) if (nt > 1)
    for (size_t u = 0; u < units; ++u) {
        size_t k = u / ng, g = u % ng;
        int e = save_unit(t, x + k * t->D + g * t->G, n0 + k, g, simd);
        err = e < err ? e : err;
    }
    return err;
}

static void restore_samples(const actnn_ctx *ctx, const actnn_tensor *t, float *out, size_t n0,
                            size_t count)
{
    size_t ng = t->ngroups, units = count * ng;
    int nt = ctx_threads(ctx, count * t->D), simd = ctx_simd(ctx);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t u = 0; u < units; ++u) {
        size_t k = u / ng;
        restore_unit(t, out + k * t->D, n0 + k, u % ng, simd);
    }
}

int actnn_save(actnn_ctx *ctx, const float *x, size_t N, size_t D, int bits,
               const uint8_t *sample_bits, uint64_t tensor_id, actnn_tensor **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    if (!ctx || !x) return ACTNN_E_NULL;
    actnn_tensor *t;
    int err = actnn_tensor_create(ctx, N, D, bits, sample_bits, tensor_id, &t);
    if (err) return err;
    err = save_samples(ctx, t, x, 0, N);
    if (err) {
        actnn_tensor_free(ctx, t);
        return err;
    }
    for (size_t n = 0; n < N; ++n) t->samples[n].saved = 1;
    *out = t;
    return ACTNN_OK;
}

int actnn_save_sample(actnn_ctx *ctx, actnn_tensor *t, size_t i, const float *x)
{
    if (!ctx || !t || !x) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    t->samples[i].saved = 0;
    int err = save_samples(ctx, t, x, i, 1);
    if (!err) t->samples[i].saved = 1;
    return err;
}

int actnn_save_part(actnn_ctx *ctx, actnn_tensor *t, size_t i, size_t j0, size_t len,
                    const float *x)
{
    if (!ctx || !t || !x) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    if (j0 % t->G || j0 > t->D || len > t->D - j0 || (len % t->G && j0 + len != t->D))
        return ACTNN_E_PARAM;
    int simd = ctx_simd(ctx), err = ACTNN_OK;
    for (size_t g = j0 / t->G; err == ACTNN_OK && g * t->G < j0 + len; ++g)
        err = save_unit(t, x + (g * t->G - j0), i, g, simd);
    if (err == ACTNN_OK && j0 + len == t->D) t->samples[i].saved = 1;
    return err;
}

/* Values [a, e) of group g of sample n into out (out[0] is value a). A quantized group is
 * stored as 32-value blocks of b words each, decoded from a block's start: the range is
 * decoded in place from its first block start on, the part of a block before it through a
 * 32-value buffer. A constant group keeps its value in its first word, read from there. */
static void restore_span(const actnn_tensor *t, size_t n, size_t g, size_t a, size_t e,
                         float *out, int simd)
{
    const tensor_sample *s = &t->samples[n];
    const unsigned char *pay = t->payload + s->pay_off;
    if (s->bits == 32) {
        memcpy(out, pay + 4 * a, 4 * (e - a));
        return;
    }
    if (s->bits == 16) {
        half_decode((const uint16_t *)pay + a, e - a, out, simd);
        return;
    }
    int b = s->bits;
    const uint16_t *meta = t->gmeta + 2 * (s->meta_off + g);
    const uint32_t *words = (const uint32_t *)pay;
    size_t gs, glen;
    unit_span(t, g, &gs, &glen);
    if (meta[1] == 0) {
        q_restore_group(words + (gs / 32) * (size_t)b, meta, e - a, b, out, simd);
        return;
    }
    /* a block cut at its start goes through tmp; from the next block on, the decoder
     * writes exactly e - k values (its last block may be cut at the end) */
    size_t k = a & ~(size_t)31;
    if (k < a) {
        float tmp[32];
        size_t bl = gs + glen - k < 32 ? gs + glen - k : 32, hi = e < k + bl ? e : k + bl;
        q_restore_group(words + (k / 32) * (size_t)b, meta, bl, b, tmp, simd);
        memcpy(out, tmp + (a - k), (hi - a) * sizeof(float));
        k += bl;
    }
    if (k < e) q_restore_group(words + (k / 32) * (size_t)b, meta, e - k, b, out + (k - a), simd);
}

int actnn_restore_part(actnn_ctx *ctx, const actnn_tensor *t, size_t i, size_t j0, size_t len,
                       float *out)
{
    if (!ctx || !t || !out) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    if (j0 > t->D || len > t->D - j0) return ACTNN_E_PARAM;
    if (!t->samples[i].saved) return ACTNN_E_NOT_SAVED;
    int simd = ctx_simd(ctx);
    for (size_t g = j0 / t->G; len && g * t->G < j0 + len; ++g) {
        size_t a = g * t->G > j0 ? g * t->G : j0;
        size_t e = (g + 1) * t->G < j0 + len ? (g + 1) * t->G : j0 + len;
        restore_span(t, i, g, a, e, out + (a - j0), simd);
    }
    return ACTNN_OK;
}

int actnn_restore(actnn_ctx *ctx, const actnn_tensor *t, float *out)
{
    if (!ctx || !t || !out) return ACTNN_E_NULL;
    for (size_t n = 0; n < t->N; ++n)
        if (!t->samples[n].saved) return ACTNN_E_NOT_SAVED;
    restore_samples(ctx, t, out, 0, t->N);
    return ACTNN_OK;
}

int actnn_sample_view(const actnn_tensor *t, size_t i, const float **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    if (!t) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    if (!t->samples[i].saved) return ACTNN_E_NOT_SAVED;
    if (t->samples[i].bits != 32) return ACTNN_E_BITS;
    /* a 32-bit sample's payload is its D floats; offsets are multiples of 4 bytes */
    *out = (const float *)(const void *)(t->payload + t->samples[i].pay_off);
    return ACTNN_OK;
}

int actnn_restore_sample(actnn_ctx *ctx, const actnn_tensor *t, size_t i, float *out)
{
    if (!ctx || !t || !out) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    if (!t->samples[i].saved) return ACTNN_E_NOT_SAVED;
    restore_samples(ctx, t, out, i, 1);
    return ACTNN_OK;
}

/* ---- caller memory (actnn_raw_tensor): a temporary handle over it ---- */

int actnn_raw_size(size_t N, size_t D, int bits, size_t G, size_t *payload, size_t *meta)
{
    if (!payload || !meta) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (!bits_valid(bits)) return ACTNN_E_BITS;
    if (G < 32 || G > 65536 || G % 32) return ACTNN_E_GROUP;
    if (!size_muladd(N, sample_payload_bytes(D, bits), 0, payload) ||
        !size_muladd(N, sample_meta_bytes(D, bits, G), 0, meta))
        return ACTNN_E_TOO_LARGE;
    return ACTNN_OK;
}

int actnn_raw_size_mixed(size_t N, size_t D, const uint8_t *bits, size_t G, size_t *payload,
                         size_t *meta)
{
    if (!bits || !payload || !meta) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (G < 32 || G > 65536 || G % 32) return ACTNN_E_GROUP;
    size_t pay = 0;
    for (size_t n = 0; n < N; ++n) {
        if (bits[n] < 1 || bits[n] > 8) return ACTNN_E_BITS;
        if (!size_muladd(1, sample_payload_bytes(D, bits[n]), pay, &pay)) return ACTNN_E_TOO_LARGE;
    }
    if (!size_muladd(N, sample_meta_bytes(D, 1, G), 0, meta)) return ACTNN_E_TOO_LARGE;
    *payload = pay;
    return ACTNN_OK;
}

int actnn_raw_size_sum(size_t N, size_t D, size_t bits_sum, size_t G, size_t *payload,
                       size_t *meta)
{
    if (!payload || !meta) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (G < 32 || G > 65536 || G % 32) return ACTNN_E_GROUP;
    if (bits_sum < N || (N <= SIZE_MAX / 8 && bits_sum > 8 * N)) return ACTNN_E_BITS;
    /* sample_payload_bytes is linear in the width: 4 * b * ceil(D/32) */
    if (!size_muladd(bits_sum, sample_payload_bytes(D, 1), 0, payload) ||
        !size_muladd(N, sample_meta_bytes(D, 1, G), 0, meta))
        return ACTNN_E_TOO_LARGE;
    return ACTNN_OK;
}

/* A handle whose sample table places sample n as the raw layout does. */
static int raw_view(const actnn_raw_tensor *r, size_t n0, size_t count, actnn_tensor *t)
{
    size_t pay, meta;
    if (!r || !r->payload || ((r->sample_bits || r->bits <= 8) && !r->meta)) return ACTNN_E_NULL;
    int err = r->sample_bits ? actnn_raw_size_mixed(r->N, r->D, r->sample_bits, r->G, &pay, &meta)
                             : actnn_raw_size(r->N, r->D, r->bits, r->G, &pay, &meta);
    if (err) return err;
    if (n0 > r->N || count > r->N - n0) return ACTNN_E_INDEX;
    tensor_sample *tab = malloc(r->N * sizeof(*tab));
    if (!tab) return ACTNN_E_NOMEM;
    *t = (actnn_tensor){.magic = ACTNN_MAGIC_TENSOR, .N = r->N, .D = r->D, .G = r->G,
                        .ngroups = r->D / r->G + (r->D % r->G != 0), .tensor_id = r->tensor_id,
                        .seed = r->seed, .payload_bytes = pay, .meta_bytes = meta,
                        .samples = tab, .gmeta = r->meta, .payload = r->payload};
    t->gmeta_count = fill_samples(t, r->bits, r->sample_bits);
    return ACTNN_OK;
}

int actnn_raw_save(actnn_ctx *ctx, const actnn_raw_tensor *r, size_t n0, size_t count,
                   const float *x)
{
    if (!ctx || !x) return ACTNN_E_NULL;
    actnn_tensor t;
    int err = raw_view(r, n0, count, &t);
    if (err) return err;
    err = save_samples(ctx, &t, x, n0, count);
    free(t.samples);
    return err;
}

int actnn_raw_restore(actnn_ctx *ctx, const actnn_raw_tensor *r, size_t n0, size_t count,
                      float *out)
{
    if (!ctx || !out) return ACTNN_E_NULL;
    actnn_tensor t;
    int err = raw_view(r, n0, count, &t);
    if (err) return err;
    restore_samples(ctx, &t, out, n0, count);
    free(t.samples);
    return ACTNN_OK;
}
