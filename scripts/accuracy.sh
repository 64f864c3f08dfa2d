#!/bin/sh
# accuracy.sh [data] [cfg] [iterations]
# Trains the same cfg with the same seed for the same iterations at fp32 and at 2 bits
# (temporary copies, scripts/cfg_variant.sh), plots both loss curves and reports top-1 on
# the validation list for both. Defaults: data/fashion.data, cfg/fashion.cfg, 300
# iterations (Fashion-MNIST; make the data with scripts/fashion_mnist.sh).
# Writes <out>/accuracy.csv (iteration, loss_fp32, loss_2bit), <out>/accuracy.png and a
# final line: accuracy: iters=.. top1_fp32=.. top1_2bit=.. diff=..
# Environment: OUT (default results/accuracy), SEED (default 1), MB (mini-batch, default
# the cfg's batch), THREADS (default 2), BITS (the compressed run's bits, default 2).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
data=${1:-data/fashion.data} cfg=${2:-cfg/fashion.cfg} iters=${3:-300}
DARKNET=${DARKNET:-$root/darknet}
OUT=${OUT:-results/accuracy} SEED=${SEED:-1} THREADS=${THREADS:-2} BITS=${BITS:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
mb=${MB:-$(awk -F= '/^[[:space:]]*batch[[:space:]]*=/ {gsub(/[[:space:]]/, "", $2); b = $2} END {print b + 0}' "$cfg")}
[ "$mb" -gt 0 ] || mb=128
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed '/^[[:space:]]*backup[[:space:]]*=/d' "$data" > "$tmp/run.data"
echo "backup=$tmp/" >> "$tmp/run.data"

for b in 32 "$BITS"; do
    "$here/cfg_variant.sh" "$cfg" "$tmp/acc_b$b.cfg" "$b" "$mb" "$iters"
    echo "training $(basename "$cfg") at $b bits, $iters iterations of $mb images, seed $SEED" >&2
    "$DARKNET" -seed "$SEED" classifier train "$tmp/run.data" "$tmp/acc_b$b.cfg" > "$tmp/train_$b.log" 2>&1 ||
        { tail -5 "$tmp/train_$b.log" >&2; exit 1; }
    # "<it>, <epoch>: <loss>, <avg> avg, ..." -> "<it> <loss>"
    awk -F'[,:]' '/ avg, / {print $1 + 0, $3 + 0}' "$tmp/train_$b.log" > "$tmp/loss_$b"
    grep '^memory:' "$tmp/train_$b.log" | sed "s/^/$b bits: /" >&2
    "$DARKNET" classifier valid "$tmp/run.data" "$tmp/acc_b$b.cfg" "$tmp/acc_b${b}_final.weights" \
        > "$tmp/valid_$b.log" 2>&1 || { tail -5 "$tmp/valid_$b.log" >&2; exit 1; }
done
join "$tmp/loss_32" "$tmp/loss_$BITS" | awk 'BEGIN {print "iteration,loss_fp32,loss_'"$BITS"'bit"} {print $1 "," $2 "," $3}' \
    > "$OUT/accuracy.csv"
top() { sed -n 's/^valid: top-1 \([0-9.]*\).*/\1/p' "$tmp/valid_$1.log" | tail -1; }
t32=$(top 32) tq=$(top "$BITS")
if command -v gnuplot > /dev/null; then
    gnuplot <<GP && echo "plot: $OUT/accuracy.png"
set terminal png size 800,500
set output "$OUT/accuracy.png"
set datafile separator ","
set title "$(basename "$cfg"), seed $SEED: loss per iteration (top-1: fp32 $t32, $BITS bits $tq)"
set xlabel "iteration"
set ylabel "loss"
plot "$OUT/accuracy.csv" using 1:2 with lines title "fp32", "" using 1:3 with lines title "$BITS bits"
GP
fi
echo "csv: $OUT/accuracy.csv"
echo "accuracy: iters=$iters mini_batch=$mb top1_fp32=$t32 top1_${BITS}bit=$tq diff=$(echo "$t32 $tq" | awk '{printf "%+.4f", $2 - $1}')"
