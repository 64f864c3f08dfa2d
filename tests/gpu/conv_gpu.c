/* conv_gpu.c: cuDNN convolution (forward, backward data, backward filter, groups)
 * against a direct CPU loop in double precision. */
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/conv_gemm.h"
#include "backend/cuda/dn_cuda.h"
#include "gpu/gpu_test.h"

typedef struct {
    int b, c, h, w, n, size, stride, pad, groups, oh, ow;
} shape;

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

static void check_one(shape s)
{
    s.oh = (s.h + 2 * s.pad - s.size) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.size) / s.stride + 1;
    size_t nx = (size_t)s.b * s.c * s.h * s.w, ny = (size_t)s.b * s.n * s.oh * s.ow;
    size_t nw = (size_t)s.n * (s.c / s.groups) * s.size * s.size;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *y = malloc(4 * ny), *dy = malloc(4 * ny);
    float *dw = malloc(4 * nw), *dx = malloc(4 * nx), *g = malloc(4 * (nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw)));
    gt_fill(x, nx, 61, -1, 1);
    gt_fill(w, nw, 62, -0.5f, 0.5f);
    gt_fill(dy, ny, 63, -1, 1);
    gt_fill(dw, nw, 64, -0.1f, 0.1f);
    gt_fill(dx, nx, 65, -0.1f, 0.1f);
    float *dX = gt_dev(x, 4 * nx), *dW = gt_dev(w, 4 * nw), *dY = gt_dev_zero(4 * ny);
    float *dDy = gt_dev(dy, 4 * ny), *dDw = gt_dev(dw, 4 * nw), *dDx = gt_dev(dx, 4 * nx);
    ref_conv(&s, x, w, y, dy, dw, dx);

    char what[96], info[160];
    size_t ws = 0;
    dn_gpu_conv *cv = dn_gpu_conv_create(s.b, s.c, s.h, s.w, s.n, s.size, s.stride, s.pad, 1,
                                         s.groups, (size_t)64 << 20, &ws);
    snprintf(what, sizeof what, "cudnn conv %dx%dx%d n%d k%d s%d g%d: create", s.c, s.h, s.w, s.n,
             s.size, s.stride, s.groups);
    if (!cv) {
        gt_result(what, 0, "dn_gpu_conv_create failed");
        return;
    }
    int oh, ow;
    dn_gpu_conv_out_shape(cv, &oh, &ow);
    dn_gpu_conv_describe(cv, info, sizeof info);
    gt_result(what, oh == s.oh && ow == s.ow, info);
    void *dWs = ws ? dn_cuda_malloc(ws, "cudnn workspace") : NULL;
    int err = dn_gpu_conv_forward(cv, dX, dW, dY, dWs, ws);
    err |= dn_gpu_conv_backward_filter(cv, dX, dDy, dDw, dWs, ws);
    err |= dn_gpu_conv_backward_data(cv, dW, dDy, dDx, dWs, ws);
    gt_result("cudnn conv calls", err == 0, NULL);
    gt_pull(g, dY, 4 * ny);
    snprintf(what, sizeof what, "cudnn conv forward (k%d s%d g%d)", s.size, s.stride, s.groups);
    gt_cmp(what, g, y, ny, 1e-5f);
    gt_pull(g, dDw, 4 * nw);
    snprintf(what, sizeof what, "cudnn conv backward filter (k%d s%d g%d)", s.size, s.stride, s.groups);
    gt_cmp(what, g, dw, nw, 1e-4f);
    gt_pull(g, dDx, 4 * nx);
    snprintf(what, sizeof what, "cudnn conv backward data (k%d s%d g%d)", s.size, s.stride, s.groups);
    gt_cmp(what, g, dx, nx, 1e-5f);
    dn_cuda_free(dWs, ws);
    dn_gpu_conv_destroy(cv);
    gt_free(dX, 4 * nx); gt_free(dW, 4 * nw); gt_free(dY, 4 * ny);
    gt_free(dDy, 4 * ny); gt_free(dDw, 4 * nw); gt_free(dDx, 4 * nx);
    free(x); free(w); free(y); free(dy); free(dw); free(dx); free(g);
}

/* The CUDA backend's ops table (backend.h conv_forward/conv_backward, the path every conv
 * layer takes on a device: conv_ops.c's per-shape cuDNN descriptors, one sample a call)
 * against the same double loop, sample by sample with the layer's workspace rule. */
static void check_table(shape s)
{
    s.oh = (s.h + 2 * s.pad - s.size) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.size) / s.stride + 1;
    char why[128], what[96];
    const dn_backend *be = dn_backend_cuda(0, why, sizeof why);
    if (!be) {
        gt_result("cuda backend conv op", 0, why);
        return;
    }
    dn_conv_shape cs = {s.c, s.h, s.w, s.n, s.size, s.stride, s.pad, s.groups, s.oh, s.ow};
    size_t in1 = (size_t)s.c * s.h * s.w, out1 = (size_t)s.n * s.oh * s.ow;
    size_t nx = s.b * in1, ny = s.b * out1, nw = (size_t)s.n * (s.c / s.groups) * s.size * s.size;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *y = malloc(4 * ny), *dy = malloc(4 * ny);
    float *dw = calloc(nw, 4), *dx = calloc(nx, 4);
    float *g = malloc(4 * (nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw)));
    gt_fill(x, nx, 71, -1, 1);
    gt_fill(w, nw, 72, -0.5f, 0.5f);
    gt_fill(dy, ny, 73, -1, 1);
    ref_conv(&s, x, w, y, dy, dw, dx);
    size_t wsb = dn_conv_ws_bytes(&cs);
    float *dX = gt_dev(x, 4 * nx), *dW = gt_dev(w, 4 * nw), *dY = gt_dev_zero(4 * ny);
    float *dDy = gt_dev(dy, 4 * ny), *dDw = gt_dev_zero(4 * nw), *dDx = gt_dev_zero(4 * nx);
    void *dWs = be->alloc(wsb ? wsb : 1, "conv op workspace");
    for (int b = 0; b < s.b; ++b) {
        be->conv_forward(&cs, dX + b * in1, dW, dY + b * out1, dWs, wsb);
        be->conv_backward(&cs, dX + b * in1, dDy + b * out1, dW, dDw, dDx + b * in1, dWs, wsb);
    }
    gt_result("cuda backend conv op calls", be->error() == 0, NULL);
    snprintf(what, sizeof what, "backend conv op forward (k%d s%d g%d)", s.size, s.stride, s.groups);
    gt_pull(g, dY, 4 * ny);
    gt_cmp(what, g, y, ny, 1e-5f);
    snprintf(what, sizeof what, "backend conv op weight grad (k%d s%d g%d)", s.size, s.stride, s.groups);
    gt_pull(g, dDw, 4 * nw);
    gt_cmp(what, g, dw, nw, 1e-4f);
    snprintf(what, sizeof what, "backend conv op input grad (k%d s%d g%d)", s.size, s.stride, s.groups);
    gt_pull(g, dDx, 4 * nx);
    gt_cmp(what, g, dx, nx, 1e-5f);
    be->release(dWs, wsb ? wsb : 1);
    gt_free(dX, 4 * nx); gt_free(dW, 4 * nw); gt_free(dY, 4 * ny);
    gt_free(dDy, 4 * ny); gt_free(dDw, 4 * nw); gt_free(dDx, 4 * nx);
    free(x); free(w); free(y); free(dy); free(dw); free(dx); free(g);
}

int gt_conv(void)
{
    if (!dn_gpu_have_cudnn()) {
        gt_result("cudnn convolution", 0, "built without CUDNN=1");
        return -1;
    }
    check_one((shape){.b = 2, .c = 3, .h = 13, .w = 13, .n = 4, .size = 3, .stride = 1, .pad = 1, .groups = 1});
    check_one((shape){.b = 2, .c = 8, .h = 16, .w = 12, .n = 6, .size = 3, .stride = 2, .pad = 1, .groups = 1});
    check_one((shape){.b = 3, .c = 16, .h = 9, .w = 9, .n = 32, .size = 1, .stride = 1, .pad = 0, .groups = 1});
    check_one((shape){.b = 2, .c = 8, .h = 10, .w = 10, .n = 8, .size = 3, .stride = 1, .pad = 1, .groups = 8});
    check_table((shape){.b = 2, .c = 3, .h = 13, .w = 13, .n = 4, .size = 3, .stride = 1, .pad = 1, .groups = 1});
    check_table((shape){.b = 2, .c = 6, .h = 11, .w = 9, .n = 4, .size = 3, .stride = 2, .pad = 1, .groups = 2});
    check_table((shape){.b = 3, .c = 16, .h = 9, .w = 9, .n = 32, .size = 1, .stride = 1, .pad = 0, .groups = 1});
    return 0;
}
