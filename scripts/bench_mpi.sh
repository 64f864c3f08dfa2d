#!/usr/bin/env bash
# Data-parallel speed (docs/mpi.md): `mpirun -np 2` of the MPI build, one OpenMP thread per
# rank, against one process with one thread, on the same cfg, seed and global mini-batch
# (yolov3-tiny-shapes at SIZE px, mini-batch BATCH, ITERS iterations). Rounds alternate
# (1 process, 2 ranks, 1 process, ...) so a load change on a shared machine hits both;
# per run, images/s = BATCH / the median seconds of the iterations after the first two;
# the table gives each round and the median over rounds, and the ratio of the medians.
#   scripts/bench_mpi.sh                 ROUNDS=5 ITERS=8 SIZE=160 BATCH=8
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5} ITERS=${ITERS:-8} SIZE=${SIZE:-160} BATCH=${BATCH:-8}
command -v mpirun > /dev/null || { echo "bench_mpi.sh: mpirun missing (scripts/setup.sh)" >&2; exit 1; }
make -s -j2 build/cpu/darknet tools > /dev/null
make -s -j2 MPI=1 build/cpu-mpi/darknet > /dev/null
root=$PWD
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_mpi.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
mkdir -p set
"$root/build/bin/make_shapes" set 64 8 "$SIZE" "$SIZE" 3 > /dev/null
printf 'rectangle\nellipse\ntriangle\n' > names
printf 'classes=3\ntrain=set/train.txt\nnames=names\nbackup=bk\n' > s.data
mkdir -p bk
sed -e "s/^batch=64/batch=$BATCH/; s/^subdivisions=2/subdivisions=1/; s/^width=416/width=$SIZE/" \
    -e "s/^height=416/height=$SIZE/; s/^max_batches = 500200/max_batches=$ITERS/" \
    -e 's/^steps=400000,450000/steps=100000/; s/^scales=.1,.1/scales=.5/' \
    "$root/cfg/yolov3-tiny-shapes.cfg" > y.cfg
export OMP_NUM_THREADS=1
# images/s of one run from its training lines (" k: loss, avg avg loss, rate rate, S seconds, ...")
ips() {
  grep ' avg loss, ' "$1" | awk -F', ' 'NR > 2 {split($4, a, " "); print a[1]}' | sort -g |
    awk -v b="$BATCH" '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                        printf "%.3f\n", b / m}'
}
med() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "yolov3-tiny-shapes ${SIZE}x${SIZE}, global mini-batch $BATCH, $ITERS iterations, 1 thread per process, $ROUNDS interleaved rounds"
printf '%6s %16s %16s\n' round "1 proc img/s" "2 ranks img/s"
: > one.txt; : > two.txt
for r in $(seq "$ROUNDS"); do
  "$root/build/cpu/darknet" -seed 1 detector train s.data y.cfg -dont_show > o1.out 2> o1.err
  mpirun -np 2 --oversubscribe --allow-run-as-root --bind-to none \
    "$root/build/cpu-mpi/darknet" -seed 1 detector train s.data y.cfg -dont_show > o2.out 2> o2.err
  a=$(ips o1.out) b=$(ips o2.out)
  echo "$a" >> one.txt; echo "$b" >> two.txt
  printf '%6d %16s %16s\n' "$r" "$a" "$b"
done
a=$(med < one.txt) b=$(med < two.txt)
printf '%6s %16s %16s\n' median "$a" "$b"
awk -v a="$a" -v b="$b" 'BEGIN {printf "2 ranks / 1 process: %.2fx the images per second (cores: '"$(getconf _NPROCESSORS_ONLN)"', load average: '"$(cut -d' ' -f1-3 /proc/loadavg)"')\n", b / a}'
