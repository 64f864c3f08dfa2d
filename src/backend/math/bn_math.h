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

/* One value's terms of the statistics' double sums (bn_ops.c bn_stats_add): s += x and
 * q += x * x. The square of a float is exact in double (48 of 53 bits), so contracting
 * q + x * x into a fused multiply-add could not change q either. */
DN_BN_FN void dn_bn_stats_term(float x, double *s, double *q)
{
    *s += x;
    *q += (double)x * x;
}

/* Thread t of T's share of channel f's statistics (k_bn_stats_add): the terms of values
 * t, t + T, t + 2T, ... of the channel's batch*spatial values (sample-major), in that
 * order, added to *s and *q. (sample j, position k) is stepped without a division per
 * value. */
DN_BN_FN void dn_bn_stats_part(const float *x, int batch, int n, int spatial, int f, int t,
                               int T, double *s, double *q)
{
    int j = t / spatial, k = t % spatial, dj = T / spatial, dk = T % spatial;
    while (j < batch) {
        dn_bn_stats_term(x[((size_t)j * n + f) * spatial + k], s, q);
        j += dj;
        k += dk;
        if (k >= spatial) {
            k -= spatial;
            ++j;
        }
    }
}

/* bn_backward_delta's per-channel coefficients: cnt = batch * spatial (times the ranks),
 * sum_d / sum_dx the channel sums of pass 1. The two divisions by cnt are folded into k1
 * and k2 once per channel, so the per-value step (dn_bn_delta_val) is two products and
 * two sums: in double, the product (x * std_eps) * (2 var_delta / cnt) may differ from
 * (2 var_delta * x * std_eps) / cnt in its last double bit, far below the float result. */
typedef struct {
    float scale, inv, std_eps;
    double k1, k2;
} dn_bn_delta_coef;

DN_BN_FN dn_bn_delta_coef dn_bn_delta_coefs(double cnt, float var, float scale, float sum_d,
                                             float sum_dx)
{
    dn_bn_delta_coef c;
    float v5 = DN_FADD(var, .00001f);
    float mean_delta = (float)((double)DN_FMUL(scale, sum_d) * (-1. / sqrt((double)v5)));
    c.std_eps = (float)(sqrt((double)var) + (double).000001f); /* x - mean = xhat * std_eps */
    float sdx = DN_FMUL(DN_FMUL(scale, sum_dx), c.std_eps);
    float var_delta = (float)((double)sdx * -.5 * pow((double)v5, (double)(float)(-3. / 2.)));
    c.scale = scale;
    c.inv = (float)(1. / sqrt((double)v5));
    c.k1 = (double)var_delta * 2. / cnt;
    c.k2 = (double)mean_delta / cnt;
    return c;
}

/* One value: d the incoming delta, xhat the normalised input. */
DN_BN_FN float dn_bn_delta_val(const dn_bn_delta_coef *c, float d, float xhat)
{
    float a = DN_FMUL(DN_FMUL(d, c->scale), c->inv);
    return (float)((double)a + (double)DN_FMUL(xhat, c->std_eps) * c->k1 + c->k2);
}

/* Both at once, for a kernel with one thread per value. */
DN_BN_FN float dn_bn_delta1(float d, float xhat, double cnt, float var, float scale, float sum_d,
                            float sum_dx)
{
    dn_bn_delta_coef c = dn_bn_delta_coefs(cnt, var, scale, sum_d, sum_dx);
    return dn_bn_delta_val(&c, d, xhat);
}

#endif
