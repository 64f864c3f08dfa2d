#!/usr/bin/env bash
# Data-parallel training over MPI (docs/mpi.md). The oracle is one process of the plain
# build ($DARKNET) with the same cfg, seed and global batch: `mpirun -np 2` of the MPI
# build (built here with `make MPI=1` into build/cpu-mpi) must end with the same weights
# within 1e-5 relative (max |a-b| over max |a| of the weights file), after 5 steps:
#  - classifier without batch norm, SGD with momentum and decay, 2 subdivisions;
#  - the same with adam;
#  - classifier with batch norm and sync_bn=1 (and sync_bn=0 must differ: per-rank stats);
#  - detector (yolov3-tiny-shapes at 64 px, batch norm, sync_bn=1), 3 steps.
# And: a batch that does not divide is an error; rank 0 alone prints and saves; a stop
# request on rank 1 stops both and saves once, and resuming with 2 ranks ends where one
# process ends; ranks with different weights stop with a message naming the rank; a rank
# that fails (unreadable data) stops all with a message naming it and no partial file; a
# rank killed with SIGKILL ends the job with a message naming it and the last .backup
# intact; `./darknet memory -ranks`. Skipped (exit 77, with the reason) without OpenMPI or in the
# sanitizer variant (OpenMPI's own allocations are not LeakSanitizer-clean).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
TOOLS=${DN_TOOLS:-$root/build/bin}
if [ "${DN_VARIANT:-cpu}" != cpu ]; then
  echo "skip: MPI training is tested in the plain variant only (this is ${DN_VARIANT})"; exit 77
fi
if ! command -v mpirun > /dev/null || ! command -v mpicc > /dev/null; then
  echo "skip: OpenMPI is not installed (scripts/setup.sh installs openmpi-bin libopenmpi-dev)"; exit 77
fi
make -C "$root" -s -j2 MPI=1 build/cpu-mpi/darknet > /dev/null || { echo "FAIL make MPI=1"; exit 1; }
DNM=$root/build/cpu-mpi/darknet
T=$(mktemp -d "${TMPDIR:-/tmp}/mpi_train.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cd "$T"
. "$root/tests/common/checks.sh"
# One thread per rank: the test machine may have 2 cores for both ranks.
export OMP_NUM_THREADS=1
# Weights checksum over the ranks after every iteration (the default is every 10).
export DN_DIST_CHECK=1
# timeout: a rank left waiting in a collective must fail the test, not hang it.
MPI="timeout -k 5 120 mpirun --oversubscribe --allow-run-as-root"
# Relative difference of two weights files: max |a-b| / max |a| over the floats after the
# 20-byte header (major, minor, revision, 64-bit seen; the headers are compared by cmp).
wrel() {
  paste <(od -An -v -j 20 -f -w4 "$1") <(od -An -v -j 20 -f -w4 "$2") |
    awk 'NF != 2 {bad = 1} {d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1;
         if (a > m) m = a; if (d > md) md = d} END {if (bad || !m) print 1; else print md / m}'
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }
same_weights() { # label one two
  local r; r=$(wrel "$2" "$3")
  check "$1: weights within 1e-5 relative of one process ($r)" lt "$r" 1e-5
  check "$1: same header (seen)" cmp -s <(head -c 20 "$2") <(head -c 20 "$3")
}

grey_set 64 names img train.list || { echo "FAIL idx2png"; exit 1; }
printf 'classes=10\ntrain=train.list\nlabels=names\nbackup=bk\n' > t.data
cat > nobn.cfg <<'CFG'
[net]
batch=8
subdivisions=2
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=5
min_crop=28
max_crop=28
flip=0
[convolutional]
filters=4
size=3
stride=1
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[connected]
output=10
activation=linear
[softmax]
groups=1
CFG
# eps=1e-3: Adam divides by sqrt(v) + eps, so with a tiny eps a gradient that cancels to
# ~0 over the batch has its rounding (the ranks sum in another order) magnified to a full
# step; a larger eps keeps the comparison about the update, not about float association.
sed 's/^\[net\]/[net]\nadam=1\neps=0.001\nlearning_rate=0.002/' nobn.cfg > adam.cfg
sed 's/^\[convolutional\]/[convolutional]\nbatch_normalize=1/; s/^\[net\]/[net]\nsync_bn=1/' nobn.cfg > bn.cfg
sed 's/^sync_bn=1/sync_bn=0/' bn.cfg > bnr.cfg

for c in nobn adam bn; do
  "$DN" -seed 3 classifier train t.data $c.cfg > $c.1.out 2> $c.1.err
  check "$c: one process exits 0" [ $? = 0 ]
  mv bk/${c}_final.weights $c.1.weights
  $MPI -np 2 "$DNM" -seed 3 classifier train t.data $c.cfg > $c.2.out 2> $c.2.err
  check "$c: 2 ranks exit 0" [ $? = 0 ] || tail -5 $c.2.err
  mv bk/${c}_final.weights $c.2.weights
  same_weights "$c" $c.1.weights $c.2.weights
done
check "rank 0 alone prints the 5 training lines" [ "$(grep -c ' avg, ' nobn.2.out)" = 5 ]
check "rank 0 alone saves" [ "$(grep -c 'Saving weights' nobn.2.err)" = 1 ]
check "memory line with per-rank figures" \
  grep -qE '^memory: params_mib=.* ranks=2 rank_batch=2 rank_peak_rss_mib=[0-9.]+,[0-9.]+$' nobn.2.out
$MPI -np 2 "$DNM" -seed 3 classifier train t.data bnr.cfg > bnr.out 2> bnr.err
r=$(wrel bn.1.weights bk/bnr_final.weights)
check "sync_bn=0 (per-rank statistics) differs from one process ($r > 1e-3)" lt 1e-3 "$r"

# ---- detector with batch norm and sync_bn=1 ----
mkdir -p set
"$TOOLS/make_shapes" set 8 2 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > names3
printf 'classes=3\ntrain=set/train.txt\nnames=names3\nbackup=bk\n' > s.data
sed -e 's/^batch=64/batch=4/; s/^subdivisions=2/subdivisions=1/; s/^width=416/width=64/' \
    -e 's/^height=416/height=64/; s/^burn_in=1000/burn_in=2/; s/^max_batches = 500200/max_batches=3/' \
    -e 's/^steps=400000,450000/steps=5/; s/^scales=.1,.1/scales=.5/; s/^\[net\]/[net]\nsync_bn=1/' \
    "$root/cfg/yolov3-tiny-shapes.cfg" > y.cfg
"$DN" -seed 7 detector train s.data y.cfg -dont_show > y.1.out 2> y.1.err
check "detector: one process exits 0" [ $? = 0 ]
mv bk/y_final.weights y.1.weights
$MPI -np 2 "$DNM" -seed 7 detector train s.data y.cfg -dont_show > y.2.out 2> y.2.err
check "detector: 2 ranks exit 0" [ $? = 0 ] || tail -5 y.2.err
mv bk/y_final.weights y.2.weights
same_weights "detector sync_bn" y.1.weights y.2.weights
# The gradients are one block in backward order (params.h), summed in place in buckets of
# >= 4 MiB each but the last: at most floor(bytes / 4 MiB) + 1 of them (scattered gradients
# would need one per tensor, ~30 here).
read -r nb nf <<< "$(sed -n 's/^gradient all-reduce: \([0-9]*\) buckets over \([0-9]*\) floats.*/\1 \2/p' y.2.err)"
check "detector: gradients summed in place in ${nb:-?} buckets over ${nf:-?} floats (<= floor(bytes/4MiB)+1)" \
  test "${nb:-0}" -ge 1 -a "${nb:-0}" -le $(( ${nf:-0} * 4 / 4194304 + 1 ))

# ---- errors ----
sed 's/^batch=8/batch=6/' nobn.cfg > odd.cfg
$MPI -np 2 "$DNM" classifier train t.data odd.cfg > odd.out 2> odd.err
check "mini-batch 3 over 2 ranks: non-zero exit" [ $? != 0 ]
check "mini-batch 3 over 2 ranks: message" has odd.err "odd.cfg: the mini-batch batch/subdivisions = 6/2 = 3 does not divide over 2 ranks"
check "mini-batch 3 over 2 ranks: nothing saved" [ ! -e bk/odd_final.weights ]

# A stop request on rank 1 only (MPMD launch): both stop after iteration 2, rank 0 saves.
sed 's/^max_batches=5/max_batches=100000/' nobn.cfg > long.cfg
$MPI -np 1 "$DNM" -seed 3 classifier train t.data long.cfg : \
     -np 1 env DN_STOP_AFTER=2 "$DNM" -seed 3 classifier train t.data long.cfg > st.out 2> st.err
check "stop on rank 1: exit 0" [ $? = 0 ]
check "stop on rank 1: message" has st.err "rank 1: DN_STOP_AFTER: stopping all ranks after iteration 2"
check "stop on rank 1: saved once" [ "$(grep -c 'Saved bk/long_last.weights at iteration 2' st.err)" = 1 ]
# Resume with the same 2 ranks to 5 steps: the same weights as one uninterrupted process.
sed 's/^max_batches=100000/max_batches=5/' long.cfg > long5.cfg
cp bk/long_last.weights bk/long5_last.weights; cp bk/long_last.weights.state bk/long5_last.weights.state
$MPI -np 2 "$DNM" -seed 3 classifier train t.data long5.cfg bk/long5_last.weights > re.out 2> re.err
check "resume with 2 ranks: exit 0" [ $? = 0 ]
check "resume with 2 ranks: state restored" has re.err "Resuming from bk/long5_last.weights: iteration 2 (16 images seen), optimizer state restored"
same_weights "stopped at 2, resumed to 5" nobn.1.weights bk/long5_final.weights

# Rank 1 starts from other weights: the checksum stops both before training.
"$DN" -seed 9 classifier train t.data nobn.cfg > /dev/null 2>&1; mv bk/nobn_final.weights other.weights
$MPI -np 1 "$DNM" -seed 3 classifier train t.data nobn.cfg nobn.1.weights : \
     -np 1 "$DNM" -seed 3 classifier train t.data nobn.cfg other.weights > dr.out 2> dr.err
check "different weights on rank 1: non-zero exit" [ $? != 0 ]
check "different weights on rank 1: message names it" has dr.err "weights checksum at iteration 0: rank(s) 1 differ from rank 0"

# Rank 1 cannot read its images: every rank stops, the message names rank 1, no file.
mkdir -p none; sed 's|^img/|none/|' train.list > bad.list
printf 'classes=10\ntrain=bad.list\nlabels=names\nbackup=bk\n' > bad.data
rm -f bk/*
$MPI -np 1 "$DNM" -seed 3 classifier train t.data long.cfg : \
     -np 1 "$DNM" -seed 3 classifier train bad.data long.cfg > fl.out 2> fl.err
check "failing rank 1: non-zero exit" [ $? != 0 ]
check "failing rank 1: message names it" has fl.err "rank 1 of 2 failed: stopping all ranks"
check "failing rank 1: no weights file, partial or not" [ -z "$(ls bk)" ]

# ---- rank 1 killed (SIGKILL) while training: the last good weights stay intact, and
# the job ends with a message naming rank 1 ----
rm -f bk/*
$MPI -np 2 "$DNM" -seed 3 classifier train t.data long.cfg > kl.out 2> kl.err &
mpid=$!
for i in $(seq 600); do grep -q '^120, ' kl.out 2> /dev/null && break; sleep 0.05; done
r1=""
for p in $(ps -o pid= --ppid "$(pgrep -P $mpid -x mpirun || echo $mpid)" 2> /dev/null); do
  tr '\0' '\n' < /proc/$p/environ 2> /dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && r1=$p
done
check "kill: found rank 1's process" [ -n "$r1" ]
[ -n "$r1" ] && kill -KILL "$r1"
wait $mpid
check "kill: the job exits non-zero" [ $? != 0 ]
check "kill: the message names rank 1" grep -qE 'process rank 1 .*(signal 9|Killed)|rank 1 .*failed' kl.err
check "kill: the last .backup has the full size" [ "$(stat -c %s bk/long.backup 2> /dev/null)" = "$(stat -c %s nobn.1.weights)" ]
printf 'classes=10\nvalid=train.list\nlabels=names\n' > v.data
"$DN" classifier valid v.data nobn.cfg bk/long.backup > kv.out 2> kv.err
check "kill: the last .backup loads (classifier valid)" [ $? = 0 ]

# ---- ranks on a device without NCCL (the simulated device, DN_BACKEND=devsim) ----
DN_BACKEND=devsim $MPI -np 2 "$DNM" -seed 3 classifier train t.data nobn.cfg > dv.out 2> dv.err
check "device ranks without NCCL: exit 1" [ $? != 0 ]
check "device ranks without NCCL: says how to build it" has dv.err "MPI ranks on GPUs need an NCCL build"

# ---- ./darknet memory -ranks ----
"$DN" memory "$root/cfg/yolov3-tiny-shapes.cfg" -ranks 4 > m4.txt 2> /dev/null
check "memory -ranks 4: one rank's share" has m4.txt "ranks: 4, mini-batch 32 split as 8 per rank"
check "memory -ranks 4: plan at mini-batch 8" has m4.txt "^total: mini-batch=8 "
"$DN" memory "$root/cfg/yolov3-tiny-shapes.cfg" -ranks 3 > m3.txt 2> m3.err
check "memory -ranks 3: does not divide" has m3.err "the mini-batch 32 does not divide over 3 ranks"

echo "$fails failed"
[ $fails = 0 ]
