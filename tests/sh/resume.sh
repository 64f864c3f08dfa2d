#!/usr/bin/env bash
# Checkpoints and resume (docs/checkpoints.md): a run stopped after iteration k (DN_STOP_AFTER,
# the same path as SIGINT) and resumed from <cfg>_last.weights reaches the same losses and
# the same final weights, byte for byte, as an uninterrupted run with the same -seed
# (detector with burn_in + steps + subdivisions, and classifier). Without its .state file
# the resumed run differs (the momentum matters); a truncated .state is a warning. A real
# `kill -INT` / `kill -TERM` exits 0 and leaves a loadable _last.weights.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
DN=${DARKNET:-$root/darknet}
TOOLS=${DN_TOOLS:-$root/build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/resume.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$root/tests/common/checks.sh"
# Iteration, loss and rate of every training line: what must not change across a resume.
# (The running average restarts with the process, as in Darknet, so it is left out.)
det_cols() { grep ' avg loss, ' "$1" | awk -F'[:,]' '{print $1, $2, $4}'; }
cls_cols() { grep ' avg, ' "$1" | cut -d, -f1-2; }

# ---- detector: 6 iterations of 2 mini-batches of 2, lr burn-in over 4, a step at 5 ----
mkdir -p set
"$TOOLS/make_shapes" set 6 2 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > names
printf 'classes=3\ntrain=set/train.txt\nnames=names\nbackup=bk\n' > s.data
sed -e 's/^batch=64/batch=4/; s/^subdivisions=2/subdivisions=2/; s/^width=416/width=64/' \
    -e 's/^height=416/height=64/; s/^burn_in=1000/burn_in=4/; s/^max_batches = 500200/max_batches=6/' \
    -e 's/^steps=400000,450000/steps=5/; s/^scales=.1,.1/scales=.5/' \
    "$root/cfg/yolov3-tiny-shapes.cfg" > y.cfg

"$DN" -seed 7 detector train s.data y.cfg -dont_show > full.out 2> full.err
check "uninterrupted run exits 0" [ $? = 0 ]
mv bk/y_final.weights full.weights
DN_STOP_AFTER=3 "$DN" -seed 7 detector train s.data y.cfg -dont_show > a.out 2> a.err
check "stopped run exits 0" [ $? = 0 ]
check "stop message" has a.err "DN_STOP_AFTER: stopping after iteration 3"
check "stop saves _last" has a.err "Saved bk/y_last.weights at iteration 3 (12 images seen)"
check "stopped after 3 lines" [ "$(grep -c ' avg loss, ' a.out)" = 3 ]
check "no final weights when stopped" [ ! -e bk/y_final.weights ]
check "state file written" [ -s bk/y_last.weights.state ]
check "no temporary files" [ -z "$(ls bk | grep tmp)" ]
cp bk/y_last.weights last3.weights; cp bk/y_last.weights.state last3.state
"$DN" -seed 7 detector train s.data y.cfg bk/y_last.weights -dont_show > b.out 2> b.err
check "resumed run exits 0" [ $? = 0 ]
check "resume message" has b.err "Resuming from bk/y_last.weights: iteration 3 (12 images seen), optimizer state restored"
check "resumed run starts at 4" [ "$(grep -m1 ' avg loss, ' b.out | awk -F: '{print $1}')" = " 4" ]
cat a.out b.out > ab.out
check "same iterations, losses and rates as uninterrupted" [ "$(det_cols full.out)" = "$(det_cols ab.out)" ]
check "same final weights as uninterrupted" cmp -s full.weights bk/y_final.weights

# Without the optimizer state the momentum restarts at zero: the result must differ (this
# is what makes the comparison above meaningful).
cp last3.weights bk/y_last.weights; rm -f bk/y_last.weights.state bk/y_final.weights
"$DN" -seed 7 detector train s.data y.cfg bk/y_last.weights -dont_show > c.out 2> c.err
check "resume without state exits 0" [ $? = 0 ]
check "says no optimizer state" has c.err "no optimizer state"
check "zero momentum gives other weights" bash -c "! cmp -s full.weights bk/y_final.weights"

# A truncated state file is a warning, not an error.
head -c 1000 last3.state > bk/y_last.weights.state
"$DN" -seed 7 detector train s.data y.cfg bk/y_last.weights -dont_show > d.out 2> d.err
check "truncated state: exit 0" [ $? = 0 ]
check "truncated state: warning" has d.err "warning: bk/y_last.weights.state has 1000 bytes, expected .*zero momentum"
# A state left from another checkpoint (other `seen`) is ignored the same way.
cp last3.state bk/y_last.weights.state; cp full.weights bk/y_last.weights
sed 's/^max_batches=6/max_batches=7/' y.cfg > y7.cfg
cp bk/y_last.weights.state bk/y7_x.weights.state; cp full.weights bk/y7_x.weights
"$DN" -seed 7 detector train s.data y7.cfg bk/y7_x.weights -dont_show > e.out 2> e.err
check "stale state: warning" has e.err "belongs to another checkpoint (seen=12, the weights have seen=24)"

# ---- a real SIGINT: finishes the iteration, saves, exits 0 ----
sed 's/^max_batches=6/max_batches=100000/' y.cfg > long.cfg
"$DN" -seed 7 detector train s.data long.cfg -dont_show > k.out 2> k.err &
pid=$!
for i in $(seq 200); do grep -q ' 2: ' k.out && break; sleep 0.05; done
kill -INT $pid
wait $pid
check "SIGINT: exit 0" [ $? = 0 ]
check "SIGINT: message" has k.err "SIGINT: stopping after iteration"
check "SIGINT: memory line still printed" has k.out "^memory: params_mib="
check "SIGINT: _last.weights has the full size" \
  [ "$(stat -c %s bk/long_last.weights 2>/dev/null)" = "$(stat -c %s full.weights)" ]
sed 's/^max_batches=100000/max_batches=8/' long.cfg > long8.cfg
cp bk/long_last.weights bk/long8_last.weights; cp bk/long_last.weights.state bk/long8_last.weights.state
"$DN" -seed 7 detector train s.data long8.cfg bk/long8_last.weights -dont_show > k2.out 2> k2.err
check "SIGINT checkpoint resumes with its state" has k2.err "optimizer state restored"
check "SIGINT checkpoint trains on to 8" has k2.out " 8: "

# ---- classifier: stop at 7 of 20 (crossing an epoch), resume, compare; then SIGTERM ----
n=40
grey_set $n cnames img train.list || { echo "FAIL idx2png"; exit 1; }
printf 'classes=10\ntrain=train.list\nlabels=cnames\nbackup=cb\n' > c.data
cat > c.cfg <<'CFG'
[net]
batch=4
subdivisions=2
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=20
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
[dropout]
probability=.2
[connected]
output=10
activation=linear
[softmax]
CFG
"$DN" classifier train c.data c.cfg -seed 3 > cfull.out 2> /dev/null
mv cb/c_final.weights cfull.weights
DN_STOP_AFTER=7 "$DN" classifier train c.data c.cfg -seed 3 > ca.out 2> ca.err
check "classifier stop exits 0" [ $? = 0 ]
check "classifier stop saves _last" [ -s cb/c_last.weights ]
check "classifier stop saves _last.state" [ -s cb/c_last.weights.state ]
"$DN" classifier train c.data c.cfg cb/c_last.weights -seed 3 > cb.out 2> cb.err
check "classifier resume restores state" has cb.err "optimizer state restored"
cat ca.out cb.out > cab.out
check "classifier: same iterations and losses (dropout included)" [ "$(cls_cols cfull.out)" = "$(cls_cols cab.out)" ]
check "classifier: same final weights" cmp -s cfull.weights cb/c_final.weights

sed 's/^max_batches=20/max_batches=1000000/' c.cfg > clong.cfg
"$DN" classifier train c.data clong.cfg -seed 3 > t.out 2> t.err &
pid=$!
for i in $(seq 200); do grep -q '^3, ' t.out && break; sleep 0.05; done
kill -TERM $pid
wait $pid
check "SIGTERM: exit 0" [ $? = 0 ]
check "SIGTERM: message" has t.err "SIGTERM: stopping after iteration"
check "SIGTERM: _last.weights has the full size" \
  [ "$(stat -c %s cb/clong_last.weights 2>/dev/null)" = "$(stat -c %s cfull.weights)" ]

# ---- an earlier run's checkpoints are kept apart, never replaced ----------------------------
# A run that does not continue from this folder's own checkpoint moves <base>_*.weights and
# their .state into <backup>/<base>_earlier_<time>/ first (Darknet would overwrite them);
# resuming from one, by any spelling of its path, moves nothing.
mkdir -p kb; sed 's/^backup=bk/backup=kb/' s.data > k.data
DN_STOP_AFTER=2 "$DN" -seed 7 detector train k.data y.cfg -dont_show > k1.out 2> k1.err
cp kb/y_last.weights k1.weights; cp kb/y_last.weights.state k1.state
DN_STOP_AFTER=1 "$DN" -seed 8 detector train k.data y.cfg -dont_show > k2.out 2> k2.err
check "fresh run over an earlier one exits 0" [ $? = 0 ]
check "fresh run says where the earlier checkpoints went" has k2.err "2 checkpoint files of an earlier run (y_\*.weights, .backup) moved to kb/y_earlier_"
kept=$(ls -d kb/y_earlier_* 2>/dev/null | head -1)
check "the earlier _last.weights kept byte for byte" cmp -s k1.weights "$kept/y_last.weights"
check "and its .state" cmp -s k1.state "$kept/y_last.weights.state"
new_last() { [ -s kb/y_last.weights ] && ! cmp -s k1.weights kb/y_last.weights; }
check "the new run wrote its own _last" new_last
DN_STOP_AFTER=2 "$DN" -seed 8 detector train k.data y.cfg ./kb/../kb/y_last.weights -dont_show > k3.out 2> k3.err
check "resuming from its own checkpoint moves nothing" [ -z "$(grep 'moved to' k3.err)" ]
check "and resumes with its state" has k3.err "Resuming from ./kb/../kb/y_last.weights: iteration 1 .*optimizer state restored"
check "one folder of kept checkpoints" [ "$(ls -d kb/y_earlier_* | wc -l)" = 1 ]

# the classifier's <base>.backup (every 100 iterations, with its .state) and its _N.weights
mkdir -p kc; sed 's/^backup=cb/backup=kc/' c.data > kc.data
sed 's/^max_batches=20/max_batches=100/' c.cfg > ck.cfg
"$DN" classifier train kc.data ck.cfg -seed 3 > kc1.out 2> kc1.err
cp kc/ck.backup kc1.backup; cp kc/ck.backup.state kc1.state
DN_STOP_AFTER=1 "$DN" classifier train kc.data ck.cfg -seed 4 > kc2.out 2> kc2.err
check "classifier: fresh run says where the earlier checkpoints went" \
  has kc2.err "checkpoint files of an earlier run (ck_\*.weights, .backup) moved to kc/ck_earlier_"
keptc=$(ls -d kc/ck_earlier_* 2>/dev/null | head -1)
check "classifier: the earlier .backup kept byte for byte" cmp -s kc1.backup "$keptc/ck.backup"
check "classifier: and its .state" cmp -s kc1.state "$keptc/ck.backup.state"
check "classifier: nothing of the earlier run left beside the new _last" \
  [ "$(cd kc && ls -p | grep -v / | sort | tr '\n' ' ')" = "ck_last.weights ck_last.weights.state " ]
"$DN" classifier train kc.data ck.cfg "$keptc/ck.backup" -seed 3 > kc3.out 2> kc3.err
check "classifier: resuming the kept .backup restores its state" has kc3.err "optimizer state restored"

echo "$fails failed"
[ $fails = 0 ]
