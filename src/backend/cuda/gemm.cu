/* gemm.cu: cuBLAS sgemm behind dn_gemm's row-major, pjreddie-style arguments.
 *
 * cuBLAS is column-major. A row-major M x N matrix C is the column-major N x M matrix
 * C^T, and C^T = op(B)^T op(A)^T, so we ask cuBLAS for that product with A and B swapped
 * (the trick Darknet's gemm_gpu uses).
 *
 * Math mode CUBLAS_PEDANTIC_MATH: sgemm then computes as CUBLAS_COMPUTE_32F_PEDANTIC,
 * standard fp32 arithmetic with exactly fp32 internal storage. It is not what keeps TF32
 * out: the default mode never uses TF32 for sgemm either (that takes
 * CUBLAS_TF32_TENSOR_OP_MATH, which NVIDIA_TF32_OVERRIDE=0 turns off, and BF16x9 emulation
 * takes CUBLAS_FP32_EMULATED_BF16X9_MATH). But the default promises only "at least" fp32's
 * precision and range inside, leaving cuBLAS free to pick other arithmetic per shape or
 * version; pedantic pins plain fp32 rounding, which the GPU-versus-CPU checks (1e-4
 * relative) assume, at a speed cost never measured (no device). */
#include <cublas_v2.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

static cublasHandle_t g_blas;

static const char *blas_reason(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized (no device or driver?)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed (out of GPU memory)";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value (bad sizes or leading dimensions)";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown cuBLAS status";
    }
}

#define DN_BLAS(call, what)                                                               \
    do {                                                                                  \
        cublasStatus_t s_ = (call);                                                       \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                  \
            return dn_cuda_report(what, blas_reason(s_), __FILE__, __LINE__);             \
    } while (0)

static int blas_handle(void)
{
    if (g_blas) return 0;
    DN_BLAS(cublasCreate(&g_blas), "cublasCreate");
    DN_BLAS(cublasSetMathMode(g_blas, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode(pedantic fp32)");
    return 0;
}

extern "C" int dn_gpu_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *d_A,
                           int lda, const float *d_B, int ldb, float beta, float *d_C, int ldc)
{
    if (blas_handle()) return -1;
    DN_BLAS(cublasSgemm(g_blas, TB ? CUBLAS_OP_T : CUBLAS_OP_N, TA ? CUBLAS_OP_T : CUBLAS_OP_N, N,
                        M, K, &alpha, d_B, ldb, d_A, lda, &beta, d_C, ldc),
            "cublasSgemm");
    return 0;
}
