/* test_move_mirror.c: move_math.h, the per-value arithmetic of the GPU's [shortcut] and
 * [upsample] kernels, against the CPU backend (backend.h) on the host. [shortcut]: the
 * kernel's thread-to-element mapping (dn_shortcut_q over every thread) reproduces the
 * CPU's loops for equal shapes and for shapes differing by a factor either way.
 * [upsample] backward: the GPU's gather equals the CPU's scatter bit for bit (values not
 * dyadic, so a different order of additions would round differently). Products
 * ([scale_channels], [sam]): the CPU backend equals a brute force written with explicit
 * (sample, channel, position) loops, and the kernels' per-thread functions (dn_mul_sidx per
 * value, dn_mul_span and dn_mul_dsum per value of s) reproduce it bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/math/move_math.h"

static void fill(float *x, size_t n, unsigned k)
{
    for (size_t i = 0; i < n; ++i) x[i] = (float)((i * 7919 + k * 104729) % 1009) / 7.0f - 60.0f;
}

static void shortcut_case(int batch, int w1, int h1, int c1, int w2, int h2, int c2)
{
    const dn_backend *cpu = dn_backend_cpu();
    size_t na = (size_t)batch * w1 * h1 * c1, no = (size_t)batch * w2 * h2 * c2;
    float *add = malloc(na * sizeof(float)), *a = malloc(no * sizeof(float)), *b = malloc(no * sizeof(float));
    assert_true(add && a && b);
    fill(add, na, 1);
    fill(a, no, 2);
    memcpy(b, a, no * sizeof(float));
    float s1 = 0.7f, s2 = 1.3f;
    cpu->shortcut_add(batch, w1, h1, c1, add, w2, h2, c2, s1, s2, a);
    int stride = w1 / w2 < 1 ? 1 : w1 / w2, sample = w2 / w1 < 1 ? 1 : w2 / w1;
    int minw = w1 < w2 ? w1 : w2, minh = h1 < h2 ? h1 : h2, minc = c1 < c2 ? c1 : c2;
    size_t total = (size_t)batch * minw * minh * minc;
    for (size_t q = 0; q < total; ++q) { /* the kernel's threads, in any order: one cell each */
        size_t oi, ai;
        dn_shortcut_q(q, minw, minh, minc, stride, sample, w1, h1, c1, w2, h2, c2, &oi, &ai);
        b[oi] = dn_shortcut1(b[oi], add[ai], s1, s2);
    }
    assert_memory_equal(a, b, no * sizeof(float));
    free(add), free(a), free(b);
}

static void shortcut_mapping(void **state)
{
    (void)state;
    shortcut_case(2, 6, 5, 3, 6, 5, 3);  /* same shape */
    shortcut_case(2, 8, 8, 4, 4, 4, 2);  /* add is larger: every 2nd cell, fewer channels */
    shortcut_case(1, 3, 3, 2, 9, 9, 5);  /* out is larger: every 3rd cell */
}

static void upsample_gather_equals_scatter(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    static const int shapes[][4] = {{3, 5, 7, 2}, {2, 4, 4, 3}, {1, 6, 3, 1}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; ++t) {
        int planes = shapes[t][0], h = shapes[t][1], w = shapes[t][2], s = shapes[t][3];
        int ow = w * s, oh = h * s;
        size_t nin = (size_t)planes * w * h, nout = (size_t)planes * ow * oh;
        float *in = malloc(nin * sizeof(float)), *out = malloc(nout * sizeof(float));
        float *din = malloc(nin * sizeof(float)), *g = malloc(nin * sizeof(float));
        assert_true(in && out && din && g);
        fill(in, nin, 3);
        cpu->upsample_forward(in, planes, h, w, s, 0.37f, out);
        for (size_t q = 0; q < nout; ++q) {
            int i = (int)(q % ow), j = (int)((q / ow) % oh);
            float e = dn_upsample1(in + (q / ((size_t)ow * oh)) * w * h, w, s, i, j, 0.37f);
            assert_memory_equal(&e, &out[q], sizeof e);
        }
        fill(out, nout, 4); /* now the delta */
        fill(din, nin, 5);
        for (size_t q = 0; q < nin; ++q) {
            int x = (int)(q % w), y = (int)((q / w) % h);
            g[q] = dn_upsample_gather1(out + (q / ((size_t)w * h)) * ow * oh, ow, s, x, y, 0.37f, din[q]);
        }
        cpu->upsample_backward(out, planes, h, w, s, 0.37f, din);
        assert_memory_equal(g, din, nin * sizeof(float));
        free(in), free(out), free(din), free(g);
    }
}

/* Index of the s value that multiplies (b, ch, p), written out per mode. */
static size_t mul_ref_idx(int mode, int b, int ch, int p, int c, int sp)
{
    if (mode == DN_MUL_CHANNEL) return (size_t)b * c + ch;
    if (mode == DN_MUL_SPATIAL) return (size_t)b * sp + p;
    return ((size_t)b * c + ch) * sp + p;
}

static void mul_case(int mode, int batch, int c, int sp)
{
    const dn_backend *cpu = dn_backend_cpu();
    size_t n = (size_t)batch * c * sp, sn = (size_t)batch * dn_mul_sn(c, sp, mode);
    float *x = malloc(n * sizeof(float)), *s = malloc(sn * sizeof(float)), *d = malloc(n * sizeof(float));
    float *out = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float)), *ds = malloc(sn * sizeof(float));
    float *rx = malloc(n * sizeof(float)), *rs = malloc(sn * sizeof(float)), *r = malloc(n * sizeof(float));
    assert_true(x && s && d && out && dx && ds && rx && rs && r);
    fill(x, n, 6), fill(s, sn, 7), fill(d, n, 8), fill(dx, n, 9), fill(ds, sn, 10);
    memcpy(rx, dx, n * sizeof(float)), memcpy(rs, ds, sn * sizeof(float));
    /* brute force: channel mode sums over positions, spatial mode over channels */
    for (int b = 0; b < batch; ++b)
        for (int ch = 0; ch < c; ++ch)
            for (int p = 0; p < sp; ++p) {
                size_t i = ((size_t)b * c + ch) * sp + p, j = mul_ref_idx(mode, b, ch, p, c, sp);
                r[i] = s[j] * x[i];
                rx[i] += s[j] * d[i];
            }
    for (int b = 0; b < batch; ++b)
        for (size_t j = 0; j < dn_mul_sn(c, sp, mode); ++j) {
            size_t jj = (size_t)b * dn_mul_sn(c, sp, mode) + j;
            if (mode == DN_MUL_CHANNEL)
                for (int p = 0; p < sp; ++p) rs[jj] += d[jj * sp + p] * x[jj * sp + p];
            else if (mode == DN_MUL_SPATIAL)
                for (int ch = 0; ch < c; ++ch) {
                    size_t i = ((size_t)b * c + ch) * sp + j;
                    rs[jj] += d[i] * x[i];
                }
            else
                rs[jj] += d[jj] * x[jj];
        }
    cpu->mul_forward(s, x, batch, c, sp, mode, out);
    assert_memory_equal(out, r, n * sizeof(float));
    cpu->mul_backward(d, s, x, batch, c, sp, mode, ds, dx);
    assert_memory_equal(dx, rx, n * sizeof(float));
    assert_memory_equal(ds, rs, sn * sizeof(float));
    /* the kernels' threads: one per value (forward, dx), one per value of s (ds) */
    fill(dx, n, 9), fill(ds, sn, 10);
    for (size_t q = 0; q < n; ++q) {
        out[q] = s[dn_mul_sidx(q, c, sp, mode)] * x[q];
        dx[q] = dx[q] + s[dn_mul_sidx(q, c, sp, mode)] * d[q];
    }
    for (size_t j = 0; j < sn; ++j) {
        size_t first, cnt, step;
        dn_mul_span(j, c, sp, mode, &first, &cnt, &step);
        ds[j] = dn_mul_dsum(d + first, x + first, cnt, step, ds[j]);
    }
    assert_memory_equal(out, r, n * sizeof(float));
    assert_memory_equal(dx, rx, n * sizeof(float));
    assert_memory_equal(ds, rs, sn * sizeof(float));
    /* a NULL output is skipped, and so may its other input be */
    fill(dx, n, 9);
    cpu->mul_backward(d, NULL, x, batch, c, sp, mode, ds, NULL);
    cpu->mul_backward(d, s, NULL, batch, c, sp, mode, NULL, dx);
    assert_memory_equal(dx, rx, n * sizeof(float));
    free(x), free(s), free(d), free(out), free(dx), free(ds), free(rx), free(rs), free(r);
}

static void products(void **state)
{
    (void)state;
    mul_case(DN_MUL_CHANNEL, 3, 5, 7);
    mul_case(DN_MUL_SPATIAL, 2, 4, 9);
    mul_case(DN_MUL_ELEM, 2, 3, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shortcut_mapping),
        cmocka_unit_test(upsample_gather_equals_scatter),
        cmocka_unit_test(products),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
