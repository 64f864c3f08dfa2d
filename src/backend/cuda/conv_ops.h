/* The CUDA backend's cuDNN convolution ops (conv_ops.c): backend.h's conv_forward and
 * conv_backward on device pointers, over a batch laid out as dn_conv_batch says, with a
 * descriptor cache per shape, layout and workspace. Internal to src/backend/cuda. */
#ifndef DN_CUDA_CONV_OPS_H
#define DN_CUDA_CONV_OPS_H

#include <stddef.h>

#include "backend/backend.h"

/* 0, or -1 after a message (descriptor or algorithm choice failed, cuDNN error). */
int dn_cudnn_conv_forward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                          const float *w, float *out, void *ws, size_t ws_bytes);
int dn_cudnn_conv_backward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                           const float *delta, const float *w, float *wgrad, float *din,
                           void *ws, size_t ws_bytes);
/* The descriptor sets made so far and, for set i, its shape, layout and algorithms (for
 * reports and tests). */
int dn_cudnn_conv_count(void);
void dn_cudnn_conv_describe(int i, char *buf, size_t len);

#endif
