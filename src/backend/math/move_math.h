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

#endif
