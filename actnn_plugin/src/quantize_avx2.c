/* quantize_avx2.c: the AVX2 path of group quantization. It performs, lane by lane, the
 * same IEEE operations in the same order as quantize.c (tests compare the bytes). Only
 * this file and simd_avx2.c are compiled with -mavx2 (internal.h: runtime dispatch). Per
 * block of 32 values: two 8-lane hashes give 32 16-bit uniforms, 4 vectors of codes are
 * narrowed to 32 bytes and split into b bit planes with movemask. */
#include "fpmode.h"
#include "internal.h"

#if ACTNN_X86
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "floatbits.h"
#include "simd_avx2.h"

#ifndef Q_PREFETCH
#define Q_PREFETCH 4096 /* bytes ahead: 4 groups of 256; best of 0..8192 in docs/actnn.md */
#endif

/* Min, max and whether any value is NaN/Inf (x - x is +0 for finite x, NaN otherwise).
 * Min and max of finite floats do not depend on the order of evaluation, except for the
 * sign of a zero, which q_params_from_minmax makes irrelevant. */
static int minmax_avx2(const float *x, size_t n, float *lo, float *hi)
{
    __m256 mn = _mm256_set1_ps(INFINITY), mx = _mm256_set1_ps(-INFINITY);
    __m256 mn2 = mn, mx2 = mx, bad = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        /* One thread reading a large tensor is bound by memory latency, not by these
         * few operations: ask for the line Q_PREFETCH bytes ahead (a later group of
         * the same sample; prefetches never fault, even past the buffer's end). */
        _mm_prefetch((const char *)(x + k) + Q_PREFETCH, _MM_HINT_T0);
        __m256 a = _mm256_loadu_ps(x + k), c = _mm256_loadu_ps(x + k + 8);
        mn = _mm256_min_ps(mn, a);
        mx = _mm256_max_ps(mx, a);
        mn2 = _mm256_min_ps(mn2, c);
        mx2 = _mm256_max_ps(mx2, c);
        bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_sub_ps(a, a), _mm256_sub_ps(c, c)));
    }
    mn = _mm256_min_ps(mn, mn2);
    mx = _mm256_max_ps(mx, mx2);
    float vmn[8], vmx[8];
    _mm256_storeu_ps(vmn, mn);
    _mm256_storeu_ps(vmx, mx);
    int isbad = !_mm256_testz_si256(_mm256_castps_si256(bad), _mm256_castps_si256(bad));
    float l = vmn[0], h = vmx[0];
    for (int i = 1; i < 8; ++i) {
        l = vmn[i] < l ? vmn[i] : l;
        h = vmx[i] > h ? vmx[i] : h;
    }
    for (; k < n; ++k) {
        isbad |= !isfinite(x[k]);
        l = x[k] < l ? x[k] : l;
        h = x[k] > h ? x[k] : h;
    }
    *lo = l;
    *hi = h;
    return isbad;
}

/* u = (2k+1) * 2^-17 for the low / high 16 bits of each hash: build 1 + u's bits in the
 * mantissa of a float in [1, 2), then subtract 1 (exact). */
static inline __m256 uniform_lo(__m256i h)
{
    __m256i m = _mm256_and_si256(_mm256_slli_epi32(h, 7), _mm256_set1_epi32(0x007FFF80));
    __m256 f = _mm256_castsi256_ps(_mm256_or_si256(m, _mm256_set1_epi32(0x3F800040)));
    return _mm256_sub_ps(f, _mm256_set1_ps(1.0f));
}

static inline __m256 uniform_hi(__m256i h)
{
    __m256i m = _mm256_and_si256(_mm256_srli_epi32(h, 9), _mm256_set1_epi32(0x007FFF80));
    __m256 f = _mm256_castsi256_ps(_mm256_or_si256(m, _mm256_set1_epi32(0x3F800040)));
    return _mm256_sub_ps(f, _mm256_set1_ps(1.0f));
}

typedef struct {
    __m256 m, scale, lmax;
    __m256i k1, k2, lane;
} qvec;

static inline __m256i quant8(const float *x, __m256 u, const qvec *q)
{
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x), q->m), q->scale);
    __m256 v = _mm256_min_ps(_mm256_add_ps(t, u), q->lmax);
    return _mm256_cvttps_epi32(v);
}

/* One block of 32 values starting at element j (j % 32 == 0) of the sample. */
static inline void quant_block32(const float *x, size_t j, int b, const qvec *q, uint32_t *words)
{
    __m256i c = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)(j >> 1)), q->lane);
    __m256i h0 = avx2_hash32(c, q->k1, q->k2);
    __m256i h1 = avx2_hash32(_mm256_add_epi32(c, _mm256_set1_epi32(8)), q->k1, q->k2);
    __m256i q0 = quant8(x, uniform_lo(h0), q);
    __m256i q1 = quant8(x + 8, uniform_hi(h0), q);
    __m256i q2 = quant8(x + 16, uniform_lo(h1), q);
    __m256i q3 = quant8(x + 24, uniform_hi(h1), q);
    avx2_planes_from_bytes(avx2_bytes_from_i32x4(q0, q1, q2, q3), b, words);
}

static inline void quant_full_blocks(const float *x, size_t n32, size_t j0, int b,
                                     const qvec *q, uint32_t *words)
{
    for (size_t k = 0; k < n32; k += 32, words += b) quant_block32(x + k, j0 + k, b, q, words);
}

/* A literal width per case lets the compiler unroll the bit-plane loop of each block
 * (the save is partly compute-bound once its loads are prefetched). */
static void quant_full_dispatch(const float *x, size_t n32, size_t j0, int b, const qvec *q,
                                uint32_t *words)
{
    switch (b) {
    case 1: quant_full_blocks(x, n32, j0, 1, q, words); break;
    case 2: quant_full_blocks(x, n32, j0, 2, q, words); break;
    case 3: quant_full_blocks(x, n32, j0, 3, q, words); break;
    case 4: quant_full_blocks(x, n32, j0, 4, q, words); break;
    case 5: quant_full_blocks(x, n32, j0, 5, q, words); break;
    case 6: quant_full_blocks(x, n32, j0, 6, q, words); break;
    case 7: quant_full_blocks(x, n32, j0, 7, q, words); break;
    default: quant_full_blocks(x, n32, j0, 8, q, words); break;
    }
}

int q_save_group_avx2(const float *x, size_t n, size_t j0, int b, rng_key key,
                      uint16_t meta[2], uint32_t *words)
{
    float lo, hi;
    if (minmax_avx2(x, n, &lo, &hi)) return ACTNN_E_NONFINITE;
    qparams p;
    int err = q_params_from_minmax(lo, hi, b, meta, &p);
    if (err) return err;
    size_t nblk = n / 32 + (n % 32 != 0);
    if (p.constant) {
        memset(words, 0, nblk * (size_t)b * sizeof *words);
        words[0] = fb_bits(p.value);
        return ACTNN_OK;
    }
    qvec q = {_mm256_set1_ps(p.m), _mm256_set1_ps(p.scale), _mm256_set1_ps(p.lmax),
              _mm256_set1_epi32((int)key.k1), _mm256_set1_epi32((int)key.k2),
              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)};
    size_t k = n & ~(size_t)31;
    quant_full_dispatch(x, k, j0, b, &q, words);
    words += (k / 32) * (size_t)b;
    if (k < n) {
        /* Padding with m gives t = 0, v = u < 1, code 0: what the scalar path stores. */
        float buf[32];
        for (size_t i = 0; i < 32; ++i) buf[i] = k + i < n ? x[k + i] : p.m;
        quant_block32(buf, j0 + k, b, &q, words);
    }
    return ACTNN_OK;
}

/* Codes to floats: y = q * step, then y + m, two roundings as in the scalar path. For
 * b <= 3 the 2^b possible results are computed once and looked up with a permute.
 * Always inlined: as a call of its own, GCC returned from it with the upper halves of the
 * ymm registers set and then left q_restore_group_avx2 without a vzeroupper, and every
 * SSE instruction the thread ran next (the baseline build's batch-norm backward) paid the
 * AVX-SSE merge penalty: twice the time, and most of what 2 bits cost over fp32. */
static inline __attribute__((always_inline)) void dequant_block32(__m256i bytes, int b, __m256 step, __m256 m, __m256 table,
                                   float *out, size_t len)
{
    __m128i lo = _mm256_castsi256_si128(bytes), hi = _mm256_extracti128_si256(bytes, 1);
    __m256i c[4] = {_mm256_cvtepu8_epi32(lo), _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)),
                    _mm256_cvtepu8_epi32(hi), _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))};
    float tmp[32];
    float *dst = len == 32 ? out : tmp;
    for (int v = 0; v < 4; ++v) {
        __m256 y;
        if (b <= 3) y = _mm256_permutevar8x32_ps(table, c[v]);
        else y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(c[v]), step), m);
        _mm256_storeu_ps(dst + 8 * v, y);
    }
    if (len < 32) memcpy(out, tmp, len * sizeof *out);
}

void q_restore_group_avx2(const uint32_t *words, const uint16_t meta[2], size_t n, int b,
                          float *out)
{
    qparams p;
    q_params_from_meta(meta, b, &p);
    if (p.constant) {
        float v = fb_float(words[0]);
        for (size_t k = 0; k < n; ++k) out[k] = v;
        return;
    }
    __m256 step = _mm256_set1_ps(p.step), m = _mm256_set1_ps(p.m);
    __m256 idx = _mm256_cvtepi32_ps(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 table = _mm256_add_ps(_mm256_mul_ps(idx, step), m);
    for (size_t k = 0; k < n; k += 32, words += b) {
        size_t len = n - k < 32 ? n - k : 32;
        dequant_block32(avx2_bytes_from_planes(words, b), b, step, m, table, out + k, len);
    }
    _mm256_zeroupper(); /* the caller may be SSE code: see dequant_block32 */
}

#else
typedef int actnn_quantize_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
