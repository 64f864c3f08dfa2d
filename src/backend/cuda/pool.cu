/* pool.cu: [maxpool] and [avgpool] on the GPU, same conventions as src/layers/.
 *
 * Backward kernels gather: each input cell sums the outputs that route to it, in the
 * same (row, column) order as the CPU scatter loop, so results are bit-identical to the
 * CPU and never depend on atomics' ordering. */
#include <float.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"
#include "backend/math/pool_math.h"

__global__ void k_maxpool_fwd(const float *in, size_t total, int h, int w, int oh, int ow,
                              int size, int stride, int off, float *out, uint8_t *codes)
{
    DN_GRID_LOOP(o, total) {
        int j = (int)(o % ow), i = (int)((o / ow) % oh), arg;
        size_t bc = o / ((size_t)ow * oh);
        out[o] = dn_maxpool_window(in + bc * (size_t)w * h, h, w, size, off + i * stride,
                                   off + j * stride, &arg);
        codes[o] = (uint8_t)arg;
    }
}

__global__ void k_maxpool_bwd(const float *delta, const uint8_t *codes, size_t total, int h,
                              int w, int oh, int ow, int size, int stride, int off, float *din)
{
    DN_GRID_LOOP(q, total) {
        int x = (int)(q % w), y = (int)((q / w) % h);
        size_t bc = q / ((size_t)w * h);
        din[q] = dn_maxpool_gather1(delta + bc * (size_t)ow * oh, codes + bc * (size_t)ow * oh, oh,
                                    ow, size, stride, off, y, x, din[q]);
    }
}

__global__ void k_avgpool_fwd(const float *in, size_t planes, int hw, float *out)
{
    DN_GRID_LOOP(bc, planes) out[bc] = dn_avgpool1(in + bc * (size_t)hw, hw);
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
