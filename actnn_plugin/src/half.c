/* half.c: the 16-bit pass-through, IEEE binary16 with round-to-nearest-even. The
 * portable converters reproduce F16C (and CUDA's __float2half_rn) bit for bit,
 * NaNs included (quieted, top payload bits kept); overflow gives +-Inf as IEEE says. */
#include "floatbits.h"
#include "internal.h"

/* Rounds mant >> shift to nearest, ties to even. */
static uint32_t shift_rne(uint32_t mant, int shift)
{
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return h;
}

uint16_t half_from_float(float f)
{
    uint32_t u = fb_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u); /* >= 65520 rounds to Inf */
    if (a >= 0x38800000u) /* normal half: rebias the exponent, round 13 bits away */
        return (uint16_t)(sign | shift_rne(a - 0x38000000u, 13));
    if (a <= 0x33000000u) return (uint16_t)sign; /* <= 2^-25 rounds to zero */
    /* Subnormal half: units of 2^-24; a carry into 0x400 is the smallest normal. */
    uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
    int shift = 126 - (int)(a >> 23);
    return (uint16_t)(sign | shift_rne(mant, shift));
}

float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) return fb_float(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u));
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* exact */
        return sign ? -v : v;
    }
    return fb_float(sign | ((e + 112u) << 23) | (m << 13));
}

void half_encode(const float *x, size_t n, uint16_t *out, int simd)
{
    size_t k = 0;
#if ACTNN_X86
    if (simd) k = half_encode_avx2(x, n, out);
#else
    (void)simd;
#endif
    for (; k < n; ++k) out[k] = half_from_float(x[k]);
}

void half_decode(const uint16_t *h, size_t n, float *out, int simd)
{
    size_t k = 0;
#if ACTNN_X86
    if (simd) k = half_decode_avx2(h, n, out);
#else
    (void)simd;
#endif
    for (; k < n; ++k) out[k] = half_to_float(h[k]);
}
