/* Small deterministic random number generator for the framework (not for ActNN rounding,
 * which lives in actnn_plugin). Every random choice in Darknet-land (weight init, data
 * order, augmentation) draws from an rng_t seeded from the run's seed and a stream id, so
 * results never depend on thread timing. xoshiro256** seeded through splitmix64. */
#ifndef DN_RNG_H
#define DN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
    int has_spare;
    float spare;
} rng_t;

static inline uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seed from (seed, stream): distinct streams give independent sequences. */
static inline void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; ++i) r->s[i] = rng_splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_u64(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0,1) with 24 bits of resolution. */
static inline float rng_float(rng_t *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

static inline float rng_uniform(rng_t *r, float lo, float hi)
{
    if (hi < lo) { float t = lo; lo = hi; hi = t; }
    return lo + (hi - lo) * rng_float(r);
}

/* Uniform integer in [0, n); n <= 0 gives 0. */
static inline int rng_int(rng_t *r, int n)
{
    if (n <= 0) return 0;
    return (int)(rng_u64(r) % (uint64_t)n);
}

/* Standard normal (Box-Muller, caches the second value). */
static inline float rng_normal(rng_t *r)
{
    if (r->has_spare) { r->has_spare = 0; return r->spare; }
    double u1, u2;
    do { u1 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); } while (u1 <= 1e-300);
    u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    double mag = sqrt(-2.0 * log(u1));
    r->spare = (float)(mag * sin(2.0 * M_PI * u2));
    r->has_spare = 1;
    return (float)(mag * cos(2.0 * M_PI * u2));
}

/* pjreddie's rand_scale: a factor in [1/s, s], each side equally likely. */
static inline float rng_scale(rng_t *r, float s)
{
    float x = rng_uniform(r, 1.0f, s);
    return (rng_u64(r) & 1) ? x : 1.0f / x;
}

#endif
