/* vec_math.h: the per-element arithmetic of the CUDA backend's small vector kernels
 * (vec.cu: axpy, scal, bias add, bias gradient), written once as `__host__ __device__`
 * functions (static inline in C) so tests/test_vec_mirror.c (`make test`, no GPU) runs them
 * on the host against the CPU backend. axpy, scal and the bias add are the CPU's
 * expressions, separately rounded on both sides (kernels built with --fmad=false, C11
 * with -ffp-contract=off), so they match bit for bit. The bias gradient is summed in
 * another order on the GPU (each of DN_VEC_THREADS threads sums a strided subset of a
 * channel, then a tree halves the partial sums): dn_bias_partial and dn_bias_tree_step are
 * that order, and the test bounds its difference from a float64 sum. */
#ifndef DN_VEC_MATH_H
#define DN_VEC_MATH_H

#include <stddef.h>
#include <string.h>

#if defined(__CUDACC__)
#define DN_VEC_FN static __host__ __device__ inline
#else
#define DN_VEC_FN static inline
#endif
#if defined(__CUDA_ARCH__)
#define DN_VADD(a, b) __fadd_rn((a), (b))
#define DN_VMUL(a, b) __fmul_rn((a), (b))
#else
#define DN_VADD(a, b) ((a) + (b))
#define DN_VMUL(a, b) ((a) * (b))
#endif

/* 1 when v is NaN or inf: all exponent bits set (nonfinite_mark; the CPU backend's
 * cpu_nonfinite_mark tests the same field by a carry into bit 31). */
DN_VEC_FN int dn_nonfinite1(float v)
{
#if defined(__CUDA_ARCH__)
    unsigned int b = __float_as_uint(v);
#else
    unsigned int b;
    memcpy(&b, &v, sizeof(b));
#endif
    return (b & 0x7f800000u) == 0x7f800000u;
}

/* Threads of the bias-gradient block (vec.cu launches one block of these per channel). */
#define DN_VEC_THREADS 256

/* y + a*x (axpy), as axpy_f: the product rounded, then the sum. */
DN_VEC_FN float dn_axpy1(float y, float a, float x) { return DN_VADD(y, DN_VMUL(a, x)); }

/* x*a (scal). */
DN_VEC_FN float dn_scal1(float x, float a) { return DN_VMUL(x, a); }

/* Element i of a batch x n x spatial tensor plus its channel's bias. */
DN_VEC_FN float dn_add_bias1(float x, const float *bias, size_t i, int n, int spatial)
{
    return DN_VADD(x, bias[(i / (size_t)spatial) % (size_t)n]);
}

/* Thread t's partial sum of channel f's deltas: sample by sample, values t, t+threads, ... */
DN_VEC_FN float dn_bias_partial(const float *delta, int batch, int n, int spatial, int f, int t,
                                int threads)
{
    float s = 0;
    for (int j = 0; j < batch; ++j) {
        const float *p = delta + ((size_t)j * n + f) * spatial;
        for (int k = t; k < spatial; k += threads) s = DN_VADD(s, p[k]);
    }
    return s;
}

/* One step of the tree: thread t < w adds its partner's partial sum. */
DN_VEC_FN float dn_bias_tree_step(float mine, float partner) { return DN_VADD(mine, partner); }

#endif
