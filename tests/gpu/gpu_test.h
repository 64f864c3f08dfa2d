/* gpu_test.h: helpers shared by the GPU test program (the .c files of tests/gpu).
 *
 * The program checks every kernel of src/backend/cuda and actnn_plugin/src/quantize.cu against
 * the CPU code on the same inputs: bit-exact where the GPU kernel reproduces the CPU's
 * operation order (ActNN bytes, pooling, routing), within a stated tolerance where a
 * library or libm is involved (cuBLAS, cuDNN, expf/tanhf). It needs a CUDA device. */
#ifndef GPU_TEST_H
#define GPU_TEST_H

#include <stddef.h>
#include <stdint.h>

extern int gt_failures, gt_checks;

/* Deterministic uniform in [lo, hi) (xorshift64*; the tests need no quality beyond
 * "varied"). */
float gt_uniform(uint64_t *s, float lo, float hi);
void gt_fill(float *x, size_t n, uint64_t seed, float lo, float hi);

/* Device copies (abort the test run on failure: without memory nothing can be checked). */
void *gt_dev(const void *host, size_t bytes);
void *gt_dev_zero(size_t bytes);
void gt_pull(void *host, const void *dev, size_t bytes);
void gt_free(void *dev, size_t bytes);

/* Compares n floats: tol 0 means bitwise identical; otherwise |a-b| <= tol*(1+|b|).
 * Prints one line (PASS/FAIL, max difference) and counts the result. */
int gt_cmp(const char *what, const float *gpu, const float *cpu, size_t n, float tol);
int gt_cmp_bytes(const char *what, const void *gpu, const void *cpu, size_t n);
void gt_result(const char *what, int ok, const char *detail);

int gt_actnn(void);   /* actnn_gpu.c */
int gt_actnn_host(void); /* actnn_gpu.c: the checks that need no device */
int gt_kernels(void); /* kernels_gpu.c */
int gt_conv(void);    /* conv_gpu.c */
int gt_bench(int mib); /* bench_gpu.c */
int gt_stats(void);       /* stats_gpu.c */
int gt_stats_bench(void); /* stats_gpu.c */
int gt_bits(void);        /* bits_gpu.c */

#endif
