#!/usr/bin/env bash
# The OpenCV build (make OPENCV=1, objects in build/cpu-cv; built here when OpenCV's
# headers are installed by scripts/setup.sh --opencv, skipped with the reason otherwise):
# a video made from shapes images with OpenCV's VideoWriter (MJPG) goes through
# `detector demo`; the output video has every frame, the boxes the demo printed are drawn
# at those pixels and the rest of each frame is the input (cv_video check). The detector
# is an untrained yolov4-tiny without batch norm (seeded random weights give boxes; a
# trained one is too slow to make here), so this checks the video and drawing path, not
# accuracy. Also: an image format stb cannot read (TIFF) loads through OpenCV, and the
# plain build's `detector demo` explains how to get an OpenCV build.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/common/checks.sh
DN=${DARKNET:-$ROOT/darknet}
if [ ! -f /usr/include/opencv4/opencv2/videoio.hpp ]; then
  echo "skip: OpenCV headers not installed (scripts/setup.sh --opencv); the OPENCV=1 build is not tested"
  exit 0
fi
if ! make -s -j2 OPENCV=1 build/cpu-cv/darknet build/cpu-cv/bin/cv_video build/cpu-cv/bin/make_shapes > /dev/null; then
  echo "FAIL make OPENCV=1"; exit 1
fi
CV=$ROOT/build/cpu-cv
O=$ROOT/build/oracle/dn_oracle
T=$(mktemp -d "${TMPDIR:-/tmp}/opencv_demo.XXXXXX")
trap 'rm -rf "$T"' EXIT

mkdir -p $T/set
$CV/bin/make_shapes $T/set 4 0 160 120 7 > /dev/null || { echo "FAIL make_shapes"; exit 1; }
printf 'rectangle\nellipse\ntriangle\n' > $T/names
printf 'classes=3\ntrain=%s/set/train.txt\nnames=%s/names\nbackup=%s/backup\n' $T $T $T > $T/shapes.data
$O cfgset cfg/yolov4-tiny-shapes.cfg $T/y4.cfg width=64 height=64 batch=1 subdivisions=1 > /dev/null
sed -i 's/batch_normalize=1/batch_normalize=0/' $T/y4.cfg
cd $T

$CV/bin/cv_video make in.avi 5 set/img_00000.png set/img_00001.png set/img_00002.png set/img_00003.png > make.out 2>&1
check "VideoWriter MJPG video of 4 frames" has make.out "4 frames -> in.avi"
$CV/darknet -seed 3 detector demo shapes.data y4.cfg '' in.avi -out_filename out.avi -dont_show -thresh .42 > demo.out 2> demo.err
check "demo exit 0" [ $? = 0 ]
check "demo read every frame" has demo.out "^4 frames, written to out.avi"
check "demo printed boxes" [ "$(grep -c 'left_x:' demo.out)" -ge 4 ]
$CV/bin/cv_video check in.avi out.avi demo.out > check.out 2>&1
check "boxes drawn where printed, frames otherwise unchanged" [ $? = 0 ]
check "all 4 frames compared" has check.out "^4 frames, "
[ $fails = 0 ] || cat check.out | tail -5

# An image format stb does not read: OpenCV decodes it (written by the OpenCV build itself)
$CV/bin/cv_video tiff set/img_00000.png img.tiff > /dev/null 2>&1
$CV/darknet detector test shapes.data y4.cfg '' img.tiff -thresh .9 > tiff.out 2>&1
check "TIFF loads in the OpenCV build" has tiff.out "img.tiff: Predicted in"
case "${DN_VARIANT:-cpu}" in
  *-cv*) echo "skip: the plain-build checks (this suite runs an OpenCV build)" ;;
  *)
    $DN detector test shapes.data y4.cfg '' img.tiff -thresh .9 > tiff2.out 2>&1
    check "the stb build reports the TIFF as unreadable" has tiff2.out "cannot load image img.tiff"
    $DN detector demo shapes.data y4.cfg '' in.avi > plain.out 2>&1
    check "plain build: demo says how to get OpenCV" has plain.out "make OPENCV=1" ;;
esac
exit $((fails > 0))
