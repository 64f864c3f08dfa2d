/* bench_sgemm: single-precision GEMM throughput of the BLAS this build links, the peak that
 * scripts/bench_peak.sh divides training throughput by.
 *
 *   build/bin/bench_sgemm [n] [reps]      (defaults: 2048, 5)
 *
 * Times C = A*B for n x n x n row-major matrices (2 n^3 flops) through the same dn_gemm
 * the convolutions call, once to warm up and then `reps` times; prints the median and the
 * best GFLOPS, the BLAS's own description and its thread count. The machine is shared, so
 * the best repetition is the closest to the quiet peak; the median is printed beside it.
 * The last line is machine-readable: "sgemm: n=.. threads=.. median_gflops=.. best_gflops=.." */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

#include "backend/backend.h"
#include "bench_util.h"

static double now(void) { return bench_now(CLOCK_MONOTONIC); }

static int arg_int(const char *s, int lo, int hi, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) {
        fprintf(stderr, "bench_sgemm: %s must be an integer in [%d, %d], got '%s'\n", what, lo, hi, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? arg_int(argv[1], 16, 16384, "n") : 2048;
    int reps = argc > 2 ? arg_int(argv[2], 1, 1000, "reps") : 5;
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float)), *c = malloc(nn * sizeof(float));
    double *t = malloc((size_t)reps * sizeof(double));
    if (!a || !b || !c || !t) {
        fprintf(stderr, "bench_sgemm: out of memory for three %dx%d matrices\n", n, n);
        return 1;
    }
    /* Values in [-1, 1): denormals or infinities would time something else. */
    unsigned s = 12345u;
    for (size_t i = 0; i < nn; ++i) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / 8388608.f - 1.f;
        b[i] = (float)((s * 69069u) >> 8) / 8388608.f - 1.f;
    }
    dn_backend_cpu()->gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n); /* warm-up: thread start, page faults */
    for (int r = 0; r < reps; ++r) {
        double t0 = now();
        dn_backend_cpu()->gemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
        t[r] = now() - t0;
    }
    double flop = 2.0 * n * (double)n * n;
    double med = bench_median(t, reps);
    printf("blas: %s (core %s, %d threads, parallel=%d: 0 serial, 1 pthreads, 2 OpenMP)\n",
           openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(),
           openblas_get_parallel());
    int threads = openblas_get_num_threads();
    printf("sgemm: n=%d threads=%d median_gflops=%.1f best_gflops=%.1f check=%g\n", n, threads,
           flop / med * 1e-9, flop / t[0] * 1e-9, (double)c[nn / 2]);
    free(a);
    free(b);
    free(c);
    free(t);
    return 0;
}
