#!/usr/bin/env bash
# Darknet's GPU options on any build: -gpus N / -gpus 0,1 / -i N / -nogpu are accepted
# and never taken for positional arguments, a bad -gpus value is a clear error, a CPU
# build links no CUDA library, and a GPU build says at start where every layer runs (on a
# machine without a device: "no CUDA device found: every layer runs on the CPU").
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
CFG=$root/cfg/yolov3-tiny-actnn.cfg
. "$root/tests/common/checks.sh"

ref=$("$DN" memory "$CFG" 2>/dev/null | tail -1)
same() { [ -n "$ref" ] && [ "$1" = "$ref" ]; }
for opt in "-gpus 0" "-gpus 0,1" "-i 0" "-nogpu"; do
    # shellcheck disable=SC2086
    out=$("$DN" memory "$CFG" $opt 2>/dev/null | tail -1)
    check "memory with $opt gives the same plan" same "$out"
done
err=$("$DN" memory "$CFG" -gpus x 2>&1 >/dev/null)
rc=$?
check "-gpus x is rejected" [ "$rc" -ne 0 ]
check "-gpus x says what it expects" grep -q "expects a GPU index" <<<"$err"

if ldd "$DN" | grep -q libcudart; then
    banner=$("$DN" memory "$CFG" -gpus 0 2>&1 >/dev/null | grep '^gpu:')
    check "GPU build reports where layers run" grep -q "runs on the CPU" <<<"$banner"
else
    ok "CPU build links no CUDA library"
    echo "SKIP GPU build reports where layers run: $DN is a CPU build (no libcudart linked);" \
         "make GPU=1 CUDNN=1 and scripts/gpu_check.sh cover it"
fi
[ "$fails" -eq 0 ]
