/* bench_actnn: throughput of actnn_plugin's save and restore at 1/2/4/8 bits on 64 MiB
 * of fp32, next to memcpy of the same buffer in the same run (median of repetitions),
 * single thread and all threads, and the bits per value actually stored.
 *
 *   build/bin/bench_actnn [reps] [MiB]      (defaults: 7 repetitions, 64 MiB)
 *
 * Throughput is input bytes (fp32) per second; a ratio is memcpy time / operation time,
 * so 1.0 means as fast as copying the buffer: the median over repetitions of that ratio,
 * memcpy timed right before the operation in each repetition. The "memcpy GB/s" line is
 * the faster of two separate medians. The last line is machine-readable. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "actnn.h"
#include "bench_util.h"

#define NBITS 4
static const int bench_bits[NBITS] = {1, 2, 4, 8};

typedef struct {
    size_t N, D, bytes;
    int reps;
    float *x, *y, *copy;
} bench;

typedef struct {
    double bpv, save, restore;         /* bits per value; median seconds */
    double save_ratio, restore_ratio;  /* median of per-rep memcpy time / op time */
} bench_row;

static double now(void) { return bench_now(CLOCK_MONOTONIC); }

/* Activation-like data: a normal distribution through a leaky relu. */
static void fill(float *x, size_t n)
{
    uint64_t s = 0x12345678ull;
    for (size_t i = 0; i < n; i += 2) {
        double u[2];
        for (int k = 0; k < 2; ++k) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            u[k] = ((double)(s >> 11) + 0.5) * 0x1p-53;
        }
        double r = sqrt(-2.0 * log(u[0])), a = 6.283185307179586 * u[1];
        float z0 = (float)(r * cos(a)), z1 = (float)(r * sin(a));
        x[i] = z0 > 0 ? z0 : 0.1f * z0;
        if (i + 1 < n) x[i + 1] = z1 > 0 ? z1 : 0.1f * z1;
    }
}

static void parallel_memcpy(float *dst, const float *src, size_t n)
{
#pragma omp parallel
    {
#ifdef _OPENMP
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
#else
        size_t nt = 1, id = 0;
#endif
        size_t chunk = (n + nt - 1) / nt, lo = id * chunk, hi = lo + chunk < n ? lo + chunk : n;
        if (lo < hi) memcpy(dst + lo, src + lo, (hi - lo) * sizeof *dst);
    }
}

static double copy_once(const bench *b, int threads)
{
    double t0 = now();
    if (threads == 1) memcpy(b->copy, b->x, b->bytes);
    else parallel_memcpy(b->copy, b->x, b->N * b->D);
    return now() - t0;
}

static double time_memcpy(const bench *b, int threads)
{
    double t[64];
    for (int r = 0; r < b->reps; ++r) t[r] = copy_once(b, threads);
    return bench_median(t, b->reps);
}

static int check(int err, const char *what)
{
    if (err) fprintf(stderr, "bench_actnn: %s: %s\n", what, actnn_strerror(err));
    return err;
}

/* One warm-up round (fills the pool), then reps of memcpy, save, restore. The ratios
 * pair each operation with the memcpy of the same rep: on a shared machine the load
 * changes from second to second, and a pair sees nearly the same load. */
static int time_bits(const bench *b, actnn_ctx *ctx, int bits, int threads, bench_row *row)
{
    double ts[64], tr[64], rs[64], rr[64];
    for (int r = -1; r < b->reps; ++r) {
        actnn_tensor *t;
        double tm = copy_once(b, threads);
        double t0 = now();
        if (check(actnn_save(ctx, b->x, b->N, b->D, bits, NULL, (uint64_t)(r + 1), &t), "save"))
            return -1;
        double t1 = now();
        if (check(actnn_restore(ctx, t, b->y), "restore")) return -1;
        double t2 = now();
        if (r >= 0) {
            ts[r] = t1 - t0, tr[r] = t2 - t1;
            rs[r] = tm / ts[r], rr[r] = tm / tr[r];
        }
        actnn_tensor_info info;
        actnn_tensor_get_info(t, &info);
        row->bpv = 8.0 * (double)(info.payload_bytes + info.meta_bytes) / (double)(b->N * b->D);
        actnn_tensor_free(ctx, t);
    }
    row->save = bench_median(ts, b->reps);
    row->restore = bench_median(tr, b->reps);
    row->save_ratio = bench_median(rs, b->reps);
    row->restore_ratio = bench_median(rr, b->reps);
    return 0;
}

static int run_mode(const bench *b, int threads, bench_row rows[NBITS], double *tmemcpy)
{
    actnn_config cfg;
    actnn_config_init(&cfg);
    cfg.nthreads = threads;
    actnn_ctx *ctx;
    if (check(actnn_ctx_create(&cfg, &ctx), "context")) return -1;
    *tmemcpy = time_memcpy(b, threads);
    for (int i = 0; i < NBITS; ++i)
        if (time_bits(b, ctx, bench_bits[i], threads, &rows[i])) return -1;
    /* Second memcpy measurement after the codec, keep the faster (fairer to memcpy). */
    double again = time_memcpy(b, threads);
    if (again < *tmemcpy) *tmemcpy = again;
    actnn_ctx_free(ctx);
    return 0;
}

static void print_mode(const bench *b, const char *name, const bench_row rows[NBITS], double tm)
{
    double gb = (double)b->bytes / 1e9;
    printf("%-8s memcpy                     %7.2f GB/s\n", name, gb / tm);
    for (int i = 0; i < NBITS; ++i)
        printf("%-8s %d-bit  %6.3f bits/value  save %7.2f GB/s (%.2fx memcpy)  restore %7.2f GB/s (%.2fx memcpy)\n",
               name, bench_bits[i], rows[i].bpv, gb / rows[i].save, rows[i].save_ratio,
               gb / rows[i].restore, rows[i].restore_ratio);
}

int main(int argc, char **argv)
{
    bench b = {.reps = argc > 1 ? atoi(argv[1]) : 7};
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 64;
    if (b.reps < 1 || b.reps > 64 || mib < 1) {
        fprintf(stderr, "usage: bench_actnn [reps 1..64] [MiB]\n");
        return 2;
    }
    b.bytes = mib << 20;
    b.D = 1u << 20; /* 4 MiB per sample */
    b.N = b.bytes / (b.D * sizeof(float));
    if (b.N == 0) b.N = 1, b.D = b.bytes / sizeof(float);
    b.bytes = b.N * b.D * sizeof(float);
    b.x = malloc(b.bytes), b.y = malloc(b.bytes), b.copy = malloc(b.bytes);
    if (!b.x || !b.y || !b.copy) return fprintf(stderr, "bench_actnn: out of memory\n"), 1;
    fill(b.x, b.N * b.D);
    memset(b.y, 0, b.bytes);
    memset(b.copy, 0, b.bytes);
#ifdef _OPENMP
    int all = omp_get_max_threads();
#else
    int all = 1;
#endif
    bench_row st[NBITS], mt[NBITS];
    double tm1, tmn;
    if (run_mode(&b, 1, st, &tm1) || run_mode(&b, all, mt, &tmn)) return 1;
    printf("actnn_plugin bench: %zu MiB fp32 (%zu samples x %zu values), group 256, median of %d\n",
           b.bytes >> 20, b.N, b.D, b.reps);
    print_mode(&b, "1 thread", st, tm1);
    char name[32];
    snprintf(name, sizeof name, "%d thr", all);
    print_mode(&b, name, mt, tmn);
    /* The two headline keys first (2 bits is index 1), then everything else. */
    printf("actnn-bench: bits_per_value_2bit=%.4f save_vs_memcpy_2bit=%.3f", st[1].bpv,
           st[1].save_ratio);
    for (int i = 0; i < NBITS; ++i)
        if (i != 1) printf(" bits_per_value_%dbit=%.4f", bench_bits[i], st[i].bpv);
    for (int i = 0; i < NBITS; ++i)
        if (i != 1) printf(" save_vs_memcpy_%dbit=%.3f", bench_bits[i], st[i].save_ratio);
    for (int i = 0; i < NBITS; ++i) printf(" restore_vs_memcpy_%dbit=%.3f", bench_bits[i], st[i].restore_ratio);
    for (int i = 0; i < NBITS; ++i) printf(" save_vs_memcpy_mt_%dbit=%.3f", bench_bits[i], mt[i].save_ratio);
    for (int i = 0; i < NBITS; ++i) printf(" restore_vs_memcpy_mt_%dbit=%.3f", bench_bits[i], mt[i].restore_ratio);
    printf(" memcpy_gbps=%.2f memcpy_mt_gbps=%.2f threads=%d\n", (double)b.bytes / 1e9 / tm1,
           (double)b.bytes / 1e9 / tmn, all);
    free(b.x);
    free(b.y);
    free(b.copy);
    return 0;
}
