/* bench_fault [MiB] [rounds]: what a page fault costs on this machine.
 *
 * Training gives memory back every iteration on purpose: 2 bits drops the input batch's
 * pages after the forward (loader_discard) and trims the saved activations' pool after the
 * backward, so that the two are never resident at once. Each of those pages is faulted in
 * (and zeroed by the kernel) again in the next iteration. On bare metal that costs well
 * under a microsecond per 4 KiB page; in some virtual machines ten times more, and then it
 * shows in the 2-bit/fp32 time ratio. scripts/bench_peak.sh prints this figure next to
 * that ratio.
 *
 * Prints the median over rounds of: writing a buffer whose pages were just dropped
 * (MADV_DONTNEED: fault + zero + write), writing it again while resident, and their
 * difference per 4 KiB page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 64;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (mib < 1 || mib > 4096 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_fault [MiB 1..4096] [rounds 1..100]\n");
        return 2;
    }
    size_t n = (size_t)mib << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("bench_fault: mmap");
        return 1;
    }
    double *fault = malloc(sizeof(double) * (size_t)rounds);
    double *warm = malloc(sizeof(double) * (size_t)rounds);
    if (!fault || !warm) {
        fprintf(stderr, "bench_fault: out of memory\n");
        return 1;
    }
    memset(p, 1, n);
    for (int r = 0; r < rounds; ++r) {
        if (madvise(p, n, MADV_DONTNEED)) {
            perror("bench_fault: madvise");
            return 1;
        }
        double t = bench_now(CLOCK_MONOTONIC);
        memset(p, 2 + r, n);
        fault[r] = bench_now(CLOCK_MONOTONIC) - t;
        t = bench_now(CLOCK_MONOTONIC);
        memset(p, 3 + r, n);
        warm[r] = bench_now(CLOCK_MONOTONIC) - t;
    }
    double f = bench_median(fault, rounds), w = bench_median(warm, rounds), pages = (double)(n / 4096);
    printf("page faults: %.2f us per 4 KiB page (%ld MiB: %.1f ms dropped, %.1f ms resident, "
           "median of %d)\n",
           (f - w) * 1e6 / pages, mib, f * 1e3, w * 1e3, rounds);
    munmap(p, n);
    free(fault);
    free(warm);
    return 0;
}
