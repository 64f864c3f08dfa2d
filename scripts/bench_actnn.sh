#!/bin/sh
# bench_actnn.sh: throughput of actnn_plugin save/restore at 1/2/4/8 bits on 64 MiB of
# fp32, single thread and all threads, next to memcpy of the same buffer in the same
# run (median of REPS repetitions), and the bits per value actually stored.
#
#   scripts/bench_actnn.sh [REPS] [MIB]        defaults: 7 repetitions, 64 MiB
#   OMP_NUM_THREADS=N scripts/bench_actnn.sh    "all threads" = N
#
# The last line is machine-readable:
#   actnn-bench: bits_per_value_2bit=<x> save_vs_memcpy_2bit=<ratio> [key=value ...]
# Ratios are memcpy time / operation time on the same buffer (1.0 = as fast as a copy).
# The load average is printed first: on a shared machine, compare runs at similar load.
set -eu
cd "$(dirname "$0")/.."
REPS=${1:-7}
MIB=${2:-64}
BIN=${DN_TOOLS:-build/bin}/bench_actnn
if [ ! -x "$BIN" ] || [ scripts/bench_actnn.c -nt "$BIN" ]; then
    make -s "$BIN" >&2
fi
echo "host: $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" "$REPS" "$MIB"
