#!/usr/bin/env bash
# grad_variance.sh: per-layer gradient variance of 2-bit ActNN training against fp32 and
# which layer's saved tensors drive it (build/bin/grad_variance, see its header), for
# yolov3-tiny-shapes and yolov4-tiny-shapes at SIZE (default 128) on one mini-batch of the
# seeded shapes images (scripts/make_shapes.sh), from the cfgs' seeded starting weights.
# Environment: SIZE=128 BATCH=8 REPS=8 CFGS="yolov3-tiny-shapes yolov4-tiny-shapes"
#   OUT=results/grad_variance (one .txt per cfg).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-128} BATCH=${BATCH:-8} REPS=${REPS:-8}
CFGS=${CFGS:-"yolov3-tiny-shapes yolov4-tiny-shapes"} OUT=${OUT:-results/grad_variance}
make -s -j2 tools > /dev/null
mkdir -p "$OUT"
T=$(mktemp -d "${TMPDIR:-/tmp}/grad_variance.XXXXXX")
trap 'rm -rf "$T"' EXIT
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/shapes.data scripts/make_shapes.sh "$BATCH" 1 "$SIZE" "$SIZE" 1 > /dev/null
for c in $CFGS; do
  sed "s/^width=.*/width=$SIZE/; s/^height=.*/height=$SIZE/; s/^random=.*/random=0/" cfg/$c.cfg > "$T/$c.cfg"
  build/bin/grad_variance "$T/$c.cfg" -batch "$BATCH" -reps "$REPS" -list "$T/shapes/train.txt" \
    -classes 3 2> "$OUT/$c.txt" > /dev/null || { cat "$OUT/$c.txt" >&2; exit 1; }
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), scripts/grad_variance.sh SIZE=$SIZE BATCH=$BATCH REPS=$REPS" >> "$OUT/$c.txt"
  cat "$OUT/$c.txt"
done
