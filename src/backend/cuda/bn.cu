/* bn.cu: batch normalisation with bn_ops.h's (pjreddie's) semantics on the GPU.
 *
 * cuDNN's batch norm uses a biased variance and eps inside the square root, Darknet uses
 * the unbiased variance and sqrt(var) + 1e-6 in forward but sqrt(var + 1e-5) in
 * backward; we keep Darknet's numbers, so these are our own kernels. Each channel is
 * reduced by one block in a fixed order, so results never depend on scheduling. The
 * training forward's statistics are backend_kernels.cu's bn_stats kernels (double sums,
 * one block per channel in a fixed tree order: not bn_ops.c's order, so they equal the
 * CPU's within the rounding of double sums, ~1e-16 relative, far below the float mean
 * and variance made from them, which may differ from the CPU's in a last bit), which the
 * backend composes as the CPU does. The per-value
 * formulas are in bn_math.h, which tests/gpu/mirror_host.cu checks against bn_ops.c on
 * the CPU. */
#include "backend/cuda/block_sum.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/math/bn_math.h"
#include "backend/cuda/dn_cuda.h"

__global__ void k_bn_infer(float *x, size_t total, int n, int spatial, const float *rmean,
                           const float *rvar)
{
    DN_GRID_LOOP(i, total) {
        int f = (int)((i / spatial) % n);
        x[i] = dn_bn_norm1(x[i], rmean[f], rvar[f]);
    }
}

__global__ void k_bn_scale_shift(float *x, size_t total, int n, int spatial, const float *sc,
                                 const float *bi)
{
    DN_GRID_LOOP(i, total) {
        int f = (int)((i / spatial) % n);
        x[i] = __fadd_rn(__fmul_rn(x[i], sc[f]), bi[f]);
    }
}

/* One block per channel: sum_d += sum delta, sum_dx += sum delta * xhat (float, as CPU). */
__global__ void k_bn_sums(const float *delta, const float *xhat, int batch, int n, int spatial,
                          float *sum_d, float *sum_dx)
{
    __shared__ float sh[DN_THREADS];
    int f = blockIdx.x;
    float sd = 0, sdx = 0;
    for (int j = 0; j < batch; ++j) {
        size_t o = ((size_t)j * n + f) * spatial;
        for (int k = threadIdx.x; k < spatial; k += blockDim.x) {
            sd = __fadd_rn(sd, delta[o + k]);
            sdx = __fadd_rn(sdx, __fmul_rn(delta[o + k], xhat[o + k]));
        }
    }
    sd = dn_block_sum(sd, sh);
    sdx = dn_block_sum(sdx, sh);
    if (threadIdx.x == 0) {
        sum_d[f] = __fadd_rn(sum_d[f], sd);
        sum_dx[f] = __fadd_rn(sum_dx[f], sdx);
    }
}

__global__ void k_bn_params(int n, const float *sum_d, const float *sum_dx, float *bias_upd,
                            float *scale_upd)
{
    DN_GRID_LOOP(f, (size_t)n) {
        bias_upd[f] = __fadd_rn(bias_upd[f], sum_d[f]);
        scale_upd[f] = __fadd_rn(scale_upd[f], sum_dx[f]);
    }
}

/* bn_backward_delta, element-wise (bn_math.h). */
__global__ void k_bn_delta(float *delta, const float *xhat, size_t total, int n, int spatial,
                           double cnt, const float *variance, const float *scales,
                           const float *sum_d, const float *sum_dx)
{
    DN_GRID_LOOP(i, total) {
        int f = (int)((i / spatial) % n);
        delta[i] = dn_bn_delta1(delta[i], xhat[i], cnt, variance[f], scales[f], sum_d[f], sum_dx[f]);
    }
}

extern "C" int dn_gpu_bn_forward_infer(const dn_gpu_bn *b, float *d_x, int batch, int spatial)
{
    size_t total = (size_t)batch * b->n * spatial;
    k_bn_infer<<<dn_blocks(total), DN_THREADS>>>(d_x, total, b->n, spatial, b->rolling_mean,
                                                 b->rolling_variance);
    DN_LAUNCHED("batch norm forward (inference) kernel");
    return 0;
}

extern "C" int dn_gpu_bn_scale_shift(const dn_gpu_bn *b, float *d_x, int batch, int spatial)
{
    size_t total = (size_t)batch * b->n * spatial;
    k_bn_scale_shift<<<dn_blocks(total), DN_THREADS>>>(d_x, total, b->n, spatial, b->scales,
                                                       b->biases);
    DN_LAUNCHED("batch norm scale/shift kernel");
    return 0;
}

extern "C" int dn_gpu_bn_backward_reset(dn_gpu_bn *b)
{
    if (dn_cuda_zero(b->sum_d, sizeof(float) * (size_t)b->n)) return -1;
    return dn_cuda_zero(b->sum_dx, sizeof(float) * (size_t)b->n);
}

extern "C" int dn_gpu_bn_backward_sums(dn_gpu_bn *b, const float *d_delta, const float *d_xhat,
                                       int batch, int spatial)
{
    if (b->n <= 0) return 0; /* one block per channel: a grid of 0 is an invalid launch */
    k_bn_sums<<<b->n, DN_THREADS>>>(d_delta, d_xhat, batch, b->n, spatial, b->sum_d, b->sum_dx);
    DN_LAUNCHED("batch norm backward sums kernel");
    return 0;
}

extern "C" int dn_gpu_bn_backward_params(dn_gpu_bn *b, float *d_bias_upd, float *d_scale_upd)
{
    k_bn_params<<<dn_blocks((size_t)b->n), DN_THREADS>>>(b->n, b->sum_d, b->sum_dx, d_bias_upd,
                                                         d_scale_upd);
    DN_LAUNCHED("batch norm parameter gradient kernel");
    return 0;
}

extern "C" int dn_gpu_bn_backward_delta(const dn_gpu_bn *b, float *d_delta, const float *d_xhat,
                                        int nsamp, int batch, int spatial)
{
    size_t total = (size_t)nsamp * b->n * spatial;
    double cnt = (double)batch * spatial;
    k_bn_delta<<<dn_blocks(total), DN_THREADS>>>(d_delta, d_xhat, total, b->n, spatial, cnt,
                                                 b->variance, b->scales, b->sum_d, b->sum_dx);
    DN_LAUNCHED("batch norm backward delta kernel");
    return 0;
}
