/* Pooling kernels of the CPU backend (backend.h): pjreddie's [maxpool] with the argmax
 * code of each output, and the global [avgpool]; per-value arithmetic in pool_math.h. */
#include "backend/cpu/cpu_ops.h"

#include <float.h>

#include "backend/math/pool_math.h"

/* dn_maxpool_window (pool_math.h, the GPU's too) with a fast path for windows inside the
 * image: the same comparisons in the same order, without the bounds tests. */
static inline float pool_window(const float *in, int w, int h, int size, int y0, int x0, int *arg)
{
    float best = -FLT_MAX;
    int a = 0;
    if (y0 >= 0 && x0 >= 0 && y0 + size <= h && x0 + size <= w) {
        /* inside the image (most windows): no bounds tests */
        const float *r = in + (size_t)y0 * w + x0;
        for (int n = 0; n < size; ++n, r += w)
            for (int m = 0; m < size; ++m)
                if (r[m] > best) { best = r[m]; a = n * size + m; }
        *arg = a;
        return best;
    }
    return dn_maxpool_window(in, h, w, size, y0, x0, arg); /* the edges: bounds tested */
}

/* Output and argmax codes in one pass over the input. */
static void maxpool_sample(const float *in0, int c, int h, int w, int size, int stride, int pad,
                           float *out0, uint8_t *codes)
{
    int off = -pad / 2, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
#pragma omp parallel for schedule(static) if (c * ow * oh > 16384)
    for (int k = 0; k < c; ++k) {
        const float *in = in0 + (size_t)k * w * h;
        float *out = out0 + (size_t)k * ow * oh;
        uint8_t *cd = codes + (size_t)k * ow * oh;
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                int arg;
                out[i * ow + j] = pool_window(in, w, h, size, off + i * stride, off + j * stride, &arg);
                cd[i * ow + j] = (uint8_t)arg;
            }
    }
}

void cpu_maxpool_forward(const float *in, int batch, int c, int h, int w, int size, int stride,
                         int pad, float *out, uint8_t *codes)
{
    size_t ins = (size_t)c * h * w;
    size_t outs = (size_t)c * ((h + pad - size) / stride + 1) * ((w + pad - size) / stride + 1);
    for (int b = 0; b < batch; ++b)
        maxpool_sample(in + b * ins, c, h, w, size, stride, pad, out + b * outs, codes + b * outs);
}

void cpu_maxpool_backward(const float *delta, const uint8_t *codes, int batch, int c, int h,
                          int w, int size, int stride, int pad, float *delta_in)
{
    int off = -pad / 2, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    for (int bc = 0; bc < batch * c; ++bc) {
        const float *d = delta + (size_t)bc * ow * oh;
        float *din = delta_in + (size_t)bc * w * h;
        const uint8_t *cd = codes + (size_t)bc * ow * oh;
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                int code = cd[i * ow + j];
                int y = off + i * stride + code / size;
                int xx = off + j * stride + code % size;
                if (y >= 0 && y < h && xx >= 0 && xx < w) din[y * w + xx] += d[i * ow + j];
            }
    }
}

void cpu_avgpool_forward(const float *in0, int batch, int c, int h, int w, float *out)
{
    int hw = w * h;
    for (int b = 0; b < batch; ++b)
        for (int k = 0; k < c; ++k) {
            out[b * c + k] = dn_avgpool1(in0 + ((size_t)b * c + k) * hw, hw);
        }
}

void cpu_avgpool_backward(const float *delta, int batch, int c, int h, int w, float *delta_in)
{
    int hw = w * h;
    for (int b = 0; b < batch; ++b)
        for (int k = 0; k < c; ++k) {
            float *d = delta_in + ((size_t)b * c + k) * hw;
            float g = delta[b * c + k] / hw;
            for (int i = 0; i < hw; ++i) d[i] += g;
        }
}
