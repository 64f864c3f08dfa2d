/* stats.cu: actnn_cuda_sample_stats (actnn_cuda.h), the per-sample statistics of the
 * mixed-precision policy on device memory, the same doubles as the host library's
 * actnn_sample_stats.
 *
 * The arithmetic and the order of the additions are statmath.h's, shared with
 * tensor_info.c: one block per sample; for the range statistic its warps take one group
 * each (min/max by lanes and shuffles: exact in any order) and thread 0 adds the groups'
 * terms in group order; for the sum of squares its threads take one chunk of SM_CHUNK
 * values each (summed in order by sm_square_chunk) and thread 0 adds the chunk sums in
 * chunk order. The sequential part is one addition per group or chunk, not per value.
 * A NaN/Inf in a range sample flags ACTNN_E_NONFINITE (actnn_cuda_status) and writes NaN
 * as its statistic, so a caller that reads the vector at once sees it too. */
#include <cuda_runtime.h>
#include <math.h>

#include "actnn_cuda.h"
#include "cuda_ctx.h"
#include "statmath.h"

enum { SB = 256, SW = SB / 32 };
#define SFULL 0xFFFFFFFFu

__global__ void k_stat_range(const float *x, size_t count, size_t D, size_t stride, size_t G,
                             double *out, int *status)
{
    __shared__ double part[SW];
    __shared__ int bad_w[SW];
    unsigned lane = threadIdx.x & 31, w = threadIdx.x / 32;
    size_t ng = (D + G - 1) / G;
    for (size_t n = blockIdx.x; n < count; n += gridDim.x) {
        const float *xs = x + n * stride;
        double s = 0.0;
        int bad_any = 0;
        for (size_t g0 = 0; g0 < ng; g0 += SW) {
            size_t g = g0 + w;
            if (g < ng) { /* the same for the whole warp: its shuffles are safe */
                size_t j0 = g * G, len = D - j0 < G ? D - j0 : G;
                float lo = xs[j0], hi = xs[j0];
                int bad = 0;
                for (size_t i = lane; i < len; i += 32) {
                    float v = xs[j0 + i];
                    bad |= !isfinite(v);
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                }
                for (int o = 16; o > 0; o /= 2) {
                    float l2 = __shfl_xor_sync(SFULL, lo, o), h2 = __shfl_xor_sync(SFULL, hi, o);
                    lo = l2 < lo ? l2 : lo;
                    hi = h2 > hi ? h2 : hi;
                }
                bad = __any_sync(SFULL, bad);
                if (lane == 0) {
                    part[w] = sm_range_term(lo, hi);
                    bad_w[w] = bad;
                }
            }
            __syncthreads();
            if (threadIdx.x == 0)
                for (size_t k = 0; k < SW && g0 + k < ng; ++k) {
                    s = SM_ADD(s, part[k]);
                    bad_any |= bad_w[k];
                }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            if (bad_any) atomicOr(status, ACTNN_ST_NONFINITE);
            out[n] = bad_any ? (double)NAN : s;
        }
    }
}

__global__ void k_stat_squares(const float *x, size_t count, size_t D, size_t stride, double *out)
{
    __shared__ double part[SB];
    size_t nch = (D + SM_CHUNK - 1) / SM_CHUNK;
    for (size_t n = blockIdx.x; n < count; n += gridDim.x) {
        const float *xs = x + n * stride;
        double s = 0.0;
        for (size_t c0 = 0; c0 < nch; c0 += SB) {
            size_t c = c0 + threadIdx.x;
            if (c < nch) {
                size_t j0 = c * SM_CHUNK;
                part[threadIdx.x] = sm_square_chunk(xs + j0, D - j0 < SM_CHUNK ? D - j0 : SM_CHUNK);
            }
            __syncthreads();
            if (threadIdx.x == 0)
                for (size_t k = 0; k < SB && c0 + k < nch; ++k) s = SM_ADD(s, part[k]);
            __syncthreads();
        }
        if (threadIdx.x == 0) out[n] = s;
    }
}

extern "C" int actnn_cuda_sample_stats(actnn_cuda_ctx *ctx, int kind, const float *d_x,
                                       size_t count, size_t D, size_t stride, size_t G,
                                       double *d_out)
{
    if (!ctx || !d_x || !d_out) return ACTNN_E_NULL;
    if (count == 0 || D == 0) return ACTNN_E_SIZE;
    if ((kind != ACTNN_STAT_RANGE && kind != ACTNN_STAT_SQUARES) || stride < D) return ACTNN_E_PARAM;
    if (kind == ACTNN_STAT_RANGE && (G < 32 || G > 65536 || G % 32)) return ACTNN_E_GROUP;
    unsigned blocks = count < 65535 ? (unsigned)count : 65535u;
    if (kind == ACTNN_STAT_RANGE)
        k_stat_range<<<blocks, SB, 0, ctx->stream>>>(d_x, count, D, stride, G, d_out, ctx->d_status);
    else
        k_stat_squares<<<blocks, SB, 0, ctx->stream>>>(d_x, count, D, stride, d_out);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        ctx->last_err = cudaGetErrorString(e);
        return ACTNN_E_CUDA;
    }
    return ACTNN_OK;
}
