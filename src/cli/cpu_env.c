/* Runtime settings for OpenBLAS and OpenMP that only work from the environment.
 *
 * Both libraries read their settings in load-time constructors, before main runs, so
 * setting them means re-executing the program once with the environment filled in:
 *  - OPENBLAS_CORETYPE: in virtual machines that report a generic CPU model ("Intel Xeon
 *    Processor") OpenBLAS falls back to its SSE3 "Prescott" kernels; we pick the kernel
 *    from the instruction sets the CPU actually has (measured: 3-5x faster sgemm).
 *  - OMP_WAIT_POLICY=passive: idle OpenMP threads sleep instead of spinning, so they do
 *    not steal the cores OpenBLAS's own threads need (measured: 3x on a loaded 2-core
 *    machine).
 *  - OPENBLAS_NUM_THREADS=1: OpenBLAS starts no thread pool of its own (and reserves one
 *    128 MiB buffer instead of one per core); dn_gemm splits each gemm over OpenMP's
 *    threads instead (src/backend/cpu/blas.c, docs/speed.md: one thread pool).
 * Values the user already set are kept; DN_ENV_TUNED=1 (set on the re-exec) skips it. */
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

static const char *blas_core(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void cli_tune_env(char **argv)
{
    if (getenv("DN_ENV_TUNED")) return;
    int change = 0;
    const char *core = blas_core();
    if (core && !getenv("OPENBLAS_CORETYPE")) change |= setenv("OPENBLAS_CORETYPE", core, 1) == 0;
    if (!getenv("OMP_WAIT_POLICY")) change |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    if (!getenv("OPENBLAS_NUM_THREADS")) change |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    if (!change || setenv("DN_ENV_TUNED", "1", 1)) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): run on with the libraries' defaults. */
}
