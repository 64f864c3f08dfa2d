/* dropout.c: dropout masks that are never stored. Element j of sample i is kept iff
 * hash(seed, tensor_id, i, j) >= p * 2^32 (rng.h, dropout domain), so the forward call
 * on the output and the backward call on the delta regenerate the same mask. */
#include "internal.h"

struct actnn_dropout {
    uint32_t magic;
    int simd;
    size_t N, D;
    float p, scale;
    uint32_t threshold;
    uint64_t tensor_id, seed;
};

int actnn_dropout_size(size_t *payload, size_t *meta)
{
    if (!payload || !meta) return ACTNN_E_NULL;
    *payload = 0;
    *meta = sizeof(struct actnn_dropout);
    return ACTNN_OK;
}

/* p < 1 in float means p <= 1 - 2^-24, so p * 2^32 fits in 32 bits. */
static void dropout_init(actnn_dropout *d, size_t N, size_t D, float p, uint64_t tensor_id,
                         uint64_t seed, int simd)
{
    *d = (actnn_dropout){.magic = ACTNN_MAGIC_DROPOUT, .simd = simd, .N = N, .D = D, .p = p,
                         .scale = (float)(1.0 / (1.0 - (double)p)),
                         .threshold = (uint32_t)((double)p * 4294967296.0),
                         .tensor_id = tensor_id, .seed = seed};
}

int actnn_dropout_create(actnn_ctx *ctx, size_t N, size_t D, float p, uint64_t tensor_id,
                         actnn_dropout **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    if (!ctx) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (!(p >= 0.0f && p < 1.0f)) return ACTNN_E_PARAM; /* NaN fails too */
    actnn_dropout *d = pool_alloc(&ctx->pool, sizeof *d);
    if (!d) return ACTNN_E_NOMEM;
    dropout_init(d, N, D, p, tensor_id, ctx->cfg.seed, ctx_simd(ctx));
    ctx_account(ctx, 0, sizeof *d, +1);
    *out = d;
    return ACTNN_OK;
}

static void dropout_scalar(const actnn_dropout *d, rng_key key, size_t j, float *x,
                             uint8_t *keep)
{
    for (; j < d->D; ++j) {
        int k = rng_hash32((uint32_t)j, key) >= d->threshold;
        if (x) x[j] = k ? x[j] * d->scale : 0.0f;
        if (keep) keep[j] = (uint8_t)k;
    }
}

static int dropout_check(const actnn_dropout *d, size_t i, const void *ptr)
{
    if (!d || !ptr) return ACTNN_E_NULL;
    return i < d->N ? ACTNN_OK : ACTNN_E_INDEX;
}

int actnn_dropout_apply(const actnn_dropout *d, size_t i, float *x)
{
    int err = dropout_check(d, i, x);
    if (err) return err;
    rng_key key = rng_sample_key(d->seed, d->tensor_id, i, RNG_DOMAIN_DROPOUT);
    size_t j = 0;
#if ACTNN_X86
    if (d->simd) j = dropout_avx2(d->D, d->threshold, d->scale, key, x);
#endif
    /* The vector path stops at a multiple of 8; the scalar loop finishes from there. */
    dropout_scalar(d, key, j, x, NULL);
    return ACTNN_OK;
}

int actnn_dropout_get_bytes(const actnn_dropout *d, size_t i, uint8_t *out)
{
    int err = dropout_check(d, i, out);
    if (err) return err;
    dropout_scalar(d, rng_sample_key(d->seed, d->tensor_id, i, RNG_DOMAIN_DROPOUT), 0, NULL, out);
    return ACTNN_OK;
}

int actnn_dropout_free(actnn_ctx *ctx, actnn_dropout *d)
{
    if (!d) return ACTNN_OK;
    if (!ctx) return ACTNN_E_NULL;
    if (d->magic != ACTNN_MAGIC_DROPOUT) return ACTNN_E_PARAM; /* freed twice (tensor.c) */
    ctx_account(ctx, 0, sizeof *d, -1);
    d->magic = 0;
    pool_free(&ctx->pool, d);
    return ACTNN_OK;
}

int actnn_raw_dropout_apply(actnn_ctx *ctx, uint64_t seed, uint64_t tensor_id, float p, size_t i,
                            size_t D, float *x)
{
    if (!ctx || !x) return ACTNN_E_NULL;
    int err = size_check_nd(i + 1, D);
    if (err) return err;
    if (!(p >= 0.0f && p < 1.0f)) return ACTNN_E_PARAM;
    actnn_dropout d;
    dropout_init(&d, i + 1, D, p, tensor_id, seed, ctx_simd(ctx));
    return actnn_dropout_apply(&d, i, x);
}
