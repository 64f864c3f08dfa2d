/* pool.cu: [maxpool] and [avgpool] on the GPU, same conventions as src/layers/.
 *
 * Backward kernels gather: each input cell sums the outputs that route to it, in the
 * same (row, column) order as the CPU scatter loop, so results are bit-identical to the
 * CPU and never depend on atomics' ordering. */
#include <float.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

__global__ void k_maxpool_fwd(const float *in, size_t total, int h, int w, int oh, int ow,
                              int size, int stride, int off, float *out, uint8_t *codes)
{
    DN_GRID_LOOP(o, total) {
        int j = (int)(o % ow), i = (int)((o / ow) % oh);
        size_t bc = o / ((size_t)ow * oh);
        const float *p = in + bc * (size_t)w * h;
        float best = -FLT_MAX;
        int arg = 0;
        for (int n = 0; n < size; ++n)
            for (int m = 0; m < size; ++m) {
                int y = off + i * stride + n, x = off + j * stride + m;
                bool ok = y >= 0 && y < h && x >= 0 && x < w;
                float v = ok ? p[y * w + x] : -FLT_MAX;
                if (v > best) {
                    best = v;
                    arg = n * size + m;
                }
            }
        out[o] = best;
        codes[o] = (uint8_t)arg;
    }
}

/* First output index whose window (start off + i*stride, length size) covers y. */
__device__ static int first_cover(int y, int off, int size, int stride)
{
    int t = y - off - size + 1;
    return t <= 0 ? 0 : (t + stride - 1) / stride;
}

__global__ void k_maxpool_bwd(const float *delta, const uint8_t *codes, size_t total, int h,
                              int w, int oh, int ow, int size, int stride, int off, float *din)
{
    DN_GRID_LOOP(q, total) {
        int x = (int)(q % w), y = (int)((q / w) % h);
        size_t bc = q / ((size_t)w * h);
        const float *d = delta + bc * (size_t)ow * oh;
        const uint8_t *c = codes + bc * (size_t)ow * oh;
        float acc = din[q];
        int i1 = (y - off) / stride, j1 = (x - off) / stride;
        if (y - off < 0 || x - off < 0) continue; /* cells before every window's start */
        if (i1 > oh - 1) i1 = oh - 1;
        if (j1 > ow - 1) j1 = ow - 1;
        for (int i = first_cover(y, off, size, stride); i <= i1; ++i)
            for (int j = first_cover(x, off, size, stride); j <= j1; ++j) {
                int code = c[i * ow + j];
                if (off + i * stride + code / size == y && off + j * stride + code % size == x)
                    acc = __fadd_rn(acc, d[i * ow + j]);
            }
        din[q] = acc;
    }
}

__global__ void k_avgpool_fwd(const float *in, size_t planes, int hw, float *out)
{
    DN_GRID_LOOP(bc, planes) {
        const float *p = in + bc * (size_t)hw;
        float s = 0;
        for (int i = 0; i < hw; ++i) s = __fadd_rn(s, p[i]);
        out[bc] = s / hw;
    }
}

__global__ void k_avgpool_bwd(const float *delta, size_t total, int hw, float *din)
{
    DN_GRID_LOOP(q, total) din[q] = __fadd_rn(din[q], delta[q / hw] / hw);
}

extern "C" int dn_gpu_maxpool_forward(const float *d_in, int batch, int c, int h, int w,
                                      int size, int stride, int pad, float *d_out,
                                      uint8_t *d_codes)
{
    int ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    size_t total = (size_t)batch * c * ow * oh;
    k_maxpool_fwd<<<dn_blocks(total), DN_THREADS>>>(d_in, total, h, w, oh, ow, size, stride,
                                                    -pad / 2, d_out, d_codes);
    DN_LAUNCHED("maxpool forward kernel");
    return 0;
}

extern "C" int dn_gpu_maxpool_backward(const float *d_delta, const uint8_t *d_codes, int batch,
                                       int c, int h, int w, int size, int stride, int pad,
                                       float *d_delta_in)
{
    int ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    size_t total = (size_t)batch * c * w * h;
    k_maxpool_bwd<<<dn_blocks(total), DN_THREADS>>>(d_delta, d_codes, total, h, w, oh, ow, size,
                                                    stride, -pad / 2, d_delta_in);
    DN_LAUNCHED("maxpool backward kernel");
    return 0;
}

extern "C" int dn_gpu_avgpool_forward(const float *d_in, int batch, int c, int h, int w,
                                      float *d_out)
{
    size_t planes = (size_t)batch * c;
    k_avgpool_fwd<<<dn_blocks(planes), DN_THREADS>>>(d_in, planes, h * w, d_out);
    DN_LAUNCHED("avgpool forward kernel");
    return 0;
}

extern "C" int dn_gpu_avgpool_backward(const float *d_delta, int batch, int c, int h, int w,
                                       float *d_delta_in)
{
    size_t total = (size_t)batch * c * h * w;
    k_avgpool_bwd<<<dn_blocks(total), DN_THREADS>>>(d_delta, total, h * w, d_delta_in);
    DN_LAUNCHED("avgpool backward kernel");
    return 0;
}
