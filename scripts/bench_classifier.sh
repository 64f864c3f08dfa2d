#!/usr/bin/env bash
# Classifier training speed and memory: ours vs Debian's darknet (/usr/bin/darknet).
#
#   scripts/bench_classifier.sh            darknet19 at 224x224, mini-batch 8, 4 iterations, 3 runs
#   SIZE=128 BATCH=16 ITERS=6 RUNS=5 scripts/bench_classifier.sh
#   OURS_ENV="OMP_WAIT_POLICY=passive OPENBLAS_CORETYPE=SkylakeX" scripts/bench_classifier.sh
#                                          (environment for our binary only)
#
# Both programs train the same cfg (Debian's darknet19.cfg with batch, size, max_batches set
# and the 1000-way head cut to 10 classes) on the same .data file and list (Fashion-MNIST
# images, loaded as RGB and augmented by each program's own loader) for a fixed number of
# iterations. Runs alternate ours/theirs so background load hits both alike. Reported:
#   s/iter  median of the per-iteration "seconds" field (first iteration left out as warm-up)
#   wall    whole run from /usr/bin/time -v, startup included
#   rss     peak resident set size (Maximum resident set size from /usr/bin/time -v)
# and the medians over runs with the speed ratio theirs/ours. Target: ratio >= 5 with a
# peak RSS no higher than Debian's. Needs data/fashion (scripts/fashion_mnist.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-224} BATCH=${BATCH:-8} ITERS=${ITERS:-4} RUNS=${RUNS:-3} OURS_ENV=${OURS_ENV:-}
OURS=${DARKNET:-$PWD/darknet}
THEIRS=${DEBIAN_DARKNET:-/usr/bin/darknet}
SRC_CFG=${BENCH_CFG:-/usr/share/darknet/cfg/darknet19.cfg}
for f in "$OURS" "$THEIRS" /usr/bin/time; do
  [ -x "$f" ] || { echo "bench_classifier: $f not found (make -j2; apt-get install darknet time)" >&2; exit 1; }
done
[ -s data/fashion/train.list ] || { echo "bench_classifier: run scripts/fashion_mnist.sh first" >&2; exit 1; }
[ -f "$SRC_CFG" ] || { echo "bench_classifier: $SRC_CFG not found" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/bench_classifier.XXXXXX")
trap 'rm -rf "$W"' EXIT

# Same data for both: 512 training images (absolute paths), the fashion labels.
head -n 512 data/fashion/train.list | sed "s|^|$PWD/|" > "$W/train.list"
printf 'classes=10\ntrain=%s\nvalid=%s\nlabels=%s\nbackup=%s\ntop=1\n' \
  "$W/train.list" "$W/train.list" "$PWD/data/fashion.names" "$W/backup" > "$W/b.data"
mkdir -p "$W/backup"
# The cfg: [net] keys replaced wherever they appear; the 1000-filter head becomes 10.
sed -E -e "s/^[[:space:]]*#?[[:space:]]*batch=.*/batch=$BATCH/" \
       -e "s/^[[:space:]]*#?[[:space:]]*subdivisions=.*/subdivisions=1/" \
       -e "s/^height=.*/height=$SIZE/" -e "s/^width=.*/width=$SIZE/" \
       -e "s/^max_batches=.*/max_batches=$ITERS/" -e "s/^filters=1000$/filters=10/" \
       "$SRC_CFG" | awk '/^batch=/{if(seen++)next} /^subdivisions=/{if(sseen++)next} {print}' > "$W/b.cfg"

median() { sort -g | awk '{a[NR]=$1} END{if(NR==0){print "nan"; exit} print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run <tool name> <binary> <run index>: appends "name s_per_iter wall_s rss_mib" to results
run() {
  local name=$1 bin=$2 i=$3 out=$W/$1.$3 envs=""
  [ "$name" = ours ] && envs=$OURS_ENV
  ( cd "$W" && env $envs /usr/bin/time -v -o "$out.time" "$bin" classifier train b.data b.cfg > "$out.log" 2> "$out.err" ) || {
    echo "bench_classifier: $name run $i failed; last lines:" >&2; tail -n 5 "$out.err" "$out.log" >&2; exit 1; }
  local n spi wall rss
  n=$(grep -cE '^[0-9]+, [0-9.]+: .* seconds, ' "$out.log" || true)
  [ "$n" = "$ITERS" ] || { echo "bench_classifier: $name printed $n of $ITERS iteration lines" >&2; exit 1; }
  spi=$(grep -E '^[0-9]+, [0-9.]+: .* seconds, ' "$out.log" | awk -v n="$ITERS" 'NR>1 || n==1' |
        sed -E 's/.* ([0-9.eE+-]+) seconds.*/\1/' | median)
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,t,":"); s=0; for(k=1;k<=n;k++) s=s*60+t[k]; print s}' "$out.time")
  rss=$(awk -F': ' '/Maximum resident set size/{printf "%.1f", $2/1024}' "$out.time")
  printf '%-7s run %d: %9.4f s/iter  %8.2f s wall  %8.1f MiB peak RSS\n' "$name" "$i" "$spi" "$wall" "$rss"
  echo "$name $spi $wall $rss" >> "$W/results"
}

echo "darknet19-style classifier, ${SIZE}x${SIZE}x3, mini-batch $BATCH, $ITERS iterations, $RUNS runs each"
echo "ours:   $OURS ($("$OURS" version 2>/dev/null || echo '?'))${OURS_ENV:+ with $OURS_ENV}"
echo "theirs: $THEIRS (Debian $(dpkg-query -W -f='${Version}' darknet 2>/dev/null || echo '?'))"
for i in $(seq 1 "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then run ours "$OURS" "$i"; run theirs "$THEIRS" "$i"
  else run theirs "$THEIRS" "$i"; run ours "$OURS" "$i"; fi
done
col() { awk -v t="$1" -v c="$2" '$1==t{print $c}' "$W/results" | median; }
os=$(col ours 2) ts=$(col theirs 2) ow=$(col ours 3) tw=$(col theirs 3) orss=$(col ours 4) trss=$(col theirs 4)
ratio=$(awk -v a="$ts" -v b="$os" 'BEGIN{printf "%.2f", a/b}')
wratio=$(awk -v a="$tw" -v b="$ow" 'BEGIN{printf "%.2f", a/b}')
echo "median: ours $os s/iter, theirs $ts s/iter, speed-up ${ratio}x (wall ${ow} s vs ${tw} s, ${wratio}x)"
echo "median peak RSS: ours $orss MiB, theirs $trss MiB"
awk -v r="$ratio" -v o="$orss" -v t="$trss" 'BEGIN{
  printf "target (>= 5x faster, peak RSS not higher): %s\n", (r >= 5 && o <= t) ? "met" : "NOT met"}'
