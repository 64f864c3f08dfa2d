/* conv_cudnn.cu: cuDNN convolution forward and both backwards over a batch of samples
 * whose input and output may be strided (NCHW with a sample stride larger than a
 * sample), with each op's algorithm chosen once per descriptor set, on the op's first
 * call, under the workspace limit (AlexeyAB's workspace_size_limit_MB).
 *
 * Choice: cuDNN's heuristics (the _v7 queries) return every algorithm ranked by expected
 * speed with its workspace; we take the first that succeeds, fits the limit and is
 * deterministic (CUDNN_DETERMINISTIC: no atomics, so training is repeatable for a seed,
 * as on the CPU), else the first that fits. The choice needs no trial runs (cudnnFind*
 * would time real launches and allocate its own scratch). Math is CUDNN_FMA_MATH: on sm_90 the default would let
 * cuDNN use TF32 tensor cores, whose 10-bit mantissas would break the "same numbers as
 * the CPU within float tolerance" rule.
 *
 * Darknet semantics: forward overwrites y (beta 0); weight gradients and input deltas
 * accumulate (beta 1), like dn_gemm(..., 1, ...) and col2im_add on the CPU. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

#ifdef CUDNN
#include <cudnn.h>

struct dn_gpu_conv {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_data, ws_filter;
    int det_fwd, det_data, det_filter;    /* 1: the algorithm is deterministic */
    int have_fwd, have_data, have_filter; /* 1: the op's algorithm is chosen */
    size_t limit;                         /* workspace bytes the algorithms may use */
    int out_h, out_w;
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

enum { MAX_ALGOS = 16 };

/* Index in perf[0..got) of the first deterministic algorithm that fits `limit`, else of
 * the first that fits; -1 (with a message naming `what`) when none does. */
template <typename Perf>
static int pick(const Perf *perf, int got, size_t limit, const char *what)
{
    int any = -1;
    for (int i = 0; i < got; ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > limit) continue;
        if (perf[i].determinism == CUDNN_DETERMINISTIC) return i;
        if (any < 0) any = i;
    }
    if (any < 0)
        fprintf(stderr, "cudnn: no %s convolution algorithm fits a %zu-byte workspace; raise "
                        "workspace_size_limit_MB in [net]\n", what, limit);
    return any;
}

static int pick_fwd(dn_gpu_conv *cv)
{
    cudnnConvolutionFwdAlgoPerf_t perf[MAX_ALGOS];
    int got = 0;
    DN_DNN(cudnnGetConvolutionForwardAlgorithm_v7(g_dnn, cv->x, cv->w, cv->conv, cv->y, MAX_ALGOS,
                                                  &got, perf),
           "cudnnGetConvolutionForwardAlgorithm_v7");
    int i = pick(perf, got, cv->limit, "forward");
    if (i < 0) return -1;
    cv->fwd = perf[i].algo;
    cv->ws_fwd = perf[i].memory;
    cv->det_fwd = perf[i].determinism == CUDNN_DETERMINISTIC;
    cv->have_fwd = 1;
    return 0;
}

static int pick_bwd_data(dn_gpu_conv *cv)
{
    cudnnConvolutionBwdDataAlgoPerf_t perf[MAX_ALGOS];
    int got = 0;
    DN_DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(g_dnn, cv->w, cv->y, cv->conv, cv->x,
                                                       MAX_ALGOS, &got, perf),
           "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    int i = pick(perf, got, cv->limit, "backward-data");
    if (i < 0) return -1;
    cv->bwd_data = perf[i].algo;
    cv->ws_data = perf[i].memory;
    cv->det_data = perf[i].determinism == CUDNN_DETERMINISTIC;
    cv->have_data = 1;
    return 0;
}

static int pick_bwd_filter(dn_gpu_conv *cv)
{
    cudnnConvolutionBwdFilterAlgoPerf_t perf[MAX_ALGOS];
    int got = 0;
    DN_DNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(g_dnn, cv->x, cv->y, cv->conv, cv->w,
                                                         MAX_ALGOS, &got, perf),
           "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    int i = pick(perf, got, cv->limit, "backward-filter");
    if (i < 0) return -1;
    cv->bwd_filter = perf[i].algo;
    cv->ws_filter = perf[i].memory;
    cv->det_filter = perf[i].determinism == CUDNN_DETERMINISTIC;
    cv->have_filter = 1;
    return 0;
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
static void algo_text(char *buf, size_t len, int have, int algo, int det)
{
    if (!have) snprintf(buf, len, "-");
    else snprintf(buf, len, "%d%s", algo, det ? "" : "(nondeterministic)");
}

extern "C" void dn_gpu_conv_describe(const dn_gpu_conv *cv, char *buf, size_t len)
{
    char f[40], d[40], w[40];
    algo_text(f, sizeof f, cv->have_fwd, (int)cv->fwd, cv->det_fwd);
    algo_text(d, sizeof d, cv->have_data, (int)cv->bwd_data, cv->det_data);
    algo_text(w, sizeof w, cv->have_filter, (int)cv->bwd_filter, cv->det_filter);
    snprintf(buf, len, "cudnn algos fwd=%s bwd_data=%s bwd_filter=%s, workspace %.1f/%.1f/%.1f MiB",
             f, d, w, cv->ws_fwd / 1048576.0, cv->ws_data / 1048576.0, cv->ws_filter / 1048576.0);
}

static int ws_check(size_t need, size_t have, const char *what)
{
    if (need <= have) return 0;
    fprintf(stderr, "cudnn: %s needs a %zu-byte workspace, only %zu given\n", what, need, have);
    return -1;
}

extern "C" int dn_gpu_conv_forward(dn_gpu_conv *cv, const float *d_x, const float *d_w,
                                   float *d_y, void *d_ws, size_t ws_bytes)
{
    const float one = 1, zero = 0;
    if (!cv->have_fwd && pick_fwd(cv)) return -1;
    if (ws_check(cv->ws_fwd, ws_bytes, "convolution forward")) return -1;
    DN_DNN(cudnnConvolutionForward(g_dnn, &one, cv->x, d_x, cv->w, d_w, cv->conv, cv->fwd, d_ws,
                                   ws_bytes, &zero, cv->y, d_y),
           "cudnnConvolutionForward");
    return 0;
}

extern "C" int dn_gpu_conv_backward_filter(dn_gpu_conv *cv, const float *d_x, const float *d_dy,
                                           float *d_dw, void *d_ws, size_t ws_bytes)
{
    const float one = 1;
    if (!cv->have_filter && pick_bwd_filter(cv)) return -1;
    if (ws_check(cv->ws_filter, ws_bytes, "convolution backward filter")) return -1;
    DN_DNN(cudnnConvolutionBackwardFilter(g_dnn, &one, cv->x, d_x, cv->y, d_dy, cv->conv,
                                          cv->bwd_filter, d_ws, ws_bytes, &one, cv->w, d_dw),
           "cudnnConvolutionBackwardFilter");
    return 0;
}

extern "C" int dn_gpu_conv_backward_data(dn_gpu_conv *cv, const float *d_w, const float *d_dy,
                                         float *d_dx, void *d_ws, size_t ws_bytes)
{
    const float one = 1;
    if (!cv->have_data && pick_bwd_data(cv)) return -1;
    if (ws_check(cv->ws_data, ws_bytes, "convolution backward data")) return -1;
    DN_DNN(cudnnConvolutionBackwardData(g_dnn, &one, cv->w, d_w, cv->y, d_dy, cv->conv,
                                        cv->bwd_data, d_ws, ws_bytes, &one, cv->x, d_dx),
           "cudnnConvolutionBackwardData");
    return 0;
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
