/* The CPU backend's ops table (backend.h): host memory and today's CPU kernels
 * (blas.c, im2col.c, bn_ops.c, activations.c, pool.c, movement.c, update.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/conv_gemm.h"
#include "backend/cpu/activations.h"
#include "backend/cpu/blas.h"
#include "backend/cpu/bn_ops.h"
#include "backend/cpu/im2col.h"
#include "backend/cpu/cpu_ops.h"

static void *cpu_alloc(size_t bytes, const char *what)
{
    (void)what; /* the caller reports a host shortage with its own context */
    return calloc(bytes ? bytes : 1, 1);
}

static void cpu_release(void *p, size_t bytes)
{
    (void)bytes;
    free(p);
}

static int cpu_move(void *dst, const void *src, size_t bytes)
{
    if (dst != src && bytes) memcpy(dst, src, bytes);
    return 0;
}

static int cpu_error(void) { return 0; }

/* Host memory is the backend's: "async" copies are done when they return. */
static uint64_t cpu_tickets;
static void *cpu_host_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void cpu_host_release(void *p, size_t bytes)
{
    (void)bytes;
    free(p);
}
static int cpu_copy_now(void *dst, const void *src, size_t bytes, uint64_t *ticket)
{
    *ticket = ++cpu_tickets;
    return cpu_move(dst, src, bytes);
}
static int cpu_copy_wait(uint64_t ticket)
{
    (void)ticket;
    return 0;
}

/* Convolution: im2col + gemm per group (conv_gemm.h) over this backend's kernels. */
static const dn_conv_kernels cpu_conv_kernels = {dn_gemm, im2col, col2im_add};

static void cpu_conv_forward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                             const float *w, float *out, void *ws, size_t ws_bytes)
{
    (void)ws_bytes;
    dn_conv_gemm_forward(&cpu_conv_kernels, s, bt, in, w, out, ws);
}

static void cpu_conv_backward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                              const float *delta, const float *w, float *wgrad, float *din,
                              void *ws, size_t ws_bytes)
{
    (void)ws_bytes;
    dn_conv_gemm_backward(&cpu_conv_kernels, s, bt, in, delta, w, wgrad, din, ws);
}

static void cpu_mem_info(size_t *peak, size_t *used) { *peak = *used = 0; }
static void cpu_mem_avail(size_t *free_b, size_t *total_b) { *free_b = *total_b = 0; }
static void cpu_set_planned(size_t bytes) { (void)bytes; }

/* Saved tensors in caller memory (act_save): the host library itself. saved.c takes this
 * path only on a device; on the CPU it keeps the plugin's own handles. */
static int cpu_act_save(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                        const float *x)
{
    return actnn_raw_save(host, t, n0, count, x);
}

static int cpu_act_restore(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                           float *out)
{
    return actnn_raw_restore(host, t, n0, count, out);
}

/* Masks, codes and dropout in caller memory (act_mask_save...): the host library too. */
static int cpu_act_mask_save(actnn_ctx *host, const float *y, size_t count, size_t D,
                             size_t stride, activation a, uint32_t *words)
{
    size_t pay = 0, meta = 0;
    int rc = actnn_mask_size(1, D, &pay, &meta); /* the plugin's layout: words per sample */
    uint8_t *tmp = rc == ACTNN_OK ? malloc(D ? D : 1) : NULL;
    if (rc == ACTNN_OK && !tmp) rc = ACTNN_E_NOMEM;
    size_t wps = pay / sizeof(uint32_t);
    for (size_t n = 0; rc == ACTNN_OK && n < count; ++n) {
        activation_mask(y + n * stride, D, a, tmp);
        rc = actnn_raw_mask_set_bytes(host, D, 1, tmp, words + n * wps);
    }
    free(tmp);
    return rc;
}

static int cpu_act_mask_apply(actnn_ctx *host, const uint32_t *words, size_t D, float *delta,
                              float g1, float g0)
{
    return actnn_raw_mask_apply(host, D, words, delta, g1, g0);
}

static int cpu_act_codes_save(actnn_ctx *host, const uint8_t *codes, size_t count, size_t D,
                              int width, uint32_t *words)
{
    return actnn_raw_codes_set(host, D, width, count, codes, words);
}

static int cpu_act_codes_restore(actnn_ctx *host, const uint32_t *words, size_t count, size_t D,
                                 int width, uint8_t *codes)
{
    return actnn_raw_codes_get(host, D, width, count, words, codes);
}

static int cpu_act_dropout(actnn_ctx *host, uint64_t seed, uint64_t tensor_id, float p, size_t i,
                           size_t D, float *x)
{
    return actnn_raw_dropout_apply(host, seed, tensor_id, p, i, D, x);
}

static int cpu_act_sample_stats(actnn_ctx *host, int kind, const float *x, size_t count,
                                size_t D, size_t stride, size_t G, double *out)
{
    return actnn_sample_stats(host, kind, x, count, D, stride, G, out);
}

/* The heap greedy; the contract's refused-cost case as a device computes it (the widths
 * of zero costs, and the error now). */
static int cpu_act_auto_bits(actnn_ctx *host, const double *cost, size_t n, double avg,
                             uint8_t *bits)
{
    (void)host;
    if (!cost) return actnn_split_bits(n, avg, bits);
    int bad = 0;
    for (size_t k = 0; k < n; ++k) bad |= !(cost[k] >= 0.0 && isfinite(cost[k]));
    return bad ? actnn_alloc_bits_each(cost, n, avg, bits) : actnn_alloc_bits(cost, NULL, n, avg, bits);
}

static const dn_backend cpu_backend = {
    .name = "cpu",
    .device = 0,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .push = cpu_move,
    .pull = cpu_move,
    .error = cpu_error,
    .sync_check = NULL, /* synchronous: every failure is known when the op returns */
    .mem_info = cpu_mem_info,
    .mem_avail = cpu_mem_avail,
    .set_planned = cpu_set_planned,
    .host_alloc = cpu_host_alloc,
    .host_release = cpu_host_release,
    .pull_async = cpu_copy_now,
    .push_async = cpu_copy_now,
    .copy_wait = cpu_copy_wait,
    .gemm = dn_gemm,
    .im2col = im2col,
    .col2im_add = col2im_add,
    .conv_forward = cpu_conv_forward,
    .conv_backward = cpu_conv_backward,
    .fill = fill_f,
    .axpy = axpy_f,
    .scal = scal_f,
    .copy = copy_f,
    .nonfinite_mark = cpu_nonfinite_mark,
    .add_bias = add_bias,
    .backward_bias = backward_bias,
    .bn_forward_train = bn_forward_train,
    .bn_stats_begin = bn_stats_begin,
    .bn_stats_add = bn_stats_add,
    .bn_stats_end = bn_stats_end,
    .bn_stats_add_minmax = bn_stats_add_minmax,
    .bn_xhat_group_ranges = bn_xhat_group_ranges,
    .bn_normalize = bn_normalize,
    .bn_forward_infer = bn_forward_infer,
    .bn_scale_shift = bn_scale_shift,
    .bn_backward_reset = bn_backward_reset,
    .bn_backward_sums = bn_backward_sums,
    .bn_backward_params = bn_backward_params,
    .bn_backward_delta = bn_backward_delta,
    .bn_backward_sums_src = bn_backward_sums_src,
    .bn_backward_delta_src = bn_backward_delta_src,
    .bn_preact = bn_preact,
    .bn_scale_shift_act = bn_scale_shift_act,
    .bn_train_fused = bn_train_fused,
    .bn_xhat_fused = bn_xhat_fused,
    .activate = activate_array,
    .gradient = gradient_array,
    .gradient_from_input = gradient_from_input,
    .activation_mask = activation_mask,
    .maxpool_forward = cpu_maxpool_forward,
    .maxpool_backward = cpu_maxpool_backward,
    .avgpool_forward = cpu_avgpool_forward,
    .avgpool_backward = cpu_avgpool_backward,
    .copy_rows = cpu_copy_rows,
    .shortcut_add = cpu_shortcut_add,
    .mul_forward = cpu_mul_forward,
    .mul_backward = cpu_mul_backward,
    .upsample_forward = cpu_upsample_forward,
    .upsample_backward = cpu_upsample_backward,
    .reorg = cpu_reorg,
    .crop = cpu_crop,
    .act_save = cpu_act_save,
    .act_restore = cpu_act_restore,
    .act_mask_save = cpu_act_mask_save,
    .act_mask_apply = cpu_act_mask_apply,
    .act_codes_save = cpu_act_codes_save,
    .act_codes_restore = cpu_act_codes_restore,
    .act_dropout = cpu_act_dropout,
    .act_sample_stats = cpu_act_sample_stats,
    .act_auto_bits = cpu_act_auto_bits,
    .sgd_update = cpu_sgd_update,
    .adam_update = cpu_adam_update,
};

const dn_backend *dn_backend_cpu(void) { return &cpu_backend; }

#ifndef GPU
const dn_backend *dn_backend_cuda(int index, char *why, size_t whylen)
{
    (void)index;
    if (why && whylen) snprintf(why, whylen, "this is a CPU build (make GPU=1 CUDNN=1 for CUDA)");
    return NULL;
}

int dn_backend_startup_report(int index)
{
    (void)index;
    return 0;
}
#endif
