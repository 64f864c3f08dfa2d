/* cuda_ctx.h: the CUDA context of actnn_plugin (actnn_cuda.h), shared by its .cu files
 * (quantize.cu owns it; stats.cu launches on its stream and flags into its status). */
#ifndef ACTNN_CUDA_CTX_H
#define ACTNN_CUDA_CTX_H

#include <cuda_runtime.h>

/* Bits kernels set in d_status, turned into ACTNN_E_* by actnn_cuda_status. */
enum { ACTNN_ST_NONFINITE = 1, ACTNN_ST_CODE = 2, ACTNN_ST_BITS = 4 };

struct actnn_cuda_ctx {
    cudaStream_t stream;
    int *d_status;        /* ACTNN_ST_* bits set by kernels */
    const char *last_err; /* cudaGetErrorString of the last failure */
    int kernel;           /* ACTNN_CUDA_KERNEL_*: which save/restore kernels run */
    /* Per-sample widths summed once per call (quantize.cu k_width_scan): 1 + n0 + count
     * entries, grown on demand, so no kernel re-sums the widths before each sample. */
    size_t *d_scan;
    size_t scan_cap;
};

#endif
