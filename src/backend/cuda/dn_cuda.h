/* dn_cuda.h: the GPU building blocks a layer's GPU path calls (GPU=1 builds only).
 *
 * Every pointer named d_* is device memory. Functions return 0 on success and -1 on a
 * CUDA / cuBLAS / cuDNN failure, after printing one line to stderr that says what failed
 * (and, for out-of-memory, the bytes asked, the bytes free and what to change). Nothing
 * here calls exit(): the caller decides, as with the rest of the framework.
 *
 * All work goes to one stream (the legacy default stream), so calls are ordered like the
 * CPU code; dn_cuda_sync() waits and reports asynchronous kernel errors.
 *
 * Numerics mirror the CPU code in src/ (activations.c, bn_ops.c, the layers): the same
 * float/double mix, no FMA contraction (--fmad=false), deterministic reductions (no
 * atomics), so a GPU run and a CPU run differ only by libm ulps (expf, tanhf) and by the
 * summation order inside cuBLAS / cuDNN. This header is plain C; it includes no CUDA
 * header so that C files can call it. */
#ifndef DN_CUDA_H
#define DN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "backend/cpu/activations.h" /* C functions: C linkage when included from .cu files */

/* ---- device and memory (cuda_mem.cu) ------------------------------------------- */
/* Number of CUDA devices (0 when there is no driver or no device; never fails). */
int dn_cuda_device_count(void);
/* Selects device `index`; prints its name and memory. -1 with a message if absent. */
int dn_cuda_init(int index);
/* Start-up report of a GPU build (startup.cu): selects device `index` (-1 = -nogpu) and
 * tells the user which parts run on the GPU and which on the CPU. -1 on a bad index. */
int dn_cuda_startup_report(int index);
/* One-line description of the selected device into buf ("none" before dn_cuda_init). */
void dn_cuda_describe(char *buf, size_t len);

/* Checked allocation: NULL (after the out-of-memory message naming `what`) on failure.
 * Every byte is counted; free with the same size so the counters stay exact. */
void *dn_cuda_malloc(size_t bytes, const char *what);
void dn_cuda_free(void *d_ptr, size_t bytes);
size_t dn_cuda_bytes_in_use(void);
size_t dn_cuda_peak_bytes(void);  /* the gpu_peak_mib figure of the memory: line */
void dn_cuda_reset_peak(void);
/* The device's used memory (cudaMemGetInfo: total - free, every process), 0 if unknown. */
size_t dn_cuda_used_bytes(void);
/* The selected device's free and total bytes (cudaMemGetInfo), 0 and 0 if unknown. */
void dn_cuda_mem_avail(size_t *free_b, size_t *total_b);
/* What the network's plan needs on the device, quoted by the out-of-memory message. */
void dn_cuda_set_planned(size_t bytes);

int dn_cuda_push(void *d_dst, const void *h_src, size_t bytes); /* host -> device */
int dn_cuda_pull(void *h_dst, const void *d_src, size_t bytes); /* device -> host */
int dn_cuda_copy(void *d_dst, const void *d_src, size_t bytes); /* device -> device */
int dn_cuda_zero(void *d_dst, size_t bytes);
/* Waits for all queued work; reports a kernel error with `what`. */
int dn_cuda_sync(const char *what);
/* ---- copies that overlap compute (copy_stream.cu; actnn_swap) ---- */
void *dn_cuda_host_alloc(size_t bytes); /* page-locked; NULL after a message */
void dn_cuda_host_free(void *p);
/* A copy on the copy stream after everything issued on the default stream; *ticket. */
int dn_cuda_copy_async(void *dst, const void *src, size_t bytes, int to_device, uint64_t *ticket);
/* Copies up to ticket done (UINT64_MAX: all): see copy_stream.cu for who waits. */
int dn_cuda_copy_wait(uint64_t ticket);
/* Reports a launch error of the last kernel (cheap, no wait). */
int dn_cuda_check_launch(const char *what);
/* Reports, naming `what`, an error the runtime holds: a kernel fault it has seen or a
 * launch error nobody checked; with `wait`, after all queued work finished (so a fault of
 * that work is seen for sure). 0, or -1 after the message. */
int dn_cuda_pending(const char *what, int wait);

/* ---- cuBLAS (gemm.cu) -------------------------------------------------------------- */
/* Row-major C = alpha * op(A) * op(B) + beta * C with dn_gemm's (pjreddie's) arguments.
 * TF32 is off: results stay fp32. */
int dn_gpu_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *d_A, int lda,
                const float *d_B, int ldb, float beta, float *d_C, int ldc);

/* ---- vector ops (vec.cu) ----------------------------------------------------------- */
int dn_gpu_fill(float *d_x, size_t n, float v);
int dn_gpu_axpy(float *d_y, const float *d_x, size_t n, float a); /* y += a*x */
int dn_gpu_scal(float *d_x, size_t n, float a);
/* *d_flag = 1 when d_x[0..n) holds a NaN or inf, else unchanged (no wait). */
int dn_gpu_nonfinite_mark(const float *d_x, size_t n, float *d_flag);
int dn_gpu_add_bias(float *d_x, const float *d_bias, int batch, int n, int spatial);
/* bias_updates[f] += sum over batch and spatial of delta (fixed order per channel). */
int dn_gpu_backward_bias(float *d_bias_updates, const float *d_delta, int batch, int n,
                         int spatial);

/* ---- activations (activations.cu): every activation of activations.h -------------- */
int dn_gpu_activate(float *d_x, size_t n, activation a);
/* delta *= f'(.) from the output y (and input x for swish, mish, hard_mish, gelu). */
int dn_gpu_gradient(const float *d_y, const float *d_x, size_t n, activation a,
                    float *d_delta);
int dn_gpu_gradient_from_input(const float *d_x, size_t n, activation a, float *d_delta);
/* bytes[i] = (gradient at y[i] is the "g1" value), as activation_mask(). */
int dn_gpu_activation_mask(const float *d_y, size_t n, activation a, uint8_t *d_bytes);
/* The same bits packed as actnn_plugin's mask words (bit j%32 of word j/32, ceil(D/32)
 * words per sample) for count samples of D values `stride` floats apart. */
int dn_gpu_activation_mask_words(const float *d_y, size_t count, size_t D, size_t stride,
                                 activation a, uint32_t *d_words);

/* ---- batch norm (bn.cu), bn_ops.h semantics; all arrays are device arrays ----------- */
typedef struct {
    int n; /* channels */
    float *scales, *biases, *rolling_mean, *rolling_variance;
    float *mean, *variance, *sum_d, *sum_dx;
} dn_gpu_bn;
int dn_gpu_bn_forward_infer(const dn_gpu_bn *b, float *d_x, int batch, int spatial);
int dn_gpu_bn_scale_shift(const dn_gpu_bn *b, float *d_x, int batch, int spatial);
int dn_gpu_bn_backward_reset(dn_gpu_bn *b);
/* Pass 1 over `batch` samples (1 for the per-sample restore loop). */
int dn_gpu_bn_backward_sums(dn_gpu_bn *b, const float *d_delta, const float *d_xhat, int batch,
                            int spatial);
int dn_gpu_bn_backward_params(dn_gpu_bn *b, float *d_bias_updates, float *d_scale_updates);
/* Pass 2 over `nsamp` samples of a batch of `batch` (cnt = batch * spatial). */
int dn_gpu_bn_backward_delta(const dn_gpu_bn *b, float *d_delta, const float *d_xhat, int nsamp,
                             int batch, int spatial);

/* ---- pooling (pool.cu) --------------------------------------------------------------- */
/* [maxpool]: out and the argmax code (n*size+m inside the window) per output. */
int dn_gpu_maxpool_forward(const float *d_in, int batch, int c, int h, int w, int size,
                           int stride, int pad, float *d_out, uint8_t *d_codes);
/* delta_in += routed delta (gather per input cell: deterministic, no atomics). */
int dn_gpu_maxpool_backward(const float *d_delta, const uint8_t *d_codes, int batch, int c,
                            int h, int w, int size, int stride, int pad, float *d_delta_in);
int dn_gpu_avgpool_forward(const float *d_in, int batch, int c, int h, int w, float *d_out);
int dn_gpu_avgpool_backward(const float *d_delta, int batch, int c, int h, int w,
                            float *d_delta_in);

/* ---- route / shortcut / products / upsample (route.cu) ---------------------------- */
/* dst[b][offset + k] = src[b][k] for k < src_n (route forward); with accumulate=1,
 * dst[b][k] += src[b][offset + k] for k < dst_n instead (route backward). */
int dn_gpu_route_copy(const float *d_src, size_t src_stride, float *d_dst, size_t dst_stride,
                      size_t offset, size_t n, int batch, int backward);
/* pjreddie's shortcut_cpu: out = s1*out + s2*add over the common grid. */
int dn_gpu_shortcut_add(int batch, int w1, int h1, int c1, const float *d_add, int w2, int h2,
                        int c2, float s1, float s2, float *d_out);
/* backend.h mul_forward / mul_backward ([scale_channels], [sam]). */
int dn_gpu_mul_forward(const float *d_s, const float *d_x, int batch, int c, int spatial, int mode,
                       float *d_out);
int dn_gpu_mul_backward(const float *d_delta, const float *d_s, const float *d_x, int batch, int c,
                        int spatial, int mode, float *d_ds, float *d_dx);
int dn_gpu_upsample_forward(const float *d_in, int batch, int c, int h, int w, int stride,
                            float scale, float *d_out);
/* delta_in += scale * sum of the stride x stride output cells above each input cell. */
int dn_gpu_upsample_backward(const float *d_delta, int batch, int c, int h, int w, int stride,
                             float scale, float *d_delta_in);

/* ---- backend interface kernels (backend_kernels.cu; per element: elem_math.h) ----------- */
int dn_gpu_im2col(const float *d_im, int c, int h, int w, int ksize, int stride, int pad,
                  float *d_col);
int dn_gpu_col2im_add(const float *d_col, int c, int h, int w, int ksize, int stride, int pad,
                      float *d_im);
/* acc (2n doubles: sum, sum of squares per channel) += the batch's values, in a fixed order
 * that is not the CPU's (backend_kernels.cu): equal within double rounding. */
int dn_gpu_bn_stats_add(double *d_acc, const float *d_x, int n, int batch, int spatial);
int dn_gpu_bn_stats_end(const double *d_acc, int n, double cnt, float *d_mean, float *d_var,
                        float *d_rmean, float *d_rvar);
int dn_gpu_bn_normalize(const float *d_mean, const float *d_var, int n, float *d_x, int batch,
                        int spatial);
int dn_gpu_bn_preact(const float *d_scales, const float *d_biases, int n, const float *d_xhat,
                     int spatial, float *d_pre);
int dn_gpu_reorg(const float *d_x, int w, int h, int c, int stride, int fwd, int add, float *d_out);
int dn_gpu_crop(const float *d_in, int batch, int c, int h, int w, int out_h, int out_w, int dh,
                int dw, int flip, float scale, float trans, float *d_out);
int dn_gpu_adam(float *d_w, float *d_g, float *d_m, float *d_v, size_t n, float decay_batch,
                float lr, float B1, float B2, float b1t, float b2t, float eps);

/* ---- cuDNN convolution (conv_cudnn.cu; CUDNN=1 builds) ----------------------------- */
typedef struct dn_gpu_conv dn_gpu_conv;
/* One convolution for cuDNN: `batch` samples of a c x h x w input (NCHW), n filters of
 * (c / groups) x size x size. x_stride, y_stride: floats from one sample of x (and dx) to
 * the next, and of y (and dy); at least a sample's size, 0 for packed. Between samples
 * nothing is read or written. */
typedef struct {
    int batch, c, h, w, n, size, stride, pad, dilation, groups;
    size_t x_stride, y_stride;
} dn_gpu_conv_geom;
/* The descriptors of g (groups divides c and n). Each op's algorithm is chosen on the
 * op's first call, so a set used only for some ops never asks cuDNN about the others:
 * the first within workspace_limit bytes, deterministic ones first, no FFT/Winograd unless
 * DN_CUDNN_FAST_ALGOS=1, the next one when cuDNN refuses it (conv_algos.h). NULL (with a
 * message) on failure. */
dn_gpu_conv *dn_gpu_conv_create(const dn_gpu_conv_geom *g, size_t workspace_limit);
void dn_gpu_conv_destroy(dn_gpu_conv *cv);
void dn_gpu_conv_out_shape(const dn_gpu_conv *cv, int *out_h, int *out_w);
/* Algorithm names chosen so far (for the start-up report). */
void dn_gpu_conv_describe(const dn_gpu_conv *cv, char *buf, size_t len);
/* The ops over the whole batch; ws_bytes at least what the op's algorithm needs (at most
 * the creation's workspace_limit). y = conv(x, w) (beta 0). */
int dn_gpu_conv_forward(dn_gpu_conv *cv, const float *d_x, const float *d_w, float *d_y,
                        void *d_ws, size_t ws_bytes);
/* dw += conv_filter_grad(x, dy), summed over the batch (Darknet accumulates weight
 * updates). */
int dn_gpu_conv_backward_filter(dn_gpu_conv *cv, const float *d_x, const float *d_dy,
                                float *d_dw, void *d_ws, size_t ws_bytes);
/* dx += conv_data_grad(w, dy). */
int dn_gpu_conv_backward_data(dn_gpu_conv *cv, const float *d_w, const float *d_dy,
                              float *d_dx, void *d_ws, size_t ws_bytes);
/* 1 when this build has cuDNN. */
int dn_gpu_have_cudnn(void);

#ifdef __cplusplus
}
#endif
#endif
