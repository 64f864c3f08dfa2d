/* test_vec_mirror.c: vec_math.h, the per-element arithmetic of the GPU's small vector
 * kernels (vec.cu), on the host against the CPU backend (backend.h). axpy, scal and the
 * bias add must equal the CPU backend bit for bit (values not dyadic, so a fused or
 * reordered operation would round differently). The bias gradient is summed in the
 * kernel's order (per-thread strided partial sums, then the halving tree, replayed here
 * exactly as the threads do it) and compared with a float64 sum: recursive float summation
 * of m terms errs by at most (m-1)*u*sum|x| (u = 2^-24, Higham's bound to first order); the
 * kernel's chain per thread plus tree is shorter than m, so that bound holds, and the CPU
 * backend's result must meet it too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/math/vec_math.h"

static void fill(float *x, size_t n, unsigned k)
{
    for (size_t i = 0; i < n; ++i) x[i] = (float)((i * 7919 + k * 104729) % 1009) / 7.0f - 60.0f;
}

static void elementwise_equal_cpu(void **st)
{
    (void)st;
    const dn_backend *cpu = dn_backend_cpu();
    int batch = 3, n = 5, spatial = 37;
    size_t total = (size_t)batch * n * spatial;
    float *x = malloc(total * sizeof(float)), *y = malloc(total * sizeof(float));
    float *ref = malloc(total * sizeof(float)), bias[5];
    assert_true(x && y && ref);
    fill(x, total, 1);
    fill(y, total, 2);
    fill(bias, 5, 3);
    float a = 0.37f;
    memcpy(ref, y, total * sizeof(float));
    cpu->axpy(ref, x, total, a);
    for (size_t i = 0; i < total; ++i) assert_true(dn_axpy1(y[i], a, x[i]) == ref[i]);
    memcpy(ref, x, total * sizeof(float));
    cpu->scal(ref, total, a);
    for (size_t i = 0; i < total; ++i) assert_true(dn_scal1(x[i], a) == ref[i]);
    memcpy(ref, x, total * sizeof(float));
    cpu->add_bias(ref, bias, batch, n, spatial);
    for (size_t i = 0; i < total; ++i) assert_true(dn_add_bias1(x[i], bias, i, n, spatial) == ref[i]);
    free(x);
    free(y);
    free(ref);
}

/* The kernel's result for channel f: DN_VEC_THREADS partial sums, then the tree. */
static float kernel_bias(const float *delta, int batch, int n, int spatial, int f)
{
    float part[DN_VEC_THREADS];
    for (int t = 0; t < DN_VEC_THREADS; ++t)
        part[t] = dn_bias_partial(delta, batch, n, spatial, f, t, DN_VEC_THREADS);
    for (int w = DN_VEC_THREADS / 2; w > 0; w /= 2)
        for (int t = 0; t < w; ++t) part[t] = dn_bias_tree_step(part[t], part[t + w]);
    return part[0];
}

static void bias_case(int batch, int n, int spatial)
{
    const dn_backend *cpu = dn_backend_cpu();
    size_t total = (size_t)batch * n * spatial;
    float *d = malloc(total * sizeof(float)), *upd = calloc((size_t)n, sizeof(float));
    assert_true(d && upd);
    fill(d, total, 4);
    cpu->backward_bias(upd, d, batch, n, spatial);
    for (int f = 0; f < n; ++f) {
        double exact = 0, mag = 0;
        for (int j = 0; j < batch; ++j)
            for (int k = 0; k < spatial; ++k) {
                double v = d[((size_t)j * n + f) * spatial + k];
                exact += v;
                mag += fabs(v);
            }
        double m = (double)batch * spatial, bound = (m - 1) * ldexp(1.0, -24) * mag + 1e-30;
        double gpu = kernel_bias(d, batch, n, spatial, f);
        if (fabs(gpu - exact) > bound)
            fail_msg("channel %d (%dx%d): kernel order %.9g, exact %.9g, bound %.3g", f, batch,
                     spatial, gpu, exact, bound);
        if (fabs(upd[f] - exact) > bound)
            fail_msg("channel %d: CPU %.9g, exact %.9g, bound %.3g", f, (double)upd[f], exact, bound);
    }
    free(d);
    free(upd);
}

/* Fewer values than threads, exactly as many, many more, and a batch of several. */
static void bias_gradient_bounded(void **st)
{
    (void)st;
    bias_case(1, 3, 17);
    bias_case(2, 4, 256);
    bias_case(4, 3, 13 * 13 * 7);
    bias_case(8, 2, 104 * 104);
}

/* The bound is tight enough to catch a lost term: dropping one value of the tree fails. */
static void bound_catches_a_lost_term(void **st)
{
    (void)st;
    int spatial = 300;
    float *d = malloc(spatial * sizeof(float));
    assert_non_null(d);
    fill(d, (size_t)spatial, 5);
    double exact = 0, mag = 0;
    for (int k = 0; k < spatial; ++k) exact += d[k], mag += fabs(d[k]);
    float lost = kernel_bias(d, 1, 1, spatial, 0) - d[spatial - 1];
    double bound = (spatial - 1) * ldexp(1.0, -24) * mag;
    assert_true(fabs(lost - exact) > bound);
    free(d);
}

/* The non-finite test of the CUDA kernel (dn_nonfinite1) and the CPU backend's
 * nonfinite_mark against C's isfinite, over the special values, their neighbours and NaN
 * payloads at both ends, each alone at every position of an array long enough for the
 * vectorized loop's several lanes, unrolled iterations and tail (the op must see all). */
static float from_bits(uint32_t b)
{
    float v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static void nonfinite_against_isfinite(void **st)
{
    (void)st;
    const float v[] = {0.f, -0.f, 1.f, -1.f, 1e-45f, -1e-45f, 1.17549435e-38f, 3.4028235e38f,
                       -3.4028235e38f, INFINITY, -INFINITY, NAN, -NAN,
                       from_bits(0x7f800001u), from_bits(0x7fffffffu), from_bits(0xff800001u),
                       from_bits(0xffffffffu), from_bits(0x7f7fffffu), from_bits(0xff7fffffu),
                       from_bits(0x00800000u), from_bits(0x7f000000u)};
    enum { LEN = 71 };
    const dn_backend *be = dn_backend_cpu();
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); ++k) {
        assert_int_equal(dn_nonfinite1(v[k]), !isfinite(v[k]));
        for (size_t at = 0; at < LEN; ++at) {
            float x[LEN], flag = 0;
            fill(x, LEN, 5);
            x[at] = v[k];
            be->nonfinite_mark(x, LEN, &flag);
            assert_true(flag == (isfinite(v[k]) ? 0.f : 1.f));
            flag = 2; /* left as it was when all are finite */
            be->nonfinite_mark(x, at, &flag);
            assert_true(flag == 2);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elementwise_equal_cpu),
        cmocka_unit_test(bias_gradient_bounded),
        cmocka_unit_test(bound_catches_a_lost_term),
        cmocka_unit_test(nonfinite_against_isfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
