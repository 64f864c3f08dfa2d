#!/usr/bin/env bash
# accuracy_shapes.sh [cfg] [iterations]: trains a shapes detector cfg from scratch with the
# same seed at fp32 and at 2 bits and prints mAP@0.5 (VOC 11-point) of both on the held-out
# valid list. Defaults: cfg/yolov3-tiny-shapes.cfg, 300 iterations. Environment: SIZE (96),
# MB (mini-batch, 8), LR (0.002, constant, no burn-in), NTRAIN (200), NVALID (50), SEED (1),
# LOW (the compressed run's bits, 2).
# Last line: accuracy_shapes: iters=.. map_fp32=.. map_2bit=.. diff=.. (map_<LOW>bit)
set -eu
cd "$(dirname "$0")/.."
cfg=${1:-cfg/yolov3-tiny-shapes.cfg} iters=${2:-300}
SIZE=${SIZE:-96} MB=${MB:-8} LR=${LR:-0.002} NTRAIN=${NTRAIN:-200} NVALID=${NVALID:-50} SEED=${SEED:-1}
LOW=${LOW:-2}
make -s -j2 all tools > /dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/accuracy_shapes.XXXXXX")
trap 'rm -rf "$T"' EXIT
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/s0.data scripts/make_shapes.sh "$NTRAIN" "$NVALID" "$SIZE" "$SIZE" 1 > /dev/null
sed "s|^backup.*|backup = $T/|" "$T/s0.data" > "$T/s.data"
declare -A map
for b in 32 "$LOW"; do
  scripts/cfg_variant.sh "$cfg" "$T/v.cfg" "$b" "$MB" "$iters"
  # the run's size and a constant rate, so the two runs differ only in the bits
  sed -i -e "s/^width=.*/width=$SIZE/; s/^height=.*/height=$SIZE/; s/^burn_in=.*/burn_in=0/" \
         -e "s/^learning_rate=.*/learning_rate=$LR/; s/^policy=.*/policy=constant/" "$T/v.cfg"
  cp "$T/v.cfg" "$T/b$b.cfg"
  echo "training $(basename "$cfg") at $b bits: $iters iterations of $MB images at ${SIZE}x$SIZE, seed $SEED" >&2
  ./darknet -seed "$SEED" detector train "$T/s.data" "$T/b$b.cfg" -dont_show > "$T/train$b.log" 2>&1 ||
    { tail -5 "$T/train$b.log" >&2; exit 1; }
  map[$b]=$(./darknet detector map "$T/s.data" "$T/b$b.cfg" "$T/b${b}_final.weights" -points 11 2>/dev/null |
            sed -n 's/.*(mAP@0.50) = \([0-9.]*\),.*/\1/p')
  echo "$b bits: mAP@0.5 ${map[$b]}" >&2
done
awk -v a="${map[32]}" -v b="${map[$LOW]}" -v it="$iters" -v low="$LOW" \
  'BEGIN { printf "accuracy_shapes: iters=%d map_fp32=%.4f map_%dbit=%.4f diff=%+.4f\n", it, a, low, b, b - a }'
