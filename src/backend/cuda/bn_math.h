/* bn_math.h: the per-value batch-norm formulas of bn_ops.c for the GPU (bn.cu), written
 * once as __host__ __device__ functions (static inline in C) so tests/test_backend_mirror.c
 * (C, `make test`) and tests/gpu/mirror_host.cu check them against bn_ops.c on the CPU.
 * The float/double mix is bn_ops.c's, operation for operation; float
 * products and sums go through DN_FMUL/DN_FADD, the _rn intrinsics on the device (never
 * fused) and plain operators on the host (nvcc passes -ffp-contract=off to g++). */
#ifndef DN_BN_MATH_H
#define DN_BN_MATH_H

#include <math.h>

#if defined(__CUDA_ARCH__)
#define DN_FADD(a, b) __fadd_rn((a), (b))
#define DN_FMUL(a, b) __fmul_rn((a), (b))
#else
#define DN_FADD(a, b) ((a) + (b))
#define DN_FMUL(a, b) ((a) * (b))
#endif

#if defined(__CUDACC__)
#define DN_BN_FN static __host__ __device__ inline
#else
#define DN_BN_FN static inline
#endif

/* (x - mean) / (sqrt(var) + 1e-6), the forward normalisation. */
DN_BN_FN float dn_bn_norm1(float x, float mean, float var)
{
    return (float)((double)(x - mean) / (sqrt((double)var) + (double).000001f));
}

/* .99 * rolling + .01 * batch statistic. */
DN_BN_FN float dn_bn_roll(float rolling, float v)
{
    return DN_FADD(DN_FMUL(.99f, rolling), DN_FMUL(.01f, v));
}

/* bn_backward_delta for one value: d is the incoming delta, xhat the normalised input,
 * cnt = batch * spatial, sum_d / sum_dx the channel sums of pass 1. */
DN_BN_FN float dn_bn_delta1(float d, float xhat, double cnt, float var, float scale, float sum_d,
                            float sum_dx)
{
    float std_eps = (float)(sqrt((double)var) + (double).000001f);
    float v5 = DN_FADD(var, .00001f);
    float mean_delta = (float)((double)DN_FMUL(scale, sum_d) * (-1. / sqrt((double)v5)));
    float sdx = DN_FMUL(DN_FMUL(scale, sum_dx), std_eps);
    float var_delta = (float)((double)sdx * -.5 * pow((double)v5, (double)(float)(-3. / 2.)));
    float inv = (float)(1. / sqrt((double)v5));
    float a = DN_FMUL(DN_FMUL(d, scale), inv);
    double t = (double)var_delta * 2. * (double)DN_FMUL(xhat, std_eps) / cnt;
    return (float)((double)a + t + (double)mean_delta / cnt);
}

#endif
