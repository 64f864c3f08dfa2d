/* pool_math.h: the per-value arithmetic of [maxpool] and [avgpool] for both backends
 * (pool.c on the CPU, pool.cu on the GPU), written once as `__host__ __device__` functions
 * (static inline in C). Forward is per output: the maximum of one window and its argmax
 * code. Backward differs in shape: the CPU scatters each output's delta to the input cell
 * its code names, in (row, column) order; the GPU gathers per input cell (no atomics), and
 * dn_maxpool_gather1 visits the covering outputs in the same order, so the sums are the
 * same float additions. tests/test_backend_mirror.c checks the gather against the CPU's
 * scatter. Sums are separately rounded (DN_PADD: __fadd_rn on the device). */
#ifndef DN_POOL_MATH_H
#define DN_POOL_MATH_H

#include <float.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define DN_POOL_FN static __host__ __device__ inline
#else
#define DN_POOL_FN static inline
#endif
#if defined(__CUDA_ARCH__)
#define DN_PADD(a, b) __fadd_rn((a), (b))
#else
#define DN_PADD(a, b) ((a) + (b))
#endif

/* The maximum of the size x size window with corner (y0, x0) of an h x w plane and its
 * position n*size + m (the first maximum in row-major order; cells outside the plane are
 * -FLT_MAX, so a NaN never wins). */
DN_POOL_FN float dn_maxpool_window(const float *p, int h, int w, int size, int y0, int x0, int *arg)
{
    float best = -FLT_MAX;
    int a = 0;
    for (int n = 0; n < size; ++n)
        for (int m = 0; m < size; ++m) {
            int y = y0 + n, x = x0 + m;
            float v = y >= 0 && y < h && x >= 0 && x < w ? p[(long)y * w + x] : -FLT_MAX;
            if (v > best) {
                best = v;
                a = n * size + m;
            }
        }
    *arg = a;
    return best;
}

/* First output index whose window (start off + i*stride, length size) covers y. */
DN_POOL_FN int dn_pool_first_cover(int y, int off, int size, int stride)
{
    int t = y - off - size + 1;
    return t <= 0 ? 0 : (t + stride - 1) / stride;
}

/* Input cell (y, x) of one plane: acc plus the deltas d of the outputs (oh x ow, codes c)
 * whose argmax is this cell, in row-major output order. */
DN_POOL_FN float dn_maxpool_gather1(const float *d, const uint8_t *c, int oh, int ow, int size,
                                    int stride, int off, int y, int x, float acc)
{
    if (y - off < 0 || x - off < 0) return acc; /* before every window's start */
    int i1 = (y - off) / stride, j1 = (x - off) / stride;
    if (i1 > oh - 1) i1 = oh - 1;
    if (j1 > ow - 1) j1 = ow - 1;
    for (int i = dn_pool_first_cover(y, off, size, stride); i <= i1; ++i)
        for (int j = dn_pool_first_cover(x, off, size, stride); j <= j1; ++j) {
            int code = c[i * ow + j];
            if (off + i * stride + code / size == y && off + j * stride + code % size == x)
                acc = DN_PADD(acc, d[i * ow + j]);
        }
    return acc;
}

/* [avgpool]: the mean of one plane of hw values, summed in order. */
DN_POOL_FN float dn_avgpool1(const float *p, int hw)
{
    float s = 0;
    for (int i = 0; i < hw; ++i) s = DN_PADD(s, p[i]);
    return s / hw;
}

#endif
