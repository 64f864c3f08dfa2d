#!/usr/bin/env bash
# The main job (`make demo`): make the seeded shapes detection set, train yolov3-tiny at a
# true 416x416 (random=0) for a few iterations at fp32, at 2 bits, and at 2 bits with
# streamed segments (actnn_stream=1, what a run turns on by itself under a memory cap that
# needs them) with the same seed, and print the runs' `memory:` figures side by side with
# the ratios against fp32.
# A few minutes on 2 cores. Environment: MB (mini-batch, default 8), ITERS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${MB:-8} ITERS=${ITERS:-3}
OUT=${OUT:-results/demo}

[ -x ./darknet ] || make -s -j2
if [ ! -s data/shapes/train.txt ] || [ ! -s data/shapes.data ]; then
  echo "== making the shapes set (64 train, 16 valid images, 416x416)"
  scripts/make_shapes.sh 64 16 416 416 1
fi

echo "== yolov3-tiny-shapes at 416x416, mini-batch $MB, $ITERS iterations: fp32, 2 bits, 2 bits streamed"
OUT=$OUT ITERS=$ITERS BITS="32 2 2s" scripts/compare_memory.sh data/shapes.data cfg/yolov3-tiny-shapes.cfg "$MB"

csv=$OUT/compare_memory.csv
awk -F, '
function row(name, v, f, what) {
  if (what == "the time")
    printf "%-26s %8" substr(f, 2) " %8" substr(f, 2) " %8" substr(f, 2) "   %.2fx, %.2fx the time\n", name, v[32], v[2], v["2s"], v[2] / v[32], v["2s"] / v[32]
  else
    printf "%-26s %8" substr(f, 2) " %8" substr(f, 2) " %8" substr(f, 2) "   %.2fx, %.2fx smaller\n", name, v[32], v[2], v["2s"], v[32] / v[2], v[32] / v["2s"]
}
NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
{ b = $col["bits"]; rss[b] = $col["peak_rss_mib"]; saved[b] = $col["saved_mib"]
  arena[b] = $col["arena_mib"]; spi[b] = $col["s_per_iter"]; dn[b] = $col["saved_fp32_mib"] }
END {
  if (!(32 in rss) || !(2 in rss) || !("2s" in rss)) { print "demo: a run failed, see above"; exit 1 }
  printf "\n%-26s %8s %8s %8s   %s\n", "", "fp32", "2-bit", "2-bit,s", "against fp32 (2-bit, 2-bit,s)"
  row("peak RSS (MiB)", rss, "%.1f", "smaller")
  row("saved activations (MiB)", saved, "%.1f", "smaller")
  printf "%-26s %8.1f %8.1f %8.1f   %.2fx, %.2fx smaller\n", "  vs Darknet'"'"'s fp32 copies", dn[2], saved[2], saved["2s"], dn[2] / saved[2], dn[2] / saved["2s"]
  row("arena (MiB)", arena, "%.1f", "smaller")
  row("seconds per iteration", spi, "%.2f", "the time")
  print "(2-bit,s: streamed segments, actnn_stream=1; the time ratio is inverted: 2-bit / fp32)"
}' "$csv"
echo "More: scripts/compare_memory.sh, scripts/max_batch.sh, scripts/accuracy.sh (README.md)."
