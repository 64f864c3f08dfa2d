#!/usr/bin/env bash
# Fashion-MNIST (Debian's dataset-fashion-mnist) -> Darknet classifier data:
#   data/fashion/{train,test}/<idx>_<label>.png, data/fashion/{train,valid}.list,
#   data/fashion.names, data/fashion.data
# Idempotent: existing PNGs are kept, so a rerun only rewrites the small text files.
# The label names are chosen so that none is a substring of another or of the folder
# path (Darknet finds an image's class by strstr of each label in the path).
set -euo pipefail
cd "$(dirname "$0")/.."
src=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
tool=${DN_TOOLS:-build/bin}/idx2png
if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
  echo "fashion_mnist.sh: $src/train-images-idx3-ubyte.gz not found; install it with" \
       "'apt-get install dataset-fashion-mnist' or set FASHION_MNIST_DIR" >&2
  exit 1
fi
[ -x "$tool" ] || { echo "fashion_mnist.sh: $tool missing; run 'make -j2' first" >&2; exit 1; }
mkdir -p data/fashion/train data/fashion/test
printf '%s\n' top trouser pullover dress coat sandal shirt sneaker bag boot > data/fashion.names
# Each image must match exactly one label: no name inside another or inside the folders.
awk -v dirs="data/fashion/train/ data/fashion/test/" '{n[NR]=$0} END{
  for(i in n){ if(index(dirs, n[i])){print "label " n[i] " occurs in " dirs; bad=1}
    for(j in n) if(i!=j && index(n[j], n[i])){print "label " n[i] " occurs in " n[j]; bad=1} }
  exit bad}' data/fashion.names || { echo "fashion_mnist.sh: ambiguous label names" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
convert() { # <idx prefix> <outdir> <list>
  local n
  n=$(find "data/fashion/$2" -name '*.png' | wc -l)
  if [ "$n" -eq "$3" ] && [ -s "data/fashion/$4" ]; then
    echo "data/fashion/$2: $n images already there"; return
  fi
  gunzip -c "$src/$1-images-idx3-ubyte.gz" > "$tmp/img"
  gunzip -c "$src/$1-labels-idx1-ubyte.gz" > "$tmp/lab"
  "$tool" "$tmp/img" "$tmp/lab" data/fashion.names "data/fashion/$2" "data/fashion/$4"
  echo "data/fashion/$2: $(wc -l < "data/fashion/$4") images"
}
convert train train 60000 train.list
convert t10k test 10000 valid.list
cat > data/fashion.data <<DATA
classes=10
train=data/fashion/train.list
valid=data/fashion/valid.list
labels=data/fashion.names
names=data/fashion.names
backup=backup/
top=2
DATA
mkdir -p backup
echo "wrote data/fashion.data"
