#!/usr/bin/env bash
# gpu_check.sh: the one GPU check to run on a lent CUDA device (written for an H200).
#
#   scripts/gpu_check.sh             find CUDA, build GPU=1 CUDNN=1, run the GPU test program
#                                    (every kernel against the CPU path, ActNN bytes identical
#                                    to the CPU's), benchmark the quantizer against a device
#                                    copy, the device plans (memory -gpu) and the largest
#                                    planned mini-batch under DN_GPU_BUDGET_MB at fp32 and 2
#                                    bits, and print one table last: rows (a)-(f) of issue 19,
#                                    each with its result or why it did not run. A few minutes.
#   scripts/gpu_check.sh --parse LOG rows (c) and (f) from a test_gpu log, and their verdict
#                                    (exit 1 when either failed): the table's parsing, testable
#                                    anywhere on a saved or made-up log.
#   scripts/gpu_check.sh --prepare   on the build machine: build the GPU binaries and copy the
#                                    host libraries they need (OpenBLAS & co.) to build/gpu_carry,
#                                    for a device image that has CUDA but not those libraries.
#
# Environment: GPU_INDEX (0), BENCH_MIB (256), JOBS (nproc), CUDA_PATH (searched otherwise),
# CUDA_WHEELS (folders to search instead of site-packages/nvidia). Testing knobs, for a
# machine without a device: GPU_CHECK_DRY=1 skips the device test (test_gpu then stops
# with "no CUDA device"), GPU_CHECK_NO_SYSTEM_CUDA=1 ignores /usr/local/cuda.
# PLAN_BUDGET_MB (8192): the budget of the planned largest mini-batch rows.
# GPU_CHECK_BUDGET_S (480): wall-clock seconds for the whole check. A lent device gives one
# command at most 600 s and a session 900 s in all, start-up included, so every step's
# timeout is cut to what is left of this budget (less 20 s for the table), and a step with
# under 30 s left is not started: the table is always printed, naming what did not run.
# With $OUT set (the device tool's folder), the table and the logs are copied there too.
# Exit status: 0 all passed; 1 some check failed (a test, the mirror, or the benchmark's
# target in row (f)); 2 no CUDA device; 3 no toolkit / build failed.
#
# Rows that train whole networks placed on the GPU ((a)+(b) every layer type and SGD/adam
# steps vs the CPU, (d) loss curves, (e) measured s/iter and gpu_peak_mib, and the largest
# mini-batch that trains under E2_BUDGET_MB (8192) for yolov4 at 608, under E2_TIMEOUT (240 s))
# come from scripts/gpu_train_rows.sh (ROWS=0 skips them).
#
# Where CUDA is: $CUDA_PATH, else /usr/local/cuda, else the CUDA 13 / cuDNN 9 wheels that a
# PyTorch image keeps under site-packages/nvidia (headers, libraries and nvcc each in their
# own folder, libraries without the unversioned .so link the linker needs: we make those
# links in build/gpu_check_libs).
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 3
ROOT=$(pwd)
VDIR=build/cpu-gpu-cudnn
TEST_BIN=$VDIR/tests/gpu/test_gpu
BUDGET_S=${GPU_CHECK_BUDGET_S:-480}
say() { echo "gpu_check: $*"; }
# cap <seconds>: a step's timeout, at most <seconds> and what is left of BUDGET_S less 20 s
# for the table; 0 when under 30 s would be left (the step is then not started).
cap() {
    local left=$((BUDGET_S - SECONDS - 20))
    [ "$left" -lt "$1" ] || left=$1
    [ "$left" -ge 30 ] && echo "$left" || echo 0
}

# ---- reading test_gpu's log: rows (c) and (f) -----------------------------------------------
# Row (c) counts every ActNN check line (a failure after the first few must show), row (f)
# is the benchmark's verdict line, "quantizer save 2-bit ...: X of copy bandwidth (target >=
# 0.70: PASS|FAIL)", with its information lines (the other kernel, restore) after it.
actnn_row() {
    local p f first
    p=$(grep -ciE '^PASS.*actnn' "$1" || true)
    f=$(grep -ciE '^FAIL.*actnn' "$1" || true)
    if [ "$((p + f))" -eq 0 ]; then echo "no ActNN check ran ($1)"; return; fi
    first=$(grep -iE '^FAIL.*actnn' "$1" | head -1 | tr -s ' ')
    echo "$p passed / $f failed${first:+ (first: $first)}"
}
bench_verdict() { # PASS, FAIL, or none (the benchmark printed no verdict)
    local v
    v=$(grep -E '^quantizer save 2-bit.*target >= 0\.70: (PASS|FAIL)' "$1" | head -1 |
        sed -E 's/.*target >= 0\.70: (PASS|FAIL).*/\1/')
    echo "${v:-none}"
}
bench_row() {
    local v info
    v=$(grep -E '^quantizer save 2-bit.*target >= 0\.70' "$1" | head -1 | sed 's/^quantizer //')
    info=$(grep -E '^quantizer .*\(information\)' "$1" | sed 's/^quantizer //' | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
    echo "${v:-FAIL: no verdict from the benchmark ($1)}${info:+; $info}"
}
if [ "${1:-}" = "--parse" ]; then
    case ${2:-} in /*|'') ;; *) set -- "$1" "$OLDPWD/$2" ;; esac # relative to the caller's folder
    [ -r "${2:-}" ] || { say "usage: scripts/gpu_check.sh --parse <test_gpu log>"; exit 3; }
    echo "(c) $(actnn_row "$2")"
    echo "(f) $(bench_row "$2")"
    [ "$(grep -ciE '^FAIL.*actnn' "$2" || true)" -eq 0 ] && [ "$(bench_verdict "$2")" = PASS ]
    exit $?
fi

# ---- --prepare (build machine) --------------------------------------------------------------
if [ "${1:-}" = "--prepare" ]; then
    # Only the variant's own targets: the top-level ./darknet stays the CPU build.
    make -j"${JOBS:-2}" GPU=1 CUDNN=1 "$VDIR/darknet" gpu-tests "$VDIR/tests/test_devsim" \
        "$VDIR/bin/make_shapes" || exit 3
    mkdir -p build/gpu_carry/lib
    # every carried binary's host libraries (test_devsim links cmocka, which a CUDA image
    # rarely has)
    for lib in $(ldd "$TEST_BIN" "$VDIR/darknet" "$VDIR/tests/test_devsim" | awk '/=>/ {print $3}' | sort -u); do
        case "$(basename "$lib")" in
        libopenblas*|libgfortran*|libquadmath*|libgomp*|libstb*|libcmocka*) cp -L "$lib" build/gpu_carry/lib/ ;;
        esac
    done
    say "prepared: $VDIR and build/gpu_carry ($(du -sh build/gpu_carry | cut -f1))"
    say "device run: carry [\"$VDIR\", \"build/gpu_carry\"], command scripts/gpu_check.sh"
    exit 0
fi

# ---- device plans (no device needed): ./darknet memory <cfg> -batch N -gpu ----------------
# cfg_at <cfg> <bits> <out>: the cfg with ActNN at `bits` (32: off) in [net].
cfg_at() {
    awk -v b="$2" 'BEGIN { done = 0 }
        /^(actnn|actnn_bits)[ \t]*=/ { next }
        { print }
        /^\[net\]/ && !done { if (b < 32) printf "actnn=1\nactnn_bits=%d\n", b; done = 1 }' "$1" > "$3"
}
# largest_batch <darknet> <cfg>: the largest -batch whose device plan fits PLAN_BUDGET_MB
# (doubling, then halving the bracket; ">65536" past that).
plan_fits() {
    DN_GPU_BUDGET_MB=${PLAN_BUDGET_MB:-8192} "$1" memory "$2" -batch "$3" -gpu 2>/dev/null |
        grep -q 'the device plan fits'
}
largest_batch() {
    local lo=0 hi=1 mid
    while plan_fits "$1" "$2" "$hi"; do
        lo=$hi hi=$((hi * 2))
        [ "$hi" -le 65536 ] || { echo ">65536"; return; }
    done
    while [ $((hi - lo)) -gt 1 ]; do
        mid=$(((lo + hi) / 2))
        if plan_fits "$1" "$2" "$mid"; then lo=$mid; else hi=$mid; fi
    done
    echo "$lo"
}
plan_rows() { # "name fp32 2bit" lines for the table, from the CPU ./darknet when no GPU build
    local dn=$1 tmp cfg name
    tmp=$(mktemp -d)
    for cfg in cfg/yolov3-tiny-actnn.cfg cfg/yolov4-tiny-actnn.cfg /usr/share/darknet/cfg/darknet19.cfg \
        /usr/share/darknet/cfg/resnet18.cfg; do
        [ -f "$cfg" ] || { echo "$(basename "$cfg" .cfg) (cfg missing)"; continue; }
        name=$(basename "$cfg" .cfg)
        [ "$(cap 30)" -gt 0 ] || { echo "$name (no time left)"; continue; }
        cfg_at "$cfg" 32 "$tmp/f.cfg"
        cfg_at "$cfg" 2 "$tmp/q.cfg"
        echo "$name $(largest_batch "$dn" "$tmp/f.cfg") $(largest_batch "$dn" "$tmp/q.cfg")"
    done
    rm -rf "$tmp"
}
if [ "${1:-}" = "--plans" ]; then # the planned rows alone (any machine, any build)
    BUDGET_S=${GPU_CHECK_BUDGET_S:-1000000} # off a device: no session limit
    dn=$VDIR/darknet
    [ -x "$dn" ] || dn=./darknet
    say "largest planned mini-batch under DN_GPU_BUDGET_MB=${PLAN_BUDGET_MB:-8192} (memory -gpu, no device):"
    plan_rows "$dn" | awk 'NF == 3 { printf "gpu_check: plan %-22s fp32 %s  2-bit %s\n", $1, $2, $3; next } { print "gpu_check: plan " $0 }'
    exit 0
fi

# ---- 1. a device? ---------------------------------------------------------------------------
ngpu=0
if command -v nvidia-smi >/dev/null 2>&1; then
    ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU [0-9]' || true)
elif ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
    ngpu=$(find /dev -maxdepth 1 -name 'nvidia[0-9]*' | wc -l) # no nvidia-smi: trust the device nodes; test_gpu confirms
fi
if [ "${ngpu:-0}" -eq 0 ] && [ "${GPU_CHECK_DRY:-0}" != 1 ]; then
    say "no CUDA device (nvidia-smi lists no GPU and there is no /dev/nvidia0); nothing to check"
    exit 2
fi
command -v nvidia-smi >/dev/null 2>&1 &&
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/gpu_check: device: /'

# Keep the carried prebuilt test program aside before make can touch it.
PREBUILT=""
if [ -x "$TEST_BIN" ]; then
    PREBUILT=$(mktemp -d)/test_gpu
    cp "$TEST_BIN" "$PREBUILT"
    [ -x "$VDIR/tests/gpu/mirror_host" ] && cp "$VDIR/tests/gpu/mirror_host" "$(dirname "$PREBUILT")/"
fi

# ---- 2. the toolkit -------------------------------------------------------------------------
# Folders holding pip's nvidia wheels (site-packages/nvidia), from Python, else by search.
roots=${CUDA_WHEELS:-}
[ -n "$roots" ] || roots=$(python3 - 2>/dev/null <<'EOF'
import os, site
paths = list(site.getsitepackages()) + [site.getusersitepackages()]
for p in paths:
    if os.path.isdir(os.path.join(p, "nvidia")):
        print(os.path.join(p, "nvidia"))
EOF
)
if [ -z "$roots" ]; then
    roots=$(find / -xdev -name 'libcudnn.so*' -path '*site-packages*' 2>/dev/null |
        sed -n 's|\(.*/site-packages/nvidia\)/.*|\1|p' | sort -u)
fi
find_in_roots() { # first file (or link) named like $1 under the wheel folders
    [ -n "$roots" ] || return 0
    # shellcheck disable=SC2086
    find $roots \( -type f -o -type l \) -name "$1" 2>/dev/null | sort | head -1
}

if [ -n "${CUDA_PATH:-}" ] && [ -x "$CUDA_PATH/bin/nvcc" ]; then :
elif [ "${GPU_CHECK_NO_SYSTEM_CUDA:-0}" != 1 ] && [ -x /usr/local/cuda/bin/nvcc ]; then
    CUDA_PATH=/usr/local/cuda
else
    nvcc=$(find_in_roots nvcc)
    CUDA_PATH=${nvcc:+$(dirname "$(dirname "$nvcc")")}
fi
say "CUDA_PATH=${CUDA_PATH:-none} wheel folders: ${roots:-none}" | tr '\n' ' '
echo
# A toolkit newer than the driver fails every launch ("driver version is insufficient"):
# both versions, before anything runs. test_gpu prints cudaDriverGetVersion's too.
toolkit=$([ -n "${CUDA_PATH:-}" ] && "$CUDA_PATH/bin/nvcc" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
driver_cuda=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
versions="toolkit ${toolkit:-unknown}, driver ${driver:-unknown} (CUDA ${driver_cuda:-unknown})"
say "versions: $versions"

extra_inc="" extra_lib="" linkdir=$ROOT/build/gpu_check_libs
mkdir -p "$linkdir"
for h in cuda_runtime.h cublas_v2.h cudnn.h; do
    [ -n "${CUDA_PATH:-}" ] && [ -f "$CUDA_PATH/include/$h" ] && continue
    f=$(find_in_roots "$h")
    [ -n "$f" ] && extra_inc="$extra_inc $(dirname "$f")"
done
for l in cudart cublas cublasLt cudnn; do
    [ -n "${CUDA_PATH:-}" ] && [ -e "$CUDA_PATH/lib64/lib$l.so" ] && continue
    f=$(find_in_roots "lib$l.so*")
    [ -n "$f" ] || continue
    ln -sf "$f" "$linkdir/lib$l.so" # the unversioned name -l needs; wheels ship only .so.N
    extra_lib="$extra_lib $(dirname "$f")"
done
extra_inc=$(echo "$extra_inc" | tr ' ' '\n' | sort -u | tr '\n' ' ')
extra_lib="$linkdir $(echo "$extra_lib" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
libpath=$(echo "${CUDA_PATH:+$CUDA_PATH/lib64} $extra_lib $ROOT/build/gpu_carry/lib" | tr -s ' ' ':')
export LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# ---- 3. build (or use the carried build) ---------------------------------------------------
build="none"
gpu_make() { # make <targets> in the GPU variant, under a budgeted timeout, appending to the log
    local t
    t=$(cap "$1")
    shift
    [ "$t" -gt 0 ] || { echo "no time left (GPU_CHECK_BUDGET_S=$BUDGET_S)" >>build/gpu_check_build.log; return 124; }
    timeout "$t" make -j"${JOBS:-$(nproc)}" GPU=1 CUDNN=1 CUDA_PATH="$CUDA_PATH" \
        CUDA_EXTRA_INC="$extra_inc" CUDA_EXTRA_LIB="$extra_lib" "$@" >>build/gpu_check_build.log 2>&1
}
if [ -n "${CUDA_PATH:-}" ] && [ -x "$CUDA_PATH/bin/nvcc" ]; then
    say "building: make GPU=1 CUDNN=1 all gpu-tests (log build/gpu_check_build.log)"
    : >build/gpu_check_build.log
    if gpu_make 300 all gpu-tests "$VDIR/bin/make_shapes"; then
        build="built here"
        # rows (a)+(b)'s test program needs cmocka's header and library, which a device
        # image may lack: its failure leaves the carried one (or row (a)+(b) says why)
        gpu_make 120 "$VDIR/tests/test_devsim" || say "test_devsim not built here (build/gpu_check_build.log)"
    else
        tail -20 build/gpu_check_build.log
        say "build failed (log above)"
    fi
else
    say "no nvcc found (CUDA_PATH, /usr/local/cuda, site-packages)"
fi
if [ "$build" = "none" ]; then
    if [ -n "$PREBUILT" ]; then
        TEST_BIN=$PREBUILT
        build="prebuilt (carried)"
        say "using the carried prebuilt $VDIR/tests/gpu/test_gpu"
    else
        say "nothing to run: no toolkit to build with and no carried build (scripts/gpu_check.sh --prepare)"
        exit 3
    fi
fi
if ! ldd "$TEST_BIN" | grep -q 'not found'; then :; else
    ldd "$TEST_BIN" | grep 'not found'
    say "missing shared libraries (above); carry build/gpu_carry (scripts/gpu_check.sh --prepare)"
    exit 3
fi

# ---- 4. where things run (the CLI's start-up report) -----------------------------------------
if [ -x "$VDIR/darknet" ]; then
    "$VDIR/darknet" memory cfg/yolov3-tiny-actnn.cfg -gpus "${GPU_INDEX:-0}" 2>&1 >/dev/null | grep '^gpu:' || true
fi

# ---- 5. tests and benchmark ----------------------------------------------------------------
log=build/gpu_check_test.log
mirror="not run"
MIRROR_BIN=$(dirname "$TEST_BIN")/mirror_host
if [ -x "$MIRROR_BIN" ]; then # the GPU activation code on the host vs activations.c
    if "$MIRROR_BIN" >build/gpu_check_mirror.log 2>&1; then mirror="passed"; else
        grep FAIL build/gpu_check_mirror.log
        mirror="FAILED (build/gpu_check_mirror.log)"
    fi
fi
t=$(cap 240)
if [ "$t" -gt 0 ]; then
    timeout "$t" "$TEST_BIN" -i "${GPU_INDEX:-0}" --bench "${BENCH_MIB:-256}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
else
    echo "not run: no time left (GPU_CHECK_BUDGET_S=$BUDGET_S)" >"$log"
    rc=124
fi

pass=$(grep -c '^PASS' "$log" || true)
fail=$(grep -c '^FAIL' "$log" || true)
actnn=$(actnn_row "$log")
if [ "${BENCH_MIB:-256}" -gt 0 ]; then
    bench=$(bench_row "$log")
    verdict=$(bench_verdict "$log")
else
    bench="not run (BENCH_MIB=0)" verdict=PASS
fi
rows=""
# train_rows <seconds> <log> [ROW_SET]: scripts/gpu_train_rows.sh under a budgeted timeout
train_rows() {
    local t
    t=$(cap "$1")
    if [ "$t" -gt 0 ]; then
        ROW_SET=${3:-ab d e} GPU_INDEX="${GPU_INDEX:-0}" AB_TIMEOUT=$t timeout "$t" scripts/gpu_train_rows.sh 2>&1 | tee "$2"
    else
        echo "not run: no time left (GPU_CHECK_BUDGET_S=$BUDGET_S)" | tee "$2"
    fi
}
if [ "${ROWS:-1}" = 1 ] && [ -x "$VDIR/darknet" ]; then
    say "whole networks on the device: scripts/gpu_train_rows.sh"
    rows=$(train_rows 300 build/gpu_check_rows.log)
    # measured largest mini-batches (yolov4 608): probes of one iteration, apart so that
    # they cannot starve the rows above
    say "largest mini-batch under DN_GPU_BUDGET_MB=${E2_BUDGET_MB:-8192}, measured: ROW_SET=e2 scripts/gpu_train_rows.sh"
    rows="$rows
$(train_rows "${E2_TIMEOUT:-240}" build/gpu_check_e2.log e2)"
fi
# the planned rows need no device: last, and only with time left (--plans gives them anywhere)
dn=$VDIR/darknet
[ -x "$dn" ] || dn=./darknet
plans="not run: no time left (scripts/gpu_check.sh --plans gives them on any machine)"
if [ "$(cap 60)" -ge 60 ]; then
    plans=$(plan_rows "$dn" | awk 'NF == 3 { printf "%s fp32 %s / 2-bit %s; ", $1, $2, $3; next } { printf "%s; ", $0 }')
fi
row() { # the result of the gpu_train_rows.sh lines starting with $1, or why none
    local r
    r=$(printf '%s\n' "$rows" | grep -F "$1" | cut -d'|' -f2- | tr '\n' ';')
    echo "${r:-not run (ROWS=0, no GPU darknet, or timed out: build/gpu_check_rows.log)}"
}
table() {
echo "| gpu_check ($(date -u +%F), ${SECONDS} s of ${BUDGET_S}) | result |"
echo "|--------------------------------------------|--------|"
echo "| build                                      | $build |"
echo "| versions                                   | $versions |"
echo "| host mirror (mirror_host)                  | $mirror |"
echo "| kernel checks (test_gpu)                   | $pass passed, $fail failed |"
echo "| test program exit                          | $rc |"
echo "| (a)+(b) every layer type, steps, GPU vs CPU | $(row '(a)+(b)') |"
echo "| (c) ActNN bytes on the device vs CPU       | $actnn |"
echo "| (d) shapes iterations, loss GPU vs CPU     | $(row '(d)') |"
echo "| (e) s/iter, gpu_peak_mib (416, batch 16)   | $(row '(e)') |"
echo "| (e) largest planned batch, ${PLAN_BUDGET_MB:-8192} MiB   | $plans |"
echo "| (e) largest measured batch, yolov4 608     | $(row '(e2)') |"
echo "| (f) quantizer vs device copy               | $bench |"
}
echo
table | tee build/gpu_check_table.md
[ "$fail" -gt 0 ] && grep '^FAIL' "$log" | sed 's/^/gpu_check: /'
# a training row that failed on the device: the rerun that names the failing layer
if printf '%s\n' "$rows" | grep -q 'DN_CUDA_SYNC_CHECK'; then
    say "a training row failed: rerun it with DN_CUDA_SYNC_CHECK=1 (e.g. DN_CUDA_SYNC_CHECK=1 ROW_SET=d scripts/gpu_train_rows.sh) to name the layer whose kernel failed"
fi
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    cp build/gpu_check_*.log build/gpu_check_table.md "$OUT"/ 2>/dev/null
    say "table and logs copied to $OUT"
fi
case $rc in
0)
    case $mirror in FAILED*) exit 1 ;; esac
    [ "$verdict" = PASS ] || { say "row (f): the quantizer missed its bandwidth target (or gave no figure)"; exit 1; }
    exit 0 ;;
124) say "test program timed out or not started (GPU_CHECK_BUDGET_S)"; exit 1 ;;
2) exit 2 ;;
*) exit 1 ;;
esac
