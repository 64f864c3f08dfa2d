#!/usr/bin/env bash
# Feeds ./darknet bad inputs and prints a Markdown table row per case: what was given, the
# exit status and the first line of the message (docs/reliability.md is made from this).
# Usage: tests/fuzz/reliability.sh [darknet binary]   (run from the repository root)
set -u
DN=${1:-./darknet}
T=$(mktemp -d /tmp/dn-reliability-XXXXXX)
trap 'rm -rf "$T"' EXIT
IMG=data/shapes/img_00000.png
CFG=$T/shapes.cfg
sed 's/^max_batches.*/max_batches=1/' cfg/yolov3-tiny-shapes.cfg > "$CFG"

row() { # $1 case, rest: command
  local what=$1; shift
  local out rc
  out=$("$@" 2>&1 < /dev/null); rc=$?
  # first meaningful line: skip the seed banner and progress lines
  local msg
  msg=$(printf '%s\n' "$out" | grep -av '^seed: ' | grep -aiE 'error|warning|unused|truncated|larger|couldn|cannot|must|allowed|not |no |unknown|invalid|partial|loaded|out of range|expected|exceed|range' | head -n 1 | tr '\n' ' ')
  [ -n "$msg" ] || msg=$(printf '%s\n' "$out" | grep -av '^seed: ' | tail -n 1 | tr -cd '[:print:]')
  msg=${msg//$T/\$TMP}
  msg=${msg//|/\\|}
  msg=${msg//\`/\'}
  printf '| %s | %s | `%s` |\n' "$what" "$rc" "$msg"
}

# ---- weights ----
python3 - "$T" <<'PY'
import struct, sys, os
t = sys.argv[1]
need = 34723476 - 20            # body bytes of yolov3-tiny-shapes (from the loader's message)
hdr = struct.pack('<iiiQ', 0, 2, 0, 0)
body = os.urandom(0)  # zeros are fine weights for these checks
z = bytes(need)
open(f'{t}/ok.weights', 'wb').write(hdr + z)
open(f'{t}/trunc.weights', 'wb').write(hdr + z[:-100])
open(f'{t}/big.weights', 'wb').write(hdr + z + b'\0' * 8)
open(f'{t}/empty.weights', 'wb').write(b'')
open(f'{t}/hdr10.weights', 'wb').write(hdr[:10])
open(f'{t}/hdronly.weights', 'wb').write(hdr)
open(f'{t}/old16.weights', 'wb').write(struct.pack('<iiii', 0, 1, 0, 0) + z)
open(f'{t}/partial.weights', 'wb').write(hdr + z[:4 * (16 * 4 + 16 * 3 * 9)])  # first conv only
open(f'{t}/text.weights', 'wb').write(b'[net]\nwidth=416\n' * 10)
PY
row "valid weights (zeros), right size" "$DN" detect "$CFG" "$T/ok.weights" "$IMG"
row "weights file missing" "$DN" detect "$CFG" "$T/none.weights" "$IMG"
row "empty weights file (0 bytes)" "$DN" detect "$CFG" "$T/empty.weights" "$IMG"
row "weights cut inside the header (10 bytes)" "$DN" detect "$CFG" "$T/hdr10.weights" "$IMG"
row "header only (20 bytes)" "$DN" detect "$CFG" "$T/hdronly.weights" "$IMG"
row "truncated by 100 bytes" "$DN" detect "$CFG" "$T/trunc.weights" "$IMG"
row "8 extra bytes at the end" "$DN" detect "$CFG" "$T/big.weights" "$IMG"
row "old 16-byte header (v0.1, 32-bit seen), same body" "$DN" detect "$CFG" "$T/old16.weights" "$IMG"
row "partial file: first conv layer only (.conv.1)" "$DN" detect "$CFG" "$T/partial.weights" "$IMG"
row "a text file as weights" "$DN" detect "$CFG" "$T/text.weights" "$IMG"
row "weights of another cfg (yolov3-tiny-shapes weights, yolov4-tiny cfg)" "$DN" detect cfg/yolov4-tiny-shapes.cfg "$T/ok.weights" "$IMG"

# ---- cfg ----
bad() { # $1 case, $2 cfg text
  printf '%b' "$2" > "$T/bad.cfg"
  row "$1" "$DN" memory "$T/bad.cfg"
}
N='[net]\nbatch=1\nwidth=32\nheight=32\nchannels=3\n'
row "cfg file missing" "$DN" memory "$T/nothing.cfg"
bad "empty cfg" ''
bad "first section not [net]" '[convolutional]\nfilters=1\n'
bad "line without =" "${N}[convolutional]\nfilters\n"
bad "bad section header" "${N}[convolutional\n"
bad "filters=-4" "${N}[convolutional]\nfilters=-4\n"
bad "size=0" "${N}[convolutional]\nsize=0\n"
bad "filters=3x (not an integer)" "${N}[convolutional]\nfilters=3x\n"
bad "unknown activation" "${N}[convolutional]\nactivation=sparkly\n"
bad "route layers=5 out of range" "${N}[convolutional]\n[route]\nlayers=5\n"
bad "route layers=-3 out of range" "${N}[convolutional]\n[route]\nlayers=-3\n"
bad "route of layers with different sizes" "${N}[convolutional]\n[maxpool]\nsize=2\nstride=2\n[route]\nlayers=-1,-2\n"
bad "shortcut from=-5 out of range" "${N}[convolutional]\n[shortcut]\nfrom=-5\n"
bad "actnn_bits=3" "${N}actnn_bits=3\n[convolutional]\n"
bad "actnn_bits=64 in a layer" "${N}[convolutional]\nactnn_bits=64\n"
bad "actnn_group=48" "${N}actnn=1\nactnn_group=48\n[convolutional]\n"
bad "actnn_auto=1 with actnn_bits=32" "${N}actnn_auto=1\nactnn_bits=32\n[convolutional]\n"
bad "unknown key (warning only)" "${N}[convolutional]\nflavour=vanilla\n"
bad "unknown section (warning only)" "${N}[frobnicate]\n[convolutional]\n"
bad "no input size" '[net]\nbatch=1\n[convolutional]\n'
bad "policy=steps without scales" "${N}policy=steps\nsteps=100\n[convolutional]\n"
bad "unknown policy" "${N}policy=warp\n[convolutional]\n"
bad "kernel larger than the input" '[net]\nwidth=2\nheight=2\nchannels=1\n[convolutional]\nsize=5\n'
bad "yolo: filters do not match mask and classes" "${N}[convolutional]\nfilters=10\n[yolo]\nmask=0,1,2\nanchors=1,1,2,2,3,3\nclasses=2\nnum=3\n"
bad "[net] only, no layers" "${N}"
row "a binary file (/bin/true) as cfg" "$DN" memory /bin/true

# ---- data ----
printf 'classes=3\ntrain=%s/none.txt\nnames=data/shapes.names\nbackup=%s\n' "$T" "$T" > "$T/a.data"
printf 'classes=3\nthis is not key value\n' > "$T/b.data"
printf 'classes=three\ntrain=x\n' > "$T/c.data"
row ".data file missing" "$DN" detector train "$T/none.data" "$CFG"
row ".data line without =" "$DN" detector train "$T/b.data" "$CFG"
row ".data classes=three" "$DN" detector train "$T/c.data" "$CFG"
row "train list missing" "$DN" detector train "$T/a.data" "$CFG"
row "image missing for detect" "$DN" detect "$CFG" "$T/ok.weights" "$T/none.png"
