/* Dense kernels: GEMM through CBLAS (OpenBLAS) and small vector ops. */
#ifndef DN_BLAS_H
#define DN_BLAS_H

#include <stddef.h>

/* Row-major C = alpha * op(A) * op(B) + beta * C, pjreddie's gemm() argument order. */
void dn_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

void fill_f(float *x, size_t n, float v);
void axpy_f(float *y, const float *x, size_t n, float a); /* y += a*x */
void scal_f(float *x, size_t n, float a);
void copy_f(float *dst, const float *src, size_t n);

#endif
