/* simd_avx2.c: the AVX2 (and F16C) vector paths of packing, masks, fp16 and dropout.
 * Like quantize_avx2.c this file alone is compiled with -mavx2 -mfma -mf16c (Makefile:
 * *_avx2.o); every other object is plain x86-64, so the library runs on any x86-64 CPU
 * and ctx_simd() calls into here only when cpuid reports AVX2, FMA and F16C. Each
 * function computes exactly what its portable twin computes (tests compare the bytes). */
#include "internal.h"

#if ACTNN_X86
#include <immintrin.h>

#include "simd_avx2.h"

void planes_pack_avx2(const uint8_t *codes, size_t n32, int b, uint32_t *words)
{
    for (size_t k = 0; k < n32; k += 32, words += b)
        avx2_planes_from_bytes(_mm256_loadu_si256((const __m256i *)(codes + k)), b, words);
}

void planes_unpack_avx2(const uint32_t *words, size_t n32, int b, uint8_t *codes)
{
    for (size_t k = 0; k < n32; k += 32, words += b)
        _mm256_storeu_si256((__m256i *)(codes + k), avx2_bytes_from_planes(words, b));
}

size_t half_encode_avx2(const float *x, size_t n, uint16_t *out)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm_storeu_si128((__m128i *)(out + k),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + k), _MM_FROUND_TO_NEAREST_INT));
    return k;
}

size_t half_decode_avx2(const uint16_t *h, size_t n, float *out)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(out + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + k))));
    return k;
}

/* Ordered, non-signalling compares: NaN gives 0 like the scalar comparisons. */
uint32_t mask_word_avx2(const float *x, float a, float b, int between)
{
    uint32_t w = 0;
    for (int v = 0; v < 4; ++v) {
        __m256 x8 = _mm256_loadu_ps(x + 8 * v);
        __m256 on = _mm256_cmp_ps(x8, _mm256_set1_ps(a), _CMP_GT_OQ);
        if (between) on = _mm256_and_ps(on, _mm256_cmp_ps(x8, _mm256_set1_ps(b), _CMP_LT_OQ));
        w |= (uint32_t)_mm256_movemask_ps(on) << (8 * v);
    }
    return w;
}

uint32_t mask_word_bytes_avx2(const uint8_t *bytes)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)bytes);
    return ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256()));
}

void mask_apply_avx2(uint32_t w, float *d, float g1, float g0)
{
    const __m256i one = _mm256_set1_epi32(1);
    const __m256 v1 = _mm256_set1_ps(g1), v0 = _mm256_set1_ps(g0);
    __m256i sh = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i vw = _mm256_set1_epi32((int)w);
    for (int v = 0; v < 4; ++v, sh = _mm256_add_epi32(sh, _mm256_set1_epi32(8))) {
        __m256i bit = _mm256_and_si256(_mm256_srlv_epi32(vw, sh), one);
        __m256 on = _mm256_castsi256_ps(_mm256_cmpeq_epi32(bit, one));
        __m256 g = _mm256_blendv_ps(v0, v1, on);
        _mm256_storeu_ps(d + 8 * v, _mm256_mul_ps(_mm256_loadu_ps(d + 8 * v), g));
    }
}

/* h >= thr, unsigned: flip the sign bits and use the signed compare. */
size_t dropout_avx2(size_t D, uint32_t threshold, float scale, rng_key key, float *x)
{
    const __m256i k1 = _mm256_set1_epi32((int)key.k1), k2 = _mm256_set1_epi32((int)key.k2);
    const __m256i flip = _mm256_set1_epi32((int)0x80000000u);
    const __m256i thr = _mm256_xor_si256(_mm256_set1_epi32((int)threshold), flip);
    const __m256 vscale = _mm256_set1_ps(scale);
    __m256i c = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    size_t j = 0;
    for (; j + 8 <= D; j += 8, c = _mm256_add_epi32(c, _mm256_set1_epi32(8))) {
        __m256i h = _mm256_xor_si256(avx2_hash32(c, k1, k2), flip);
        __m256i drop = _mm256_cmpgt_epi32(thr, h);
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + j), vscale);
        _mm256_storeu_ps(x + j, _mm256_andnot_ps(_mm256_castsi256_ps(drop), v));
    }
    return j;
}
#else
typedef int actnn_simd_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
