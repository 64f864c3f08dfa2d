/* bench_im2col: the blocked im2col / col2im_add (src/backend/cpu/im2col.c) against the
 * loops they replaced (kept below as old_*, the code of commit 14d6154's blas.c), on
 * yolov3-tiny's 3x3 stride-1 pad-1 convolutions at 416x416 (one sample).
 *
 *   build/bin/bench_im2col [rounds] [layer]   (default 15 rounds, every layer below;
 *                                             OMP_NUM_THREADS sets the threads)
 *
 * The machine is shared and noisy, so only ratios are printed: every round times old and
 * new back to back (which goes first alternates), each timing repeated until it lasts
 * ~20 ms; the figure is the median over rounds of old time / new time (>1: new faster).
 * BENCH_CLOCK=cpu times with the process's CPU clock instead. Before timing, old and new outputs are compared byte for byte (exit 1 on a difference). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/im2col.h"
#include "bench_util.h"

static void old_im2col(const float *im, int c, int h, int w, int ksize, int stride, int pad, float *col)
{
    int oh = (h + 2 * pad - ksize) / stride + 1, ow = (w + 2 * pad - ksize) / stride + 1;
    int rows = c * ksize * ksize;
#pragma omp parallel for schedule(static) if (rows * oh * ow > 65536)
    for (int r = 0; r < rows; ++r) {
        int kx = r % ksize, ky = (r / ksize) % ksize, ch = r / ksize / ksize;
        const float *src = im + (size_t)ch * h * w;
        float *dst = col + (size_t)r * oh * ow;
        for (int y = 0; y < oh; ++y) {
            int iy = y * stride + ky - pad;
            float *d = dst + (size_t)y * ow;
            if (iy < 0 || iy >= h) { memset(d, 0, sizeof(float) * (size_t)ow); continue; }
            const float *s = src + (size_t)iy * w;
            if (stride == 1) {
                int x0 = pad - kx, x1 = w + pad - kx;
                if (x0 < 0) x0 = 0;
                if (x1 > ow) x1 = ow;
                for (int x = 0; x < x0 && x < ow; ++x) d[x] = 0;
                if (x1 > x0) memcpy(d + x0, s + x0 + kx - pad, sizeof(float) * (size_t)(x1 - x0));
                for (int x = x1 > x0 ? x1 : x0; x < ow; ++x) d[x] = 0;
            } else {
                for (int x = 0; x < ow; ++x) {
                    int ix = x * stride + kx - pad;
                    d[x] = (ix >= 0 && ix < w) ? s[ix] : 0;
                }
            }
        }
    }
}

static void old_col2im_add(const float *col, int c, int h, int w, int ksize, int stride, int pad, float *im)
{
    int oh = (h + 2 * pad - ksize) / stride + 1, ow = (w + 2 * pad - ksize) / stride + 1;
#pragma omp parallel for schedule(static) if (c * ksize * ksize * oh * ow > 65536)
    for (int ch = 0; ch < c; ++ch) {
        float *dstc = im + (size_t)ch * h * w;
        for (int k = 0; k < ksize * ksize; ++k) {
            int kx = k % ksize, ky = k / ksize;
            const float *src = col + ((size_t)ch * ksize * ksize + k) * oh * ow;
            for (int y = 0; y < oh; ++y) {
                int iy = y * stride + ky - pad;
                if (iy < 0 || iy >= h) continue;
                float *d = dstc + (size_t)iy * w;
                const float *s = src + (size_t)y * ow;
                for (int x = 0; x < ow; ++x) {
                    int ix = x * stride + kx - pad;
                    if (ix >= 0 && ix < w) d[ix] += s[x];
                }
            }
        }
    }
}

typedef void (*kern)(const float *, int, int, int, int, int, int, float *);

/* BENCH_CLOCK=cpu: the process's CPU time instead of wall time; with OMP_NUM_THREADS=1 it
 * leaves out the time the shared machine gave to others (caches stay shared). */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void) { return bench_now(clock_id); }

/* Seconds per call of f, repeated `iters` times. col2im_add accumulates into out; the
 * values only grow by bounded amounts, so no call meets denormals or infinities. */
static double time_kern(kern f, const float *in, int c, int hw, float *out, int iters)
{
    double t0 = now();
    for (int i = 0; i < iters; ++i) f(in, c, hw, hw, 3, 1, 1, out);
    return (now() - t0) / iters;
}

/* Median over rounds of old/new, old and new alternating which runs first. */
static double ratio(kern old, kern neu, const float *in, int c, int hw, float *out, int rounds)
{
    double t1 = time_kern(neu, in, c, hw, out, 1);
    int iters = t1 > 0.02 ? 1 : (int)(0.02 / (t1 > 1e-7 ? t1 : 1e-7)) + 1;
    double *r = malloc(sizeof(double) * (size_t)rounds);
    if (!r) { fprintf(stderr, "bench_im2col: out of memory\n"); exit(1); }
    for (int k = 0; k < rounds; ++k) {
        double to, tn;
        if (k % 2) { to = time_kern(old, in, c, hw, out, iters); tn = time_kern(neu, in, c, hw, out, iters); }
        else { tn = time_kern(neu, in, c, hw, out, iters); to = time_kern(old, in, c, hw, out, iters); }
        r[k] = to / tn;
    }
    double m = bench_median(r, rounds);
    free(r);
    return m;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15, only = argc > 2 ? atoi(argv[2]) : -1;
    if (rounds < 1 || rounds > 1000) {
        fprintf(stderr, "bench_im2col: rounds must be an integer in [1, 1000], got '%s'\n", argv[1]);
        return 2;
    }
    /* yolov3-tiny.cfg's 3x3 convolutions: layer, input channels, side (at 416) */
    static const int shapes[][3] = {{0, 3, 416}, {2, 16, 208}, {4, 32, 104}, {6, 64, 52},
                                    {8, 128, 26}, {10, 256, 13}, {12, 512, 13}};
    const char *ck = getenv("BENCH_CLOCK");
    if (ck && strcmp(ck, "cpu") == 0) clock_id = CLOCK_PROCESS_CPUTIME_ID;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("bench_im2col: k3 s1 p1, %d threads, median of %d interleaved rounds of old/new %s time "
           "(>1: new faster)\n", threads, rounds, clock_id == CLOCK_MONOTONIC ? "wall" : "process CPU");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        int c = shapes[i][1], hw = shapes[i][2];
        if (only >= 0 && shapes[i][0] != only) continue;
        size_t nim = (size_t)c * hw * hw, ncol = nim * 9;
        float *im = malloc(nim * sizeof(float)), *a = malloc(nim * sizeof(float));
        float *col = malloc(ncol * sizeof(float)), *col2 = malloc(ncol * sizeof(float));
        if (!im || !a || !col || !col2) { fprintf(stderr, "bench_im2col: out of memory\n"); return 1; }
        unsigned s = 12345u + (unsigned)i;
        for (size_t j = 0; j < nim; ++j) {
            s = s * 1664525u + 1013904223u;
            im[j] = a[j] = (float)(s >> 8) / 8388608.f - 1.f;
        }
        old_im2col(im, c, hw, hw, 3, 1, 1, col);
        im2col(im, c, hw, hw, 3, 1, 1, col2);
        int same = memcmp(col, col2, ncol * sizeof(float)) == 0;
        old_col2im_add(col, c, hw, hw, 3, 1, 1, im);
        col2im_add(col, c, hw, hw, 3, 1, 1, a);
        same &= memcmp(im, a, nim * sizeof(float)) == 0;
        if (!same) { fprintf(stderr, "bench_im2col: layer %d: old and new differ\n", shapes[i][0]); return 1; }
        double ri = ratio(old_im2col, im2col, im, c, hw, col, rounds);
        /* col2im_add reads col (c*9 rows) and adds into a (c channels) */
        double rc = ratio(old_col2im_add, col2im_add, col, c, hw, a, rounds);
        printf("layer %2d c=%3d %3dx%-3d  im2col old/new %.2f  col2im_add old/new %.2f\n", shapes[i][0],
               c, hw, hw, ri, rc);
        free(im); free(a); free(col); free(col2);
    }
    return 0;
}
