/* backend_kernels.cu: the kernels the backend interface (backend.h) needs beyond those of
 * vec.cu, bn.cu, activations.cu, pool.cu and route.cu: im2col/col2im, streamed batch-norm
 * statistics (double sums reduced by one block per channel in a fixed tree order, not
 * bn_ops.c's order: equal to the CPU's within the rounding of double sums), normalisation
 * with batch statistics, the pre-activation rebuild, reorg, crop and adam. Per-element
 * arithmetic lives in elem_math.h / bn_math.h, checked on the host by
 * tests/test_backend_mirror.c. Gathers and fixed-order reductions only (no atomics), so
 * results are deterministic. */
#include "backend/math/bn_math.h"
#include "backend/cuda/block_sum.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"
#include "backend/math/elem_math.h"

static inline int out_size(int in, int ksize, int stride, int pad)
{
    return (in + 2 * pad - ksize) / stride + 1;
}

__global__ void k_im2col(const float *im, int h, int w, int k, int s, int p, int oh, int ow,
                         size_t total, float *col)
{
    DN_GRID_LOOP(i, total) col[i] = dn_im2col1(im, h, w, k, s, p, oh, ow, i);
}

__global__ void k_col2im(const float *col, int h, int w, int k, int s, int p, int oh, int ow,
                         size_t total, float *im)
{
    DN_GRID_LOOP(i, total) im[i] = dn_col2im1(col, im[i], h, w, k, s, p, oh, ow, i);
}

extern "C" int dn_gpu_im2col(const float *d_im, int c, int h, int w, int ksize, int stride,
                             int pad, float *d_col)
{
    int oh = out_size(h, ksize, stride, pad), ow = out_size(w, ksize, stride, pad);
    size_t total = (size_t)c * ksize * ksize * oh * ow;
    if (!total) return 0;
    k_im2col<<<dn_blocks(total), DN_THREADS>>>(d_im, h, w, ksize, stride, pad, oh, ow, total, d_col);
    DN_LAUNCHED("im2col kernel");
    return 0;
}

extern "C" int dn_gpu_col2im_add(const float *d_col, int c, int h, int w, int ksize, int stride,
                                 int pad, float *d_im)
{
    int oh = out_size(h, ksize, stride, pad), ow = out_size(w, ksize, stride, pad);
    size_t total = (size_t)c * h * w;
    if (!total) return 0;
    k_col2im<<<dn_blocks(total), DN_THREADS>>>(d_col, h, w, ksize, stride, pad, oh, ow, total, d_im);
    DN_LAUNCHED("col2im kernel");
    return 0;
}

/* One block of DN_THREADS per channel f: thread t adds values t, t + DN_THREADS, ... of
 * the channel's batch*spatial values into double partial sums of x and x*x
 * (dn_bn_stats_part), the block adds the partials by dn_block_sum (block_sum.cuh), and
 * thread 0 adds the totals to acc. A fixed order, but not the CPU's (which adds value
 * after value onto acc): the sums agree with bn_ops.c's within the rounding of double
 * sums (~1e-16 relative), so the float mean and variance made from them may differ from
 * the CPU's in a last bit. tests/test_backend_mirror.c runs this order on the host. */
__global__ void k_bn_stats_add(const float *x, int batch, int n, int spatial, double *acc)
{
    __shared__ double sh[DN_THREADS];
    int f = blockIdx.x;
    double s = 0, q = 0;
    dn_bn_stats_part(x, batch, n, spatial, f, (int)threadIdx.x, DN_THREADS, &s, &q);
    s = dn_block_sum(s, sh);
    q = dn_block_sum(q, sh);
    if (threadIdx.x == 0) {
        acc[2 * f] += s;
        acc[2 * f + 1] += q;
    }
}

__global__ void k_bn_stats_end(const double *acc, int n, double cnt, float *mean, float *var,
                               float *rmean, float *rvar)
{
    DN_GRID_LOOP(f, (size_t)n) {
        dn_bn_stats1(acc[2 * f], acc[2 * f + 1], cnt, &mean[f], &var[f]);
        rmean[f] = dn_bn_roll(rmean[f], mean[f]);
        rvar[f] = dn_bn_roll(rvar[f], var[f]);
    }
}

__global__ void k_bn_norm(float *x, size_t total, int n, int spatial, const float *mean,
                          const float *var)
{
    DN_GRID_LOOP(i, total) {
        int f = (int)((i / spatial) % n);
        x[i] = dn_bn_norm1(x[i], mean[f], var[f]);
    }
}

__global__ void k_bn_preact(const float *xhat, size_t total, int spatial, const float *sc,
                            const float *bi, float *pre)
{
    DN_GRID_LOOP(i, total) {
        int f = (int)(i / spatial);
        pre[i] = xhat[i] * sc[f] + bi[f];
    }
}

extern "C" int dn_gpu_bn_stats_add(double *d_acc, const float *d_x, int n, int batch, int spatial)
{
    if (n <= 0 || !spatial) return 0; /* one block per channel: never a grid of 0 */
    k_bn_stats_add<<<(unsigned)n, DN_THREADS>>>(d_x, batch, n, spatial, d_acc);
    DN_LAUNCHED("batch-norm statistics kernel");
    return 0;
}

extern "C" int dn_gpu_bn_stats_end(const double *d_acc, int n, double cnt, float *d_mean,
                                   float *d_var, float *d_rmean, float *d_rvar)
{
    if (!n) return 0;
    k_bn_stats_end<<<dn_blocks((size_t)n), DN_THREADS>>>(d_acc, n, cnt, d_mean, d_var, d_rmean,
                                                         d_rvar);
    DN_LAUNCHED("batch-norm statistics end kernel");
    return 0;
}

extern "C" int dn_gpu_bn_normalize(const float *d_mean, const float *d_var, int n, float *d_x,
                                   int batch, int spatial)
{
    size_t total = (size_t)batch * n * spatial;
    if (!total) return 0;
    k_bn_norm<<<dn_blocks(total), DN_THREADS>>>(d_x, total, n, spatial, d_mean, d_var);
    DN_LAUNCHED("batch-norm normalise kernel");
    return 0;
}

extern "C" int dn_gpu_bn_preact(const float *d_scales, const float *d_biases, int n,
                                const float *d_xhat, int spatial, float *d_pre)
{
    size_t total = (size_t)n * spatial;
    if (!total) return 0;
    k_bn_preact<<<dn_blocks(total), DN_THREADS>>>(d_xhat, total, spatial, d_scales, d_biases, d_pre);
    DN_LAUNCHED("batch-norm pre-activation kernel");
    return 0;
}

/* fwd: out[map(i)] (+)= x[i]; otherwise out[i] (+)= x[map(i)]. Both directions write each
 * output once (map is a permutation), so one thread per element needs no atomics. */
__global__ void k_reorg(const float *x, int w, int h, int c, int s, int fwd, int add,
                        size_t total, float *out)
{
    DN_GRID_LOOP(in, total) {
        int i = (int)(in % w), j = (int)((in / w) % h), k = (int)(in / ((size_t)w * h));
        size_t m = dn_reorg_map(i, j, k, w, h, c, s);
        size_t dst = fwd ? m : in, src = fwd ? in : m;
        out[dst] = add ? out[dst] + x[src] : x[src];
    }
}

extern "C" int dn_gpu_reorg(const float *d_x, int w, int h, int c, int stride, int fwd, int add,
                            float *d_out)
{
    size_t total = (size_t)w * h * c;
    if (!total) return 0;
    k_reorg<<<dn_blocks(total), DN_THREADS>>>(d_x, w, h, c, stride, fwd, add, total, d_out);
    DN_LAUNCHED("reorg kernel");
    return 0;
}

__global__ void k_crop(const float *in, int c, int h, int w, int oh, int ow, int dh, int dw,
                       int flip, float scale, float trans, size_t total, float *out)
{
    DN_GRID_LOOP(i, total) out[i] = in[dn_crop_src(c, h, w, oh, ow, dh, dw, flip, i)] * scale + trans;
}

extern "C" int dn_gpu_crop(const float *d_in, int batch, int c, int h, int w, int out_h, int out_w,
                           int dh, int dw, int flip, float scale, float trans, float *d_out)
{
    size_t total = (size_t)batch * c * out_h * out_w;
    if (!total) return 0;
    k_crop<<<dn_blocks(total), DN_THREADS>>>(d_in, c, h, w, out_h, out_w, dh, dw, flip, scale,
                                             trans, total, d_out);
    DN_LAUNCHED("crop kernel");
    return 0;
}

__global__ void k_adam(float *w, float *g, float *m, float *v, size_t n, float db, float lr,
                       float B1, float B2, float b1t, float b2t, float eps)
{
    DN_GRID_LOOP(i, n) dn_adam1(&w[i], &g[i], &m[i], &v[i], db, lr, B1, B2, b1t, b2t, eps);
}

extern "C" int dn_gpu_adam(float *d_w, float *d_g, float *d_m, float *d_v, size_t n,
                           float decay_batch, float lr, float B1, float B2, float b1t, float b2t,
                           float eps)
{
    if (!n) return 0;
    k_adam<<<dn_blocks(n), DN_THREADS>>>(d_w, d_g, d_m, d_v, n, decay_batch, lr, B1, B2, b1t, b2t,
                                         eps);
    DN_LAUNCHED("adam kernel");
    return 0;
}
