/* The CPU backend's non-finite scan (backend.h nonfinite_mark). */
#include "backend/cpu/cpu_ops.h"

#include <stdint.h>
#include <string.h>

/* An IEEE float is inf or NaN exactly when its exponent bits are all ones. */
#define EXP_MASK 0x7f800000u

void cpu_nonfinite_mark(const float *x, size_t n, float *flag)
{
    /* One pass, OR-ing (exponent field + one exponent unit): for a finite value that is at
     * most EXP_MASK, below bit 31; for inf or NaN (field all ones) it is exactly bit 31.
     * And, add and or vectorize in plain SSE2, unlike the unsigned maximum this used to take
     * (no SSE2 instruction; 6.5 GB/s against 26 on 88 MB, yolov3-tiny's first output at
     * 416, mini-batch 8): the training watch scans every output and delta once an
     * iteration, on one thread. */
    uint32_t acc = 0;
    for (size_t i = 0; i < n; ++i) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof(b));
        acc |= (b & EXP_MASK) + 0x00800000u;
    }
    if (acc & 0x80000000u) *flag = 1;
}
