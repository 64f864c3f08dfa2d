/* The CPU backend's non-finite scan (backend.h nonfinite_mark). */
#include "backend/cpu/cpu_ops.h"

#include <stdint.h>
#include <string.h>

/* An IEEE float is inf or NaN exactly when its exponent bits are all ones. */
#define EXP_MASK 0x7f800000u

void cpu_nonfinite_mark(const float *x, size_t n, float *flag)
{
    /* the largest exponent field: an integer max the compiler vectorizes, one pass */
    uint32_t worst = 0;
    for (size_t i = 0; i < n; ++i) {
        uint32_t b;
        memcpy(&b, &x[i], sizeof(b));
        b &= EXP_MASK;
        worst = b > worst ? b : worst;
    }
    if (worst == EXP_MASK) *flag = 1;
}
