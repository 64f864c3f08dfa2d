#!/bin/sh
# max_batch.sh <data> <cfg> <MiB>
# The largest mini-batch that trains <cfg> (its own actnn keys, subdivisions=1) under a
# real memory cap of <MiB>: each probe trains ITERS iterations (default 2) inside
# `prlimit --as` (address-space cap: an allocation past it fails, and the framework stops
# with an out-of-memory message instead of being killed). Doubling finds a failing size,
# then a binary search the boundary. Threads are pinned to THREADS (default 1) because
# every thread's stack and malloc arena count against the address space (MALLOC_ARENA_MAX=1
# stops glibc reserving 64 MiB of address space per thread). A probe that runs past
# TIMEOUT seconds (default 300) counts as not fitting: some loaders wait for ever when a
# thread cannot be created under the cap.
# Prints one probe per line and finally: max_batch=<N> cap_mib=<MiB> cfg=<cfg>
# Environment: ITERS, THREADS, TIMEOUT, MAX (largest size tried, default 4096), DARKNET, TRAINER
# (cli|synthetic as in compare_memory.sh). START (first size tried, default 1) and RES
# (stop when the unknown range is below 1/RES of the size that fits, default 0 = exact)
# bound the number of probes when each one takes minutes. REF=1 says DARKNET is another
# Darknet (Debian's /usr/bin/darknet): no -seed/-dont_show, and a probe fits when it exits
# 0 after printing its iteration lines (it prints no `memory:` line). BITS (default keep:
# the cfg's own actnn keys) trains a cfg_variant.sh copy at those bits (32 = no actnn keys).
set -eu
[ $# -eq 3 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
data=$1 cfg=$2 mib=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
DARKNET=${DARKNET:-$root/darknet}
TRAIN_MEM=${TRAIN_MEM:-$root/build/bin/train_mem}
ITERS=${ITERS:-2} THREADS=${THREADS:-1} MAX=${MAX:-4096} TIMEOUT=${TIMEOUT:-300}
START=${START:-1} RES=${RES:-0} REF=${REF:-} BITS=${BITS:-keep}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MALLOC_ARENA_MAX=1
kind=classifier
grep -q '^[[:space:]]*\[\(yolo\|region\)\]' "$cfg" && kind=detector
if [ -z "${TRAINER:-}" ]; then
    TRAINER=cli
    "$DARKNET" "$kind" 2>&1 | grep -q "not built" && TRAINER=synthetic
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed '/^[[:space:]]*backup[[:space:]]*=/d' "$data" > "$tmp/run.data" 2>/dev/null || : > "$tmp/run.data"
echo "backup=$tmp/" >> "$tmp/run.data"

# Trains mini-batch $1 under the cap; success = exit 0 and a `memory:` line.
fits() {
    "$here/cfg_variant.sh" "$cfg" "$tmp/run.cfg" "$BITS" "$1" "$ITERS"
    if [ -n "$REF" ]; then
        set -- "$DARKNET" "$kind" train "$tmp/run.data" "$tmp/run.cfg"
    elif [ "$TRAINER" = synthetic ]; then
        set -- "$TRAIN_MEM" "$tmp/run.cfg" -iters "$ITERS"
    else
        set -- "$DARKNET" -seed 1 "$kind" train "$tmp/run.data" "$tmp/run.cfg"
        [ "$kind" = detector ] && set -- "$@" -dont_show
    fi
    timeout -k 10 "$TIMEOUT" prlimit --as=$((mib * 1048576)) -- "$@" > "$tmp/log" 2>&1 || return 1
    if [ -n "$REF" ]; then
        [ "$(grep -c ' seconds, ' "$tmp/log")" -ge "$ITERS" ]
    else
        grep -q '^memory:' "$tmp/log"
    fi
}

probe() {
    if fits "$1"; then echo "mini-batch $1: fits ($(grep '^memory:' "$tmp/log" | tail -1))"; return 0; fi
    echo "mini-batch $1: does not fit ($(grep -i 'memory\|alloc\|fault' "$tmp/log" | grep -v '^memory:' | head -1))"
    return 1
}

lo=0 hi=$START
while [ "$hi" -le "$MAX" ] && probe "$hi"; do lo=$hi; hi=$((hi * 2)); done
[ "$hi" -gt "$MAX" ] && hi=$((MAX + 1))
# Below START nothing was tried: search there only if START itself failed.
while [ $((hi - lo)) -gt 1 ] && { [ "$RES" -eq 0 ] || [ $(((hi - lo) * RES)) -gt "$lo" ]; }; do
    mid=$(((lo + hi) / 2))
    if probe "$mid"; then lo=$mid; else hi=$mid; fi
done
echo "max_batch=$lo first_failing=$hi cap_mib=$mib cfg=$cfg"
