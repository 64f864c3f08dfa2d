/* rng.h: the counter-based random numbers of actnn_plugin.
 *
 * Stochastic rounding needs one uniform per element, generated where the element is
 * (CPU thread, AVX2 lane or GPU thread) with no shared state, so the bytes never depend
 * on threads or devices. We use a keyed integer hash of a counter:
 *
 *   1. per (seed, tensor_id, sample, domain) a 64-bit key, mixed with the splitmix64
 *      finalizer (a bijection, so distinct inputs at each step stay distinct); its halves
 *      are k1 and k2;
 *   2. per counter c (32 bits) a 32-bit hash: c ^ k1, then two xorshift-multiply rounds
 *      (constants of the "lowbias32" family found by hash-prospector searches, good
 *      avalanche), with k2 xored in between so different keys are different functions,
 *      not shifted copies of one sequence.
 *
 * Quantization uses each 32-bit hash for two elements (16 bits each), which halves the
 * hashing cost: element j of a sample uses counter ((j >> 4) << 3) | (j & 7) and the low
 * half if (j & 8) == 0, the high half otherwise. In a block of 16 elements, the 8 hashes
 * of one AVX2 vector serve elements 0-7 (low halves) and 8-15 (high halves).
 * The uniform is u = (2k + 1) * 2^-17 for the 16-bit value k: the midpoints of 2^16
 * equal cells of [0, 1), so E[u] is exactly 1/2 and floor(t + u) is unbiased within
 * 2^-17 of a step for every t (see docs/actnn.md).
 *
 * Everything here is integer arithmetic, identical on any machine. */
#ifndef ACTNN_RNG_H
#define ACTNN_RNG_H

#include <stdint.h>

enum { RNG_DOMAIN_QUANT = 1, RNG_DOMAIN_DROPOUT = 2 };

typedef struct {
    uint32_t k1, k2;
} rng_key;

static inline uint64_t rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline rng_key rng_sample_key(uint64_t seed, uint64_t tensor_id, uint64_t sample,
                                     uint32_t domain)
{
    uint64_t z = rng_mix64(seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)domain));
    z = rng_mix64(z ^ tensor_id);
    z = rng_mix64(z ^ sample);
    rng_key k = {(uint32_t)z, (uint32_t)(z >> 32)};
    return k;
}

static inline uint32_t rng_hash32(uint32_t c, rng_key k)
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

/* The 16-bit draw of element j (j < 2^33) of a sample. */
static inline uint32_t rng_u16(uint64_t j, rng_key k)
{
    uint32_t c = (uint32_t)(((j >> 4) << 3) | (j & 7));
    uint32_t h = rng_hash32(c, k);
    return (j & 8) ? h >> 16 : h & 0xFFFFu;
}

/* u = (2k + 1) * 2^-17, exact in float. */
static inline float rng_uniform_from16(uint32_t k16)
{
    return (float)(2u * k16 + 1u) * 0x1p-17f;
}

#endif
