#!/usr/bin/env bash
# Data-parallel speed (docs/mpi.md): `mpirun -np 2` of the MPI build, one OpenMP thread per
# rank, against one process with one thread, on the same cfg, seed and global mini-batch
# (yolov3-tiny-shapes at SIZE px, mini-batch BATCH, ITERS iterations). Rounds alternate
# (1 process, 2 ranks, 1 process, ...) so a load change on a shared machine hits both;
# per run, images/s = BATCH / the median seconds of the iterations after the first two;
# the table gives each round and the median over rounds, and the ratio of the medians.
# Where a 2-rank iteration goes (rank 0, per round): "loader %" is the loader thread's CPU
# per batch over the median iteration (with 2 ranks on 2 cores it takes compute time; in
# one process it runs on the idle core), "wait ms" the trainer's total wait for batches,
# "allreduce ms" the wall time per iteration inside the gradient MPI calls and "of it
# waiting" the part spent waiting after backward (grad_sync.c's closing line).
# CACHE: [net] image_cache_mb in both arms (0: off, as before 2026-11-30 17:00 UTC);
# IMAGES: images in the set (fewer means the cache is warm sooner).
#   scripts/bench_mpi.sh       ROUNDS=5 ITERS=8 SIZE=160 BATCH=8 CACHE=64 IMAGES=64
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5} ITERS=${ITERS:-8} SIZE=${SIZE:-160} BATCH=${BATCH:-8} CACHE=${CACHE:-64} IMAGES=${IMAGES:-64}
command -v mpirun > /dev/null || { echo "bench_mpi.sh: mpirun missing (scripts/setup.sh)" >&2; exit 1; }
make -s -j2 build/cpu/darknet tools > /dev/null
make -s -j2 MPI=1 build/cpu-mpi/darknet > /dev/null
root=$PWD
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
mkdir -p set
"$root/build/bin/make_shapes" set "$IMAGES" 8 "$SIZE" "$SIZE" 3 > /dev/null
printf 'rectangle\nellipse\ntriangle\n' > names
printf 'classes=3\ntrain=set/train.txt\nnames=names\nbackup=bk\n' > s.data
mkdir -p bk
sed -e "s/^batch=64/batch=$BATCH/; s/^subdivisions=2/subdivisions=1/; s/^width=416/width=$SIZE/" \
    -e "s/^height=416/height=$SIZE/; s/^max_batches = 500200/max_batches=$ITERS/" \
    -e 's/^steps=400000,450000/steps=100000/; s/^scales=.1,.1/scales=.5/' \
    -e "s/^\[net\]/[net]\nimage_cache_mb=$CACHE/" \
    "$root/cfg/yolov3-tiny-shapes.cfg" > y.cfg
export OMP_NUM_THREADS=1
# images/s of one run from its training lines (" k: loss, avg avg loss, rate rate, S seconds, ...")
ips() {
  grep ' avg loss, ' "$1" | awk -F', ' 'NR > 2 {split($4, a, " "); print a[1]}' | sort -g |
    awk -v b="$BATCH" '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                        printf "%.3f\n", b / m}'
}
med() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# rank 0's loader CPU per batch (s) and trainer wait (s); all-reduce ms and its waiting part
ldr() { sed -n 's/^loader: .* wall and \([0-9.]*\) s CPU per batch.* waited \([0-9.]*\) s in all/\1 \2/p' "$1" | head -1; }
ard() { sed -n 's/^all-reduce time: \([0-9.]*\) ms per iteration.*, \([0-9.]*\) ms of it waiting.*/\1 \2/p' "$1"; }
echo "yolov3-tiny-shapes ${SIZE}x${SIZE}, global mini-batch $BATCH, $ITERS iterations, 1 thread per process, $ROUNDS interleaved rounds, $IMAGES images, image_cache_mb=$CACHE"
printf '%6s %16s %16s | 2 ranks: %9s %8s %13s %14s\n' round "1 proc img/s" "2 ranks img/s" "loader %" "wait ms" "allreduce ms" "of it waiting"
: > one.txt; : > two.txt
for r in $(seq "$ROUNDS"); do
  "$root/build/cpu/darknet" -seed 1 detector train s.data y.cfg -dont_show > o1.out 2> o1.err
  mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none \
    "$root/build/cpu-mpi/darknet" -seed 1 detector train s.data y.cfg -dont_show > o2.out 2> o2.err
  a=$(ips o1.out) b=$(ips o2.out)
  echo "$a" >> one.txt; echo "$b" >> two.txt
  read -r lc lw <<< "$(ldr o2.err)"; read -r am aw <<< "$(ard o2.err)"
  lp=$(awk -v c="${lc:-0}" -v b="$b" -v n="$BATCH" 'BEGIN {printf "%.1f", (b > 0 ? 100 * c * b / n : 0)}')
  printf '%6d %16s %16s | %18s %8.0f %13s %14s\n' "$r" "$a" "$b" "$lp" "$(awk -v w="${lw:-0}" 'BEGIN {print 1000 * w}')" \
    "${am:-?}" "${aw:-?}"
done
a=$(med < one.txt) b=$(med < two.txt)
printf '%6s %16s %16s\n' median "$a" "$b"
awk -v a="$a" -v b="$b" 'BEGIN {printf "2 ranks / 1 process: %.2fx the images per second (cores: '"$(getconf _NPROCESSORS_ONLN)"', load average: '"$(cut -d' ' -f1-3 /proc/loadavg)"')\n", b / a}'
