#!/bin/sh
# per_image.sh <data> <cfg> <bits> <mini-batch A> <mini-batch B>
# Memory per extra image: trains a cfg_variant.sh copy of <cfg> at <bits> (32 = no actnn
# keys) for ITERS iterations (default 1) at mini-batches A and B, one after the other, and
# prints the slope of the measured peak RSS (the `memory:` line's peak_rss_mib, VmHWM)
# between them next to the slope of `./darknet memory`'s planned total (which counts the
# loader's prefetch), and their ratio:
#   per_image: bits=.. A=.. B=.. measured_mib=.. planned_mib=.. measured/planned=..
# A slope cancels what does not grow with the mini-batch (code, libraries, parameters,
# workspace). Environment: ITERS, THREADS (default 1), DARKNET, NETKEYS (extra [net] lines,
# space-separated: NETKEYS="actnn_stream=1 actnn_xhat_rebuild=-1" gives the lowest-memory
# plan; without a memory cap streamed segments are off by default, stream.h).
set -eu
[ $# -eq 5 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
data=$1 cfg=$2 bits=$3 a=$4 b=$5
here=$(cd "$(dirname "$0")" && pwd)
DARKNET=${DARKNET:-$(dirname "$here")/darknet}
ITERS=${ITERS:-1} THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
kind=classifier
grep -q '^[[:space:]]*\[\(yolo\|region\)\]' "$cfg" && kind=detector
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed '/^[[:space:]]*backup[[:space:]]*=/d' "$data" > "$tmp/run.data"
echo "backup=$tmp/" >> "$tmp/run.data"
# key=value from the last line starting with $1 in file $2
val() { tr ' ' '\n' < "$2" | awk -F= -v k="$1" '$1 == k {v = $2} END {print v}'; }
for n in "$a" "$b"; do
    "$here/cfg_variant.sh" "$cfg" "$tmp/$n.cfg" "$bits" "$n" "$ITERS"
    for kv in ${NETKEYS:-}; do sed -i "0,/^[[:space:]]*\[net\]/s//[net]\n$kv/" "$tmp/$n.cfg"; done
    set -- "$DARKNET" -seed 1 "$kind" train "$tmp/run.data" "$tmp/$n.cfg"
    [ "$kind" = detector ] && set -- "$@" -dont_show
    "$@" > "$tmp/log$n" 2>&1 || { echo "per_image.sh: training at $n failed:" >&2; tail -3 "$tmp/log$n" >&2; exit 1; }
    grep '^memory:' "$tmp/log$n" > "$tmp/mem$n"
    echo "mini-batch $n: $(cat "$tmp/mem$n")"
    "$DARKNET" memory "$tmp/$n.cfg" 2>/dev/null | sed -n 's/^planned training memory.*: \([0-9.]*\) MiB at the cfg.s bits.*/\1/p' > "$tmp/plan$n"
done
awk -v ra="$(val peak_rss_mib "$tmp/mem$a")" -v rb="$(val peak_rss_mib "$tmp/mem$b")" \
    -v pa="$(cat "$tmp/plan$a")" -v pb="$(cat "$tmp/plan$b")" -v a="$a" -v b="$b" -v bits="$bits" 'BEGIN {
    m = (rb - ra) / (b - a); p = (pb - pa) / (b - a)
    printf "per_image: bits=%s A=%d B=%d measured_mib=%.2f planned_mib=%.2f measured/planned=%.3f\n", bits, a, b, m, p, m / p }'
