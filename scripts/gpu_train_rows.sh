#!/usr/bin/env bash
# gpu_train_rows.sh: the rows of scripts/gpu_check.sh that train a whole network on the
# device (issue 19 (a), (b), (d), (e)); prints "row|result" lines for gpu_check's table.
#
#   (a)+(b) test_devsim against the device: 3 synthetic cfgs covering every layer type,
#           fp32/2-bit/auto/streamed/adam, costs, outputs and weights after SGD steps and a
#           reload, GPU vs CPU within DN_TEST_TOL (1e-4)
#   (d)     yolov3-tiny-shapes, ITERS (100) iterations at 96 px: the avg-loss curve on the
#           device vs -nogpu, largest relative difference and the last values
#   (e)     yolov3-tiny and yolov4-tiny at 416, mini-batch 16, fp32, 2 bits and 2 bits with
#           actnn_swap=1: median
#           s/iter of the iterations after the third and gpu_peak_mib of the memory: line
#   (e2)    the largest mini-batch that trains under DN_GPU_BUDGET_MB=E2_BUDGET_MB (8192), at
#           fp32 and at 2 bits, for yolov4 (full, cfg/yolov4-shapes.cfg) at 608 (E2_CFGS:
#           "name:size" list): one iteration at the plan's answer (`memory -budget -gpu`) and
#           one at 10 % more (at least +1); "fits m, m' out of memory" brackets the boundary.
#           Only when ROW_SET has e2 (gpu_check.sh runs it apart, under its own timeout).
#
# ROW_SET: the rows to run, words out of "ab d e e2" (default "ab d e").
#
# Environment: DN (the darknet to run, default build/cpu-gpu-cudnn/darknet), TEST_DEVSIM (its
# test_devsim), TOOLS (make_shapes's folder), GPU_INDEX (0), ITERS (100), E_ITERS (8),
# AB_TIMEOUT (300: seconds for test_devsim; gpu_check.sh passes what its budget leaves).
# DEVICE_ENV=devsim runs the same rows on this machine's simulated device (DN_BACKEND=devsim,
# any build) to check the script itself without a GPU.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 3
ROOT=$(pwd)
VDIR=build/cpu-gpu-cudnn
DN=${DN:-$VDIR/darknet}
TEST_DEVSIM=${TEST_DEVSIM:-$VDIR/tests/test_devsim}
TOOLS=${TOOLS:-$VDIR/bin}
[ -x "$TOOLS/make_shapes" ] || TOOLS=build/bin
ITERS=${ITERS:-100}
ROW_SET=${ROW_SET:-ab d e}
want() { case " $ROW_SET " in *" $1 "*) return 0 ;; esac; return 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gpu_rows.XXXXXX")
trap 'rm -rf "$T"' EXIT

if [ "${DEVICE_ENV:-}" = devsim ]; then
    on_device() { DN_BACKEND=devsim "$@"; }
    ondev_flag=""
    test_env="DN_TEST_DEVICE=devsim"
else
    on_device() { "$@"; }
    ondev_flag="-gpus ${GPU_INDEX:-0}"
    test_env="DN_TEST_DEVICE=cuda DN_TEST_TOL=${DN_TEST_TOL:-1e-4}"
fi

# hint_for <log>: for a training row that failed on the GPU, how to find the layer whose
# kernel failed (docs/gpu.md); nothing on devsim, when already checking, or when the run
# failed for want of a device or a library.
hint_for() {
    [ "${DEVICE_ENV:-}" = devsim ] || [ "${DN_CUDA_SYNC_CHECK:-}" = 1 ] ||
        grep -qE 'no CUDA device|error while loading' "$1" 2>/dev/null ||
        printf '; rerun with DN_CUDA_SYNC_CHECK=1 to name the failing layer'
}

# cfgset <in> <out> key=value...: the values set in [net] (added when missing) and
# random=0 wherever a section has `random` (no Debian oracle needed on a device image).
cfgset() {
    local in=$1 out=$2
    shift 2
    awk -v kv="$*" 'BEGIN { n = split(kv, a, " "); for (i = 1; i <= n; ++i) { split(a[i], p, "="); v[p[1]] = p[2] } }
        /^\[/ { if (innet) for (k in v) if (!(k in done)) print k "=" v[k]; innet = ($0 ~ /^\[net\]/) }
        { line = $0; key = line; sub(/[ \t]*=.*/, "", key)
          if (innet && (key in v)) { print key "=" v[key]; done[key] = 1; next }
          if (!innet && key == "random") { print "random=0"; next }
          print }' "$in" > "$out"
}

# ---- (a)+(b) ----
if ! want ab; then :
elif [ -x "$TEST_DEVSIM" ]; then
    env $test_env timeout "${AB_TIMEOUT:-300}" "$TEST_DEVSIM" > "$T/devsim.log" 2>&1
    abrc=$?
    passed=$(sed -n 's/.*PASSED  \] \([0-9]*\) test.*/\1/p' "$T/devsim.log")
    # each failed test once (cmocka names them again in its summary)
    failed=$(grep '^\[  FAILED  \] [a-z]' "$T/devsim.log" | awk '!seen[$4]++ {print $4}' | tr '\n' ' ')
    why=$(grep -m1 -E 'differ|relative error|cost cpu|host pointer|error while loading|not found|no CUDA device' "$T/devsim.log" | cut -c1-120)
    [ "$abrc" = 124 ] && why="timed out after ${AB_TIMEOUT:-300} s${why:+; $why}"
    [ -n "$passed$failed$why" ] || why="exit $abrc: $(tail -1 "$T/devsim.log" | cut -c1-100)"
    abhint=""
    [ "$abrc" = 0 ] || abhint=$(hint_for "$T/devsim.log")
    echo "(a)+(b) every layer type + SGD/adam steps, device vs CPU|${passed:-0} passed${failed:+, failed: $failed}${why:+ ($why)}$abhint"
else
    echo "(a)+(b) every layer type + SGD/adam steps, device vs CPU|not run: no $TEST_DEVSIM"
fi

# ---- data ----
mkdir -p "$T/set" "$T/backup"
"$TOOLS/make_shapes" "$T/set" 64 8 416 416 1 > /dev/null || { echo "(d)|make_shapes failed"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > "$T/names"
printf 'classes=3\ntrain=%s/set/train.txt\nvalid=%s/set/valid.txt\nnames=%s/names\nbackup=%s/backup\n' \
    "$T" "$T" "$T" "$T" > "$T/shapes.data"
# loss_curve <out>: "iteration avg" lines of a training log
loss_curve() { sed -n 's/^ *\([0-9]*\): [-0-9.naif]*, \([-0-9.naif]*\) avg loss.*/\1 \2/p' "$1"; }

# ---- (d) ----
if want d; then
cfgset cfg/yolov3-tiny-shapes.cfg "$T/d.cfg" width=96 height=96 batch=8 subdivisions=1 \
    max_batches="$ITERS" burn_in=10
( cd "$T" && on_device "$ROOT/$DN" -seed 5 detector train shapes.data d.cfg -dont_show $ondev_flag > d_dev.out 2> d_dev.err )
rd=$?
( cd "$T" && "$ROOT/$DN" -seed 5 detector train shapes.data d.cfg -dont_show -nogpu > d_cpu.out 2> d_cpu.err )
rc=$?
if [ $rd = 0 ] && [ $rc = 0 ]; then
    loss_curve "$T/d_dev.out" > "$T/d_dev.loss"
    loss_curve "$T/d_cpu.out" > "$T/d_cpu.loss"
    d=$(join "$T/d_dev.loss" "$T/d_cpu.loss" | awk '{ r = ($2 - $3) / ($3 == 0 ? 1 : $3); if (r < 0) r = -r;
        if (r > m) { m = r; at = $1 } last = $1 ": " $2 " vs " $3 } END { printf "%d iterations, largest relative difference %.2g (iteration %s), last avg loss %s", NR, m, (m > 0 ? at : "-"), last }')
    echo "(d) $ITERS shapes iterations, avg loss device vs CPU|$d"
else
    dhint=""
    [ "$rd" = 0 ] || dhint=$(hint_for "$T/d_dev.err") # the device run failed, not only the CPU's
    echo "(d) $ITERS shapes iterations, avg loss device vs CPU|failed (device rc $rd, cpu rc $rc): $(tail -1 "$T/d_dev.err" "$T/d_cpu.err" | tr '\n' ' ' | cut -c1-160)$dhint"
fi

fi

# ---- (e) ----
E_ITERS=${E_ITERS:-8}
want e && for cfg in yolov3-tiny yolov4-tiny; do
    for v in 32 2 2+swap; do   # 2+swap: 2 bits with actnn_swap=1 (copies on a second stream)
        bits=${v%%+*} swap=0
        [ "$v" = 2+swap ] && swap=1
        cfgset cfg/$cfg-shapes.cfg "$T/e.cfg" width=416 height=416 batch=16 subdivisions=1 \
            max_batches="$E_ITERS" actnn_bits=$bits burn_in=0 actnn_swap=$swap
        rm -rf "$T"/backup/e_* # each run is new: a fresh run keeps the previous one's files apart
        ( cd "$T" && on_device "$ROOT/$DN" -seed 5 detector train shapes.data e.cfg -dont_show $ondev_flag > e.out 2> e.err )
        erc=$?
        label="$bits bits"
        [ "$swap" = 1 ] && label="2 bits, actnn_swap=1"
        if [ $erc != 0 ]; then echo "(e) $cfg 416 b16, $label|failed: $(tail -1 "$T/e.err" | cut -c1-120)$(hint_for "$T/e.err")"; continue; fi
        s=$(sed -n 's/.* rate, \([0-9.]*\) seconds.*/\1/p' "$T/e.out" | tail -n +4 | sort -g |
            awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        peak=$(grep -o 'gpu_peak_mib=[0-9.]*' "$T/e.err" "$T/e.out" | tail -1 | cut -d= -f2)
        echo "(e) $cfg 416 mini-batch 16, $label|${s:-?} s/iter, gpu_peak_mib ${peak:-?}"
    done
done

# ---- (e2) ----
# probe <cfg> <size> <bits> <m>: 0 when one iteration of mini-batch m trains under the budget
probe() {
    cfgset "$1" "$T/e2.cfg" width="$2" height="$2" batch="$4" subdivisions=1 max_batches=1 \
        actnn_bits="$3" burn_in=0
    rm -rf "$T"/backup/e2_* # each probe is a new run (a fresh run keeps the previous one's files apart)
    ( cd "$T" && DN_GPU_BUDGET_MB=$E2_BUDGET_MB on_device timeout "${E2_PROBE_S:-120}" "$ROOT/$DN" -seed 5 \
        detector train shapes.data e2.cfg -dont_show $ondev_flag > e2.out 2> e2.err )
}
E2_BUDGET_MB=${E2_BUDGET_MB:-8192}
want e2 && for spec in ${E2_CFGS:-yolov4-shapes:608}; do
    name=${spec%%:*} size=${spec##*:} res=""
    for bits in 32 2; do
        cfgset "cfg/$name.cfg" "$T/p.cfg" width="$size" height="$size" actnn_bits="$bits"
        m=$("$DN" memory "$T/p.cfg" -budget "$E2_BUDGET_MB" -gpu 2>/dev/null | awk -v b="$bits" '$1 == b { print $2 }')
        [ -n "$m" ] && [ "$m" -ge 1 ] || { res="$res; $bits bits: no plan"; continue; }
        up=$((m + (m / 10 > 1 ? m / 10 : 1)))
        if ! probe "cfg/$name.cfg" "$size" "$bits" "$m"; then
            res="$res; $bits bits: plan $m did not train ($(grep -m1 -o 'out of GPU memory[^:]*' "$T/e2.err" || tail -1 "$T/e2.err" | cut -c1-80))"
        else
            eval "fit_$bits=$m"
            if probe "cfg/$name.cfg" "$size" "$bits" "$up"; then
                res="$res; $bits bits: fits $m and $up (plan $m: the boundary is higher)"
            else
                res="$res; $bits bits: fits $m, $up does not (plan $m)"
            fi
        fi
    done
    ratio=$(awk -v a="${fit_32:-0}" -v b="${fit_2:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", b / a; else print "?" }')
    echo "(e2) $name $size, largest mini-batch under DN_GPU_BUDGET_MB=$E2_BUDGET_MB|${res#; }; 2-bit / fp32 (sizes that trained) $ratio"
    unset fit_32 fit_2
done
