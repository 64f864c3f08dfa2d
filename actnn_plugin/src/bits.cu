/* bits.cu: actnn_cuda_alloc_bits and actnn_cuda_split_bits (actnn_cuda.h), actnn_auto's
 * per-sample widths chosen in device memory, next to the costs that actnn_cuda_sample_stats
 * wrote there, so a save needs no round trip through the host to learn its widths.
 *
 * The host library's greedy (policy.c) is sequential; allocmath.h shows why its answer for
 * weight-1 items can be had per item: one thread per sample counts how many of its
 * candidate removals are among the first R in the greedy's order (am_width), O(49 n) per
 * sample, against the same constants (am_steps, made on the host) with the same products
 * (AM_MUL). n is a mini-batch, so the kernel is small and its time is launch latency; its
 * point is that the host does not wait. */
#include <cuda_runtime.h>
#include <stdint.h>

#include "actnn_cuda.h"
#include "allocmath.h"
#include "cuda_ctx.h"

enum { BB = 128 };

/* Whether every cost is one the host library would accept; each thread reads all of
 * them (n is a mini-batch), so all threads agree without a grid-wide barrier. */
__device__ static int all_costs_ok(const double *cost, size_t n)
{
    for (size_t j = 0; j < n; ++j)
        if (!am_cost_ok(cost[j])) return 0;
    return 1;
}

__global__ void k_alloc_bits(const double *cost, size_t n, size_t R, am_steps steps,
                             uint8_t *bits, int *status)
{
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n) return;
    int zero = !all_costs_ok(cost, n);
    if (zero && k == 0) atomicOr(status, ACTNN_ST_NONFINITE);
    bits[k] = (uint8_t)am_width(cost, n, &steps, k, R, zero);
}

__global__ void k_split_bits(size_t n, int lo, size_t up, uint8_t *bits)
{
    size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) bits[k] = (uint8_t)(lo + (k < up));
}

static int launched(actnn_cuda_ctx *ctx)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return ACTNN_OK;
    ctx->last_err = cudaGetErrorString(e);
    return ACTNN_E_CUDA;
}

static int grid_of(size_t n, unsigned *blocks)
{
    if (n == 0) return ACTNN_E_SIZE;
    if ((n + BB - 1) / BB > 0x7FFFFFFFu) return ACTNN_E_TOO_LARGE;
    *blocks = (unsigned)((n + BB - 1) / BB);
    return ACTNN_OK;
}

extern "C" int actnn_cuda_alloc_bits(actnn_cuda_ctx *ctx, const double *d_cost, size_t n,
                                     double avg_bits, uint8_t *d_bits)
{
    if (!ctx || !d_cost || !d_bits) return ACTNN_E_NULL;
    unsigned blocks = 0;
    int err = grid_of(n, &blocks);
    if (err) return err;
    size_t sum = 0; /* checks avg_bits as the host library does; R follows from the sum */
    err = actnn_alloc_bits_sum(n, avg_bits, &sum);
    if (err) return err;
    size_t R = (size_t)AM_MAX_BITS * n - sum;
    k_alloc_bits<<<blocks, BB, 0, ctx->stream>>>(d_cost, n, R, am_make_steps(), d_bits,
                                                 ctx->d_status);
    return launched(ctx);
}

extern "C" int actnn_cuda_split_bits(actnn_cuda_ctx *ctx, size_t n, double avg_bits,
                                     uint8_t *d_bits)
{
    if (!ctx || !d_bits) return ACTNN_E_NULL;
    unsigned blocks = 0;
    int lo = 0;
    size_t up = 0;
    int err = grid_of(n, &blocks);
    if (err) return err;
    if (!am_split(n, avg_bits, &lo, &up)) return ACTNN_E_PARAM;
    k_split_bits<<<blocks, BB, 0, ctx->stream>>>(n, lo, up, d_bits);
    return launched(ctx);
}
