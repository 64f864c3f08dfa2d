/* floatbits.h: bit-level float helpers (bf16 with directed rounding). All integer
 * operations, so the CPU and a GPU agree bit for bit. */
#ifndef ACTNN_FLOATBITS_H
#define ACTNN_FLOATBITS_H

#include <stdint.h>
#include <string.h>

static inline uint32_t fb_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float fb_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float bf16_to_float(uint16_t h) { return fb_float((uint32_t)h << 16); }

/* Largest bf16 <= f (f finite). Truncating the low 16 bits moves toward zero, which is
 * down for positives; a negative with nonzero low bits must move away from zero. */
static inline uint16_t bf16_round_down(float f)
{
    uint32_t u = fb_bits(f);
    uint16_t h = (uint16_t)(u >> 16);
    if ((u & 0xFFFFu) && (u >> 31)) h = (uint16_t)(h + 1);
    return h;
}

/* Smallest bf16 >= f (f finite). */
static inline uint16_t bf16_round_up(float f)
{
    uint32_t u = fb_bits(f);
    uint16_t h = (uint16_t)(u >> 16);
    if ((u & 0xFFFFu) && !(u >> 31)) h = (uint16_t)(h + 1);
    return h;
}

#endif
