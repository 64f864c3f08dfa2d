/* Convolution as im2col + gemm per group and sample (conv_gemm.h). Group j reads input
 * channels [j c/g, (j+1) c/g), writes filters [j n/g, (j+1) n/g), and owns the j-th
 * nweights/g block of the weights, Darknet's layout. */
#include "backend/conv_gemm.h"

int dn_conv_out_side(int in, int size, int stride, int pad)
{
    return (in + 2 * pad - size) / stride + 1;
}

/* 1: the input is already the column matrix (no im2col, no workspace). */
static int conv_direct(const dn_conv_shape *s)
{
    return s->size == 1 && s->stride == 1 && s->pad == 0;
}

size_t dn_conv_ws_bytes(const dn_conv_shape *s)
{
    if (conv_direct(s)) return 0;
    return sizeof(float) * (size_t)s->out_w * s->out_h * s->size * s->size *
           (size_t)(s->c / s->groups);
}

dn_conv_batch dn_conv_packed(const dn_conv_shape *s, int batch)
{
    dn_conv_batch bt = {batch, (size_t)s->c * s->h * s->w, (size_t)s->n * s->out_h * s->out_w};
    return bt;
}

int dn_conv_batch_ok(const dn_conv_shape *s, const dn_conv_batch *bt)
{
    dn_conv_batch p = dn_conv_packed(s, bt->batch);
    return bt->batch >= 0 && bt->in_stride >= p.in_stride && bt->out_stride >= p.out_stride;
}

/* Per-group sizes: m filters, k = column rows, N output positions, in_g input floats. */
typedef struct {
    int m, k, N;
    size_t in_g, w_g;
} group_dims;

static group_dims dims_of(const dn_conv_shape *s)
{
    group_dims d;
    d.m = s->n / s->groups;
    d.k = s->size * s->size * (s->c / s->groups);
    d.N = s->out_w * s->out_h;
    d.in_g = (size_t)(s->c / s->groups) * s->h * s->w;
    d.w_g = (size_t)d.m * d.k;
    return d;
}

/* Columns of group j's input: in the workspace, or the input itself when direct. */
static const float *columns(const dn_conv_kernels *k, const dn_conv_shape *s, const float *im,
                            void *ws)
{
    if (conv_direct(s)) return im;
    k->im2col(im, s->c / s->groups, s->h, s->w, s->size, s->stride, s->pad, ws);
    return ws;
}

/* One sample: out = conv(in, w). */
static void forward1(const dn_conv_kernels *k, const dn_conv_shape *s, const float *in,
                     const float *w, float *out, void *ws)
{
    group_dims d = dims_of(s);
    for (int j = 0; j < s->groups; ++j) {
        const float *col = columns(k, s, in + (size_t)j * d.in_g, ws);
        k->gemm(0, 0, d.m, d.N, d.k, 1, w + (size_t)j * d.w_g, d.k, col, d.N, 0,
                out + (size_t)j * d.m * d.N, d.N);
    }
}

/* One sample: wgrad += its weight gradient, din += its input gradient (each if not NULL). */
static void backward1(const dn_conv_kernels *k, const dn_conv_shape *s, const float *in,
                      const float *delta, const float *w, float *wgrad, float *din, void *ws)
{
    group_dims d = dims_of(s);
    for (int j = 0; j < s->groups; ++j) {
        const float *dl = delta + (size_t)j * d.m * d.N;
        if (wgrad) {
            const float *col = columns(k, s, in + (size_t)j * d.in_g, ws);
            k->gemm(0, 1, d.m, d.k, d.N, 1, dl, d.N, col, d.N, 1, wgrad + (size_t)j * d.w_g, d.k);
        }
        if (!din) continue;
        float *dg = din + (size_t)j * d.in_g;
        const float *wj = w + (size_t)j * d.w_g;
        if (conv_direct(s)) {
            k->gemm(1, 0, d.k, d.N, d.m, 1, wj, d.k, dl, d.N, 1, dg, d.N);
        } else {
            /* the columns' gradient overwrites the workspace (its columns are used up) */
            k->gemm(1, 0, d.k, d.N, d.m, 1, wj, d.k, dl, d.N, 0, ws, d.N);
            k->col2im_add(ws, s->c / s->groups, s->h, s->w, s->size, s->stride, s->pad, dg);
        }
    }
}

void dn_conv_gemm_forward(const dn_conv_kernels *k, const dn_conv_shape *s,
                          const dn_conv_batch *bt, const float *in, const float *w, float *out,
                          void *ws)
{
    for (int b = 0; b < bt->batch; ++b)
        forward1(k, s, in + b * bt->in_stride, w, out + b * bt->out_stride, ws);
}

/* Sample by sample, so wgrad gets the samples' gradients added in sample order: one call
 * over a batch gives the bits of one call per sample. */
void dn_conv_gemm_backward(const dn_conv_kernels *k, const dn_conv_shape *s,
                           const dn_conv_batch *bt, const float *in, const float *delta,
                           const float *w, float *wgrad, float *din, void *ws)
{
    for (int b = 0; b < bt->batch; ++b)
        backward1(k, s, wgrad ? in + b * bt->in_stride : NULL, delta + b * bt->out_stride, w,
                  wgrad, din ? din + b * bt->in_stride : NULL, ws);
}
