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
# the iterations, as the cfgs' policy=steps does at the end of a full run, or cfg: the
# cfg's own learning_rate, burn_in and policy=steps with its steps moved to 80 % and 90 % of
# the iterations, where the shipped cfgs have them; LR is then unused), MAP_EVERY (n: also
# the held-out mAP every n iterations during training, `-map` with DN_MAP_EVERY, written to
# $CURVES/<cfg>_<bits>_s<seed>.csv with CURVES default build/curves; that mAP is the
# area under the PR curve, the final one 11-point as above), LAYER_KEYS
# (lines for chosen layers of the compressed run, "<layers>:<lines>", layers by index as
# darknet numbers them, ',' between layers, ';' between lines, e.g. "8,10,12,21:actnn_bits=8"),
# FP32 (1; 0 skips the fp32 runs, to add a compressed setting to fp32 runs made before: a run
# is deterministic for its seed, so they need not be repeated; map_fp32 is then nan).
# Last line: accuracy_shapes: iters=.. seeds=.. map_fp32=.. map_<LOW>bit=.. diff=.. (means)
set -eu
cd "$(dirname "$0")/.."
cfg=${1:-cfg/yolov3-tiny-shapes.cfg} iters=${2:-300}
SIZE=${SIZE:-96} MB=${MB:-8} LR=${LR:-0.002} NTRAIN=${NTRAIN:-200} NVALID=${NVALID:-50}
SEEDS=${SEEDS:-${SEED:-1}} LOW=${LOW:-2} KEYS=${KEYS:-} POLICY=${POLICY:-constant}
LAYER_KEYS=${LAYER_KEYS:-} FP32=${FP32:-1}
MAP_EVERY=${MAP_EVERY:-} CURVES=${CURVES:-build/curves}
case $POLICY in constant|steps|cfg) ;; *) echo "accuracy_shapes.sh: POLICY must be constant, steps or cfg" >&2; exit 2 ;; esac
[ -z "$MAP_EVERY" ] || mkdir -p "$CURVES"
make -s -j2 all tools > /dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/accuracy_shapes.XXXXXX")
trap 'rm -rf "$T"' EXIT
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/s0.data scripts/make_shapes.sh "$NTRAIN" "$NVALID" "$SIZE" "$SIZE" 1 > /dev/null
sed "s|^backup.*|backup = $T/|" "$T/s0.data" > "$T/s.data"

# variant <bits> <out.cfg>: the run's size, rate policy and, for the compressed run, KEYS
variant() {
  scripts/cfg_variant.sh "$cfg" "$T/v.cfg" "$1" "$MB" "$iters"
  sed -i -e "s/^width=.*/width=$SIZE/; s/^height=.*/height=$SIZE/" "$T/v.cfg"
  if [ "$POLICY" = cfg ]; then
    sed -i -e "s/^steps=.*/steps=$((iters * 8 / 10)),$((iters * 9 / 10))/" "$T/v.cfg"
  else
    sed -i -e "s/^burn_in=.*/burn_in=0/" \
           -e "s/^learning_rate=.*/learning_rate=$LR/; s/^policy=.*/policy=$POLICY/" "$T/v.cfg"
  fi
  if [ "$POLICY" = steps ]; then
    sed -i -e "s/^steps=.*/steps=$((iters * 7 / 10)),$((iters * 9 / 10))/; s/^scales=.*/scales=.1,.1/" "$T/v.cfg"
  fi
  if [ "$1" != 32 ] && [ -n "$KEYS" ]; then
    awk -v k="$KEYS" '{ print } /^[ \t]*\[(net|network)\]/ { n = split(k, a, ";"); for (i = 1; i <= n; i++) print a[i] }' \
      "$T/v.cfg" > "$2"
  else
    cp "$T/v.cfg" "$2"
  fi
  if [ "$1" != 32 ] && [ -n "$LAYER_KEYS" ]; then layer_keys "$2"; fi
}

# layer_keys <cfg>: adds LAYER_KEYS' lines under the sections of the named layers (the
# section after [net] is layer 0); a layer index past the last section is an error
layer_keys() {
  awk -v spec="$LAYER_KEYS" '
    BEGIN { split(spec, p, ":"); nl = split(p[1], ls, ","); for (i = 1; i <= nl; i++) want[ls[i]] = 1
            nk = split(p[2], k, ";"); sec = -2 }
    { print }
    /^[ \t]*\[/ { sec++; if (sec in want) { for (i = 1; i <= nk; i++) print k[i]; done[sec] = 1 } }
    END { for (l in want) if (!(l in done)) { print "accuracy_shapes.sh: LAYER_KEYS: no layer " l > "/dev/stderr"; exit 1 } }' \
    "$1" > "$1.tmp" && mv "$1.tmp" "$1"
}

# curve_tag <bits>: the compressed run's KEYS in a file name (actnn_auto=1 -> _actnn_auto_1)
curve_tag() {
  [ "$1" != 32 ] && [ -n "$KEYS" ] && printf '_%s' "$(printf '%s' "$KEYS" | tr -c 'a-z0-9' _)"
  return 0
}

# curve <train.log> <out.csv>: the -map points of one run (iteration, mAP@0.5 in %)
curve() {
  { echo "iteration,map50"
    sed -n 's/.*mean_average_precision (mAP@0.50) = \([0-9.]*\) at iteration \([0-9]*\).*/\2,\1/p' "$1" |
      awk -F, '{ printf "%d,%.2f\n", $1, $2 * 100 }'; } > "$2"
  echo "curve: $2 ($(($(wc -l < "$2") - 1)) points)" >&2
}

# train_map <bits> <seed>: prints the mAP@0.5 of one run
train_map() {
  local b=$1 s=$2 c=$T/b$1_s$2.cfg
  variant "$b" "$c"
  local k=""
  [ "$b" != 32 ] && k=${KEYS:+ ($KEYS)}${LAYER_KEYS:+ (layers $LAYER_KEYS)}
  echo "training $(basename "$cfg") at $b bits$k: $iters iterations of $MB images at ${SIZE}x$SIZE, seed $s" >&2
  local m=""
  [ -n "$MAP_EVERY" ] && m=-map
  DN_MAP_EVERY=$MAP_EVERY ./darknet -seed "$s" detector train "$T/s.data" "$c" -dont_show $m > "$T/train$b.log" 2>&1 ||
    { tail -5 "$T/train$b.log" >&2; exit 1; }
  [ -z "$MAP_EVERY" ] || curve "$T/train$b.log" "$CURVES/$(basename "$cfg" .cfg)_$b$(curve_tag "$b")_s$s.csv"
  grep -a '^actnn_auto:' "$T/train$b.log" >&2 || true
  ./darknet detector map "$T/s.data" "$c" "$T/b$1_s$2_final.weights" -points 11 2>/dev/null |
    sed -n 's/.*(mAP@0.50) = \([0-9.]*\),.*/\1/p'
}

rows=""
for s in $SEEDS; do
  a=nan
  [ "$FP32" = 0 ] || a=$(train_map 32 "$s")
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
