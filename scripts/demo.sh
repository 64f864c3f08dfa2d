#!/usr/bin/env bash
# The main job (`make demo`): make the seeded shapes detection set, train yolov3-tiny at a
# true 416x416 (random=0) for a few iterations at fp32 and at 2 bits with the same seed,
# and print both runs' `memory:` figures side by side with the ratios, plus the plot.
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

echo "== yolov3-tiny-shapes at 416x416, mini-batch $MB, $ITERS iterations: fp32, then 2 bits"
OUT=$OUT ITERS=$ITERS BITS="32 2" scripts/compare_memory.sh data/shapes.data cfg/yolov3-tiny-shapes.cfg "$MB"

csv=$OUT/compare_memory.csv
awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
{ b = $col["bits"]; rss[b] = $col["peak_rss_mib"]; saved[b] = $col["saved_mib"]
  arena[b] = $col["arena_mib"]; spi[b] = $col["s_per_iter"]; dn[b] = $col["saved_fp32_mib"] }
END {
  if (!(32 in rss) || !(2 in rss)) { print "demo: a run failed, see above"; exit 1 }
  printf "\n%-24s %10s %10s %8s\n", "", "fp32", "2-bit", "ratio"
  printf "%-24s %10.1f %10.1f %7.2fx smaller\n", "peak RSS (MiB)", rss[32], rss[2], rss[32] / rss[2]
  printf "%-24s %10.1f %10.1f %7.2fx smaller\n", "saved activations (MiB)", saved[32], saved[2], saved[32] / saved[2]
  printf "%-24s %10.1f %10.1f %7.2fx smaller\n", "  vs Darknet'"'"'s fp32 copies", dn[2], saved[2], dn[2] / saved[2]
  printf "%-24s %10.1f %10.1f %7.2fx smaller\n", "arena (MiB)", arena[32], arena[2], arena[32] / arena[2]
  printf "%-24s %10.2f %10.2f %7.2fx the time\n", "seconds per iteration", spi[32], spi[2], spi[2] / spi[32]
}' "$csv"
echo "More: scripts/compare_memory.sh, scripts/max_batch.sh, scripts/accuracy.sh (README.md)."
