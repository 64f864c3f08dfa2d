#!/usr/bin/env bash
# figures.sh: regenerates the figures of README.md and docs/ from the scripts that made them.
# Every table in README.md names one group below; `make figures` runs them all.
#
#   scripts/figures.sh              every group (hours on 2 shared cores: not part of make test)
#   scripts/figures.sh quick        the groups that take minutes: plans, demo, plugin
#   scripts/figures.sh NAME...      the named groups
#   scripts/figures.sh list         the groups and their commands
#
# Each group's output goes to $OUT/NAME.log (OUT default build/figures), headed by the UTC
# date, the commit and the command; the README tables are copied from these logs by hand.
# Timings are noisy on a shared machine: the scripts report medians of interleaved runs and
# ratios from one run (see each script's header).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build/figures}
mkdir -p "$OUT"

# name|minutes (rough, 2 cores)|command
GROUPS_TABLE='plans|1|scripts/figures.sh --plans
demo|5|scripts/demo.sh
plugin|3|scripts/bench_actnn.sh 3 64
speed_classifier|20|scripts/bench_classifier.sh && SIZE=128 ITERS=3 scripts/bench_classifier.sh
speed_detector|15|SIZE=416 BATCH=4 DN_ITERS=3 SKIP_MAP=1 NTRAIN=40 NVALID=10 scripts/bench_detector.sh
memory|60|scripts/make_shapes.sh && THREADS=1 REF=/usr/bin/darknet REPS=3 ITERS=3 BITS="32 2 2s" scripts/compare_memory.sh data/shapes.data cfg/yolov3-tiny-shapes.cfg 16
max_batch|60|scripts/figures.sh --budgets && REF=1 DARKNET=/usr/bin/darknet START=16 MAX=17 TIMEOUT=900 scripts/max_batch.sh data/shapes.data cfg/yolov3-tiny-shapes.cfg 2048 && BITS=32 START=45 MAX=48 TIMEOUT=1500 scripts/max_batch.sh data/shapes.data cfg/yolov3-tiny-shapes.cfg 2048 && BITS=2 START=352 MAX=384 RES=20 TIMEOUT=2400 scripts/max_batch.sh data/shapes.data cfg/yolov3-tiny-shapes.cfg 2048 && BITS=32 START=37 MAX=38 TIMEOUT=900 scripts/max_batch.sh data/shapes.data cfg/yolov4-tiny-shapes.cfg 2048 && BITS=2 START=314 MAX=319 RES=20 TIMEOUT=1800 scripts/max_batch.sh data/shapes.data cfg/yolov4-tiny-shapes.cfg 2048
fashion|30|scripts/fashion_mnist.sh && SEED=7 scripts/accuracy.sh data/fashion.data cfg/fashion.cfg 1500
shapes_steps|180|POLICY=steps SEEDS="1 2 3" KEYS=actnn_auto=0 scripts/accuracy_shapes.sh cfg/yolov3-tiny-shapes.cfg 1000
shapes_constant|180|SEEDS="1 2 3" KEYS=actnn_auto=0 scripts/accuracy_shapes.sh cfg/yolov3-tiny-shapes.cfg 1000 && FP32=0 SEEDS="1 2 3" scripts/accuracy_shapes.sh cfg/yolov3-tiny-shapes.cfg 1000
peak|8|ITERS=6 ROUNDS=3 REPS=2 MD=1 scripts/bench_peak.sh
grad_variance|10|scripts/grad_variance.sh
mpi_speed|6|scripts/bench_mpi.sh
mpi_fashion|40|scripts/fashion_mnist.sh && scripts/accuracy_mpi.sh
overfit|5|scripts/overfit.sh
detection_96|15|SIZE=96 BATCH=8 ITERS=300 SKIP_DN=1 NTRAIN=200 NVALID=50 LR=0.002 BURN_IN=100 scripts/bench_detector.sh
swap_devsim|10|MB=32 ITERS=2 scripts/swap_devsim.sh
converge_v3|180|set -e; for s in 1 2 3; do E="OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 POLICY=cfg MAP_EVERY=500 CURVES=build/curves SEEDS=$s"; env $E scripts/accuracy_shapes.sh cfg/yolov3-tiny-shapes.cfg 5000; env $E FP32=0 KEYS=actnn_auto=0 scripts/accuracy_shapes.sh cfg/yolov3-tiny-shapes.cfg 5000; done; scripts/plot_curves.sh build/curves/yolov3-tiny-shapes.png build/curves/yolov3-tiny-shapes_*_s*.csv
converge_v4|360|set -e; for s in 1 2 3 4 5 6; do E="OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 POLICY=cfg MAP_EVERY=500 CURVES=build/curves SEEDS=$s"; env $E scripts/accuracy_shapes.sh cfg/yolov4-tiny-shapes.cfg 5000; env $E FP32=0 KEYS=actnn_auto=0 scripts/accuracy_shapes.sh cfg/yolov4-tiny-shapes.cfg 5000; done; C=build/curves/yolov4-tiny-shapes; for b in 32 2 2_actnn_auto_0; do scripts/mean_curves.sh ${C}_mean_$b.csv ${C}_${b}_s*.csv; done; scripts/plot_curves.sh $C.png ${C}_mean_32.csv ${C}_mean_2.csv ${C}_mean_2_actnn_auto_0.csv
detection_416|45|SIZE=416 BATCH=8 ITERS=300 SKIP_DN=1 NTRAIN=200 NVALID=50 LR=0.002 BURN_IN=100 scripts/bench_detector.sh'
QUICK="plans demo plugin"

cmd_of() { printf '%s\n' "$GROUPS_TABLE" | awk -F'|' -v n="$1" '$1 == n { print $3 }'; }
names() { printf '%s\n' "$GROUPS_TABLE" | cut -d'|' -f1; }

run_group() {
    local name=$1 cmd
    cmd=$(cmd_of "$name")
    [ -n "$cmd" ] || { echo "figures.sh: unknown group '$name' (scripts/figures.sh list)" >&2; return 2; }
    local log=$OUT/$name.log
    {
        echo "# figures: $name"
        echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "# command: $cmd"
    } > "$log"
    echo "== $name: $cmd (log $log)"
    # OUT means a file to several of the group scripts (bench_detector.sh's report): the
    # groups run without ours, or an OUT folder given here would break them
    if env -u OUT bash -c "$cmd" >> "$log" 2>&1; then
        echo "   done $(date -u '+%H:%M UTC')"
    else
        echo "   FAILED (see $log)"; return 1
    fi
}

# The planned arenas with and without streamed pairs / zero-copy routes (README, docs/memory.md).
plans() {
    local t c
    t=$(mktemp -d); trap 'rm -rf "$t"' RETURN
    for c in yolov3-tiny-actnn yolov4-tiny-actnn; do
        ./darknet memory cfg/$c.cfg -batch 16 | grep -E '^(total|planned)'
    done
    for c in yolov3-tiny-shapes yolov4-tiny-shapes; do
        scripts/cfg_variant.sh cfg/$c.cfg "$t/$c.cfg" 2 16 3
    done
    cp cfg/yolov3-tiny-actnn.cfg cfg/yolov4-tiny-actnn.cfg "$t/"
    for c in yolov3-tiny-actnn yolov3-tiny-shapes yolov4-tiny-actnn yolov4-tiny-shapes; do
        for k in "# default" actnn_stream=0 actnn_concat=0; do
            sed "/^\[net\]/a $k" "$t/$c.cfg" > "$t/x.cfg"
            printf '%-20s %-16s %s\n' "$c" "${k:-default}" \
                "$(./darknet memory "$t/x.cfg" -batch 16 | grep '^total' | grep -o 'arena_mib=[0-9.]*')"
        done
    done
}

# What `./darknet memory -budget 2G` predicts for the max_batch group's copies (cfg_variant.sh
# at 2 bits, mini-batch 64: the table lists every width, and the width only changes the
# copy's actnn keys, which -budget sets per row itself).
budgets() {
    local t c
    t=$(mktemp -d); trap 'rm -rf "$t"' RETURN
    for c in yolov3-tiny-shapes yolov4-tiny-shapes; do
        scripts/cfg_variant.sh cfg/$c.cfg "$t/$c.cfg" 2 64 2
        echo "-budget 2G, $c:"
        ./darknet memory "$t/$c.cfg" -budget 2G | sed -n '/^bits/,$p'
    done
}

[ -x ./darknet ] || make -j2 all > /dev/null || { echo "figures.sh: build failed" >&2; exit 1; }
case "${1:-all}" in
--plans) plans; exit ;;
--budgets) budgets; exit ;;
list) printf '%s\n' "$GROUPS_TABLE" | awk -F'|' '{ printf "%-17s ~%4s min  %s\n", $1, $2, $3 }'; exit 0 ;;
quick) set -- $QUICK ;;
all) set -- $(names) ;;
esac
rc=0
for g in "$@"; do run_group "$g" || rc=1; done
exit $rc
