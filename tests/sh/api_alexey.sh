#!/usr/bin/env bash
# libdarknet_alexey.so as AlexeyAB's darknet.py uses it (his API: include/darknet.h with
# DARKNET_ALEXEY_API), through ctypes:
# - nm -D exports exactly the header's functions for his library (and gpu_index);
# - every function his darknet.py binds when imported exists, and his 88-byte detection
#   is what get_network_boxes returns (ctypes reads entries 88 bytes apart);
# - his detect_image sequence (network_predict_image, which stretches the image, then
#   get_network_boxes(..., letter=0), do_nms_sort, the prob > 0 scan) on a 96x64 image
#   gives the boxes of `./darknet detector test -ext_output` (AlexeyAB's CLI stretches too),
#   and network_predict_image_letterbox with letter=1 those of `-letter_box`;
# - best_class_idx is each entry's highest class, -1 when none (also after NMS), and the
#   entries are in do_nms_sort's order (his entries move with the framework's);
# - copy_image_from_bytes of interleaved bytes gives byte/255 in planar order (within half a
#   level of the load_image_color image they were taken from);
# - network_predict_batch over two images gives each image's own boxes; a batch_size that
#   is not the network's is an error naming load_network_custom.
# The ctypes declarations are written here from his header's layout, not taken from his
# files.
set -u
cd "$(dirname "$0")/../.."
. tests/common/checks.sh   # cwd is the repository root here
test_env api_alexey
SO=${DN_LIBSO_AB:-$ROOT/build/cpu/alexey/libdarknet.so}
[ -e "$SO" ] || { echo "FAIL $SO missing (make builds it)"; exit 1; }

nm -D --defined-only "$SO" | awk '{print $NF}' | sed 's/@.*//' | sort -u > $T/exported
{ header_functions 1; echo gpu_index; } | sort -u > $T/declared
check "nm -D shows his API only ($(wc -l < $T/exported) symbols)" cmp -s $T/exported $T/declared
diff $T/declared $T/exported | head

cd $T
init_detector
check "weights for the test" [ -s bk/y_final.weights ]
img=set/img_00002.png; img2=set/img_00003.png

cat > ab.py <<'PY'
import struct, sys
from ctypes import *
class BOX(Structure): _fields_ = [("x", c_float), ("y", c_float), ("w", c_float), ("h", c_float)]
class DETECTION(Structure):
    _fields_ = [("bbox", BOX), ("classes", c_int), ("best_class_idx", c_int),
                ("prob", POINTER(c_float)), ("mask", POINTER(c_float)), ("objectness", c_float),
                ("sort_class", c_int), ("uc", POINTER(c_float)), ("points", c_int),
                ("embeddings", POINTER(c_float)), ("embedding_size", c_int), ("sim", c_float),
                ("track_id", c_int)]
class DETNUMPAIR(Structure): _fields_ = [("num", c_int), ("dets", POINTER(DETECTION))]
class IMAGE(Structure): _fields_ = [("w", c_int), ("h", c_int), ("c", c_int), ("data", POINTER(c_float))]
class METADATA(Structure): _fields_ = [("classes", c_int), ("names", POINTER(c_char_p))]
so, data, cfg, weights, img, img2 = sys.argv[1:7]
lib = CDLL(so, RTLD_GLOBAL)
# what his darknet.py binds when imported
for f in ["network_width", "network_height", "copy_image_from_bytes", "network_predict_ptr",
          "cuda_set_device", "init_cpu", "make_image", "get_network_boxes", "make_network_boxes",
          "free_detections", "free_batch_detections", "free_ptrs", "reset_rnn", "load_network",
          "load_network_custom", "free_network_ptr", "do_nms_obj", "do_nms_sort", "free_image",
          "letterbox_image", "get_metadata", "load_image_color", "rgbgr_image",
          "network_predict_image", "network_predict_image_letterbox", "network_predict_batch"]:
    getattr(lib, f)
print("AB sizeof(DETECTION)=%d" % sizeof(DETECTION))
P = POINTER
lib.load_network_custom.argtypes = [c_char_p, c_char_p, c_int, c_int]; lib.load_network_custom.restype = c_void_p
lib.get_metadata.argtypes = [c_char_p]; lib.get_metadata.restype = METADATA
lib.load_image_color.argtypes = [c_char_p, c_int, c_int]; lib.load_image_color.restype = IMAGE
lib.make_image.argtypes = [c_int, c_int, c_int]; lib.make_image.restype = IMAGE
lib.copy_image_from_bytes.argtypes = [IMAGE, c_char_p]
for f in ["network_predict_image", "network_predict_image_letterbox"]:
    getattr(lib, f).argtypes = [c_void_p, IMAGE]; getattr(lib, f).restype = P(c_float)
lib.get_network_boxes.argtypes = [c_void_p, c_int, c_int, c_float, c_float, P(c_int), c_int, P(c_int), c_int]
lib.get_network_boxes.restype = P(DETECTION)
lib.do_nms_sort.argtypes = [P(DETECTION), c_int, c_int, c_float]
lib.free_detections.argtypes = [P(DETECTION), c_int]
lib.network_predict_batch.argtypes = [c_void_p, IMAGE, c_int, c_int, c_int, c_float, c_float, P(c_int), c_int, c_int]
lib.network_predict_batch.restype = P(DETNUMPAIR)
lib.free_batch_detections.argtypes = [P(DETNUMPAIR), c_int]
lib.free_image.argtypes = [IMAGE]
lib.free_network_ptr.argtypes = [c_void_p]
lib.network_width.argtypes = [c_void_p]; lib.network_height.argtypes = [c_void_p]
lib.init_cpu()
meta = lib.get_metadata(data.encode())
names = [meta.names[i].decode() for i in range(meta.classes)]
net = lib.load_network_custom(cfg.encode(), weights.encode(), 0, 1)
nw, nh = lib.network_width(net), lib.network_height(net)

def boxes(d, num, prefix):  # his remove_negatives, printed as -ext_output prints
    best_ok = 1
    for j in range(num):
        probs = [d[j].prob[i] for i in range(meta.classes)]
        top = max(range(meta.classes), key=lambda i: probs[i])
        want = top if probs[top] > 0 else -1
        best_ok &= d[j].best_class_idx == want or probs[d[j].best_class_idx] == probs[top] > 0
        best_ok &= max(probs) <= d[j].objectness + 1e-6  # prob = objectness x class: same entry
        for i, name in enumerate(names):
            if probs[i] > .3:
                b = d[j].bbox
                print("%s %s: %.0f%%\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)" %
                      (prefix, name, probs[i] * 100, round(b.x - b.w / 2), round(b.y - b.h / 2),
                       round(b.w), round(b.h)))
    # do_nms_sort's order: boxes without objectness last, the others best first by the
    # last class it sorted on
    objs = [d[j].objectness > 0 for j in range(num)]
    last = [d[j].prob[meta.classes - 1] for j in range(num) if objs[j]]
    best_ok &= objs == sorted(objs, reverse=True) and last == sorted(last, reverse=True)
    return best_ok

def detect(im, predict, letter, prefix):
    num = c_int(0)
    predict(net, im)
    d = lib.get_network_boxes(net, im.w, im.h, .3, .5, None, 0, pointer(num), letter)
    lib.do_nms_sort(d, num.value, meta.classes, .45)
    ok = boxes(d, num.value, prefix)
    lib.free_detections(d, num.value)
    return ok

im = lib.load_image_color(img.encode(), 0, 0)
ok = detect(im, lib.network_predict_image, 0, "STRETCH")
ok &= detect(im, lib.network_predict_image_letterbox, 1, "LETTER")
print("AB best_class_idx and objectness consistent=%d" % ok)

# his darknet_images.py: bytes at the network size into make_image's image
small = lib.load_image_color(img.encode(), nw, nh)
n = nw * nh * 3
raw = bytes(int(round(small.data[k * nw * nh + i] * 255)) for i in range(nw * nh) for k in range(3))
dst = lib.make_image(nw, nh, 3)
lib.copy_image_from_bytes(dst, raw)
f32 = lambda v: struct.unpack("f", struct.pack("f", v))[0]
diff = max(abs(dst.data[k * nw * nh + i] - f32(raw[i * 3 + k] / 255.)) for i in range(nw * nh) for k in range(3))
diff = max(diff, max(abs(dst.data[i] - small.data[i]) for i in range(n)) > .5 / 255 + 1e-6)
print("AB copy_image_from_bytes maxdiff=%g" % diff)

# two images in one batch against each alone (stretched to the network, letter=0)
net2 = lib.load_network_custom(cfg.encode(), weights.encode(), 0, 2)
second = lib.load_image_color(img2.encode(), nw, nh)
buf = (c_float * (2 * n))()
for i in range(n):
    buf[i] = small.data[i]; buf[n + i] = second.data[i]
both = IMAGE(nw, nh, 3, cast(buf, P(c_float)))
pairs = lib.network_predict_batch(net2, both, 2, nw, nh, .3, .5, None, 0, 0)
for b in range(2):
    lib.do_nms_sort(pairs[b].dets, pairs[b].num, meta.classes, .45)
    boxes(pairs[b].dets, pairs[b].num, "BATCH%d" % b)
lib.free_batch_detections(pairs, 2)
for k, im1 in enumerate([small, second]):
    detect(im1, lib.network_predict_image, 0, "ALONE%d" % k)
for x in [im, small, second, dst]:
    lib.free_image(x)
lib.free_network_ptr(net)
sys.stdout.flush()
lib.network_predict_batch(net2, both, 3, nw, nh, .3, .5, None, 0, 0)  # exits 1 with a message
PY
PRE=
if nm -D "$SO" | grep -q ' U __asan_init'; then
  PRE=$(${CC:-gcc} -print-file-name=libasan.so)
  export ASAN_OPTIONS=detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
fi
LD_PRELOAD=$PRE python3 ab.py "$SO" d.data y.cfg bk/y_final.weights $img $img2 > ab.out 2> ab.err
rc=$?
check "his sequence ran; a wrong batch_size exits 1" [ $rc = 1 ]
check "a wrong batch_size names load_network_custom" has ab.err "network_predict_batch: batch_size 3, but the network's mini-batch is 2"
check "ctypes reads his 88-byte detection" has ab.out "^AB sizeof(DETECTION)=88"
check "best_class_idx is each entry's highest class; do_nms_sort's order" has ab.out "^AB best_class_idx and objectness consistent=1"
check "copy_image_from_bytes gives byte/255 in planar order" has ab.out "^AB copy_image_from_bytes maxdiff=0$"

# -ext_output lines against the CLI, coordinates within a pixel (his pixel boxes are rounded
# from relative=0 values, the CLI's from relative ones)
same_ext() { # <prefix> <cli output>
  grep '%	(' "$2" | sort > cli.$1; sed -n "s/^$1 //p" ab.out | sort > py.$1
  python3 - cli.$1 py.$1 <<'PY'
import re, sys
rows = [sorted(open(f).read().splitlines()) for f in sys.argv[1:3]]
assert len(rows[0]) == len(rows[1]) > 0, (len(rows[0]), len(rows[1]))
num = lambda l: [float(x) for x in re.findall(r"-?\d+", l.split("\t")[1])]
for a, b in zip(*rows):
    assert a.split("\t")[0] == b.split("\t")[0], (a, b)
    assert all(abs(x - y) <= 1 for x, y in zip(num(a), num(b))), (a, b)
PY
}
"$DN" detector test d.data y.cfg bk/y_final.weights $img -thresh .3 -ext_output > cli_st.out 2>/dev/null
"$DN" detector test d.data y.cfg bk/y_final.weights $img -thresh .3 -ext_output -letter_box > cli_lb.out 2>/dev/null
check "network_predict_image + letter=0 give detector test's boxes ($(grep -c '^STRETCH' ab.out))" same_ext STRETCH cli_st.out
check "network_predict_image_letterbox + letter=1 give -letter_box's ($(grep -c '^LETTER' ab.out))" same_ext LETTER cli_lb.out
check "stretched and letterboxed boxes differ on a 96x64 image" \
  [ "$(sed -n 's/^STRETCH //p' ab.out | sort)" != "$(sed -n 's/^LETTER //p' ab.out | sort)" ]
for k in 0 1; do
  check "network_predict_batch: image $k's boxes equal its own ($(grep -c "^BATCH$k" ab.out))" \
    [ -n "$(grep "^BATCH$k" ab.out)" -a "$(sed -n "s/^BATCH$k //p" ab.out)" = "$(sed -n "s/^ALONE$k //p" ab.out)" ]
done

[ $fails = 0 ] && echo "api_alexey: all checks passed" || echo "api_alexey: $fails checks failed"
[ $fails = 0 ]
