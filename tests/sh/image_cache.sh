#!/usr/bin/env bash
# The decoded-image cache ([net] image_cache_mb, src/data/image_cache.h): training with it
# on gives the same weights file, byte for byte, as with it off, for the same seed: the
# detector with pjreddie's augmentation and with AlexeyAB's (mosaic, blur), and the
# classifier. The oracle is the run without the cache (every image decoded each time).
# Over several epochs of a small set each image is decoded once; a bound too small for the
# set keeps what fits and changes nothing; a bad value is reported.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
TOOLS=${DN_TOOLS:-$root/build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/image_cache.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cd "$T"
. "$root/tests/common/checks.sh"
export OMP_NUM_THREADS=1

mkdir -p set bk
"$TOOLS/make_shapes" set 6 2 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > names3
printf 'classes=3\ntrain=set/train.txt\nnames=names3\nbackup=bk\n' > s.data
sed -e 's/^batch=64/batch=4/; s/^subdivisions=2/subdivisions=1/; s/^width=416/width=64/' \
    -e 's/^height=416/height=64/; s/^burn_in=1000/burn_in=0/; s/^max_batches = 500200/max_batches=4/' \
    "$root/cfg/yolov3-tiny-shapes.cfg" > y.cfg
sed 's/^\[net\]/[net]\nmosaic=1\nblur=1/' y.cfg > ym.cfg

# train KIND DATA CFG MB NAME: trains with image_cache_mb=MB, keeps the final weights as NAME.w
train() {
  local base; base=$(basename "$3" .cfg)
  sed "s/^\[net\]/[net]\nimage_cache_mb=$4/" "$3" > "$5.cfg"
  "$DN" -seed 5 "$1" train "$2" "$5.cfg" -dont_show > "$5.out" 2> "$5.err"
  check "$5: exit 0" [ $? = 0 ] || tail -5 "$5.err"
  mv "bk/$5_final.weights" "$5.w" 2> /dev/null
}
for c in y ym; do
  train detector s.data $c.cfg 0 ${c}off
  train detector s.data $c.cfg 8 ${c}on
  check "$c: cache on and off give the same weights file" cmp ${c}off.w ${c}on.w
  check "$c: no cache line when off" bash -c "! grep -q '^image cache:' ${c}off.err"
done
# 4 iterations x 4 samples (mosaic: up to 4 images each) of 6 images: each decoded once.
read -r mem dec <<< "$(sed -n 's/^image cache: .* \([0-9]*\) loads from memory, \([0-9]*\) decoded.*/\1 \2/p' yon.err)"
check "detector: at most 6 images decoded (${dec:-?}), the rest from memory (${mem:-?})" \
  test "${dec:-99}" -le 6 -a "${mem:-0}" -ge 10
# A bound reached: 1 MiB holds two of three 416 px images (507 KiB each at 8 bits).
mkdir -p big
"$TOOLS/make_shapes" big 3 1 416 416 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'classes=3\ntrain=big/train.txt\nnames=names3\nbackup=bk\n' > b.data
sed 's/^max_batches=4/max_batches=2/' y.cfg > yb.cfg
train detector b.data yb.cfg 0 yboff
train detector b.data yb.cfg 1 ybon
check "1 MiB bound: same weights file" cmp yboff.w ybon.w
check "1 MiB bound: reported as reached" has ybon.err "bound reached"

# The memory plan counts the cache at its bound with the loader.
lm() { "$DN" memory "$1" 2> /dev/null | sed -n 's/^total: .* loader_mib=\([0-9.]*\).*/\1/p'; }
a=$(lm yoff.cfg) b=$(lm yon.cfg)
check "memory plan: loader_mib $a without the cache, $b with image_cache_mb=8 (8 more)" \
  awk -v a="$a" -v b="$b" 'BEGIN {exit !(a != "" && b - a > 7.95 && b - a < 8.05)}'

grey_set 16 names img train.list || { echo "FAIL idx2png"; exit 1; }
printf 'classes=10\ntrain=train.list\nlabels=names\nbackup=bk\n' > t.data
cat > cl.cfg <<'CFG'
[net]
batch=4
subdivisions=1
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
max_batches=8
min_crop=24
max_crop=32
flip=1
[convolutional]
filters=4
size=3
stride=1
pad=1
activation=leaky
[connected]
output=10
activation=linear
[softmax]
CFG
train classifier t.data cl.cfg 0 cloff
train classifier t.data cl.cfg 4 clon
check "classifier: cache on and off give the same weights file" cmp cloff.w clon.w
check "classifier: images served from memory" grep -qE '^image cache: [0-9]+ images .* [1-9][0-9]* loads from memory' clon.err

sed 's/^\[net\]/[net]\nimage_cache_mb=-1/' cl.cfg > bad.cfg
"$DN" classifier train t.data bad.cfg > bad.out 2> bad.err
check "image_cache_mb=-1: non-zero exit" [ $? != 0 ]
check "image_cache_mb=-1: message names file, line and key" has bad.err "bad.cfg:2: \[net\] image_cache_mb=-1: out of range"
echo "$fails failed"
[ $fails = 0 ]
