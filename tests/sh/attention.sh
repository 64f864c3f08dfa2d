#!/usr/bin/env bash
# AlexeyAB's attention layers in a whole network (cfg/yolo-attention-shapes.cfg: an SE block
# with [scale_channels], a [sam]): detector train at 2 bits with random=1 (the first
# iteration resizes the network), on the CPU and on the simulated device (DN_BACKEND=devsim,
# whose memory faults when touched outside the backend). The oracle is the CPU run: the
# device run's weights and loss lines must equal it bit for bit. Gradients themselves are
# checked by test_gradcheck (float64 finite differences) and test_actnn_train.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env attention

shapes_sides 8 2 || { echo "FAIL make_shapes"; exit 1; }
$O cfgset cfg/yolo-attention-shapes.cfg "$T/a.cfg" width=64 height=64 batch=4 subdivisions=1 \
  max_batches=3 burn_in=0 actnn_bits=2 > /dev/null
sed -i 's/^random=0/random=1/' "$T/a.cfg"   # [yolo]'s
cd "$T"
notime() { sed 's/[0-9.]* seconds//; s/[0-9.]* hours left//' "$1" | grep -v '^seed:\|^device:'; }
for side in cpu dev; do
  if [ $side = dev ]; then export DN_BACKEND=devsim; else unset DN_BACKEND; fi
  "$DN" -seed 5 detector train $side.data a.cfg -dont_show > tr_$side.out 2> tr_$side.err
  echo $? > tr_$side.rc
done
unset DN_BACKEND
check "train exit 0 on both" [ "$(cat tr_cpu.rc tr_dev.rc | tr -d '\n')" = 00 ]
check "layers listed" has tr_cpu.err "scale_channels"
check "sam listed" has tr_cpu.err " sam "
check "resized by random=1" has tr_cpu.out "Resizing"
check "devsim run was placed" has tr_dev.err "^device: devsim"
check "losses finite" bash -c "grep 'avg loss' tr_cpu.out | grep -qv 'nan\|inf'"
check "3 iterations" [ "$(grep -c 'avg loss' tr_cpu.out)" = 3 ]
check "_final.weights equal" same_nonempty cpu/a_final.weights dev/a_final.weights
check "training lines equal (times aside)" cmp -s <(notime tr_cpu.out | grep 'avg loss') <(notime tr_dev.out | grep 'avg loss')
exit $fails
