/* cpu.c: which vector paths this CPU can run (internal.h, runtime dispatch). The library
 * is built for plain x86-64; the AVX2 objects are entered only when this says yes. */
#include "internal.h"

#if ACTNN_X86
#include <cpuid.h>

/* cpuid directly (not __builtin_cpu_supports: clang's lacks "f16c"): leaf 1 gives FMA,
 * F16C, AVX and OSXSAVE; XGETBV says whether the OS saves the XMM and YMM registers; leaf 7
 * gives AVX2. */
static int probe(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned need1 = bit_FMA | bit_OSXSAVE | bit_AVX | bit_F16C;
    if ((c & need1) != need1) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 6u) != 6u) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & bit_AVX2) != 0;
}
#endif

int cpu_has_avx2(void)
{
#if ACTNN_X86
    /* -1: not probed yet. Threads that race here all store the same answer. */
    static int has = -1;
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) __atomic_store_n(&has, h = probe(), __ATOMIC_RELAXED);
    return h;
#else
    return 0;
#endif
}
