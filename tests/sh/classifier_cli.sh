#!/usr/bin/env bash
# ./darknet classifier train|valid|predict on 40 generated 28x28 grey images:
# training line format, saved files (.backup every 100, _<epoch>, _final), -seed repeats a
# run, resume continues the iteration count and -clear restarts it, a path without a label
# is a clear error, valid prints top-1/top-k, and predict
# and valid match Debian's darknet (/usr/bin/darknet, the oracle) on the same cfg, weights
# and images.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
TOOLS=${DN_TOOLS:-$root/build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/classifier_cli.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cd "$T"
. "$root/tests/common/checks.sh"

# ---- data: IDX files written with awk (C locale: one byte per %c), then idx2png ----
n=40
grey_set $n names img train.list || { echo "FAIL idx2png"; exit 1; }
check "idx2png wrote $n images" [ "$(ls img | wc -l)" = $n ]
check "file names carry labels" [ -f img/00013_dress.png ]
printf 'classes=10\ntrain=train.list\nvalid=train.list\nlabels=names\nbackup=bk\ntop=2\n' > t.data
cat > t.cfg <<'CFG'
[net]
batch=4
subdivisions=2
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=101
min_crop=28
max_crop=28
flip=0
[convolutional]
batch_normalize=1
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

# ---- train: 101 iterations of 4 images (10 iterations per epoch of 40 images) ----
"$DN" classifier train t.data t.cfg -seed 5 > out1 2> err1
check "train exits 0" [ $? = 0 ]
check "101 training lines" [ "$(grep -c ' avg, ' out1)" = 101 ]
check "line format" grep -qE '^1, 0\.100: [0-9.]+, [0-9.]+ avg, [0-9.]+ rate, [0-9.]+ seconds, 4 images$' out1
check "last line at 101, epoch 10.1" grep -qE '^101, 10\.100: .* 404 images$' out1
check "memory line" grep -q '^memory: params_mib=' out1
for f in t.backup t_1.weights t_10.weights t_final.weights; do check "saved bk/$f" [ -s bk/$f ]; done
check "no _11 epoch file" [ ! -e bk/t_11.weights ]
check "no temporary files left" [ -z "$(ls bk | grep tmp)" ]
# Weights: 20-byte header + conv 4*(b,s,m,v) + 4*9 + connected 10 + 10*(14*14*4) floats
check "final weights size" [ "$(stat -c %s bk/t_final.weights)" = $((20 + 4 * (16 + 36 + 10 + 7840))) ]

# ---- -seed repeats a run exactly ----
sed 's/max_batches=101/max_batches=6/' t.cfg > s.cfg
sed 's/backup=bk/backup=bs/' t.data > s.data
"$DN" classifier train s.data s.cfg -seed 9 > a 2>/dev/null; cp bs/s_final.weights a.w
"$DN" classifier train s.data s.cfg -seed 9 > b 2>/dev/null
check "same seed, same weights" cmp -s a.w bs/s_final.weights
check "same seed, same losses" [ "$(grep " avg, " a | cut -d, -f1-3)" = "$(grep " avg, " b | cut -d, -f1-3)" ]
"$DN" classifier train s.data s.cfg -seed 10 > c 2>/dev/null
check "other seed, other weights" bash -c "! cmp -s a.w bs/s_final.weights"
# cutmix=1 (AlexeyAB's classifier cutmix, tests/test_cutmix.c): used, repeatable, and it
# changes the run
sed '/^\[net\]/a cutmix=1' s.cfg > cm.cfg
"$DN" classifier train s.data cm.cfg -seed 9 > cm1 2> cm1.err; cp bs/cm_final.weights cm.w
"$DN" classifier train s.data cm.cfg -seed 9 > cm2 2> cm2.err
check "cutmix=1: no 'ignores' warning" bash -c "! grep -q ignores cm1.err"
check "cutmix=1: same seed, same weights" cmp -s cm.w bs/cm_final.weights
check "cutmix=1: other weights than without it" bash -c "! cmp -s a.w cm.w"

# ---- resume from the backup continues at 101 (max 103); -clear starts again at 1 ----
sed 's/max_batches=101/max_batches=103/' t.cfg > r.cfg
sed 's/backup=bk/backup=br/' t.data > r.data
"$DN" classifier train r.data r.cfg bk/t.backup -seed 5 > r1 2>/dev/null
check "resume starts at 101" [ "$(head -c 5 r1)" = "101, " ]
check "resume stops at 103" [ "$(grep -c ' avg, ' r1)" = 3 ]
"$DN" classifier train r.data r.cfg bk/t.backup -clear -seed 5 > r2 2>/dev/null
check "-clear starts at 1" [ "$(head -c 3 r2)" = "1, " ]

# ---- a path with no label, or two, is an error naming it ----
cp train.list bad.list; echo "img/nolabel.png" >> bad.list
sed 's/train=train.list/train=bad.list/' t.data > bad.data
"$DN" classifier train bad.data t.cfg > /dev/null 2> e1
check "missing label fails" [ $? != 0 ]
check "missing label message" grep -q 'Too many or too few labels: 0, img/nolabel.png' e1
echo "img/top_bag.png" > two.list
sed 's/train=train.list/train=two.list/' t.data > two.data
"$DN" classifier train two.data t.cfg > /dev/null 2> e2
check "two labels message" grep -q 'Too many or too few labels: 2, img/top_bag.png' e2
"$DN" classifier train nothere.data t.cfg > /dev/null 2> e3
check "missing .data names the file" grep -q 'nothere.data' e3

# ---- valid and predict ----
"$DN" classifier valid t.data t.cfg bk/t_final.weights > v 2>/dev/null
check "valid exits 0" [ $? = 0 ]
check "valid summary" grep -qE '^valid: top-1 [01]\.[0-9]{4}, top-2 [01]\.[0-9]{4} over 40 images$' v
"$DN" classifier valid t.data t.cfg bk/t_final.weights -t 10 > v10 2>/dev/null
check "top-10 of 10 classes is 1" grep -q 'top-10 1.0000 over 40' v10
# The Debian comparisons below need /usr/bin/darknet (scripts/setup.sh installs it): a
# missing binary fails here, with the reason, instead of skipping them silently.
check "Debian's /usr/bin/darknet is installed (scripts/setup.sh)" [ -x /usr/bin/darknet ]
if [ -x /usr/bin/darknet ]; then
  "$DN" classifier valid t.data t.cfg bk/t_1.weights > v1 2>/dev/null
  /usr/bin/darknet classifier valid t.data t.cfg bk/t_1.weights > v1d 2>/dev/null
  theirs=$(tail -n 1 v1d)
  check "valid accuracy matches Debian darknet ($theirs)" grep -qxF "$theirs" v1
  # pjreddie's two lines per image: the running accuracies equal, the path line's two
  # scores within his %f rounding
  check "valid's per-image lines match Debian's ($(grep -c ': top 1:' v1d) images)" python3 -c "
a = [l.rstrip() for l in open('v1') if not l.startswith('valid:')]
b = [l.rstrip() for l in open('v1d') if ', ' in l or ': top 1:' in l]
assert len(a) == len(b) == 80, (len(a), len(b))
for x, y in zip(a, b):
    if ': top 1:' in y: assert x == y, (x, y)
    else:
        xs, ys = x.split(', '), y.split(', ')
        assert xs[:2] == ys[:2], (x, y)
        assert all(abs(float(u.rstrip(',')) - float(v.rstrip(','))) <= 2e-6 for u, v in zip(xs[2:4], ys[2:4])), (x, y)
"
fi
for i in 3 17 28; do
  img=$(sed -n ${i}p train.list)
  ours=$("$DN" classifier predict t.data t.cfg bk/t_final.weights "$img" -t 3 2>/dev/null | tail -n 3)
  if [ -x /usr/bin/darknet ]; then
    theirs=$(/usr/bin/darknet classifier predict t.data t.cfg bk/t_final.weights "$img" -t 3 2>/dev/null | tail -n 3)
    # Classes printed as 0.00% are ties at the printed precision, ordered by float noise.
    nz() { grep -v '^ *0\.00%:' <<< "$1"; }
    check "predict $img matches Debian darknet" [ "$(nz "$ours")" = "$(nz "$theirs")" ]
  fi
  check "predict prints 3 lines with %" [ "$(echo "$ours" | grep -cE '^ *[0-9]+\.[0-9]{2}%: [a-z]+$')" = 3 ]
done

[ $fails = 0 ] && echo "classifier_cli: all checks passed" || echo "classifier_cli: $fails checks failed"
[ $fails = 0 ]
