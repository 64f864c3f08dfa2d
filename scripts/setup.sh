#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need. Idempotent: packages
# already present are skipped, so a second run installs nothing and needs no network.
#   scripts/setup.sh            build + tests + demo dependencies
#   scripts/setup.sh --fuzz     also clang and its fuzzer runtime (for `make fuzz`)
#   scripts/setup.sh --opencv   also OpenCV for `make OPENCV=1` (image formats, video, demo):
#                               the parts of Debian's libopencv-dev that build uses (core,
#                               imgproc, imgcodecs, videoio; 8 packages instead of 63)
set -euo pipefail

# libopenblas-openmp-dev: the OpenMP build of OpenBLAS the Makefile links (BLAS=openmp,
# docs/speed.md); libopenblas0-serial only for scripts/bench_peak.sh BLAS_CMP=.
pkgs=(build-essential pkg-config libopenblas-dev libopenblas-openmp-dev libopenblas0-serial
      libstb-dev libcmocka-dev
      darknet dataset-fashion-mnist gnuplot-nox time valgrind
      openmpi-bin libopenmpi-dev
      python3)   # python3: JSON checks in tests/sh/dropin_cli.sh and api_so.sh
for a in "$@"; do
  case "$a" in
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
    --opencv) pkgs+=(libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a' (allowed: --fuzz --opencv)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
