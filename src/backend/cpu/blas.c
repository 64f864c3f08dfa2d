/* Dense kernels. OpenBLAS does the GEMMs (im2col and col2im_add live in im2col.c). */
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

/* OpenBLAS's buffer pool (its driver/others/memory.c): every sgemm call takes a free slot of a
 * process-wide table (a per-thread one in builds with USE_TLS) and maps a 128 MiB buffer the
 * first time a slot is used; when that mmap fails it retries for ever, so a run that reached an
 * address-space limit (`prlimit --as`, ulimit -v) hung inside sgemm instead of failing in our
 * own allocations, which report it. A warm-up GEMM (train_ckpt.c) did not settle it alone: if
 * one thread finished its slice before the other began, both used the same slot, and the first
 * truly concurrent GEMM, later, mapped a second buffer (seen: 4 runs in 12 hung at one batch
 * size, docs/checkpoints.md). So before the first split GEMM every thread of the split holds a
 * buffer at once, behind a barrier: as many slots are mapped as there will be concurrent calls,
 * whichever table the build uses. A GEMM that is not split runs one call, which maps its one
 * slot itself (the warm-up's). These two functions are exported by OpenBLAS's builds but
 * declared in no public header; weak, so another CBLAS leaves them NULL. */
extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));

#ifdef _OPENMP
static void map_blas_buffers(int nt)
{
    static int done;
    if (!blas_memory_alloc || !blas_memory_free) return;
    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE) || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
#pragma omp parallel num_threads(nt)
    {
        void *p = blas_memory_alloc(0);
#pragma omp barrier
        if (p) blas_memory_free(p);
    }
}
#endif

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
        map_blas_buffers(nt);
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
