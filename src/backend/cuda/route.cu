/* route.cu: [route], [shortcut] and [upsample] data movement and the [scale_channels]/[sam]
 * products on the GPU, with the CPU layers' index conventions (src/layers/route.c,
 * shortcut.c, upsample.c, scale_channels.c). The products' gradients of s sum in the CPU's
 * order (one thread per s value, dn_mul_dsum), so they are bit-identical. Upsample's
 * backward gathers in the CPU's scatter order, so it is bit-identical. */
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"
#include "backend/math/move_math.h"

/* Strides, offset and row length are size_t, as the backend's copy_rows hands them: a
 * value past INT_MAX floats narrowed to int would wrap and copy elsewhere silently. */
__global__ void k_route(const float *src, size_t ss, float *dst, size_t ds, size_t offset,
                        size_t n, size_t total, int backward)
{
    DN_GRID_LOOP(q, total) {
        size_t b = q / n, k = q % n;
        if (backward)
            dst[b * ds + k] = __fadd_rn(dst[b * ds + k], src[b * ss + offset + k]);
        else
            dst[b * ds + offset + k] = src[b * ss + k];
    }
}

__global__ void k_shortcut(int minw, int minh, int minc, size_t total, int stride, int sample,
                           int w1, int h1, int c1, const float *add, int w2, int h2, int c2,
                           float s1, float s2, float *out)
{
    DN_GRID_LOOP(q, total) {
        size_t oi, ai;
        dn_shortcut_q(q, minw, minh, minc, stride, sample, w1, h1, c1, w2, h2, c2, &oi, &ai);
        out[oi] = dn_shortcut1(out[oi], add[ai], s1, s2);
    }
}

__global__ void k_upsample_fwd(const float *in, size_t total, int h, int w, int s, float scale,
                               float *out)
{
    int ow = w * s, oh = h * s;
    DN_GRID_LOOP(q, total) {
        int i = (int)(q % ow), j = (int)((q / ow) % oh);
        size_t bc = q / ((size_t)ow * oh);
        out[q] = dn_upsample1(in + bc * (size_t)w * h, w, s, i, j, scale);
    }
}

__global__ void k_upsample_bwd(const float *delta, size_t total, int h, int w, int s,
                               float scale, float *din)
{
    int ow = w * s, oh = h * s;
    DN_GRID_LOOP(q, total) {
        int x = (int)(q % w), y = (int)((q / w) % h);
        size_t bc = q / ((size_t)w * h);
        din[q] = dn_upsample_gather1(delta + bc * (size_t)ow * oh, ow, s, x, y, scale, din[q]);
    }
}

__global__ void k_mul_fwd(const float *sv, const float *x, size_t total, int c, int spatial,
                          int mode, float *out)
{
    DN_GRID_LOOP(q, total) out[q] = DN_MMUL(sv[dn_mul_sidx(q, c, spatial, mode)], x[q]);
}

__global__ void k_mul_dx(const float *d, const float *sv, size_t total, int c, int spatial,
                         int mode, float *dx)
{
    DN_GRID_LOOP(q, total) dx[q] = DN_MADD(dx[q], DN_MMUL(sv[dn_mul_sidx(q, c, spatial, mode)], d[q]));
}

__global__ void k_mul_ds(const float *d, const float *x, size_t total, int c, int spatial,
                         int mode, float *ds)
{
    DN_GRID_LOOP(j, total) {
        size_t first, n, step;
        dn_mul_span(j, c, spatial, mode, &first, &n, &step);
        ds[j] = dn_mul_dsum(d + first, x + first, n, step, ds[j]);
    }
}

extern "C" int dn_gpu_route_copy(const float *d_src, size_t src_stride, float *d_dst,
                                 size_t dst_stride, size_t offset, size_t n, int batch, int backward)
{
    if (batch <= 0 || n == 0) return 0;
    size_t total = (size_t)batch * n;
    k_route<<<dn_blocks(total), DN_THREADS>>>(d_src, src_stride, d_dst, dst_stride, offset, n,
                                              total, backward);
    DN_LAUNCHED("route copy kernel");
    return 0;
}

extern "C" int dn_gpu_shortcut_add(int batch, int w1, int h1, int c1, const float *d_add, int w2,
                                   int h2, int c2, float s1, float s2, float *d_out)
{
    int stride = w1 / w2, sample = w2 / w1;
    if (stride < 1) stride = 1;
    if (sample < 1) sample = 1;
    int minw = w1 < w2 ? w1 : w2, minh = h1 < h2 ? h1 : h2, minc = c1 < c2 ? c1 : c2;
    size_t total = (size_t)batch * minw * minh * minc;
    if (total == 0) return 0;
    k_shortcut<<<dn_blocks(total), DN_THREADS>>>(minw, minh, minc, total, stride, sample, w1, h1,
                                                 c1, d_add, w2, h2, c2, s1, s2, d_out);
    DN_LAUNCHED("shortcut kernel");
    return 0;
}

extern "C" int dn_gpu_mul_forward(const float *d_s, const float *d_x, int batch, int c,
                                  int spatial, int mode, float *d_out)
{
    size_t total = (size_t)batch * c * spatial;
    if (total == 0) return 0;
    k_mul_fwd<<<dn_blocks(total), DN_THREADS>>>(d_s, d_x, total, c, spatial, mode, d_out);
    DN_LAUNCHED("product forward kernel");
    return 0;
}

extern "C" int dn_gpu_mul_backward(const float *d_delta, const float *d_s, const float *d_x,
                                   int batch, int c, int spatial, int mode, float *d_ds,
                                   float *d_dx)
{
    size_t total = (size_t)batch * c * spatial, sn = (size_t)batch * dn_mul_sn(c, spatial, mode);
    if (total == 0) return 0;
    if (d_dx) {
        k_mul_dx<<<dn_blocks(total), DN_THREADS>>>(d_delta, d_s, total, c, spatial, mode, d_dx);
        DN_LAUNCHED("product backward kernel (x)");
    }
    if (d_ds) {
        k_mul_ds<<<dn_blocks(sn), DN_THREADS>>>(d_delta, d_x, sn, c, spatial, mode, d_ds);
        DN_LAUNCHED("product backward kernel (s)");
    }
    return 0;
}

extern "C" int dn_gpu_upsample_forward(const float *d_in, int batch, int c, int h, int w,
                                       int stride, float scale, float *d_out)
{
    size_t total = (size_t)batch * c * h * stride * w * stride;
    k_upsample_fwd<<<dn_blocks(total), DN_THREADS>>>(d_in, total, h, w, stride, scale, d_out);
    DN_LAUNCHED("upsample forward kernel");
    return 0;
}

extern "C" int dn_gpu_upsample_backward(const float *d_delta, int batch, int c, int h, int w,
                                        int stride, float scale, float *d_delta_in)
{
    size_t total = (size_t)batch * c * h * w;
    k_upsample_bwd<<<dn_blocks(total), DN_THREADS>>>(d_delta, total, h, w, stride, scale,
                                                     d_delta_in);
    DN_LAUNCHED("upsample backward kernel");
    return 0;
}
