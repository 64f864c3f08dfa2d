/* The CUDA backend's convolution ops with cuDNN (backend.h conv_forward/conv_backward,
 * CUDNN=1 builds): one cuDNN descriptor set per shape, batch layout (samples and their
 * strides) and workspace size, made on the first call (each op's algorithm chosen on its
 * first use to fit the network's workspace, conv_cudnn.cu) and kept for the process, as a
 * network's shapes and batches repeat every iteration (random=1 resizes and a streamed
 * segment's chunk sizes add a few more).
 *
 * The forward and the input gradient are one cuDNN call over the whole batch, strided
 * as the layer's buffers are. The weight gradient is one batch-1 call per sample, added
 * in sample order (backend.h's contract; the layer restores its saved input one sample
 * at a time anyway), so every batch-1 call shares one set whatever its strides.
 *
 * It owns only that cache; the kernels and descriptors are conv_cudnn.cu's. Never run on
 * a GPU (docs/gpu.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/conv_gemm.h"
#include "backend/cuda/conv_ops.h"
#include "backend/cuda/dn_cuda.h"

typedef struct {
    dn_conv_shape s;
    dn_conv_batch bt; /* packed strides when batch is 1 (they are then never used) */
    size_t ws;
    dn_gpu_conv *cv;
} conv_entry;

static conv_entry *g_convs;
static int g_nconv, g_cap;

static int same_shape(const dn_conv_shape *a, const dn_conv_shape *b)
{
    return a->c == b->c && a->h == b->h && a->w == b->w && a->n == b->n && a->size == b->size &&
           a->stride == b->stride && a->pad == b->pad && a->groups == b->groups &&
           a->out_h == b->out_h && a->out_w == b->out_w;
}

static int same_batch(const dn_conv_batch *a, const dn_conv_batch *b)
{
    return a->batch == b->batch && a->in_stride == b->in_stride && a->out_stride == b->out_stride;
}

/* Room for one more entry; -1 after a message. */
static int cache_grow(void)
{
    if (g_nconv < g_cap) return 0;
    int cap = g_cap ? 2 * g_cap : 32;
    conv_entry *e = realloc(g_convs, (size_t)cap * sizeof *e);
    if (!e) {
        fprintf(stderr, "cuda: out of host memory for convolution descriptors\n");
        return -1;
    }
    g_convs = e;
    g_cap = cap;
    return 0;
}

/* cuDNN's descriptors for shape s over batch layout bt; NULL after a message. */
static dn_gpu_conv *conv_make(const dn_conv_shape *s, const dn_conv_batch *bt, size_t ws_bytes)
{
    dn_gpu_conv_geom g = {bt->batch, s->c, s->h, s->w, s->n, s->size, s->stride, s->pad, 1,
                          s->groups, bt->in_stride, bt->out_stride};
    dn_gpu_conv *cv = dn_gpu_conv_create(&g, ws_bytes);
    if (!cv) return NULL;
    int oh, ow;
    dn_gpu_conv_out_shape(cv, &oh, &ow);
    if (oh != s->out_h || ow != s->out_w) {
        fprintf(stderr, "cudnn: output %dx%d where the layer has %dx%d\n", ow, oh, s->out_w,
                s->out_h);
        dn_gpu_conv_destroy(cv);
        return NULL;
    }
    return cv;
}

/* The descriptors for shape s, layout bt and ws_bytes, made on first use; NULL after a
 * message. */
static dn_gpu_conv *conv_for(const dn_conv_shape *s, const dn_conv_batch *bt, size_t ws_bytes)
{
    if (!dn_conv_batch_ok(s, bt)) {
        fprintf(stderr, "cuda: a convolution of %d samples %zu/%zu floats apart overlaps them\n",
                bt->batch, bt->in_stride, bt->out_stride);
        return NULL;
    }
    dn_conv_batch key = bt->batch == 1 ? dn_conv_packed(s, 1) : *bt;
    for (int i = 0; i < g_nconv; ++i)
        if (g_convs[i].ws == ws_bytes && same_shape(&g_convs[i].s, s) &&
            same_batch(&g_convs[i].bt, &key))
            return g_convs[i].cv;
    if (cache_grow()) return NULL;
    dn_gpu_conv *cv = conv_make(s, &key, ws_bytes);
    if (cv) g_convs[g_nconv++] = (conv_entry){*s, key, ws_bytes, cv};
    return cv;
}

int dn_cudnn_conv_forward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                          const float *w, float *out, void *ws, size_t ws_bytes)
{
    if (bt->batch <= 0) return 0;
    dn_gpu_conv *cv = conv_for(s, bt, ws_bytes);
    return cv ? dn_gpu_conv_forward(cv, in, w, out, ws, ws_bytes) : -1;
}

/* wgrad += each sample's weight gradient, one batch-1 call per sample in sample order. */
static int filter_by_sample(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                            const float *delta, float *wgrad, void *ws, size_t ws_bytes)
{
    dn_conv_batch one = dn_conv_packed(s, 1);
    dn_gpu_conv *cv = conv_for(s, &one, ws_bytes);
    if (!cv) return -1;
    for (int b = 0; b < bt->batch; ++b)
        if (dn_gpu_conv_backward_filter(cv, in + b * bt->in_stride, delta + b * bt->out_stride,
                                        wgrad, ws, ws_bytes))
            return -1;
    return 0;
}

int dn_cudnn_conv_backward(const dn_conv_shape *s, const dn_conv_batch *bt, const float *in,
                           const float *delta, const float *w, float *wgrad, float *din,
                           void *ws, size_t ws_bytes)
{
    if (bt->batch <= 0) return 0;
    if (din) {
        dn_gpu_conv *cv = conv_for(s, bt, ws_bytes);
        if (!cv || dn_gpu_conv_backward_data(cv, w, delta, din, ws, ws_bytes)) return -1;
    }
    return wgrad ? filter_by_sample(s, bt, in, delta, wgrad, ws, ws_bytes) : 0;
}

int dn_cudnn_conv_count(void) { return g_nconv; }

void dn_cudnn_conv_describe(int i, char *buf, size_t len)
{
    if (i < 0 || i >= g_nconv) {
        snprintf(buf, len, "none");
        return;
    }
    const dn_conv_shape *s = &g_convs[i].s;
    const dn_conv_batch *bt = &g_convs[i].bt;
    char algos[200];
    dn_gpu_conv_describe(g_convs[i].cv, algos, sizeof algos);
    snprintf(buf, len, "%dx%dx%d n%d k%d s%d g%d, %d samples %zu/%zu apart: %s", s->c, s->h,
             s->w, s->n, s->size, s->stride, s->groups, bt->batch, bt->in_stride,
             bt->out_stride, algos);
}
