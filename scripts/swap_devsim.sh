#!/usr/bin/env bash
# swap_devsim.sh [cfg ...]: device memory of 2-bit training with and without actnn_swap=1,
# measured on the simulated device (DN_BACKEND=devsim: the network's device allocations are
# counted exactly as the CUDA backend's dn_cuda_malloc counts them; no GPU needed). For each
# cfg at 416x416 (random=0), mini-batch MB (default 32), ITERS iterations (default 2):
# gpu_peak_mib of the memory: line for the device pool (default) and for actnn_swap=1, each
# with and without streamed segments (actnn_stream=1), saved_mib (what the pool holds, and
# what swap moves to host memory), and the swap window's live peak against the window that
# `darknet memory <cfg> -gpu` plans. Prints one table last.
#   scripts/swap_devsim.sh cfg/yolov3-tiny-shapes.cfg cfg/yolov4-tiny-shapes.cfg
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
MB=${MB:-32} ITERS=${ITERS:-2}
DN=${DARKNET:-$root/darknet}
[ $# -gt 0 ] || set -- cfg/yolov3-tiny-shapes.cfg cfg/yolov4-tiny-shapes.cfg
T=$(mktemp -d "${TMPDIR:-/tmp}/swap_devsim.XXXXXX")
trap 'rm -rf "$T"' EXIT
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/s0.data scripts/make_shapes.sh $((MB * ITERS)) 8 416 416 1 > /dev/null
sed "s|^backup.*|backup = $T/backup/|" "$T/s0.data" > "$T/s.data"
mkdir -p "$T/backup"
field() { sed -n "s/.*[ (]$2=\([0-9.]*\).*/\1/p" "$1" | tail -1; }
rows=""
for cfg in "$@"; do
    name=$(basename "$cfg" .cfg)
    for stream in 0 1; do
        for swap in 0 1; do
            c=$T/$name.$stream.$swap.cfg
            scripts/cfg_variant.sh "$cfg" "$T/base.cfg" 2 "$MB" "$ITERS"
            awk -v st="$stream" -v sw="$swap" '{ print }
                /^actnn_bits=/ { print "actnn_stream=" st; if (sw) print "actnn_swap=1" }' "$T/base.cfg" > "$c"
            out=$T/$name.$stream.$swap.out
            if ! DN_BACKEND=devsim "$DN" -seed 1 detector train "$T/s.data" "$c" -dont_show > "$out" 2>&1; then
                echo "swap_devsim: $name stream=$stream swap=$swap failed:" >&2
                tail -5 "$out" >&2
                exit 1
            fi
            peak=$(field "$out" gpu_peak_mib) saved=$(field "$out" saved_mib) arena=$(field "$out" arena_mib)
            echo "$name actnn_stream=$stream actnn_swap=$swap: gpu_peak_mib=$peak saved_mib=$saved arena_mib=$arena"
            eval "p_${stream}_${swap}=$peak"
            [ "$swap" = 1 ] || continue
            # the window: its live peak (memory: line) against the plan (memory -gpu)
            live=$(field "$out" swap_window_live_mib)
            "$DN" memory "$c" -gpu > "$T/plan.out" 2>&1
            planned=$(grep '^device plan' "$T/plan.out" | sed -n 's/.* saved_mib=\([0-9.]*\).*/\1/p')
            pool=$(eval echo \$p_${stream}_0)
            rows="$rows
| $name | $stream | $saved | $arena | $pool | $peak | $(awk -v a="$pool" -v b="$peak" 'BEGIN { printf "%.1f", a - b }') | $live | $planned |"
        done
    done
done
echo
echo "device memory on the simulated device, 2 bits, mini-batch $MB, 416x416, $ITERS iterations ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "| cfg | actnn_stream | saved MiB (pool, or host with swap) | arena MiB | gpu_peak_mib pool | gpu_peak_mib actnn_swap=1 | less | window live peak MiB | window planned MiB |"
echo "|---|---|---|---|---|---|---|---|---|$rows"
