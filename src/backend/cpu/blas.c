/* Dense kernels. OpenBLAS does the GEMMs; im2col and col2im follow pjreddie's layout
 * (row = channel*ksize*ksize + ky*ksize + kx, column = y*out_w + x). */
#include "backend/cpu/blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void sgemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, TA ? CblasTrans : CblasNoTrans, TB ? CblasTrans : CblasNoTrans, M,
                N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* One thread pool (docs/speed.md): OpenMP's, and the split is ours. C's rows (or columns,
 * whichever is longer) are cut into one slice per thread, each slice one sgemm that
 * OpenBLAS runs single-threaded (inside the parallel region for its OpenMP build; with
 * OPENBLAS_NUM_THREADS=1, which ./darknet sets, for its pthread build). Both builds are
 * safe to call from several threads; Debian's serial build is not (its calls share
 * buffers), so it is never split. One fork/join per gemm instead of OpenBLAS's several
 * synchronisations. Every element is still computed by one call over the whole K, and the
 * cut depends only on the thread count: deterministic for it. */
static void split_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc)
{
#ifdef _OPENMP
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    double work = 2.0 * M * (double)N * K;
    if (nt > 1 && work > 4e6) {
        int rows = M >= N, len = rows ? M : N, q = 16; /* slices of whole 16-wide panels */
        int per = ((len + nt - 1) / nt + q - 1) / q * q;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int t = 0; t < nt; ++t) {
            int s0 = t * per, n = len - s0 < per ? len - s0 : per;
            if (n <= 0) continue;
            if (rows)
                sgemm(TA, TB, n, N, K, alpha, TA ? A + s0 : A + (size_t)s0 * lda, lda, B, ldb, beta,
                      C + (size_t)s0 * ldc, ldc);
            else
                sgemm(TA, TB, M, n, K, alpha, A, lda, TB ? B + (size_t)s0 * ldb : B + s0, ldb, beta,
                      C + s0, ldc);
        }
        return;
    }
#endif
    sgemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dn_gemm(int TA, int TB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    /* -1: not decided yet; the library and the environment never change while we run.
     * DN_GEMM_SPLIT=0 leaves the threading to OpenBLAS (scripts/bench_peak.sh compares). */
    static int split = -1;
    int s = __atomic_load_n(&split, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("DN_GEMM_SPLIT");
        s = openblas_get_parallel() != 0 && !(e && strcmp(e, "0") == 0);
        __atomic_store_n(&split, s, __ATOMIC_RELAXED);
    }
    if (s) split_gemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else sgemm(TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static inline int out_size(int in, int ksize, int stride, int pad)
{
    return (in + 2 * pad - ksize) / stride + 1;
}

void im2col(const float *im, int c, int h, int w, int ksize, int stride, int pad, float *col)
{
    int oh = out_size(h, ksize, stride, pad), ow = out_size(w, ksize, stride, pad);
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
                int x0 = pad - kx; /* first x with ix >= 0 */
                int x1 = w + pad - kx; /* first x with ix >= w */
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

void col2im_add(const float *col, int c, int h, int w, int ksize, int stride, int pad, float *im)
{
    int oh = out_size(h, ksize, stride, pad), ow = out_size(w, ksize, stride, pad);
    /* Parallel over channels: rows of one channel all write into that channel only. */
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

void fill_f(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; ++i) x[i] = v;
}

void axpy_f(float *y, const float *x, size_t n, float a)
{
    for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scal_f(float *x, size_t n, float a)
{
    for (size_t i = 0; i < n; ++i) x[i] *= a;
}

void copy_f(float *dst, const float *src, size_t n)
{
    if (dst != src) memcpy(dst, src, n * sizeof(float));
}
