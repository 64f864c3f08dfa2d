/* The backend interface (DESIGN.md "Backends"): the ops table every layer's forward and
 * backward, the optimizer and the network's buffer management call, in the style of
 * ggml's backends. A backend owns its memory (host for "cpu", device for "cuda") and its
 * kernels; the layers own the orchestration (which op, on which buffer, in which order),
 * written once. Every pointer handed to an op is memory of that backend.
 *
 * Ops return nothing so that layer code stays a list of calls, as it is on the CPU; a
 * device backend records its first failure (a CUDA, cuBLAS or cuDNN status, which it has
 * already printed) and `error` returns and clears it, which the network checks after
 * every layer call.
 *
 * This header may include only backend-neutral headers (activation kinds, bn_state, the
 * plugin's public actnn.h).
 * Nothing outside src/backend/ includes a backend implementation header or calls a kernel
 * directly (tests/sh/backend_boundary.sh). */
#ifndef DN_BACKEND_H
#define DN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "actnn.h" /* actnn_raw_tensor: the plugin's layout of a tensor in caller memory */
#include "backend/activation_kind.h"
#include "backend/bn_state.h"

typedef struct dn_backend dn_backend;

/* copy_wait's ticket for "every copy started so far". */
#define DN_COPY_ALL UINT64_MAX

/* Largest block (values) a fused batch-norm forward hands to its sink. */
#define DN_FUSE_BLOCK_MAX 4096
/* Receives one block of a fused batch-norm forward (bn_train_fused): values [j0, j0 + len)
 * of the sample, as x-hat and as the activation's output, while they are in cache (e.g.
 * to save them). Called from several threads at once, each block once. */
typedef void (*dn_block_sink)(void *ud, size_t j0, size_t len, const float *xhat,
                              const float *y);

/* Supplies values [j0, j0 + len) (len <= DN_FUSE_BLOCK_MAX) of one sample's x-hat to a
 * fused batch-norm backward (bn_backward_sums_src, bn_backward_delta_src): fills buf and
 * returns it, or returns a pointer to the values where they are stored as they are. Called
 * from several threads at once, for disjoint ranges. */
typedef const float *(*dn_block_src)(void *ud, size_t j0, size_t len, float *buf);

/* One sample's convolution, pjreddie's [convolutional]: input c x h x w, n filters of
 * (c / groups) x size x size (weights [n][c/groups][size][size]), zero padding `pad` on
 * every side, output n x out_h x out_w. */
typedef struct {
    int c, h, w, n, size, stride, pad, groups, out_h, out_w;
} dn_conv_shape;

/* The samples of one convolution call: sample b's input (and input gradient) starts at
 * in + b * in_stride, its output (and output delta) at out + b * out_stride, in floats.
 * A stride is at least the sample's size (c*h*w, n*out_h*out_w) and may be larger: a
 * streamed segment's member or a zero-copy [route]'s slice lies among other layers'
 * values, which the ops neither read nor write. conv_gemm.h's dn_conv_packed gives the
 * packed layout. */
typedef struct {
    int batch;
    size_t in_stride, out_stride;
} dn_conv_batch;

/* The dense kernels' types (the ops below; backend/conv_gemm.h takes them too). */
typedef void dn_gemm_fn(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);
typedef void dn_im2col_fn(const float *im, int c, int h, int w, int ksize, int stride, int pad,
                          float *col);
typedef void dn_col2im_fn(const float *col, int c, int h, int w, int ksize, int stride, int pad,
                          float *im);

struct dn_backend {
    const char *name;  /* "cpu" or "cuda" */
    int device;        /* 1: buffers are device memory the host may not dereference */

    /* ---- memory (bytes) ---- */
    void *(*alloc)(size_t bytes, const char *what); /* zeroed; NULL after a message */
    void (*release)(void *p, size_t bytes);
    int (*push)(void *dst, const void *host_src, size_t bytes); /* host -> backend */
    int (*pull)(void *host_dst, const void *src, size_t bytes); /* backend -> host */
    int (*error)(void); /* first failure since the last call (0: none), then cleared */
    /* Called by the network after every layer's forward and backward (layer `index` of
     * kind `type`). A device that runs its ops asynchronously may wait here for them in a
     * checking mode (CUDA: DN_CUDA_SYNC_CHECK=1), so a fault is blamed on the layer that
     * caused it rather than on a later call: -1 after a message naming the layer, else 0
     * (at once when the mode is off). Optional (NULL: nothing to check, the CPU). */
    int (*sync_check)(int index, const char *type, int backward);
    /* Device memory: the allocator's peak and the device's used bytes (0, 0 on the host). */
    void (*mem_info)(size_t *peak, size_t *used);
    /* The device's free and total memory now (cudaMemGetInfo: what the card still has for
     * this run, which sizes streamed segments when no budget is given); 0, 0 on the host
     * or when unknown. */
    void (*mem_avail)(size_t *free_b, size_t *total_b);
    /* The device plan's total for this run (memory/budget.h budget_device_plan), which the
     * out-of-memory message quotes beside what was asked and what is free. */
    void (*set_planned)(size_t bytes);
    /* Copies that overlap compute (actnn_swap, memory/saved.c). Optional, all five or none
     * (NULL: synchronous pull/push into malloc'd memory). host_alloc: page-locked host
     * memory (what a copy can overlap compute from), NULL on failure. pull_async /
     * push_async: start a copy on a second stream after every op issued before it (so a
     * pull sees the kernels that wrote its source) and return at once with a ticket
     * (increasing). copy_wait(t): every copy up to ticket t is finished for the ops issued
     * after it and for the host (a pulled block may be read and its source reused, a
     * pushed block is there); DN_COPY_ALL waits for all. */
    void *(*host_alloc)(size_t bytes);
    void (*host_release)(void *p, size_t bytes);
    int (*pull_async)(void *host_dst, const void *src, size_t bytes, uint64_t *ticket);
    int (*push_async)(void *dst, const void *host_src, size_t bytes, uint64_t *ticket);
    int (*copy_wait)(uint64_t ticket);

    /* ---- dense ---- */
    /* Row-major C = alpha * op(A) * op(B) + beta * C, pjreddie's gemm() arguments. */
    dn_gemm_fn *gemm;
    /* Darknet's im2col of one image; col2im_add adds the columns back (its adjoint). */
    dn_im2col_fn *im2col;
    dn_col2im_fn *col2im_add;
    /* Convolution of bt->batch samples laid out as bt says (the conv layer's only compute;
     * a backend picks how: im2col + gemm per group and sample on the CPU, cuDNN over the
     * whole batch on CUDA). conv_forward: out(b) = conv(in(b), w) for every sample.
     * conv_backward: din(b) += sample b's input gradient when din is not NULL (it needs
     * only delta and w), and wgrad += each sample's weight gradient, added sample by
     * sample in sample order, when wgrad is not NULL (in may be NULL when wgrad is). The
     * layer makes one call for din over its batch and one per sample for wgrad, as the
     * saved input is restored one sample at a time. ws: the network's workspace of
     * ws_bytes bytes, at least dn_conv_ws_bytes(s) (backend/conv_gemm.h: one sample's
     * columns, whatever the batch). */
    void (*conv_forward)(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                         const float *w, float *out, void *ws, size_t ws_bytes);
    void (*conv_backward)(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                          const float *delta, const float *w, float *wgrad, float *din,
                          void *ws, size_t ws_bytes);
    void (*fill)(float *x, size_t n, float v);
    void (*axpy)(float *y, const float *x, size_t n, float a); /* y += a*x */
    void (*scal)(float *x, size_t n, float a);
    void (*copy)(float *dst, const float *src, size_t n);
    /* *flag = 1 when x[0..n) holds a NaN or an inf (all exponent bits set); otherwise
     * *flag is left as it was. No result to wait for: a caller marks many arrays into a
     * flag array in backend memory and pulls it once (the per-iteration NaN check,
     * core/finite_check.h, costs one small copy instead of every parameter). */
    void (*nonfinite_mark)(const float *x, size_t n, float *flag);

    /* ---- bias and batch norm (semantics: backend/cpu/bn_ops.h) ---- */
    void (*add_bias)(float *x, const float *bias, int batch, int n, int spatial);
    void (*backward_bias)(float *bias_updates, const float *delta, int batch, int n, int spatial);
    void (*bn_forward_train)(bn_state *b, float *x, int batch, int spatial);
    void (*bn_stats_begin)(bn_state *b);
    void (*bn_stats_add)(bn_state *b, const float *x, int batch, int spatial);
    void (*bn_stats_end)(bn_state *b, double count);
    /* actnn_auto's x-hat ranges from the statistics pass, so x-hat need not be written
     * first (backend/cpu/bn_ops.h): bn_stats_add of one sample that also keeps every
     * channel piece's extremes in ws (dn_bn_range_ws_floats(n, spatial, group) floats, host
     * memory), and, after bn_stats_end, each group's x-hat minimum and maximum from them,
     * exactly those of bn_normalize's values. Optional, both or neither (NULL: x-hat is
     * written, then measured). */
    void (*bn_stats_add_minmax)(bn_state *b, const float *x, int spatial, size_t group, float *ws);
    void (*bn_xhat_group_ranges)(const bn_state *b, const float *ws, int spatial, size_t group,
                                 float *lo, float *hi);
    void (*bn_normalize)(const bn_state *b, float *x, int batch, int spatial);
    void (*bn_forward_infer)(const bn_state *b, float *x, int batch, int spatial);
    void (*bn_scale_shift)(const bn_state *b, float *x, int batch, int spatial);
    void (*bn_backward_reset)(bn_state *b);
    void (*bn_backward_sums)(bn_state *b, const float *delta, const float *xhat, int spatial);
    void (*bn_backward_params)(bn_state *b, float *bias_updates, float *scale_updates);
    void (*bn_backward_delta)(const bn_state *b, float *delta, const float *xhat, int batch,
                              int spatial);
    /* bn_backward_sums / bn_backward_delta of one sample with x-hat fetched block by block
     * from `src` (each block used while it is in L1), so a compressed x-hat is never
     * restored whole. The same values in the same order as the unfused ops. Optional
     * (NULL: restore the sample and call those). */
    void (*bn_backward_sums_src)(bn_state *b, const float *delta, int spatial,
                                 dn_block_src src, void *ud);
    void (*bn_backward_delta_src)(const bn_state *b, float *delta, int batch, int spatial,
                                  dn_block_src src, void *ud);
    /* pre = xhat * scale + bias for one sample (the activation input after batch norm). */
    void (*bn_preact)(const bn_state *b, const float *xhat, int spatial, float *pre);
    /* Fused: x <- act(x * scale + bias) for one sample, the same values as bn_scale_shift
     * then activate, in one pass over memory. Optional (NULL: the layer makes both calls). */
    void (*bn_scale_shift_act)(const bn_state *b, float *x, int spatial, activation a);
    /* Fused training forward of one sample, one pass over x: x-hat with the last
     * statistics (bn_normalize), then x <- act(x-hat * scale + bias) (bn_scale_shift_act),
     * the same values; `sink` (when not NULL) gets every block of `block` values
     * (<= DN_FUSE_BLOCK_MAX; the last one shorter). Optional (NULL: separate calls). */
    void (*bn_train_fused)(const bn_state *b, float *x, int spatial, activation a,
                           size_t block, dn_block_sink sink, void *ud);
    /* The same pass when x already holds x-hat (bn_normalize): each block to `sink` as
     * x-hat, then x <- act(x-hat * scale + bias). actnn_auto needs the whole x-hat's
     * ranges before it saves, so it normalizes first and fuses the rest. Optional. */
    void (*bn_xhat_fused)(const bn_state *b, float *x, int spatial, activation a,
                          size_t block, dn_block_sink sink, void *ud);

    /* ---- activations (semantics: backend/cpu/activations.h) ---- */
    void (*activate)(float *x, size_t n, activation a);
    void (*gradient)(const float *y, const float *x, size_t n, activation a, float *delta);
    void (*gradient_from_input)(const float *x, size_t n, activation a, float *delta);
    /* bytes[i] = 1 where the two-valued gradient at y[i] is g1 (activation_is_masked). */
    void (*activation_mask)(const float *y, size_t n, activation a, uint8_t *bytes);

    /* ---- pooling (pjreddie's [maxpool]: window starts at -pad/2; codes = argmax inside
     * the window, n*size+m) ---- */
    void (*maxpool_forward)(const float *in, int batch, int c, int h, int w, int size,
                            int stride, int pad, float *out, uint8_t *codes);
    void (*maxpool_backward)(const float *delta, const uint8_t *codes, int batch, int c, int h,
                             int w, int size, int stride, int pad, float *delta_in);
    void (*avgpool_forward)(const float *in, int batch, int c, int h, int w, float *out);
    void (*avgpool_backward)(const float *delta, int batch, int c, int h, int w,
                             float *delta_in);

    /* ---- data movement ---- */
    /* rows times: dst[r*dst_stride + k] (+)= src[r*src_stride + k], k < n (route). */
    void (*copy_rows)(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                      size_t n, int rows, int accumulate);
    /* pjreddie's shortcut_cpu: out = s1*out + s2*add over the common grid. */
    void (*shortcut_add)(int batch, int w1, int h1, int c1, const float *add, int w2, int h2,
                         int c2, float s1, float s2, float *out);
    /* [scale_channels] / [sam]: out = s * x, x being batch samples of c x spatial values and
     * s per sample one value per channel, per position or per value (mode: move_math.h's
     * DN_MUL_CHANNEL, DN_MUL_SPATIAL, DN_MUL_ELEM). Backward: ds += the sum of delta * x
     * over the values each s value multiplies, in x's order (dn_mul_dsum), and dx += s *
     * delta; either output may be NULL (not needed), and then so may its other input. */
    void (*mul_forward)(const float *s, const float *x, int batch, int c, int spatial, int mode,
                        float *out);
    void (*mul_backward)(const float *delta, const float *s, const float *x, int batch, int c,
                         int spatial, int mode, float *ds, float *dx);
    /* nearest neighbour by `stride` times `scale`, over batch*c planes of h x w. */
    void (*upsample_forward)(const float *in, int planes, int h, int w, int stride, float scale,
                             float *out);
    void (*upsample_backward)(const float *delta, int planes, int h, int w, int stride,
                              float scale, float *delta_in);
    /* Darknet's reorg permutation of one sample (fwd picks the direction, add accumulates). */
    void (*reorg)(const float *x, int w, int h, int c, int stride, int fwd, int add, float *out);
    /* [crop] of batch samples: out = in[window] * scale + trans, optionally flipped. */
    void (*crop)(const float *in, int batch, int c, int h, int w, int out_h, int out_w, int dh,
                 int dw, int flip, float scale, float trans, float *out);

    /* ---- saved activations in backend memory (memory/saved.c) ---- */
    /* Optional (NULL: saved.c quantizes on the host and stages samples through it).
     * act_save quantizes samples [n0, n0 + count) of x (count * D floats, backend memory)
     * into t, whose payload and metadata are backend memory, with actnn_plugin's bytes
     * (actnn_raw_tensor, one bit width: 1..8, 16 or 32); act_restore dequantizes them into out. They
     * return ACTNN_OK or an ACTNN_E_* code; a device may report a data error (NaN to
     * quantize) only later, through `error`. host: the saved store's plugin context
     * (threads, SIMD), for a backend that quantizes on the host (devsim). */
    int (*act_save)(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                    const float *x);
    int (*act_restore)(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                       float *out);
    /* Masks, argmax codes and dropout in backend memory: words in actnn.h's caller-memory
     * layout (width * ceil(D/32) 32-bit words per sample, the plugin's bytes). Optional,
     * all five or none (NULL: saved.c keeps them on the host and stages samples).
     * act_mask_save: the 1-bit mask of activation a (activation_mask's predicate) of count
     * samples of D values `stride` floats apart. act_mask_apply: delta[j] *= bit ? g1 : g0
     * for one sample. act_codes_save / act_codes_restore: count samples of D codes of
     * `width` bits (a code too wide: ACTNN_E_CODE, on a device possibly later through
     * `error`). act_dropout: sample i of the dropout keyed by (seed, tensor_id),
     * actnn_raw_dropout_apply's values. Return ACTNN_OK or an ACTNN_E_* code. */
    int (*act_mask_save)(actnn_ctx *host, const float *y, size_t count, size_t D, size_t stride,
                         activation a, uint32_t *words);
    int (*act_mask_apply)(actnn_ctx *host, const uint32_t *words, size_t D, float *delta,
                          float g1, float g0);
    int (*act_codes_save)(actnn_ctx *host, const uint8_t *codes, size_t count, size_t D,
                          int width, uint32_t *words);
    int (*act_codes_restore)(actnn_ctx *host, const uint32_t *words, size_t count, size_t D,
                             int width, uint8_t *codes);
    int (*act_dropout)(actnn_ctx *host, uint64_t seed, uint64_t tensor_id, float p, size_t i,
                       size_t D, float *x);
    /* actnn_auto's per-sample statistics (actnn_sample_stats: kind ACTNN_STAT_RANGE, the sum
     * of squared group ranges of G values, or ACTNN_STAT_SQUARES) of count samples of D
     * values `stride` floats apart, into out (count doubles, backend memory): the host
     * library's doubles exactly, so the bits chosen from them are the CPU's. A NaN/Inf in a
     * range sample: ACTNN_E_NONFINITE, or on a device a NaN statistic (and the error later
     * through `error`). Optional (NULL: saved.c stages the samples through the host). */
    int (*act_sample_stats)(actnn_ctx *host, int kind, const float *x, size_t count, size_t D,
                            size_t stride, size_t G, double *out);
    /* actnn_auto's per-sample widths where the costs are: bits[k] (backend memory, n bytes)
     * = actnn_alloc_bits(cost, NULL, n, avg)'s from the n costs (backend memory, as
     * act_sample_stats wrote them), or with cost NULL actnn_split_bits(n, avg)'s. Their sum
     * is known without them (actnn_alloc_bits_sum, actnn_split_bits_sum), so a save sized by
     * it need not wait for them. A cost that is not finite or < 0: the widths of all-zero
     * costs and ACTNN_E_NONFINITE (a device: later, through `error`). Optional (NULL:
     * saved.c pulls the costs and pushes the widths, a wait for the device per save). */
    int (*act_auto_bits)(actnn_ctx *host, const double *cost, size_t n, double avg,
                         uint8_t *bits);

    /* ---- optimizer (params.h update_args semantics) ---- */
    /* Darknet SGD: g -= decay_batch*w (when decay_batch != 0); w += lr_batch*g; g *= momentum. */
    void (*sgd_update)(float *w, float *g, size_t n, float decay_batch, float lr_batch,
                       float momentum);
    /* pjreddie's adam: decay into g, moments, bias-corrected step (b1t, b2t = 1-B^t), g = 0. */
    void (*adam_update)(float *w, float *g, float *m, float *v, size_t n, float decay_batch,
                        float lr, float B1, float B2, float b1t, float b2t, float eps);
};

/* Floats of bn_stats_add_minmax's ws for one sample of n channels: a minimum and a maximum
 * per piece, a channel spanning at most ceil(spatial/group) + 1 groups. */
static inline size_t dn_bn_range_ws_floats(int n, int spatial, size_t group)
{
    return 2 * (size_t)n * (((size_t)spatial + group - 1) / group + 1);
}

/* The CPU backend (always present). */
const dn_backend *dn_backend_cpu(void);
/* The CUDA backend on device `index`, or NULL (with the reason in why) in a CPU build, with
 * no device, or when the device cannot be opened. */
const dn_backend *dn_backend_cuda(int index, char *why, size_t whylen);

/* A simulated device for tests (backend/cpu/devsim.c): host memory behind tagged pointers
 * that fault when dereferenced outside the backend; its ops are the CPU backend's. */
const dn_backend *dn_backend_devsim(void);
/* devsim's synchronous copies so far (push, pull: on a GPU each waits for the queued
 * work), for tests that count the waits a pass makes. */
void dn_devsim_copies(size_t *pushes, size_t *pulls);

/* DN_GPU_BUDGET_MB: the device allocator's limit in bytes (0: none). -1 with a message in
 * why when the variable is set but not a whole number of MiB. */
long long dn_budget_bytes(char *why, size_t whylen);
/* The same for any such variable (DN_DEVSIM_MEM_MB: the simulated device's card size). */
long long dn_env_mib(const char *name, char *why, size_t whylen);
/* Whether a device allocation of `asked` bytes, with `in_use` already held, goes beyond
 * `budget` (0: no budget), which the variable `limit` set; when it does, msg gets the
 * out-of-memory message (asked, free under the budget, planned, what to change). */
int dn_budget_refuses(size_t asked, size_t in_use, size_t budget, const char *limit,
                      size_t planned, const char *what, char *msg, size_t len);

/* Start-up report of a GPU build: selects device `index` (-1 = -nogpu) and says where each
 * part runs; prints nothing in a CPU build. -1 on a bad index. */
int dn_backend_startup_report(int index);

#endif
