/* stats_gpu.c: actnn_cuda_sample_stats (actnn_auto's per-sample statistics on the device)
 * against the host library's actnn_sample_stats, bit for bit, for both kernels of
 * stats.cu (a context set to ACTNN_CUDA_KERNEL_REF runs the reference ones), on shapes that reach every
 * path: several rounds of groups and chunks with a partial last one, a row stride larger
 * than D, group sizes 32 to 1024, and more samples than the 65535 blocks of one launch
 * (the grid-stride loop). Also a NaN in a late group: flagged, NaN for its sample, the
 * other samples unchanged. With --bench, the time of each kernel against a device copy of
 * the same floats (information: issue 19 sets no target for it, but actnn_auto runs it on
 * every saved tensor and every delta of a training step). */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actnn.h"
#include "actnn_cuda.h"
#include "gpu/gpu_test.h"

typedef struct {
    size_t count, D, stride, G;
} shape;

/* Every sample's value of the host library, one call per sample (so a NaN sample's error
 * leaves the others checked); 1 where the host reports NONFINITE. */
static void host_stats(actnn_ctx *ctx, int kind, const float *x, shape s, double *out, int *bad)
{
    for (size_t n = 0; n < s.count; ++n) {
        int e = actnn_sample_stats(ctx, kind, x + n * s.stride, 1, s.D, s.D, s.G, &out[n]);
        bad[n] = e == ACTNN_E_NONFINITE;
        if (bad[n]) out[n] = NAN;
    }
}

static const char *kind_name(int kind) { return kind == ACTNN_STAT_RANGE ? "range" : "squares"; }

/* One shape, one kind, one kernel: bytes equal where the host has a value, NaN where it
 * reported NONFINITE, and the status set exactly when some sample was. */
static void check_shape(actnn_ctx *ctx, actnn_cuda_ctx *cc, const float *x, const float *dx,
                        shape s, int kind, const char *kernel)
{
    char what[160];
    double *cs = malloc(s.count * sizeof(double)), *gs = malloc(s.count * sizeof(double));
    int *bad = malloc(s.count * sizeof(int));
    double *ds = gt_dev_zero(s.count * sizeof(double));
    host_stats(ctx, kind, x, s, cs, bad);
    int any_bad = 0;
    for (size_t n = 0; n < s.count; ++n) any_bad |= bad[n];
    actnn_cuda_set_kernel(cc, strcmp(kernel, "ref") ? ACTNN_CUDA_KERNEL_FAST : ACTNN_CUDA_KERNEL_REF);
    int err = actnn_cuda_sample_stats(cc, kind, dx, s.count, s.D, s.stride, s.G, ds);
    actnn_cuda_set_kernel(cc, ACTNN_CUDA_KERNEL_DEFAULT);
    int st = err ? err : actnn_cuda_status(cc);
    gt_pull(gs, ds, s.count * sizeof(double));
    snprintf(what, sizeof what, "actnn stats %s (%s kernel) count=%zu D=%zu stride=%zu G=%zu",
             kind_name(kind), kernel, s.count, s.D, s.stride, s.G);
    if (err) {
        gt_result(what, 0, actnn_strerror(err));
    } else {
        size_t wrong = 0, first = s.count;
        for (size_t n = 0; n < s.count; ++n) {
            /* a NaN's payload is not part of the contract (a device makes its own) */
            int ok = bad[n] || isnan(cs[n]) ? isnan(gs[n])
                                            : memcmp(&gs[n], &cs[n], sizeof(double)) == 0;
            if (!ok && first == s.count) first = n;
            wrong += !ok;
        }
        int st_ok = any_bad ? st == ACTNN_E_NONFINITE : st == ACTNN_OK;
        char detail[160];
        snprintf(detail, sizeof detail, "%zu of %zu samples differ (first %zu: %.17g vs %.17g); "
                 "status %s", wrong, s.count, first, first < s.count ? gs[first] : 0.0,
                 first < s.count ? cs[first] : 0.0, actnn_strerror(st));
        gt_result(what, wrong == 0 && st_ok, wrong || !st_ok ? detail : NULL);
    }
    gt_free(ds, s.count * sizeof(double));
    free(cs);
    free(gs);
    free(bad);
}

static void check_data(actnn_ctx *ctx, actnn_cuda_ctx *cc, shape s, uint64_t seed, int with_nan)
{
    size_t floats = (s.count - 1) * s.stride + s.D;
    float *x = malloc(floats * sizeof(float));
    gt_fill(x, floats, seed, -2.0f, 3.0f);
    /* a wide-range group, a constant group and zeros of both signs in sample 0 */
    for (size_t j = 0; j < s.D && j < 64; ++j) x[j] *= 1e5f;
    for (size_t j = s.G; j < 2 * s.G && j < s.D; ++j) x[j] = 0.25f;
    for (size_t j = 2 * s.G; j < 3 * s.G && j < s.D; ++j) x[j] = (j & 1) ? -0.0f : 0.0f;
    if (with_nan && s.count > 1) x[s.stride + s.D - 3] = NAN; /* sample 1's last group */
    float *dx = gt_dev(x, floats * sizeof(float));
    for (int kind = ACTNN_STAT_RANGE; kind <= ACTNN_STAT_SQUARES; ++kind) {
        check_shape(ctx, cc, x, dx, s, kind, "fast");
        check_shape(ctx, cc, x, dx, s, kind, "ref");
    }
    gt_free(dx, floats * sizeof(float));
    free(x);
}

int gt_stats(void)
{
    actnn_ctx *ctx = NULL;
    actnn_cuda_ctx *cc = NULL;
    actnn_config cfg;
    actnn_config_init(&cfg);
    if (actnn_ctx_create(&cfg, &ctx) || actnn_cuda_ctx_create(NULL, &cc)) {
        gt_result("actnn stats: contexts", 0, "could not create");
        actnn_ctx_free(ctx);
        return -1;
    }
    static const shape shapes[] = {
        {3, 1000, 1000, 32},       /* one round, partial last group and chunk */
        {5, 70001, 70017, 256},    /* rounds of groups and of chunks, stride > D */
        {2, 300000, 300000, 1024}, /* large groups, two warps' pairs per group size */
        {17, 40000, 40000, 64},
        {70000, 40, 40, 32},       /* more samples than one launch's blocks */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) check_data(ctx, cc, shapes[i], 11 + i, 0);
    check_data(ctx, cc, (shape){3, 70001, 70001, 256}, 5, 1);
    actnn_cuda_ctx_free(cc);
    actnn_ctx_free(ctx);
    return 0;
}

/* Milliseconds per call of kind (-1: copy) with kernel, by events around 10 calls. */
static double time_stats(actnn_cuda_ctx *cc, int kind, const char *kernel, const float *dx,
                         float *dy, size_t count, size_t D, double *ds)
{
    cudaEvent_t e0, e1;
    if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) return -1;
    actnn_cuda_set_kernel(cc, strcmp(kernel, "ref") ? ACTNN_CUDA_KERNEL_FAST : ACTNN_CUDA_KERNEL_REF);
    int err = 0;
    for (int r = -1; r < 10 && !err; ++r) { /* r = -1: the warm-up */
        if (r == 0) cudaEventRecord(e0, 0);
        err = kind < 0 ? cudaMemcpyAsync(dy, dx, count * D * sizeof(float),
                                         cudaMemcpyDeviceToDevice, 0) != cudaSuccess
                       : actnn_cuda_sample_stats(cc, kind, dx, count, D, D, 256, ds);
    }
    cudaEventRecord(e1, 0);
    actnn_cuda_set_kernel(cc, ACTNN_CUDA_KERNEL_DEFAULT);
    float ms = -1;
    if (cudaEventSynchronize(e1) != cudaSuccess || cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess) err = 1;
    if (actnn_cuda_status(cc)) err = 1;
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return err ? -1 : ms / 10;
}

int gt_stats_bench(void)
{
    actnn_cuda_ctx *cc = NULL;
    if (actnn_cuda_ctx_create(NULL, &cc)) return -1;
    /* yolov3-tiny's first layer at 416 (16 x 416 x 416 per sample), mini-batch 8 and 64 */
    static const size_t counts[] = {8, 64};
    const size_t D = 16 * 416 * 416;
    printf("\nactnn_auto statistics (G=256) against a device copy of the same floats\n");
    printf("| %-28s | %9s | %9s | %8s |\n", "kernel", "ms", "GB/s", "x copy");
    for (size_t c = 0; c < 2; ++c) {
        size_t count = counts[c], bytes = count * D * sizeof(float);
        float *h = malloc(bytes);
        gt_fill(h, count * D, 3, -1.0f, 1.0f);
        float *dx = gt_dev(h, bytes), *dy = gt_dev_zero(bytes);
        double *ds = gt_dev_zero(count * sizeof(double));
        double copy = time_stats(cc, -1, "", dx, dy, count, D, ds), times[2][2];
        for (int kind = ACTNN_STAT_RANGE; kind <= ACTNN_STAT_SQUARES; ++kind)
            for (int ref = 0; ref < 2; ++ref) {
                char name[64];
                snprintf(name, sizeof name, "%s %s, %zu x %zu", kind_name(kind), ref ? "ref" : "fast",
                         count, D);
                double ms = time_stats(cc, kind, ref ? "ref" : "fast", dx, dy, count, D, ds);
                if (ms < 0 || copy <= 0) printf("| %-28s | %9s | %9s | %8s |\n", name, "error", "-", "-");
                else printf("| %-28s | %9.3f | %9.1f | %8.2f |\n", name, ms, bytes / ms / 1e6, ms / copy);
                times[kind][ref] = ms > 0 && copy > 0 ? ms / copy : -1;
            }
        printf("| %-28s | %9.3f | %9.1f | %8.2f |\n", "device copy", copy, copy > 0 ? bytes / copy / 1e6 : 0.0, 1.0);
        /* one line each for gpu_check.sh's row (f) (its "(information)" lines) */
        for (int kind = ACTNN_STAT_RANGE; kind <= ACTNN_STAT_SQUARES; ++kind)
            printf("quantizer statistics %s, %zu x %zu: %.2f (fast) and %.2f (ref) x a copy's time "
                   "(information)\n", kind_name(kind), count, D, times[kind][0], times[kind][1]);
        gt_free(ds, count * sizeof(double));
        gt_free(dy, bytes);
        gt_free(dx, bytes);
        free(h);
    }
    actnn_cuda_ctx_free(cc);
    return 0;
}
