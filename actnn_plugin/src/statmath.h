/* statmath.h: the arithmetic of the mixed-precision statistics (actnn_sample_stats), shared
 * by the host library (tensor_info.c) and the CUDA kernels (stats.cu), so a device
 * computes the same doubles as the CPU and actnn_auto chooses the same bits.
 *
 * The order of the additions is part of the contract (doubles are not associative):
 *   range:   per sample, sum over groups g = 0, 1, ... of sm_range_term(min_g, max_g);
 *            min and max are exact in any order (a signed zero changes neither hi - lo
 *            nor its square), so a kernel may reduce a group's values in any order.
 *   squares: per sample, chunks of SM_CHUNK values; each chunk's sum sm_square_chunk
 *            (its values in order), then the chunk sums added in chunk order.
 * Every double operation goes through SM_ADD/SM_SUB/SM_MUL: the _rn intrinsics on the
 * device (never fused, whatever --fmad says), plain operators on the host
 * (-ffp-contract=off). No state, no allocation: plain static inline functions in C. */
#ifndef ACTNN_STATMATH_H
#define ACTNN_STATMATH_H

#include <stddef.h>

#if defined(__CUDACC__)
#define SM_FN static __host__ __device__ inline
#else
#define SM_FN static inline
#endif

#if defined(__CUDA_ARCH__)
#define SM_ADD(a, b) __dadd_rn((a), (b))
#define SM_SUB(a, b) __dsub_rn((a), (b))
#define SM_MUL(a, b) __dmul_rn((a), (b))
#else
#define SM_ADD(a, b) ((a) + (b))
#define SM_SUB(a, b) ((a) - (b))
#define SM_MUL(a, b) ((a) * (b))
#endif

/* Values per chunk of a sum of squares. */
#define SM_CHUNK 256

/* A group's term of the range statistic: (hi - lo)^2 in double. */
SM_FN double sm_range_term(float lo, float hi)
{
    double r = SM_SUB((double)hi, (double)lo);
    return SM_MUL(r, r);
}

/* Sum of x[k]^2 over one chunk (len <= SM_CHUNK values), in order. */
SM_FN double sm_square_chunk(const float *x, size_t len)
{
    double s = 0.0;
    for (size_t k = 0; k < len; ++k) s = SM_ADD(s, SM_MUL((double)x[k], (double)x[k]));
    return s;
}

#endif
