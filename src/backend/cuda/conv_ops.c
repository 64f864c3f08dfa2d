/* The CUDA backend's convolution ops with cuDNN (backend.h conv_forward/conv_backward,
 * CUDNN=1 builds): one cuDNN descriptor set per shape and workspace size, made on the
 * first call (its algorithms chosen to fit the network's workspace, conv_cudnn.cu) and
 * kept for the process, as a network's shapes repeat every iteration (random=1 resizes
 * add a few more). A sample at a time, as the CPU backend computes it: batch 1
 * descriptors, so a chunk of a streamed segment needs no other set.
 *
 * It owns only that cache; the kernels and descriptors are conv_cudnn.cu's. Never run on
 * a GPU (docs/gpu.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/conv_ops.h"
#include "backend/cuda/dn_cuda.h"

typedef struct {
    dn_conv_shape s;
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

/* The descriptors for shape s under ws_bytes, made on first use; NULL after a message. */
static dn_gpu_conv *conv_for(const dn_conv_shape *s, size_t ws_bytes)
{
    for (int i = 0; i < g_nconv; ++i)
        if (g_convs[i].ws == ws_bytes && same_shape(&g_convs[i].s, s)) return g_convs[i].cv;
    if (g_nconv == g_cap) {
        int cap = g_cap ? 2 * g_cap : 32;
        conv_entry *e = realloc(g_convs, (size_t)cap * sizeof *e);
        if (!e) {
            fprintf(stderr, "cuda: out of host memory for convolution descriptors\n");
            return NULL;
        }
        g_convs = e;
        g_cap = cap;
    }
    size_t need = 0;
    dn_gpu_conv *cv = dn_gpu_conv_create(1, s->c, s->h, s->w, s->n, s->size, s->stride, s->pad,
                                         1, s->groups, ws_bytes, &need);
    if (!cv) return NULL;
    int oh, ow;
    dn_gpu_conv_out_shape(cv, &oh, &ow);
    if (oh != s->out_h || ow != s->out_w) {
        fprintf(stderr, "cudnn: output %dx%d where the layer has %dx%d\n", ow, oh, s->out_w,
                s->out_h);
        dn_gpu_conv_destroy(cv);
        return NULL;
    }
    g_convs[g_nconv++] = (conv_entry){*s, ws_bytes, cv};
    return cv;
}

int dn_cudnn_conv_forward(const dn_conv_shape *s, const float *in, const float *w, float *out,
                          void *ws, size_t ws_bytes)
{
    dn_gpu_conv *cv = conv_for(s, ws_bytes);
    return cv ? dn_gpu_conv_forward(cv, in, w, out, ws, ws_bytes) : -1;
}

int dn_cudnn_conv_backward(const dn_conv_shape *s, const float *in, const float *delta,
                           const float *w, float *wgrad, float *din, void *ws, size_t ws_bytes)
{
    dn_gpu_conv *cv = conv_for(s, ws_bytes);
    if (!cv) return -1;
    if (wgrad && dn_gpu_conv_backward_filter(cv, in, delta, wgrad, ws, ws_bytes)) return -1;
    if (din && dn_gpu_conv_backward_data(cv, w, delta, din, ws, ws_bytes)) return -1;
    return 0;
}

int dn_cudnn_conv_count(void) { return g_nconv; }

void dn_cudnn_conv_describe(int i, char *buf, size_t len)
{
    if (i < 0 || i >= g_nconv) {
        snprintf(buf, len, "none");
        return;
    }
    const dn_conv_shape *s = &g_convs[i].s;
    char algos[200];
    dn_gpu_conv_describe(g_convs[i].cv, algos, sizeof algos);
    snprintf(buf, len, "%dx%dx%d n%d k%d s%d g%d: %s", s->c, s->h, s->w, s->n, s->size,
             s->stride, s->groups, algos);
}
