#!/usr/bin/env bash
# yolov7-tiny (AlexeyAB's cfg, 3 classes: cfg/yolov7-tiny-shapes.cfg, [yolo] new_coords=1,
# objectness_smooth=1, SPP maxpools, route groups) at 96x96 on a tiny shapes set: trains a
# few iterations at fp32 and at 2 bits with no unsupported key, and `detector map` reports
# a mAP. Any failed check fails the script.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env yolov7_tiny

mkdir -p $T/set
"$TOOLS/make_shapes" $T/set 4 4 96 96 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > $T/names
printf 'classes=3\ntrain=%s/set/train.txt\nvalid=%s/set/valid.txt\nnames=%s/names\nbackup=%s/backup\n' \
  $T $T $T $T > $T/shapes.data
$O cfgset $ROOT/cfg/yolov7-tiny-shapes.cfg $T/v7.cfg width=96 height=96 batch=2 subdivisions=1 \
  max_batches=3 burn_in=0 > /dev/null
awk '{print} /^\[net\]/{print "actnn=1"; print "actnn_bits=2"}' $T/v7.cfg > $T/v7q.cfg
cd $T

for v in v7 v7q; do
  $DN -seed 1 detector train shapes.data $v.cfg -dont_show > train_$v.out 2>&1
  check "$v train exit 0" [ $? = 0 ]
  check "$v no unsupported key" [ -z "$(grep -i 'not supported\|unused field' train_$v.out)" ]
  check "$v trained 3 iterations" has train_$v.out " 3: .* avg loss"
  check "$v final weights" [ -s backup/${v}_final.weights ]
  $DN detector map shapes.data $v.cfg backup/${v}_final.weights > map_$v.out 2>&1
  check "$v map exit 0" [ $? = 0 ]
  check "$v map summary" has map_$v.out "mean average precision (mAP@0.50) = "
done
[ $fails = 0 ]
