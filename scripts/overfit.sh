#!/usr/bin/env bash
# overfit.sh: can the detector learn at all? Trains yolov3-tiny-shapes at 96x96 on 16 seeded
# shapes images (make_shapes.sh 16 0 96 96 5) and measures mAP@0.5 on the same 16 images:
# before training and at the end with -points 11 (VOC2007 11-point), and every EVERY
# iterations in between through `detector train -map` with DN_MAP_EVERY (all-point AP, as
# AlexeyAB's -map computes it). A detector that cannot overfit 16 images has a bug; one that
# can says nothing about generalisation (bench_detector.sh has held-out images for that).
# Environment: ITERS (600), EVERY (100), BATCH (8), LR (0.002, constant after BURN_IN, 0),
# SEED (1). Prints one "iteration N: mAP@0.5 M % (all-point), avg loss L" line per point.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-600} EVERY=${EVERY:-100} BATCH=${BATCH:-8} LR=${LR:-0.002} BURN_IN=${BURN_IN:-0}
SEED=${SEED:-1}
O=build/oracle/dn_oracle
make -s -j2 all tools oracle > /dev/null || { echo "overfit.sh: build failed" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/overfit.XXXXXX")
trap 'rm -rf "$T"' EXIT
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/s0.data scripts/make_shapes.sh 16 0 96 96 5 > /dev/null
# valid = train: the point is to fit these 16 images
sed -e "s|^valid.*|valid = $T/shapes/train.txt|" -e "s|^backup.*|backup = $T/backup/|" \
    "$T/s0.data" > "$T/s.data"
mkdir -p "$T/backup"
$O cfgset cfg/yolov3-tiny-shapes.cfg "$T/y.cfg" width=96 height=96 batch="$BATCH" \
    subdivisions=1 max_batches="$ITERS" burn_in="$BURN_IN" learning_rate="$LR" \
    policy=constant > /dev/null
echo "overfit: yolov3-tiny-shapes 96x96, 16 images, mini-batch $BATCH, lr $LR constant after" \
     "burn_in $BURN_IN, seed $SEED, $ITERS iterations ($(date -u +%FT%TZ))"
before=$(./darknet detector map "$T/s.data" "$T/y.cfg" -points 11 2>/dev/null |
         sed -n 's/.*(mAP@0.50) = \([0-9.]*\),.*/\1/p')
echo "iteration 0: mAP@0.5 $(awk -v m="$before" 'BEGIN { printf "%.2f", 100 * m }') % (11-point, random init)"
DN_MAP_EVERY=$EVERY ./darknet -seed "$SEED" detector train "$T/s.data" "$T/y.cfg" -dont_show -map \
    > "$T/train.log" 2>&1 || { echo "overfit.sh: training failed:"; tail -5 "$T/train.log"; exit 1; }
# the -map lines (all-point average precision, as AlexeyAB's -map computes it during
# training) and the avg loss of the same iteration (printed after the -map line)
# (the loss line may follow -map's "next mAP calculation" note on the same output line)
awk 'match($0, /[0-9]+: [^ ]+, [^ ]+ avg loss/) {
         split(substr($0, RSTART, RLENGTH), f, /[:, ]+/); loss[f[1]] = f[3] }
     /mean_average_precision \(mAP@0.50\) = .* at iteration/ {
         m = $0; sub(/.*\(mAP@0.50\) = /, "", m); sub(/[ ,].*/, "", m)
         i = $0; sub(/.* at iteration /, "", i); sub(/[^0-9].*/, "", i)
         n++; its[n] = i; map[n] = m }
     END { for (k = 1; k <= n; ++k)
               printf "iteration %d: mAP@0.5 %.2f %% (all-point), avg loss %s\n", its[k], 100 * map[k], loss[its[k]] }' \
    "$T/train.log"
echo "final weights, VOC2007 11-point (-points 11), per class:"
# per class at the end
./darknet detector map "$T/s.data" "$T/y.cfg" "$T/backup/y_final.weights" -points 11 2>/dev/null |
    grep -E '^class_id|mAP@0.50'
