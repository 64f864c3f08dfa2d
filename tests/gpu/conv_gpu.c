/* conv_gpu.c: cuDNN convolution (forward, backward data, backward filter, groups) over a
 * batch, packed and strided (samples further apart than their size, as a streamed
 * member's or a route slice's buffers: the gaps must stay as they were), against a
 * direct CPU loop in double precision, and the CUDA backend's ops table (one cuDNN call
 * over the batch for the forward and the input gradient, one per sample for the weight
 * gradient, as the layer calls them) against the CPU backend's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/conv_gemm.h"
#include "backend/cuda/dn_cuda.h"
#include "gpu/gpu_test.h"

typedef struct {
    int b, c, h, w, n, size, stride, pad, groups, oh, ow;
} shape;

/* What the outputs' gaps hold before a call; the inputs' gaps hold NaN (a read of them
 * spoils a result). */
static const float SENTINEL = 1234.5f;

#define AT4(p, i0, n1, i1, n2, i2, n3, i3) (p)[(((size_t)(i0) * (n1) + (i1)) * (n2) + (i2)) * (n3) + (i3)]

/* y = conv(x, w); dw += grad_w(x, dy); dx += grad_x(w, dy): one loop nest, three uses. */
static void ref_conv(const shape *s, const float *x, const float *wt, float *y, const float *dy,
                     float *dw, float *dx)
{
    int cg = s->c / s->groups, ng = s->n / s->groups;
    double *acc_w = calloc((size_t)s->n * cg * s->size * s->size, sizeof(double));
    double *acc_x = calloc((size_t)s->b * s->c * s->h * s->w, sizeof(double));
    for (int b = 0; b < s->b; ++b)
        for (int f = 0; f < s->n; ++f)
            for (int i = 0; i < s->oh; ++i)
                for (int j = 0; j < s->ow; ++j) {
                    double sum = 0, g = AT4(dy, b, s->n, f, s->oh, i, s->ow, j);
                    int grp = f / ng;
                    for (int k = 0; k < cg; ++k)
                        for (int u = 0; u < s->size; ++u)
                            for (int v = 0; v < s->size; ++v) {
                                int yy = i * s->stride - s->pad + u, xx = j * s->stride - s->pad + v;
                                if (yy < 0 || yy >= s->h || xx < 0 || xx >= s->w) continue;
                                int ch = grp * cg + k;
                                size_t wi = (((size_t)f * cg + k) * s->size + u) * s->size + v;
                                double xv = AT4(x, b, s->c, ch, s->h, yy, s->w, xx);
                                sum += xv * wt[wi];
                                acc_w[wi] += xv * g;
                                AT4(acc_x, b, s->c, ch, s->h, yy, s->w, xx) += wt[wi] * g;
                            }
                    AT4(y, b, s->n, f, s->oh, i, s->ow, j) = (float)sum;
                }
    for (size_t i = 0; i < (size_t)s->n * cg * s->size * s->size; ++i) dw[i] += (float)acc_w[i];
    for (size_t i = 0; i < (size_t)s->b * s->c * s->h * s->w; ++i) dx[i] += (float)acc_x[i];
    free(acc_w);
    free(acc_x);
}

static size_t max3(size_t a, size_t b, size_t c)
{
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* `batch` samples of n floats from packed p (NULL: none, all gap) into a new buffer with
 * the samples `stride` apart and `gap` between them. */
static float *spread(const float *p, size_t n, size_t stride, int batch, float gap)
{
    float *s = malloc(4 * (stride * batch + 1));
    for (size_t i = 0; i < stride * batch; ++i) s[i] = gap;
    for (int b = 0; p && b < batch; ++b) memcpy(s + b * stride, p + b * n, 4 * n);
    return s;
}

/* Pulls a strided device buffer, packs its samples into out and says whether every gap
 * still holds the sentinel. */
static int gather(const float *dev, size_t n, size_t stride, int batch, float *out)
{
    float *s = malloc(4 * (stride * batch + 1));
    int ok = 1;
    gt_pull(s, dev, 4 * stride * batch);
    for (int b = 0; b < batch; ++b) {
        memcpy(out + b * n, s + b * stride, 4 * n);
        for (size_t i = n; i < stride; ++i) ok &= memcmp(&s[b * stride + i], &SENTINEL, 4) == 0;
    }
    free(s);
    return ok;
}

/* Host values of one check: packed inputs and the reference's results. */
typedef struct {
    shape s;
    size_t nx1, ny1, nx, ny, nw, xs, ys; /* per sample, per batch, weights, strides */
    float *x, *w, *dy, *y, *dw, *dx;      /* dw and dx: initial values plus the reference */
    float *dw0, *dx0;                     /* initial values */
} ref_case;

static ref_case ref_make(shape s, size_t xgap, size_t ygap, uint64_t seed)
{
    ref_case r;
    s.oh = (s.h + 2 * s.pad - s.size) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.size) / s.stride + 1;
    r.s = s;
    r.nx1 = (size_t)s.c * s.h * s.w;
    r.ny1 = (size_t)s.n * s.oh * s.ow;
    r.nx = s.b * r.nx1, r.ny = s.b * r.ny1, r.xs = r.nx1 + xgap, r.ys = r.ny1 + ygap;
    r.nw = (size_t)s.n * (s.c / s.groups) * s.size * s.size;
    r.x = malloc(4 * r.nx), r.w = malloc(4 * r.nw), r.y = malloc(4 * r.ny);
    r.dy = malloc(4 * r.ny), r.dw = malloc(4 * r.nw), r.dx = malloc(4 * r.nx);
    gt_fill(r.x, r.nx, seed, -1, 1);
    gt_fill(r.w, r.nw, seed + 1, -0.5f, 0.5f);
    gt_fill(r.dy, r.ny, seed + 2, -1, 1);
    gt_fill(r.dw, r.nw, seed + 3, -0.1f, 0.1f);
    gt_fill(r.dx, r.nx, seed + 4, -0.1f, 0.1f);
    r.dw0 = malloc(4 * r.nw), r.dx0 = malloc(4 * r.nx);
    memcpy(r.dw0, r.dw, 4 * r.nw);
    memcpy(r.dx0, r.dx, 4 * r.nx);
    ref_conv(&r.s, r.x, r.w, r.y, r.dy, r.dw, r.dx);
    return r;
}

static void ref_free(ref_case *r)
{
    free(r->x); free(r->w); free(r->y); free(r->dy); free(r->dw); free(r->dx);
    free(r->dw0); free(r->dx0);
}

/* Device buffers of one check, strided: x and dy with NaN gaps, y and dx with sentinels. */
typedef struct {
    float *x, *w, *y, *dy, *dw, *dx;
} dev_case;

static dev_case dev_make(const ref_case *r)
{
    dev_case d;
    float *x = spread(r->x, r->nx1, r->xs, r->s.b, NAN), *dy = spread(r->dy, r->ny1, r->ys, r->s.b, NAN);
    float *y = spread(NULL, r->ny1, r->ys, r->s.b, SENTINEL);
    float *dx = spread(r->dx0, r->nx1, r->xs, r->s.b, SENTINEL);
    d.x = gt_dev(x, 4 * r->xs * r->s.b), d.dy = gt_dev(dy, 4 * r->ys * r->s.b);
    d.y = gt_dev(y, 4 * r->ys * r->s.b), d.dx = gt_dev(dx, 4 * r->xs * r->s.b);
    d.w = gt_dev(r->w, 4 * r->nw), d.dw = gt_dev(r->dw0, 4 * r->nw);
    free(x); free(dy); free(y); free(dx);
    return d;
}

static void dev_free(dev_case *d, const ref_case *r)
{
    gt_free(d->x, 4 * r->xs * r->s.b); gt_free(d->dy, 4 * r->ys * r->s.b);
    gt_free(d->y, 4 * r->ys * r->s.b); gt_free(d->dx, 4 * r->xs * r->s.b);
    gt_free(d->w, 4 * r->nw); gt_free(d->dw, 4 * r->nw);
}

/* The device results against want (packed y, dw, dx), the gaps untouched. */
static void compare(const char *who, const ref_case *r, const dev_case *d, const float *y,
                    const float *dw, const float *dx)
{
    const shape *s = &r->s;
    char what[128];
    float *g = malloc(4 * max3(r->nx, r->ny, r->nw));
    int gaps = gather(d->y, r->ny1, r->ys, s->b, g);
    snprintf(what, sizeof what, "%s forward (b%d k%d s%d g%d, gaps %zu/%zu)", who, s->b, s->size,
             s->stride, s->groups, r->xs - r->nx1, r->ys - r->ny1);
    gt_cmp(what, g, y, r->ny, 1e-5f);
    gt_pull(g, d->dw, 4 * r->nw);
    snprintf(what, sizeof what, "%s backward filter (b%d k%d s%d g%d)", who, s->b, s->size,
             s->stride, s->groups);
    gt_cmp(what, g, dw, r->nw, 1e-4f);
    gaps &= gather(d->dx, r->nx1, r->xs, s->b, g);
    snprintf(what, sizeof what, "%s backward data (b%d k%d s%d g%d)", who, s->b, s->size,
             s->stride, s->groups);
    gt_cmp(what, g, dx, r->nx, 1e-5f);
    snprintf(what, sizeof what, "%s gaps between samples untouched", who);
    gt_result(what, gaps, NULL);
    free(g);
}

/* dn_gpu_conv over the whole batch (the filter gradient summed by cuDNN), xgap/ygap
 * floats between samples. */
static void check_one(shape s, size_t xgap, size_t ygap)
{
    ref_case r = ref_make(s, xgap, ygap, 61);
    size_t limit = (size_t)64 << 20;
    dn_gpu_conv_geom geom = {s.b, s.c, s.h, s.w, s.n, s.size, s.stride, s.pad, 1, s.groups,
                             r.xs, r.ys};
    char what[96], info[200];
    dn_gpu_conv *cv = dn_gpu_conv_create(&geom, limit);
    snprintf(what, sizeof what, "cudnn conv %dx%dx%d n%d k%d s%d g%d: create", s.c, s.h, s.w, s.n,
             s.size, s.stride, s.groups);
    if (!cv) {
        gt_result(what, 0, "dn_gpu_conv_create failed");
        ref_free(&r);
        return;
    }
    int oh, ow;
    dn_gpu_conv_out_shape(cv, &oh, &ow);
    gt_result(what, oh == r.s.oh && ow == r.s.ow, NULL);
    dev_case d = dev_make(&r);
    void *dWs = dn_cuda_malloc(limit, "cudnn workspace");
    int err = dn_gpu_conv_forward(cv, d.x, d.w, d.y, dWs, limit);
    err |= dn_gpu_conv_backward_filter(cv, d.x, d.dy, d.dw, dWs, limit);
    err |= dn_gpu_conv_backward_data(cv, d.w, d.dy, d.dx, dWs, limit);
    dn_gpu_conv_describe(cv, info, sizeof info);
    gt_result("cudnn conv calls", err == 0, info);
    compare("cudnn", &r, &d, r.y, r.dw, r.dx);
    dn_cuda_free(dWs, limit);
    dn_gpu_conv_destroy(cv);
    dev_free(&d, &r);
    ref_free(&r);
}

/* The CPU backend's ops on the strided host layout, as the layer calls them: forward and
 * input gradient over the batch, weight gradient sample by sample. */
static void cpu_layer_calls(const ref_case *r, const dn_conv_shape *cs, const dn_conv_batch *bt,
                            float *y, float *dw, float *dx)
{
    const dn_backend *cpu = dn_backend_cpu();
    dn_conv_batch one = dn_conv_packed(cs, 1);
    size_t wsb = dn_conv_ws_bytes(cs);
    float *x = spread(r->x, r->nx1, r->xs, r->s.b, NAN), *dy = spread(r->dy, r->ny1, r->ys, r->s.b, NAN);
    float *ys = spread(NULL, r->ny1, r->ys, r->s.b, SENTINEL);
    float *dxs = spread(r->dx0, r->nx1, r->xs, r->s.b, SENTINEL), *ws = malloc(wsb + 1);
    memcpy(dw, r->dw0, 4 * r->nw);
    cpu->conv_forward(cs, bt, x, r->w, ys, ws, wsb);
    cpu->conv_backward(cs, bt, NULL, dy, r->w, NULL, dxs, ws, wsb);
    for (int b = 0; b < r->s.b; ++b)
        cpu->conv_backward(cs, &one, x + b * r->xs, dy + b * r->ys, r->w, dw, NULL, ws, wsb);
    for (int b = 0; b < r->s.b; ++b) {
        memcpy(y + b * r->ny1, ys + b * r->ys, 4 * r->ny1);
        memcpy(dx + b * r->nx1, dxs + b * r->xs, 4 * r->nx1);
    }
    free(x); free(dy); free(ys); free(dxs); free(ws);
}

/* The CUDA backend's ops table (backend.h conv_forward/conv_backward, the path every conv
 * layer takes on a device: conv_ops.c's descriptor sets per shape and batch layout) with
 * the layer's calls and workspace rule, against the reference and the CPU backend. */
static void check_table(shape s, size_t xgap, size_t ygap)
{
    char why[128];
    const dn_backend *be = dn_backend_cuda(0, why, sizeof why);
    if (!be) {
        gt_result("cuda backend conv op", 0, why);
        return;
    }
    ref_case r = ref_make(s, xgap, ygap, 71);
    dn_conv_shape cs = {s.c, s.h, s.w, s.n, s.size, s.stride, s.pad, s.groups, r.s.oh, r.s.ow};
    dn_conv_batch bt = {s.b, r.xs, r.ys}, one = dn_conv_packed(&cs, 1);
    size_t wsb = dn_conv_ws_bytes(&cs);
    dev_case d = dev_make(&r);
    void *dWs = be->alloc(wsb ? wsb : 1, "conv op workspace");
    be->conv_forward(&cs, &bt, d.x, d.w, d.y, dWs, wsb);
    be->conv_backward(&cs, &bt, NULL, d.dy, d.w, NULL, d.dx, dWs, wsb);
    for (int b = 0; b < s.b; ++b)
        be->conv_backward(&cs, &one, d.x + b * r.xs, d.dy + b * r.ys, d.w, d.dw, NULL, dWs, wsb);
    gt_result("cuda backend conv op calls", be->error() == 0, NULL);
    compare("backend conv op vs reference", &r, &d, r.y, r.dw, r.dx);
    float *y = malloc(4 * r.ny), *dw = malloc(4 * r.nw), *dx = malloc(4 * r.nx);
    cpu_layer_calls(&r, &cs, &bt, y, dw, dx);
    compare("backend conv op vs cpu", &r, &d, y, dw, dx);
    free(y); free(dw); free(dx);
    be->release(dWs, wsb ? wsb : 1);
    dev_free(&d, &r);
    ref_free(&r);
}

int gt_conv(void)
{
    if (!dn_gpu_have_cudnn()) {
        gt_result("cudnn convolution", 0, "built without CUDNN=1");
        return -1;
    }
    check_one((shape){.b = 2, .c = 3, .h = 13, .w = 13, .n = 4, .size = 3, .stride = 1, .pad = 1, .groups = 1}, 0, 0);
    check_one((shape){.b = 2, .c = 8, .h = 16, .w = 12, .n = 6, .size = 3, .stride = 2, .pad = 1, .groups = 1}, 0, 0);
    check_one((shape){.b = 3, .c = 16, .h = 9, .w = 9, .n = 32, .size = 1, .stride = 1, .pad = 0, .groups = 1}, 0, 0);
    check_one((shape){.b = 2, .c = 8, .h = 10, .w = 10, .n = 8, .size = 3, .stride = 1, .pad = 1, .groups = 8}, 0, 0);
    check_one((shape){.b = 3, .c = 3, .h = 13, .w = 13, .n = 4, .size = 3, .stride = 1, .pad = 1, .groups = 1}, 7, 5);
    check_one((shape){.b = 3, .c = 16, .h = 9, .w = 9, .n = 32, .size = 1, .stride = 1, .pad = 0, .groups = 1}, 3, 11);
    check_table((shape){.b = 2, .c = 3, .h = 13, .w = 13, .n = 4, .size = 3, .stride = 1, .pad = 1, .groups = 1}, 0, 0);
    check_table((shape){.b = 4, .c = 6, .h = 11, .w = 9, .n = 4, .size = 3, .stride = 2, .pad = 1, .groups = 2}, 9, 13);
    check_table((shape){.b = 3, .c = 16, .h = 9, .w = 9, .n = 32, .size = 1, .stride = 1, .pad = 0, .groups = 1}, 5, 7);
    check_table((shape){.b = 1, .c = 4, .h = 8, .w = 8, .n = 4, .size = 3, .stride = 1, .pad = 1, .groups = 4}, 3, 3);
    return 0;
}
