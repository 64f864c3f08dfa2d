/* quantize.c: per-group quantization, the portable reference path and the dispatch.
 *
 * A group of n <= G values with true min lo and max hi is stored as
 *   meta[0] = bf16 of lo rounded down (m <= lo),
 *   meta[1] = bf16 of (hi - m) rounded up (R >= the exact hi - m), at least 2^-100 so
 *             the scale is finite,
 *   codes q = min(floor((x - m) * s + u), 2^b - 1), s = (2^b - 1) / R, u from rng.h,
 * and restored as q * step + m, step = R / (2^b - 1). Each operation is one IEEE float
 * operation, rounded to nearest, never fused. A group with hi == lo keeps its value
 * exactly: meta[1] = 0 and the fp32 value sits in the group's first payload word.
 * docs/actnn.md derives the error bound and the bias. */
#include <math.h>
#include <string.h>

#include "floatbits.h"
#include "fpmode.h"
#include "internal.h"

#define Q_RANGE_MIN 0x1p-100f

void q_params_from_meta(const uint16_t meta[2], int b, qparams *p)
{
    p->lmax = (float)((1u << b) - 1u);
    p->m = bf16_to_float(meta[0]);
    p->constant = meta[1] == 0;
    p->value = 0.0f;
    if (p->constant) {
        p->scale = p->step = 0.0f;
        return;
    }
    float r = bf16_to_float(meta[1]);
    p->scale = p->lmax / r;
    p->step = r / p->lmax;
}

int q_params_from_minmax(float lo, float hi, int b, uint16_t meta[2], qparams *p)
{
    if (lo == hi) {
        /* + 0.0f turns -0 into +0, so every path stores the same zero. */
        float v = lo + 0.0f;
        meta[0] = bf16_round_down(v);
        meta[1] = 0;
        q_params_from_meta(meta, b, p);
        p->value = v;
        return ACTNN_OK;
    }
    uint16_t m16 = bf16_round_down(lo + 0.0f);
    float d = hi - bf16_to_float(m16);
    if (!isfinite(bf16_to_float(m16)) || !isfinite(d)) return ACTNN_E_NONFINITE;
    uint16_t r16 = bf16_round_up(d);
    /* d is hi - m rounded to nearest, possibly below the exact difference; the exact
     * rounding error (TwoSum, valid without FMA) tells. If so and d is already a bf16,
     * take the next bf16 up, so that hi <= m + R holds exactly. */
    float back = d - hi;
    float err = (hi - (d - back)) + (-bf16_to_float(m16) - back);
    if (err > 0.0f && bf16_to_float(r16) == d) r16 = (uint16_t)(r16 + 1);
    float r = bf16_to_float(r16);
    if (!isfinite(r)) return ACTNN_E_NONFINITE;
    if (r < Q_RANGE_MIN) r16 = (uint16_t)(fb_bits(Q_RANGE_MIN) >> 16);
    meta[0] = m16;
    meta[1] = r16;
    q_params_from_meta(meta, b, p);
    return ACTNN_OK;
}

/* A constant group: its exact value in word 0, the other words zero. */
static void write_constant(uint32_t *words, size_t nwords, float v)
{
    memset(words, 0, nwords * sizeof *words);
    words[0] = fb_bits(v);
}

static inline uint8_t quantize_one(float x, uint64_t j, rng_key key, const qparams *p)
{
    float t = (x - p->m) * p->scale;
    float v = t + rng_uniform_from16(rng_u16(j, key));
    v = v < p->lmax ? v : p->lmax;
    return (uint8_t)(uint32_t)v; /* v >= 0: truncation is floor */
}

int q_save_group_scalar(const float *x, size_t n, size_t j0, int b, rng_key key,
                        uint16_t meta[2], uint32_t *words)
{
    float lo = x[0], hi = x[0];
    int bad = 0;
    for (size_t k = 0; k < n; ++k) {
        bad |= !isfinite(x[k]);
        lo = x[k] < lo ? x[k] : lo;
        hi = x[k] > hi ? x[k] : hi;
    }
    if (bad) return ACTNN_E_NONFINITE;
    qparams p;
    int err = q_params_from_minmax(lo, hi, b, meta, &p);
    if (err) return err;
    size_t nblk = n / 32 + (n % 32 != 0);
    if (p.constant) {
        write_constant(words, nblk * (size_t)b, p.value);
        return ACTNN_OK;
    }
    for (size_t k0 = 0; k0 < n; k0 += 32, words += b) {
        uint8_t codes[32] = {0};
        size_t len = n - k0 < 32 ? n - k0 : 32;
        for (size_t k = 0; k < len; ++k) codes[k] = quantize_one(x[k0 + k], j0 + k0 + k, key, &p);
        planes_pack32(codes, 32, b, words);
    }
    return ACTNN_OK;
}

void q_restore_group_scalar(const uint32_t *words, const uint16_t meta[2], size_t n, int b,
                            float *out)
{
    qparams p;
    q_params_from_meta(meta, b, &p);
    if (p.constant) {
        float v = fb_float(words[0]);
        for (size_t k = 0; k < n; ++k) out[k] = v;
        return;
    }
    for (size_t k0 = 0; k0 < n; k0 += 32, words += b) {
        uint8_t codes[32];
        size_t len = n - k0 < 32 ? n - k0 : 32;
        planes_unpack32(words, len, b, codes);
        for (size_t k = 0; k < len; ++k) {
            float y = (float)codes[k] * p.step;
            out[k0 + k] = y + p.m;
        }
    }
}

int q_save_group(const float *x, size_t n, size_t j0, int b, rng_key key, uint16_t meta[2],
                 uint32_t *words, int simd)
{
#if ACTNN_X86
    if (simd) return q_save_group_avx2(x, n, j0, b, key, meta, words);
#else
    (void)simd;
#endif
    return q_save_group_scalar(x, n, j0, b, key, meta, words);
}

void q_restore_group(const uint32_t *words, const uint16_t meta[2], size_t n, int b,
                     float *out, int simd)
{
#if ACTNN_X86
    if (simd) {
        q_restore_group_avx2(words, meta, n, b, out);
        return;
    }
#else
    (void)simd;
#endif
    q_restore_group_scalar(words, meta, n, b, out);
}
