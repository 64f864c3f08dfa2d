#!/bin/sh
# mean_curves.sh <out.csv> <curve.csv>...: the mean over runs of held-out mAP curves
# (accuracy_shapes.sh's MAP_EVERY files, "iteration,map50"), iteration by iteration; an
# iteration missing from any input is an error, so seeds of unequal length are not mixed.
# For plotting many seeds as one line per setting (scripts/plot_curves.sh).
set -eu
[ $# -ge 2 ] || { sed -n '2,5p' "$0" >&2; exit 2; }
out=$1; shift
for f in "$@"; do [ -s "$f" ] || { echo "mean_curves.sh: empty or missing $f" >&2; exit 1; }; done
awk -F, -v nf=$# '
    FNR == 1 { if ($1 != "iteration") { print "mean_curves.sh: " FILENAME ": no header" > "/dev/stderr"; bad = 1; exit 1 } next }
    { sum[$1] += $2; cnt[$1]++; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
    END {
        if (bad) exit 1
        print "iteration,map50"
        for (i = 1; i <= n; i++) {
            it = order[i]
            if (cnt[it] != nf) { printf "mean_curves.sh: iteration %s is in %d of %d files\n", it, cnt[it], nf > "/dev/stderr"; exit 1 }
            printf "%s,%.2f\n", it, sum[it] / nf
        }
    }' "$@" > "$out.tmp" || { rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
