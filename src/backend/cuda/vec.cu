/* vec.cu: small vector kernels (fill, axpy, scal, bias add and bias gradient). Their
 * per-element arithmetic is backend/math/vec_math.h, checked on the host by
 * tests/test_vec_mirror.c. */
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"
#include "backend/math/vec_math.h"

static_assert(DN_VEC_THREADS == DN_THREADS, "the bias-gradient tree assumes DN_THREADS threads");

__global__ void k_fill(float *x, size_t n, float v)
{
    DN_GRID_LOOP(i, n) x[i] = v;
}

__global__ void k_axpy(float *y, const float *x, size_t n, float a)
{
    DN_GRID_LOOP(i, n) y[i] = dn_axpy1(y[i], a, x[i]);
}

__global__ void k_scal(float *x, size_t n, float a)
{
    DN_GRID_LOOP(i, n) x[i] = dn_scal1(x[i], a);
}

__global__ void k_add_bias(float *x, const float *bias, size_t total, int n, int spatial)
{
    DN_GRID_LOOP(i, total) x[i] = dn_add_bias1(x[i], bias, i, n, spatial);
}

/* One block per channel; each thread sums a fixed strided subset, then a tree in shared
 * memory: the order is fixed, so the result never changes between runs. */
__global__ void k_backward_bias(float *upd, const float *delta, int batch, int n, int spatial)
{
    __shared__ float part[DN_THREADS];
    int f = blockIdx.x;
    part[threadIdx.x] = dn_bias_partial(delta, batch, n, spatial, f, threadIdx.x, blockDim.x);
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) part[threadIdx.x] = dn_bias_tree_step(part[threadIdx.x], part[threadIdx.x + w]);
        __syncthreads();
    }
    if (threadIdx.x == 0) upd[f] = __fadd_rn(upd[f], part[0]);
}

/* Every thread that sees a NaN or inf stores the same 1: the races write equal values. */
__global__ void k_nonfinite_mark(const float *x, size_t n, float *flag)
{
    DN_GRID_LOOP(i, n) if (dn_nonfinite1(x[i])) *flag = 1.0f;
}

extern "C" int dn_gpu_nonfinite_mark(const float *d_x, size_t n, float *d_flag)
{
    if (!n) return 0;
    k_nonfinite_mark<<<dn_blocks(n), DN_THREADS>>>(d_x, n, d_flag);
    DN_LAUNCHED("nonfinite_mark kernel");
    return 0;
}

extern "C" int dn_gpu_fill(float *d_x, size_t n, float v)
{
    k_fill<<<dn_blocks(n), DN_THREADS>>>(d_x, n, v);
    DN_LAUNCHED("fill kernel");
    return 0;
}

extern "C" int dn_gpu_axpy(float *d_y, const float *d_x, size_t n, float a)
{
    k_axpy<<<dn_blocks(n), DN_THREADS>>>(d_y, d_x, n, a);
    DN_LAUNCHED("axpy kernel");
    return 0;
}

extern "C" int dn_gpu_scal(float *d_x, size_t n, float a)
{
    k_scal<<<dn_blocks(n), DN_THREADS>>>(d_x, n, a);
    DN_LAUNCHED("scal kernel");
    return 0;
}

extern "C" int dn_gpu_add_bias(float *d_x, const float *d_bias, int batch, int n, int spatial)
{
    size_t total = (size_t)batch * n * spatial;
    k_add_bias<<<dn_blocks(total), DN_THREADS>>>(d_x, d_bias, total, n, spatial);
    DN_LAUNCHED("add_bias kernel");
    return 0;
}

extern "C" int dn_gpu_backward_bias(float *d_upd, const float *d_delta, int batch, int n,
                                    int spatial)
{
    /* one block per channel: no channel is no launch (a grid of 0 blocks is an invalid
     * configuration), and nothing to add, as on the CPU */
    if (n <= 0) return 0;
    k_backward_bias<<<n, DN_THREADS>>>(d_upd, d_delta, batch, n, spatial);
    DN_LAUNCHED("backward_bias kernel");
    return 0;
}
