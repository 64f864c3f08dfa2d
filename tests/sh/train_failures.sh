#!/usr/bin/env bash
# Training that cannot go on stops cleanly (docs/checkpoints.md):
# - NaN/inf: a learning rate that explodes stops the run with exit 1 and a message naming the
#   layer where the first non-finite value appeared; nothing is saved after that, and the
#   last checkpoint written before holds finite weights.
# - Out of memory under `prlimit --as`: for mini-batches that fail at different allocations
#   (input, loader buffers, saved activations) the run exits 1 within seconds (never hangs:
#   OpenBLAS used to spin for ever when its buffers could not be mapped) with what was asked
#   and what to change.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
TOOLS=${DN_TOOLS:-$root/build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/train_failures.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$root/tests/common/checks.sh"
# od prints non-finite floats as nan/inf.
finite_file() { ! od -An -v -f -j 20 "$1" | grep -qiE 'nan|inf'; }

n=40
grey_set $n names img train.list || { echo "FAIL idx2png"; exit 1; }
printf 'classes=10\ntrain=train.list\nlabels=names\nbackup=bk\n' > t.data
cat > t.cfg <<'CFG'
[net]
batch=4
subdivisions=1
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=300
policy=steps
steps=12
scales=100000000
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

# ---- NaN/inf: the rate jumps 1e8-fold at iteration 12; epoch 1 (iteration 10) was saved ----
"$DN" classifier train t.data t.cfg -seed 3 > nan.out 2> nan.err
check "diverging run exits 1" [ $? = 1 ]
check "names the iteration and the layer" \
  has nan.err "training stopped at iteration 1[2-9]: the loss is .*; the first non-finite value appeared in layer [0-9] ("
check "names the last good checkpoint" has nan.err "the last good checkpoint is bk/t_1.weights"
check "nothing saved after divergence" [ "$(ls bk)" = t_1.weights ]
check "the last checkpoint is finite" finite_file bk/t_1.weights

# The same run on the simulated device (DN_BACKEND=devsim): the NaN check runs there
# (nonfinite_mark flags, one small copy an iteration, not a pull of every weight) and must
# stop at the same iteration, name the same layer and phase, and keep the same checkpoint.
printf 'classes=10\ntrain=train.list\nlabels=names\nbackup=dbk\n' > tdev.data
DN_BACKEND=devsim "$DN" classifier train tdev.data t.cfg -seed 3 > devnan.out 2> devnan.err
check "devsim: diverging run exits 1" [ $? = 1 ]
check "devsim: was placed" has devnan.err "^device: devsim"
check "devsim: the CPU's stop message (iteration, loss, layer, phase)" \
  cmp -s <(grep 'training stopped' nan.err) <(grep 'training stopped' devnan.err)
check "devsim: names its last good checkpoint" has devnan.err "the last good checkpoint is dbk/t_1.weights"
check "devsim: nothing saved after divergence" [ "$(ls dbk)" = t_1.weights ]
check "devsim: the CPU's last checkpoint" cmp -s bk/t_1.weights dbk/t_1.weights

# The detector reaches an overflow in backward first: it names that layer and saves nothing.
mkdir -p set
"$TOOLS/make_shapes" set 4 2 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'a\nb\nc\n' > dnames
printf 'classes=3\ntrain=set/train.txt\nnames=dnames\nbackup=db\n' > d.data
sed -e 's/^batch=64/batch=2/; s/^subdivisions=2/subdivisions=1/; s/^width=416/width=64/' \
    -e 's/^height=416/height=64/; s/^burn_in=1000/burn_in=0/; s/^max_batches = 500200/max_batches=30/' \
    -e 's/^learning_rate=0.001/learning_rate=1000000/' "$root/cfg/yolov3-tiny-shapes.cfg" > y.cfg
"$DN" -seed 1 detector train d.data y.cfg -dont_show > dnan.out 2> dnan.err
check "detector diverging run exits 1" [ $? = 1 ]
check "detector names a layer" has dnan.err "the first non-finite value appeared in layer [0-9]* (convolutional)"
check "detector saved nothing" [ -z "$(ls db 2>/dev/null)" ]
# ... and on devsim, where the watch marks outputs and deltas on the device: the same
# iteration, layer and phase (a delta in backward) as the CPU's hooks found.
printf 'classes=3\ntrain=set/train.txt\nnames=dnames\nbackup=ddb\n' > dd.data
DN_BACKEND=devsim "$DN" -seed 1 detector train dd.data y.cfg -dont_show > ddnan.out 2> ddnan.err
check "devsim detector: diverging run exits 1" [ $? = 1 ]
check "devsim detector: the CPU's stop message" \
  cmp -s <(grep 'training stopped' dnan.err) <(grep 'training stopped' ddnan.err)
check "devsim detector saved nothing" [ -z "$(ls ddb 2>/dev/null)" ]

# ---- out of memory under an address-space limit ----
# AddressSanitizer reserves terabytes of shadow address space at start, so no sanitized
# binary can run under an address-space cap: these checks belong to the plain build
# (`make test`), which CI runs before the sanitizer suite.
if ! command -v prlimit > /dev/null; then
  echo "skip out-of-memory checks: prlimit (util-linux) is not installed"
elif sanitized; then
  echo "out-of-memory checks not run with the ASan build ($DN_VARIANT): they run in the plain build"
else
  limit=1000000000
  sed 's/^max_batches=300/max_batches=1/; s/^steps=12/steps=1000/' t.cfg > base.cfg
  nfail=0
  # Parse-time input, loader buffers, saved activations, and 30000: the size that hung.
  for b in 1000000 200000 35000 30000; do
    sed "s/^batch=4/batch=$b/" base.cfg > b$b.cfg
    timeout -k 5 25 prlimit --as=$limit "$DN" classifier train t.data b$b.cfg -seed 1 > o$b 2>&1
    rc=$?
    check "batch $b under ${limit} bytes: exit 0 or 1, no hang or crash (rc $rc)" [ $rc = 0 -o $rc = 1 ]
    if [ $rc = 1 ]; then
      nfail=$((nfail + 1))
      check "batch $b: says out of memory" has o$b "out of memory"
      check "batch $b: says what to change" has o$b "raise subdivisions= in \[net\].*actnn_bits=2"
    fi
  done
  check "the largest batches ran out of memory" [ $nfail -ge 3 ]
  # A batch whose plan fits but whose saved activations do not: where that window lies
  # depends on the address space the libraries reserve (OpenBLAS's builds differ by
  # hundreds of MiB), so try sizes 10-15% apart from the top, narrower than the window
  # (saving adds half the arena), and stop at the first that fails while saving. Each
  # run must end by itself: OpenBLAS retries a buffer it cannot map for ever, and one run
  # in four hung here until the first GEMM mapped every thread's buffer (test_blas_buffers),
  # and the loader ran ten times slower until it made its malloc arena at start (loader.c).
  sv= hangs=
  for b in 40000 35000 31000 27000 24000 21000 19000 17000 15000; do
    sed "s/^batch=4/batch=$b/" base.cfg > s$b.cfg
    timeout -k 5 25 prlimit --as=$limit "$DN" classifier train t.data s$b.cfg -seed 1 > s$b 2>&1
    rc=$?
    [ $rc = 0 -o $rc = 1 ] || hangs="$hangs $b(rc $rc)"
    grep -q "saving .* of layer 0" s$b && { sv=$b; break; }
  done
  check "every batch tried exits 0 or 1 by itself (${hangs:-all did})" [ -z "$hangs" ]
  check "a batch fails while saving activations (${sv:-none of 40000..15000})" [ -n "$sv" ]
  mib=$(awk -v b="${sv:-0}" 'BEGIN{printf "%.1f", b * 784 * 4 / 1048576}')
  check "saved-activation failure says what was asked" \
    has s$sv "saving .* of layer 0 ($sv samples x 784 values at 32 bits, $mib MiB as fp32"
  check "and what the plan needed" has s$sv "memory for mini-batch $sv .* activation arena"
  check "loader failure names its batches" has o200000 "loader: out of memory for a batch of 200000 samples"
fi

echo "$fails failed"
[ $fails = 0 ]
