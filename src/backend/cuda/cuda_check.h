/* cuda_check.h: error checking shared by the .cu files of src/backend/cuda (C++ only).
 * Every runtime, cuBLAS and cuDNN call goes through one of these macros, so a failure
 * always prints what was attempted, where, and the library's own reason. */
#ifndef DN_CUDA_CHECK_H
#define DN_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdio.h>

/* Prints "cuda: <what> failed at file:line: <reason>" and evaluates to -1. */
extern "C" int dn_cuda_report(const char *what, const char *reason, const char *file, int line);

#define DN_CU(call, what)                                                                 \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) return dn_cuda_report(what, cudaGetErrorString(e_),        \
                                                     __FILE__, __LINE__);                 \
    } while (0)

/* After a kernel launch: reports bad launch configurations at once. */
#define DN_LAUNCHED(what) DN_CU(cudaGetLastError(), what)

/* Threads per block for elementwise kernels, and the block count for n items (capped so
 * the grid stays legal; kernels loop with a grid stride). */
enum { DN_THREADS = 256 };
static inline unsigned dn_blocks(size_t n)
{
    size_t b = (n + DN_THREADS - 1) / DN_THREADS;
    if (b == 0) b = 1;
    return b > 65535u * 32u ? 65535u * 32u : (unsigned)b;
}

#define DN_GRID_LOOP(i, n)                                                                \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);               \
         i += (size_t)gridDim.x * blockDim.x)

#endif
