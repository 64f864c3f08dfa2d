/* cpu.c: which vector paths this CPU can run (internal.h, runtime dispatch). The library
 * is built for plain x86-64; the AVX2 objects are entered only when this says yes. */
#include "internal.h"

int cpu_has_avx2(void)
{
#if ACTNN_X86 && defined(__GNUC__)
    /* libgcc's cpuid cache; "avx2" also checks that the OS saves the YMM registers. The
     * result never changes, so the calls from several threads agree. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}
