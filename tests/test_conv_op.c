/* test_conv_op.c: the backends' convolution op (backend.h conv_forward/conv_backward), the
 * conv layer's only compute. Oracle: a direct float64 loop nest over pjreddie's
 * definition (cross-correlation, zero padding on every side, groups). The CPU backend
 * must match it within float rounding on shapes that exercise each branch (1x1 direct,
 * im2col with stride and padding, groups, odd sizes, outputs not covering the input), and
 * the simulated device, which runs the same orchestration over tagged pointers (so any
 * dereference of a buffer outside a kernel faults), must equal the CPU bit for bit.
 * Backward: wgrad and din accumulate onto what is there, and NULL skips each.
 * Batches: several samples in one call with strides larger than a sample (a streamed
 * member's or a route slice's layout): the gaps between samples are never written (they
 * hold a sentinel) nor read (the inputs' gaps hold NaN), the input gradient needs no
 * input, and one call over the batch gives the bits of one call per sample (wgrad adds
 * the samples in sample order). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/conv_gemm.h"
#include "common/testutil.h"

static const dn_conv_shape shapes[] = {
    /* c, h, w, n, size, stride, pad, groups (out_h/out_w filled in) */
    {3, 7, 9, 4, 3, 1, 1, 1, 0, 0},   /* 3x3 same padding */
    {4, 8, 6, 6, 1, 1, 0, 1, 0, 0},   /* 1x1 direct: no im2col, no workspace */
    {6, 9, 7, 4, 3, 2, 1, 2, 0, 0},   /* stride 2, groups 2 */
    {4, 6, 6, 4, 3, 1, 1, 4, 0, 0},   /* depthwise */
    {2, 10, 5, 3, 5, 3, 0, 1, 0, 0},  /* 5x5 stride 3, no padding: last input rows unused */
    {3, 5, 5, 2, 1, 2, 0, 1, 0, 0},   /* 1x1 stride 2: needs columns */
    {2, 4, 4, 3, 2, 1, 1, 1, 0, 0},   /* even kernel with padding (output grows) */
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* Batched calls: samples, and the floats left between samples of the input (and input
 * gradient) and of the output (and delta). */
enum { NB = 3, IN_GAP = 5, OUT_GAP = 7 };
static const float SENTINEL = 1234.5f;

static float *rand_array(size_t n, uint64_t seed)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    tu_fill_uniform(a, n, -1, 1, seed);
    return a;
}

typedef struct {
    dn_conv_shape s;
    size_t nin, nout, nw;
} dims;

static dims dims_of(int k)
{
    dims d;
    d.s = shapes[k];
    d.s.out_h = dn_conv_out_side(d.s.h, d.s.size, d.s.stride, d.s.pad);
    d.s.out_w = dn_conv_out_side(d.s.w, d.s.size, d.s.stride, d.s.pad);
    d.nin = (size_t)d.s.c * d.s.h * d.s.w;
    d.nout = (size_t)d.s.n * d.s.out_h * d.s.out_w;
    d.nw = (size_t)d.s.n * (d.s.c / d.s.groups) * d.s.size * d.s.size;
    return d;
}

/* y = conv(x, w); gw = d(sum y*dy)/dw; gx = d(sum y*dy)/dx, all in double. */
static void oracle(const dn_conv_shape *s, const float *x, const float *w, const float *dy,
                   double *y, double *gw, double *gx)
{
    int cg = s->c / s->groups, ng = s->n / s->groups;
    for (int f = 0; f < s->n; ++f)
        for (int i = 0; i < s->out_h; ++i)
            for (int j = 0; j < s->out_w; ++j) {
                size_t o = ((size_t)f * s->out_h + i) * s->out_w + j;
                double sum = 0;
                for (int k = 0; k < cg; ++k)
                    for (int u = 0; u < s->size; ++u)
                        for (int v = 0; v < s->size; ++v) {
                            int yy = i * s->stride - s->pad + u, xx = j * s->stride - s->pad + v;
                            if (yy < 0 || yy >= s->h || xx < 0 || xx >= s->w) continue;
                            int ch = (f / ng) * cg + k;
                            size_t wi = (((size_t)f * cg + k) * s->size + u) * s->size + v;
                            size_t xi = ((size_t)ch * s->h + yy) * s->w + xx;
                            sum += (double)x[xi] * w[wi];
                            gw[wi] += (double)x[xi] * dy[o];
                            gx[xi] += (double)w[wi] * dy[o];
                        }
                y[o] = sum;
            }
}

/* |got - want| within float rounding of sums of `terms` products of values in [-1, 1]. */
static void near(const float *got, const double *want, size_t n, int terms, const char *what,
                 int shape)
{
    double tol = 4e-7 * terms + 1e-6;
    for (size_t i = 0; i < n; ++i)
        if (!(fabs(got[i] - want[i]) <= tol)) /* a NaN (a gap read) fails too */
            fail_msg("%s, shape %d, element %zu: %.9g, oracle %.9g", what, shape, i, got[i],
                     want[i]);
}

/* `batch` samples of n floats, `stride` apart: the samples uniform in [-1, 1) from seed,
 * the gaps between them `gap`. */
static float *strided(size_t n, size_t stride, int batch, uint64_t seed, float gap)
{
    size_t total = stride * batch;
    float *a = malloc((total ? total : 1) * sizeof *a);
    for (size_t i = 0; i < total; ++i) a[i] = gap;
    for (int b = 0; b < batch; ++b) tu_fill_uniform(a + b * stride, n, -1, 1, seed + 1000 * b);
    return a;
}

static float *copy_of(const float *a, size_t n)
{
    float *c = malloc((n ? n : 1) * sizeof *c);
    memcpy(c, a, n * sizeof *c);
    return c;
}

/* Each sample's n values within float rounding of want (packed), and every gap value
 * still the sentinel (the op never writes between samples). */
static void near_strided(const float *got, const double *want, size_t n, size_t stride,
                         int batch, int terms, const char *what, int shape)
{
    for (int b = 0; b < batch; ++b) {
        near(got + b * stride, want + b * n, n, terms, what, shape);
        for (size_t i = n; i < stride; ++i)
            if (memcmp(&got[b * stride + i], &SENTINEL, sizeof SENTINEL))
                fail_msg("%s, shape %d: the gap after sample %d was written at %zu", what,
                         shape, b, i);
    }
}

/* One shape's calls over `batch` samples with the given gaps: the inputs' gaps hold NaN
 * (a read of them spoils a result), the outputs' the sentinel. */
typedef struct {
    dims d;
    dn_conv_batch bt;
    float *x, *w, *dy, *gw0, *gx0;
    double *y, *gw, *gx; /* the oracle's, gw and gx with gw0 and gx0 added */
    size_t wsb;
} case_t;

static case_t case_make(int k, int batch, size_t in_gap, size_t out_gap, uint64_t seed)
{
    case_t c;
    c.d = dims_of(k);
    c.bt = (dn_conv_batch){batch, c.d.nin + in_gap, c.d.nout + out_gap};
    c.x = strided(c.d.nin, c.bt.in_stride, batch, seed + 1, NAN);
    c.dy = strided(c.d.nout, c.bt.out_stride, batch, seed + 2, NAN);
    c.gx0 = strided(c.d.nin, c.bt.in_stride, batch, seed + 3, SENTINEL);
    c.w = rand_array(c.d.nw, seed + 4);
    c.gw0 = rand_array(c.d.nw, seed + 5);
    c.y = calloc(batch * c.d.nout + 1, sizeof *c.y);
    c.gw = calloc(c.d.nw, sizeof *c.gw);
    c.gx = calloc(batch * c.d.nin + 1, sizeof *c.gx);
    for (int b = 0; b < batch; ++b)
        oracle(&c.d.s, c.x + b * c.bt.in_stride, c.w, c.dy + b * c.bt.out_stride,
               c.y + b * c.d.nout, c.gw, c.gx + b * c.d.nin);
    for (size_t i = 0; i < c.d.nw; ++i) c.gw[i] += c.gw0[i]; /* the op accumulates */
    for (int b = 0; b < batch; ++b)
        for (size_t i = 0; i < c.d.nin; ++i) c.gx[b * c.d.nin + i] += c.gx0[b * c.bt.in_stride + i];
    c.wsb = dn_conv_ws_bytes(&c.d.s);
    return c;
}

static void case_free(case_t *c)
{
    free(c->x); free(c->w); free(c->dy); free(c->gw0); free(c->gx0);
    free(c->y); free(c->gw); free(c->gx);
}

/* Floats of a strided buffer of the case: its input side or its output side. */
static size_t in_total(const case_t *c) { return c->bt.in_stride * c->bt.batch; }
static size_t out_total(const case_t *c) { return c->bt.out_stride * c->bt.batch; }

/* The CPU op over one case against the oracle: forward, both gradients, each alone (the
 * input gradient given no input: it must not need one). */
static void check_cpu(int k, int batch, size_t in_gap, size_t out_gap)
{
    const dn_backend *cpu = dn_backend_cpu();
    case_t c = case_make(k, batch, in_gap, out_gap, 11 + 100 * k);
    const dn_conv_shape *s = &c.d.s;
    const dn_conv_batch *bt = &c.bt;
    int tf = s->size * s->size * (s->c / s->groups), tw = batch * s->out_h * s->out_w + 1;
    int tx = s->n * s->size * s->size + 1;
    float *ws = malloc(c.wsb ? c.wsb : 1), *out = strided(0, bt->out_stride, batch, 0, SENTINEL);
    float *gwo = copy_of(c.gw0, c.d.nw), *gxo = copy_of(c.gx0, in_total(&c));
    cpu->conv_forward(s, bt, c.x, c.w, out, ws, c.wsb);
    near_strided(out, c.y, c.d.nout, bt->out_stride, batch, tf, "forward", k);
    cpu->conv_backward(s, bt, c.x, c.dy, c.w, gwo, gxo, ws, c.wsb);
    near(gwo, c.gw, c.d.nw, tw, "weight gradient", k);
    near_strided(gxo, c.gx, c.d.nin, bt->in_stride, batch, tx, "input gradient", k);

    /* NULL skips each gradient and leaves the other as it was */
    memcpy(gwo, c.gw0, c.d.nw * sizeof *gwo);
    cpu->conv_backward(s, bt, c.x, c.dy, c.w, gwo, NULL, ws, c.wsb);
    near(gwo, c.gw, c.d.nw, tw, "weight gradient alone", k);
    memcpy(gxo, c.gx0, in_total(&c) * sizeof *gxo);
    cpu->conv_backward(s, bt, NULL, c.dy, c.w, NULL, gxo, ws, c.wsb);
    near_strided(gxo, c.gx, c.d.nin, bt->in_stride, batch, tx, "input gradient alone", k);
    free(ws); free(out); free(gwo); free(gxo);
    case_free(&c);
}

static void test_cpu_against_oracle(void **state)
{
    (void)state;
    for (int k = 0; k < NSHAPES; ++k) check_cpu(k, 1, 0, 0);
}

static void test_cpu_batch_strided(void **state)
{
    (void)state;
    for (int k = 0; k < NSHAPES; ++k) {
        check_cpu(k, NB, IN_GAP, OUT_GAP);
        check_cpu(k, NB, 0, 0); /* packed */
    }
}

static void same_bits(const float *got, const float *want, size_t n, const char *what, int k)
{
    if (memcmp(got, want, n * sizeof *got))
        fail_msg("%s differs from one call per sample on shape %d", what, k);
}

/* One call over a strided batch gives the bits of one packed call per sample: the
 * forward and din per sample, wgrad added sample by sample in sample order. */
static void test_batch_equals_samples(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    for (int k = 0; k < NSHAPES; ++k) {
        case_t c = case_make(k, NB, IN_GAP, OUT_GAP, 211 + 100 * k);
        const dn_conv_shape *s = &c.d.s;
        dn_conv_batch one = dn_conv_packed(s, 1);
        size_t is = c.bt.in_stride, os = c.bt.out_stride;
        float *ws = malloc(c.wsb ? c.wsb : 1);
        float *out = strided(0, os, NB, 0, SENTINEL), *out1 = copy_of(out, out_total(&c));
        float *gw = copy_of(c.gw0, c.d.nw), *gw1 = copy_of(c.gw0, c.d.nw);
        float *gx = copy_of(c.gx0, in_total(&c)), *gx1 = copy_of(c.gx0, in_total(&c));
        cpu->conv_forward(s, &c.bt, c.x, c.w, out, ws, c.wsb);
        cpu->conv_backward(s, &c.bt, NULL, c.dy, c.w, NULL, gx, ws, c.wsb);
        cpu->conv_backward(s, &c.bt, c.x, c.dy, c.w, gw, NULL, ws, c.wsb);
        for (int b = 0; b < NB; ++b) {
            cpu->conv_forward(s, &one, c.x + b * is, c.w, out1 + b * os, ws, c.wsb);
            cpu->conv_backward(s, &one, NULL, c.dy + b * os, c.w, NULL, gx1 + b * is, ws, c.wsb);
            cpu->conv_backward(s, &one, c.x + b * is, c.dy + b * os, c.w, gw1, NULL, ws, c.wsb);
        }
        same_bits(out, out1, out_total(&c), "forward", k);
        same_bits(gx, gx1, in_total(&c), "input gradient", k);
        same_bits(gw, gw1, c.d.nw, "weight gradient", k);
        free(ws); free(out); free(out1); free(gw); free(gw1); free(gx); free(gx1);
        case_free(&c);
    }
}

/* A device copy of host values (backend memory of `be`). */
static float *dev_copy(const dn_backend *be, const float *h, size_t n)
{
    float *p = be->alloc((n ? n : 1) * sizeof *p, "test");
    assert_non_null(p);
    assert_int_equal(be->push(p, h, n * sizeof *p), 0);
    return p;
}

/* The device buffer's n floats equal the host's bit for bit, then it is released. */
static void pull_same(const dn_backend *be, float *dev, const float *host, size_t n,
                      const char *what, int k)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    assert_int_equal(be->pull(h, dev, n * sizeof *h), 0);
    if (memcmp(h, host, n * sizeof *h))
        fail_msg("devsim %s differs from the CPU's on shape %d", what, k);
    free(h);
    be->release(dev, (n ? n : 1) * sizeof *h);
}

/* The layer's calls on both backends: forward and din over the batch, then wgrad one
 * packed sample at a time; whole buffers compared, gaps included. */
static void check_devsim(int k, int batch, size_t in_gap, size_t out_gap)
{
    const dn_backend *cpu = dn_backend_cpu(), *dev = dn_backend_devsim();
    case_t c = case_make(k, batch, in_gap, out_gap, 101 + 100 * k);
    const dn_conv_shape *s = &c.d.s;
    dn_conv_batch one = dn_conv_packed(s, 1);
    size_t is = c.bt.in_stride, os = c.bt.out_stride, ni = in_total(&c), no = out_total(&c);
    float *ws = malloc(c.wsb ? c.wsb : 1), *out = strided(0, os, batch, 0, SENTINEL);
    float *dx = dev_copy(dev, c.x, ni), *dw = dev_copy(dev, c.w, c.d.nw);
    float *ddy = dev_copy(dev, c.dy, no), *dgw = dev_copy(dev, c.gw0, c.d.nw);
    float *dgx = dev_copy(dev, c.gx0, ni), *dout = dev_copy(dev, out, no);
    float *dws = dev->alloc(c.wsb ? c.wsb : 1, "test");
    cpu->conv_forward(s, &c.bt, c.x, c.w, out, ws, c.wsb);
    cpu->conv_backward(s, &c.bt, NULL, c.dy, c.w, NULL, c.gx0, ws, c.wsb);
    dev->conv_forward(s, &c.bt, dx, dw, dout, dws, c.wsb);
    dev->conv_backward(s, &c.bt, NULL, ddy, dw, NULL, dgx, dws, c.wsb);
    for (int b = 0; b < batch; ++b) {
        cpu->conv_backward(s, &one, c.x + b * is, c.dy + b * os, c.w, c.gw0, NULL, ws, c.wsb);
        dev->conv_backward(s, &one, dx + b * is, ddy + b * os, dw, dgw, NULL, dws, c.wsb);
    }
    pull_same(dev, dout, out, no, "forward", k);
    pull_same(dev, dgw, c.gw0, c.d.nw, "weight gradient", k);
    pull_same(dev, dgx, c.gx0, ni, "input gradient", k);
    dev->release(dx, ni * 4); dev->release(dw, c.d.nw * 4); dev->release(ddy, no * 4);
    dev->release(dws, c.wsb ? c.wsb : 1);
    free(ws); free(out);
    case_free(&c);
}

static void test_devsim_equals_cpu(void **state)
{
    (void)state;
    for (int k = 0; k < NSHAPES; ++k) {
        check_devsim(k, 1, 0, 0);
        check_devsim(k, NB, IN_GAP, OUT_GAP);
    }
}

/* The layer's workspace rule: columns of one group, none for a direct 1x1. */
static void test_workspace_bytes(void **state)
{
    (void)state;
    dims d = dims_of(1);
    assert_int_equal(dn_conv_ws_bytes(&d.s), 0);
    d = dims_of(2);
    assert_int_equal(dn_conv_ws_bytes(&d.s),
                     sizeof(float) * (size_t)d.s.out_h * d.s.out_w * 9 * (d.s.c / d.s.groups));
}

/* The packed layout, and strides that would overlap samples refused. */
static void test_batch_layout(void **state)
{
    (void)state;
    dims d = dims_of(2);
    dn_conv_batch bt = dn_conv_packed(&d.s, 4);
    assert_int_equal(bt.batch, 4);
    assert_int_equal(bt.in_stride, d.nin);
    assert_int_equal(bt.out_stride, d.nout);
    assert_true(dn_conv_batch_ok(&d.s, &bt));
    bt.in_stride += 9;
    assert_true(dn_conv_batch_ok(&d.s, &bt));
    bt.out_stride -= 1;
    assert_false(dn_conv_batch_ok(&d.s, &bt));
    bt = dn_conv_packed(&d.s, 4);
    bt.in_stride -= 1;
    assert_false(dn_conv_batch_ok(&d.s, &bt));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_against_oracle),
        cmocka_unit_test(test_cpu_batch_strided),
        cmocka_unit_test(test_batch_equals_samples),
        cmocka_unit_test(test_devsim_equals_cpu),
        cmocka_unit_test(test_workspace_bytes),
        cmocka_unit_test(test_batch_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
