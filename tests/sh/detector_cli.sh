#!/usr/bin/env bash
# The detector commands end to end on a tiny shapes set (64x64): train (yolov3-tiny and
# yolov4-tiny shapes cfgs), test, detect, map, valid, calc_anchors, and bad inputs (missing
# image, missing label file, class id out of range, classes mismatch) giving warnings or
# errors that name the file, never a crash. Any failed check fails the script.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env detector_cli

mkdir -p $T/set
"$TOOLS/make_shapes" $T/set 6 2 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > $T/names
printf 'classes=3\ntrain=%s/set/train.txt\nvalid=%s/set/valid.txt\nnames=%s/names\nbackup=%s/backup\n' \
  $T $T $T $T > $T/shapes.data
for v in 3 4; do
  $O cfgset $ROOT/cfg/yolov$v-tiny-shapes.cfg $T/y$v.cfg width=64 height=64 batch=2 subdivisions=1 \
    max_batches=2 burn_in=0 > /dev/null
done
cd $T

# ---- train, then use the weights ----------------------------------------------------------
$DN -seed 1 detector train shapes.data y3.cfg -dont_show > train.out 2> train.err
check "train exit 0" [ $? = 0 ]
check "training line (AlexeyAB format)" has train.out " 2: .* avg loss, .* rate, .* seconds, 4 images, .* hours left"
check "yolo statistics line" has train.out "Region 16 Avg IOU"
check "final weights" [ -s backup/y3_final.weights ]
check "memory line" has train.out "^memory: params_mib="
$DN detector test shapes.data y3.cfg backup/y3_final.weights set/img_00006.png -thresh 0 -ext_output > test.out 2>&1
check "test exit 0" [ $? = 0 ]
check "test prints prediction time" has test.out "img_00006.png: Predicted in"
check "test -ext_output boxes" has test.out "left_x:"
check "predictions.jpg written" [ -s predictions.jpg ]
$DN detector map shapes.data y3.cfg backup/y3_final.weights -points 11 > map.out 2>&1
check "map per class" has map.out "class_id = 2, name = triangle, ap = "
check "map summary" has map.out "mean average precision (mAP@0.50) = "
$DN detector valid shapes.data y3.cfg backup/y3_final.weights -prefix res > valid.out 2>&1
check "valid exit 0" [ $? = 0 ]
check "valid writes VOC files" [ -f res/comp4_det_test_ellipse.txt ]
$DN detector calc_anchors shapes.data -num_of_clusters 4 -width 64 -height 64 > anchors.out 2>&1
check "calc_anchors prints 4 anchors" has anchors.out "^anchors = .*,.*,.*,.*,.*,.*,.*,"
# AlexeyAB's counters_per_class line: the label boxes of each class, counted here by awk
want=$(sed 's/\.png$/.txt/' set/train.txt | xargs cat |
  awk '{ c[$1]++ } END { printf "counters_per_class = %d, %d, %d", c[0], c[1], c[2] }')
check "calc_anchors writes counters_per_class.txt ($want)" [ "$(cat counters_per_class.txt)" = "$want" ]
check "and prints it" has anchors.out "^$want\$"
awk -v l="${want#counters_per_class = }" '/^\[yolo\]/ { print; print "counters_per_class=" l; next } { print }' \
  y3.cfg | sed 's/ //g' > y3cpc.cfg
$DN -seed 1 detector train shapes.data y3cpc.cfg -dont_show > cpc.out 2>&1
check "a cfg with that line trains (classes_multipliers printed)" has cpc.out "classes_multipliers: "
check "anchors.txt written" [ -s anchors.txt ]
cp names coco.names; mkdir -p data; cp names data/coco.names
$DN detect y3.cfg backup/y3_final.weights set/img_00007.png > detect.out 2>&1
check "detect exit 0" [ $? = 0 ]

# ---- outputs against oracles ----------------------------------------------------------------
# Detections against Debian's darknet (pjreddie): the same cfg with random weights of sane
# batch-norm statistics (dn_oracle randweights; 2 training iterations leave BN variances near
# 0 and every score at 100 %). -out keeps its OpenCV build from waiting on a window.
check "Debian's /usr/bin/darknet is installed (scripts/setup.sh)" [ -x /usr/bin/darknet ]
$O randweights y3.cfg 7 r3.weights > /dev/null 2>&1
# same_dets <label> <their names sed> <our command...> --- <their command...>: the
# "name: NN%" lines, in order, equal and not empty.
same_dets() {
  local label=$1 names=$2; shift 2
  local ours=() theirs=()
  while [ "$1" != --- ]; do ours+=("$1"); shift; done; shift
  "$DN" "${ours[@]}" > "ours_$label.out" 2>&1
  QT_QPA_PLATFORM=offscreen timeout 120 /usr/bin/darknet "$@" -out "theirs_$label" > "theirs_$label.out" 2>&1
  # sorted: pjreddie prints in detection order, AlexeyAB's order (ours) is left to right
  grep '%$' "ours_$label.out" | sort > "o_$label.lst"
  grep '%$' "theirs_$label.out" | sed "$names" | sort > "t_$label.lst"
  [ -s "t_$label.lst" ] && cmp -s "o_$label.lst" "t_$label.lst" ||
    { echo "  ours vs Debian's:"; diff "o_$label.lst" "t_$label.lst" | head -6; return 1; }
}
img=set/img_00006.png
check "yolov3-tiny detector test: detections equal Debian darknet's" \
  same_dets y3 '' detector test shapes.data y3.cfg r3.weights $img -thresh 0.3 --- \
  detector test shapes.data y3.cfg r3.weights $img -thresh 0.3
# `detect` reads cfg/coco.data; Debian's names come from its own coco.names: map them back.
mkdir -p cfg; printf 'classes=3\nnames=data/coco.names\n' > cfg/coco.data
check "detect: detections equal Debian darknet's" \
  same_dets dt 's/^person:/rectangle:/; s/^bicycle:/ellipse:/; s/^car:/triangle:/' \
  detect y3.cfg r3.weights set/img_00007.png -thresh 0.3 --- detect y3.cfg r3.weights set/img_00007.png -thresh 0.3
# nms_kind=greedynms (stock yolov4 cfgs) is AlexeyAB's DIoU-NMS with beta 0.6 whatever
# beta_nms says (his diounms_sort; checked by hand on 2026-12-03 against his CPU build on
# yolov4, yolov4-tiny and yolov4-tiny-3l: the same -ext_output lines). Here: greedynms
# with beta_nms=0.9 equals diounms with beta_nms=0.6, and differs from plain IoU NMS.
# Weights: yolov4-tiny's initialisation (no batch norm, learning rate 0, one iteration;
# dn_oracle's randweights parses with pjreddie's Darknet, which lacks yolov4's layers).
$O cfgset y4.cfg y4i0.cfg max_batches=1 learning_rate=0 > /dev/null
grep -v '^batch_normalize' y4i0.cfg > y4i.cfg
mkdir -p bki; sed 's|^backup=.*|backup=bki|' shapes.data > i.data
$DN -seed 2 detector train i.data y4i.cfg -dont_show > y4i.out 2>&1
sed 's/^beta_nms=.*/beta_nms=0.9/' y4i.cfg > y4g.cfg
sed 's/^nms_kind=.*/nms_kind=diounms/; s/^beta_nms=.*/beta_nms=0.6/' y4i.cfg > y4d.cfg
sed 's/^nms_kind=.*/nms_kind=default/' y4i.cfg > y4n.cfg
for k in g d n; do
  $DN detector test i.data y4$k.cfg bki/y4i_final.weights set/img_00006.png -thresh .1 -ext_output 2>/dev/null |
    grep '%	' | sort > nms_$k.lst
done
check "greedynms: DIoU-NMS at beta 0.6 ($(wc -l < nms_g.lst) boxes)" same_nonempty nms_g.lst nms_d.lst
check "greedynms: not plain IoU NMS ($(wc -l < nms_n.lst) boxes)" [ "$(cat nms_g.lst)" != "$(cat nms_n.lst)" ]
# map: the truth count is the number of boxes in the valid labels, TP + FN that count, the
# per-class TP and FP sum to the totals at conf_thresh, and the mAP is the mean of the class
# APs (all within [0, 100] %).
$DN detector map shapes.data y3.cfg r3.weights -points 11 -thresh .05 > mapr.out 2>&1
map_consistent() {
  local k want got sum=0 ap m tp fp fn tps=0 fps=0
  want=$(sed 's/\.png$/.txt/' set/valid.txt | xargs cat | wc -l)
  got=$(sed -n 's/.*unique_truth_count = \([0-9]*\).*/\1/p' mapr.out)
  [ "$want" = "$got" ] || { echo "  truth $got, labels have $want"; return 1; }
  read -r tp fp fn < <(sed -n 's/.*conf_thresh = 0.05, TP = \([0-9]*\), FP = \([0-9]*\), FN = \([0-9]*\),.*/\1 \2 \3/p' mapr.out)
  [ -n "$tp" ] && [ $((tp + fn)) = "$want" ] || { echo "  TP $tp + FN $fn != truth $want"; return 1; }
  for k in 0 1 2; do
    ap=$(sed -n "s/^class_id = $k,.* ap = \([0-9.]*\)%.*/\1/p" mapr.out)
    tps=$((tps + $(sed -n "s/^class_id = $k,.*(TP = \([0-9]*\), FP = .*/\1/p" mapr.out)))
    fps=$((fps + $(sed -n "s/^class_id = $k,.*, FP = \([0-9]*\)).*/\1/p" mapr.out)))
    sum=$(awk -v s=$sum -v a="$ap" 'BEGIN { if (a < 0 || a > 100) exit 1; print s + a }') || return 1
  done
  [ $tps = "$tp" ] && [ $fps = "$fp" ] || { echo "  per-class TP $tps FP $fps, totals $tp $fp"; return 1; }
  [ $((tp + fp)) -gt 0 ] || { echo "  nothing above -thresh .05: the counts are not exercised"; return 1; }
  m=$(sed -n 's/.*mAP@0.50) = \([0-9.]*\),.*/\1/p' mapr.out)
  awk -v s=$sum -v m="$m" 'BEGIN { d = s / 3 / 100 - m; exit !(m != "" && d < 1e-4 && d > -1e-4) }' ||
    { echo "  mAP $m, mean of APs $sum/3 %"; return 1; }
}
check "map: truth count from the labels, TP + FN = truth, per-class counts sum, mAP = mean of APs" map_consistent

# valid against Debian's darknet (pjreddie's validate_detector: letterboxed, thresh .005,
# boxes clamped to the image): ours with -letter_box, and with the cfg's letter_box=1, on
# 80x48 images; stretched (our default, AlexeyAB's) they must differ. Lines matched after
# sorting by image and score, values within 1e-3.
mkdir -p ns; "$TOOLS/make_shapes" $T/ns 2 8 80 48 9 > /dev/null
sed "s|valid=.*|valid=$T/ns/valid.txt|" shapes.data > ns.data
printf 'results=%s/res_deb\n' $T >> ns.data; mkdir -p res_deb
QT_QPA_PLATFORM=offscreen timeout 120 /usr/bin/darknet detector valid ns.data y3.cfg r3.weights > deb_valid.out 2>&1
$O cfgset y3.cfg y3lb.cfg letter_box=1 > /dev/null
$DN detector valid ns.data y3.cfg r3.weights -prefix res_lb -letter_box > /dev/null 2>&1
$DN detector valid ns.data y3lb.cfg r3.weights -prefix res_cfg > /dev/null 2>&1
$DN detector valid ns.data y3.cfg r3.weights -prefix res_st -out st_ > /dev/null 2>&1
same_voc() { # dir prefix
  local c
  for c in rectangle ellipse triangle; do
    [ -s "res_deb/comp4_det_test_$c.txt" ] || { echo "  Debian wrote no $c file"; return 1; }
    paste -d' ' <(sort -k1,1 -k2,2g "$1/$2$c.txt") <(sort -k1,1 -k2,2g "res_deb/comp4_det_test_$c.txt") |
      awk -v c=$c 'NF != 12 || $1 != $7 { bad = 1 } { for (k = 2; k <= 6; k++) { d = $k - $(k + 6); if (d > 1e-3 || d < -1e-3) bad = 1 } }
        END { if (bad || NR == 0) { print "  " c ": differs from Debian'"'"'s valid"; exit 1 } }' || return 1
  done
}
check "valid -letter_box equals Debian's valid (80x48 images)" same_voc res_lb comp4_det_test_
check "valid with the cfg's letter_box=1 equals Debian's valid" same_voc res_cfg comp4_det_test_
check "valid -out names the files (<results>/<out><class>.txt)" [ -s res_st/st_triangle.txt ]
differ() { ! cmp -s "$1" "$2"; }
check "valid stretched (default) differs from the letterboxed" differ res_st/st_triangle.txt res_lb/comp4_det_test_triangle.txt
check "valid boxes clamped to the 80x48 image" \
  awk '$3 < 1 || $4 < 1 || $5 > 80 || $6 > 48 { exit 1 }' res_st/st_rectangle.txt res_st/st_ellipse.txt res_st/st_triangle.txt
# eval=coco: one JSON array, one object per (box, class) line of the VOC files, bbox inside
{ cat shapes.data; printf 'eval=coco\nresults=%s/res_coco\n' $T; } > coco.data
$DN detector valid coco.data y3.cfg r3.weights > coco.out 2>&1
$DN detector valid shapes.data y3.cfg r3.weights -prefix res_voc > /dev/null 2>&1
coco_ok() {
  python3 - "$T/res_coco/coco_results.json" res_voc <<'PY' || return 1
import json, sys, glob
d = json.load(open(sys.argv[1]))
n = sum(sum(1 for _ in open(f)) for f in glob.glob(sys.argv[2] + "/*.txt"))
assert len(d) == n and n > 0, (len(d), n)
for o in d:
    x, y, w, h = o["bbox"]
    assert set(o) == {"image_id", "category_id", "bbox", "score"} and o["category_id"] in (0, 1, 2)
    assert x >= 0 and y >= 0 and w >= 0 and h >= 0 and x + w <= 64.001 and y + h <= 64.001 and 0 < o["score"] <= 1
PY
}
check "valid eval=coco writes COCO JSON (one object per VOC line)" coco_ok
printf 'eval=kitti\n' | cat shapes.data - > kitti.data
$DN detector valid kitti.data y3.cfg r3.weights > kitti.out 2>&1
check "an eval= we do not write is an error" [ $? != 0 ]
check "and says which are" has kitti.out "eval=kitti is not supported"

# ---- yolov4-tiny parses, trains and tests ----------------------------------------------------
$DN -seed 1 detector train shapes.data y4.cfg -dont_show > train4.out 2>&1
check "yolov4-tiny train exit 0" [ $? = 0 ]
check "yolov4-tiny final weights" [ -s backup/y4_final.weights ]
$DN detector test shapes.data y4.cfg backup/y4_final.weights set/img_00006.png > test4.out 2>&1
check "yolov4-tiny test exit 0" [ $? = 0 ]

# ---- random=1: multi-scale training (AlexeyAB's sizes for 64: round(f*64/32 + 1)*32 for f
# in [1/1.4, 1.4], 64 when f < 1 gives more: 64, 96 or 128, the largest first) ----
sed 's/^random=0/random=1/' y4.cfg > y4r0.cfg
$O cfgset y4r0.cfg y4r.cfg max_batches=130 > /dev/null
$DN -seed 5 detector train shapes.data y4r.cfg -dont_show > train4r.out 2>&1
check "random=1 train exit 0" [ $? = 0 ]
check "random=1 starts at the largest size" [ "$(grep -m1 '^Resizing' train4r.out)" = "Resizing to 128 x 128" ]
check "random=1 resizes every 10 iterations" [ "$(grep -c '^Resizing' train4r.out)" -ge 3 ]
check "random=1 sizes stay in range" [ -z "$(grep '^Resizing' train4r.out | grep -v -e 'to 64 x 64' -e 'to 96 x 96' -e 'to 128 x 128')" ]
check "random=1 final weights" [ -s backup/y4r_final.weights ]

# ---- yolov2-tiny ([region]) trains and tests -------------------------------------------------
sed -e 's/^classes=80/classes=3/' -e 's/^filters=425/filters=40/' /usr/share/darknet/cfg/yolov2-tiny.cfg > y2src.cfg
$O cfgset y2src.cfg y2.cfg width=64 height=64 batch=2 subdivisions=1 max_batches=2 burn_in=0 > /dev/null
$O randweights y2.cfg 7 r2.weights > /dev/null 2>&1
check "yolov2-tiny detector test: detections equal Debian darknet's" \
  same_dets y2 '' detector test shapes.data y2.cfg r2.weights $img -thresh 0.3 --- \
  detector test shapes.data y2.cfg r2.weights $img -thresh 0.3
$DN -seed 1 detector train shapes.data y2.cfg -dont_show > train2.out 2>&1
check "yolov2-tiny train exit 0" [ $? = 0 ]
check "yolov2-tiny region statistics" has train2.out "Region 15 Avg IOU"
$DN detector test shapes.data y2.cfg backup/y2_final.weights set/img_00006.png > test2.out 2>&1
check "yolov2-tiny test exit 0" [ $? = 0 ]

# ---- bad inputs --------------------------------------------------------------------------
cp set/train.txt bad.txt
echo "$T/set/missing.png" >> bad.txt                       # unreadable image
cp set/img_00000.png set/nolabel.png; echo "$T/set/nolabel.png" >> bad.txt   # no label file
printf '7 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n' >> set/img_00001.txt        # class out of range, short line
for i in 1 2 3 4 5 6 7 8; do echo "$T/set/missing.png"; echo "$T/set/nolabel.png"; echo "$T/set/img_00001.png"; done >> bad.txt
$O cfgset y3.cfg bad.cfg max_batches=6 > /dev/null
sed "s|train=.*|train=$T/bad.txt|" shapes.data > bad.data
$DN -seed 2 detector train bad.data bad.cfg -clear > bad.out 2> bad.err
check "bad data: training still finishes" [ $? = 0 ]
check "warning names the unreadable image" has bad.err "missing.png"
check "warning names the image without labels" has bad.err "no label file .*nolabel.txt"
check "warning names the bad label line" has bad.err "img_00001.txt:.*class id outside"
check "counts printed at the end" has bad.err "data problems: [1-9][0-9]* unreadable images skipped"
sed "s|classes=3|classes=4|" shapes.data > four.data
$DN detector test four.data y3.cfg backup/y3_final.weights set/img_00006.png > four.out 2>&1
check "classes mismatch is an error" [ $? != 0 ]
check "classes mismatch message" has four.out "classes=3 but the .data file says classes=4"
touch afile; sed "s|backup=.*|backup=$T/afile|" shapes.data > rf.data
$DN detector train rf.data y3.cfg -dont_show > rf.out 2>&1
check "backup= naming a file is an error before training" [ $? != 0 ]
check "and says so" has rf.out "backup folder $T/afile is not a folder"
check "no iteration ran" [ -z "$(grep 'avg loss' rf.out)" ]
# the first [yolo] of yolov3-tiny-shapes at classes=2 (filters 3*(2+5) before it)
awk '/^\[yolo\]/ { y++ } y == 1 && /^classes/ { $0 = "classes=2" } { print }' y3.cfg |
  awk 'BEGIN { n = 0 } /^filters=24/ && !done { $0 = "filters=21"; done = 1 } { print }' > mix.cfg
$DN detector train shapes.data mix.cfg -dont_show > mix.out 2>&1
check "[yolo] layers with different classes= are an error" [ $? != 0 ]
check "naming the layer" has mix.out "detection layer .* has classes=2 but the last one has classes=3"
printf '0 0.5 0.5 inf 0.2\n' > set/img_00002.txt
$DN detector calc_anchors shapes.data -num_of_clusters 2 -width 64 -height 64 > inf.out 2>&1
check "a label with w=inf is dropped with a warning" has inf.out "img_00002.txt:1: label dropped: .*finite"
check "and reaches no anchor" [ -z "$(grep -i 'inf' anchors.txt)" ]
awk '/^\[maxpool\]/ && !m { print; print "size=17"; m = 1; next } { print }' y3.cfg > mp17.cfg
$DN memory mp17.cfg > mp17.out 2>&1
check "[maxpool] size=17 is a cfg error (argmax saved in 8 bits)" has mp17.out "mp17.cfg:.* size=17: out of range: allowed 1..16"
# map leaves out an unreadable image with its truth (a 0-byte PNG with 2 labelled boxes)
: > set/broken.png; printf '0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n' > set/broken.txt
{ cat set/valid.txt; echo "$T/set/broken.png"; } > vb.txt
sed "s|valid=.*|valid=$T/vb.txt|" shapes.data > vb.data
$DN detector map vb.data y3.cfg r3.weights > vb.out 2>&1
want=$(sed 's/\.png$/.txt/' set/valid.txt | xargs cat | wc -l)
check "map: an unreadable image's truth is not counted" has vb.out "unique_truth_count = $want "
check "and the skip is said" has vb.out "1 of .* images could not be read; left out with their truth"
$DN detector test shapes.data y3.cfg nothere.weights set/img_00006.png > now.out 2>&1
check "missing weights is an error" [ $? != 0 ]
check "missing weights message names the file" has now.out "nothere.weights"

echo "$fails failed"
[ $fails = 0 ]
