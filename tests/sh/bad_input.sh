#!/usr/bin/env bash
# Inputs that Darknet reads wrongly without a word, here read right or refused with a
# message (docs/compatibility.md, "Bad input"):
# - a UTF-8 byte order mark (Windows editors) at the start of the cfg, .data, list, names
#   and label files: skipped. Oracle: the same training without the marks gives the same
#   weights byte for byte;
# - a .data file without classes=: the names file's count, said;
# - a .data key given twice: the first value is used, as Darknet's option_find does, and
#   the later line is named;
# - a folder where a label file or a list file belongs: named, not read as empty;
# - weights holding NaN (a diverged run): the load fails naming the layer;
# - a save killed before its rename: its <file>.tmp.<pid> is removed by the next save;
# - a training-only key not implemented (dropblock): detection runs, training refuses to
#   start, naming the key (counters_per_class and focal_loss are implemented: test_yolo);
# - an unreadable image in a `detector test -out x.json` list: its frame is kept, empty;
# - difficult= (AlexeyAB's VOC list): detections on difficult boxes left out of map; a list
#   shorter than valid= is an error;
# - numbers a command cannot use: -thresh nan, memory -batch 0, calc_anchors with
#   -num_of_clusters 0 or a negative size, -mAP_epochs 0.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env bad_input
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

cd "$T"
mkdir -p set bk bom
"$TOOLS/make_shapes" "$T/set" 6 2 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > names
printf 'classes=3\ntrain=set/train.txt\nvalid=set/valid.txt\nnames=names\nbackup=bk\n' > s.data
$O cfgset "$ROOT/cfg/yolov3-tiny-shapes.cfg" y3.cfg width=64 height=64 batch=2 subdivisions=1 \
  max_batches=2 burn_in=0 > /dev/null

# ---- byte order marks ------------------------------------------------------------------------
bom() { printf '\xef\xbb\xbf' > "$2"; cat "$1" >> "$2"; }
cp set/*.png bom/
for f in set/*.txt; do bom "$f" "bom/${f#set/}"; done    # every label file and both lists
sed -i 's|set/|bom/|' bom/train.txt bom/valid.txt
bom names bnames
printf 'classes=3\ntrain=bom/train.txt\nvalid=bom/valid.txt\nnames=bnames\nbackup=bkb\n' > b0.data
bom b0.data b.data
bom y3.cfg b.cfg
mkdir -p bkb
"$DN" -seed 5 detector train s.data y3.cfg -dont_show > plain.out 2> plain.err
"$DN" -seed 5 detector train b.data b.cfg -dont_show > bom.out 2> bom.err
check "BOM run exits 0" [ $? = 0 ]
check "BOM run: no label line dropped, no unreadable image" \
  bash -c "! grep -E 'label dropped|unreadable|cannot' bom.err"
check "BOM in cfg, .data, lists and labels: the same weights as without" \
  cmp -s bk/y3_final.weights bkb/b_final.weights
"$DN" detector map b.data b.cfg bkb/b_final.weights > bmap.out 2>&1
check "BOM in the names file: the first class keeps its name" has bmap.out "class_id = 0, name = rectangle,"

# ---- .data keys given twice: the first wins, the second is named ---------------------------------
printf 'classes=3\nclasses=20\ntrain=set/train.txt\nnames=names\nbackup=bk2\nbackup=elsewhere\n' > dup.data
mkdir -p bk2
"$DN" -seed 5 detector train dup.data y3.cfg -dont_show > dup.out 2> dup.err
check "duplicate keys: the first value is used" [ -s bk2/y3_final.weights ]
check "duplicate keys: the later line is named" \
  has dup.err "dup.data:2: classes= is given again; the first value (3) is used"
check "duplicate keys: the second backup= named too" has dup.err "dup.data:6: backup= is given again"

# ---- no classes= in the .data file: the names file's count (it said classes=20 before) ---------
grep -v '^classes=' s.data > nocls.data
"$DN" detector map nocls.data y3.cfg bk/y3_final.weights > nocls.out 2>&1
check "no classes=: map runs" [ $? = 0 ]
check "no classes=: the names file's count, said" \
  has nocls.out "nocls.data has no classes=; using 3 (the number of names in its names file)"

# ---- a folder where a file belongs ---------------------------------------------------------------
# map reads every image of the valid list
first=$(head -1 set/valid.txt); lab=${first%.png}.txt
mv "$lab" lab.keep && mkdir "$lab"
"$DN" detector map s.data y3.cfg bk/y3_final.weights > dirmap.out 2>&1
check "a folder as label file is named" has dirmap.out "cannot read label file $lab: Is a directory"
rmdir "$lab"; mv lab.keep "$lab"
mkdir -p listdir
printf 'classes=3\ntrain=listdir\nnames=names\nbackup=bk\n' > ld.data
"$DN" detector train ld.data y3.cfg -dont_show > ld.out 2> ld.err
check "a folder as train list: exit 1" [ $? = 1 ]
check "a folder as train list is named" has ld.err "cannot read list file listdir: Is a directory"

# ---- an unreadable image in a -out JSON list run: its frame is kept, empty -------------------------
printf 'set/img_00000.png\nnope.png\nset/img_00001.png\n' |
  "$DN" detector test s.data y3.cfg bk/y3_final.weights -dont_show -out fr.json > fr.out 2>&1
check "an unreadable image in the list: exit 1" [ $? = 1 ]
check "its JSON frame is kept without objects; the later frame_ids follow the list's lines" python3 -c "
import json
d = json.load(open('fr.json'))
assert [x['frame_id'] for x in d] == [1, 2, 3], d
assert d[1]['filename'] == 'nope.png' and d[1]['objects'] == [] and d[2]['filename'] == 'set/img_00001.png'
"

# ---- NaN weights ----------------------------------------------------------------------------------
# 20-byte header, then layer 0's biases: the third float becomes NaN.
cp bk/y3_final.weights nan.weights
printf '\x00\x00\xc0\x7f' | dd of=nan.weights bs=1 seek=28 conv=notrunc status=none
"$DN" detector test s.data y3.cfg nan.weights set/img_00000.png > nan.out 2>&1
check "NaN weights: exit 1" [ $? = 1 ]
check "NaN weights: the layer is named" has nan.out "nan.weights: layer 0 (convolutional) holds 1 NaN/inf values"
"$DN" detector train s.data y3.cfg nan.weights -dont_show > nant.out 2>&1
check "NaN weights: training refuses them too" has nant.out "holds 1 NaN/inf values"

# ---- a temporary left by a killed save ------------------------------------------------------------
( exit 0 ) & dead=$!; wait $dead
echo half > "bk/y3_last.weights.tmp.$dead"
echo half > "bk/y3_final.weights.tmp.$dead"
"$DN" -seed 5 detector train s.data y3.cfg bk/y3_final.weights -clear -dont_show > tmp.out 2> tmp.err
check "a dead writer's temporary is removed at the next save" [ ! -e "bk/y3_final.weights.tmp.$dead" ]
check "and said" has tmp.err "removed bk/y3_final.weights.tmp.$dead, left by a writer that was killed"

# ---- training-only keys this build lacks: inference runs, training refuses -----------------------
# weights: the initialisation (no batch norm, learning rate 0), whose boxes are finite
$O cfgset y3.cfg yi0.cfg max_batches=1 learning_rate=0 > /dev/null
grep -v '^batch_normalize' yi0.cfg > yi.cfg
mkdir -p bki; sed 's|^backup=.*|backup=bki|' s.data > i.data
"$DN" -seed 2 detector train i.data yi.cfg -dont_show > yi.out 2>&1
awk '/^\[yolo\]/ { print; print "counters_per_class=10,20,30"; print "focal_loss=1"; next } { print }' \
  yi.cfg > cpc.cfg
"$DN" detector test i.data cpc.cfg bki/yi_final.weights set/img_00000.png -thresh .2 > cpct.out 2>&1
check "focal_loss (and counters_per_class): detector test runs" [ $? = 0 ]
"$DN" detector test i.data yi.cfg bki/yi_final.weights set/img_00000.png -thresh .2 > cpcn.out 2>&1
check "and finds the boxes it finds without them ($(grep -c '%$' cpct.out))" \
  [ "$(grep -c '%$' cpct.out)" -gt 0 -a "$(grep '%$' cpct.out)" = "$(grep '%$' cpcn.out)" ]
check "no Unused field for them" [ -z "$(grep 'Unused field' cpct.out)" ]
"$DN" detector train i.data cpc.cfg -dont_show > cpctr.out 2>&1
check "both are implemented now: training with them runs" [ $? = 0 ]
# [dropout] dropblock=1 before the last [yolo] (an identity at inference)
awk -v n="$(grep -c '^\[yolo\]' yi.cfg)" '/^\[yolo\]/ && ++k == n { print "[dropout]"; print "probability=.1"; print "dropblock=1" }
  { print }' yi.cfg > db.cfg
"$DN" detector test i.data db.cfg bki/yi_final.weights set/img_00000.png -thresh .2 > dbt.out 2>&1
check "dropblock: detector test runs" [ $? = 0 ]
check "and finds the boxes it finds without it" [ "$(grep '%$' dbt.out)" = "$(grep '%$' cpcn.out)" ]
"$DN" detector train i.data db.cfg -dont_show > dbtr.out 2>&1
check "training refuses it: exit 1" [ $? = 1 ]
check "naming the key" has dbtr.out "db.cfg:[0-9]*: \[dropout\] dropblock=1: not supported in training (no DropBlock here; remove the key); detection and evaluation work"

# [Gaussian_yolo]: detection and map run (untrained weights: none given), training refuses
sed 's/^\[yolo\]/[Gaussian_yolo]/; s/^filters=24/filters=36/' yi.cfg > g.cfg
"$DN" detector test i.data g.cfg "" set/img_00000.png -thresh .2 > gt.out 2>&1
check "[Gaussian_yolo]: detector test runs" [ $? = 0 ]
"$DN" detector map i.data g.cfg "" > gm.out 2>&1
check "[Gaussian_yolo]: map runs" has gm.out "mean average precision"
"$DN" detector train i.data g.cfg -dont_show > gtr.out 2>&1
check "[Gaussian_yolo]: training refuses it: exit 1" [ $? = 1 ]
check "naming the section" has gtr.out "g.cfg:[0-9]*: \[Gaussian_yolo\]: its loss is not implemented here, so this cfg cannot train"

# ---- difficult= (AlexeyAB's VOC option): detections on difficult boxes are left out ---------------
# valid images whose own labels are empty, and a difficult list of the same images (copies
# in dif/) whose labels hold a whole-image box of each class: at -iou_thresh .0001 every
# detection of the initialisation's weights (finite boxes) overlaps one, so map leaves
# them out.
mkdir -p easy dif
while read -r im; do
  b=$(basename "$im"); cp "$im" easy/; : > "easy/${b%.png}.txt"
  cp "$im" dif/; printf '0 .5 .5 1 1\n1 .5 .5 1 1\n2 .5 .5 1 1\n' > "dif/${b%.png}.txt"
  echo "easy/$b" >> easy.txt; echo "dif/$b" >> dif.txt
done < set/valid.txt
sed 's|^valid=.*|valid=easy.txt|' i.data > easy.data
{ cat easy.data; echo "difficult=dif.txt"; } > dif.data
"$DN" detector map easy.data yi.cfg bki/yi_final.weights -iou_thresh .0001 > easy.out 2>&1
"$DN" detector map dif.data yi.cfg bki/yi_final.weights -iou_thresh .0001 > dif.out 2>&1
check "difficult=: map runs and says so" has dif.out "difficult=dif.txt: detections that match only a difficult box are left out"
n0=$(sed -n 's/.*detections_count = \([0-9]*\).*/\1/p' easy.out); n1=$(sed -n 's/.*detections_count = \([0-9]*\).*/\1/p' dif.out)
fewer() { [ -n "$n0" ] && [ -n "$n1" ] && [ "$n0" -gt 0 ] && [ "$n1" -lt "$n0" ]; }
check "difficult=: fewer detections counted ($n1 of $n0)" fewer
head -1 dif.txt > short.txt
{ cat easy.data; echo "difficult=short.txt"; } > short.data
"$DN" detector map short.data yi.cfg bki/yi_final.weights > short.out 2>&1
check "difficult= shorter than valid=: exit 1" [ $? = 1 ]
check "and named" has short.out "difficult=short.txt has 1 lines and valid= $(wc -l < easy.txt): it needs one per valid image"

# ---- numbers a command cannot use -----------------------------------------------------------------
refused() { # <message> <command...>: exit 1 and the message
  local want=$1; shift
  "$DN" "$@" > num.out 2>&1
  local rc=$?
  [ $rc = 1 ] || { echo "  exit $rc for $*"; return 1; }
  has num.out "$want"
}
check "-thresh nan refused" refused "-thresh expects a finite number, got 'nan'" \
  detector test s.data y3.cfg bk/y3_final.weights set/img_00000.png -thresh nan
check "-iou_thresh inf refused" refused "-iou_thresh expects a finite number" \
  detector map s.data y3.cfg bk/y3_final.weights -iou_thresh inf
check "memory -batch 0 refused" refused "-batch expects a positive mini-batch, got 0" memory y3.cfg -batch 0
check "calc_anchors -num_of_clusters 0 refused" refused "must be positive (got 0, 416, 416)" \
  detector calc_anchors s.data -num_of_clusters 0
check "calc_anchors -width -5 refused" refused "must be positive (got 5, -5, 416)" \
  detector calc_anchors s.data -width -5
check "-mAP_epochs 0 refused" refused "-mAP_epochs expects a positive number" \
  detector train s.data y3.cfg -map -mAP_epochs 0 -dont_show

[ $fails = 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all bad-input checks passed"
