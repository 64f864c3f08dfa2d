#!/bin/sh
# memory_slope.sh [cfg] — planned vs measured memory per extra image of a detector cfg
# (default: AlexeyAB's yolov4.cfg at 608, ../shared/reference/cfg/yolov4.cfg).
# Makes a seeded shapes set at the cfg's size (scripts/make_shapes.sh: 8 train images),
# sets classes=3 (filters=255 -> 24 before each [yolo]), then for fp32 and for 2 bits
# (scripts/cfg_variant.sh: subdivisions=1, random=0) and mini-batches MB1 and MB2 (default
# 2 and 4): `./darknet memory` (planned total) and ITERS (default 2) training iterations
# under /usr/bin/time -v (peak RSS). Prints one row per run and, per bit width:
#   slope bits=B planned_mib_per_image=P measured_mib_per_image=M ratio=M/P
# where a slope is (value at MB2 - value at MB1) / (MB2 - MB1). Each row is one run, not a
# median: the machine is shared, but RSS, unlike time, does not depend on the load.
# Environment: MB1, MB2, ITERS, THREADS (default 2), BITS (default "32 2"), OUT (default
# results/memory_slope), DARKNET.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cfg=${1:-$root/../shared/reference/cfg/yolov4.cfg}
DARKNET=${DARKNET:-$root/darknet}
MB1=${MB1:-2} MB2=${MB2:-4} ITERS=${ITERS:-2} THREADS=${THREADS:-2} BITS=${BITS:-"32 2"}
OUT=${OUT:-results/memory_slope}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
[ -f "$cfg" ] || { echo "memory_slope.sh: no such cfg: $cfg" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
w=$(sed -n 's/^[ \t]*width[ \t]*=[ \t]*\([0-9]*\).*/\1/p' "$cfg" | head -1)
h=$(sed -n 's/^[ \t]*height[ \t]*=[ \t]*\([0-9]*\).*/\1/p' "$cfg" | head -1)
SHAPES_DIR=$OUT/shapes SHAPES_DATA=$OUT/shapes.data "$here/make_shapes.sh" 8 2 "$w" "$h" 1 > /dev/null
sed -i -e "s|^backup.*|backup = $OUT/backup/|" -e "s|^names.*|names = $root/data/shapes.names|" "$OUT/shapes.data"
mkdir -p "$OUT/backup"
sed -e 's/^[ \t]*filters[ \t]*=[ \t]*255/filters=24/' -e 's/^[ \t]*classes[ \t]*=[ \t]*80/classes=3/' \
  "$cfg" > "$OUT/base.cfg"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') cfg=$cfg ${w}x${h} iterations=$ITERS threads=$THREADS"
for bits in $BITS; do
  for mb in $MB1 $MB2; do
    c=$OUT/b${bits}_mb$mb.cfg
    "$here/cfg_variant.sh" "$OUT/base.cfg" "$c" "$bits" "$mb" "$ITERS"
    sed -i 's/^burn_in.*/burn_in=0/' "$c"
    plan=$("$DARKNET" memory "$c" 2>/dev/null | tail -1 | sed 's/.*: \([0-9.]*\) MiB at the cfg.*/\1/')
    (cd "$OUT" && /usr/bin/time -v "$DARKNET" -seed 1 detector train shapes.data "$c" -dont_show \
      > "$OUT/train_b${bits}_mb$mb.out" 2> "$OUT/time_b${bits}_mb$mb.txt") ||
      { echo "memory_slope.sh: training failed, see $OUT/time_b${bits}_mb$mb.txt" >&2; exit 1; }
    rss=$(awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}' "$OUT/time_b${bits}_mb$mb.txt")
    echo "run bits=$bits mini_batch=$mb planned_mib=$plan peak_rss_mib=$rss"
    eval "plan_${bits}_$mb=$plan rss_${bits}_$mb=$rss"
  done
  eval "p1=\$plan_${bits}_$MB1 p2=\$plan_${bits}_$MB2 r1=\$rss_${bits}_$MB1 r2=\$rss_${bits}_$MB2"
  awk -v b="$bits" -v p1="$p1" -v p2="$p2" -v r1="$r1" -v r2="$r2" -v d=$((MB2 - MB1)) 'BEGIN {
    ps = (p2 - p1) / d; ms = (r2 - r1) / d
    printf "slope bits=%s planned_mib_per_image=%.1f measured_mib_per_image=%.1f ratio=%.3f\n", b, ps, ms, ms / ps }'
done
