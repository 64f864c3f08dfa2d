/* Dense kernels: GEMM through CBLAS (OpenBLAS), im2col/col2im, and small vector ops. */
#ifndef DN_BLAS_H
#define DN_BLAS_H

#include <stddef.h>

/* Row-major C = alpha * op(A) * op(B) + beta * C, pjreddie's gemm() argument order. */
void dn_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* Darknet's im2col: columns of (c*ksize*ksize) rows by (out_h*out_w), zero padding. */
void im2col(const float *im, int c, int h, int w, int ksize, int stride, int pad, float *col);
/* Adds the columns back into the image (the adjoint of im2col). */
void col2im_add(const float *col, int c, int h, int w, int ksize, int stride, int pad, float *im);

void fill_f(float *x, size_t n, float v);
void axpy_f(float *y, const float *x, size_t n, float a); /* y += a*x */
void scal_f(float *x, size_t n, float a);
void copy_f(float *dst, const float *src, size_t n);

#endif
