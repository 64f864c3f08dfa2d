#!/usr/bin/env bash
# Replays every saved fuzz crash (tests/fuzz/regress/<target>/) and every seed
# (tests/fuzz/corpus/<target>/) through the harnesses built with the normal compiler
# against the variant's libdarknet.a (no libFuzzer needed), under ASan/UBSan when the
# library built with SANITIZE=1 (FUZZ_REGRESS_PLAIN=1: the plain one, said on stdout). A crash, a sanitizer report or a hang (timeout) fails the test.
set -eu
cd "$(dirname "$0")/../.."
out=build/fuzz-replay
mkdir -p "$out"
lib=build/cpu/libdarknet.a
[ "${DN_VARIANT:-cpu}" = cpu ] || lib=build/$DN_VARIANT/libdarknet.a
[ -f "$lib" ] || lib=libdarknet.a
san=
# Regress inputs are mostly sanitizer findings (UB, overflows) that do not crash a plain
# build: bring the ASan/UBSan library up to date (incremental; it never touches ./darknet)
# and replay against it. FUZZ_REGRESS_PLAIN=1 skips that.
# Without sanitizers most regress inputs pass whatever the code does, so a failed sanitizer
# build fails the test; FUZZ_REGRESS_PLAIN=1 asks for the plain replay and says so.
if [ "${FUZZ_REGRESS_PLAIN:-0}" != 1 ]; then
  if ! nice -n 10 make -s SANITIZE=1 build/cpu-san/libdarknet.a > "$out/san-build.log" 2>&1; then
    echo "FAIL sanitizer build failed (see $out/san-build.log); FUZZ_REGRESS_PLAIN=1 replays without"
    tail -n 20 "$out/san-build.log"
    exit 1
  fi
  lib=build/cpu-san/libdarknet.a
  san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
else
  echo "PLAIN: FUZZ_REGRESS_PLAIN=1: replaying against the uninstrumented $lib (only crashes and hangs are caught)"
fi
blas=$(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
blasl=$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
fail=0
for t in fuzz_cfg fuzz_weights fuzz_data fuzz_labels; do
  src=tests/fuzz/$t.c
  case $t in
    fuzz_data) [ -f src/core/list.c ] || continue ;;
    fuzz_labels) [ -f src/data/data_detector.c ] || continue ;;
  esac
  bin=$out/$t
  # `make fuzz` runs every object under ASan/UBSan with libFuzzer.
  build() { # $1: library, $2: extra flags
    gcc $2 -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O1 -g -fopenmp -Wall -Wextra -Werror \
        -Iinclude -Isrc -Iactnn_plugin/include -Itests/fuzz $blas \
        -o "$bin" "$src" tests/fuzz/replay_main.c "$1" $blasl -lstb -lm -lpthread
  }
  if ! build "$lib" "$san" 2> "$out/$t.build.log"; then
    echo "FAIL $t: the replay harness did not build against $lib (log $out/$t.build.log)"
    tail -n 20 "$out/$t.build.log"; fail=1; continue
  fi
  dirs=()
  for d in tests/fuzz/regress/$t tests/fuzz/corpus/$t; do
    [ -d "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ] && dirs+=("$d")
  done
  [ ${#dirs[@]} -eq 0 ] && continue
  if OMP_NUM_THREADS=1 timeout 120 "$bin" "${dirs[@]}" > "$out/$t.log" 2>&1; then
    echo "$t: $(tail -n 1 "$out/$t.log")"
  else
    echo "FAIL $t (log $out/$t.log):"; tail -n 20 "$out/$t.log"; fail=1
  fi
done
exit $fail
