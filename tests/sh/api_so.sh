#!/usr/bin/env bash
# The public API (include/darknet.h) and libdarknet.so as pjreddie's users use them (issue 14):
# - nm -D libdarknet.so exports exactly the functions the header declares (and gpu_index);
# - tests/api/api_detect.c (built with -Iinclude only, linked with the .so) runs the
#   darknet.py sequence (load_network, get_metadata, letterbox_image, network_predict_image,
#   get_network_boxes, do_nms_sort/do_nms_obj, draw_detections, free_*) and its boxes equal
#   `./darknet detector test -letter_box -ext_output` on the same image; the public structs
#   it reads (net->n, last layer's type/classes, *net->seen...) equal the cfg's and the
#   weights file's values;
# - pjreddie's python/darknet.py calls through ctypes (python3) give the same boxes;
# - tests/oracle/dn_boxes.c, a pjreddie-API program, built against our header and .so gives
#   the boxes Debian's libdarknet gives (the same source built against Debian's).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DN=${DARKNET:-$ROOT/darknet}
API=${DN_API_TESTS:-$ROOT/build/tests/api}
SO=${DN_LIBSO:-$ROOT/build/cpu/libdarknet.so}
O=$ROOT/build/oracle/dn_oracle
T=$(mktemp -d "${TMPDIR:-/tmp}/api_so.XXXXXX")
trap 'rm -rf "$T"' EXIT
TOOLS=${DN_TOOLS:-$ROOT/build/bin}
. tests/common/checks.sh
for f in "$SO" "$API/api_detect" "$API/dn_boxes_ours"; do
  [ -e "$f" ] || { echo "FAIL $f missing (make tests builds it)"; exit 1; }
done

# ---- exported symbols: the header's functions and gpu_index, nothing else ----------------------
nm -D --defined-only "$SO" | awk '{print $NF}' | sed 's/@.*//' | sort -u > $T/exported
header_functions 0 > $T/declared
echo gpu_index >> $T/declared; sort -u -o $T/declared $T/declared
check "nm -D shows the public API only ($(wc -l < $T/exported) symbols)" cmp -s $T/exported $T/declared
diff $T/declared $T/exported | head
check "no dn_ symbol exported" [ -z "$(grep '^dn_' $T/exported)" ]

# ---- a detector whose weights are its initialisation (no batch norm, lr 0) ---------------------
cd $T
init_detector
check "weights for the API test" [ -s bk/y_final.weights ]
img=set/img_00002.png

"$API/api_detect" d.data y.cfg bk/y_final.weights $img .3 > api.out 2> api.err
check "api_detect exits 0" [ $? = 0 ]
fact() { grep -q "^FACT .*$1" api.out || { echo "  '$1' not in:"; grep FACT api.out; return 1; }; }
sections=$(( $(grep -c '^\[' y.cfg) - 1 ))
seen=$(od -An -t u8 -j 12 -N 8 bk/y_final.weights | tr -d ' ')
filters=$(awk '/^\[convolutional\]/{c=1} c && /^filters=/{sub("filters=",""); print; exit}' y.cfg)
check "net->n is the cfg's $sections layers" fact "n=$sections\$"
check "last layer: type YOLO, classes 3" fact "last.type_is_yolo=1 classes=3 "
check "*net->seen is the weights file's ($seen)" fact "seen=$seen "
check "net->w/h/c/inputs" fact "net.w=64 net.h=64 net.c=3 inputs=12288"
check "first layer: conv with the cfg's $filters filters and biases" fact "first.type_is_conv=1 first.out_c=$filters first.nbiases=$filters"
check "network_predict_image letterboxes; the last layer's output is kept" fact "predict_image_is_letterboxed=1 last_output_kept=1"
check "darknet.py's do_nms_obj path ran" fact "obj_nms_boxes=[1-9]"
check "what_time_is_it_now" fact "time_positive=1"
check "api_pred.jpg is a JPEG" [ "$(od -An -tx1 -N3 api_pred.jpg | tr -d ' ')" = ffd8ff ]

"$DN" detector test d.data y.cfg bk/y_final.weights $img -thresh .3 -letter_box -ext_output > cli.out 2>/dev/null
grep '%	(' cli.out | sort > cli.ext; sed -n 's/^EXT //p' api.out | sort > api.ext
check "API boxes equal detector test -letter_box -ext_output ($(wc -l < cli.ext) boxes)" same_nonempty cli.ext api.ext
grep -vE '^(FACT|EXT)' api.out | grep '%$' | sort > api.draw; sed 's/\t.*//' cli.ext | sort > cli.names
check "draw_detections prints the same name: NN% lines" same_nonempty cli.names api.draw

# ---- pjreddie's python/darknet.py way: ctypes over libdarknet.so ---------------------------------
cat > dn.py <<'PY'
import sys
from ctypes import *
class BOX(Structure): _fields_ = [("x", c_float), ("y", c_float), ("w", c_float), ("h", c_float)]
class DETECTION(Structure):
    _fields_ = [("bbox", BOX), ("classes", c_int), ("prob", POINTER(c_float)), ("mask", POINTER(c_float)),
                ("objectness", c_float), ("sort_class", c_int)]
class IMAGE(Structure): _fields_ = [("w", c_int), ("h", c_int), ("c", c_int), ("data", POINTER(c_float))]
class METADATA(Structure): _fields_ = [("classes", c_int), ("names", POINTER(c_char_p))]
lib = CDLL(sys.argv[1], RTLD_GLOBAL)
# every function pjreddie's python/darknet.py binds when imported (an AttributeError there
# stops the import before any call)
for f in ["cuda_set_device", "do_nms_obj", "do_nms_sort", "free_detections", "free_image",
          "free_ptrs", "get_metadata", "get_network_boxes", "letterbox_image", "load_image_color",
          "load_network", "make_image", "make_network_boxes", "network_height", "network_predict",
          "network_predict_image", "network_width", "reset_rnn", "rgbgr_image"]:
    getattr(lib, f)
lib.network_width.argtypes = [c_void_p]
make_boxes = lib.make_network_boxes
make_boxes.argtypes = [c_void_p, c_float, POINTER(c_int)]; make_boxes.restype = POINTER(DETECTION)
lib.reset_rnn.argtypes = [c_void_p]
load_net = lib.load_network; load_net.argtypes = [c_char_p, c_char_p, c_int]; load_net.restype = c_void_p
load_meta = lib.get_metadata; load_meta.argtypes = [c_char_p]; load_meta.restype = METADATA
load_image = lib.load_image_color; load_image.argtypes = [c_char_p, c_int, c_int]; load_image.restype = IMAGE
predict_image = lib.network_predict_image; predict_image.argtypes = [c_void_p, IMAGE]
predict_image.restype = POINTER(c_float)
get_boxes = lib.get_network_boxes
get_boxes.argtypes = [c_void_p, c_int, c_int, c_float, c_float, POINTER(c_int), c_int, POINTER(c_int)]
get_boxes.restype = POINTER(DETECTION)
nms = lib.do_nms_obj; nms.argtypes = [POINTER(DETECTION), c_int, c_int, c_float]
free_dets = lib.free_detections; free_dets.argtypes = [POINTER(DETECTION), c_int]
free_image = lib.free_image; free_image.argtypes = [IMAGE]
net = load_net(sys.argv[3].encode(), sys.argv[4].encode(), 0)
meta = load_meta(sys.argv[2].encode())
im = load_image(sys.argv[5].encode(), 0, 0)
predict_image(net, im)
num = c_int(0)
lib.reset_rnn(net)
made = c_int(-1)
empty = make_boxes(net, float(sys.argv[6]), pointer(made))
zero = all(empty[j].prob[i] == 0 and empty[j].classes == meta.classes
           for j in range(made.value) for i in range(meta.classes))
free_dets(empty, made.value)
dets = get_boxes(net, im.w, im.h, float(sys.argv[6]), .5, None, 0, pointer(num))
print("PY make_network_boxes: num=%d as get_network_boxes=%d, unfilled=%d" % (made.value, num.value == made.value, zero))
nms(dets, num.value, meta.classes, .45)
kept = sum(1 for j in range(num.value) for i in range(meta.classes) if dets[j].prob[i] > 0)
print("PY width=%d boxes=%d kept=%d name0=%s" % (lib.network_width(net), num.value, kept,
                                                  meta.names[0].decode()))
free_dets(dets, num.value)
free_image(im)
bad = load_image(b"no-such-image.png", 0, 0)  # Darknet's OpenCV builds: 10x10, go on
print("PY unreadable image: %dx%dx%d, still running" % (bad.w, bad.h, bad.c))
free_image(bad)
PY
# A sanitizer build of the library needs ASan's runtime first in the process, and python
# itself leaks by LeakSanitizer's rules: preload the runtime, leaks not reported.
PRE=
if nm -D "$SO" | grep -q ' U __asan_init'; then
  PRE=$(${CC:-gcc} -print-file-name=libasan.so)
  export ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
fi
LD_PRELOAD=$PRE python3 dn.py "$SO" d.data y.cfg bk/y_final.weights $img .3 > py.all 2> py.err
grep '^PY ' py.all > py.out
want=$(sed -n 's/^FACT obj_nms_boxes=\([0-9]*\) obj_nms_kept=\([0-9]*\)$/PY width=64 boxes=\1 kept=\2 name0=rectangle/p' api.out)
check "darknet.py's ctypes calls over libdarknet.so give the C program's boxes ($want)" [ -n "$want" -a "$(grep -v 'make_network\|unreadable' py.out)" = "$want" ]
check "an unreadable image gives Darknet's 10x10 image, the interpreter goes on" \
  grep -q "^PY unreadable image: 10x10x3, still running" py.out
check "every function pjreddie's darknet.py binds exists; make_network_boxes sizes get_network_boxes' array, unfilled" \
  grep -q "^PY make_network_boxes: num=[1-9][0-9]* as get_network_boxes=1, unfilled=1" py.out

# ---- pjreddie's API program, built against ours and against Debian's ----------------------------
if [ -x $ROOT/build/oracle/dn_boxes ]; then
  $O randinput 12288 11 in.f32 > /dev/null
  for mode in sort obj; do
    "$API/dn_boxes_ours" y.cfg bk/y_final.weights in.f32 96 64 .2 .45 $mode > ours.$mode 2>/dev/null
    $ROOT/build/oracle/dn_boxes y.cfg bk/y_final.weights in.f32 96 64 .2 .45 $mode > theirs.$mode 2>/dev/null
    check "dn_boxes ($mode) built on our API equals Debian's ($(wc -l < theirs.$mode) boxes)" \
      python3 -c "
import sys
a = [list(map(float, l.split())) for l in open('ours.$mode')]
b = [list(map(float, l.split())) for l in open('theirs.$mode')]
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
for x, y in zip(sorted(a), sorted(b)):
    assert len(x) == len(y) and all(abs(u - v) <= 1e-4 + 1e-4 * abs(v) for u, v in zip(x, y)), (x, y)
"
  done
fi

[ $fails = 0 ] && echo "api_so: all checks passed" || echo "api_so: $fails checks failed"
[ $fails = 0 ]
