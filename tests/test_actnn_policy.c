/* test_actnn_policy.c: the mixed-precision bit allocator of actnn_plugin.
 *
 * - per-sample allocation (equal weights) equals the brute-force optimum of
 *   min sum_k C_k / (2^b_k - 1)^2 s.t. sum_k b_k <= avg * n, b_k in [1, 8], on every
 *   small case tried, and spends the budget exactly (floor(avg * n) bits);
 * - weighted (per-layer) allocation always meets its budget, equals the brute force
 *   whenever the weights are equal, and in at least 98% of random unequal cases;
 * - wider ranges / higher sensitivity never get fewer bits;
 * - actnn_alloc_layers: layer bits are the mean of their samples, budget met;
 * - actnn_sample_costs: sensitivity * sum of squared group ranges;
 * - bad arguments give errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actnn.h"

static uint64_t xs_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double unif(uint64_t *s) { return (double)(xs_next(s) >> 11) * 0x1p-53; }

static double objective(const double *c, const uint8_t *b, size_t n)
{
    double o = 0.0;
    for (size_t k = 0; k < n; ++k) {
        double l = (double)((1u << b[k]) - 1u);
        o += c[k] / (l * l);
    }
    return o;
}

/* Exhaustive search over 8^n assignments (n <= 5). Returns the best objective. */
static double brute_force(const double *c, const double *w, size_t n, double avg, uint8_t *best)
{
    double wsum = 0.0, bestv = INFINITY;
    for (size_t k = 0; k < n; ++k) wsum += w ? w[k] : 1.0;
    double budget = avg * wsum * (1 + 1e-12);
    size_t total = 1;
    for (size_t k = 0; k < n; ++k) total *= 8;
    uint8_t b[8];
    for (size_t code = 0; code < total; ++code) {
        size_t r = code;
        double used = 0.0;
        for (size_t k = 0; k < n; ++k, r /= 8) {
            b[k] = (uint8_t)(1 + r % 8);
            used += (w ? w[k] : 1.0) * b[k];
        }
        if (used > budget) continue;
        double o = objective(c, b, n);
        if (o < bestv) {
            bestv = o;
            memcpy(best, b, n);
        }
    }
    return bestv;
}

static void random_costs(uint64_t *s, double *c, size_t n)
{
    for (size_t k = 0; k < n; ++k) {
        /* Costs over 12 decades, some zero: ranges and sensitivities differ wildly. */
        double u = unif(s);
        c[k] = u < 0.1 ? 0.0 : exp(27.6 * unif(s) - 13.8);
    }
}

/* Equal weights: the greedy is exactly optimal (separable convex objective). Compare
 * objectives (several optima can tie), relative tolerance for summation order. */
static void test_per_sample_matches_brute_force(void **state)
{
    (void)state;
    uint64_t s = 2024;
    static const double avgs[] = {1.0, 1.25, 2.0, 2.5, 3.0, 4.0, 7.9, 8.0, 9.0};
    size_t cases = 0;
    for (size_t n = 1; n <= 5; ++n)
        for (size_t ai = 0; ai < sizeof avgs / sizeof *avgs; ++ai)
            for (int rep = 0; rep < (n <= 3 ? 40 : 6); ++rep) {
                double c[8];
                uint8_t b[8], bb[8];
                random_costs(&s, c, n);
                assert_int_equal(actnn_alloc_bits(c, NULL, n, avgs[ai], b), ACTNN_OK);
                double opt = brute_force(c, NULL, n, avgs[ai], bb), got = objective(c, b, n);
                if (got > opt * (1 + 1e-12))
                    fail_msg("n=%zu avg=%g: greedy %.17g > optimum %.17g", n, avgs[ai], got, opt);
                size_t used = 0;
                for (size_t k = 0; k < n; ++k) {
                    assert_true(b[k] >= 1 && b[k] <= 8);
                    used += b[k];
                }
                /* Budget met, and met exactly (whole bits) unless capped at 8 bits. */
                double cap = floor(avgs[ai] * (double)n + 1e-9);
                assert_true((double)used <= cap);
                assert_true((double)used == (cap < 8.0 * (double)n ? cap : 8.0 * (double)n));
                cases++;
            }
    print_message("per-sample: %zu cases equal to brute force\n", cases);
}

/* Unequal weights (per-layer pooling): budget always met; equal to the brute force in
 * (nearly) every random case. */
static void test_weighted(void **state)
{
    (void)state;
    uint64_t s = 7;
    size_t cases = 0, exact = 0;
    double worst = 1.0;
    for (size_t n = 2; n <= 5; ++n)
        for (int rep = 0; rep < (n <= 3 ? 500 : 50); ++rep) {
            double c[8], w[8], wsum = 0.0;
            uint8_t b[8], bb[8];
            random_costs(&s, c, n);
            for (size_t k = 0; k < n; ++k) wsum += w[k] = (double)(1 + xs_next(&s) % 64) * 256.0;
            double avg = 1.0 + 4.0 * unif(&s);
            assert_int_equal(actnn_alloc_bits(c, w, n, avg, b), ACTNN_OK);
            double used = 0.0;
            for (size_t k = 0; k < n; ++k) used += w[k] * b[k];
            assert_true(used <= avg * wsum * (1 + 1e-12));
            double opt = brute_force(c, w, n, avg, bb), got = objective(c, b, n);
            assert_true(got >= opt * (1 - 1e-12)); /* sanity of the brute force */
            if (got <= opt * (1 + 1e-12)) exact++;
            else if (opt > 0 && got / opt > worst) worst = got / opt;
            cases++;
        }
    print_message("weighted: %zu/%zu cases equal to brute force, worst ratio %.3f\n", exact, cases, worst);
    /* The weighted problem is knapsack-like: greedy + refill + exchange moves is a
     * heuristic, not a proof of optimality. Measured: optimal in every one of these
     * cases (greedy alone: 95%); we require 98% so that a regression shows. */
    assert_true(exact * 100 >= cases * 98);

    /* Equal weights through the weighted path: exactly optimal again. */
    for (int rep = 0; rep < 100; ++rep) {
        double c[4], w[4] = {300, 300, 300, 300};
        uint8_t b[4], bb[4];
        random_costs(&s, c, 4);
        double avg = 1.0 + 3.0 * unif(&s);
        assert_int_equal(actnn_alloc_bits(c, w, 4, avg, b), ACTNN_OK);
        double opt = brute_force(c, w, 4, avg, bb);
        assert_true(objective(c, b, 4) <= opt * (1 + 1e-12));
    }
}

/* Larger costs never get fewer bits, and the average is the budget. */
static void test_monotone_and_budget(void **state)
{
    (void)state;
    uint64_t s = 11;
    size_t n = 1000;
    double *c = malloc(n * sizeof *c);
    uint8_t *b = malloc(n);
    for (size_t k = 0; k < n; ++k) c[k] = exp(10 * unif(&s));
    for (double avg = 1.0; avg <= 8.0; avg += 0.5) {
        assert_int_equal(actnn_alloc_bits(c, NULL, n, avg, b), ACTNN_OK);
        size_t used = 0;
        for (size_t k = 0; k < n; ++k) used += b[k];
        assert_int_equal(used, (size_t)(avg * (double)n));
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; j += 37)
                if (c[i] > c[j]) assert_true(b[i] >= b[j]);
    }
    /* Equal costs: bits differ by at most one (the spread is the cheapest). */
    for (size_t k = 0; k < n; ++k) c[k] = 1.0;
    assert_int_equal(actnn_alloc_bits(c, NULL, n, 2.5, b), ACTNN_OK);
    for (size_t k = 0; k < n; ++k) assert_true(b[k] == 2 || b[k] == 3);
    free(c);
    free(b);
}

static void test_alloc_layers(void **state)
{
    (void)state;
    uint64_t s = 3;
    size_t L = 5, N = 8;
    size_t elems[5] = {65536, 16384, 4096, 1024, 256};
    double cost[40], lb[5];
    uint8_t sb[40];
    for (size_t k = 0; k < L * N; ++k) cost[k] = exp(8 * unif(&s)) * (double)elems[k / N];
    for (double avg = 1.0; avg <= 6.0; avg += 1.25) {
        assert_int_equal(actnn_alloc_layers(cost, elems, L, N, avg, lb, sb), ACTNN_OK);
        double used = 0.0, total = 0.0;
        for (size_t l = 0; l < L; ++l) {
            double mean = 0.0;
            for (size_t n = 0; n < N; ++n) mean += sb[l * N + n];
            assert_true(fabs(mean / (double)N - lb[l]) < 1e-12);
            used += lb[l] * (double)N * (double)elems[l];
            total += (double)N * (double)elems[l];
        }
        assert_true(used <= avg * total * (1 + 1e-12));
        /* Without sample_bits the layer bits are the same. */
        double lb2[5];
        assert_int_equal(actnn_alloc_layers(cost, elems, L, N, avg, lb2, NULL), ACTNN_OK);
        assert_memory_equal(lb, lb2, sizeof lb);
    }
    /* A layer with 1000x the sensitivity gets at least as many bits as its twin. */
    size_t e2[2] = {4096, 4096};
    double c2[4] = {1.0, 1.0, 1000.0, 1000.0}, lb3[2];
    assert_int_equal(actnn_alloc_layers(c2, e2, 2, 2, 2.0, lb3, NULL), ACTNN_OK);
    assert_true(lb3[1] > lb3[0]);
    assert_true(lb3[0] + lb3[1] <= 4.0 + 1e-12);
}

static void test_sample_costs(void **state)
{
    (void)state;
    size_t N = 3, D = 300, G = 128;
    float x[900];
    for (size_t j = 0; j < N * D; ++j) x[j] = (float)(j % D % G) * (float)(j / D + 1); /* ramps */
    double c[3];
    assert_int_equal(actnn_sample_costs(x, N, D, G, 2.0, c), ACTNN_OK);
    for (size_t n = 0; n < N; ++n) {
        /* Groups of 128, 128, 44 values: ranges 127a, 127a, 43a with a = n + 1. */
        double a = (double)(n + 1), want = 2.0 * (2 * 127.0 * 127.0 + 43.0 * 43.0) * a * a;
        assert_true(fabs(c[n] - want) <= 1e-12 * want);
    }
    assert_int_equal(actnn_sample_costs(x, N, D, G, -1.0, c), ACTNN_E_PARAM);
    assert_int_equal(actnn_sample_costs(x, N, D, 100, 1.0, c), ACTNN_E_GROUP);
    assert_int_equal(actnn_sample_costs(NULL, N, D, G, 1.0, c), ACTNN_E_NULL);
    assert_int_equal(actnn_sample_costs(x, 0, D, G, 1.0, c), ACTNN_E_SIZE);
}

/* The widths' sums known before the costs (actnn_alloc_bits_sum, actnn_split_bits_sum):
 * a device sizes a tensor from them before its widths exist, so they must be the sums of
 * the widths actnn_alloc_bits and actnn_split_bits then choose, for every n and average
 * (the oracle: those functions' own widths, summed). The split is the even one by index. */
static void test_sums_before_costs(void **state)
{
    (void)state;
    uint64_t s = 77;
    size_t cases = 0;
    for (size_t n = 1; n <= 70; n += (n < 10 ? 1 : 7))
        for (int ai = 0; ai <= 56; ++ai) {
            /* eighths, thirds-like fractions (inexact) and the bounds */
            double avg = ai < 50 ? 1.0 + ai * 0.14 : (double)(ai - 49) * 7.0 / 6.0 + 0.3 / (double)n;
            if (avg > 8.0) avg = 8.0;
            if (ai == 56) avg = 1.0 + 1.0 / 3.0;
            if (ai == 0 && n % 2) avg = 8.0; /* the bounds: 1 (even n) and 8 (odd n) */
            double c[70];
            uint8_t b[70], sp[70];
            random_costs(&s, c, n);
            size_t sum = 0, ssum = 0, got = 0, sgot = 0;
            assert_int_equal(actnn_alloc_bits(c, NULL, n, avg, b), ACTNN_OK);
            assert_int_equal(actnn_alloc_bits_sum(n, avg, &sum), ACTNN_OK);
            assert_int_equal(actnn_split_bits(n, avg, sp), ACTNN_OK);
            assert_int_equal(actnn_split_bits_sum(n, avg, &ssum), ACTNN_OK);
            int lo = (int)avg;
            for (size_t k = 0; k < n; ++k) {
                got += b[k];
                sgot += sp[k];
                assert_true(sp[k] == lo || sp[k] == lo + 1);
                if (k && sp[k] > sp[k - 1]) fail_msg("split n=%zu avg=%.17g: not by index", n, avg);
            }
            if (got != sum || sgot != ssum)
                fail_msg("n=%zu avg=%.17g: alloc %zu (sum says %zu), split %zu (sum says %zu)", n,
                         avg, got, sum, sgot, ssum);
            assert_true((double)ssum <= avg * (double)n + 1e-6 && (double)ssum > avg * (double)n - 1.0);
            cases++;
        }
    /* averages that are a layer's mean of n widths (actnn_alloc_layers: p / n), whose
     * product with n rounds just below p (15/11 * 11 = 14.999...): the greedy's slack */
    static const size_t qs[] = {11, 13, 14, 19};
    for (size_t qi = 0; qi < 4; ++qi)
        for (size_t p = qs[qi]; p <= 8 * qs[qi]; ++p) {
            size_t n = qs[qi], sum = 0, got = 0;
            double c[19], avg = (double)p / (double)n;
            uint8_t b[19];
            random_costs(&s, c, n);
            assert_int_equal(actnn_alloc_bits(c, NULL, n, avg, b), ACTNN_OK);
            assert_int_equal(actnn_alloc_bits_sum(n, avg, &sum), ACTNN_OK);
            for (size_t k = 0; k < n; ++k) got += b[k];
            if (got != sum || sum != p) fail_msg("avg %zu/%zu: alloc %zu, sum says %zu", p, n, got, sum);
            cases++;
        }
    size_t sum;
    uint8_t b[2];
    assert_int_equal(actnn_alloc_bits_sum(0, 2.0, &sum), ACTNN_E_SIZE);
    assert_int_equal(actnn_alloc_bits_sum(2, 0.5, &sum), ACTNN_E_PARAM);
    assert_int_equal(actnn_alloc_bits_sum(2, NAN, &sum), ACTNN_E_PARAM);
    assert_int_equal(actnn_alloc_bits_sum(2, 2.0, NULL), ACTNN_E_NULL);
    /* above 8 bits: every item at 8, as actnn_alloc_bits gives them */
    double c9[3] = {1, 0, 5};
    uint8_t b9[3];
    assert_int_equal(actnn_alloc_bits_sum(3, 9.0, &sum), ACTNN_OK);
    assert_int_equal(actnn_alloc_bits(c9, NULL, 3, 9.0, b9), ACTNN_OK);
    assert_int_equal(sum, (size_t)b9[0] + b9[1] + b9[2]);
    assert_int_equal(sum, 24);
    assert_int_equal(actnn_split_bits(2, 8.5, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_split_bits(2, 0.9, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_split_bits(0, 2.0, b), ACTNN_E_SIZE);
    assert_int_equal(actnn_split_bits_sum(2, NAN, &sum), ACTNN_E_PARAM);
    print_message("widths' sums: %zu cases\n", cases);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    double c[3] = {1, 2, 3}, w[3] = {1, 1, 1}, lb[1];
    uint8_t b[3];
    size_t e[1] = {3};
    assert_int_equal(actnn_alloc_bits(NULL, NULL, 3, 2.0, b), ACTNN_E_NULL);
    assert_int_equal(actnn_alloc_bits(c, NULL, 3, 2.0, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_alloc_bits(c, NULL, 0, 2.0, b), ACTNN_E_SIZE);
    assert_int_equal(actnn_alloc_bits(c, NULL, 3, 0.5, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_alloc_bits(c, NULL, 3, NAN, b), ACTNN_E_PARAM);
    c[1] = -1;
    assert_int_equal(actnn_alloc_bits(c, NULL, 3, 2.0, b), ACTNN_E_PARAM);
    c[1] = INFINITY;
    assert_int_equal(actnn_alloc_bits(c, NULL, 3, 2.0, b), ACTNN_E_PARAM);
    c[1] = 2;
    w[2] = 0;
    assert_int_equal(actnn_alloc_bits(c, w, 3, 2.0, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_alloc_layers(c, e, 0, 3, 2.0, lb, NULL), ACTNN_E_SIZE);
    assert_int_equal(actnn_alloc_layers(c, NULL, 1, 3, 2.0, lb, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_alloc_layers(c, e, 1, 3, 0.0, lb, NULL), ACTNN_E_PARAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_sample_matches_brute_force),
        cmocka_unit_test(test_weighted),
        cmocka_unit_test(test_monotone_and_budget),
        cmocka_unit_test(test_alloc_layers),
        cmocka_unit_test(test_sample_costs),
        cmocka_unit_test(test_sums_before_costs),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
