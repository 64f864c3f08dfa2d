/* util.c: helpers of the GPU test program (see gpu_test.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/dn_cuda.h"
#include "gpu/gpu_test.h"

int gt_failures, gt_checks;

float gt_uniform(uint64_t *s, float lo, float hi)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    uint64_t r = *s * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (float)((r >> 40) * 0x1p-24);
}

void gt_fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; ++i) x[i] = gt_uniform(&s, lo, hi);
}

void *gt_dev(const void *host, size_t bytes)
{
    void *d = dn_cuda_malloc(bytes, "test buffer");
    if (!d || dn_cuda_push(d, host, bytes)) {
        fprintf(stderr, "test_gpu: cannot set up a %zu-byte device buffer\n", bytes);
        exit(2);
    }
    return d;
}

void *gt_dev_zero(size_t bytes)
{
    void *d = dn_cuda_malloc(bytes, "test buffer");
    if (!d || dn_cuda_zero(d, bytes) || dn_cuda_sync("zero test buffer")) {
        fprintf(stderr, "test_gpu: cannot set up a %zu-byte device buffer\n", bytes);
        exit(2);
    }
    return d;
}

void gt_pull(void *host, const void *dev, size_t bytes)
{
    if (dn_cuda_sync("test kernels") || dn_cuda_pull(host, dev, bytes)) {
        fprintf(stderr, "test_gpu: reading results back failed\n");
        exit(2);
    }
}

void gt_free(void *dev, size_t bytes) { dn_cuda_free(dev, bytes); }

void gt_result(const char *what, int ok, const char *detail)
{
    ++gt_checks;
    if (!ok) ++gt_failures;
    printf("%-4s %-48s %s\n", ok ? "PASS" : "FAIL", what, detail ? detail : "");
}

int gt_cmp(const char *what, const float *gpu, const float *cpu, size_t n, float tol)
{
    double worst = 0;
    size_t at = 0, bad = 0;
    for (size_t i = 0; i < n; ++i) {
        int same = memcmp(&gpu[i], &cpu[i], sizeof(float)) == 0;
        double d = fabs((double)gpu[i] - (double)cpu[i]);
        if (isnan(gpu[i]) != isnan(cpu[i])) d = INFINITY;
        if (isnan(gpu[i]) && isnan(cpu[i])) d = 0;
        int ok = tol == 0 ? same : d <= tol * (1 + fabs((double)cpu[i]));
        if (!ok) ++bad;
        if (d > worst) { worst = d; at = i; }
    }
    char detail[160];
    snprintf(detail, sizeof detail, "n=%zu max|diff|=%.3g at %zu (gpu %.9g cpu %.9g)%s", n, worst,
             at, n ? gpu[at] : 0.0, n ? cpu[at] : 0.0, tol == 0 ? " [bitwise]" : "");
    gt_result(what, bad == 0, detail);
    return bad == 0;
}

int gt_cmp_bytes(const char *what, const void *gpu, const void *cpu, size_t n)
{
    const unsigned char *a = gpu, *b = cpu;
    size_t first = n;
    for (size_t i = 0; i < n && first == n; ++i)
        if (a[i] != b[i]) first = i;
    char detail[128];
    if (first == n) snprintf(detail, sizeof detail, "%zu bytes identical", n);
    else snprintf(detail, sizeof detail, "%zu bytes, first difference at byte %zu (gpu %02x cpu %02x)",
                  n, first, a[first], b[first]);
    gt_result(what, first == n, detail);
    return first == n;
}
