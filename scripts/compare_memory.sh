#!/bin/sh
# compare_memory.sh <data> <cfg> [mini-batches]
# Trains <cfg> for a few iterations at fp32 and at 8, 4 and 2 bits (temporary cfg copies
# with actnn keys, scripts/cfg_variant.sh) for each mini-batch (default: 16; a quoted
# list such as "8 16" tries several) and prints a table:
#   mini-batch bits peak_rss_mib saved_mib arena_mib s_per_iter cpu_s
# peak RSS comes from /usr/bin/time -v; saved/arena from the run's `memory:` line; s/iter
# is the mean of the iteration times after the first; cpu_s the run's user+system seconds.
# Writes <out>/compare_memory.csv and, when gnuplot exists, <out>/compare_memory.png
# (peak RSS and saved MiB against bits).
#
# Environment: ITERS (iterations per run, default 3), BITS (default "32 8 4 2"; a value
# with an "a", e.g. "2a", trains those bits with actnn_auto=1, a "u" with actnn_auto=0
# (uniform bits; a bare 2 is ActNN's L3, the 2-bit default), one with an "s", e.g. "2s",
# with actnn_stream=1: streamed segments as under a memory cap),
# OUT (default results/compare_memory), DARKNET (default ./darknet),
# TRAINER=cli|synthetic: cli runs `darknet classifier|detector train`; synthetic runs
# build/bin/train_mem (no data loader, noise input) and is chosen automatically when the
# CLI for the cfg's kind is not built. THREADS (default 2) sets OMP/OpenBLAS threads.
# REF=/usr/bin/darknet adds a row "ref" per mini-batch: that binary (Debian's Darknet)
# trains the 32-bit copy (no actnn keys, which it would ignore anyway). REPS (default 1)
# repeats every row, interleaved (ref, 32, 8 ... per repetition) so machine load hits all
# rows alike; the table then shows medians over repetitions, the csv every run.
set -eu
[ $# -ge 2 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
data=$1 cfg=$2 mbs=${3:-16}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
DARKNET=${DARKNET:-$root/darknet}
TRAIN_MEM=${TRAIN_MEM:-$root/build/bin/train_mem}
ITERS=${ITERS:-3} BITS=${BITS:-"32 8 4 2"} OUT=${OUT:-results/compare_memory}
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

kind=classifier
grep -q '^[[:space:]]*\[\(yolo\|region\)\]' "$cfg" && kind=detector
if [ -z "${TRAINER:-}" ]; then
    TRAINER=cli
    "$DARKNET" "$kind" 2>&1 | grep -q "not built" && TRAINER=synthetic
fi
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Weights the trainer saves go to the temporary folder, not to the data file's backup=.
sed '/^[[:space:]]*backup[[:space:]]*=/d' "$data" > "$tmp/run.data" 2>/dev/null || : > "$tmp/run.data"
echo "backup=$tmp/" >> "$tmp/run.data"

csv=$OUT/compare_memory.csv
echo "mini_batch,bits,rep,peak_rss_mib,saved_mib,saved_fp32_mib,arena_mib,s_per_iter,cpu_s" > "$csv"
REF=${REF:-} REPS=${REPS:-1}
rows=$BITS
[ -n "$REF" ] && rows="ref $BITS"

# One training run of row $2 (bits or "ref") at mini-batch $1, repetition $3: appends to csv.
run_one() {
    mb=$1 b=$2 rep=$3
    v=$tmp/run_b$b.cfg
    if [ "$b" = ref ]; then
        "$here/cfg_variant.sh" "$cfg" "$v" 32 "$mb" "$ITERS"
        # Debian's darknet takes the argument after the cfg as a weights file: no -dont_show.
        set -- "$REF" "$kind" train "$tmp/run.data" "$v"
    else
        "$here/cfg_variant.sh" "$cfg" "$v" "${b%%[asu]*}" "$mb" "$ITERS"
        # a row such as "2a": the same bits with actnn_auto=1 (per-layer mixed precision);
        # "2s": with actnn_stream=1 (streamed segments, which a run turns on by itself only
        # under a memory cap that needs them; "2as" both)
        case $b in *a*) sed -i '0,/^[[:space:]]*\[\(net\|network\)\]/s//&\nactnn_auto=1/' "$v" ;; esac
        # "2u": uniform bits (actnn_auto=0; a bare 2 is ActNN's L3, the default)
        case $b in *u*) sed -i '0,/^[[:space:]]*\[\(net\|network\)\]/s//&\nactnn_auto=0/' "$v" ;; esac
        case $b in *s*) sed -i '0,/^[[:space:]]*\[\(net\|network\)\]/s//&\nactnn_stream=1/' "$v" ;; esac
        if [ "$TRAINER" = synthetic ]; then
            set -- "$TRAIN_MEM" "$v" -iters "$ITERS"
        else
            set -- "$DARKNET" -seed 1 "$kind" train "$tmp/run.data" "$v"
            [ "$kind" = detector ] && set -- "$@" -dont_show
        fi
    fi
    log=$tmp/log_${mb}_${b}_$rep
    if ! /usr/bin/time -v "$@" > "$log" 2>&1; then
        echo "run failed (mini-batch $mb, $b bits); its output ends with:" >&2
        sed '/Command being timed/,$d' "$log" | tail -5 >&2
        return 0
    fi
    rss=$(awk -F: '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$log")
    mem=$(grep '^memory:' "$log" | tail -1)
    val() { x=$(echo "$mem" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'); echo "${x:-nan}"; }
    # Darknet's per-iteration line: "<it>[, <epoch>]: <loss>, <avg> avg, <rate> rate, <sec> seconds, ...";
    # the mean leaves out the first iteration (warm-up) unless it is the only one.
    spi=$(awk '/ seconds, / {for (i = 1; i <= NF; ++i) if ($(i+1) ~ /^seconds/) {n++; if (n == 1) f = $i; else {s += $i; c++}}}
               /^s_per_iter=/ {split($0, a, "="); s = a[2]; c = 1}
               END {if (c) printf "%.3f", s / c; else if (n) printf "%.3f", f; else print "nan"}' "$log")
    # CPU seconds (user + system) of the whole run: less sensitive than s/iter to other
    # processes sharing the cores, which stretch wall time but not CPU time.
    cpu=$(awk -F: '/User time|System time/ {s += $2} END {printf "%.1f", s}' "$log")
    echo "$mb,$b,$rep,$rss,$(val saved_mib),$(val saved_fp32_mib),$(val arena_mib),$spi,$cpu" >> "$csv"
    echo "  run: mini-batch $mb, $b, rep $rep: peak_rss_mib=$rss s_per_iter=$spi cpu_s=$cpu" >&2
}

for mb in $mbs; do
    rep=1
    while [ "$rep" -le "$REPS" ]; do
        for b in $rows; do run_one "$mb" "$b" "$rep"; done
        rep=$((rep + 1))
    done
done

# Medians over repetitions, one row per (mini-batch, bits).
printf '%-10s %-5s %13s %10s %10s %10s %8s\n' mini-batch bits peak_rss_mib saved_mib arena_mib s_per_iter cpu_s
for mb in $mbs; do
    for b in $rows; do
        med() { awk -F, -v mb="$mb" -v b="$b" -v c="$1" '$1 == mb && $2 == b {print $c}' "$csv" |
                sort -g | awk '{a[NR] = $1} END {if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
        [ -n "$(med 4)" ] || continue
        printf '%-10s %-5s %13s %10s %10s %10s %8s\n' "$mb" "$b" "$(med 4)" "$(med 5)" "$(med 7)" "$(med 8)" "$(med 9)"
    done
done
echo "csv: $csv (trainer: $TRAINER)"
if command -v gnuplot > /dev/null && [ "$(wc -l < "$csv")" -gt 1 ]; then
    gnuplot <<GP && echo "plot: $OUT/compare_memory.png"
set terminal png size 800,500
set output "$OUT/compare_memory.png"
set datafile separator ","
set title "$(basename "$cfg"): memory against bits (one curve per mini-batch)"
set xlabel "bits of saved activations"
set ylabel "MiB"
set logscale x 2
set key top left
plot for [mb in "$mbs"] "$csv" using (\$1 == mb + 0 && strcol(2) ne "ref" ? \$2 : 1/0):4 with linespoints title "peak RSS, mini-batch ".mb, \
     for [mb in "$mbs"] "$csv" using (\$1 == mb + 0 && strcol(2) ne "ref" ? \$2 : 1/0):5 with linespoints dt 2 title "saved, mini-batch ".mb
GP
fi
