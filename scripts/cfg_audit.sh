#!/usr/bin/env bash
# cfg_audit.sh <folder> [darknet]: which cfgs of a folder this build loads, e.g. the cfg/
# folder of a checkout of AlexeyAB's darknet (README, "Not done yet"). For every *.cfg it
# runs `darknet memory <cfg> -batch 1` (parse, shapes and the training memory plan; no
# weights or data needed) and prints one line: `ok`, `no-train` (the cfg loads, detection
# works, training is refused) or `error`, with the first message that says why; then the
# counts. Exit 0 (a listing, not a test).
set -u
dir=${1:?usage: scripts/cfg_audit.sh <cfg folder> [darknet]}
dn=${2:-$(dirname "$0")/../darknet}
[ -x "$dn" ] || { echo "cfg_audit: $dn is not built (make)"; exit 1; }
declare -A count=([ok]=0 [no-train]=0 [error]=0)
for f in "$dir"/*.cfg; do
  [ -f "$f" ] || continue
  out=$(timeout 120 "$dn" memory "$f" -batch 1 2>&1)
  rc=$?
  why=$(printf '%s\n' "$out" | grep -E 'cannot train|cannot run|: \[|not supported|refus|rror' |
        grep -v 'Unused field\|are ignored\|not supported, ignored' | head -1 | sed "s|$dir/||")
  if [ $rc = 0 ]; then kind=ok; why=
  elif [[ $why == *"cannot train"* || $why == *"not supported in training"* ]]; then kind=no-train
  else kind=error; fi
  count[$kind]=$((${count[$kind]} + 1))
  printf '%-8s %s%s\n' "$kind" "$(basename "$f")" "${why:+  $why}"
done
echo "cfg_audit: ${count[ok]} ok, ${count[no-train]} load but do not train, ${count[error]} errors ($(date -u +%F))"
