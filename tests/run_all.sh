#!/usr/bin/env bash
# Runs every cmocka program given on the command line, then every tests/sh/*.sh shell test.
# Prints one line per program and a summary; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
fail=0; failed=()
run() {
  local name=$1; shift
  local t0=$(date +%s%N)
  if "$@" > "build/tests/$name.log" 2>&1; then
    printf 'PASS  %-40s %6d ms\n' "$name" $(( ($(date +%s%N) - t0) / 1000000 ))
  else
    printf 'FAIL  %-40s (log: build/tests/%s.log)\n' "$name" "$name"
    tail -n 30 "build/tests/$name.log" | sed 's/^/      /'
    fail=1; failed+=("$name")
  fi
}
mkdir -p build/tests
for t in "$@"; do run "$(basename "$t")" "$t"; done
for s in tests/sh/*.sh; do [ -f "$s" ] && run "$(basename "$s" .sh)" bash "$s"; done
if [ $fail -ne 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all tests passed"
