/* stats.cu: actnn_cuda_sample_stats (actnn_cuda.h), the per-sample statistics of the
 * mixed-precision policy on device memory, the same doubles as the host library's
 * actnn_sample_stats.
 *
 * The arithmetic and the order of the additions are statmath.h's, shared with
 * tensor_info.c: per sample, one double folded left to right over the groups' terms (range)
 * or the chunks' sums (squares). That fold is sequential by contract, so a sample is one
 * block, and the work around it is spread so the fold is all that waits:
 *   - range: 31 warps reduce two groups each per round (min/max by lanes and shuffles:
 *     exact in any order), all loads of both groups in flight at once; the 32nd warp folds
 *     the previous round's 62 terms while they load the next.
 *   - squares: 8 warps take 32 chunks each per round; a chunk's SM_CHUNK values are summed
 *     in order by one lane, read from a 32 x 32 tile that the warp loads coalesced (one
 *     lane summing its own chunk straight from global memory would touch 32 lines per
 *     load); the 9th warp folds the previous round's 256 chunk sums.
 * Both fold from a double buffer in shared memory, so one __syncthreads per round.
 * The first kernels (one block per sample, 8 warps taking one group or chunk each, thread
 * 0 adding after every round, two barriers per round) stay as the reference: a context
 * set to ACTNN_CUDA_KERNEL_REF (actnn_cuda_set_kernel) runs them, as it runs the first
 * save/restore kernels (the GPU test checks both against the host library).
 * A NaN/Inf in a range sample flags ACTNN_E_NONFINITE (actnn_cuda_status) and writes NaN
 * as its statistic, so a caller that reads the vector at once sees it too. */
#include <cuda_runtime.h>
#include <math.h>

#include "actnn_cuda.h"
#include "cuda_ctx.h"
#include "statmath.h"

enum { SB = 256, SW = SB / 32 };
#define SFULL 0xFFFFFFFFu

/* ---- the reference kernels (ACTNN_CUDA_KERNEL_REF) ---- */

__global__ void k_stat_range_ref(const float *x, size_t count, size_t D, size_t stride, size_t G,
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

__global__ void k_stat_squares_ref(const float *x, size_t count, size_t D, size_t stride, double *out)
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

/* ---- the kernels in use: a fold warp beside the loading warps ---- */

enum { RW = 31, RG = 2, RT = RW * RG, RB = (RW + 1) * 32 }; /* range: 62 terms a round */

/* One warp's reduction of group g of sample xs (min/max of its values): lanes take values
 * lane, lane+32, ..; two groups' loads are interleaved so both are in flight together. */
__device__ void range_pair(const float *xs, size_t D, size_t G, size_t g0, size_t ng,
                           unsigned lane, double *term, int *bad)
{
    float lo[RG], hi[RG];
    size_t j0[RG], len[RG];
    int b = 0;
#pragma unroll
    for (int q = 0; q < RG; ++q) {
        size_t g = g0 + q;
        j0[q] = g * G;
        len[q] = g < ng ? (D - j0[q] < G ? D - j0[q] : G) : 0;
        lo[q] = INFINITY; /* a finite group's min and max whatever the start; a group */
        hi[q] = -INFINITY; /* holding Inf or NaN is flagged bad and its term unused */
    }
#pragma unroll 8
    for (size_t i = lane; i < G; i += 32) {
#pragma unroll
        for (int q = 0; q < RG; ++q)
            if (i < len[q]) {
                float v = xs[j0[q] + i];
                b |= !isfinite(v);
                lo[q] = v < lo[q] ? v : lo[q];
                hi[q] = v > hi[q] ? v : hi[q];
            }
    }
#pragma unroll
    for (int q = 0; q < RG; ++q)
        for (int o = 16; o > 0; o /= 2) {
            float l2 = __shfl_xor_sync(SFULL, lo[q], o), h2 = __shfl_xor_sync(SFULL, hi[q], o);
            lo[q] = l2 < lo[q] ? l2 : lo[q];
            hi[q] = h2 > hi[q] ? h2 : hi[q];
        }
    b = __any_sync(SFULL, b);
    if (lane == 0)
        for (int q = 0; q < RG; ++q)
            if (g0 + q < ng) term[q] = sm_range_term(lo[q], hi[q]);
    *bad = b;
}

__global__ void __launch_bounds__(RB) k_stat_range(const float *x, size_t count, size_t D,
                                                   size_t stride, size_t G, double *out,
                                                   int *status)
{
    __shared__ double term[2][RT];
    __shared__ int bad[2][RW];
    unsigned lane = threadIdx.x & 31, w = threadIdx.x / 32;
    size_t ng = (D + G - 1) / G, rounds = (ng + RT - 1) / RT;
    for (size_t n = blockIdx.x; n < count; n += gridDim.x) {
        const float *xs = x + n * stride;
        double s = 0.0;
        int bad_any = 0;
        /* iteration r: warps 0..RW-1 reduce round r into buffer r&1 while warp RW folds
         * round r-1 from the other buffer; the barrier at its end hands both over */
        for (size_t r = 0; r <= rounds; ++r) {
            if (w < RW && r < rounds) {
                size_t g0 = r * RT + (size_t)w * RG;
                int b = 0;
                if (g0 < ng) range_pair(xs, D, G, g0, ng, lane, &term[r & 1][w * RG], &b);
                if (lane == 0) bad[r & 1][w] = b;
            } else if (w == RW && lane == 0 && r > 0) {
                size_t base = (r - 1) * RT, k = 0;
                for (; k < RT && base + k < ng; ++k) s = SM_ADD(s, term[(r - 1) & 1][k]);
                for (size_t v = 0; v < RW && base + v * RG < ng; ++v) bad_any |= bad[(r - 1) & 1][v];
            }
            __syncthreads();
        }
        if (w == RW && lane == 0) {
            if (bad_any) atomicOr(status, ACTNN_ST_NONFINITE);
            out[n] = bad_any ? (double)NAN : s;
        }
    }
}

enum { QW = 8, QB = (QW + 1) * 32, QT = QW * 32 }; /* squares: 256 chunk sums a round */

/* Warp w's 32 chunks c0.. of sample xs: lane r ends with chunk c0+r's sum (statmath.h's
 * sm_square_chunk: its values in order), through tile (32 x 32 floats, padded to 33 so a
 * column read hits 32 banks): slab k holds values 32k..32k+31 of each of the 32 chunks.
 * Each slab is loaded into registers a slab ahead (row r = chunk c0+r, lane = column:
 * coalesced), so its loads are in flight while the lanes sum the one before. */
__device__ void load_slab(const float *xs, size_t D, size_t c0, int k, unsigned lane,
                          float *v)
{
#pragma unroll
    for (int r = 0; r < 32; ++r) {
        size_t j = (c0 + r) * SM_CHUNK + (size_t)k * 32 + lane;
        v[r] = j < D ? xs[j] : 0.0f;
    }
}

__device__ double square_chunks(const float *xs, size_t D, size_t c0, unsigned lane,
                                float (*tile)[33])
{
    double acc = 0.0;
    size_t mine = (c0 + lane) * SM_CHUNK; /* lane's chunk's first value */
    float next[32];
    load_slab(xs, D, c0, 0, lane, next);
    for (int k = 0; k < SM_CHUNK / 32; ++k) {
#pragma unroll
        for (int r = 0; r < 32; ++r) tile[r][lane] = next[r];
        __syncwarp();
        if (k + 1 < SM_CHUNK / 32) load_slab(xs, D, c0, k + 1, lane, next);
        for (int c = 0; c < 32; ++c) {
            size_t j = mine + (size_t)k * 32 + c;
            if (j < D) { /* the chunk's own values only: the last chunk may be short */
                double v = (double)tile[lane][c];
                acc = SM_ADD(acc, SM_MUL(v, v));
            }
        }
        __syncwarp();
    }
    return acc;
}

__global__ void __launch_bounds__(QB) k_stat_squares(const float *x, size_t count, size_t D,
                                                     size_t stride, double *out)
{
    __shared__ float tile[QW][32][33];
    __shared__ double part[2][QT];
    unsigned lane = threadIdx.x & 31, w = threadIdx.x / 32;
    size_t nch = (D + SM_CHUNK - 1) / SM_CHUNK, rounds = (nch + QT - 1) / QT;
    for (size_t n = blockIdx.x; n < count; n += gridDim.x) {
        const float *xs = x + n * stride;
        double s = 0.0;
        for (size_t r = 0; r <= rounds; ++r) {
            if (w < QW && r < rounds) {
                size_t c0 = r * QT + (size_t)w * 32;
                if (c0 < nch) part[r & 1][w * 32 + lane] = square_chunks(xs, D, c0, lane, tile[w]);
            } else if (w == QW && lane == 0 && r > 0) {
                size_t base = (r - 1) * QT;
                for (size_t k = 0; k < QT && base + k < nch; ++k) s = SM_ADD(s, part[(r - 1) & 1][k]);
            }
            __syncthreads();
        }
        if (w == QW && lane == 0) out[n] = s;
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
    int ref = ctx->kernel == ACTNN_CUDA_KERNEL_REF;
    if (kind == ACTNN_STAT_RANGE && ref)
        k_stat_range_ref<<<blocks, SB, 0, ctx->stream>>>(d_x, count, D, stride, G, d_out, ctx->d_status);
    else if (kind == ACTNN_STAT_RANGE)
        k_stat_range<<<blocks, RB, 0, ctx->stream>>>(d_x, count, D, stride, G, d_out, ctx->d_status);
    else if (ref)
        k_stat_squares_ref<<<blocks, SB, 0, ctx->stream>>>(d_x, count, D, stride, d_out);
    else
        k_stat_squares<<<blocks, QB, 0, ctx->stream>>>(d_x, count, D, stride, d_out);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        ctx->last_err = cudaGetErrorString(e);
        return ACTNN_E_CUDA;
    }
    return ACTNN_OK;
}
