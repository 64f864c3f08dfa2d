/* allocmath.h: actnn_alloc_bits' per-sample case (weight NULL) in a form that decides each
 * item on its own, shared by the host library (policy.c) and the CUDA kernel (bits.cu), so
 * a device chooses actnn_auto's widths where the costs are, the same bytes as the CPU.
 *
 * Why it can be decided per item: the greedy starts every item at 8 bits and takes, one
 * at a time, the bit whose removal raises sum_k C_k / (2^b_k - 1)^2 least (ties: the lower
 * index), until the widths fit. Taking item k's bit b (b -> b-1) costs
 * key = C_k * am_step(b), and am_step falls as b rises, so an item's keys come in
 * nondecreasing order as it loses bits: the greedy's heap merges n sorted lists, and the
 * R bits it takes are the first R candidates (k, b) in the order (key, k, 8 - b). An item
 * therefore keeps 8 - t_k bits, t_k = how many of its candidates are among those R
 * (am_taken), which one device thread can count for its item without the others. R
 * depends on n and the average only (am_removals), so the widths' sum is known before the
 * costs are: a tensor can be sized, and saved into, before its widths are read back.
 *
 * Every double product goes through AM_MUL (the _rn intrinsic on the device, never fused;
 * the plain operator on the host, -ffp-contract=off). The steps are computed on the host
 * (am_steps) and handed to the device, so both multiply the same constants. */
#ifndef ACTNN_ALLOCMATH_H
#define ACTNN_ALLOCMATH_H

#include <stddef.h>

#if defined(__CUDACC__)
#define AM_FN static __host__ __device__ inline
#else
#define AM_FN static inline
#endif

#if defined(__CUDA_ARCH__)
#define AM_MUL(a, b) __dmul_rn((a), (b))
#else
#define AM_MUL(a, b) ((a) * (b))
#endif

enum { AM_MIN_BITS = 1, AM_MAX_BITS = 8 };

/* step[b] for b in 2..8: 1/(2^(b-1) - 1)^2 - 1/(2^b - 1)^2, the objective's rise per unit
 * of cost when an item goes from b to b-1 bits (entries 0 and 1 unused). */
typedef struct {
    double step[AM_MAX_BITS + 1];
} am_steps;

/* 1 / (2^b - 1)^2 (host only: the device gets the steps). */
static inline double am_inv_levels2(int b)
{
    double l = (double)((1u << b) - 1u);
    return 1.0 / (l * l);
}

static inline am_steps am_make_steps(void)
{
    am_steps s = {{0}};
    for (int b = AM_MIN_BITS + 1; b <= AM_MAX_BITS; ++b)
        s.step[b] = am_inv_levels2(b - 1) - am_inv_levels2(b);
    return s;
}

/* The greedy's removals for n items of weight 1 at `avg` bits: as its loop, from 8n down
 * by one while above avg * n * (1 + 1e-12), at most 7n (every item at 1 bit). */
static inline size_t am_removals(size_t n, double avg)
{
    double total = (double)AM_MAX_BITS * (double)n, budget = avg * (double)n * (1.0 + 1e-12);
    size_t r = 0, most = (size_t)(AM_MAX_BITS - AM_MIN_BITS) * n;
    while (total > budget && r < most) {
        total -= 1.0;
        ++r;
    }
    return r;
}

/* The even split of `avg` bits over n items (a streamed save's first chunk, which has no
 * costs of the later ones): floor(avg) each, one more for the first *up, the fraction's
 * share of n rounded down (the 1e-9 keeps an exact product such as 0.5 * 2 from landing
 * below). 0 when avg is outside [1, 8]. Host only: the device gets lo and up. */
static inline int am_split(size_t n, double avg, int *lo, size_t *up)
{
    if (!(avg >= AM_MIN_BITS && avg <= AM_MAX_BITS)) return 0;
    *lo = (int)avg;
    *up = (size_t)((avg - *lo) * (double)n + 1e-9);
    if (*up > n) *up = n;
    return 1;
}

/* The cost of taking item-with-cost c's bit b. */
AM_FN double am_key(double c, const am_steps *s, int b) { return AM_MUL(c, s->step[b]); }

/* Whether candidate (ka, a, ba) comes before (kb, b, bb): key, then index, then the item's
 * own order (its higher bit first). */
AM_FN int am_before(double ka, size_t a, int ba, double kb, size_t b, int bb)
{
    return ka < kb || (ka == kb && (a < b || (a == b && ba > bb)));
}

/* How many of the candidates come before (key, k, b); stops counting at R. An item's
 * candidates before it are a prefix of its own (nondecreasing keys), so each item's scan
 * stops at its first that is not. zero: every cost read as 0 (costs that were not valid). */
AM_FN size_t am_rank(const double *cost, size_t n, const am_steps *s, double key, size_t k,
                     int b, size_t R, int zero)
{
    size_t rank = 0;
    for (size_t j = 0; j < n && rank < R; ++j) {
        double c = zero ? 0.0 : cost[j];
        for (int bj = AM_MAX_BITS; bj > AM_MIN_BITS && am_before(am_key(c, s, bj), j, bj, key, k, b); --bj)
            ++rank;
    }
    return rank;
}

/* Item k's width: 8 minus the number of its candidates among the first R (they are a
 * prefix of its own too: once one is not taken, none after it is). */
AM_FN int am_width(const double *cost, size_t n, const am_steps *s, size_t k, size_t R, int zero)
{
    double c = zero ? 0.0 : cost[k];
    int b = AM_MAX_BITS;
    while (b > AM_MIN_BITS && am_rank(cost, n, s, am_key(c, s, b), k, b, R, zero) < R) --b;
    return b;
}

/* Whether a cost can be allocated (finite, >= 0), as actnn_alloc_bits checks. */
AM_FN int am_cost_ok(double c) { return c >= 0.0 && c <= 1.79769313486231570815e308; }

#endif
