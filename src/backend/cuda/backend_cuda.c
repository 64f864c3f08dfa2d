/* The CUDA backend (GPU=1 builds; backend.h): the ops table over the kernels of
 * src/backend/cuda (cuBLAS gemm, batch norm, activations, pooling, data movement,
 * backend_kernels.cu) and counted device memory (cuda_mem.cu).
 *
 * Every pointer handed to an op is device memory, bn_state arrays included (acc too: 2n
 * doubles). Each kernel wrapper prints its own failure; the first one is kept here and
 * returned (then cleared) by `error`, which the network checks after each forward and
 * backward pass, as CUDA's own sticky error works (with DN_CUDA_SYNC_CHECK=1, sync_check
 * after every layer). Nothing here has run on a GPU yet (docs/gpu.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actnn_cuda.h"
#include "backend/backend.h"
#include "backend/conv_gemm.h"
#include "backend/cuda/conv_ops.h"
#include "backend/cuda/dn_cuda.h"

static int g_err;

/* Keeps the first failure of a kernel wrapper (which already printed why). */
#define CK(call)                               \
    do {                                       \
        if ((call) && !g_err) g_err = -1;      \
    } while (0)

/* Saved activations on the device: actnn_plugin's CUDA path (the CPU's bytes), one plugin
 * context on the default stream where every op of this backend runs, made on first use. */
static actnn_cuda_ctx *g_act;

/* Keeps an actnn_plugin failure as the backend's first error, with its reason. */
static int act_rc(int rc, const char *what)
{
    if (rc == ACTNN_OK) return rc;
    fprintf(stderr, "cuda: actnn_plugin %s: %s%s%s\n", what, actnn_strerror(rc),
            rc == ACTNN_E_CUDA && g_act ? ": " : "",
            rc == ACTNN_E_CUDA && g_act ? actnn_cuda_last_error(g_act) : "");
    if (!g_err) g_err = -1;
    return rc;
}

static int cu_error(void)
{
    /* data errors of the plugin's kernels (NaN to quantize) arrive here: this waits */
    if (g_act) act_rc(actnn_cuda_status(g_act), "a saved-activation kernel");
    /* A kernel fault the runtime has seen by now (no wait): the wrappers check only their
     * launches, so without this a fault would surface at some later call, blamed on it. */
    if (dn_cuda_pending("a kernel or launch before this check (it may be any earlier one: "
                        "DN_CUDA_SYNC_CHECK=1 names its layer)", 0) && !g_err)
        g_err = -1;
    int e = g_err;
    g_err = 0;
    return e;
}

/* DN_CUDA_SYNC_CHECK=1: wait for the device after every layer (sync_check), to find the
 * layer whose kernel faults. Read once; says so when on, as every layer then waits. */
static int sync_check_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("DN_CUDA_SYNC_CHECK");
        on = e && strcmp(e, "1") == 0;
        if (on) fprintf(stderr, "cuda: DN_CUDA_SYNC_CHECK=1: waiting for the device after every "
                                "layer's forward and backward (slower)\n");
    }
    return on;
}

/* backend.h sync_check: in the checking mode, any error of the work issued since the last
 * check (a fault of its kernels, a launch nobody checked, a plugin data error, a wrapper's
 * failure, which printed its own message) is reported with the layer. */
static int cu_sync_check(int index, const char *type, int backward)
{
    if (!sync_check_on()) return 0;
    char what[160];
    snprintf(what, sizeof what, "layer %d (%s) %s (DN_CUDA_SYNC_CHECK=1)", index, type,
             backward ? "backward" : "forward");
    int had = g_err, bad = dn_cuda_pending(what, 1) != 0;
    if (g_act && act_rc(actnn_cuda_status(g_act), what)) bad = 1;
    if (had && !bad) fprintf(stderr, "cuda: %s: an op failed since the last check (above)\n", what);
    if (bad && !g_err) g_err = -1;
    return had || bad ? -1 : 0;
}

/* The plugin's context, made on first use; ACTNN_E_CUDA (kept as the error) if it fails.
 * ACTNN_CUDA_KERNEL=ref (read here, once) selects the plugin's first quantizer kernels,
 * for a device on which the default ones misbehave (actnn_cuda.h ACTNN_CUDA_KERNEL_*). */
static int act_ctx(void)
{
    if (g_act) return ACTNN_OK;
    if (act_rc(actnn_cuda_ctx_create(NULL, &g_act), "context")) {
        g_act = NULL;
        return ACTNN_E_CUDA;
    }
    const char *k = getenv("ACTNN_CUDA_KERNEL");
    if (k && !strcmp(k, "ref")) actnn_cuda_set_kernel(g_act, ACTNN_CUDA_KERNEL_REF);
    return ACTNN_OK;
}

static int act_tensor(const actnn_raw_tensor *t, actnn_cuda_tensor *ct)
{
    if (act_ctx()) return ACTNN_E_CUDA;
    *ct = (actnn_cuda_tensor){.N = t->N, .D = t->D, .G = t->G, .bits = t->bits,
                              .seed = t->seed, .tensor_id = t->tensor_id,
                              .payload = t->payload, .meta = t->meta,
                              .sample_bits = t->sample_bits};
    return ACTNN_OK;
}

static int cu_act_save(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                       const float *x)
{
    (void)host; /* the device quantizes */
    actnn_cuda_tensor ct;
    int rc = act_tensor(t, &ct);
    return rc ? rc : act_rc(actnn_cuda_save(g_act, &ct, n0, count, x), "save");
}

static int cu_act_restore(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                          float *out)
{
    (void)host;
    actnn_cuda_tensor ct;
    int rc = act_tensor(t, &ct);
    return rc ? rc : act_rc(actnn_cuda_restore(g_act, &ct, n0, count, out), "restore");
}

/* Masks, codes and dropout (backend.h act_mask_save...): the plugin's word layout. */
static int cu_act_mask_save(actnn_ctx *host, const float *y, size_t count, size_t D,
                            size_t stride, activation a, uint32_t *words)
{
    (void)host;
    if (dn_gpu_activation_mask_words(y, count, D, stride, a, words)) {
        if (!g_err) g_err = -1; /* the wrapper printed why */
        return ACTNN_E_CUDA;
    }
    return ACTNN_OK;
}

static int cu_act_mask_apply(actnn_ctx *host, const uint32_t *words, size_t D, float *delta,
                             float g1, float g0)
{
    (void)host;
    int rc = act_ctx();
    return rc ? rc : act_rc(actnn_cuda_mask_apply(g_act, words, 1, D, delta, g1, g0), "mask apply");
}

static int cu_act_codes_save(actnn_ctx *host, const uint8_t *codes, size_t count, size_t D,
                             int width, uint32_t *words)
{
    (void)host; /* a code too wide arrives through cu_error (actnn_cuda_status) */
    int rc = act_ctx();
    return rc ? rc : act_rc(actnn_cuda_codes_pack(g_act, codes, count, D, width, words), "codes");
}

static int cu_act_codes_restore(actnn_ctx *host, const uint32_t *words, size_t count, size_t D,
                                int width, uint8_t *codes)
{
    (void)host;
    int rc = act_ctx();
    return rc ? rc
              : act_rc(actnn_cuda_codes_unpack(g_act, words, count, D, width, codes), "codes restore");
}

static int cu_act_dropout(actnn_ctx *host, uint64_t seed, uint64_t tensor_id, float p, size_t i,
                          size_t D, float *x)
{
    (void)host;
    int rc = act_ctx();
    return rc ? rc
              : act_rc(actnn_cuda_dropout_apply(g_act, seed, tensor_id, p, i, D, x), "dropout");
}

static int cu_act_sample_stats(actnn_ctx *host, int kind, const float *x, size_t count,
                               size_t D, size_t stride, size_t G, double *out)
{
    (void)host; /* a NaN to measure arrives through cu_error (actnn_cuda_status) */
    int rc = act_ctx();
    return rc ? rc
              : act_rc(actnn_cuda_sample_stats(g_act, kind, x, count, D, stride, G, out), "statistics");
}

static int cu_act_auto_bits(actnn_ctx *host, const double *cost, size_t n, double avg,
                            uint8_t *bits)
{
    (void)host; /* a refused cost arrives through cu_error (actnn_cuda_status) */
    int rc = act_ctx();
    if (rc) return rc;
    return cost ? act_rc(actnn_cuda_alloc_bits(g_act, cost, n, avg, bits), "widths")
                : act_rc(actnn_cuda_split_bits(g_act, n, avg, bits), "widths");
}

static void cu_mem_info(size_t *peak, size_t *used)
{
    *peak = dn_cuda_peak_bytes();
    *used = dn_cuda_used_bytes();
}

static void cu_mem_avail(size_t *free_b, size_t *total_b) { dn_cuda_mem_avail(free_b, total_b); }

static void *cu_alloc(size_t bytes, const char *what)
{
    void *p = dn_cuda_malloc(bytes ? bytes : 1, what);
    if (p && dn_cuda_zero(p, bytes ? bytes : 1)) {
        dn_cuda_free(p, bytes ? bytes : 1);
        return NULL;
    }
    return p;
}

static void cu_release(void *p, size_t bytes) { dn_cuda_free(p, bytes ? bytes : 1); }
static int cu_push(void *dst, const void *src, size_t bytes) { return dn_cuda_push(dst, src, bytes); }
static int cu_pull(void *dst, const void *src, size_t bytes) { return dn_cuda_pull(dst, src, bytes); }
static void cu_host_release(void *p, size_t bytes)
{
    (void)bytes;
    dn_cuda_host_free(p);
}
static int cu_pull_async(void *dst, const void *src, size_t bytes, uint64_t *ticket)
{
    return dn_cuda_copy_async(dst, src, bytes, 0, ticket);
}
static int cu_push_async(void *dst, const void *src, size_t bytes, uint64_t *ticket)
{
    return dn_cuda_copy_async(dst, src, bytes, 1, ticket);
}

static void cu_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc)
{
    CK(dn_gpu_gemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
}

static void cu_im2col(const float *im, int c, int h, int w, int k, int s, int p, float *col)
{
    CK(dn_gpu_im2col(im, c, h, w, k, s, p, col));
}

static void cu_col2im(const float *col, int c, int h, int w, int k, int s, int p, float *im)
{
    CK(dn_gpu_col2im_add(col, c, h, w, k, s, p, im));
}

/* Convolution: cuDNN in a CUDNN=1 build (conv_ops.c: one call over the batch), else
 * im2col + cuBLAS per group and sample (conv_gemm.h, the CPU backend's orchestration
 * over these kernels). */
static const dn_conv_kernels cu_conv_kernels = {cu_gemm, cu_im2col, cu_col2im};

static void cu_conv_forward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                            const float *w, float *out, void *ws, size_t ws_bytes)
{
    if (dn_gpu_have_cudnn()) CK(dn_cudnn_conv_forward(s, bt, in, w, out, ws, ws_bytes));
    else dn_conv_gemm_forward(&cu_conv_kernels, s, bt, in, w, out, ws);
}

static void cu_conv_backward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                             const float *delta, const float *w, float *wgrad, float *din,
                             void *ws, size_t ws_bytes)
{
    if (dn_gpu_have_cudnn())
        CK(dn_cudnn_conv_backward(s, bt, in, delta, w, wgrad, din, ws, ws_bytes));
    else dn_conv_gemm_backward(&cu_conv_kernels, s, bt, in, delta, w, wgrad, din, ws);
}

static void cu_fill(float *x, size_t n, float v) { CK(dn_gpu_fill(x, n, v)); }
static void cu_axpy(float *y, const float *x, size_t n, float a) { CK(dn_gpu_axpy(y, x, n, a)); }
static void cu_scal(float *x, size_t n, float a) { CK(dn_gpu_scal(x, n, a)); }
static void cu_nonfinite(const float *x, size_t n, float *flag)
{
    CK(dn_gpu_nonfinite_mark(x, n, flag));
}

static void cu_copy(float *dst, const float *src, size_t n)
{
    if (dst != src && n) CK(dn_cuda_copy(dst, src, n * sizeof(float)));
}

static void cu_add_bias(float *x, const float *bias, int batch, int n, int spatial)
{
    CK(dn_gpu_add_bias(x, bias, batch, n, spatial));
}

static void cu_backward_bias(float *upd, const float *delta, int batch, int n, int spatial)
{
    CK(dn_gpu_backward_bias(upd, delta, batch, n, spatial));
}

/* bn.cu's view of a bn_state (the same device arrays). */
static dn_gpu_bn view(const bn_state *b)
{
    dn_gpu_bn v = {b->n, b->scales, b->biases, b->rolling_mean, b->rolling_variance,
                   b->mean, b->variance, b->sum_d, b->sum_dx};
    return v;
}

static void cu_bn_stats_begin(bn_state *b) { CK(dn_cuda_zero(b->acc, 2 * (size_t)b->n * sizeof(double))); }

static void cu_bn_stats_add(bn_state *b, const float *x, int batch, int spatial)
{
    CK(dn_gpu_bn_stats_add(b->acc, x, b->n, batch, spatial));
}

static void cu_bn_stats_end(bn_state *b, double count)
{
    CK(dn_gpu_bn_stats_end(b->acc, b->n, count, b->mean, b->variance, b->rolling_mean,
                           b->rolling_variance));
}

static void cu_bn_normalize(const bn_state *b, float *x, int batch, int spatial)
{
    CK(dn_gpu_bn_normalize(b->mean, b->variance, b->n, x, batch, spatial));
}

/* The CPU backend's composition (bn_ops.c bn_forward_train): the same one-pass double
 * sums, but added in another order (backend_kernels.cu: one block per channel, a fixed
 * tree), so they equal the CPU's within double rounding and the float mean and variance
 * may differ from the CPU's in a last bit. */
static void cu_bn_train(bn_state *b, float *x, int batch, int spatial)
{
    cu_bn_stats_begin(b);
    cu_bn_stats_add(b, x, batch, spatial);
    cu_bn_stats_end(b, (double)batch * spatial);
    cu_bn_normalize(b, x, batch, spatial);
}

static void cu_bn_infer(const bn_state *b, float *x, int batch, int spatial)
{
    dn_gpu_bn v = view(b);
    CK(dn_gpu_bn_forward_infer(&v, x, batch, spatial));
}

static void cu_bn_scale_shift(const bn_state *b, float *x, int batch, int spatial)
{
    dn_gpu_bn v = view(b);
    CK(dn_gpu_bn_scale_shift(&v, x, batch, spatial));
}

static void cu_bn_reset(bn_state *b)
{
    dn_gpu_bn v = view(b);
    CK(dn_gpu_bn_backward_reset(&v));
}

static void cu_bn_sums(bn_state *b, const float *delta, const float *xhat, int spatial)
{
    dn_gpu_bn v = view(b);
    CK(dn_gpu_bn_backward_sums(&v, delta, xhat, 1, spatial));
}

static void cu_bn_params(bn_state *b, float *bias_updates, float *scale_updates)
{
    dn_gpu_bn v = view(b);
    CK(dn_gpu_bn_backward_params(&v, bias_updates, scale_updates));
}

/* backend.h's bn_backward_delta is one sample of a batch of `batch` (cnt = batch*spatial). */
static void cu_bn_delta(const bn_state *b, float *delta, const float *xhat, int batch, int spatial)
{
    dn_gpu_bn v = view(b);
    CK(dn_gpu_bn_backward_delta(&v, delta, xhat, 1, batch, spatial));
}

static void cu_bn_preact(const bn_state *b, const float *xhat, int spatial, float *pre)
{
    CK(dn_gpu_bn_preact(b->scales, b->biases, b->n, xhat, spatial, pre));
}

static void cu_activate(float *x, size_t n, activation a) { CK(dn_gpu_activate(x, n, a)); }

static void cu_gradient(const float *y, const float *x, size_t n, activation a, float *delta)
{
    CK(dn_gpu_gradient(y, x, n, a, delta));
}

static void cu_gradient_from_input(const float *x, size_t n, activation a, float *delta)
{
    CK(dn_gpu_gradient_from_input(x, n, a, delta));
}

static void cu_mask(const float *y, size_t n, activation a, uint8_t *bytes)
{
    CK(dn_gpu_activation_mask(y, n, a, bytes));
}

static void cu_maxpool_fwd(const float *in, int batch, int c, int h, int w, int size, int stride,
                           int pad, float *out, uint8_t *codes)
{
    CK(dn_gpu_maxpool_forward(in, batch, c, h, w, size, stride, pad, out, codes));
}

static void cu_maxpool_bwd(const float *delta, const uint8_t *codes, int batch, int c, int h,
                           int w, int size, int stride, int pad, float *delta_in)
{
    CK(dn_gpu_maxpool_backward(delta, codes, batch, c, h, w, size, stride, pad, delta_in));
}

static void cu_avgpool_fwd(const float *in, int batch, int c, int h, int w, float *out)
{
    CK(dn_gpu_avgpool_forward(in, batch, c, h, w, out));
}

static void cu_avgpool_bwd(const float *delta, int batch, int c, int h, int w, float *delta_in)
{
    CK(dn_gpu_avgpool_backward(delta, batch, c, h, w, delta_in));
}

/* route.cu's copy with offset 0: forward copies rows, backward accumulates them. */
static void cu_copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                         size_t n, int rows, int accumulate)
{
    if (!n || !rows) return;
    CK(dn_gpu_route_copy(src, src_stride, dst, dst_stride, 0, n, rows, accumulate));
}

static void cu_shortcut(int batch, int w1, int h1, int c1, const float *add, int w2, int h2, int c2,
                        float s1, float s2, float *out)
{
    CK(dn_gpu_shortcut_add(batch, w1, h1, c1, add, w2, h2, c2, s1, s2, out));
}

static void cu_mul_fwd(const float *s, const float *x, int batch, int c, int spatial, int mode,
                       float *out)
{
    CK(dn_gpu_mul_forward(s, x, batch, c, spatial, mode, out));
}

static void cu_mul_bwd(const float *d, const float *s, const float *x, int batch, int c,
                       int spatial, int mode, float *ds, float *dx)
{
    CK(dn_gpu_mul_backward(d, s, x, batch, c, spatial, mode, ds, dx));
}

static void cu_upsample_fwd(const float *in, int planes, int h, int w, int s, float scale, float *out)
{
    CK(dn_gpu_upsample_forward(in, planes, 1, h, w, s, scale, out));
}

static void cu_upsample_bwd(const float *delta, int planes, int h, int w, int s, float scale,
                            float *delta_in)
{
    CK(dn_gpu_upsample_backward(delta, planes, 1, h, w, s, scale, delta_in));
}

static void cu_reorg(const float *x, int w, int h, int c, int s, int fwd, int add, float *out)
{
    CK(dn_gpu_reorg(x, w, h, c, s, fwd, add, out));
}

static void cu_crop(const float *in, int batch, int c, int h, int w, int oh, int ow, int dh, int dw,
                    int flip, float scale, float trans, float *out)
{
    CK(dn_gpu_crop(in, batch, c, h, w, oh, ow, dh, dw, flip, scale, trans, out));
}

/* Darknet SGD as three vector kernels, in the CPU's order. */
static void cu_sgd(float *w, float *g, size_t n, float decay_batch, float lr_batch, float momentum)
{
    if (decay_batch != 0) CK(dn_gpu_axpy(g, w, n, -decay_batch));
    CK(dn_gpu_axpy(w, g, n, lr_batch));
    CK(dn_gpu_scal(g, n, momentum));
}

static void cu_adam(float *w, float *g, float *m, float *v, size_t n, float decay_batch, float lr,
                    float B1, float B2, float b1t, float b2t, float eps)
{
    CK(dn_gpu_adam(w, g, m, v, n, decay_batch, lr, B1, B2, b1t, b2t, eps));
}

static const dn_backend cuda_backend = {
    .name = "cuda",
    .device = 1,
    .alloc = cu_alloc,
    .release = cu_release,
    .push = cu_push,
    .pull = cu_pull,
    .error = cu_error,
    .sync_check = cu_sync_check,
    .mem_info = cu_mem_info,
    .mem_avail = cu_mem_avail,
    .set_planned = dn_cuda_set_planned,
    .host_alloc = dn_cuda_host_alloc,
    .host_release = cu_host_release,
    .pull_async = cu_pull_async,
    .push_async = cu_push_async,
    .copy_wait = dn_cuda_copy_wait,
    .gemm = cu_gemm,
    .im2col = cu_im2col,
    .col2im_add = cu_col2im,
    .conv_forward = cu_conv_forward,
    .conv_backward = cu_conv_backward,
    .fill = cu_fill,
    .axpy = cu_axpy,
    .scal = cu_scal,
    .copy = cu_copy,
    .nonfinite_mark = cu_nonfinite,
    .add_bias = cu_add_bias,
    .backward_bias = cu_backward_bias,
    .bn_forward_train = cu_bn_train,
    .bn_stats_begin = cu_bn_stats_begin,
    .bn_stats_add = cu_bn_stats_add,
    .bn_stats_end = cu_bn_stats_end,
    .bn_normalize = cu_bn_normalize,
    .bn_forward_infer = cu_bn_infer,
    .bn_scale_shift = cu_bn_scale_shift,
    .bn_backward_reset = cu_bn_reset,
    .bn_backward_sums = cu_bn_sums,
    .bn_backward_params = cu_bn_params,
    .bn_backward_delta = cu_bn_delta,
    .bn_preact = cu_bn_preact,
    .activate = cu_activate,
    .gradient = cu_gradient,
    .gradient_from_input = cu_gradient_from_input,
    .activation_mask = cu_mask,
    .maxpool_forward = cu_maxpool_fwd,
    .maxpool_backward = cu_maxpool_bwd,
    .avgpool_forward = cu_avgpool_fwd,
    .avgpool_backward = cu_avgpool_bwd,
    .copy_rows = cu_copy_rows,
    .shortcut_add = cu_shortcut,
    .mul_forward = cu_mul_fwd,
    .mul_backward = cu_mul_bwd,
    .upsample_forward = cu_upsample_fwd,
    .upsample_backward = cu_upsample_bwd,
    .reorg = cu_reorg,
    .crop = cu_crop,
    .act_save = cu_act_save,
    .act_restore = cu_act_restore,
    .act_mask_save = cu_act_mask_save,
    .act_mask_apply = cu_act_mask_apply,
    .act_codes_save = cu_act_codes_save,
    .act_codes_restore = cu_act_codes_restore,
    .act_dropout = cu_act_dropout,
    .act_sample_stats = cu_act_sample_stats,
    .act_auto_bits = cu_act_auto_bits,
    .sgd_update = cu_sgd,
    .adam_update = cu_adam,
};

const dn_backend *dn_backend_cuda(int index, char *why, size_t whylen)
{
    if (index < 0) {
        if (why && whylen) snprintf(why, whylen, "disabled by -nogpu");
        return NULL;
    }
    if (dn_cuda_device_count() == 0) {
        if (why && whylen) snprintf(why, whylen, "no CUDA device found");
        return NULL;
    }
    if (dn_cuda_init(index)) {
        if (why && whylen) snprintf(why, whylen, "GPU %d cannot be opened", index);
        return NULL;
    }
    return &cuda_backend;
}

int dn_backend_startup_report(int index) { return dn_cuda_startup_report(index); }
