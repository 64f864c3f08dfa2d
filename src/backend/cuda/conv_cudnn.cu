/* conv_cudnn.cu: cuDNN convolution forward and both backwards over a batch of samples
 * whose input and output may be strided (NCHW with a sample stride larger than a
 * sample), with each op's algorithm chosen once per descriptor set, on the op's first
 * call, under the workspace limit (AlexeyAB's workspace_size_limit_MB).
 *
 * Choice: cuDNN's heuristics (the _v7 queries) return every algorithm ranked by expected
 * speed; conv_algos.h turns that answer into the op's candidates: deterministic ones
 * first (CUDNN_DETERMINISTIC: no atomics, so training is repeatable for a seed, as on the
 * CPU; falling back to one with atomics prints a warning once), no FFT or Winograd unless
 * DN_CUDNN_FAST_ALGOS=1 (their fp32 error), each within the limit by cuDNN's workspace
 * query for our descriptors. The op runs the first; an algorithm cuDNN refuses at run
 * time (NOT_SUPPORTED, BAD_PARAM) gives way to the next, and the one that ran is kept.
 * The choice needs no trial runs (cudnnFind* would time real launches and allocate its
 * own scratch). Math is CUDNN_FMA_MATH: on sm_90 the default would let cuDNN use TF32
 * tensor cores, whose 10-bit mantissas would break the "same numbers as the CPU within
 * float tolerance" rule.
 *
 * Darknet semantics: forward overwrites y (beta 0); weight gradients and input deltas
 * accumulate (beta 1), like dn_gemm(..., 1, ...) and col2im_add on the CPU. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

#ifdef CUDNN
#include <cudnn.h>

#include "backend/cuda/conv_algos.h"

struct dn_gpu_conv {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    dn_algo_list ops[3]; /* by dn_algo_op: the candidates, cur = -1 until the op's first call */
    size_t limit;        /* workspace bytes the algorithms may use */
    int out_h, out_w;
    char shape[200];     /* the convolution in words, for messages */
};

static cudnnHandle_t g_dnn;

#define DN_DNN(call, what)                                                                \
    do {                                                                                  \
        cudnnStatus_t s_ = (call);                                                        \
        if (s_ != CUDNN_STATUS_SUCCESS)                                                   \
            return dn_cuda_report(what, cudnnGetErrorString(s_), __FILE__, __LINE__);     \
    } while (0)

static int dnn_handle(void)
{
    if (!g_dnn) DN_DNN(cudnnCreate(&g_dnn), "cudnnCreate");
    return 0;
}

/* A sample stride for cuDNN's int strides: `stride` floats (0: packed) between samples of
 * `sample` floats; -1 with a message when it would overlap them or does not fit. */
static int sample_stride(size_t stride, size_t sample, const char *what, int *out)
{
    if (!stride) stride = sample;
    if (stride < sample || stride > (size_t)INT_MAX) {
        fprintf(stderr, "cudnn: %s samples of %zu floats cannot be %zu floats apart\n", what,
                sample, stride);
        return -1;
    }
    *out = (int)stride;
    return 0;
}

static int create_descriptors(dn_gpu_conv *cv)
{
    DN_DNN(cudnnCreateTensorDescriptor(&cv->x), "cudnnCreateTensorDescriptor(x)");
    DN_DNN(cudnnCreateTensorDescriptor(&cv->y), "cudnnCreateTensorDescriptor(y)");
    DN_DNN(cudnnCreateFilterDescriptor(&cv->w), "cudnnCreateFilterDescriptor");
    DN_DNN(cudnnCreateConvolutionDescriptor(&cv->conv), "cudnnCreateConvolutionDescriptor");
    return 0;
}

/* The input (x, dx) and the filter and convolution descriptors of g. */
static int set_input_and_conv(dn_gpu_conv *cv, const dn_gpu_conv_geom *g, int dilation)
{
    int xs;
    if (sample_stride(g->x_stride, (size_t)g->c * g->h * g->w, "input", &xs)) return -1;
    DN_DNN(cudnnSetTensor4dDescriptorEx(cv->x, CUDNN_DATA_FLOAT, g->batch, g->c, g->h, g->w, xs,
                                        g->h * g->w, g->w, 1),
           "cudnnSetTensor4dDescriptorEx(input)");
    DN_DNN(cudnnSetFilter4dDescriptor(cv->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g->n,
                                      g->c / g->groups, g->size, g->size),
           "cudnnSetFilter4dDescriptor");
    /* Darknet's convolution is a cross-correlation, as cuDNN's CROSS_CORRELATION mode. */
    DN_DNN(cudnnSetConvolution2dDescriptor(cv->conv, g->pad, g->pad, g->stride, g->stride,
                                           dilation, dilation, CUDNN_CROSS_CORRELATION,
                                           CUDNN_DATA_FLOAT),
           "cudnnSetConvolution2dDescriptor");
    DN_DNN(cudnnSetConvolutionGroupCount(cv->conv, g->groups), "cudnnSetConvolutionGroupCount");
    DN_DNN(cudnnSetConvolutionMathType(cv->conv, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
    return 0;
}

/* The output (y, dy) descriptor, of the size cuDNN computes, g->y_stride apart. */
static int set_output(dn_gpu_conv *cv, const dn_gpu_conv_geom *g)
{
    int on, oc, oh, ow, ys;
    DN_DNN(cudnnGetConvolution2dForwardOutputDim(cv->conv, cv->x, cv->w, &on, &oc, &oh, &ow),
           "cudnnGetConvolution2dForwardOutputDim");
    if (sample_stride(g->y_stride, (size_t)oc * oh * ow, "output", &ys)) return -1;
    DN_DNN(cudnnSetTensor4dDescriptorEx(cv->y, CUDNN_DATA_FLOAT, on, oc, oh, ow, ys, oh * ow, ow,
                                        1),
           "cudnnSetTensor4dDescriptorEx(output)");
    cv->out_h = oh;
    cv->out_w = ow;
    return 0;
}

/* The descriptors of one convolution; -1 with a message on failure. */
static int set_descriptors(dn_gpu_conv *cv, const dn_gpu_conv_geom *g)
{
    int dilation = g->dilation < 1 ? 1 : g->dilation;
    if (create_descriptors(cv) || set_input_and_conv(cv, g, dilation)) return -1;
    return set_output(cv, g);
}

/* ---- the algorithm of each op (conv_algos.h says which are tried, in which order) ---- */

/* conv_algos.h's numbers are cuDNN's. */
#define SAME(a, b) ((int)(a) == (int)(b))
static_assert(SAME(CUDNN_CONVOLUTION_FWD_ALGO_FFT, DN_FWD_FFT) &&
                  SAME(CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, DN_FWD_FFT_TILING) &&
                  SAME(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, DN_FWD_WINOGRAD) &&
                  SAME(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, DN_FWD_WINOGRAD_NONFUSED),
              "conv_algos.h: cuDNN's forward algorithm numbers");
static_assert(SAME(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, DN_DATA_FFT) &&
                  SAME(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, DN_DATA_FFT_TILING) &&
                  SAME(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, DN_DATA_WINOGRAD) &&
                  SAME(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, DN_DATA_WINOGRAD_NONFUSED),
              "conv_algos.h: cuDNN's backward-data algorithm numbers");
static_assert(SAME(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, DN_FILTER_FFT) &&
                  SAME(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, DN_FILTER_WINOGRAD_NONFUSED) &&
                  SAME(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, DN_FILTER_FFT_TILING),
              "conv_algos.h: cuDNN's backward-filter algorithm numbers");
#undef SAME

static const char *op_name(dn_algo_op op)
{
    return op == DN_ALGO_FWD ? "forward" : op == DN_ALGO_DATA ? "backward-data" : "backward-filter";
}

/* DN_CUDNN_FAST_ALGOS=1 lets FFT and Winograd algorithms be chosen (conv_algos.h says
 * why they are not by default). Read once: the environment does not change in a run. */
static int fast_algos(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("DN_CUDNN_FAST_ALGOS");
        on = e && strcmp(e, "1") == 0;
    }
    return on;
}

/* The workspace of each op's algorithm for cv's descriptors (dn_algo_ws_fn), as cuDNN
 * computes it for the math type the descriptor holds (CUDNN_FMA_MATH). */
static int ws_fwd(void *ud, int algo, size_t *bytes)
{
    dn_gpu_conv *cv = (dn_gpu_conv *)ud;
    return cudnnGetConvolutionForwardWorkspaceSize(g_dnn, cv->x, cv->w, cv->conv, cv->y,
                                                   (cudnnConvolutionFwdAlgo_t)algo, bytes)
                   == CUDNN_STATUS_SUCCESS ? 0 : -1;
}

static int ws_data(void *ud, int algo, size_t *bytes)
{
    dn_gpu_conv *cv = (dn_gpu_conv *)ud;
    return cudnnGetConvolutionBackwardDataWorkspaceSize(g_dnn, cv->w, cv->y, cv->conv, cv->x,
                                                        (cudnnConvolutionBwdDataAlgo_t)algo, bytes)
                   == CUDNN_STATUS_SUCCESS ? 0 : -1;
}

static int ws_filter(void *ud, int algo, size_t *bytes)
{
    dn_gpu_conv *cv = (dn_gpu_conv *)ud;
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(g_dnn, cv->x, cv->y, cv->conv, cv->w,
                                                          (cudnnConvolutionBwdFilterAlgo_t)algo,
                                                          bytes)
                   == CUDNN_STATUS_SUCCESS ? 0 : -1;
}

/* cuDNN's perf entries as conv_algos.h's hints; their count. */
template <typename Perf>
static int hints_of(const Perf *perf, int got, dn_algo_hint *h)
{
    if (got > DN_ALGO_MAX) got = DN_ALGO_MAX;
    for (int i = 0; i < got; ++i)
        h[i] = dn_algo_hint{(int)perf[i].algo, perf[i].status == CUDNN_STATUS_SUCCESS,
                            perf[i].determinism == CUDNN_DETERMINISTIC};
    return got;
}

/* cuDNN's heuristics for op (every algorithm, ranked by expected speed) into h[0..*n). */
static int query_hints(dn_gpu_conv *cv, dn_algo_op op, dn_algo_hint *h, int *n)
{
    int got = 0;
    if (op == DN_ALGO_FWD) {
        cudnnConvolutionFwdAlgoPerf_t p[DN_ALGO_MAX];
        DN_DNN(cudnnGetConvolutionForwardAlgorithm_v7(g_dnn, cv->x, cv->w, cv->conv, cv->y,
                                                      DN_ALGO_MAX, &got, p),
               "cudnnGetConvolutionForwardAlgorithm_v7");
        *n = hints_of(p, got, h);
    } else if (op == DN_ALGO_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t p[DN_ALGO_MAX];
        DN_DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(g_dnn, cv->w, cv->y, cv->conv, cv->x,
                                                           DN_ALGO_MAX, &got, p),
               "cudnnGetConvolutionBackwardDataAlgorithm_v7");
        *n = hints_of(p, got, h);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t p[DN_ALGO_MAX];
        DN_DNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(g_dnn, cv->x, cv->y, cv->conv, cv->w,
                                                             DN_ALGO_MAX, &got, p),
               "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
        *n = hints_of(p, got, h);
    }
    return 0;
}

/* Once per process, when an op falls back to an algorithm with atomics: the user learns
 * that runs with the same seed will no longer give the same numbers, and where. */
static void warn_nondeterministic(const dn_gpu_conv *cv, dn_algo_op op)
{
    static int warned;
    const dn_algo_list *L = &cv->ops[op];
    if (warned || L->det[L->cur]) return;
    warned = 1;
    fprintf(stderr, "cudnn: warning: no deterministic %s algorithm runs for %s within a "
                    "%zu-byte workspace; using nondeterministic algorithm %d, so training runs "
                    "will not be repeatable for a seed%s (printed once)\n",
            op_name(op), cv->shape, cv->limit, L->algo[L->cur],
            L->skipped_fast ? " (DN_CUDNN_FAST_ALGOS=1 would allow FFT/Winograd ones)" : "");
}

/* Op's candidates, made on its first call; -1 with a message when none qualifies. */
static int choose(dn_gpu_conv *cv, dn_algo_op op)
{
    static const dn_algo_ws_fn ws[] = {ws_fwd, ws_data, ws_filter};
    dn_algo_hint h[DN_ALGO_MAX];
    int n = 0;
    if (query_hints(cv, op, h, &n)) return -1;
    dn_algo_list *L = &cv->ops[op];
    dn_algo_list_build(L, op, h, n, cv->limit, fast_algos(), ws[op], cv);
    if (L->cur >= 0) {
        warn_nondeterministic(cv, op);
        return 0;
    }
    fprintf(stderr, "cudnn: none of the %d %s convolution algorithms cuDNN lists runs within a "
                    "%zu-byte workspace for %s; raise workspace_size_limit_MB in [net]%s\n", n,
            op_name(op), cv->limit, cv->shape,
            L->skipped_fast ? " (FFT/Winograd ones were left out: DN_CUDNN_FAST_ALGOS=1)" : "");
    return -1;
}

extern "C" dn_gpu_conv *dn_gpu_conv_create(const dn_gpu_conv_geom *g, size_t workspace_limit)
{
    if (g->groups < 1 || g->c % g->groups || g->n % g->groups || g->batch < 1) {
        fprintf(stderr, "cudnn: groups=%d must divide channels %d and filters %d, batch %d "
                "must be positive\n", g->groups, g->c, g->n, g->batch);
        return NULL;
    }
    if (dnn_handle()) return NULL;
    dn_gpu_conv *cv = (dn_gpu_conv *)calloc(1, sizeof(dn_gpu_conv));
    if (!cv) {
        fprintf(stderr, "cudnn: out of host memory for a convolution descriptor\n");
        return NULL;
    }
    cv->limit = workspace_limit;
    for (int k = 0; k < 3; ++k) cv->ops[k].cur = -1;
    snprintf(cv->shape, sizeof cv->shape, "batch %d of %dx%dx%d, %d filters %dx%d stride %d pad %d "
             "dilation %d groups %d, samples %zu/%zu floats apart (0: packed)", g->batch, g->c, g->h,
             g->w, g->n, g->size, g->size, g->stride, g->pad, g->dilation < 1 ? 1 : g->dilation,
             g->groups, g->x_stride, g->y_stride);
    if (set_descriptors(cv, g)) {
        dn_gpu_conv_destroy(cv);
        return NULL;
    }
    return cv;
}

extern "C" void dn_gpu_conv_destroy(dn_gpu_conv *cv)
{
    if (!cv) return;
    /* Destroy calls only fail on NULL descriptors, which cuDNN accepts as no-ops. */
    if (cv->x) (void)cudnnDestroyTensorDescriptor(cv->x);
    if (cv->y) (void)cudnnDestroyTensorDescriptor(cv->y);
    if (cv->w) (void)cudnnDestroyFilterDescriptor(cv->w);
    if (cv->conv) (void)cudnnDestroyConvolutionDescriptor(cv->conv);
    free(cv);
}

extern "C" void dn_gpu_conv_out_shape(const dn_gpu_conv *cv, int *out_h, int *out_w)
{
    *out_h = cv->out_h;
    *out_w = cv->out_w;
}

/* One op's algorithm for describe: its number, "-" while not chosen. */
static void algo_text(char *buf, size_t len, const dn_algo_list *L)
{
    if (L->cur < 0) snprintf(buf, len, "-");
    else snprintf(buf, len, "%d%s", L->algo[L->cur], L->det[L->cur] ? "" : "(nondeterministic)");
}

static double ws_mib(const dn_algo_list *L) { return L->cur < 0 ? 0 : L->ws[L->cur] / 1048576.0; }

extern "C" void dn_gpu_conv_describe(const dn_gpu_conv *cv, char *buf, size_t len)
{
    char f[40], d[40], w[40];
    algo_text(f, sizeof f, &cv->ops[DN_ALGO_FWD]);
    algo_text(d, sizeof d, &cv->ops[DN_ALGO_DATA]);
    algo_text(w, sizeof w, &cv->ops[DN_ALGO_FILTER]);
    snprintf(buf, len, "cudnn algos fwd=%s bwd_data=%s bwd_filter=%s, workspace %.1f/%.1f/%.1f MiB",
             f, d, w, ws_mib(&cv->ops[DN_ALGO_FWD]), ws_mib(&cv->ops[DN_ALGO_DATA]),
             ws_mib(&cv->ops[DN_ALGO_FILTER]));
}

/* The operands of one op: forward (a, b) = (x, w) into y; backward-filter (x, dy) into dw;
 * backward-data (w, dy) into dx. */
typedef struct {
    const float *a, *b;
    float *out;
    void *ws;
    size_t ws_bytes;
} op_args;

/* One cuDNN call of op with algorithm `algo`: y = conv (beta 0); dw, dx += (beta 1). */
static cudnnStatus_t launch(dn_gpu_conv *cv, dn_algo_op op, int algo, const op_args *r)
{
    const float one = 1, zero = 0;
    if (op == DN_ALGO_FWD)
        return cudnnConvolutionForward(g_dnn, &one, cv->x, r->a, cv->w, r->b, cv->conv,
                                       (cudnnConvolutionFwdAlgo_t)algo, r->ws, r->ws_bytes, &zero,
                                       cv->y, r->out);
    if (op == DN_ALGO_FILTER)
        return cudnnConvolutionBackwardFilter(g_dnn, &one, cv->x, r->a, cv->y, r->b, cv->conv,
                                              (cudnnConvolutionBwdFilterAlgo_t)algo, r->ws,
                                              r->ws_bytes, &one, cv->w, r->out);
    return cudnnConvolutionBackwardData(g_dnn, &one, cv->w, r->a, cv->y, r->b, cv->conv,
                                        (cudnnConvolutionBwdDataAlgo_t)algo, r->ws, r->ws_bytes,
                                        &one, cv->x, r->out);
}

/* "This algorithm cannot run these descriptors" (cuDNN 9 adds sub-codes to each class):
 * the _v7 heuristics may rank as usable an algorithm that then refuses non-packed strides
 * or groups. cuDNN returns these from its checks before it launches anything, so the
 * output, which the backward ops accumulate into, is untouched and another algorithm may
 * run the call. Any other status is an error. */
static int refused(cudnnStatus_t s)
{
#ifdef CUDNN_STATUS_CATEGORY
    int c = CUDNN_STATUS_CATEGORY((int)s);
    return c == (int)CUDNN_STATUS_NOT_SUPPORTED || c == (int)CUDNN_STATUS_BAD_PARAM;
#else
    return s == CUDNN_STATUS_NOT_SUPPORTED || s == CUDNN_STATUS_BAD_PARAM;
#endif
}

/* The workspace given holds what op's algorithm in use needs; else -1 after a message. */
static int ws_check(const dn_gpu_conv *cv, dn_algo_op op, size_t have)
{
    const dn_algo_list *L = &cv->ops[op];
    if (L->ws[L->cur] <= have) return 0;
    fprintf(stderr, "cudnn: convolution %s algorithm %d needs a %zu-byte workspace, only %zu "
                    "given\n", op_name(op), L->algo[L->cur], L->ws[L->cur], have);
    return -1;
}

/* Op with its algorithm, chosen on the first call. When cuDNN refuses that algorithm, the
 * next candidate that fits the workspace is tried, and the one that runs is kept for the
 * descriptor set's later calls. */
static int run_op(dn_gpu_conv *cv, dn_algo_op op, const op_args *r)
{
    dn_algo_list *L = &cv->ops[op];
    if (L->cur < 0 && choose(cv, op)) return -1;
    if (ws_check(cv, op, r->ws_bytes)) return -1;
    for (;;) {
        cudnnStatus_t s = launch(cv, op, L->algo[L->cur], r);
        if (s == CUDNN_STATUS_SUCCESS) return 0;
        int was = L->algo[L->cur];
        if (!refused(s) || dn_algo_list_next(L, r->ws_bytes)) {
            fprintf(stderr, "cudnn: convolution %s with algorithm %d failed for %s: %s%s\n",
                    op_name(op), was, cv->shape, cudnnGetErrorString(s),
                    refused(s) ? " (no other candidate fits the workspace)" : "");
            return -1;
        }
        fprintf(stderr, "cudnn: convolution %s algorithm %d cannot run %s (%s); trying algorithm "
                        "%d\n", op_name(op), was, cv->shape, cudnnGetErrorString(s), L->algo[L->cur]);
        warn_nondeterministic(cv, op);
    }
}

extern "C" int dn_gpu_conv_forward(dn_gpu_conv *cv, const float *d_x, const float *d_w,
                                   float *d_y, void *d_ws, size_t ws_bytes)
{
    op_args r = {d_x, d_w, d_y, d_ws, ws_bytes};
    return run_op(cv, DN_ALGO_FWD, &r);
}

extern "C" int dn_gpu_conv_backward_filter(dn_gpu_conv *cv, const float *d_x, const float *d_dy,
                                           float *d_dw, void *d_ws, size_t ws_bytes)
{
    op_args r = {d_x, d_dy, d_dw, d_ws, ws_bytes};
    return run_op(cv, DN_ALGO_FILTER, &r);
}

extern "C" int dn_gpu_conv_backward_data(dn_gpu_conv *cv, const float *d_w, const float *d_dy,
                                         float *d_dx, void *d_ws, size_t ws_bytes)
{
    op_args r = {d_w, d_dy, d_dx, d_ws, ws_bytes};
    return run_op(cv, DN_ALGO_DATA, &r);
}

extern "C" int dn_gpu_have_cudnn(void) { return 1; }

#else /* GPU=1 without CUDNN=1: the convolution entry points say so instead of guessing. */

struct dn_gpu_conv {
    int unused;
};

static int no_cudnn(void)
{
    fprintf(stderr, "cuda: convolution on the GPU needs cuDNN: build with make GPU=1 CUDNN=1\n");
    return -1;
}

extern "C" dn_gpu_conv *dn_gpu_conv_create(const dn_gpu_conv_geom *, size_t)
{
    no_cudnn();
    return NULL;
}
extern "C" void dn_gpu_conv_destroy(dn_gpu_conv *cv) { free(cv); }
extern "C" void dn_gpu_conv_out_shape(const dn_gpu_conv *, int *out_h, int *out_w)
{
    *out_h = *out_w = 0;
}
extern "C" void dn_gpu_conv_describe(const dn_gpu_conv *, char *buf, size_t len)
{
    snprintf(buf, len, "no cuDNN");
}
extern "C" int dn_gpu_conv_forward(dn_gpu_conv *, const float *, const float *, float *, void *,
                                   size_t)
{
    return no_cudnn();
}
extern "C" int dn_gpu_conv_backward_filter(dn_gpu_conv *, const float *, const float *, float *,
                                           void *, size_t)
{
    return no_cudnn();
}
extern "C" int dn_gpu_conv_backward_data(dn_gpu_conv *, const float *, const float *, float *,
                                         void *, size_t)
{
    return no_cudnn();
}
extern "C" int dn_gpu_have_cudnn(void) { return 0; }
#endif
