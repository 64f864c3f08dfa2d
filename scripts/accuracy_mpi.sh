#!/usr/bin/env bash
# accuracy_mpi.sh [data] [cfg] [iterations]: the same cfg, seed and iterations trained by
# one process and by `mpirun -np RANKS` (the MPI build; per-rank batch norm unless the cfg
# says sync_bn=1), then top-1 of both on the validation list (docs/mpi.md).
# Defaults: data/fashion.data (scripts/fashion_mnist.sh), cfg/fashion.cfg, the cfg's
# max_batches. Environment: SEED (7), RANKS (2), THREADS per process (1). Final line:
#   accuracy_mpi: iters=.. ranks=.. top1_one=.. top1_ranks=.. diff_points=..
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data/fashion.data} cfg=${2:-cfg/fashion.cfg} iters=${3:-}
SEED=${SEED:-7} RANKS=${RANKS:-2} THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
make -s -j2 build/cpu/darknet > /dev/null
make -s -j2 MPI=1 build/cpu-mpi/darknet > /dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/accuracy_mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
sed '/^[[:space:]]*backup[[:space:]]*=/d' "$data" > "$tmp/run.data"
echo "backup=$tmp/" >> "$tmp/run.data"
if [ -n "$iters" ]; then sed "s/^max_batches *=.*/max_batches=$iters/" "$cfg" > "$tmp/a.cfg"
else cp "$cfg" "$tmp/a.cfg"; iters=$(sed -n 's/^max_batches *= *//p' "$cfg"); fi
top1() { sed -n 's/^valid: top-1 \([0-9.]*\),.*/\1/p' "$1"; }
echo "training $(basename "$cfg"), $iters iterations, seed $SEED: one process and $RANKS ranks" >&2
build/cpu/darknet -seed "$SEED" classifier train "$tmp/run.data" "$tmp/a.cfg" > "$tmp/one.log" 2>&1 ||
  { tail -5 "$tmp/one.log" >&2; exit 1; }
mv "$tmp/a_final.weights" "$tmp/one.weights"
mpirun -np "$RANKS" --oversubscribe --allow-run-as-root --bind-to none build/cpu-mpi/darknet -seed "$SEED" \
  classifier train "$tmp/run.data" "$tmp/a.cfg" > "$tmp/ranks.log" 2>&1 || { tail -5 "$tmp/ranks.log" >&2; exit 1; }
build/cpu/darknet classifier valid "$tmp/run.data" "$tmp/a.cfg" "$tmp/one.weights" > "$tmp/v1" 2> /dev/null
build/cpu/darknet classifier valid "$tmp/run.data" "$tmp/a.cfg" "$tmp/a_final.weights" > "$tmp/v2" 2> /dev/null
a=$(top1 "$tmp/v1") b=$(top1 "$tmp/v2")
grep '^memory:' "$tmp/one.log" "$tmp/ranks.log" | sed "s|$tmp/||"
awk -v i="$iters" -v r="$RANKS" -v a="$a" -v b="$b" \
  'BEGIN {printf "accuracy_mpi: iters=%d ranks=%d top1_one=%.4f top1_ranks=%.4f diff_points=%.2f\n", i, r, a, b, (b - a) * 100}'
