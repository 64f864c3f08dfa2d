#!/bin/sh
# cfg_variant.sh <src.cfg> <dst.cfg> <bits|keep> <mini-batch> <iterations>
# Writes a copy of a Darknet cfg for one benchmark run: [net] gets batch=<mini-batch>,
# subdivisions=1, max_batches=<iterations> and, unless bits is 32, actnn=1 actnn_bits=<bits>;
# every actnn* key of the source is dropped (bits=keep leaves them as they are) (bits=32 is then plain Darknet behaviour) and
# random=0 keeps the input size fixed so memory figures compare. Shared by
# compare_memory.sh, max_batch.sh and accuracy.sh.
set -eu
src=$1 dst=$2 bits=$3 mb=$4 iters=$5
[ -f "$src" ] || { echo "cfg_variant.sh: no such cfg: $src" >&2; exit 1; }
awk -v bits="$bits" -v mb="$mb" -v iters="$iters" '
    /^[ \t]*\[/ { innet = ($0 ~ /^[ \t]*\[(net|network)\]/) }
    bits != "keep" && /^[ \t]*actnn/ { next }
    innet && /^[ \t]*(batch|subdivisions|max_batches)[ \t]*=/ { next }
    /^[ \t]*random[ \t]*=/ { print "random=0"; next }
    { print }
    innet && /^[ \t]*\[/ {
        print "batch=" mb; print "subdivisions=1"; print "max_batches=" iters
        if (bits != 32 && bits != "keep") { print "actnn=1"; print "actnn_bits=" bits }
    }' "$src" > "$dst"
