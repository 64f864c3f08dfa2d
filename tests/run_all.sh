#!/usr/bin/env bash
# Runs every cmocka program given on the command line, then every tests/sh/*.sh shell test.
# Prints one line per program and a summary; exits non-zero if anything failed. Exit
# status 77 is a skip (automake's convention): printed with the test's last line, not failed.
set -u
cd "$(dirname "$0")/.."
# Logs go beside the variant's test programs (make test sets DN_VARIANT).
logdir=build/tests
[ "${DN_VARIANT:-cpu}" = cpu ] || logdir=build/$DN_VARIANT/tests
export DARKNET=${DARKNET:-$PWD/darknet} DN_TOOLS=${DN_TOOLS:-$PWD/build/bin}
fail=0; failed=()
run() {
  local name=$1; shift
  local t0=$(date +%s%N)
  "$@" > "$logdir/$name.log" 2>&1
  local rc=$?
  if [ $rc = 0 ]; then
    printf 'PASS  %-40s %6d ms\n' "$name" $(( ($(date +%s%N) - t0) / 1000000 ))
  elif [ $rc = 77 ]; then # skipped: the test's last line says why
    printf 'SKIP  %-40s %s\n' "$name" "$(tail -n 1 "$logdir/$name.log")"
  else
    printf 'FAIL  %-40s (log: %s/%s.log)\n' "$name" "$logdir" "$name"
    tail -n 30 "$logdir/$name.log" | sed 's/^/      /'
    fail=1; failed+=("$name")
  fi
}
mkdir -p "$logdir"
for t in "$@"; do run "$(basename "$t")" "$t"; done
for s in tests/sh/*.sh; do [ -f "$s" ] && run "$(basename "$s" .sh)" bash "$s"; done
if [ $fail -ne 0 ]; then echo "FAILED: ${failed[*]}"; exit 1; fi
echo "all tests passed"
