#!/usr/bin/env bash
# The plan's memory per extra image against a measured one (`detector train`, 2 bits,
# yolov3-tiny-shapes at 256x256, streamed segments forced on and grown by default: 0..5 at
# both sizes): the slope of the peak RSS (VmHWM, the `memory:` line) between mini-batches
# 16 and 40 must be within 10% of the slope of `./darknet memory`'s planned total. The
# oracle is the kernel's resident-set count. It fails when something that grows with the
# mini-batch is resident but not planned: the input kept while the streamed segment holding
# its last reader saves (1.2 MiB per image at 416 before the input was dropped chunk by
# chunk; here 1.2x), freed heap pages glibc keeps (its moving mmap threshold: 1.3x; the
# start-up garbage before the first trim: 1.15x). No allocator settings in the
# environment: what `./darknet` does by itself is what is checked. Skipped under sanitizers
# (their shadow memory is resident too). About a minute on one core.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DN=${DARKNET:-$ROOT/darknet}
TOOLS=${DN_TOOLS:-$ROOT/build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/memory_peak.XXXXXX")
trap "${KEEP:+:} rm -rf $T" EXIT
. tests/common/checks.sh
sanitized && { echo "skip: sanitizer build (shadow memory counts in RSS)"; exit 0; }

mkdir -p $T/set
"$TOOLS/make_shapes" $T/set 8 0 64 64 3 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > $T/names
printf 'classes=3\ntrain=%s/set/train.txt\nvalid=%s/set/train.txt\nnames=%s/names\nbackup=%s/\n' \
  $T $T $T $T > $T/shapes.data
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
unset MALLOC_ARENA_MAX MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_ MALLOC_TOP_PAD_
val() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k {v = $2} END {print v}'; }
for n in 16 40; do
  scripts/cfg_variant.sh cfg/yolov3-tiny-shapes.cfg $T/$n.cfg 2 $n 2
  sed -i -e 's/^width=.*/width=256/' -e 's/^height=.*/height=256/' \
    -e '0,/^\[net\]/s//[net]\nactnn_stream=1/' $T/$n.cfg
  "$DN" memory $T/$n.cfg > $T/plan$n 2>&1 || { bad "memory rc ($n)"; tail -3 $T/plan$n; }
  sed -n 's/^planned training memory.*: \([0-9.]*\) MiB at the cfg.s bits.*/\1/p' $T/plan$n > $T/p$n
  "$DN" -seed 1 detector train $T/shapes.data $T/$n.cfg -dont_show > $T/log$n 2>&1 ||
    { bad "train rc ($n)"; tail -3 $T/log$n; }
  grep '^memory:' $T/log$n > $T/m$n
done
seg='^streamed segments (first..exit, samples per chunk): 0\.\.5:2$'
check "the first layers stream as one grown segment at both sizes" [ "$(cat $T/plan16 $T/plan40 | grep -c "$seg")" = 2 ]
m=$(awk -v a="$(val $T/m16 peak_rss_mib)" -v b="$(val $T/m40 peak_rss_mib)" 'BEGIN {print (b - a) / 24}')
p=$(awk -v a="$(cat $T/p16)" -v b="$(cat $T/p40)" 'BEGIN {print (b - a) / 24}')
r=$(awk -v m="$m" -v p="$p" 'BEGIN {print (p > 0 ? m / p : 0)}')
check "measured MiB per image $m within 10% of planned $p (ratio $r)" \
  awk -v r="$r" 'BEGIN {exit !(r >= 0.9 && r <= 1.1)}'
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all memory peak checks passed"
