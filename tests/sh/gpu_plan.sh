#!/usr/bin/env bash
# ./darknet memory <cfg> -batch N -gpu, on any build and without a device: the device plan
# line carries the same arena, saved and params figures as the CPU plan's total line, its
# total is the sum of its parts, DN_GPU_BUDGET_MB says whether the plan fits (a budget of
# the total, rounded up, fits; one MiB less than the total does not), and a bad
# DN_GPU_BUDGET_MB is a clear error with exit status 1.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
CFG=$root/cfg/yolov3-tiny-actnn.cfg
T=$(mktemp -d "${TMPDIR:-/tmp}/gpu_plan.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$root/tests/common/checks.sh"

field() { sed -n "s/.*[ (]$2=\([0-9.]*\).*/\1/p" <<<"$1" | head -1; }
"$DN" memory "$CFG" -batch 3 -gpu > "$T/out" 2> "$T/err"
check "memory -gpu runs without a device" [ $? -eq 0 ]
tot=$(grep '^total:' "$T/out"); dev=$(grep '^device plan' "$T/out")
check "prints the device plan" [ -n "$dev" ]
check "names the host side" grep -q '^host side of a GPU run' "$T/out"
for k in arena_mib saved_mib params_mib input_mib; do
    check "device $k equals the plan's" [ "$(field "$tot" $k)" = "$(field "$dev" $k)" ]
done
sum=$(awk -v a="$(field "$dev" arena_mib)" -v s="$(field "$dev" saved_mib)" -v p="$(field "$dev" params_mib)" \
    -v w="$(field "$dev" cudnn_workspace_mib)" -v i="$(field "$dev" input_mib)" -v t="$(field "$dev" total_device_mib)" \
    -v c="$(field "$dev" scratch_mib)" -v x="$(field "$dev" stats_mib)" \
    'BEGIN { d = a + s + p + w + c + i + x - t; print (d < 0.4 && d > -0.4) ? "yes" : "no" }')
check "total_device_mib is the sum of its parts (within rounding)" [ "$sum" = yes ]

total=$(field "$dev" total_device_mib)
up=$(awk -v t="$total" 'BEGIN { printf "%d", t + 1 }'); down=$(awk -v t="$total" 'BEGIN { printf "%d", t - 1 }')
DN_GPU_BUDGET_MB=$up "$DN" memory "$CFG" -batch 3 -gpu > "$T/fit" 2>/dev/null
check "a budget above the plan fits" grep -q "DN_GPU_BUDGET_MB=$up: the device plan fits" "$T/fit"
DN_GPU_BUDGET_MB=$down "$DN" memory "$CFG" -batch 3 -gpu > "$T/nofit" 2>/dev/null
check "a budget below the plan does not fit" grep -q "does not fit (raise subdivisions or lower actnn_bits)" "$T/nofit"

# actnn_swap=1: the device holds a window (the largest layer's or streamed segment's
# saves) and the rest waits on the host: window + host = the plan's saved bytes
SW=$T/swap.cfg
awk '{ print } /^\[net\]/ { print "actnn_swap=1" }' "$CFG" > "$SW"
"$DN" memory "$SW" -batch 3 -gpu > "$T/swap" 2>&1
check "memory -gpu with actnn_swap=1 runs" [ $? -eq 0 ]
sdev=$(grep '^device plan' "$T/swap"); stot=$(grep '^total:' "$T/swap")
win=$(field "$sdev" saved_mib); all=$(field "$stot" saved_mib)
rest=$(sed -n 's/^actnn_swap=1: .*the other \([0-9.]*\) MiB of saves wait in host memory.*/\1/p' "$T/swap")
check "says what waits on the host" [ -n "$rest" ]
check "the device window is below the saved bytes" awk -v w="$win" -v a="$all" 'BEGIN { exit !(w > 0 && w < a) }'
check "window + host = saved (within rounding)" awk -v w="$win" -v r="${rest:-0}" -v a="$all" 'BEGIN { d = w + r - a; exit !(d < 0.15 && d > -0.15) }'

# -budget with -gpu: the largest mini-batch whose device plan fits, checked at the answer
# and one more sample against `memory -batch N -gpu` of the same cfg streaming as the row
# says (the brute-force oracle at the boundary)
"$DN" memory "$CFG" -budget 600M -gpu > "$T/budget" 2>/dev/null
check "memory -budget -gpu budgets device memory" grep -q '^budget: 600.0 MiB of device memory (-gpu)' "$T/budget"
row=$(awk '$1 == "2" { print; exit }' "$T/budget"); m=$(awk '{ print $2 }' <<<"$row")
check "a 2-bit row with a mini-batch" [ -n "$m" ] && [ "${m:-0}" -gt 0 ]
BC=$CFG
if grep -q 'actnn_stream=1' <<<"$row"; then
    BC=$T/stream.cfg
    awk '{ print } /^\[net\]/ { print "actnn_stream=1" }' "$CFG" > "$BC"
fi
dev_total() { "$DN" memory "$BC" -batch "$1" -gpu 2>/dev/null | grep '^device plan' | sed 's/.*total_device_mib=\([0-9.]*\).*/\1/'; }
at=$(dev_total "${m:-1}"); next=$(dev_total $(( ${m:-1} + 1 )))
check "its device plan fits 600 MiB ($at)" awk -v t="$at" 'BEGIN { exit !(t > 0 && t <= 600) }'
check "one more sample does not ($next)" awk -v t="$next" 'BEGIN { exit !(t > 600) }'

DN_GPU_BUDGET_MB=lots "$DN" memory "$CFG" -batch 3 -gpu > /dev/null 2> "$T/bad"
check "a bad DN_GPU_BUDGET_MB exits 1" [ $? -eq 1 ]
check "and says what it expects" grep -q "DN_GPU_BUDGET_MB='lots': expected a whole number of MiB" "$T/bad"
[ "$fails" -eq 0 ]
