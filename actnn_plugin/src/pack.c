/* pack.c: bit-plane packing of small codes. A block of 32 codes of b bits takes b
 * 32-bit words; word i holds bit i of code k at bit k. Codes never straddle words, every
 * width 1..8 uses the same layout, and a GPU warp builds word i with one ballot. */
#include "internal.h"

void planes_pack32(const uint8_t *codes, size_t n, int b, uint32_t *words)
{
    for (int i = 0; i < b; ++i) {
        uint32_t w = 0;
        for (size_t k = 0; k < n; ++k) w |= (uint32_t)((codes[k] >> i) & 1u) << k;
        words[i] = w;
    }
}

void planes_unpack32(const uint32_t *words, size_t n, int b, uint8_t *codes)
{
    for (size_t k = 0; k < n; ++k) {
        unsigned c = 0;
        for (int i = 0; i < b; ++i) c |= ((words[i] >> k) & 1u) << i;
        codes[k] = (uint8_t)c;
    }
}

void planes_pack(const uint8_t *codes, size_t n, int b, uint32_t *words, int simd)
{
    size_t k = 0;
#if ACTNN_X86
    if (simd) {
        k = n & ~(size_t)31;
        planes_pack_avx2(codes, k, b, words);
        words += (k / 32) * (size_t)b;
    }
#else
    (void)simd;
#endif
    for (; k < n; k += 32, words += b) planes_pack32(codes + k, n - k < 32 ? n - k : 32, b, words);
}

void planes_unpack(const uint32_t *words, size_t n, int b, uint8_t *codes, int simd)
{
    size_t k = 0;
#if ACTNN_X86
    if (simd) {
        k = n & ~(size_t)31;
        planes_unpack_avx2(words, k, b, codes);
        words += (k / 32) * (size_t)b;
    }
#else
    (void)simd;
#endif
    for (; k < n; k += 32, words += b)
        planes_unpack32(words, n - k < 32 ? n - k : 32, b, codes + k);
}
