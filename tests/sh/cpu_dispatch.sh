#!/usr/bin/env bash
# Runtime CPU dispatch (Makefile, actnn_plugin/src/internal.h): the default build runs on
# any x86-64 CPU because only the *_avx2.o objects hold AVX instructions; every other
# object of the variant is plain x86-64 (SSE2). objdump -d of each object: any VEX/EVEX
# instruction (mnemonics starting with v, or ymm/zmm registers) outside *_avx2.o fails.
# The dispatched objects must hold them (else the check proves nothing). NATIVE=1 builds
# everything for this CPU on purpose: skipped there. Byte equality of the two paths is in
# test_actnn_pack/test_actnn_quant (SIMD_AUTO vs SIMD_OFF).
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh
V=${DN_VARIANT:-cpu}
case "$V" in *native*) echo "skip: variant $V is built with -march=native on purpose"; exit 0 ;; esac
command -v objdump > /dev/null || { echo "skip: no objdump (binutils)"; exit 0; }
O=build/$V
[ -d "$O" ] || { bad "no object folder $O (build the variant first)"; exit 1; }
avx_count() { objdump -d --no-show-raw-insn "$1" | awk -F'\t' 'NF >= 2 {print $2}' | grep -cE '^v[a-z]|%[yz]mm'; }
n=0 offenders=()
while IFS= read -r f; do
  n=$((n + 1))
  c=$(avx_count "$f")
  case "$f" in
    *_avx2.o) check "$f holds the AVX2 path ($c vector instructions)" test "$c" -gt 0 ;;
    *) [ "$c" -eq 0 ] || offenders+=("$f:$c") ;;
  esac
done < <(find "$O" -name '*.o' ! -name '*.cu.o' | sort)
check "found the variant's objects ($n)" test "$n" -gt 20
check "no AVX instruction outside *_avx2.o (${offenders[*]:-none})" test ${#offenders[@]} -eq 0
exit $((fails > 0))
