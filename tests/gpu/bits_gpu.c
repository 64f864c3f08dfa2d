/* bits_gpu.c: actnn_cuda_alloc_bits and actnn_cuda_split_bits (actnn_auto's per-sample
 * widths chosen on the device, bits.cu) against the host library's actnn_alloc_bits and
 * actnn_split_bits, byte for byte: mini-batches of 1 to 5000 samples, costs over 30
 * decades, with ties (zeros, repeated values) and subnormals, averages from 1 to 9; a NaN
 * cost (the widths of all-zero costs, ACTNN_E_NONFINITE from the status) and the argument
 * errors. The per-sample arithmetic is allocmath.h's, which test_actnn_cuda_mirror checks
 * on the host; this checks the kernel around it, and that it writes nothing past the n
 * widths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actnn.h"
#include "actnn_cuda.h"
#include "gpu/gpu_test.h"

/* n costs: kind 0 spread over 30 decades, 1 small integers and zeros (ties), 2 all zero,
 * 3 subnormals and a repeated tiny value (the products' rounding at the bottom of the
 * range, where a device multiply that flushed to zero would differ), 4 earlier values
 * repeated. */
static void costs(double *c, size_t n, int kind, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t k = 0; k < n; ++k) {
        float u = gt_uniform(&s, 0.0f, 1.0f);
        c[k] = kind == 0 ? exp(69.0 * gt_uniform(&s, 0.0f, 1.0f) - 34.5)
             : kind == 1 ? (u < 0.3f ? 0.0 : (double)(1 + (int)(u * 4)))
             : kind == 3 ? (u < 0.5f ? 0x1p-1070 * (1 + (int)(u * 8)) : 1e-300)
             : kind == 4 ? (k ? c[(size_t)(u * (float)k)] : 1.5)
                         : 0.0;
    }
}

static const char *kind_name(int kind)
{
    static const char *names[] = {"decades", "ties", "zeros", "subnormals", "repeats"};
    return names[kind];
}

/* One case: the device's widths (from d_cost, or the split when cost is NULL) against the
 * host's, and the status it leaves (want_st). */
static void check_case(actnn_cuda_ctx *cc, const double *cost, size_t n, double avg,
                       const char *what, int want_st)
{
    enum { GUARD = 64 }; /* bytes after the widths that no kernel may write */
    uint8_t *want = malloc(n), *got = malloc(n + GUARD);
    uint8_t *db = gt_dev_zero(n + GUARD);
    double *dc = cost ? gt_dev(cost, n * sizeof(double)) : NULL;
    double *zero = calloc(n, sizeof(double));
    int herr = !cost ? actnn_split_bits(n, avg, want)
                     : actnn_alloc_bits(want_st ? zero : cost, NULL, n, avg, want);
    int err = cost ? actnn_cuda_alloc_bits(cc, dc, n, avg, db) : actnn_cuda_split_bits(cc, n, avg, db);
    int st = err ? err : actnn_cuda_status(cc);
    gt_pull(got, db, n + GUARD);
    size_t overrun = 0;
    for (size_t k = n; k < n + GUARD; ++k) overrun += got[k] != 0;
    char name[160], detail[160];
    snprintf(name, sizeof name, "actnn widths %s n=%zu avg=%g", what, n, avg);
    size_t wrong = 0, first = n;
    for (size_t k = 0; k < n; ++k)
        if (got[k] != want[k]) {
            if (first == n) first = k;
            ++wrong;
        }
    snprintf(detail, sizeof detail, "%zu of %zu differ (first %zu: %d vs %d); %zu bytes past them "
             "written; status %s; host %s", wrong, n, first, first < n ? got[first] : 0,
             first < n ? want[first] : 0, overrun, actnn_strerror(st), actnn_strerror(herr));
    int ok = !herr && !err && wrong == 0 && overrun == 0 && st == want_st;
    gt_result(name, ok, ok ? NULL : detail);
    if (dc) gt_free(dc, n * sizeof(double));
    gt_free(db, n + GUARD);
    free(zero);
    free(want);
    free(got);
}

int gt_bits(void)
{
    actnn_cuda_ctx *cc = NULL;
    if (actnn_cuda_ctx_create(NULL, &cc)) {
        gt_result("actnn widths: context", 0, "could not create");
        return -1;
    }
    static const size_t ns[] = {1, 2, 7, 64, 200, 1000, 5000};
    static const double avgs[] = {1.0, 15.0 / 11.0, 2.0, 2.5, 4.0 + 1.0 / 3.0, 8.0, 9.0};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; ++i) {
        size_t n = ns[i];
        double *c = malloc(n * sizeof(double));
        for (int kind = 0; kind < 5; ++kind)
            for (size_t a = 0; a < sizeof avgs / sizeof *avgs; ++a) {
                if (n > 1000 && a % 2) continue; /* O(n^2) host-side pace: half the averages */
                costs(c, n, kind, 31 + i * 7 + (uint64_t)kind);
                check_case(cc, c, n, avgs[a], kind_name(kind), ACTNN_OK);
            }
        check_case(cc, NULL, n, 2.0 + 3.0 / 7.0, "split", ACTNN_OK);
        costs(c, n, 0, 5);
        c[n / 2] = NAN;
        check_case(cc, c, n, 2.5, "NaN cost", ACTNN_E_NONFINITE);
        free(c);
    }
    /* argument errors, as the host library's */
    uint8_t *db = gt_dev_zero(4);
    double *dc = gt_dev_zero(4 * sizeof(double));
    int e1 = actnn_cuda_alloc_bits(cc, dc, 4, 0.5, db), e2 = actnn_cuda_alloc_bits(cc, dc, 0, 2, db),
        e3 = actnn_cuda_split_bits(cc, 4, 8.5, db), e4 = actnn_cuda_alloc_bits(cc, NULL, 4, 2, db);
    int ok = e1 == ACTNN_E_PARAM && e2 == ACTNN_E_SIZE && e3 == ACTNN_E_PARAM && e4 == ACTNN_E_NULL;
    gt_result("actnn widths: argument errors", ok, ok ? NULL : "an error code differs from the host's");
    gt_free(db, 4);
    gt_free(dc, 4 * sizeof(double));
    actnn_cuda_ctx_free(cc);
    return 0;
}
