#!/usr/bin/env bash
# Detector benchmark on the synthetic shapes set (random=0 everywhere):
#   1. trains cfg/yolov3-tiny-shapes.cfg and cfg/yolov4-tiny-shapes.cfg for ITERS iterations
#      and prints mAP@0.5 (VOC 11-point) on the valid list before (random init) and after;
#   2. times yolov3-tiny training against Debian's /usr/bin/darknet on the same cfg and
#      data: seconds per iteration (mean over iterations after the first) and peak RSS from
#      /usr/bin/time -v, and the speed ratio.
# Settings (environment): SIZE=416 BATCH=8 ITERS=100 DN_ITERS=3 LR=0.001 BURN_IN=0 NTRAIN=200
#   NVALID=50 (constant rate after BURN_IN iterations of Darknet's (i/burn_in)^4 warm-up)
#   SKIP_MAP=1 skips part 1, SKIP_DN=1 skips part 2. Output also goes to $OUT (default
#   bench_detector.txt). Example (what docs/detector.md reports):
#   SIZE=416 BATCH=4 ITERS=4 DN_ITERS=2 SKIP_MAP=1 scripts/bench_detector.sh
set -u
cd "$(dirname "$0")/.."
SIZE=${SIZE:-416} BATCH=${BATCH:-8} ITERS=${ITERS:-100} DN_ITERS=${DN_ITERS:-3} LR=${LR:-0.001} BURN_IN=${BURN_IN:-0}
NTRAIN=${NTRAIN:-200} NVALID=${NVALID:-50} OUT=${OUT:-bench_detector.txt}
DN=${DARKNET:-./darknet}
O=build/oracle/dn_oracle
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_detector.XXXXXX")
trap 'rm -rf "$T"' EXIT
make -s -j2 all tools oracle > /dev/null || { echo "build failed"; exit 1; }
# On a shared 2-core box libgomp's spinning waits eat most of the time (perf: ~60% in
# libgomp spin + sched_yield), and on CPUs OpenBLAS cannot name ("Intel Xeon Processor")
# it falls back to its SSE3 Prescott kernels. Both are fixed from the environment here;
# set them yourself to measure without.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
grep -qw avx2 /proc/cpuinfo && export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
# the set lives in the temporary folder: data/shapes (what `make demo` uses) stays as it is
SHAPES_DIR=$T/shapes SHAPES_DATA=$T/shapes0.data scripts/make_shapes.sh "$NTRAIN" "$NVALID" "$SIZE" "$SIZE" 1 > /dev/null
sed "s|^backup.*|backup = $T/backup/|" $T/shapes0.data > $T/shapes.data
mkdir -p $T/backup $T/backup_dn
: > "$OUT"
say() { echo "$*" | tee -a "$OUT"; }
say "bench_detector: size=$SIZE batch=$BATCH iters=$ITERS dn_iters=$DN_ITERS lr=$LR burn_in=$BURN_IN train=$NTRAIN valid=$NVALID ($(nproc) cpus, load $(cut -d' ' -f1 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}, $(date -u +%FT%TZ))"

derive() { # cfg out iters
  $O cfgset "$1" "$2" width=$SIZE height=$SIZE batch=$BATCH subdivisions=1 max_batches=$3 \
    burn_in=$BURN_IN learning_rate=$LR policy=constant > /dev/null
}
map_of() { $DN detector map $T/shapes.data "$@" -points 11 2>/dev/null | sed -n 's/.*(mAP@0.50) = \([0-9.]*\),.*/\1/p'; }
# mean seconds per iteration, first iteration left out (it pays one-off allocations)
secs() { awk '/ seconds, /{for(i=1;i<=NF;i++) if($(i)=="seconds,") {n++; if(n>1){s+=$(i-1); k++}}} END{if(k) printf "%.3f", s/k; else print "nan"}' "$1"; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{printf "%.0f", $1/1024}'; }

if [ "${SKIP_MAP:-0}" != 1 ]; then
  for v in 3 4; do
    derive cfg/yolov$v-tiny-shapes.cfg $T/y$v.cfg $ITERS
    before=$(map_of $T/y$v.cfg)
    $DN -seed 1 detector train $T/shapes.data $T/y$v.cfg -dont_show > $T/train$v.out 2>&1 \
      || { say "yolov$v-tiny training failed:"; tail -5 $T/train$v.out; continue; }
    after=$(map_of $T/y$v.cfg $T/backup/y${v}_final.weights)
    last=$(grep ' avg loss' $T/train$v.out | tail -1 | awk '{print $3}')
    say "yolov$v-tiny-shapes: mAP@0.5 before $before after $after ($ITERS iterations, final avg loss $last, $(secs $T/train$v.out) s/iter)"
  done
fi

if [ "${SKIP_DN:-0}" != 1 ]; then
  derive cfg/yolov3-tiny-shapes.cfg $T/ours.cfg $DN_ITERS
  cp $T/ours.cfg $T/dn.cfg
  sed "s|^backup.*|backup = $T/backup_dn/|" $T/shapes.data > $T/dn.data
  /usr/bin/time -v $DN -seed 1 detector train $T/shapes.data $T/ours.cfg -dont_show > $T/ours.out 2> $T/ours.time
  /usr/bin/time -v /usr/bin/darknet detector train $T/dn.data $T/dn.cfg > $T/dn.out 2> $T/dn.time
  so=$(secs $T/ours.out); sd=$(secs $T/dn.out); ro=$(rss $T/ours.time); rd=$(rss $T/dn.time)
  say "yolov3-tiny-shapes ${SIZE}x${SIZE} batch $BATCH: ours $so s/iter, peak RSS $ro MiB; /usr/bin/darknet $sd s/iter, peak RSS $rd MiB"
  say "speed-up $(awk -v a="$sd" -v b="$so" 'BEGIN{printf "%.1f", a/b}')x, memory ratio ours/darknet $(awk -v a="$ro" -v b="$rd" 'BEGIN{printf "%.2f", a/b}')"
fi
