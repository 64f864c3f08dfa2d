#!/usr/bin/env bash
# Darknet users' command lines run unchanged (issue 14), written as AlexeyAB's README writes
# them: flags anywhere on the line (removed with their values, AlexeyAB's rule), unknown
# flags warned by name, unsupported features noted once; `detector test` with -ext_output,
# -out result.json over a list on stdin, -save_labels, -letter_box and predictions.jpg (with
# its label bars); `detector recall`, `classifier test`, `partial`.
# Oracles: Debian's darknet (/usr/bin/darknet, pjreddie 2018) for `detector test` boxes
# (pjreddie letterboxes, so ours with -letter_box must print the same lines) and for
# `classifier predict` probabilities (ours `classifier test` prints the same values); the
# JSON and label files are checked against the -ext_output lines of the same run.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env dropin_cli
cd $T

# Debian's darknet shows predictions in an OpenCV window and waits for a key: its output
# is line-buffered, and it is stopped 2 s after its "Predicted in" line (the box lines
# follow that line at once), or after 120 s. A fixed 15 s timeout lost every line on a
# loaded machine (2026-12-01: 0 lines while five jobs shared the 2 cores).
differs() { ! cmp -s "$1" "$2"; }
same_nonempty() { [ -s "$1" ] && cmp -s "$1" "$2"; }
deb_test() {
  local f pid i=0 seen=0
  f=$(mktemp "$T/deb.XXXXXX")
  QT_QPA_PLATFORM=offscreen stdbuf -oL /usr/bin/darknet "$@" > "$f" 2>/dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 600 ] && [ "$seen" -lt 10 ]; do
    grep -q 'Predicted in' "$f" && seen=$((seen + 1))
    sleep 0.2; i=$((i + 1))
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  cat "$f"
}

# ---- classifier: AlexeyAB's README order (-dont_show at the end) -------------------------------
grey_set 20 names img train.list || { echo "FAIL idx2png"; exit 1; }
printf 'classes=10\ntrain=train.list\nvalid=train.list\ntest=train.list\nlabels=names\nbackup=bk\n' > c.data
cat > c.cfg <<'CFG'
[net]
batch=4
subdivisions=1
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
max_batches=3
[convolutional]
filters=4
size=3
stride=2
pad=1
activation=leaky
[connected]
output=10
activation=linear
[softmax]
CFG
mkdir -p bk
"$DN" classifier train c.data c.cfg -dont_show > ct.out 2> ct.err
check "classifier train ... -dont_show exits 0" [ $? = 0 ]
check "classifier train wrote final weights" [ -s bk/c_final.weights ]
"$DN" -dont_show classifier train c.data c.cfg bk/c_final.weights -clear -topk -mjpeg_port 8090 -foo_bar > ct2.out 2> ct2.err
check "flags before the command, -clear, -topk, -mjpeg_port N" [ $? = 0 ]
check "unknown flag warned by name" has ct2.err "unknown flag -foo_bar"
check "-mjpeg_port noted as not supported" has ct2.err "^-mjpeg_port: .*not supported"
check "-topk noted as not supported" has ct2.err "^-topk: .*not supported"
check "the note is printed once" [ "$(grep -c mjpeg_port ct2.err)" = 1 ]
check "-clear restarted at iteration 1" grep -q '^1, ' ct2.out
# -benchmark_layers: a row per layer that ran, and the layers' wall time per pass cannot
# exceed the iteration's own seconds (iteration 3, the one pass counted after the first two)
"$DN" classifier train c.data c.cfg -dont_show -clear -benchmark_layers > bl.out 2> bl.err
check "-benchmark_layers prints the layer table" has bl.err "^layer times: .*mean of 1 passes"
check "-benchmark_layers: rows for conv, connected, softmax" \
  [ "$(sed -n '/^layer times/,$p' bl.err | grep -cE '^ +[0-9]+ (convolutional|connected|softmax) ')" = 3 ]
lt=$(sed -n 's/^  total \([0-9.]*\) ms per pass.*/\1/p' bl.err)
it=$(sed -n 's/^3, .* \([0-9.]*\) seconds, .*/\1/p' bl.out)
check "-benchmark_layers: layers' $lt ms within iteration 3's $it s" \
  awk -v l="$lt" -v i="$it" 'BEGIN{exit !(l > 0 && l <= 1000 * i + 0.5)}'
# on inference too (AlexeyAB's test): every pass counted, the table within the prediction's time
"$DN" classifier predict c.data c.cfg bk/c_final.weights "$(head -1 train.list)" -benchmark_layers > bp.out 2> bp.err
check "-benchmark_layers on predict: an inference table" \
  has bp.err "^layer times: wall ms per inference pass (mini-batch 1), mean of 1 passes"
lt=$(sed -n 's/^  total \([0-9.]*\) ms per pass.*/\1/p' bp.err)
pt=$(sed -n 's/.*Predicted in \([0-9.]*\) seconds.*/\1/p' bp.out bp.err | head -1)
check "-benchmark_layers on predict: layers' $lt ms within the prediction's $pt s" \
  awk -v l="$lt" -v i="$pt" 'BEGIN{exit !(l > 0 && l <= 1000 * i + 0.5)}'
"$DN" classifier predict c.data c.cfg -no_such_flag bk/c_final.weights -t 2 "$(head -1 train.list)" > pr.out 2> pr.err
check "an unknown flag between positional arguments is dropped" [ "$(grep -c '%: ' pr.out)" = 2 ]
"$DN" classifier predict c.data c.cfg bk/c_final.weights -t 2 -t 5 "$(head -1 train.list)" > pr2.out 2>&1
check "a repeated flag: the first value wins, as Darknet's find_arg" [ "$(grep -c '%: ' pr2.out)" = 2 ]
"$DN" classifier predict c.data c.cfg bk/c_final.weights -t > /dev/null 2> bad.err
check "a flag without its value is an error" has bad.err "^-t needs a value"
"$DN" detector test c.data c.cfg w -thresh abc > /dev/null 2> bad2.err
check "a malformed value is an error" has bad2.err "^-thresh expects a finite number, got 'abc'"

# classifier test: one line per image, path then every output; Debian's predict -t 10 prints
# the same probabilities (as %5.2f%%, so each of its values is within 0.005 of ours plus the
# two forwards' float differences: 0.0051; an exact match of two-decimal strings failed
# whenever a value fell on a rounding boundary).
"$DN" classifier test c.data c.cfg bk/c_final.weights > ctest.out 2>/dev/null
check "classifier test exits 0" [ $? = 0 ]
check "classifier test: one line per image" [ "$(wc -l < ctest.out)" = 20 ]
check "classifier test: path and 10 values" [ "$(head -1 ctest.out | awk -F'\t' '{print NF}')" = 11 ]
if [ -x /usr/bin/darknet ]; then
  img=$(sed -n 7p train.list)
  theirs=$(/usr/bin/darknet classifier predict c.data c.cfg bk/c_final.weights "$img" -t 10 2>/dev/null |
           tail -n 10 | sed 's/%.*//' | awk '{printf "%.2f\n", $1}' | sort -g)
  ours=$(grep -F "$img" ctest.out | tr '\t' '\n' | tail -n 10 | awk '{printf "%.6f\n", $1 * 100}' | sort -g)
  check "classifier test matches Debian's predict probabilities (within its rounding)" \
    awk -v a="$ours" -v b="$theirs" 'BEGIN { n = split(a, x, "\n"); m = split(b, y, "\n")
      if (n != 10 || m != 10) exit 1
      for (i = 1; i <= n; ++i) { d = x[i] - y[i]; if (d < 0) d = -d; if (d > 0.0051) exit 1 } }'
  [ "$fails" -eq 0 ] || printf 'ours (%%): %s\nDebian (%%): %s\n' "$(echo $ours)" "$(echo $theirs)"
fi

# ---- partial: the first N layers, seen reset, loads as a .conv.N file ----------------------------
"$DN" partial c.cfg bk/c_final.weights c.conv.1 1 > p.out 2>&1
check "partial exits 0" [ $? = 0 ]
# header 20 bytes (seen as size_t) + conv biases 4 + weights 4*9, no connected layer
check "partial size: header + first layer" [ "$(stat -c %s c.conv.1)" = $((20 + 4 * (4 + 36))) ]
check "partial resets seen" [ "$(od -An -t u8 -j 12 -N 8 c.conv.1 | tr -d ' ')" = 0 ]
check "partial keeps the first layer's bytes" cmp -s -n 160 -i 20:20 c.conv.1 bk/c_final.weights
"$DN" classifier train c.data c.cfg c.conv.1 -dont_show > pt.out 2>&1
check "training starts from the .conv.1 file" grep -q '^1, ' pt.out
"$DN" partial c.cfg bk/c_final.weights x.w > /dev/null 2>&1
check "partial without N is a usage error" [ $? = 1 ]

# ---- detector: a no-batch-norm yolov3-tiny whose weights are its initialisation (lr 0) ----------
mkdir -p set imgs
"$TOOLS/make_shapes" set 4 3 96 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
cp set/img_00004.png set/img_00005.png set/img_00006.png set/img_00004.txt set/img_00005.txt imgs/
printf 'rectangle\nellipse\ntriangle\n' > dnames
printf 'classes=3\ntrain=set/train.txt\nvalid=set/valid.txt\nnames=dnames\nbackup=bk\n' > d.data
$O cfgset $ROOT/cfg/yolov3-tiny-shapes.cfg y0.cfg width=64 height=64 batch=2 subdivisions=1 \
  max_batches=1 burn_in=0 learning_rate=0 > /dev/null
grep -v '^batch_normalize' y0.cfg > y.cfg
"$DN" -seed 1 detector train d.data y.cfg -dont_show -map -gpus 0 > dt.out 2> dt.err
check "detector train ... -dont_show -map exits 0" [ -s bk/y_final.weights ]
check "-map computes mAP at the last iteration" has dt.out "mean_average_precision (mAP@0.50) = .* at iteration 1$"
ls imgs/*.png > list.txt
"$DN" detector test d.data y.cfg bk/y_final.weights -dont_show -ext_output -out result.json -thresh .3 \
  < list.txt > dtest.out 2> dtest.err
check "detector test -dont_show -ext_output -out result.json < list.txt exits 0" [ $? = 0 ]
check "three images predicted" [ "$(grep -c 'Predicted in' dtest.out)" = 3 ]
check "boxes printed with -ext_output" has dtest.out "left_x: .*top_y: .*width: .*height: "
check "predictions.jpg is a JPEG" [ "$(od -An -tx1 -N3 predictions.jpg | tr -d ' ')" = ffd8ff ]
check "no predictions.png" [ ! -e predictions.png ]
# JSON: AlexeyAB's fields; each object is one -ext_output line (pixels = relative * 96 x 64).
python3 - result.json dtest.out > json.chk 2>&1 <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
assert [f["frame_id"] for f in d] == [1, 2, 3], "frame ids"
assert all(f["filename"].startswith("imgs/img_0000") for f in d), "filenames"
ext = []
for line in open(sys.argv[2]):
    m = re.search(r"(\w+): (\d+)%\t\(left_x: +(-?\d+) +top_y: +(-?\d+) +width: +(-?\d+) +height: +(-?\d+)\)", line)
    if m: ext.append((m.group(1), int(m.group(2)), *map(int, m.group(3, 4, 5, 6))))
js = []
for f in d:
    for o in f["objects"]:
        if o["confidence"] <= .3: continue
        r = o["relative_coordinates"]
        js.append((o["name"], round(o["confidence"] * 100),
                   round((r["center_x"] - r["width"] / 2) * 96), round((r["center_y"] - r["height"] / 2) * 64),
                   round(r["width"] * 96), round(r["height"] * 64)))
assert len(ext) > 0, "no boxes"
bad = [(a, b) for a, b in zip(sorted(ext), sorted(js)) if a[0] != b[0] or abs(a[1] - b[1]) > 1 or max(abs(x - y) for x, y in zip(a[2:], b[2:])) > 1]
assert len(ext) == len(js) and not bad, "json vs ext_output: %d vs %d, %s" % (len(ext), len(js), bad[:3])
print("ok", len(ext))
PY
check "result.json is AlexeyAB's format and matches -ext_output" has json.chk "^ok"

# -save_labels: a YOLO label file beside each image, one line per box (its best class).
"$DN" detector test d.data y.cfg bk/y_final.weights imgs/img_00005.png -save_labels -thresh .3 -dont_show > sl.out 2>&1
check "-save_labels rewrote imgs/img_00005.txt" differs imgs/img_00005.txt set/img_00005.txt
check "-save_labels wrote boxes" [ "$(grep -c . imgs/img_00005.txt)" -gt 0 ]
check "-save_labels lines are class x y w h" [ -z "$(grep -vE '^[0-2] -?[0-9]+\.[0-9]{4} -?[0-9]+\.[0-9]{4} [0-9]+\.[0-9]{4} [0-9]+\.[0-9]{4}$' imgs/img_00005.txt)" ]
check "-save_labels writes nothing for other images" cmp -s imgs/img_00004.txt set/img_00004.txt
nboxes=$(grep -c "%$" sl.out)
check "-save_labels: one line per box drawn" [ "$(wc -l < imgs/img_00005.txt)" -le "$nboxes" ]

# -letter_box: pjreddie always letterboxes, so Debian's lines must be ours exactly.
if [ -x /usr/bin/darknet ]; then
  "$DN" detector test d.data y.cfg bk/y_final.weights imgs/img_00006.png -thresh .3 -letter_box > lb.out 2>/dev/null
  deb_test detector test d.data y.cfg bk/y_final.weights imgs/img_00006.png -thresh .3 > deb.out
  grep '%$' lb.out | sort > a; grep '%$' deb.out | sort > b
  check "-letter_box lines equal Debian darknet's ($(wc -l < b) lines)" same_nonempty a b
  "$DN" detector test d.data y.cfg bk/y_final.weights imgs/img_00006.png -thresh .3 > st.out 2>/dev/null
  grep '%$' st.out | sort > c
  check "without -letter_box the input is stretched (other boxes)" differs a c
fi

# Label bars on predictions.jpg, decoded by Debian's libdarknet (dn_oracle imgdump). The box
# drawn last (the most probable best class, as AlexeyAB draws them) is on top: above its
# top-left corner (or inside the box at the image's top), moved into the image, a bar
# (6 * len + 1) x 9 (scale 1 below 300 px) of its best class's colour (detect.c: hue steps of
# .618034) with the label "name NN%, other, ..." (every class above thresh) in black. JPEG
# blurs (and halves the colour resolution), so "mostly": >= 40 % of the bar within .25 of
# the colour (a label of letters only inks about 20 % of its bar and JPEG blurs as much
# again around the strokes), 5-50 % dark (channel sum .35 below the colour's: black
# strokes come back dark red on red); the same run with -dontdraw_bbox has neither there.
if [ -x "$O" ]; then
  "$DN" detector test d.data y.cfg bk/y_final.weights imgs/img_00004.png -thresh .3 -ext_output > lab.out 2>/dev/null
  "$O" imgdump predictions.jpg lab.f32 > /dev/null
  "$DN" detector test d.data y.cfg bk/y_final.weights imgs/img_00004.png -thresh .3 -dontdraw_bbox > /dev/null 2>&1
  "$O" imgdump predictions.jpg nolab.f32 > /dev/null
  python3 - lab.out lab.f32 nolab.f32 dnames > lab.chk 2>&1 <<'PY'
import re, struct, sys
def load(p):
    d = open(p, "rb").read()
    v = struct.unpack("<%df" % struct.unpack("<i", d[:4])[0], d[4:])
    return int(v[0]), int(v[1]), v[3:]
names = open(sys.argv[4]).read().split()
W, H, lab = load(sys.argv[2])
_, _, nolab = load(sys.argv[3])
ext = [re.search(r"(\w+): (\d+)%\t\(left_x: +(-?\d+) +top_y: +(-?\d+)", l) for l in open(sys.argv[1])]
ext = [(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in ext if m]
boxes = []  # a box's classes are consecutive lines with its rectangle, the best first
for e in ext:
    if boxes and boxes[-1][0][2:] == e[2:]: boxes[-1].append(e)
    else: boxes.append([e])
top = max(b[0][1] for b in boxes)
def colour(cls):
    h = (cls * 0.618034) % 1 * 6; i = int(h); f = h - i
    return [(1, f, 0), (1 - f, 1, 0), (0, 1, f), (0, 1 - f, 1), (f, 0, 1), (1, 0, 1 - f)][i % 6]
def stats(img, rx, ry, rw, rh, rgb):
    near = dark = diff = n = 0
    for y in range(max(ry, 0), min(ry + rh, H)):
        for x in range(max(rx, 0), min(rx + rw, W)):
            p = [img[(k * H + y) * W + x] for k in range(3)]
            q = [nolab[(k * H + y) * W + x] for k in range(3)]
            near += max(abs(a - b) for a, b in zip(p, rgb)) <= .25
            dark += sum(p) <= sum(rgb) - .35
            diff += sum(abs(a - b) for a, b in zip(p, q)) / 3
            n += 1
    return near / n, dark / n, diff / n
res = []
for bx in [b for b in boxes if b[0][1] == top]:   # ties of the rounded %: any
    name, pct, l, t = bx[0]
    rw, rh = 6 * len("%s %d%%" % (name, pct) + "".join(", " + o[0] for o in bx[1:])) + 1, 9
    rx = max(min(l, W - rw), 0)
    ry = max(min(t - rh if t - rh >= 0 else t, H - rh), 0)
    rgb = colour(names.index(name))
    near, dark, diff = stats(lab, rx, ry, rw, rh, rgb)
    near0, dark0, _ = stats(nolab, rx, ry, rw, rh, rgb)
    res.append((near >= .4 and .05 <= dark <= .5 and near0 < .5 and dark0 < .05 and diff > .1,
                "%s %d%% bar (%d,%d %dx%d): colour %.2f dark %.2f; without drawing colour %.2f dark %.2f, "
                "mean |diff| %.2f" % (name, pct, rx, ry, rw, rh, near, dark, near0, dark0, diff)))
for ok, what in res: print(what)
print("ok" if any(ok for ok, _ in res) else "bad")
PY
  check "predictions.jpg: a label bar in the box colour with dark text ($(head -1 lab.chk))" has lab.chk "^ok"
fi

# ---- detector recall: pjreddie's line format over the valid list --------------------------------
"$DN" detector recall d.data y.cfg bk/y_final.weights > rc.out 2> rc.err
check "recall exits 0" [ $? = 0 ]
check "recall prints one line per image" [ "$(grep -c 'RPs/Img' rc.err)" = 3 ]
check "recall line format" grep -qE '^ +2 +[0-9]+ +[0-9]+	RPs/Img: [0-9.]+	IOU: [0-9.]+%	Recall:[0-9.]+%$' rc.err
truths=$(cat set/img_00004.txt set/img_00005.txt set/img_00006.txt | grep -c .)
check "recall counts every truth box ($truths)" grep -qE "^ +2 +[0-9]+ +$truths	" rc.err

# ---- detect (pjreddie's shortcut) strips -dont_show ---------------------------------------------
mkdir -p data; cp dnames data/coco.names
"$DN" detect y.cfg bk/y_final.weights imgs/img_00004.png -dont_show > det.out 2>&1
check "detect ... -dont_show exits 0" [ $? = 0 ]

[ $fails = 0 ] && echo "dropin_cli: all checks passed" || echo "dropin_cli: $fails checks failed"
[ $fails = 0 ]
