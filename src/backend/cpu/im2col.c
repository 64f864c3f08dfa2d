/* im2col / col2im_add in row blocks (issue 20: both showed in training profiles).
 *
 * col2im_add: tasks of (channel, block of image rows) small enough, about BLOCK_FLOATS
 * floats, to stay in L1 while the ksize*ksize column rows that add into them stream past;
 * the old loop swept the whole channel image once per kernel offset.
 * im2col: tasks of (column row, block of BLOCK_FLOATS output floats), each one contiguous
 * run of writes whose few source rows are read from L1. Blocks of several column rows at
 * once (ksize*ksize write streams) measured slower at 416x416 (scripts/bench_im2col.c).
 * Per-element bound checks are gone: for every kernel offset the columns whose input lies
 * inside the image are one range [x0, x1) (span()), copied or added without tests, and
 * the padding outside it is zero-filled (im2col) or skipped (col2im_add).
 *
 * Determinism: a task owns whole rows of its output (a run of a column row for im2col, image rows
 * for col2im_add), so every output element is written by one thread. In col2im_add an
 * image element still receives its terms in kernel order (ky, kx ascending), the order of
 * pjreddie's col2im_cpu, so the float sums are the same bits whatever the thread count. */
#include "backend/cpu/im2col.h"

#include <stddef.h>
#include <string.h>

/* Floats one task writes: 16 KiB, half of a typical 32 KiB L1d. */
enum { BLOCK_FLOATS = 4096 };
/* Below this many column values the fork/join costs more than the loop (as before). */
#define PARALLEL_MIN 65536.0

static inline int out_size(int in, int ksize, int stride, int pad)
{
    return (in + 2 * pad - ksize) / stride + 1;
}

/* The i in [0, n) with i*stride + off in [0, len): the range [*a, *b) (empty: *a == *b). */
static inline void span(int n, int len, int stride, int off, int *a, int *b)
{
    int lo = off < 0 ? (-off + stride - 1) / stride : 0;
    int hi = len - off > 0 ? (len - off - 1) / stride + 1 : 0;
    if (lo > n) lo = n;
    if (hi > n) hi = n;
    *a = lo;
    *b = hi > lo ? hi : lo;
}

/* Rows per block: `row_floats` floats a row, at least one row, at most `n`. */
static inline int block_rows(long row_floats, int n)
{
    long r = BLOCK_FLOATS / (row_floats > 0 ? row_floats : 1);
    if (r < 1) r = 1;
    return r < n ? (int)r : n;
}

/* One column row: d[x] = s[x*stride + off] for x in [x0, x1), zero elsewhere in [0, ow). */
static void gather_row(const float *restrict s, float *restrict d, int ow, int stride, int off,
                       int x0, int x1)
{
    if (x0 > 0) memset(d, 0, sizeof(float) * (size_t)x0);
    if (x1 > x0) {
        const float *p = s + ((ptrdiff_t)x0 * stride + off);
        if (stride == 1) memcpy(d + x0, p, sizeof(float) * (size_t)(x1 - x0));
        else
            for (int x = x0; x < x1; ++x, p += stride) d[x] = *p;
    }
    if (ow > x1) memset(d + x1, 0, sizeof(float) * (size_t)(ow - x1));
}

/* One column row added back: d[x*stride + off] += s[x] for x in [x0, x1). */
static void scatter_add_row(const float *restrict s, float *restrict d, int stride, int off,
                            int x0, int x1)
{
    if (x1 <= x0) return;
    float *p = d + ((ptrdiff_t)x0 * stride + off);
    if (stride == 1)
        for (int x = x0; x < x1; ++x) p[x - x0] += s[x];
    else
        for (int x = x0; x < x1; ++x, p += stride) *p += s[x];
}

/* Rows [y0, y1) of column row r (channel, ky, kx): one contiguous run of output. */
static void im2col_chunk(const float *im, int h, int w, int ksize, int stride, int pad, int oh,
                         int ow, int r, int y0, int y1, float *col)
{
    int kx = r % ksize, ky = (r / ksize) % ksize, ch = r / ksize / ksize, x0, x1;
    const float *src = im + (size_t)ch * h * w;
    float *dst = col + (size_t)r * oh * ow;
    span(ow, w, stride, kx - pad, &x0, &x1);
    for (int y = y0; y < y1; ++y) {
        int iy = y * stride + ky - pad;
        float *d = dst + (size_t)y * ow;
        if (iy < 0 || iy >= h) memset(d, 0, sizeof(float) * (size_t)ow);
        else gather_row(src + (size_t)iy * w, d, ow, stride, kx - pad, x0, x1);
    }
}

void im2col(const float *im, int c, int h, int w, int ksize, int stride, int pad, float *col)
{
    int oh = out_size(h, ksize, stride, pad), ow = out_size(w, ksize, stride, pad);
    if (c <= 0 || oh <= 0 || ow <= 0) return;
    int rows = c * ksize * ksize, rb = block_rows(ow, oh), nb = (oh + rb - 1) / rb;
    long tasks = (long)rows * nb;
#pragma omp parallel for schedule(static) if ((double)rows * oh * ow > PARALLEL_MIN)
    for (long t = 0; t < tasks; ++t) {
        int r = (int)(t / nb), y0 = (int)(t % nb) * rb, y1 = y0 + rb < oh ? y0 + rb : oh;
        im2col_chunk(im, h, w, ksize, stride, pad, oh, ow, r, y0, y1, col);
    }
}

/* Image rows [r0, r1) of one channel: every kernel offset in order adds its column rows. */
static void col2im_block(const float *col, int w, int ksize, int stride, int pad, int oh, int ow,
                         int r0, int r1, float *dst)
{
    size_t plane = (size_t)oh * ow;
    for (int k = 0; k < ksize * ksize; ++k) {
        int ky = k / ksize, kx = k % ksize, x0, x1, ya, yb;
        span(ow, w, stride, kx - pad, &x0, &x1);
        span(oh, r1 - r0, stride, ky - pad - r0, &ya, &yb); /* y whose iy is in [r0, r1) */
        const float *src = col + (size_t)k * plane;
        for (int y = ya; y < yb; ++y)
            scatter_add_row(src + (size_t)y * ow, dst + (size_t)(y * stride + ky - pad) * w, stride,
                            kx - pad, x0, x1);
    }
}

void col2im_add(const float *col, int c, int h, int w, int ksize, int stride, int pad, float *im)
{
    int oh = out_size(h, ksize, stride, pad), ow = out_size(w, ksize, stride, pad);
    if (c <= 0 || oh <= 0 || ow <= 0 || h <= 0 || w <= 0) return;
    int kk = ksize * ksize, rb = block_rows(w, h), nb = (h + rb - 1) / rb;
    long tasks = (long)c * nb;
#pragma omp parallel for schedule(static) if ((double)c * kk * oh * ow > PARALLEL_MIN)
    for (long t = 0; t < tasks; ++t) {
        int ch = (int)(t / nb), r0 = (int)(t % nb) * rb, r1 = r0 + rb < h ? r0 + rb : h;
        col2im_block(col + (size_t)ch * kk * oh * ow, w, ksize, stride, pad, oh, ow, r0, r1,
                     im + (size_t)ch * h * w);
    }
}
