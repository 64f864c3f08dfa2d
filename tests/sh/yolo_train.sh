#!/usr/bin/env bash
# AlexeyAB-style detector training on a tiny shapes set (64x64): yolov4-tiny with mosaic=1,
# blur, gaussian_noise and mosaic_bound trains with no "Unused field" warning; with -map
# (DN_MAP_EVERY=3 shortens AlexeyAB's max(4 epochs, 100) interval) it prints the mAP lines,
# keeps <cfg>_best.weights equal to the weights of the best mAP printed (checked by running
# `detector map` on it), leaves no temporary file, and writes chart.png and
# chart_<cfg>.png (PNG files of 1000x700) without a display.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env yolo_train

mkdir -p $T/set
"$TOOLS/make_shapes" $T/set 8 4 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > $T/names
printf 'classes=3\ntrain=%s/set/train.txt\nvalid=%s/set/valid.txt\nnames=%s/names\nbackup=%s/backup\n' \
  $T $T $T $T > $T/shapes.data
$O cfgset cfg/yolov4-tiny-shapes.cfg $T/y4m.cfg width=64 height=64 batch=4 subdivisions=1 \
  max_batches=6 burn_in=0 mosaic=1 blur=1 gaussian_noise=20 mosaic_bound=1 > /dev/null
cd $T

DISPLAY= DN_MAP_EVERY=3 $DN -seed 1 detector train shapes.data y4m.cfg -dont_show -map -benchmark_layers \
  > train.out 2> train.err
check "mosaic train -map exit 0" [ $? = 0 ]
# -map's evaluations run their own network: the one layer table is training's
one_training_table() {
  [ "$(grep -c '^layer times' train.err)" = 1 ] && has train.err "^layer times: wall ms per training pass"
}
check "-benchmark_layers with -map: one table, training's" one_training_table
check "no unused-key warning" [ -z "$(grep 'Unused field' train.err)" ]
check "mAP at iteration 3" has train.out "mean_average_precision (mAP@0.50) = .* at iteration 3$"
check "mAP at the last iteration" has train.out "mean_average_precision (mAP@0.50) = .* at iteration 6$"
check "next mAP line" has train.out "(next mAP calculation at 6 iterations)"
check "last accuracy line" has train.out "Last accuracy mAP@0.50 = .* %, best = .* %"
# AlexeyAB starts each iteration's line on a line of its own (parsers read "^ N: ...")
check "iteration lines start a line under -map" [ "$(grep -c '^ [1-6]: .* avg loss' train.out)" = 6 ]
check "_best.weights written" [ -s backup/y4m_best.weights ]
check "no temporary weights left" [ ! -e backup/y4m_map_eval.weights ]
maps=$(sed -n 's/.*mean_average_precision (mAP@0.50) = \([0-9.]*\) at iteration.*/\1/p' train.out)
best=$(echo "$maps" | sort -g | tail -1); last=$(echo "$maps" | tail -1)
$DN detector map shapes.data y4m.cfg backup/y4m_best.weights > map.out 2>&1
got=$(sed -n 's/.*mean average precision (mAP@0.50) = \([0-9.]*\),.*/\1/p' map.out)
check "_best.weights has the best mAP printed ($best = $got)" [ -n "$best" ] && [ "$best" = "$got" ]
# AlexeyAB's rule (>= the best): the last mAP at least as good makes the final weights best
if [ "$last" = "$best" ]; then
  check "_best.weights = _final.weights (last mAP $last is the best)" cmp -s backup/y4m_best.weights backup/y4m_final.weights
else
  check "_best.weights differs from _final.weights (last $last < best $best)" ! cmp -s backup/y4m_best.weights backup/y4m_final.weights
fi
png_ok() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
           [ "$(head -c 24 "$1" | tail -c 8 | od -An -tx1 | tr -d ' \n')" = 000003e8000002bc ]; }
check "chart.png is a 1000x700 PNG" png_ok chart.png
check "chart_y4m.png is a 1000x700 PNG" png_ok chart_y4m.png

# -chart names the second file
DN_MAP_EVERY=100 $DN -seed 1 detector train shapes.data y4m.cfg -dont_show -chart mine.png > t2.out 2>&1
check "-chart names the chart file" png_ok mine.png
check "no mAP without -map" [ -z "$(grep 'mean_average_precision' t2.out)" ]
# -iou_thresh reaches training's mAP (its own backup folder: the checks above are done)
mkdir -p b75; sed "s|backup=.*|backup=$T/b75|" shapes.data > shapes75.data
DISPLAY= DN_MAP_EVERY=3 $DN -seed 1 detector train shapes75.data y4m.cfg -dont_show -map \
  -iou_thresh .75 > train75.out 2>&1
check "-map uses -iou_thresh" has train75.out "mean_average_precision (mAP@0.75) = .* at iteration 3$"
exit $((fails > 0))
