#!/usr/bin/env bash
# accuracy_shapes.sh [cfg] [iterations]: trains a shapes detector cfg from scratch at fp32
# and at low bits with the same seed, for each seed, and prints mAP@0.5 (VOC 11-point) of
# both on the held-out valid list, per seed and averaged (the paired difference is what
# counts: one run's mAP moves a few points with any perturbation of its trajectory).
# Defaults: cfg/yolov3-tiny-shapes.cfg, 300 iterations. Environment: SIZE (96), MB
# (mini-batch, 8), LR (0.002, constant, no burn-in), NTRAIN (200), NVALID (50), SEEDS
# ("1"; SEED=n is the same as SEEDS=n), LOW (the compressed run's bits, 2; "keep" keeps the
# cfg's actnn keys), KEYS (extra [net] lines for the compressed run, ';'-separated, e.g.
# "actnn_auto=1"), POLICY (constant, or steps: the rate drops x0.1 at 70 % and 90 % of
# the iterations, as the cfgs' policy=steps does at the end of a full run).
# Last line: accuracy_shapes: iters=.. seeds=.. map_fp32=.. map_<LOW>bit=.. diff=.. (means)
set -eu
cd "$(dirname "$0")/.."
cfg=${1:-cfg/yolov3-tiny-shapes.cfg} iters=${2:-300}
SIZE=${SIZE:-96} MB=${MB:-8} LR=${LR:-0.002} NTRAIN=${NTRAIN:-200} NVALID=${NVALID:-50}
SEEDS=${SEEDS:-${SEED:-1}} LOW=${LOW:-2} KEYS=${KEYS:-} POLICY=${POLICY:-constant}
case $POLICY in constant|steps) ;; *) echo "accuracy_shapes.sh: POLICY must be constant or steps" >&2; exit 2 ;; esac
make -s -j2 all tools > /dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/accuracy_shapes.XXXXXX")
trap 'rm -rf "$T"' EXIT
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/s0.data scripts/make_shapes.sh "$NTRAIN" "$NVALID" "$SIZE" "$SIZE" 1 > /dev/null
sed "s|^backup.*|backup = $T/|" "$T/s0.data" > "$T/s.data"

# variant <bits> <out.cfg>: the run's size, rate policy and, for the compressed run, KEYS
variant() {
  scripts/cfg_variant.sh "$cfg" "$T/v.cfg" "$1" "$MB" "$iters"
  sed -i -e "s/^width=.*/width=$SIZE/; s/^height=.*/height=$SIZE/; s/^burn_in=.*/burn_in=0/" \
         -e "s/^learning_rate=.*/learning_rate=$LR/; s/^policy=.*/policy=$POLICY/" "$T/v.cfg"
  if [ "$POLICY" = steps ]; then
    sed -i -e "s/^steps=.*/steps=$((iters * 7 / 10)),$((iters * 9 / 10))/; s/^scales=.*/scales=.1,.1/" "$T/v.cfg"
  fi
  if [ "$1" != 32 ] && [ -n "$KEYS" ]; then
    awk -v k="$KEYS" '{ print } /^[ \t]*\[(net|network)\]/ { n = split(k, a, ";"); for (i = 1; i <= n; i++) print a[i] }' \
      "$T/v.cfg" > "$2"
  else
    cp "$T/v.cfg" "$2"
  fi
}

# train_map <bits> <seed>: prints the mAP@0.5 of one run
train_map() {
  local b=$1 s=$2 c=$T/b$1_s$2.cfg
  variant "$b" "$c"
  local k=""
  [ "$b" != 32 ] && k=${KEYS:+ ($KEYS)}
  echo "training $(basename "$cfg") at $b bits$k: $iters iterations of $MB images at ${SIZE}x$SIZE, seed $s" >&2
  ./darknet -seed "$s" detector train "$T/s.data" "$c" -dont_show > "$T/train$b.log" 2>&1 ||
    { tail -5 "$T/train$b.log" >&2; exit 1; }
  grep -a '^actnn_auto:' "$T/train$b.log" >&2 || true
  ./darknet detector map "$T/s.data" "$c" "$T/b$1_s$2_final.weights" -points 11 2>/dev/null |
    sed -n 's/.*(mAP@0.50) = \([0-9.]*\),.*/\1/p'
}

rows=""
for s in $SEEDS; do
  a=$(train_map 32 "$s")
  b=$(train_map "$LOW" "$s")
  echo "seed $s: fp32 mAP@0.5 $a, $LOW bits $b" >&2
  rows="$rows$s $a $b
"
done
printf '%s' "$rows" | awk -v it="$iters" -v low="$LOW" -v seeds="$SEEDS" -v pol="$POLICY" '
  { n++; a += $2; b += $3; d[n] = $3 - $2; sd[n] = $1 }
  END {
    for (i = 1; i <= n; i++) printf "diff seed %d: %+.4f\n", sd[i], d[i] > "/dev/stderr"
    gsub(/ /, ",", seeds)
    printf "accuracy_shapes: iters=%d policy=%s seeds=%s map_fp32=%.4f map_%sbit=%.4f diff=%+.4f\n", it, pol, seeds, a / n, low, b / n, (b - a) / n
  }'
