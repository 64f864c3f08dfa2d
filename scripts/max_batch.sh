#!/bin/sh
# max_batch.sh <data> <cfg> <MiB>
# The largest mini-batch that trains <cfg> (subdivisions=1) under a resident-memory cap of
# <MiB>: each probe trains ITERS iterations (default 2) of a cfg_variant.sh copy inside a
# memory cgroup of its own whose limit is the cap, the way a GPU or a machine's RAM caps
# resident bytes (address space, which counts thread stacks and mappings that never become
# resident, is not what runs out). Doubling finds a failing size, then a binary search the
# boundary. Prints one probe per line and finally:
#   max_batch=<N> first_failing=<M> cap_mib=<MiB> cap=<kind> cfg=<cfg>
# CAP picks how the cap is applied (default auto: the first that works, in this order):
#   cgroup2  memory.max of a child of this shell's cgroup, memory.swap.max=0
#   cgroup1  memory.limit_in_bytes of a child of this shell's memory cgroup, and
#            memory.memsw.limit_in_bytes equal to it where the kernel has swap accounting
#            (else memory.swappiness=0): swap cannot hold what the cap pushes out
#   as       `prlimit --as` (address space: a FALLBACK, labelled cap=as in every line; it
#            also counts thread stacks and never-touched mappings, so it under-reports)
# Under a cgroup a probe that outgrows the cap is killed by the kernel's OOM killer (or
# stops with our out-of-memory message): both count as "does not fit". The probe line
# gives the cgroup's peak usage (max_usage_in_bytes / memory.peak; page cache is charged
# too, and reclaimed before the OOM killer acts).
# Environment: ITERS, THREADS (default 1), TIMEOUT (default 300 s: a probe past it does not
# fit), MAX (largest size tried, default 4096), START (first size, default 1), RES (stop
# when the unknown range is below 1/RES of the size that fits, default 0 = exact),
# DARKNET, TRAINER (cli|synthetic as in compare_memory.sh), BITS (default keep: the cfg's
# own actnn keys; 32 = no actnn keys; 8, 4, 2 = actnn=1 actnn_bits=B), REF=1 (DARKNET is
# another Darknet, e.g. Debian's /usr/bin/darknet, trained on the same copy without actnn
# keys: no -seed/-dont_show; it fits when it exits 0 after ITERS iteration lines).
set -eu
[ $# -eq 3 ] || { sed -n '2,29p' "$0" >&2; exit 2; }
data=$1 cfg=$2 mib=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
DARKNET=${DARKNET:-$root/darknet}
TRAIN_MEM=${TRAIN_MEM:-$root/build/bin/train_mem}
ITERS=${ITERS:-2} THREADS=${THREADS:-1} MAX=${MAX:-4096} TIMEOUT=${TIMEOUT:-300}
START=${START:-1} RES=${RES:-0} REF=${REF:-} BITS=${BITS:-keep} CAP=${CAP:-auto}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MALLOC_ARENA_MAX=1
[ -n "$REF" ] && [ "$BITS" = keep ] && BITS=32
kind=classifier
grep -q '^[[:space:]]*\[\(yolo\|region\)\]' "$cfg" && kind=detector
if [ -z "${TRAINER:-}" ]; then
    TRAINER=cli
    "$DARKNET" "$kind" 2>&1 | grep -q "not built" && TRAINER=synthetic
fi
tmp=$(mktemp -d)
cg=
cleanup() {
    if [ -n "$cg" ] && [ -d "$cg" ]; then
        # a probe still running (the script was interrupted) is ours: end it, then the cgroup
        for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        sleep 1
        rmdir "$cg" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sed '/^[[:space:]]*backup[[:space:]]*=/d' "$data" > "$tmp/run.data" 2>/dev/null || : > "$tmp/run.data"
echo "backup=$tmp/" >> "$tmp/run.data"
bytes=$((mib * 1048576))

# The parent under which probe cgroups are made: this shell's own cgroup (so whatever
# limits and accounting already apply to it still do), else the hierarchy's root.
cg1_parent() {
    d=/sys/fs/cgroup/memory
    own=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
    [ -n "$own" ] && [ -w "$d$own" ] && { echo "$d$own"; return; }
    [ -w "$d" ] && echo "$d"
}
cg2_parent() {
    d=/sys/fs/cgroup
    [ -f "$d/cgroup.controllers" ] || return 0
    own=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)
    for p in "$d$own" "$d"; do
        [ -w "$p" ] && grep -qw memory "$p/cgroup.subtree_control" 2>/dev/null && { echo "$p"; return; }
    done
}

# Makes the probe cgroup $cg with the cap; returns 1 when this kind cannot be used.
cg_make() {
    case $1 in
    cgroup1)
        parent=$(cg1_parent); [ -n "$parent" ] || return 1
        cg=$parent/max_batch.$$
        mkdir "$cg" 2>/dev/null || return 1
        # memsw (memory + swap) must not be below the memory limit: set memory first.
        echo "$bytes" > "$cg/memory.limit_in_bytes" || return 1
        if [ -f "$cg/memory.memsw.limit_in_bytes" ]; then
            echo "$bytes" > "$cg/memory.memsw.limit_in_bytes" || return 1
            swapnote="memsw=cap"
        else
            echo 0 > "$cg/memory.swappiness" 2>/dev/null && swapnote="swappiness=0" || swapnote="swap unguarded"
        fi ;;
    cgroup2)
        parent=$(cg2_parent); [ -n "$parent" ] || return 1
        cg=$parent/max_batch.$$
        mkdir "$cg" 2>/dev/null || return 1
        echo "$bytes" > "$cg/memory.max" || return 1
        if echo 0 > "$cg/memory.swap.max" 2>/dev/null; then swapnote="swap.max=0"; else swapnote="swap unguarded"; fi ;;
    *) return 1 ;;
    esac
    [ "$(swapon --show=SIZE --noheadings 2>/dev/null | wc -l)" -eq 0 ] && swapnote="$swapnote, no swap on this machine"
    return 0
}

cap=$CAP swapnote=
if [ "$cap" = auto ]; then
    for k in cgroup2 cgroup1; do
        if cg_make "$k"; then cap=$k; break; fi
        [ -n "$cg" ] && rmdir "$cg" 2>/dev/null; cg=
    done
    [ "$cap" = auto ] && cap=as
elif [ "$cap" != as ]; then
    cg_make "$cap" || { echo "max_batch.sh: cannot make a $cap memory cgroup here" >&2; exit 1; }
fi
if [ "$cap" = as ]; then
    echo "max_batch.sh: FALLBACK: no memory cgroup can be made; capping address space (prlimit --as), not resident memory" >&2
    swapnote="address space"
fi
echo "cap: $cap $mib MiB ($swapnote)${cg:+ cgroup $cg}"

# Cgroup peak usage in MiB since the probe started (reset per probe), or "-".
cg_peak() {
    case $cap in
    cgroup1) echo $(( $(cat "$cg/memory.max_usage_in_bytes") / 1048576 )) ;;
    cgroup2) [ -f "$cg/memory.peak" ] && echo $(( $(cat "$cg/memory.peak") / 1048576 )) || echo - ;;
    *) echo - ;;
    esac
}
cg_reset() {
    [ "$cap" = cgroup1 ] && echo 0 > "$cg/memory.max_usage_in_bytes" 2>/dev/null
    [ "$cap" = cgroup1 ] && echo 1 > "$cg/memory.force_empty" 2>/dev/null
    return 0
}
# OOM kills counted by the cgroup so far.
cg_ooms() {
    case $cap in
    cgroup1) sed -n 's/^oom_kill //p' "$cg/memory.oom_control" ;;
    cgroup2) sed -n 's/^oom_kill //p' "$cg/memory.events" ;;
    esac
}

# Runs "$@" under the cap (the probe's shell joins the cgroup, then execs).
capped() {
    if [ "$cap" = as ]; then
        timeout -k 10 "$TIMEOUT" prlimit --as="$bytes" -- "$@"
    else
        sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" timeout -k 10 "$TIMEOUT" "$@"
    fi
}

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
    cg_reset
    rc=0
    capped "$@" > "$tmp/log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || return 1
    if [ -n "$REF" ]; then
        [ "$(grep -c ' seconds, ' "$tmp/log")" -ge "$ITERS" ]
    else
        grep -q '^memory:' "$tmp/log"
    fi
}

probe() {
    ooms=$(cg_ooms)
    t0=$(date +%s)
    if fits "$1"; then
        echo "mini-batch $1: fits (cap=$cap cgroup_peak_mib=$(cg_peak) $(($(date +%s) - t0)) s; $(grep '^memory:' "$tmp/log" | tail -1))"
        return 0
    fi
    why=$(grep -i 'memory\|alloc\|fault' "$tmp/log" | grep -v '^memory:' | head -1)
    [ "$(cg_ooms)" != "$ooms" ] && why="killed by the OOM killer at the cap${why:+; $why}"
    [ "$rc" -eq 124 ] && why="timed out after $TIMEOUT s${why:+; $why}"
    echo "mini-batch $1: does not fit (cap=$cap rc=$rc cgroup_peak_mib=$(cg_peak) $(($(date +%s) - t0)) s; $why)"
    return 1
}

# Doubling from START, the last step clamped to MAX so that MAX itself is tried: a window
# START..MAX around a known boundary then costs two probes (START fits, MAX does not).
[ "$START" -le "$MAX" ] || { echo "max_batch.sh: START=$START is above MAX=$MAX" >&2; exit 2; }
lo=0 hi=$START
while probe "$hi"; do
    lo=$hi
    [ "$hi" -ge "$MAX" ] && break
    hi=$((hi * 2)); [ "$hi" -gt "$MAX" ] && hi=$MAX
done
if [ "$lo" -eq "$hi" ]; then
    echo "max_batch=$lo first_failing=none (MAX=$MAX fits) cap_mib=$mib cap=$cap cfg=$cfg"
    exit 0
fi
# Below START nothing was tried: search there only if START itself failed.
while [ $((hi - lo)) -gt 1 ] && { [ "$RES" -eq 0 ] || [ $(((hi - lo) * RES)) -gt "$lo" ]; }; do
    mid=$(((lo + hi) / 2))
    if probe "$mid"; then lo=$mid; else hi=$mid; fi
done
echo "max_batch=$lo first_failing=$hi cap_mib=$mib cap=$cap cfg=$cfg"
