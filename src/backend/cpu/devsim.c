/* "devsim": a simulated device backend for testing device placement without a GPU.
 *
 * Its memory is host memory, but every pointer it hands out is tagged: TAG is added to
 * the real address, which puts it in [2^47, 2^48), a non-canonical x86-64 address. Any
 * dereference outside this backend (a layer, the saved store, the loader reading a buffer
 * that lives "on the device") faults at once instead of silently working as it would
 * with host memory. Its ops untag their pointer arguments and run the CPU backend's ops,
 * so a run on devsim computes exactly what a CPU run computes: a test that trains on both
 * and compares the weights byte for byte shows that the network reaches its buffers only
 * through the ops table, push and pull, i.e. that the CUDA backend gets the same calls.
 * Its ops also refuse host pointers (a kernel would read an illegal address there).
 * Pointer arithmetic on tagged pointers (x->out + b * stride) is fine: it never leaves
 * the tagged range for an allocation smaller than 2^46 bytes.
 *
 * DN_DEVSIM_MEM_MB=N gives it a card of N MiB: mem_avail reports what is left of it, and
 * an allocation beyond it fails with the out-of-memory message a GPU run prints, so the
 * sizing to a card's memory and the failure path are tested without one. DN_GPU_BUDGET_MB
 * refuses as the CUDA allocator does.
 *
 * Selected with DN_BACKEND=devsim (core/place.c); tests only, reported at start-up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/conv_gemm.h"

#define TAG ((uintptr_t)1 << 47)

static const dn_backend *C(void) { return dn_backend_cpu(); }

static void *tag(void *p) { return p ? (void *)((uintptr_t)p + TAG) : NULL; }

/* A device pointer's host address. A host pointer handed to an op is a bug a GPU would
 * hit as an illegal address: it stops the run here with a message (abort). */
static void *un(const void *p)
{
    uintptr_t u = (uintptr_t)p;
    if (!p) return NULL;
    if (u >= TAG && u < 2 * TAG) return (void *)(u - TAG);
    fprintf(stderr, "devsim: a host pointer %p was passed to a device op\n", p);
    abort();
}
#define F(p) ((float *)un(p))
#define U8(p) ((uint8_t *)un(p))

static size_t in_use, peak, planned;

/* The simulated card's size in bytes (DN_DEVSIM_MEM_MB; 0: unlimited, -1: a bad value). */
static long long card(char *why, size_t len) { return dn_env_mib("DN_DEVSIM_MEM_MB", why, len); }

/* Whether the card, or DN_GPU_BUDGET_MB as the CUDA allocator applies it, refuses an
 * allocation (after the message a GPU run prints). */
static int refuses(size_t bytes, const char *what)
{
    char why[160], msg[768];
    long long size = card(why, sizeof why), budget = size < 0 ? 0 : dn_budget_bytes(why, sizeof why);
    if (size < 0 || budget < 0) {
        fprintf(stderr, "devsim: %s\n", why);
        return 1;
    }
    if (dn_budget_refuses(bytes, in_use, (size_t)size, "DN_DEVSIM_MEM_MB", planned, what, msg,
                          sizeof msg) ||
        dn_budget_refuses(bytes, in_use, (size_t)budget, "DN_GPU_BUDGET_MB", planned, what, msg,
                          sizeof msg)) {
        fprintf(stderr, "devsim: %s\n", msg);
        return 1;
    }
    return 0;
}

static void *ds_alloc(size_t bytes, const char *what)
{
    if (refuses(bytes, what)) return NULL;
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) return NULL;
    in_use += bytes;
    if (in_use > peak) peak = in_use;
    return tag(p);
}

static void ds_release(void *p, size_t bytes)
{
    if (!p) return;
    in_use -= bytes < in_use ? bytes : in_use;
    free(un(p));
}

static size_t n_push, n_pull; /* dn_devsim_copies */

static int ds_push(void *dst, const void *src, size_t bytes)
{
    ++n_push;
    if (bytes) memcpy(un(dst), src, bytes);
    return 0;
}

static int ds_pull(void *dst, const void *src, size_t bytes)
{
    ++n_pull;
    if (bytes) memcpy(dst, un(src), bytes);
    return 0;
}

void dn_devsim_copies(size_t *pushes, size_t *pulls)
{
    *pushes = n_push;
    *pulls = n_pull;
}

/* Copies on the "second stream" (pull_async/push_async): queued and carried out only at
 * copy_wait, the latest a device may finish them. A caller that reuses a pulled block,
 * frees it, or reads a pushed one before waiting gets stale or missing bytes (or an ASan
 * report), which tests see, where a GPU would be right or wrong by timing. */
typedef struct {
    char *dst;
    const char *src;
    size_t bytes;
} ds_qcopy;
static ds_qcopy *queue;
static size_t queued, qcap;
static uint64_t issued, done_upto; /* tickets 1..issued; done up to done_upto */

static int ds_enqueue(void *dst, const void *src, size_t bytes, uint64_t *ticket)
{
    if (queued == qcap) {
        size_t cap = qcap ? 2 * qcap : 64;
        ds_qcopy *q = realloc(queue, cap * sizeof *q);
        if (!q) return -1;
        queue = q;
        qcap = cap;
    }
    queue[queued++] = (ds_qcopy){dst, src, bytes};
    *ticket = ++issued;
    return 0;
}

static int ds_pull_async(void *dst, const void *src, size_t bytes, uint64_t *ticket)
{
    return ds_enqueue(dst, un(src), bytes, ticket);
}

static int ds_push_async(void *dst, const void *src, size_t bytes, uint64_t *ticket)
{
    return ds_enqueue(un(dst), src, bytes, ticket);
}

static int ds_copy_wait(uint64_t ticket)
{
    if (ticket != DN_COPY_ALL && ticket > issued) {
        fprintf(stderr, "devsim: copy_wait for ticket %llu, only %llu issued\n",
                (unsigned long long)ticket, (unsigned long long)issued);
        abort();
    }
    uint64_t upto = ticket == DN_COPY_ALL ? issued : ticket;
    size_t n = upto > done_upto ? (size_t)(upto - done_upto) : 0;
    for (size_t i = 0; i < n; ++i)
        if (queue[i].bytes) memcpy(queue[i].dst, queue[i].src, queue[i].bytes);
    if (n && queued > n) memmove(queue, queue + n, (queued - n) * sizeof *queue);
    queued -= n;
    done_upto += n;
    return 0;
}

static void *ds_host_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
static void ds_host_release(void *p, size_t bytes)
{
    (void)bytes;
    free(p);
}

static int ds_error(void) { return 0; }

static void ds_mem_info(size_t *pk, size_t *used)
{
    *pk = peak;
    *used = in_use;
}

static void ds_mem_avail(size_t *free_b, size_t *total_b)
{
    long long size = card(NULL, 0);
    *total_b = size > 0 ? (size_t)size : 0;
    *free_b = *total_b > in_use ? *total_b - in_use : 0;
}

static void ds_set_planned(size_t bytes) { planned = bytes; }

static void ds_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
                    const float *B, int ldb, float beta, float *Cm, int ldc)
{
    C()->gemm(TA, TB, M, N, K, alpha, F(A), lda, F(B), ldb, beta, F(Cm), ldc);
}

static void ds_im2col(const float *im, int c, int h, int w, int k, int s, int p, float *col)
{
    C()->im2col(F(im), c, h, w, k, s, p, F(col));
}

static void ds_col2im(const float *col, int c, int h, int w, int k, int s, int p, float *im)
{
    C()->col2im_add(F(col), c, h, w, k, s, p, F(im));
}

/* A convolution handed less workspace than its shape needs, or strides that overlap its
 * samples, would overrun a device buffer: stop here, as an illegal address would. */
static void ds_need_ws(const dn_conv_shape *s, const dn_conv_batch *bt, size_t ws_bytes)
{
    if (!dn_conv_batch_ok(s, bt)) {
        fprintf(stderr, "devsim: a convolution of %d samples with strides %zu/%zu overlaps "
                "them\n", bt->batch, bt->in_stride, bt->out_stride);
        abort();
    }
    if (ws_bytes >= dn_conv_ws_bytes(s)) return;
    fprintf(stderr, "devsim: a convolution needs %zu workspace bytes, got %zu\n",
            dn_conv_ws_bytes(s), ws_bytes);
    abort();
}

/* Convolution: the shared im2col + gemm orchestration over this backend's own (tagged)
 * kernels, as the CUDA backend without cuDNN runs it: it must never touch a buffer. */
static const dn_conv_kernels ds_conv_kernels = {ds_gemm, ds_im2col, ds_col2im};

static void ds_conv_forward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                            const float *w, float *out, void *ws, size_t ws_bytes)
{
    ds_need_ws(s, bt, ws_bytes);
    dn_conv_gemm_forward(&ds_conv_kernels, s, bt, in, w, out, ws);
}

static void ds_conv_backward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                             const float *delta, const float *w, float *wgrad, float *din,
                             void *ws, size_t ws_bytes)
{
    ds_need_ws(s, bt, ws_bytes);
    dn_conv_gemm_backward(&ds_conv_kernels, s, bt, in, delta, w, wgrad, din, ws);
}

static void ds_fill(float *x, size_t n, float v) { C()->fill(F(x), n, v); }
static void ds_axpy(float *y, const float *x, size_t n, float a) { C()->axpy(F(y), F(x), n, a); }
static void ds_scal(float *x, size_t n, float a) { C()->scal(F(x), n, a); }
static void ds_copy(float *d, const float *s, size_t n) { C()->copy(F(d), F(s), n); }
static void ds_nonfinite(const float *x, size_t n, float *flag)
{
    C()->nonfinite_mark(F(x), n, F(flag));
}

static void ds_add_bias(float *x, const float *b, int batch, int n, int sp)
{
    C()->add_bias(F(x), F(b), batch, n, sp);
}

static void ds_backward_bias(float *bu, const float *d, int batch, int n, int sp)
{
    C()->backward_bias(F(bu), F(d), batch, n, sp);
}

/* A copy of the state with host addresses; the ops write through its pointers only. */
static bn_state host_bn(const bn_state *b)
{
    bn_state h = *b;
    h.scales = F(b->scales);
    h.biases = F(b->biases);
    h.rolling_mean = F(b->rolling_mean);
    h.rolling_variance = F(b->rolling_variance);
    h.mean = F(b->mean);
    h.variance = F(b->variance);
    h.sum_d = F(b->sum_d);
    h.sum_dx = F(b->sum_dx);
    h.acc = (double *)un(b->acc);
    return h;
}

static void ds_bn_train(bn_state *b, float *x, int batch, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_forward_train(&h, F(x), batch, sp);
}

static void ds_bn_begin(bn_state *b)
{
    bn_state h = host_bn(b);
    C()->bn_stats_begin(&h);
}

static void ds_bn_add(bn_state *b, const float *x, int batch, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_stats_add(&h, F(x), batch, sp);
}

static void ds_bn_end(bn_state *b, double count)
{
    bn_state h = host_bn(b);
    C()->bn_stats_end(&h, count);
}

static void ds_bn_norm(const bn_state *b, float *x, int batch, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_normalize(&h, F(x), batch, sp);
}

static void ds_bn_infer(const bn_state *b, float *x, int batch, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_forward_infer(&h, F(x), batch, sp);
}

static void ds_bn_ss(const bn_state *b, float *x, int batch, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_scale_shift(&h, F(x), batch, sp);
}

static void ds_bn_reset(bn_state *b)
{
    bn_state h = host_bn(b);
    C()->bn_backward_reset(&h);
}

static void ds_bn_sums(bn_state *b, const float *d, const float *xh, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_backward_sums(&h, F(d), F(xh), sp);
}

static void ds_bn_params(bn_state *b, float *bu, float *su)
{
    bn_state h = host_bn(b);
    C()->bn_backward_params(&h, F(bu), F(su));
}

static void ds_bn_delta(const bn_state *b, float *d, const float *xh, int batch, int sp)
{
    bn_state h = host_bn(b);
    C()->bn_backward_delta(&h, F(d), F(xh), batch, sp);
}

static void ds_bn_preact(const bn_state *b, const float *xh, int sp, float *pre)
{
    bn_state h = host_bn(b);
    C()->bn_preact(&h, F(xh), sp, F(pre));
}

static void ds_bn_ssa(const bn_state *b, float *x, int sp, activation a)
{
    bn_state h = host_bn(b);
    C()->bn_scale_shift_act(&h, F(x), sp, a);
}

static void ds_activate(float *x, size_t n, activation a) { C()->activate(F(x), n, a); }

static void ds_gradient(const float *y, const float *x, size_t n, activation a, float *d)
{
    C()->gradient(F(y), F(x), n, a, F(d));
}

static void ds_gradient_in(const float *x, size_t n, activation a, float *d)
{
    C()->gradient_from_input(F(x), n, a, F(d));
}

static void ds_mask(const float *y, size_t n, activation a, uint8_t *bytes)
{
    C()->activation_mask(F(y), n, a, U8(bytes));
}

static void ds_maxpool_fwd(const float *in, int batch, int c, int h, int w, int size, int stride,
                           int pad, float *out, uint8_t *codes)
{
    C()->maxpool_forward(F(in), batch, c, h, w, size, stride, pad, F(out), U8(codes));
}

static void ds_maxpool_bwd(const float *d, const uint8_t *codes, int batch, int c, int h, int w,
                           int size, int stride, int pad, float *din)
{
    C()->maxpool_backward(F(d), U8(codes), batch, c, h, w, size, stride, pad, F(din));
}

static void ds_avgpool_fwd(const float *in, int batch, int c, int h, int w, float *out)
{
    C()->avgpool_forward(F(in), batch, c, h, w, F(out));
}

static void ds_avgpool_bwd(const float *d, int batch, int c, int h, int w, float *din)
{
    C()->avgpool_backward(F(d), batch, c, h, w, F(din));
}

static void ds_copy_rows(float *dst, size_t ds, const float *src, size_t ss, size_t n, int rows,
                         int acc)
{
    C()->copy_rows(F(dst), ds, F(src), ss, n, rows, acc);
}

static void ds_shortcut(int batch, int w1, int h1, int c1, const float *add, int w2, int h2,
                        int c2, float s1, float s2, float *out)
{
    C()->shortcut_add(batch, w1, h1, c1, F(add), w2, h2, c2, s1, s2, F(out));
}

static void ds_mul_fwd(const float *s, const float *x, int batch, int c, int spatial, int mode,
                       float *out)
{
    C()->mul_forward(F(s), F(x), batch, c, spatial, mode, F(out));
}

static void ds_mul_bwd(const float *d, const float *s, const float *x, int batch, int c,
                       int spatial, int mode, float *ds, float *dx)
{
    C()->mul_backward(F(d), F(s), F(x), batch, c, spatial, mode, F(ds), F(dx));
}

static void ds_up_fwd(const float *in, int planes, int h, int w, int stride, float scale,
                      float *out)
{
    C()->upsample_forward(F(in), planes, h, w, stride, scale, F(out));
}

static void ds_up_bwd(const float *d, int planes, int h, int w, int stride, float scale,
                      float *din)
{
    C()->upsample_backward(F(d), planes, h, w, stride, scale, F(din));
}

static void ds_reorg(const float *x, int w, int h, int c, int stride, int fwd, int add, float *out)
{
    C()->reorg(F(x), w, h, c, stride, fwd, add, F(out));
}

static void ds_crop(const float *in, int batch, int c, int h, int w, int oh, int ow, int dh,
                    int dw, int flip, float scale, float trans, float *out)
{
    C()->crop(F(in), batch, c, h, w, oh, ow, dh, dw, flip, scale, trans, F(out));
}

static void ds_sgd(float *w, float *g, size_t n, float decay, float lr, float mom)
{
    C()->sgd_update(F(w), F(g), n, decay, lr, mom);
}

static void ds_adam(float *w, float *g, float *m, float *v, size_t n, float decay, float lr,
                    float B1, float B2, float b1t, float b2t, float eps)
{
    C()->adam_update(F(w), F(g), F(m), F(v), n, decay, lr, B1, B2, b1t, b2t, eps);
}

/* Saved activations: the host library on the untagged payload, metadata and values, so a
 * devsim run stores exactly the bytes a CPU run does (the CUDA path's contract). */
static actnn_raw_tensor raw_host(const actnn_raw_tensor *t)
{
    actnn_raw_tensor h = *t;
    h.payload = un(t->payload);
    h.meta = t->meta ? (uint16_t *)un(t->meta) : NULL;
    h.sample_bits = t->sample_bits ? (const uint8_t *)un(t->sample_bits) : NULL;
    return h;
}

static int ds_act_save(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                       const float *x)
{
    actnn_raw_tensor h = raw_host(t);
    return actnn_raw_save(host, &h, n0, count, F(x));
}

static int ds_act_restore(actnn_ctx *host, const actnn_raw_tensor *t, size_t n0, size_t count,
                          float *out)
{
    actnn_raw_tensor h = raw_host(t);
    return actnn_raw_restore(host, &h, n0, count, F(out));
}

#define U32(p) ((uint32_t *)un(p))

static int ds_act_mask_save(actnn_ctx *host, const float *y, size_t count, size_t D,
                            size_t stride, activation a, uint32_t *words)
{
    return C()->act_mask_save(host, F(y), count, D, stride, a, U32(words));
}

static int ds_act_mask_apply(actnn_ctx *host, const uint32_t *words, size_t D, float *delta,
                             float g1, float g0)
{
    return C()->act_mask_apply(host, U32(words), D, F(delta), g1, g0);
}

static int ds_act_codes_save(actnn_ctx *host, const uint8_t *codes, size_t count, size_t D,
                             int width, uint32_t *words)
{
    return C()->act_codes_save(host, U8(codes), count, D, width, U32(words));
}

static int ds_act_codes_restore(actnn_ctx *host, const uint32_t *words, size_t count, size_t D,
                                int width, uint8_t *codes)
{
    return C()->act_codes_restore(host, U32(words), count, D, width, U8(codes));
}

static int ds_act_sample_stats(actnn_ctx *host, int kind, const float *x, size_t count,
                               size_t D, size_t stride, size_t G, double *out)
{
    return C()->act_sample_stats(host, kind, F(x), count, D, stride, G, (double *)un(out));
}

/* The widths as the CUDA kernel decides them (each sample on its own), so a devsim run,
 * compared with the CPU's heap, checks that method end to end. */
static int ds_act_auto_bits(actnn_ctx *host, const double *cost, size_t n, double avg,
                            uint8_t *bits)
{
    (void)host;
    return cost ? actnn_alloc_bits_each((const double *)un(cost), n, avg, U8(bits))
                : actnn_split_bits(n, avg, U8(bits));
}

static int ds_act_dropout(actnn_ctx *host, uint64_t seed, uint64_t tensor_id, float p, size_t i,
                          size_t D, float *x)
{
    return C()->act_dropout(host, seed, tensor_id, p, i, D, F(x));
}

static dn_backend devsim = {
    .name = "devsim",
    .device = 1,
    .alloc = ds_alloc,
    .release = ds_release,
    .push = ds_push,
    .pull = ds_pull,
    .error = ds_error,
    .sync_check = NULL, /* the CPU's ops underneath: nothing runs asynchronously */
    .mem_info = ds_mem_info,
    .mem_avail = ds_mem_avail,
    .set_planned = ds_set_planned,
    .host_alloc = ds_host_alloc,
    .host_release = ds_host_release,
    .pull_async = ds_pull_async,
    .push_async = ds_push_async,
    .copy_wait = ds_copy_wait,
    .gemm = ds_gemm,
    .im2col = ds_im2col,
    .conv_forward = ds_conv_forward,
    .conv_backward = ds_conv_backward,
    .col2im_add = ds_col2im,
    .fill = ds_fill,
    .axpy = ds_axpy,
    .scal = ds_scal,
    .copy = ds_copy,
    .nonfinite_mark = ds_nonfinite,
    .add_bias = ds_add_bias,
    .backward_bias = ds_backward_bias,
    .bn_forward_train = ds_bn_train,
    .bn_stats_begin = ds_bn_begin,
    .bn_stats_add = ds_bn_add,
    .bn_stats_end = ds_bn_end,
    .bn_normalize = ds_bn_norm,
    .bn_forward_infer = ds_bn_infer,
    .bn_scale_shift = ds_bn_ss,
    .bn_backward_reset = ds_bn_reset,
    .bn_backward_sums = ds_bn_sums,
    .bn_backward_params = ds_bn_params,
    .bn_backward_delta = ds_bn_delta,
    .bn_preact = ds_bn_preact,
    .bn_scale_shift_act = NULL, /* set below when the CPU backend has it */
    .activate = ds_activate,
    .gradient = ds_gradient,
    .gradient_from_input = ds_gradient_in,
    .activation_mask = ds_mask,
    .maxpool_forward = ds_maxpool_fwd,
    .maxpool_backward = ds_maxpool_bwd,
    .avgpool_forward = ds_avgpool_fwd,
    .avgpool_backward = ds_avgpool_bwd,
    .copy_rows = ds_copy_rows,
    .shortcut_add = ds_shortcut,
    .mul_forward = ds_mul_fwd,
    .mul_backward = ds_mul_bwd,
    .upsample_forward = ds_up_fwd,
    .upsample_backward = ds_up_bwd,
    .reorg = ds_reorg,
    .crop = ds_crop,
    .act_save = ds_act_save,
    .act_restore = ds_act_restore,
    .act_mask_save = ds_act_mask_save,
    .act_mask_apply = ds_act_mask_apply,
    .act_codes_save = ds_act_codes_save,
    .act_codes_restore = ds_act_codes_restore,
    .act_dropout = ds_act_dropout,
    .act_sample_stats = ds_act_sample_stats,
    .act_auto_bits = ds_act_auto_bits,
    .sgd_update = ds_sgd,
    .adam_update = ds_adam,
};

const dn_backend *dn_backend_devsim(void)
{
    /* optional ops mirror the CPU backend's, so both run the same layer code path */
    devsim.bn_scale_shift_act = C()->bn_scale_shift_act ? ds_bn_ssa : NULL;
    return &devsim;
}
