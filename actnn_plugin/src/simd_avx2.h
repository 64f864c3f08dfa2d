/* simd_avx2.h: AVX2 building blocks shared by the vector paths (included only by the
 * *_avx2.c files, which alone are compiled with -mavx2). Each one computes exactly what its portable twin in pack.c or
 * quantize.c computes, so both paths store the same bytes. */
#ifndef ACTNN_SIMD_AVX2_H
#define ACTNN_SIMD_AVX2_H

#if defined(__AVX2__)
#include <immintrin.h>
#include <stdint.h>

/* 32 codes (one per byte, each < 2^b) to b bit-plane words. The first 16-bit shift puts
 * bit b-1 of every byte at the byte's top; bits crossing into the neighbour byte are
 * the codes' zero high bits. add_epi8(t, t) then shifts each byte left by one. */
static inline void avx2_planes_from_bytes(__m256i bytes, int b, uint32_t *words)
{
    __m256i t = _mm256_sll_epi16(bytes, _mm_cvtsi32_si128(8 - b));
    for (int i = b - 1; i >= 0; --i) {
        words[i] = (uint32_t)_mm256_movemask_epi8(t);
        t = _mm256_add_epi8(t, t);
    }
}

/* b bit-plane words to 32 codes, one per byte. Byte k selects byte k/8 of the word and
 * tests bit k%8 of it; planes are accumulated from the top as acc = 2*acc + bit. */
static inline __m256i avx2_bytes_from_planes(const uint32_t *words, int b)
{
    const __m256i sel = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    __m256i acc = _mm256_setzero_si256();
    for (int i = b - 1; i >= 0; --i) {
        __m256i w = _mm256_shuffle_epi8(_mm256_set1_epi32((int)words[i]), sel);
        __m256i on = _mm256_cmpeq_epi8(_mm256_and_si256(w, bit), bit);
        acc = _mm256_sub_epi8(_mm256_add_epi8(acc, acc), on);
    }
    return acc;
}

/* Four vectors of 8 int32 codes in [0, 255] to 32 bytes in element order. The packs
 * interleave 128-bit lanes; the permute puts the 4-byte pieces back in order. */
static inline __m256i avx2_bytes_from_i32x4(__m256i q0, __m256i q1, __m256i q2, __m256i q3)
{
    __m256i p01 = _mm256_packs_epi32(q0, q1);
    __m256i p23 = _mm256_packs_epi32(q2, q3);
    __m256i p = _mm256_packus_epi16(p01, p23);
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* The keyed hash of rng.h on 8 counters. */
static inline __m256i avx2_hash32(__m256i c, __m256i k1, __m256i k2)
{
    __m256i x = _mm256_xor_si256(c, k1);
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x21F0AAADu));
    x = _mm256_xor_si256(x, k2);
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x735A2D97u));
    return _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
}

#endif
#endif
