/* Data-movement kernels of the CPU backend (backend.h): route rows, pjreddie's shortcut,
 * the products of [scale_channels]/[sam], upsample, reorg and crop; the per-value arithmetic
 * of shortcut, products and upsample in move_math.h. */
#include "backend/cpu/cpu_ops.h"

#include <string.h>

#include "backend/math/move_math.h"

void cpu_copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t n,
                   int rows, int accumulate)
{
    for (int r = 0; r < rows; ++r) {
        float *d = dst + (size_t)r * dst_stride;
        const float *s = src + (size_t)r * src_stride;
        if (!accumulate) {
            memcpy(d, s, n * sizeof(float));
            continue;
        }
        for (size_t k = 0; k < n; ++k) d[k] += s[k];
    }
}

void cpu_shortcut_add(int batch, int w1, int h1, int c1, const float *add, int w2, int h2, int c2,
                      float s1, float s2, float *out)
{
    int stride = w1 / w2, sample = w2 / w1;
    if (stride < 1) stride = 1;
    if (sample < 1) sample = 1;
    int minw = w1 < w2 ? w1 : w2, minh = h1 < h2 ? h1 : h2, minc = c1 < c2 ? c1 : c2;
    for (int b = 0; b < batch; ++b)
        for (int k = 0; k < minc; ++k)
            for (int j = 0; j < minh; ++j)
                for (int i = 0; i < minw; ++i) {
                    size_t oi = dn_shortcut_at(i, j, k, (size_t)b, w2, h2, c2, sample);
                    out[oi] = dn_shortcut1(out[oi], add[dn_shortcut_at(i, j, k, (size_t)b, w1, h1, c1, stride)], s1, s2);
                }
}

/* s's value for each of the c x spatial values of a sample, a row (a channel) at a time:
 * the per-value products are move_math.h's, the loops avoid its per-value divisions. */
static const float *mul_row(const float *s, int ch, int spatial, int mode)
{
    if (mode == DN_MUL_CHANNEL) return s + ch;          /* one value for the row */
    if (mode == DN_MUL_SPATIAL) return s;               /* the sample's positions */
    return s + (size_t)ch * spatial;                    /* the row's own values */
}

void cpu_mul_forward(const float *s, const float *x, int batch, int c, int spatial, int mode,
                     float *out)
{
    size_t sn = dn_mul_sn(c, spatial, mode);
    for (int b = 0; b < batch; ++b)
        for (int ch = 0; ch < c; ++ch) {
            size_t o = ((size_t)b * c + ch) * spatial;
            const float *r = mul_row(s + b * sn, ch, spatial, mode);
            if (mode == DN_MUL_CHANNEL)
                for (int p = 0; p < spatial; ++p) out[o + p] = DN_MMUL(r[0], x[o + p]);
            else
                for (int p = 0; p < spatial; ++p) out[o + p] = DN_MMUL(r[p], x[o + p]);
        }
}

void cpu_mul_backward(const float *delta, const float *s, const float *x, int batch, int c,
                      int spatial, int mode, float *ds, float *dx)
{
    size_t sn = dn_mul_sn(c, spatial, mode);
    for (int b = 0; dx && b < batch; ++b)
        for (int ch = 0; ch < c; ++ch) {
            size_t o = ((size_t)b * c + ch) * spatial;
            const float *r = mul_row(s + b * sn, ch, spatial, mode);
            size_t step = mode == DN_MUL_CHANNEL ? 0 : 1;
            for (int p = 0; p < spatial; ++p)
                dx[o + p] = DN_MADD(dx[o + p], DN_MMUL(r[p * step], delta[o + p]));
        }
    for (size_t j = 0; ds && j < (size_t)batch * sn; ++j) {
        size_t first, cnt, step;
        dn_mul_span(j, c, spatial, mode, &first, &cnt, &step);
        ds[j] = dn_mul_dsum(delta + first, x + first, cnt, step, ds[j]);
    }
}

void cpu_upsample_forward(const float *in0, int planes, int h, int w, int s, float scale,
                          float *out0)
{
    int ow = w * s, oh = h * s;
    for (int bc = 0; bc < planes; ++bc) {
        const float *in = in0 + (size_t)bc * w * h;
        float *out = out0 + (size_t)bc * ow * oh;
        for (int j = 0; j < oh; ++j)
            for (int i = 0; i < ow; ++i) out[(size_t)j * ow + i] = dn_upsample1(in, w, s, i, j, scale);
    }
}

void cpu_upsample_backward(const float *delta, int planes, int h, int w, int s, float scale,
                           float *delta_in)
{
    int ow = w * s, oh = h * s;
    for (int bc = 0; bc < planes; ++bc) {
        float *din = delta_in + (size_t)bc * w * h;
        const float *d = delta + (size_t)bc * ow * oh;
        for (int j = 0; j < oh; ++j)
            for (int i = 0; i < ow; ++i) din[(j / s) * w + i / s] += scale * d[(size_t)j * ow + i];
    }
}

/* pjreddie's reorg kernel on one sample: returns, for element in_index of a (w,h,c) grid,
 * the matching index in the (w*s, h*s, c/s^2) grid. */
static size_t reorg_map(int i, int j, int k, int w, int h, int c, int s)
{
    int out_c = c / (s * s);
    int c2 = k % out_c, off = k / out_c;
    int w2 = i * s + off % s, h2 = j * s + off / s;
    return (size_t)w2 + (size_t)w * s * (h2 + (size_t)h * s * c2);
}

/* forward=1: out[map(i)] = x[i]; forward=0: out[i] = x[map(i)] (add=1 accumulates). */
void cpu_reorg(const float *x, int w, int h, int c, int s, int fwd, int add, float *out)
{
    for (int k = 0; k < c; ++k)
        for (int j = 0; j < h; ++j)
            for (int i = 0; i < w; ++i) {
                size_t in = (size_t)i + (size_t)w * (j + (size_t)h * k), m = reorg_map(i, j, k, w, h, c, s);
                size_t dst = fwd ? m : in, src = fwd ? in : m;
                if (add) out[dst] += x[src];
                else out[dst] = x[src];
            }
}

void cpu_crop(const float *in, int batch, int c, int h, int w, int out_h, int out_w, int dh,
              int dw, int flip, float scale, float trans, float *out)
{
    size_t k = 0;
    for (int b = 0; b < batch; ++b)
        for (int ch = 0; ch < c; ++ch)
            for (int i = 0; i < out_h; ++i)
                for (int j = 0; j < out_w; ++j) {
                    int col = flip ? w - dw - j - 1 : j + dw, row = i + dh;
                    out[k++] = in[col + (size_t)w * (row + (size_t)h * (ch + (size_t)c * b))] * scale + trans;
                }
}
