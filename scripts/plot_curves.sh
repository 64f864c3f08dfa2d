#!/bin/sh
# plot_curves.sh <out.png> <curve.csv>...: the held-out mAP curves that accuracy_shapes.sh
# writes with MAP_EVERY (iteration,map50 per file), one line per file titled by its name.
# Needs gnuplot (Debian package gnuplot-nox, scripts/setup.sh installs it).
set -eu
[ $# -ge 2 ] || { sed -n '2,4p' "$0" >&2; exit 2; }
out=$1; shift
command -v gnuplot > /dev/null || { echo "plot_curves.sh: gnuplot not found (scripts/setup.sh)" >&2; exit 1; }
plot=""
for f in "$@"; do
    [ -s "$f" ] || { echo "plot_curves.sh: empty or missing $f" >&2; exit 1; }
    t=$(basename "$f" .csv | tr _ ' ')
    plot="$plot${plot:+, }\"$f\" using 1:2 with linespoints title \"$t\""
done
gnuplot <<GP
set terminal png size 900,500 noenhanced
set output "$out"
set datafile separator ","
set key autotitle columnhead
set title "held-out mAP@0.5 (area under the PR curve) during training"
set xlabel "iteration"
set ylabel "mAP@0.5 (%)"
set key bottom right
plot $plot
GP
echo "plot: $out"
