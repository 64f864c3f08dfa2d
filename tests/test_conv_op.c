/* test_conv_op.c: the backends' convolution op (backend.h conv_forward/conv_backward), the
 * conv layer's only compute. Oracle: a direct float64 loop nest over pjreddie's
 * definition (cross-correlation, zero padding on every side, groups). The CPU backend
 * must match it within float rounding on shapes that exercise each branch (1x1 direct,
 * im2col with stride and padding, groups, odd sizes, outputs not covering the input), and
 * the simulated device, which runs the same orchestration over tagged pointers (so any
 * dereference of a buffer outside a kernel faults), must equal the CPU bit for bit.
 * Backward: wgrad and din accumulate onto what is there, and NULL skips each. */
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
        if (fabs(got[i] - want[i]) > tol)
            fail_msg("%s, shape %d, element %zu: %.9g, oracle %.9g", what, shape, i, got[i],
                     want[i]);
}

static void test_cpu_against_oracle(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    for (int k = 0; k < NSHAPES; ++k) {
        dims d = dims_of(k);
        const dn_conv_shape *s = &d.s;
        float *x = rand_array(d.nin, 11 + k), *w = rand_array(d.nw, 23 + k);
        float *dy = rand_array(d.nout, 37 + k);
        float *gw0 = rand_array(d.nw, 41 + k), *gx0 = rand_array(d.nin, 53 + k);
        double *y = calloc(d.nout, sizeof *y), *gw = calloc(d.nw, sizeof *gw);
        double *gx = calloc(d.nin, sizeof *gx);
        oracle(s, x, w, dy, y, gw, gx);
        for (size_t i = 0; i < d.nw; ++i) gw[i] += gw0[i]; /* the op accumulates */
        for (size_t i = 0; i < d.nin; ++i) gx[i] += gx0[i];

        size_t wsb = dn_conv_ws_bytes(s);
        float *ws = malloc(wsb ? wsb : 1), *out = malloc(d.nout * sizeof *out);
        float *gwo = malloc(d.nw * sizeof *gwo), *gxo = malloc(d.nin * sizeof *gxo);
        memcpy(gwo, gw0, d.nw * sizeof *gwo);
        memcpy(gxo, gx0, d.nin * sizeof *gxo);
        cpu->conv_forward(s, x, w, out, ws, wsb);
        int terms = s->size * s->size * (s->c / s->groups);
        near(out, y, d.nout, terms, "forward", k);
        cpu->conv_backward(s, x, dy, w, gwo, gxo, ws, wsb);
        near(gwo, gw, d.nw, s->out_h * s->out_w + 1, "weight gradient", k);
        near(gxo, gx, d.nin, s->n * s->size * s->size + 1, "input gradient", k);

        /* NULL skips each gradient and leaves the other as it was */
        memcpy(gwo, gw0, d.nw * sizeof *gwo);
        cpu->conv_backward(s, x, dy, w, gwo, NULL, ws, wsb);
        near(gwo, gw, d.nw, s->out_h * s->out_w + 1, "weight gradient alone", k);
        memcpy(gxo, gx0, d.nin * sizeof *gxo);
        cpu->conv_backward(s, x, dy, w, NULL, gxo, ws, wsb);
        near(gxo, gx, d.nin, s->n * s->size * s->size + 1, "input gradient alone", k);

        free(x); free(w); free(dy); free(gw0); free(gx0); free(y); free(gw); free(gx);
        free(ws); free(out); free(gwo); free(gxo);
    }
}

/* A device copy of host values (backend memory of `be`). */
static float *dev_copy(const dn_backend *be, const float *h, size_t n)
{
    float *p = be->alloc(n * sizeof *p, "test");
    assert_non_null(p);
    assert_int_equal(be->push(p, h, n * sizeof *p), 0);
    return p;
}

static void pull_same(const dn_backend *be, const float *dev, const float *host, size_t n,
                      const char *what, int k)
{
    float *h = malloc(n * sizeof *h);
    assert_int_equal(be->pull(h, dev, n * sizeof *h), 0);
    if (memcmp(h, host, n * sizeof *h))
        fail_msg("devsim %s differs from the CPU's on shape %d", what, k);
    free(h);
}

static void test_devsim_equals_cpu(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu(), *dev = dn_backend_devsim();
    for (int k = 0; k < NSHAPES; ++k) {
        dims d = dims_of(k);
        const dn_conv_shape *s = &d.s;
        float *x = rand_array(d.nin, 101 + k), *w = rand_array(d.nw, 103 + k);
        float *dy = rand_array(d.nout, 107 + k), *gw = rand_array(d.nw, 109 + k);
        float *gx = rand_array(d.nin, 113 + k), *out = malloc(d.nout * sizeof *out);
        size_t wsb = dn_conv_ws_bytes(s);
        float *ws = malloc(wsb ? wsb : 1);
        float *dx = dev_copy(dev, x, d.nin), *dw = dev_copy(dev, w, d.nw);
        float *ddy = dev_copy(dev, dy, d.nout), *dgw = dev_copy(dev, gw, d.nw);
        float *dgx = dev_copy(dev, gx, d.nin), *dout = dev_copy(dev, out, d.nout);
        float *dws = dev->alloc(wsb ? wsb : 1, "test");
        cpu->conv_forward(s, x, w, out, ws, wsb);
        cpu->conv_backward(s, x, dy, w, gw, gx, ws, wsb);
        dev->conv_forward(s, dx, dw, dout, dws, wsb);
        dev->conv_backward(s, dx, ddy, dw, dgw, dgx, dws, wsb);
        pull_same(dev, dout, out, d.nout, "forward", k);
        pull_same(dev, dgw, gw, d.nw, "weight gradient", k);
        pull_same(dev, dgx, gx, d.nin, "input gradient", k);
        dev->release(dx, d.nin * 4); dev->release(dw, d.nw * 4); dev->release(ddy, d.nout * 4);
        dev->release(dgw, d.nw * 4); dev->release(dgx, d.nin * 4);
        dev->release(dout, d.nout * 4); dev->release(dws, wsb ? wsb : 1);
        free(x); free(w); free(dy); free(gw); free(gx); free(out); free(ws);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_against_oracle),
        cmocka_unit_test(test_devsim_equals_cpu),
        cmocka_unit_test(test_workspace_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
