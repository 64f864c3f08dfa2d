/* elem_math.h: the per-element arithmetic of the CUDA backend's kernels added for the
 * backend interface (backend_kernels.cu): im2col/col2im, batch-norm statistics, reorg, crop
 * and the optimizer updates. Written once as `__host__ __device__` functions (static inline
 * in C), so tests/test_backend_mirror.c (C, `make test`, no GPU needed) runs them against
 * the CPU backend's kernels. Kernels are built with --fmad=false: plain operators stay
 * separately rounded on the device, as in C11 with -ffp-contract=off. */
#ifndef DN_ELEM_MATH_H
#define DN_ELEM_MATH_H

#include <math.h>
#include <stddef.h>

#if defined(__CUDACC__)
#define DN_EL_FN static __host__ __device__ inline
#else
#define DN_EL_FN static inline
#endif

/* Element r*(oh*ow) + y*ow + x of Darknet's im2col (row r = ch*k*k + ky*k + kx). */
DN_EL_FN float dn_im2col1(const float *im, int h, int w, int ksize, int stride, int pad, int oh,
                          int ow, size_t idx)
{
    int x = (int)(idx % (size_t)ow), y = (int)((idx / (size_t)ow) % (size_t)oh);
    int r = (int)(idx / ((size_t)ow * oh));
    int kx = r % ksize, ky = (r / ksize) % ksize, ch = r / ksize / ksize;
    int iy = y * stride + ky - pad, ix = x * stride + kx - pad;
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) return 0;
    return im[((size_t)ch * h + iy) * w + ix];
}

/* col2im_add for image element (ch, iy, ix): the sum of the columns that read it, in the
 * CPU's order (kernel row, kernel column, then output position ascending), added to im. */
DN_EL_FN float dn_col2im1(const float *col, float im, int h, int w, int ksize, int stride,
                          int pad, int oh, int ow, size_t idx)
{
    int ix = (int)(idx % (size_t)w), iy = (int)((idx / (size_t)w) % (size_t)h);
    int ch = (int)(idx / ((size_t)w * h));
    float acc = im;
    for (int k = 0; k < ksize * ksize; ++k) {
        int kx = k % ksize, ky = k / ksize;
        int ty = iy + pad - ky, tx = ix + pad - kx;
        if (ty < 0 || tx < 0 || ty % stride || tx % stride) continue;
        int y = ty / stride, x = tx / stride;
        if (y >= oh || x >= ow) continue;
        acc += col[(((size_t)ch * ksize * ksize + k) * oh + y) * ow + x];
    }
    return acc;
}

/* Batch statistics from the double sums (bn_stats_end): mean and unbiased variance. */
DN_EL_FN void dn_bn_stats1(double s, double q, double cnt, float *mean, float *var)
{
    *mean = (float)(s / cnt);
    double v = (q - s * s / cnt) / (cnt - 1 > 0 ? cnt - 1 : 1);
    *var = (float)(v > 0 ? v : 0);
}

/* pjreddie's reorg index map (backend/cpu/movement.c reorg_map). */
DN_EL_FN size_t dn_reorg_map(int i, int j, int k, int w, int h, int c, int s)
{
    int out_c = c / (s * s);
    int c2 = k % out_c, off = k / out_c;
    int w2 = i * s + off % s, h2 = j * s + off / s;
    return (size_t)w2 + (size_t)w * s * (h2 + (size_t)h * s * c2);
}

/* [crop]: the input index of output element idx (batch-major, like the CPU loop). */
DN_EL_FN size_t dn_crop_src(int c, int h, int w, int out_h, int out_w, int dh, int dw, int flip,
                            size_t idx)
{
    int j = (int)(idx % (size_t)out_w), i = (int)((idx / (size_t)out_w) % (size_t)out_h);
    size_t bc = idx / ((size_t)out_w * out_h);
    int col = flip ? w - dw - j - 1 : j + dw, row = i + dh;
    (void)c;
    return (size_t)col + (size_t)w * (row + (size_t)h * bc);
}

/* One parameter of pjreddie's adam (backend/cpu/update.c). */
DN_EL_FN void dn_adam1(float *w, float *g, float *m, float *v, float decay_batch, float lr,
                       float B1, float B2, float b1t, float b2t, float eps)
{
    float gi = *g;
    if (decay_batch != 0) gi += -decay_batch * *w;
    *m = B1 * *m + (1 - B1) * gi;
    *v = B2 * *v + (1 - B2) * gi * gi;
    float mh = *m / b1t, vh = *v / b2t;
    *w += lr * mh / (sqrtf(vh) + eps);
    *g = 0;
}

#endif
