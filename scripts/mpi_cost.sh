#!/usr/bin/env bash
# Ring all-reduce cost model (docs/mpi.md): each rank sends (and receives) 2(N-1)/N times
# the gradient bytes per iteration, in 2(N-1) steps. Gradient bytes come from the cfg
# (`./darknet memory <cfg> -ranks 2`: all_reduce_mib, one float per parameter).
#   scripts/mpi_cost.sh [cfg] [latency_us]     (default cfg/yolov3-tiny-shapes.cfg, 20 us)
set -euo pipefail
cd "$(dirname "$0")/.."
cfg=${1:-cfg/yolov3-tiny-shapes.cfg}
lat=${2:-20}
mib=$(./darknet memory "$cfg" -ranks 2 2>/dev/null | sed -n 's/.*all_reduce_mib=\([0-9.]*\).*/\1/p')
[ -n "$mib" ] || { echo "mpi_cost.sh: no all_reduce_mib from ./darknet memory $cfg" >&2; exit 1; }
awk -v mib="$mib" -v lat="$lat" -v cfg="$cfg" 'BEGIN {
  g = mib * 1048576; printf "%s: %.2f M parameters, %.1f MB of gradients; per-message latency %d us\n", cfg, g / 4e6, g / 1e6, lat
  printf "%6s %14s %16s %16s\n", "ranks", "MB sent/rank", "ms at 10 Gbit/s", "ms at 100 Gbit/s"
  split("8 64 512", ns, " ")
  for (i = 1; i <= 3; ++i) {
    n = ns[i]; b = 2 * (n - 1) / n * g; l = 2 * (n - 1) * lat / 1000
    printf "%6d %14.1f %16.1f %16.1f\n", n, b / 1e6, b * 8 / 10e9 * 1000 + l, b * 8 / 100e9 * 1000 + l
  }
}'
