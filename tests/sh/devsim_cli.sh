#!/usr/bin/env bash
# The commands a GPU user runs, on the simulated device (DN_BACKEND=devsim, docs/gpu.md):
# the network is placed on a backend whose memory faults when touched outside it, and every
# result must equal the CPU run's bit for bit: detector train with -map (mosaic, _best and
# _final weights), a resume from the saved weights and .state, detector test (boxes),
# detector map, classifier train and classifier predict. The oracle is the same command on
# the CPU backend.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env devsim_cli

shapes_sides 8 4 || { echo "FAIL make_shapes"; exit 1; }
$O cfgset cfg/yolov4-tiny-shapes.cfg "$T/y.cfg" width=64 height=64 batch=4 subdivisions=1 \
  max_batches=4 burn_in=0 mosaic=1 actnn_bits=2 > /dev/null
cd "$T"
notime() { sed 's/[0-9.]* seconds//; s/[0-9.]* hours left//' "$1" | grep -v '^seed:\|^device:'; }
run() { # run <cpu|dev> <args...>: the command on the CPU or on devsim
  local side=$1; shift
  if [ "$side" = dev ]; then DN_BACKEND=devsim "$DN" "$@"; else "$DN" "$@"; fi
}

for side in cpu dev; do
  DN_MAP_EVERY=2 run $side -seed 4 detector train $side.data y.cfg -dont_show -map > tr_$side.out 2> tr_$side.err
  echo $? > tr_$side.rc
done
check "train exit 0 on both" [ "$(cat tr_cpu.rc tr_dev.rc | tr -d '\n')" = 00 ]
check "devsim run was placed" has tr_dev.err "^device: devsim"
check "_final.weights equal" cmp -s cpu/y_final.weights dev/y_final.weights
check "_best.weights equal" cmp -s cpu/y_best.weights dev/y_best.weights
check "training lines equal (times aside)" cmp -s <(notime tr_cpu.out | grep 'avg loss') <(notime tr_dev.out | grep 'avg loss')
check "mAP lines equal" cmp -s <(notime tr_cpu.out | grep 'mAP@0.50') <(notime tr_dev.out | grep 'mAP@0.50')

# resume: 2 more iterations from the weights and .state written from the device
$O cfgset y.cfg y6.cfg max_batches=6 > /dev/null
for side in cpu dev; do
  run $side -seed 4 detector train $side.data y6.cfg $side/y_final.weights -dont_show > re_$side.out 2> re_$side.err
  echo $? > re_$side.rc
done
check "resume exit 0 on both" [ "$(cat re_cpu.rc re_dev.rc | tr -d '\n')" = 00 ]
check "resumed weights equal" cmp -s cpu/y6_final.weights dev/y6_final.weights

# inference on the device: boxes and mAP
img=$(head -1 set/valid.txt)
# (boxes from seeded weights without batch norm: four training steps leave none above any
# useful threshold)
sed 's/batch_normalize=1/batch_normalize=0/' y.cfg > ynb.cfg
for side in cpu dev; do
  run $side -seed 3 detector test cpu.data ynb.cfg '' "$img" -thresh 0.3 -dont_show -ext_output \
    > te_$side.out 2>&1
  run $side detector map cpu.data y.cfg cpu/y_final.weights > map_$side.out 2>&1
done
check "detector test boxes equal" cmp -s <(notime te_cpu.out) <(notime te_dev.out)
check "detector test printed boxes" [ "$(grep -c 'left_x:' te_cpu.out)" -ge 1 ]
check "detector map equal" cmp -s <(grep 'mean average precision' map_cpu.out) <(grep 'mean average precision' map_dev.out)

# classifier
grey_set 16 cnames cimg clist.txt || { echo "FAIL idx2png"; exit 1; }
printf 'classes=10\ntrain=clist.txt\nvalid=clist.txt\nlabels=cnames\nbackup=cb_cpu\n' > c_cpu.data
printf 'classes=10\ntrain=clist.txt\nvalid=clist.txt\nlabels=cnames\nbackup=cb_dev\n' > c_dev.data
mkdir -p cb_cpu cb_dev
cat > c.cfg <<'CFG'
[net]
batch=4
subdivisions=1
width=28
height=28
channels=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=5
actnn_bits=2
[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[dropout]
probability=0.2
[connected]
output=10
activation=linear
[softmax]
groups=1
CFG
for side in cpu dev; do
  run $side classifier train c_$side.data c.cfg -seed 2 > ct_$side.out 2> ct_$side.err
  echo $? > ct_$side.rc
  run $side classifier predict c_cpu.data c.cfg cb_cpu/c_final.weights "$(head -1 clist.txt)" > cp_$side.out 2>&1
done
check "classifier train exit 0 on both" [ "$(cat ct_cpu.rc ct_dev.rc | tr -d '\n')" = 00 ]
check "classifier weights equal" cmp -s cb_cpu/c_final.weights cb_dev/c_final.weights
check "classifier predict equal" cmp -s <(grep '%:' cp_cpu.out) <(grep '%:' cp_dev.out)
check "classifier predict printed" [ "$(grep -c '%:' cp_cpu.out)" -ge 1 ]

# DN_GPU_BUDGET_MB turns streamed segments on in a device run when the device plan without
# them does not fit (as a cgroup cap does on the CPU), and the run still trains as the CPU
# does with actnn_stream=1. Budget: between the device plans with and without streaming
# (yolov3-tiny at 416, mini-batch 4: streaming pays only from about 416 px).
devtot() { "$DN" memory "$1" -gpu 2>/dev/null | sed -n 's/^device plan.*total_device_mib=\([0-9.]*\).*/\1/p'; }
$O cfgset "$ROOT/cfg/yolov3-tiny-shapes.cfg" yb.cfg width=416 height=416 batch=4 subdivisions=1 \
  max_batches=2 burn_in=0 actnn_bits=2 > /dev/null
$O cfgset yb.cfg ybs.cfg actnn_stream=1 > /dev/null
t0=$(devtot yb.cfg); t1=$(devtot ybs.cfg)
mid=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (a + b) / 2 }')
check "streaming lowers the device plan by more than 2 MiB ($t0 -> $t1)" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(a - b > 2) }'
DN_GPU_BUDGET_MB=$mid run dev -seed 4 detector train dev.data yb.cfg -dont_show > bs_dev.out 2> bs_dev.err
check "under DN_GPU_BUDGET_MB=$mid the device run trains" [ $? = 0 ]
check "and streams, saying why" has bs_dev.err "^streamed segments: on: .* of device memory .*(DN_GPU_BUDGET_MB=$mid)"
run cpu -seed 4 detector train cpu.data ybs.cfg -dont_show > bs_cpu.out 2> bs_cpu.err
check "the same weights as the CPU with actnn_stream=1" cmp -s cpu/ybs_final.weights dev/yb_final.weights
# Without a budget a device run sizes itself to the card: DEVICE_SHARE (90 %) of the memory
# free on it (budget.h; devsim's card: DN_DEVSIM_MEM_MB). A card whose 90 % lies between the
# plans streams; one below the streamed plan stops with the out-of-memory message, exit 1,
# and leaves the saved weights as they were.
card=$(awk -v m="$mid" 'BEGIN { printf "%d", m / 0.9 + 1 }')
rm -f dev/yb_final.weights
DN_DEVSIM_MEM_MB=$card run dev -seed 4 detector train dev.data yb.cfg -dont_show > cs_dev.out 2> cs_dev.err
check "on a $card MiB card the device run trains" [ $? = 0 ]
check "and streams, saying why" has cs_dev.err "^streamed segments: on: .* of device memory .*(90% of the $card MiB free on devsim)"
check "the same weights as the CPU with actnn_stream=1" cmp -s cpu/ybs_final.weights dev/yb_final.weights
small=$(awk -v b="$t1" 'BEGIN { printf "%d", b - 6 }')
DN_DEVSIM_MEM_MB=$small run dev -seed 4 detector train dev.data yb.cfg -dont_show > cn_dev.out 2> cn_dev.err
check "on a $small MiB card (plan $t1 MiB) training stops with exit 1" [ $? = 1 ]
check "warned before training that the plan does not fit" has cn_dev.err "^device: the plan needs $t1 MiB of device memory, more than"
check "out-of-memory message: asked, free, planned" has cn_dev.err "out of GPU memory allocating .*: asked .* MiB, free .* MiB of the DN_DEVSIM_MEM_MB=$small budget .*the plan needs $t1 MiB"
check "what to change" has cn_dev.err "Lower actnn_bits .* or raise subdivisions"
check "the saved weights are untouched" cmp -s cpu/ybs_final.weights dev/yb_final.weights
DN_GPU_BUDGET_MB=$small run dev -seed 4 detector train dev.data yb.cfg -dont_show > cg_dev.out 2> cg_dev.err
check "DN_GPU_BUDGET_MB=$small refuses as the CUDA allocator does (exit 1)" [ $? = 1 ]
check "with the budget's message" has cg_dev.err "out of GPU memory allocating .* of the DN_GPU_BUDGET_MB=$small budget"
DN_DEVSIM_MEM_MB=12x run dev -seed 4 detector train dev.data yb.cfg -dont_show > cx_dev.out 2> cx_dev.err
check "a malformed DN_DEVSIM_MEM_MB is an error, exit 1" [ $? = 1 ]
check "naming the variable" has cx_dev.err "DN_DEVSIM_MEM_MB='12x': expected a whole number of MiB"
big=$(awk -v a="$t0" 'BEGIN { printf "%d", a + 50 }')
DN_GPU_BUDGET_MB=$big run dev -seed 4 detector train dev.data yb.cfg -dont_show > bb_dev.out 2> bb_dev.err
check "a budget above the plan leaves them off" has bb_dev.err "^streamed segments: off: .* of device memory .*(DN_GPU_BUDGET_MB=$big)"
exit $((fails > 0))
