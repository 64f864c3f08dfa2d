/* test_blas_buffers.c: after the first split dn_gemm, as many OpenBLAS calls as the GEMM
 * split runs at once map no new buffer.
 *
 * Why: OpenBLAS maps a 128 MiB buffer for each pool slot the first time a slot is used, and
 * retries that mmap for ever when it fails. A training run that reached an address-space
 * limit (tests/sh/train_failures.sh, `prlimit --as`) hung in sgemm whenever its first truly
 * concurrent GEMM came after our own allocations had used the room (4 runs in 12 at one
 * batch size). src/backend/cpu/blas.c maps the slots before the first split GEMM.
 *
 * Oracle: the kernel's own account of this process's address space (VmSize in
 * /proc/self/status), read while every thread of the split holds a buffer of OpenBLAS's
 * pool at once (blas_memory_alloc, the call sgemm makes first; a barrier keeps them all
 * held). A new slot grows it by the buffer's size (128 MiB on x86-64); nothing else here
 * allocates. Without blas.c's mapping the check fails whenever the first split GEMM's
 * slices did not overlap in time (5 runs in 6 here), which is the race itself. Skipped,
 * with the reason, when the library exports no pool (not OpenBLAS) or the split has a
 * single thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/blas.h"

extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));

static long vm_size_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* A GEMM the split cuts into one call per thread (2 M N K above its threshold), as the
 * training warm-up's: after it, every thread of the split has a slot of its own. */
static void split_gemm_once(void)
{
    enum { N = 256 };
    float *a = calloc((size_t)3 * N * N, sizeof(float));
    assert_non_null(a);
    for (int i = 0; i < N; ++i) a[i * N + i] = 1, a[N * N + i * N + (N - 1 - i)] = 2;
    dn_gemm(0, 0, N, N, N, 1, a, N, a + N * N, N, 0, a + 2 * N * N, N);
    for (int i = 0; i < N; ++i) assert_true(a[2 * N * N + i * N + (N - 1 - i)] == 2);
    free(a);
}

/* Why this test cannot run here, or NULL. */
static const char *cannot_run(void)
{
#ifndef _OPENMP
    return "built without OpenMP: the GEMM split runs no concurrent calls";
#else
    if (!blas_memory_alloc || !blas_memory_free)
        return "the BLAS library exports no blas_memory_alloc (not OpenBLAS)";
    if (omp_get_max_threads() < 2) return "the GEMM split has one thread (OMP_NUM_THREADS, cores)";
    return NULL;
#endif
}

static void test_concurrent_calls_map_nothing(void **state)
{
    (void)state;
#ifdef _OPENMP
    int nt = omp_get_max_threads();
    /* Start the OpenMP threads first: their stacks are not what this test measures. */
#pragma omp parallel num_threads(nt)
    {
        (void)0;
    }
    split_gemm_once();
    long before = vm_size_kib(), during = -1;
    int held = 0;
#pragma omp parallel num_threads(nt) reduction(+ : held)
    {
        void *p = blas_memory_alloc(0);
        held += p != NULL;
#pragma omp barrier
        /* The main thread reads: its fopen's malloc uses the main arena, where another
         * thread's first malloc would reserve an arena of its own (64 MiB of VmSize). */
#pragma omp master
        during = vm_size_kib();
#pragma omp barrier
        if (p) blas_memory_free(p);
    }
    printf("%d threads held %d buffers; VmSize %ld -> %ld kB\n", nt, held, before, during);
    assert_int_equal(held, nt);
    assert_true(before > 0 && during > 0);
    assert_true(during - before < 16 * 1024); /* a new slot adds 128 MiB */
#endif
}

int main(void)
{
    const char *why = cannot_run();
    if (why) {
        printf("skip: %s\n", why);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_calls_map_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
