/* block_sum.cuh: the sum of one value per thread over a block of DN_THREADS threads, by a
 * tree in a fixed order (thread t adds t + w's partial for w = DN_THREADS/2 .. 1), so a
 * result never depends on scheduling: reductions stay deterministic without atomics.
 * Float and double, each added with round-to-nearest (no contraction). C++ only; used by
 * bn.cu (backward sums, float as the CPU) and backend_kernels.cu (statistics, double). */
#ifndef DN_BLOCK_SUM_CUH
#define DN_BLOCK_SUM_CUH

#include "backend/cuda/cuda_check.h"

__device__ static inline float dn_add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ static inline double dn_add_rn(double a, double b) { return __dadd_rn(a, b); }

/* Every thread of the block calls it with its v and the same shared array sh[DN_THREADS];
 * every thread gets the block's total. */
template <typename T>
__device__ static T dn_block_sum(T v, T *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = DN_THREADS / 2; w > 0; w /= 2) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] = dn_add_rn(sh[threadIdx.x], sh[threadIdx.x + w]);
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

#endif
