/* move_math.h: the per-value arithmetic of the data-movement layers for both backends
 * (movement.c on the CPU, route.cu on the GPU), written once as `__host__ __device__`
 * functions (static inline in C): pjreddie's [shortcut] (out = s1*out + s2*add, over the
 * common part of two shapes) and [upsample]. Upsample's backward differs in shape like
 * maxpool's: the CPU scatters each output's delta to its input cell in row-major output
 * order; the GPU gathers per input cell, visiting the s x s outputs in that same order
 * (dn_upsample_gather1), so the sums are the same float additions.
 * tests/test_move_mirror.c checks both against the CPU backend. */
#ifndef DN_MOVE_MATH_H
#define DN_MOVE_MATH_H

#include <stddef.h>

#if defined(__CUDACC__)
#define DN_MV_FN static __host__ __device__ inline
#else
#define DN_MV_FN static inline
#endif
#if defined(__CUDA_ARCH__)
#define DN_MADD(a, b) __fadd_rn((a), (b))
#define DN_MMUL(a, b) __fmul_rn((a), (b))
#else
#define DN_MADD(a, b) ((a) + (b))
#define DN_MMUL(a, b) ((a) * (b))
#endif

/* Index of cell (i, j) of channel k of sample b in a w x h x c tensor sampled every `step`
 * cells ([shortcut] between shapes whose sides differ by an integer factor). */
DN_MV_FN size_t dn_shortcut_at(int i, int j, int k, size_t b, int w, int h, int c, int step)
{
    return (size_t)i * step + (size_t)w * (j * step + (size_t)h * (k + (size_t)c * b));
}

/* The GPU's thread q of a [shortcut] over the common minw x minh x minc part of every
 * sample: the output index *oi (the w2 x h2 x c2 tensor, every `sample` cells) and the
 * added one *ai (w1 x h1 x c1, every `stride`). */
DN_MV_FN void dn_shortcut_q(size_t q, int minw, int minh, int minc, int stride, int sample,
                            int w1, int h1, int c1, int w2, int h2, int c2, size_t *oi, size_t *ai)
{
    int i = (int)(q % minw), j = (int)((q / minw) % minh), k = (int)((q / minw / minh) % minc);
    size_t b = q / ((size_t)minw * minh * minc);
    *oi = dn_shortcut_at(i, j, k, b, w2, h2, c2, sample);
    *ai = dn_shortcut_at(i, j, k, b, w1, h1, c1, stride);
}

/* One [shortcut] value: s1 * out + s2 * add, each product rounded. */
DN_MV_FN float dn_shortcut1(float out, float add, float s1, float s2)
{
    return DN_MADD(DN_MMUL(s1, out), DN_MMUL(s2, add));
}

/* Output (i, j) of one upsampled plane (input w wide, factor s). */
DN_MV_FN float dn_upsample1(const float *in, int w, int s, int i, int j, float scale)
{
    return DN_MMUL(scale, in[(size_t)(j / s) * w + i / s]);
}

/* Input cell (x, y) of one plane: acc plus scale * each of its s x s outputs (delta d,
 * ow wide), in row-major order. */
DN_MV_FN float dn_upsample_gather1(const float *d, int ow, int s, int x, int y, float scale, float acc)
{
    for (int j = y * s; j < y * s + s; ++j)
        for (int i = x * s; i < x * s + s; ++i) acc = DN_MADD(acc, DN_MMUL(scale, d[(size_t)j * ow + i]));
    return acc;
}

/* ---- products: [scale_channels] and [sam] (backend.h mul_forward / mul_backward) ----
 * x holds samples of c x spatial values; s holds per sample one value per channel
 * (DN_MUL_CHANNEL), per position (DN_MUL_SPATIAL) or per value (DN_MUL_ELEM). */
enum { DN_MUL_CHANNEL, DN_MUL_SPATIAL, DN_MUL_ELEM };

/* The s index of value i of the whole batch (i counts over batch x c x spatial). */
DN_MV_FN size_t dn_mul_sidx(size_t i, int c, int spatial, int mode)
{
    if (mode == DN_MUL_CHANNEL) return i / (size_t)spatial;
    if (mode == DN_MUL_SPATIAL) return i % (size_t)spatial + i / ((size_t)c * spatial) * spatial;
    return i;
}

/* Values of s per sample, and the values of x that s value j multiplies: n of them, the
 * first at *first, `step` apart. */
DN_MV_FN size_t dn_mul_sn(int c, int spatial, int mode)
{
    if (mode == DN_MUL_CHANNEL) return (size_t)c;
    if (mode == DN_MUL_SPATIAL) return (size_t)spatial;
    return (size_t)c * spatial;
}

DN_MV_FN void dn_mul_span(size_t j, int c, int spatial, int mode, size_t *first, size_t *n,
                          size_t *step)
{
    if (mode == DN_MUL_CHANNEL) {
        *first = j * (size_t)spatial, *n = (size_t)spatial, *step = 1;
    } else if (mode == DN_MUL_SPATIAL) {
        *first = j % (size_t)spatial + j / (size_t)spatial * (size_t)c * spatial;
        *n = (size_t)c, *step = (size_t)spatial;
    } else {
        *first = j, *n = 1, *step = 1;
    }
}

/* acc plus the n products d[k*step] * x[k*step], in order of k (s value j's gradient). */
DN_MV_FN float dn_mul_dsum(const float *d, const float *x, size_t n, size_t step, float acc)
{
    for (size_t k = 0; k < n; ++k) acc = DN_MADD(acc, DN_MMUL(d[k * step], x[k * step]));
    return acc;
}

#endif
