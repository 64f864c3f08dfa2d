/* vec.cu: small vector kernels (fill, axpy, scal, bias add and bias gradient). */
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

__global__ void k_fill(float *x, size_t n, float v)
{
    DN_GRID_LOOP(i, n) x[i] = v;
}

__global__ void k_axpy(float *y, const float *x, size_t n, float a)
{
    DN_GRID_LOOP(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(a, x[i]));
}

__global__ void k_scal(float *x, size_t n, float a)
{
    DN_GRID_LOOP(i, n) x[i] = __fmul_rn(x[i], a);
}

__global__ void k_add_bias(float *x, const float *bias, size_t total, int n, int spatial)
{
    DN_GRID_LOOP(i, total) x[i] = __fadd_rn(x[i], bias[(i / spatial) % n]);
}

/* One block per channel; each thread sums a fixed strided subset, then a tree in shared
 * memory: the order is fixed, so the result never changes between runs. */
__global__ void k_backward_bias(float *upd, const float *delta, int batch, int n, int spatial)
{
    __shared__ float part[DN_THREADS];
    int f = blockIdx.x;
    float s = 0;
    for (int j = 0; j < batch; ++j) {
        const float *p = delta + ((size_t)j * n + f) * spatial;
        for (int k = threadIdx.x; k < spatial; k += blockDim.x) s = __fadd_rn(s, p[k]);
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) part[threadIdx.x] = __fadd_rn(part[threadIdx.x], part[threadIdx.x + w]);
        __syncthreads();
    }
    if (threadIdx.x == 0) upd[f] = __fadd_rn(upd[f], part[0]);
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
    k_backward_bias<<<n, DN_THREADS>>>(d_upd, d_delta, batch, n, spatial);
    DN_LAUNCHED("backward_bias kernel");
    return 0;
}
