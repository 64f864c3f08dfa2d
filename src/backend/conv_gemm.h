/* Convolution as im2col + gemm per group, sample by sample (backend.h's conv_forward and
 * conv_backward), written once over any backend's im2col, col2im_add and gemm: the CPU
 * backend, the simulated device and the CUDA backend without cuDNN use it.
 *
 * It owns only the order of those calls; it never dereferences a buffer (they may be
 * device memory) and holds no state. It may include only backend.h. */
#ifndef DN_CONV_GEMM_H
#define DN_CONV_GEMM_H

#include "backend/backend.h"

/* The three kernels it calls, with backend.h's semantics and pointers of one backend. */
typedef struct {
    dn_gemm_fn *gemm;
    dn_im2col_fn *im2col;
    dn_col2im_fn *col2im_add;
} dn_conv_kernels;

/* Output size of one side (pjreddie: (in + 2 pad - size) / stride + 1). */
int dn_conv_out_side(int in, int size, int stride, int pad);
/* Workspace bytes a convolution of shape s needs: one group's columns, or 0 for a 1x1
 * convolution with stride 1 and no padding (the input is its own column matrix). Every
 * backend's conv op works within this many bytes (cuDNN picks algorithms that fit). */
size_t dn_conv_ws_bytes(const dn_conv_shape *s);

/* `batch` samples packed one after another (strides = the sample sizes). */
dn_conv_batch dn_conv_packed(const dn_conv_shape *s, int batch);
/* 1 when bt's strides hold a sample of s each (an op given less would overlap samples). */
int dn_conv_batch_ok(const dn_conv_shape *s, const dn_conv_batch *bt);

/* conv_forward and conv_backward (backend.h) through k, one sample after another (the
 * workspace holds one sample's columns); ws holds dn_conv_ws_bytes(s). */
void dn_conv_gemm_forward(const dn_conv_kernels *k, const dn_conv_shape *s,
                          const dn_conv_batch *bt, const float *in, const float *w, float *out,
                          void *ws);
void dn_conv_gemm_backward(const dn_conv_kernels *k, const dn_conv_shape *s,
                           const dn_conv_batch *bt, const float *in, const float *delta,
                           const float *w, float *wgrad, float *din, void *ws);

#endif
