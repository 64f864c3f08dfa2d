/* test_backend_mirror.c: the per-element arithmetic of the CUDA backend's kernels, checked
 * on the host against the CPU backend (backend.h), value for value. act_math.h, bn_math.h
 * and elem_math.h are the functions the kernels call (`__host__ __device__`, static inline
 * in C); here they are compiled as C and run over sweeps of values and shapes. With the
 * host's libm on both sides the results must be bit-identical, so any difference is a
 * transcription error in the GPU code, found without a GPU. What this cannot check is the
 * device side itself (CUDA's libm ulps, launch geometry, reductions' order inside cuBLAS):
 * scripts/gpu_check.sh does, on a device. test_im2col_oracle also holds the CPU's blocked
 * im2col/col2im_add (backend/cpu/im2col.c) to plain loops, byte for byte, over many shapes. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/backend.h"
#include "backend/math/act_math.h"
#include "backend/math/bn_math.h"
#include "backend/math/elem_math.h"
#include "common/testutil.h"

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b)); }

/* -10 .. 10 in steps that hit integers, halves and every activation's thresholds */
enum { NV = 8001 };
static float value(int i) { return (float)(i - 4000) / 400.0f; }

static void test_activations(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    static float x[NV], y[NV], d[NV];
    static uint8_t m[NV];
    for (int a = 0; a < ACT_COUNT; ++a) {
        for (int i = 0; i < NV; ++i) x[i] = y[i] = value(i);
        cpu->activate(y, NV, (activation)a);
        int bad = 0;
        for (int i = 0; i < NV; ++i) bad += !same_bits(y[i], activate1(x[i], (activation)a));
        for (int i = 0; i < NV; ++i) d[i] = 1.5f;
        cpu->gradient_from_input(x, NV, (activation)a, d);
        for (int i = 0; i < NV; ++i) {
            float g = needs_input((activation)a) ? grad_x(x[i], (activation)a)
                                                 : grad_y(activate1(x[i], (activation)a), (activation)a);
            bad += !same_bits(d[i], 1.5f * g);
        }
        if (activation_is_masked((activation)a, NULL, NULL)) {
            cpu->activation_mask(y, NV, (activation)a, m);
            for (int i = 0; i < NV; ++i) bad += m[i] != (grad_y(y[i], (activation)a) == mask_g1((activation)a));
        }
        if (bad) print_error("activation %s: %d values differ\n", activation_names[a], bad);
        assert_int_equal(bad, 0);
    }
}

static void test_batchnorm(void **state)
{
    (void)state;
    enum { C = 3, S = 50, B = 4 };
    const dn_backend *cpu = dn_backend_cpu();
    static float x[B * C * S], y[B * C * S], d[B * C * S];
    float scales[C] = {0.7f, 1.3f, -0.4f}, biases[C] = {0.25f, -1, 3}, rm[C] = {0.1f, -2, 5};
    float rv[C] = {0.5f, 3, 1e-4f}, rm0[C], rv0[C];
    bn_state b;
    assert_int_equal(bn_alloc(&b, C), 0);
    b.scales = scales; b.biases = biases; b.rolling_mean = rm; b.rolling_variance = rv;
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    for (int i = 0; i < B * C * S; ++i) x[i] = value((i * 37) % NV) * (1 + i % 3);
    /* streamed statistics: sums, mean/variance, rolling update, normalisation */
    memcpy(y, x, sizeof y);
    cpu->bn_stats_begin(&b);
    cpu->bn_stats_add(&b, y, B, S);
    cpu->bn_stats_end(&b, (double)B * S);
    cpu->bn_normalize(&b, y, B, S);
    int bad = 0;
    for (int f = 0; f < C; ++f) {
        double s = 0, q = 0;
        for (int j = 0; j < B; ++j)
            for (int k = 0; k < S; ++k) {
                /* written out, not dn_bn_stats_term: bn_stats_add and the GPU both add with
                 * it, so only an independent term catches a change to it */
                float v = x[((size_t)j * C + f) * S + k];
                s += v;
                q += (double)v * v;
            }
        /* bn_stats_add's sums are these, bit for bit */
        bad += memcmp(&s, &b.acc[2 * f], sizeof s) != 0 || memcmp(&q, &b.acc[2 * f + 1], sizeof q) != 0;
        float mean, var;
        dn_bn_stats1(s, q, (double)B * S, &mean, &var);
        bad += !same_bits(mean, b.mean[f]) + !same_bits(var, b.variance[f]);
        bad += !same_bits(dn_bn_roll(rm0[f], mean), rm[f]) + !same_bits(dn_bn_roll(rv0[f], var), rv[f]);
        for (int j = 0; j < B; ++j)
            for (int k = 0; k < S; ++k) {
                size_t i = ((size_t)j * C + f) * S + k;
                bad += !same_bits(y[i], dn_bn_norm1(x[i], mean, var));
            }
    }
    assert_int_equal(bad, 0);
    /* the pre-activation rebuild of one sample */
    float pre[C * S];
    cpu->bn_preact(&b, y, S, pre);
    for (int i = 0; i < C * S; ++i) bad += !same_bits(pre[i], y[i] * scales[i / S] + biases[i / S]);
    assert_int_equal(bad, 0);
    /* backward pass 2 of one sample of a batch of B */
    for (int f = 0; f < C; ++f) { b.sum_d[f] = 3.5f - f; b.sum_dx[f] = -0.75f + 2 * f; }
    memcpy(d, x, sizeof(float) * C * S);
    cpu->bn_backward_delta(&b, d, y, B, S);
    for (int i = 0; i < C * S; ++i) {
        int f = i / S;
        float e = dn_bn_delta1(x[i], y[i], (double)B * S, b.variance[f], scales[f], b.sum_d[f], b.sum_dx[f]);
        bad += !same_bits(d[i], e);
    }
    assert_int_equal(bad, 0);
    b.scales = b.biases = b.rolling_mean = b.rolling_variance = NULL;
    bn_free(&b);
}

/* k_bn_stats_add's order on the host: T threads' partials (dn_bn_stats_part, the
 * kernel's own code), then the block's tree (thread t adds t + w's partial for
 * w = T/2 .. 1, block_sum.cuh dn_block_sum). */
enum { STATS_TMAX = 256 }; /* DN_THREADS (cuda_check.h, a C++ header) */
static void stats_tree(const float *x, int batch, int n, int spatial, int f, int T, double *s,
                       double *q)
{
    double ps[STATS_TMAX] = {0}, pq[STATS_TMAX] = {0};
    for (int t = 0; t < T; ++t) dn_bn_stats_part(x, batch, n, spatial, f, t, T, &ps[t], &pq[t]);
    for (int w = T / 2; w > 0; w /= 2)
        for (int t = 0; t < w; ++t) {
            ps[t] += ps[t + w];
            pq[t] += pq[t + w];
        }
    *s = ps[0];
    *q = pq[0];
}

/* The GPU statistics' order against bn_stats_add, channel by channel: integer values
 * (sums exact in any order) must give the CPU's sums exactly, so every value is counted
 * once; values in [-2, 3) agree within double rounding, and bit for bit with one thread
 * (T = 1 is the CPU's order). Shapes put spatial below, at and above the thread count,
 * and 1. */
static void check_stats_order(int B, int C, int S, int T, int integers)
{
    const dn_backend *cpu = dn_backend_cpu();
    size_t total = (size_t)B * C * S;
    float *x = malloc(total * sizeof *x);
    tu_fill_uniform(x, total, -2, 3, 7 + total);
    for (size_t i = 0; integers && i < total; ++i) x[i] = (float)((int)(i * 37 % 17) - 8);
    bn_state b;
    assert_int_equal(bn_alloc(&b, C), 0);
    cpu->bn_stats_begin(&b);
    cpu->bn_stats_add(&b, x, B, S);
    for (int f = 0; f < C; ++f) {
        double s, q, abs_s = 0;
        stats_tree(x, B, C, S, f, T, &s, &q);
        for (int j = 0; j < B; ++j)
            for (int k = 0; k < S; ++k) abs_s += fabs(x[((size_t)j * C + f) * S + k]);
        /* two recursive sums of B*S terms each: within B*S units of rounding of sum |term| */
        double u = integers || T == 1 ? 0 : (double)B * S * DBL_EPSILON;
        double ts = u * abs_s, tq = u * b.acc[2 * f + 1];
        if (!(fabs(s - b.acc[2 * f]) <= ts) || !(fabs(q - b.acc[2 * f + 1]) <= tq))
            fail_msg("stats %dx%dx%d T=%d channel %d: tree %.17g %.17g, cpu %.17g %.17g", B, C,
                     S, T, f, s, q, b.acc[2 * f], b.acc[2 * f + 1]);
    }
    bn_free(&b);
    free(x);
}

static void test_bn_stats_order(void **state)
{
    (void)state;
    static const int shapes[][3] = {{4, 5, 49}, {3, 2, 1000}, {2, 3, 1}, {1, 2, 256},
                                    {2, 2, 257}, {5, 1, 3}, {1, 1, 100}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
        for (int T = 1; T <= STATS_TMAX; T *= T == 1 ? 32 : 8) /* 1, 32, 256 */
            for (int integers = 0; integers < 2; ++integers)
                check_stats_order(shapes[i][0], shapes[i][1], shapes[i][2], T, integers);
}

static void test_im2col_col2im(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    /* c, h, w, ksize, stride, pad: odd sizes, strides 1-3, pads 0-2 */
    static const int shapes[][6] = {{3, 7, 9, 3, 1, 1}, {2, 8, 8, 3, 2, 1}, {4, 5, 6, 1, 1, 0},
                                    {1, 11, 7, 5, 3, 2}, {2, 6, 6, 2, 2, 0}, {3, 4, 9, 3, 1, 0}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; ++t) {
        int c = shapes[t][0], h = shapes[t][1], w = shapes[t][2], k = shapes[t][3];
        int s = shapes[t][4], p = shapes[t][5];
        int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        size_t ncol = (size_t)c * k * k * oh * ow, nim = (size_t)c * h * w;
        float *im = malloc(nim * sizeof(float)), *col = malloc(ncol * sizeof(float));
        float *a = malloc(nim * sizeof(float)), *g = malloc(nim * sizeof(float));
        assert_non_null(im); assert_non_null(col); assert_non_null(a); assert_non_null(g);
        for (size_t i = 0; i < nim; ++i) im[i] = value((int)((i * 131) % NV));
        cpu->im2col(im, c, h, w, k, s, p, col);
        int bad = 0;
        for (size_t i = 0; i < ncol; ++i) bad += !same_bits(col[i], dn_im2col1(im, h, w, k, s, p, oh, ow, i));
        for (size_t i = 0; i < ncol; ++i) col[i] = value((int)((i * 71) % NV));
        for (size_t i = 0; i < nim; ++i) a[i] = g[i] = 0.125f * (float)(i % 5);
        cpu->col2im_add(col, c, h, w, k, s, p, a);
        for (size_t i = 0; i < nim; ++i) bad += !same_bits(a[i], dn_col2im1(col, g[i], h, w, k, s, p, oh, ow, i));
        if (bad) print_error("shape %zu: %d values differ\n", t, bad);
        assert_int_equal(bad, 0);
        free(im); free(col); free(a); free(g);
    }
}

/* The oracle for the blocked CPU im2col / col2im_add: the straightforward loops over
 * (channel, ky, kx, y, x) with a bound check per element, pjreddie's im2col_cpu and
 * col2im_cpu order. col2im adds into each image element in that order, so the blocked code
 * must give the same bytes, not just close values. */
static void ref_im2col(const float *im, int c, int h, int w, int k, int s, int p, float *col)
{
    int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    for (int ch = 0; ch < c; ++ch)
        for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx)
                for (int y = 0; y < oh; ++y)
                    for (int x = 0; x < ow; ++x) {
                        int iy = y * s + ky - p, ix = x * s + kx - p;
                        size_t r = ((size_t)ch * k + ky) * k + kx;
                        col[(r * oh + y) * ow + x] = iy < 0 || ix < 0 || iy >= h || ix >= w
                                                         ? 0 : im[((size_t)ch * h + iy) * w + ix];
                    }
}

static void ref_col2im_add(const float *col, int c, int h, int w, int k, int s, int p, float *im)
{
    int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    for (int ch = 0; ch < c; ++ch)
        for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx)
                for (int y = 0; y < oh; ++y)
                    for (int x = 0; x < ow; ++x) {
                        int iy = y * s + ky - p, ix = x * s + kx - p;
                        size_t r = ((size_t)ch * k + ky) * k + kx;
                        if (iy >= 0 && ix >= 0 && iy < h && ix < w)
                            im[((size_t)ch * h + iy) * w + ix] += col[(r * oh + y) * ow + x];
                    }
}

/* Floats of every sign and of exponents 2^-12 .. 2^12, so a sum in another order rounds
 * differently. */
static float spread(uint32_t *st)
{
    *st ^= *st << 13; *st ^= *st >> 17; *st ^= *st << 5;
    float m = (float)(*st & 0xffffff) / 16777216.0f + 0.5f;
    return ldexpf((*st >> 31) ? -m : m, (int)((*st >> 24) % 25) - 12);
}

enum { GUARD = 16 };

/* One shape: new im2col / col2im_add against the oracle, bytes compared, guards after both
 * outputs untouched. Returns the number of mismatching buffers. */
static int im2col_case(const dn_backend *cpu, int c, int h, int w, int k, int s, int p)
{
    int oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    size_t ncol = (size_t)c * k * k * oh * ow, nim = (size_t)c * h * w;
    float *im = malloc((nim + GUARD) * sizeof(float)), *col = malloc((ncol + GUARD) * sizeof(float));
    float *ref = calloc(ncol + GUARD, sizeof(float)), *a = malloc((nim + GUARD) * sizeof(float));
    float *b = malloc((nim + GUARD) * sizeof(float));
    assert_true(im && col && ref && a && b);
    uint32_t st = 0x9e3779b9u ^ (uint32_t)(c * 7919 + h * 104729 + w * 131 + k * 17 + s * 5 + p);
    for (size_t i = 0; i < nim + GUARD; ++i) im[i] = spread(&st);
    for (size_t i = 0; i < ncol + GUARD; ++i) col[i] = ref[i] = -7.0f; /* junk im2col must overwrite */
    cpu->im2col(im, c, h, w, k, s, p, col);
    ref_im2col(im, c, h, w, k, s, p, ref);
    int bad = memcmp(col, ref, (ncol + GUARD) * sizeof(float)) != 0;
    for (size_t i = 0; i < ncol; ++i) col[i] = spread(&st);
    for (size_t i = 0; i < nim + GUARD; ++i) a[i] = b[i] = spread(&st);
    cpu->col2im_add(col, c, h, w, k, s, p, a);
    ref_col2im_add(col, c, h, w, k, s, p, b);
    bad += memcmp(a, b, (nim + GUARD) * sizeof(float)) != 0;
    if (bad) print_error("c=%d h=%d w=%d k=%d s=%d p=%d: %d of im2col/col2im differ\n", c, h, w, k, s, p, bad);
    free(im); free(col); free(ref); free(a); free(b);
    return bad;
}

/* Every ksize 1/2/3/5/7 x stride 1/2/3 x pad 0-3 (pads at and past ksize/2 included) on odd
 * sizes, outputs one wide or tall, channels 1-5; then shapes over several row blocks and
 * past the parallel threshold (a row longer than a block, yolov3-tiny's first layers in
 * small). Thread counts 1 and 3: the blocks' cut must not change a byte. */
static void test_im2col_oracle(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    static const int ks[] = {1, 2, 3, 5, 7};
    static const int big[][6] = {{2, 20, 417, 3, 1, 1}, {3, 37, 301, 3, 2, 1}, {1, 9, 5000, 5, 3, 2},
                                 {5, 64, 64, 7, 1, 3}, {4, 30, 200, 2, 2, 0}, {3, 52, 52, 3, 1, 1},
                                 {16, 26, 26, 3, 1, 1}, {2, 41, 33, 1, 1, 0}, {3, 45, 47, 5, 2, 3}};
    int bad = 0, cases = 0, nt0 = 1;
#ifdef _OPENMP
    nt0 = omp_get_max_threads();
#endif
    for (int nt = 1; nt <= 3; nt += 2) {
#ifdef _OPENMP
        omp_set_num_threads(nt);
#endif
        for (int ki = 0; ki < 5; ++ki)
            for (int s = 1; s <= 3; ++s)
                for (int p = 0; p <= 3; ++p) {
                    int k = ks[ki], one = k - 2 * p > 0 ? k - 2 * p : 1; /* smallest side */
                    /* sides: odd, one output (one + s - 1 still gives one), and two outputs */
                    int sides[][2] = {{7, 9}, {13, 5}, {one, 11}, {9, one + s - 1}, {one + s, one}, {1, 3}};
                    for (int i = 0; i < 6; ++i) {
                        int h = sides[i][0], w = sides[i][1], c = 1 + (ki + s + p + i) % 5;
                        if (h + 2 * p < k || w + 2 * p < k) continue;
                        bad += im2col_case(cpu, c, h, w, k, s, p);
                        ++cases;
                    }
                }
        for (size_t i = 0; i < sizeof big / sizeof big[0]; ++i, ++cases)
            bad += im2col_case(cpu, big[i][0], big[i][1], big[i][2], big[i][3], big[i][4], big[i][5]);
    }
#ifdef _OPENMP
    omp_set_num_threads(nt0);
#endif
    print_message("im2col/col2im_add: %d shape x thread-count cases against the oracle\n", cases);
    assert_int_equal(bad, 0);
}

static void test_reorg_crop(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    enum { W = 4, H = 6, C = 8, S = 2, N = W * H * C };
    float x[N], o[N], e[N];
    for (int i = 0; i < N; ++i) x[i] = value(i * 13);
    for (int fwd = 0; fwd < 2; ++fwd) {
        cpu->reorg(x, W, H, C, S, fwd, 0, o);
        for (int k = 0; k < C; ++k)
            for (int j = 0; j < H; ++j)
                for (int i = 0; i < W; ++i) {
                    size_t in = (size_t)i + (size_t)W * (j + (size_t)H * k), m = dn_reorg_map(i, j, k, W, H, C, S);
                    e[fwd ? m : in] = x[fwd ? in : m];
                }
        assert_memory_equal(o, e, sizeof o);
    }
    enum { B = 2, CH = 3, IH = 7, IW = 9, OH = 4, OW = 5 };
    float in[B * CH * IH * IW], out[B * CH * OH * OW];
    for (int i = 0; i < B * CH * IH * IW; ++i) in[i] = value(i * 7);
    for (int flip = 0; flip < 2; ++flip) {
        cpu->crop(in, B, CH, IH, IW, OH, OW, 2, 3, flip, 2, -1, out);
        for (int i = 0; i < B * CH * OH * OW; ++i)
            assert_true(same_bits(out[i], in[dn_crop_src(CH, IH, IW, OH, OW, 2, 3, flip, (size_t)i)] * 2 + -1));
    }
}

static void test_adam(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    enum { N = 257 };
    float w[N], g[N], m[N], v[N], w2[N], g2[N], m2[N], v2[N];
    for (int i = 0; i < N; ++i) {
        w[i] = w2[i] = value(i * 29);
        g[i] = g2[i] = value(i * 17 + 5) * 3;
        m[i] = m2[i] = value(i * 3) / 10;
        v[i] = v2[i] = fabsf(value(i * 11)) / 7;
    }
    float b1t = 1.f - powf(.9f, 3.f), b2t = 1.f - powf(.999f, 3.f);
    cpu->adam_update(w, g, m, v, N, 0.0005f * 64, 0.001f, .9f, .999f, b1t, b2t, 0.25f);
    for (int i = 0; i < N; ++i) {
        dn_adam1(&w2[i], &g2[i], &m2[i], &v2[i], 0.0005f * 64, 0.001f, .9f, .999f, b1t, b2t, 0.25f);
        assert_true(same_bits(w[i], w2[i]) && same_bits(m[i], m2[i]) && same_bits(v[i], v2[i]));
        assert_true(g[i] == 0 && g2[i] == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_bn_stats_order),
        cmocka_unit_test(test_im2col_col2im),
        cmocka_unit_test(test_im2col_oracle),
        cmocka_unit_test(test_reorg_crop),
        cmocka_unit_test(test_adam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
