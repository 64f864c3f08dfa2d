/* mask.c: exact 1-bit masks. The framework's relu/leaky/relu6/hardtan backward is
 * delta *= (bit ? g1 : g0), so the mask is all it keeps of the activation. Bit j of a
 * sample sits at bit j%32 of word j/32 (the 1-bit case of the bit-plane layout). */
#include "internal.h"

enum { PRED_GT, PRED_BETWEEN, PRED_BYTES };

typedef struct {
    int kind;
    float a, b;
    const float *x;
    const uint8_t *bytes;
} pred;

static inline uint32_t pred_bit(const pred *p, size_t j)
{
    switch (p->kind) {
    case PRED_GT: return p->x[j] > p->a;
    case PRED_BETWEEN: return p->a < p->x[j] && p->x[j] < p->b;
    default: return p->bytes[j] != 0;
    }
}

static uint32_t pred_word_scalar(const pred *p, size_t j0, size_t len)
{
    uint32_t w = 0;
    for (size_t k = 0; k < len; ++k) w |= pred_bit(p, j0 + k) << k;
    return w;
}

/* A full block of 32 through the vector path (simd_avx2.c). */
#if ACTNN_X86
static uint32_t pred_word_avx2(const pred *p, size_t j0)
{
    if (p->kind == PRED_BYTES) return mask_word_bytes_avx2(p->bytes + j0);
    return mask_word_avx2(p->x + j0, p->a, p->b, p->kind == PRED_BETWEEN);
}
#endif

static uint32_t pred_word(const pred *p, size_t j0, size_t len, int simd)
{
#if ACTNN_X86
    if (simd && len == 32) return pred_word_avx2(p, j0);
#else
    (void)simd;
#endif
    return pred_word_scalar(p, j0, len);
}

/* One sample's words from the predicate, over the context's threads. */
static void fill_words(const actnn_ctx *ctx, uint32_t *words, size_t D, const pred *p)
{
    size_t nblk = D / 32 + (D % 32 != 0);
    int nt = ctx_threads(ctx, D), simd = ctx_simd(ctx);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t k = 0; k < nblk; ++k)
        words[k] = pred_word(p, 32 * k, D - 32 * k < 32 ? D - 32 * k : 32, simd);
}

static int mask_set(actnn_ctx *ctx, actnn_mask *m, size_t i, const pred *p, const void *src)
{
    if (!ctx || !m) return ACTNN_E_NULL;
    planes_store *s = &m->s;
    int err = planes_check(s, i, src);
    if (err) return err;
    fill_words(ctx, s->words + i * s->words_per_sample, s->D, p);
    s->saved[i] = 1;
    return ACTNN_OK;
}

int actnn_mask_create(actnn_ctx *ctx, size_t N, size_t D, actnn_mask **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    if (!ctx) return ACTNN_E_NULL;
    planes_store *s;
    int err = planes_create(ctx, N, D, 1, &s);
    if (!err) *out = (actnn_mask *)s;
    return err;
}

int actnn_mask_set_gt(actnn_ctx *ctx, actnn_mask *m, size_t i, const float *x, float threshold)
{
    pred p = {.kind = PRED_GT, .a = threshold, .x = x};
    return mask_set(ctx, m, i, &p, x);
}

int actnn_mask_set_between(actnn_ctx *ctx, actnn_mask *m, size_t i, const float *x, float lo,
                           float hi)
{
    pred p = {.kind = PRED_BETWEEN, .a = lo, .b = hi, .x = x};
    return mask_set(ctx, m, i, &p, x);
}

int actnn_mask_set_bytes(actnn_ctx *ctx, actnn_mask *m, size_t i, const uint8_t *b)
{
    pred p = {.kind = PRED_BYTES, .bytes = b};
    return mask_set(ctx, m, i, &p, b);
}

int actnn_mask_set_bytes_part(actnn_ctx *ctx, actnn_mask *m, size_t i, size_t j0, size_t len,
                              const uint8_t *b)
{
    if (!ctx || !m) return ACTNN_E_NULL;
    planes_store *s = &m->s;
    int err = planes_check(s, i, b);
    if (err) return err;
    size_t D = s->D;
    if (j0 % 32 || j0 > D || len > D - j0 || (len % 32 && j0 + len != D)) return ACTNN_E_PARAM;
    pred p = {.kind = PRED_BYTES, .bytes = b};
    uint32_t *words = s->words + i * s->words_per_sample + j0 / 32;
    int simd = ctx_simd(ctx);
    for (size_t k = 0; 32 * k < len; ++k)
        words[k] = pred_word(&p, 32 * k, len - 32 * k < 32 ? len - 32 * k : 32, simd);
    if (j0 + len == D) s->saved[i] = 1;
    return ACTNN_OK;
}

int actnn_mask_get_bytes(actnn_ctx *ctx, const actnn_mask *m, size_t i, uint8_t *out)
{
    if (!ctx || !m) return ACTNN_E_NULL;
    const planes_store *s = &m->s;
    int err = planes_check(s, i, out);
    if (err) return err;
    if (!s->saved[i]) return ACTNN_E_NOT_SAVED;
    planes_unpack(s->words + i * s->words_per_sample, s->D, 1, out, ctx_simd(ctx));
    return ACTNN_OK;
}

static void apply_block_scalar(uint32_t w, float *d, size_t len, float g1, float g0)
{
    for (size_t k = 0; k < len; ++k) d[k] = d[k] * (((w >> k) & 1u) ? g1 : g0);
}

/* delta *= bit ? g1 : g0 over one sample's words. */
static void apply_words(const actnn_ctx *ctx, const uint32_t *words, size_t D, float *delta,
                        float g1, float g0)
{
    size_t nblk = D / 32 + (D % 32 != 0);
    int nt = ctx_threads(ctx, D), simd = ctx_simd(ctx);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t k = 0; k < nblk; ++k) {
        size_t len = D - 32 * k < 32 ? D - 32 * k : 32;
#if ACTNN_X86
        if (simd && len == 32) {
            mask_apply_avx2(words[k], delta + 32 * k, g1, g0);
            continue;
        }
#else
        (void)simd;
#endif
        apply_block_scalar(words[k], delta + 32 * k, len, g1, g0);
    }
}

int actnn_mask_apply(actnn_ctx *ctx, const actnn_mask *m, size_t i, float *delta, float g1,
                     float g0)
{
    if (!ctx || !m) return ACTNN_E_NULL;
    const planes_store *s = &m->s;
    int err = planes_check(s, i, delta);
    if (err) return err;
    if (!s->saved[i]) return ACTNN_E_NOT_SAVED;
    apply_words(ctx, s->words + i * s->words_per_sample, s->D, delta, g1, g0);
    return ACTNN_OK;
}

int actnn_mask_free(actnn_ctx *ctx, actnn_mask *m)
{
    if (!m) return ACTNN_OK;
    if (!ctx) return ACTNN_E_NULL;
    return planes_free(ctx, &m->s);
}

/* ---- caller memory (actnn.h "masks and codes in the caller's memory") ---- */

int actnn_raw_mask_set_bytes(actnn_ctx *ctx, size_t D, size_t count, const uint8_t *b,
                             uint32_t *words)
{
    if (!ctx || !b || !words) return ACTNN_E_NULL;
    int err = size_check_nd(count, D);
    if (err) return err;
    size_t wps = sample_payload_bytes(D, 1) / 4;
    for (size_t n = 0; n < count; ++n) {
        pred p = {.kind = PRED_BYTES, .bytes = b + n * D};
        fill_words(ctx, words + n * wps, D, &p);
    }
    return ACTNN_OK;
}

int actnn_raw_mask_apply(actnn_ctx *ctx, size_t D, const uint32_t *words, float *delta, float g1,
                         float g0)
{
    if (!ctx || !words || !delta) return ACTNN_E_NULL;
    int err = size_check_nd(1, D);
    if (err) return err;
    apply_words(ctx, words, D, delta, g1, g0);
    return ACTNN_OK;
}

int actnn_mask_raw(const actnn_mask *m, const void **words, size_t *bytes)
{
    if (!m || !words || !bytes) return ACTNN_E_NULL;
    if (m->s.magic != ACTNN_MAGIC_PLANES) return ACTNN_E_PARAM;
    *words = m->s.words;
    *bytes = m->s.N * m->s.words_per_sample * sizeof(uint32_t);
    return ACTNN_OK;
}
