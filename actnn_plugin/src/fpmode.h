/* fpmode.h: included by the files whose float arithmetic ends up in stored bytes.
 * Those bytes must be reproducible (CPU threads, AVX2 vs portable, GPU with
 * --fmad=false), so a*b+c must be rounded twice, never fused. GCC fuses across
 * statements in GNU mode (-ffp-contract=fast is its default there) but not in ISO mode
 * (-std=c11), which is what the Makefile uses. Define ACTNN_FP_CONTRACT_OFF when
 * building in GNU mode with -ffp-contract=off. */
#ifndef ACTNN_FPMODE_H
#define ACTNN_FPMODE_H
#if defined(__GNUC__) && !defined(__clang__) && !defined(__STRICT_ANSI__) && \
    !defined(ACTNN_FP_CONTRACT_OFF)
#error "actnn_plugin: build with -std=c11 (no FMA contraction) or -ffp-contract=off -DACTNN_FP_CONTRACT_OFF"
#endif
#if defined(__FAST_MATH__)
#error "actnn_plugin: -ffast-math breaks the reproducibility of stored bytes"
#endif
#endif
