/* qmirror.h: the per-value arithmetic of the CUDA quantizer, shared by quantize.cu (device)
 * and a CPU test (tests/test_actnn_cuda_mirror.c), so the code the GPU runs is checked
 * against the library's bytes even on a machine without a GPU.
 *
 * It restates rng.h, floatbits.h, quantize.c's parameters and rounding, and half.c's
 * conversions as `__host__ __device__` functions (plain static inline in C). Every float
 * operation is written through QM_ADD/QM_SUB/QM_MUL/QM_DIV: on the device they are the
 * _rn intrinsics (never fused into an FMA, whatever --fmad says); on the host they are the
 * plain operators, which C11 (-ffp-contract=off) also keeps separately rounded. */
#ifndef ACTNN_QMIRROR_H
#define ACTNN_QMIRROR_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define QM_FN static __host__ __device__ inline
#else
#define QM_FN static inline
#endif

#if defined(__CUDA_ARCH__)
#define QM_ADD(a, b) __fadd_rn((a), (b))
#define QM_SUB(a, b) __fsub_rn((a), (b))
#define QM_MUL(a, b) __fmul_rn((a), (b))
#define QM_DIV(a, b) __fdiv_rn((a), (b))
#else
#define QM_ADD(a, b) ((a) + (b))
#define QM_SUB(a, b) ((a) - (b))
#define QM_MUL(a, b) ((a) * (b))
#define QM_DIV(a, b) ((a) / (b))
#endif

QM_FN uint32_t qm_bits(float f)
{
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
#endif
}

QM_FN float qm_float(uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
#endif
}

/* ---- rng.h ---- */
#define QM_DOMAIN_QUANT 1u
#define QM_DOMAIN_DROPOUT 2u

typedef struct {
    uint32_t k1, k2;
} qm_key;

QM_FN uint64_t qm_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* rng_sample_key in any domain (dropout.c uses RNG_DOMAIN_DROPOUT). */
QM_FN qm_key qm_sample_key_in(uint64_t seed, uint64_t tensor_id, uint64_t sample,
                              uint32_t domain)
{
    uint64_t z = qm_mix64(seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)domain));
    z = qm_mix64(z ^ tensor_id);
    z = qm_mix64(z ^ sample);
    qm_key k = {(uint32_t)z, (uint32_t)(z >> 32)};
    return k;
}

QM_FN qm_key qm_sample_key(uint64_t seed, uint64_t tensor_id, uint64_t sample)
{
    return qm_sample_key_in(seed, tensor_id, sample, QM_DOMAIN_QUANT);
}

QM_FN uint32_t qm_hash32(uint32_t c, qm_key k)
{
    uint32_t x = c ^ k.k1;
    x ^= x >> 16;
    x *= 0x21F0AAADu;
    x ^= k.k2;
    x ^= x >> 15;
    x *= 0x735A2D97u;
    x ^= x >> 15;
    return x;
}

/* The 16-bit draw of element j of a sample. */
QM_FN uint32_t qm_u16(uint64_t j, qm_key k)
{
    uint32_t c = (uint32_t)(((j >> 4) << 3) | (j & 7));
    uint32_t h = qm_hash32(c, k);
    return (j & 8) ? h >> 16 : h & 0xFFFFu;
}

/* ---- floatbits.h ---- */
QM_FN float qm_bf16f(uint16_t h) { return qm_float((uint32_t)h << 16); }

QM_FN uint16_t qm_bf16_down(float f)
{
    uint32_t u = qm_bits(f);
    uint16_t h = (uint16_t)(u >> 16);
    if ((u & 0xFFFFu) && (u >> 31)) h = (uint16_t)(h + 1);
    return h;
}

QM_FN uint16_t qm_bf16_up(float f)
{
    uint32_t u = qm_bits(f);
    uint16_t h = (uint16_t)(u >> 16);
    if ((u & 0xFFFFu) && !(u >> 31)) h = (uint16_t)(h + 1);
    return h;
}

/* ---- quantize.c ---- */
typedef struct {
    float m, scale, step, lmax, value;
    int constant;
} qm_params;

QM_FN qm_params qm_from_meta(uint16_t m0, uint16_t m1, int b)
{
    qm_params p;
    p.lmax = (float)((1u << b) - 1u);
    p.m = qm_bf16f(m0);
    p.constant = m1 == 0;
    p.value = 0.0f;
    if (p.constant) {
        p.scale = p.step = 0.0f;
    } else {
        float r = qm_bf16f(m1);
        p.scale = QM_DIV(p.lmax, r);
        p.step = QM_DIV(r, p.lmax);
    }
    return p;
}

/* q_params_from_minmax of the group's true min and max: 0, or 1 when the group cannot be
 * quantized (non-finite bound or range). */
QM_FN int qm_from_minmax(float lo, float hi, int b, uint16_t *m0, uint16_t *m1, qm_params *p)
{
    if (lo == hi) {
        float v = QM_ADD(lo, 0.0f); /* -0 becomes +0 */
        *m0 = qm_bf16_down(v);
        *m1 = 0;
        *p = qm_from_meta(*m0, *m1, b);
        p->value = v;
        return 0;
    }
    uint16_t m16 = qm_bf16_down(QM_ADD(lo, 0.0f));
    float mf = qm_bf16f(m16);
    float d = QM_SUB(hi, mf);
    if (!isfinite(mf) || !isfinite(d)) return 1;
    uint16_t r16 = qm_bf16_up(d);
    /* TwoSum error of d = hi - m: positive means d fell short of the exact range */
    float back = QM_SUB(d, hi);
    float err = QM_ADD(QM_SUB(hi, QM_SUB(d, back)), QM_SUB(-mf, back));
    if (err > 0.0f && qm_bf16f(r16) == d) r16 = (uint16_t)(r16 + 1);
    float r = qm_bf16f(r16);
    if (!isfinite(r)) return 1;
    if (r < 0x1p-100f) r16 = (uint16_t)(qm_bits(0x1p-100f) >> 16);
    *m0 = m16;
    *m1 = r16;
    *p = qm_from_meta(m16, r16, b);
    return 0;
}

QM_FN uint32_t qm_quantize(float x, uint64_t j, qm_key key, qm_params p)
{
    float t = QM_MUL(QM_SUB(x, p.m), p.scale);
    float u = QM_MUL((float)(2u * qm_u16(j, key) + 1u), 0x1p-17f);
    float v = QM_ADD(t, u);
    v = v < p.lmax ? v : p.lmax;
    return (uint32_t)v; /* v >= 0: truncation is floor */
}

QM_FN float qm_restore(uint32_t code, qm_params p) { return QM_ADD(QM_MUL((float)code, p.step), p.m); }

/* ---- tensor.c's layout with per-sample bits (sample_bits, all 1..8) ---- */
/* Byte offset of sample n's payload: the payloads of samples 0..n-1, 4 * b_k * ceil(D/32)
 * bytes each (tensor.c fill_samples). */
QM_FN size_t qm_sample_offset(const uint8_t *sample_bits, size_t n, size_t D)
{
    size_t w = 0;
    for (size_t k = 0; k < n; ++k) w += sample_bits[k];
    return 4 * w * ((D + 31) / 32);
}

/* ---- half.c ---- */
QM_FN uint32_t qm_shift_rne(uint32_t mant, int shift)
{
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return h;
}

QM_FN uint16_t qm_half_from(float f)
{
    uint32_t u = qm_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x38800000u) return (uint16_t)(sign | qm_shift_rne(a - 0x38000000u, 13));
    if (a <= 0x33000000u) return (uint16_t)sign;
    uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
    int shift = 126 - (int)(a >> 23);
    return (uint16_t)(sign | qm_shift_rne(mant, shift));
}

QM_FN float qm_half_to(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F) return qm_float(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u));
    if (e == 0) {
        float v = QM_MUL((float)m, 0x1p-24f);
        return sign ? -v : v;
    }
    return qm_float(sign | ((e + 112u) << 23) | (m << 13));
}

/* ---- dropout.c ---- */
/* Threshold and scale of a dropout with probability p (actnn_dropout_create). */
QM_FN uint32_t qm_dropout_threshold(float p) { return (uint32_t)((double)p * 4294967296.0); }
QM_FN float qm_dropout_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }
/* Element j of a sample keyed by k: kept ? x * scale : 0. */
QM_FN float qm_dropout_one(float x, uint32_t j, qm_key k, uint32_t threshold, float scale)
{
    return qm_hash32(j, k) >= threshold ? QM_MUL(x, scale) : 0.0f;
}

#endif
