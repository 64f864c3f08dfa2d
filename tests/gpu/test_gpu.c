/* test_gpu.c: the GPU test program run by scripts/gpu_check.sh on a CUDA device.
 *
 *   test_gpu [-i N] [--bench MiB] [--bench-only]
 *
 * Prints the CUDA driver and runtime versions and runs the checks that need no device,
 * then checks every kernel against the CPU path (gpu_test.h explains the tolerances), then,
 * with --bench, prints the quantizer throughput table. Exit status: 0 all checks passed,
 * 1 some failed, 2 no device or set-up failure. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/dn_cuda.h"
#include "gpu/gpu_test.h"

int main(int argc, char **argv)
{
    int dev = 0, bench_mib = 0, only_bench = 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-i") && i + 1 < argc) dev = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bench") && i + 1 < argc) bench_mib = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bench-only")) only_bench = 1;
        else {
            fprintf(stderr, "usage: %s [-i N] [--bench MiB] [--bench-only]\n", argv[0]);
            return 2;
        }
    }
    /* A runtime newer than the driver fails every launch: both, before anything runs
     * (0 where the call fails: no driver at all). */
    int drv = 0, rt = 0;
    if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
    if (cudaRuntimeGetVersion(&rt) != cudaSuccess) rt = 0;
    printf("test_gpu: CUDA driver %d.%d, runtime %d.%d\n", drv / 1000, drv % 1000 / 10, rt / 1000,
           rt % 1000 / 10);
    gt_actnn_host();
    if (dn_cuda_device_count() == 0) {
        fprintf(stderr, "test_gpu: no CUDA device\n");
        return 2;
    }
    if (dn_cuda_init(dev)) return 2;
    char desc[256];
    dn_cuda_describe(desc, sizeof desc);
    printf("test_gpu on %s\n", desc);
    if (!only_bench) {
        gt_actnn();
        gt_stats();
        gt_bits();
        gt_kernels();
        gt_conv();
        printf("\n%d checks, %d failed; device peak %.1f MiB\n", gt_checks, gt_failures,
               dn_cuda_peak_bytes() / 1048576.0);
    }
    if (bench_mib > 0 && (gt_bench(bench_mib) || gt_stats_bench())) {
        fprintf(stderr, "test_gpu: benchmark could not run\n");
        return 2;
    }
    return gt_failures ? 1 : 0;
}
