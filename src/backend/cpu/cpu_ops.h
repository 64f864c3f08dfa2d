/* Kernels of the CPU backend that have no older home (pooling, data movement, optimizer),
 * with backend.h's semantics. Only src/backend/ includes this. */
#ifndef DN_CPU_OPS_H
#define DN_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

void cpu_maxpool_forward(const float *in, int batch, int c, int h, int w, int size, int stride,
                         int pad, float *out, uint8_t *codes);
void cpu_maxpool_backward(const float *delta, const uint8_t *codes, int batch, int c, int h,
                          int w, int size, int stride, int pad, float *delta_in);
void cpu_avgpool_forward(const float *in, int batch, int c, int h, int w, float *out);
void cpu_avgpool_backward(const float *delta, int batch, int c, int h, int w, float *delta_in);

void cpu_copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t n,
                   int rows, int accumulate);
void cpu_shortcut_add(int batch, int w1, int h1, int c1, const float *add, int w2, int h2, int c2,
                      float s1, float s2, float *out);
void cpu_mul_forward(const float *s, const float *x, int batch, int c, int spatial, int mode,
                     float *out);
void cpu_mul_backward(const float *delta, const float *s, const float *x, int batch, int c,
                      int spatial, int mode, float *ds, float *dx);
void cpu_upsample_forward(const float *in, int planes, int h, int w, int s, float scale, float *out);
void cpu_upsample_backward(const float *delta, int planes, int h, int w, int s, float scale,
                           float *delta_in);
void cpu_reorg(const float *x, int w, int h, int c, int s, int fwd, int add, float *out);
void cpu_crop(const float *in, int batch, int c, int h, int w, int out_h, int out_w, int dh,
              int dw, int flip, float scale, float trans, float *out);

void cpu_nonfinite_mark(const float *x, size_t n, float *flag);

void cpu_sgd_update(float *w, float *g, size_t n, float decay_batch, float lr_batch, float momentum);
void cpu_adam_update(float *w, float *g, float *m, float *v, size_t n, float decay_batch, float lr,
                     float B1, float B2, float b1t, float b2t, float eps);

#endif
