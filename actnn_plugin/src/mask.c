/* mask.c: exact 1-bit masks. The framework's relu/leaky/relu6/hardtan backward is
 * delta *= (bit ? g1 : g0), so the mask is all it keeps of the activation. Bit j of a
 * sample sits at bit j%32 of word j/32 (the 1-bit case of the bit-plane layout). */
#include "internal.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

#if defined(__AVX2__)
/* Ordered, non-signalling compares: NaN gives 0 like the scalar comparisons. */
static inline __m256 pred_vec(const pred *p, const float *x)
{
    __m256 v = _mm256_loadu_ps(x);
    __m256 gt = _mm256_cmp_ps(v, _mm256_set1_ps(p->a), _CMP_GT_OQ);
    if (p->kind == PRED_GT) return gt;
    return _mm256_and_ps(gt, _mm256_cmp_ps(v, _mm256_set1_ps(p->b), _CMP_LT_OQ));
}

static uint32_t pred_word_avx2(const pred *p, size_t j0)
{
    if (p->kind == PRED_BYTES) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p->bytes + j0));
        return ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256()));
    }
    uint32_t w = 0;
    for (int v = 0; v < 4; ++v)
        w |= (uint32_t)_mm256_movemask_ps(pred_vec(p, p->x + j0 + 8 * v)) << (8 * v);
    return w;
}
#endif

static uint32_t pred_word(const pred *p, size_t j0, size_t len, int simd)
{
#if defined(__AVX2__)
    if (simd && len == 32) return pred_word_avx2(p, j0);
#else
    (void)simd;
#endif
    return pred_word_scalar(p, j0, len);
}

static int mask_set(actnn_ctx *ctx, actnn_mask *m, size_t i, const pred *p, const void *src)
{
    if (!ctx || !m) return ACTNN_E_NULL;
    planes_store *s = &m->s;
    int err = planes_check(s, i, src);
    if (err) return err;
    uint32_t *words = s->words + i * s->words_per_sample;
    size_t nblk = s->words_per_sample, D = s->D;
    int nt = ctx_threads(ctx, D), simd = ctx_simd(ctx);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t k = 0; k < nblk; ++k)
        words[k] = pred_word(p, 32 * k, D - 32 * k < 32 ? D - 32 * k : 32, simd);
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

#if defined(__AVX2__)
static void apply_block_avx2(uint32_t w, float *d, __m256 g1, __m256 g0)
{
    const __m256i one = _mm256_set1_epi32(1);
    __m256i sh = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i vw = _mm256_set1_epi32((int)w);
    for (int v = 0; v < 4; ++v, sh = _mm256_add_epi32(sh, _mm256_set1_epi32(8))) {
        __m256i bit = _mm256_and_si256(_mm256_srlv_epi32(vw, sh), one);
        __m256 on = _mm256_castsi256_ps(_mm256_cmpeq_epi32(bit, one));
        __m256 g = _mm256_blendv_ps(g0, g1, on);
        _mm256_storeu_ps(d + 8 * v, _mm256_mul_ps(_mm256_loadu_ps(d + 8 * v), g));
    }
}
#endif

int actnn_mask_apply(actnn_ctx *ctx, const actnn_mask *m, size_t i, float *delta, float g1,
                     float g0)
{
    if (!ctx || !m) return ACTNN_E_NULL;
    const planes_store *s = &m->s;
    int err = planes_check(s, i, delta);
    if (err) return err;
    if (!s->saved[i]) return ACTNN_E_NOT_SAVED;
    const uint32_t *words = s->words + i * s->words_per_sample;
    size_t nblk = s->words_per_sample, D = s->D;
    int nt = ctx_threads(ctx, D), simd = ctx_simd(ctx);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (size_t k = 0; k < nblk; ++k) {
        size_t len = D - 32 * k < 32 ? D - 32 * k : 32;
#if defined(__AVX2__)
        if (simd && len == 32) {
            apply_block_avx2(words[k], delta + 32 * k, _mm256_set1_ps(g1), _mm256_set1_ps(g0));
            continue;
        }
#else
        (void)simd;
#endif
        apply_block_scalar(words[k], delta + 32 * k, len, g1, g0);
    }
    return ACTNN_OK;
}

int actnn_mask_free(actnn_ctx *ctx, actnn_mask *m)
{
    if (!m) return ACTNN_OK;
    if (!ctx) return ACTNN_E_NULL;
    return planes_free(ctx, &m->s);
}
