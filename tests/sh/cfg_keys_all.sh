#!/usr/bin/env bash
# Every cfg key the parser accepts changes the network or is reported (issue 14).
#
# The keys come from the parser itself: with DN_CFG_KEYS=1 every key a section's parser looks
# up is logged (src/core/cfg.c), so a key added to any parse function is tested without
# editing this file. Keys read only under another key's value (policy=steps -> steps=) are
# found the same way: a run that sets a key and logs new keys adds them, with that setting.
#
# For each (section, key) the key is set to valid non-default values in a tiny cfg and
# build/bin/cfg_probe prints the layer table, the memory plan, the initial weights, two
# training steps' costs and weights and a forward of a fixed input. The key passes when one
# value changes that output from the same cfg without the key, or when the run prints
# `k.cfg:LINE: [section] key=value: ... not supported` naming the key. Values tried: numbers,
# lists, and for enumerations the names the parser lists as allowed. A key that does neither
# fails with its name. Keys that act only on the data loader (image augmentation) cannot
# show in cfg_probe; they are listed in DATA_KEYS below and checked by tests/sh/cfg_keys.sh
# and the loader tests, and this test fails when one of them is no longer read.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=${DN_TOOLS:-$ROOT/build/bin}
PROBE=$TOOLS/cfg_probe
. tests/common/checks.sh
[ -x "$PROBE" ] || { echo "FAIL: $PROBE not built (make tools)"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/cfg_keys_all.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

NET='[net]
batch=2
width=16
height=16
channels=3
learning_rate=0.1'
CONV='[convolutional]
filters=4
size=3
stride=1
pad=1
batch_normalize=1
activation=leaky'
CONV12=$(printf '%s' "$CONV" | sed 's/filters=4/filters=12/; s/activation=leaky/activation=linear/')
HEAD='[connected]
output=4
activation=linear
[softmax]'

# The cfg for a section type, in BASE: @ marks where the keys under test go (inside that
# section). Built without a subshell: this test runs ~800 probes, and on a slow machine
# every fork costs milliseconds (forks, not the probes, were most of its time).
base() {
  case $1 in
    net) printf -v BASE '%s\n@\n%s\n%s\n' "$NET" "$CONV" "$HEAD" ;;
    convolutional) printf -v BASE '%s\n%s\n@\n%s\n' "$NET" "$CONV" "$HEAD" ;;
    connected) printf -v BASE '%s\n%s\n[connected]\noutput=4\nactivation=linear\n@\n[softmax]\n' "$NET" "$CONV" ;;
    softmax) printf -v BASE '%s\n%s\n[connected]\noutput=4\nactivation=linear\n[softmax]\n@\n' "$NET" "$CONV" ;;
    cost) printf -v BASE '%s\n%s\n%s\n[cost]\ntype=sse\n@\n' "$NET" "$CONV" "$HEAD" ;;
    route) printf -v BASE '%s\n%s\n%s\nfilters=2\n[route]\nlayers=-1,-2\n@\n%s\n' "$NET" "$CONV" "$CONV" "$HEAD" ;;
    shortcut) printf -v BASE '%s\n%s\n%s\n[shortcut]\nfrom=-2\nactivation=linear\n@\n%s\n' "$NET" "$CONV" "$CONV" "$HEAD" ;;
    yolo) printf -v BASE '%s\n%s\n[yolo]\nmask=0,1\nanchors=2,2,5,5,9,9\nclasses=1\nnum=3\n@\n' "$NET" "$CONV12" ;;
    region) printf -v BASE '%s\n%s\n[region]\nanchors=1,1,2,2\nclasses=1\nnum=2\ncoords=4\n@\n' "$NET" "$CONV12" ;;
    scale_channels) printf -v BASE '%s\n%s\n[avgpool]\n[convolutional]\nfilters=4\nsize=1\nactivation=logistic\n[scale_channels]\nfrom=-3\n@\n%s\n' "$NET" "$CONV" "$HEAD" ;;
    sam) printf -v BASE '%s\n%s\n%s\n[sam]\nfrom=-2\n@\n%s\n' "$NET" "$CONV" "$CONV" "$HEAD" ;;
    reorg3d) printf -v BASE '%s\n%s\n[reorg3d]\nstride=2\n@\n%s\n' "$NET" "${CONV/filters=4/filters=16}" "$HEAD" ;;
    reorg) printf -v BASE '%s\n%s\n[reorg]\nstride=2\n@\n%s\n' "$NET" "$CONV" "$HEAD" ;;
    *) printf -v BASE '%s\n%s\n[%s]\n@\n%s\n' "$NET" "$CONV" "$1" "$HEAD" ;;
  esac
  BASE=${BASE%$'\n'}
}
SECTIONS="net convolutional connected softmax cost route shortcut yolo region maxpool avgpool
dropout upsample reorg crop batchnorm activation empty scale_channels sam reorg3d"

# Keys of [net] that only the data loader reads (augmentation, crops, letterbox): they do not
# change a network. cfg_keys.sh checks min_ratio/max_ratio against min_crop/max_crop.
DATA_KEYS="net:angle net:aspect net:saturation net:exposure net:hue net:flip net:letter_box
net:max_crop net:min_crop net:max_ratio net:min_ratio net:center net:notruth net:resize_step
net:max_batches net:blur net:cutmix net:gaussian_noise net:mixup net:mosaic net:mosaic_bound"
# The learning-rate schedule acts after more steps than cfg_probe runs: test_cfg.c checks it.
DATA_KEYS="$DATA_KEYS net:step net:steps net:scales"
# The decoded-image cache changes no result (tests/sh/image_cache.sh proves it).
DATA_KEYS="$DATA_KEYS net:image_cache_mb"

# Keys this test cannot yet prove either way with one key in a tiny cfg (listed, printed as
# SKIP with the reason, and still failing the test when no longer read). Each needs a
# companion key or a longer run: structural keys that must match the previous layer's
# filters (classes/num/coords), detector-training and NMS keys (jitter, random, resize,
# max_delta, nms_kind, beta_nms, iou_thresh_kind), schedule keys of other policies
# (power, learning_rate_min), MPI (sync_bn), keys needing groups (group_id) or another
# geometry (dilation, groups, padding with pad=1, stride_y, spatial), inputs (must equal
# w*h*c), workspace_size_limit_MB (no effect on a 16 px net) and dontload (to be checked:
# cfg_probe's load_weights_ex showed no difference). counters_per_class needs two classes
# (one class always weighs 1): test_yolo counters_per_class_weights proves it.
# region:focal_loss with one softmax class changes nothing (the class output is 1, every
# class delta 0): test_region region_focal_loss proves it with three.
# cls_normalizer acts only with counters_per_class, as AlexeyAB's: test_yolo
# cls_normalizer_with_counters_only proves both halves.
# scale_channels:scale_wh needs a previous layer of another shape (W x H x 1):
# test_gradcheck scale_channels_wh and test_cfg products_shapes prove it.
UNPROVEN="net:inputs net:learning_rate_min net:power net:sync_bn net:workspace_size_limit_MB
convolutional:dilation convolutional:dontload convolutional:groups convolutional:padding
convolutional:stride_y softmax:spatial route:group_id yolo:beta_nms yolo:classes
yolo:counters_per_class yolo:cls_normalizer yolo:iou_thresh_kind yolo:jitter yolo:max_delta yolo:nms_kind yolo:num yolo:random
yolo:resize region:classes region:coords region:jitter region:num region:random
region:focal_loss region:resize maxpool:stride_y scale_channels:scale_wh net:actnn_auto_interval net:actnn_auto_layers net:actnn_concat
net:actnn_group net:actnn_stream net:actnn_stream_grow net:actnn_swap"

# mk SECTION CTX KEYLINES: writes k.cfg, sets SECLINE to the line of the section under test
# and LINE to the line of the first key line (0 without one). One awk, no other process.
mk() {
  local sec=$1 keys=$3 ins= drop= l
  while IFS= read -r l; do
    [ -n "$l" ] || continue
    ins+=${ins:+$'\n'}$l
    [[ $l == *=* ]] && drop+="${l%%=*} "
  done <<< "$2"$'\n'"$keys"
  base "$sec"
  # The section's own line for a key under test goes (the first occurrence would win).
  awk -v ins="$ins" -v drop="$drop" -v sec="[$sec]" -v first="${keys%%$'\n'*}" '
    BEGIN { n = split(drop, d, " "); for (i = 1; i <= n; ++i) gone[d[i]] = 1 }
    { line[NR] = $0 }
    function out(s) { print s > "k.cfg"; ++o; if (s == sec) secline = o
                      if (first != "" && s == first) keyline = o }
    END { for (i = 1; i <= NR; ++i) if (line[i] == "@") at = i
          start = 0; for (i = 1; i < at; ++i) if (line[i] ~ /^\[/) start = i
          m = split(ins, il, "\n")
          for (i = 1; i <= NR; ++i) {
            if (i == at) { if (m == 0) out(""); for (j = 1; j <= m; ++j) out(il[j]); continue }
            k = line[i]; sub(/=.*/, "", k)
            if (i > start && i < at && (k in gone)) continue
            out(line[i]) }
          print secline + 0, keyline + 0 > "k.lines" }' <<< "$BASE"
  read -r SECLINE LINE < k.lines
  if [ "$sec" = net ]; then SECLINE=1; fi
}
# [convolutional] runs load other.weights (another seed's) so dontload= shows; every run
# saves its weights so dontsave= shows.
probe() {
  local load=()
  [ "$PSEC" = convolutional ] && [[ $PKEY == dontload* ]] && load=(-load other.weights)
  DN_CFG_KEYS=1 "$PROBE" k.cfg -seed 3 "${load[@]}" -save k.weights > k.out 2> k.err
}
# LOOKED: the keys the target section's parser looked up in the last run, each once, in
# the order first looked up (a bash loop: no fork).
looked() {
  local pfx="cfg-key: k.cfg:$SECLINE [$1] " l k
  local -A once=()
  LOOKED=()
  while IFS= read -r l; do
    [[ $l == "$pfx"* ]] || continue
    k=${l#"$pfx"}
    [ -n "${once[$k]+x}" ] && continue
    once[$k]=1
    LOOKED+=("$k")
  done < k.err
}

PSEC=convolutional PKEY=
mk convolutional "" ""
"$PROBE" k.cfg -seed 5 -save other.weights > /dev/null || { echo "FAIL: cfg_probe"; exit 1; }

# Keys every layer section reads (parse_common: learning_rate=, dontload=, ...) are tested
# in [convolutional], the layer where each has something to act on.
declare -A seen baseline nsec
work=()
nlayer=0
for sec in $SECTIONS; do
  PSEC=$sec PKEY=
  mk "$sec" "" ""
  probe || { check "[$sec] base cfg runs: $(grep -v cfg-key k.err | head -2)" false; continue; }
  baseline["$sec|"]=$(<k.out)
  looked "$sec"
  printf '%s\n' "${LOOKED[@]}" | sort -u > "keys.$sec"
  [ "$sec" = net ] && continue
  nlayer=$((nlayer + 1))
  for k in $(cat "keys.$sec"); do nsec[$k]=$((${nsec[$k]:-0} + 1)); done
done
for sec in $SECTIONS; do
  for k in $(cat "keys.$sec" 2>/dev/null); do
    seen["$sec:$k"]=1
    [ "$sec" != net ] && [ "$sec" != convolutional ] && [ "${nsec[$k]}" = $nlayer ] && continue
    work+=("$sec|$k|")
  done
done
check "the parser's keys are found (${#work[@]} of them)" [ ${#work[@]} -gt 100 ]

CANDS='1 0 2 .5 3 -1 7 1,2 2,2,4,4'
nfail=0
i=0
while [ $i -lt ${#work[@]} ]; do
  IFS='|' read -r sec key ctx <<< "${work[$i]}"
  i=$((i + 1))
  PSEC=$sec PKEY=$key
  # ActNN keys act when ActNN is on.
  [ "$sec" = net ] && [[ $key == actnn_* ]] && [ -z "$ctx" ] && ctx="actnn=1"
  B="$sec|$ctx"
  [ "$PSEC" = convolutional ] && [[ $PKEY == dontload* ]] && B="$B|load"
  ctxl=$(printf '%s' "$ctx" | tr ';' '\n')
  if [ -z "${baseline["$B"]+x}" ]; then
    mk "$sec" "$ctxl" ""
    probe
    baseline["$B"]=$(<k.out)
  fi
  ok=""
  cands=$CANDS
  tried=""
  for v in $cands; do
    mk "$sec" "$ctxl" "$key=$v"
    probe
    rc=$?
    if grep -q "^k.cfg:$LINE: \[$sec\] $key=$v: .*not supported" k.err; then ok="reported"; fi
    if [ -z "$ok" ] && [ $rc = 0 ] && [ "$(<k.out)" != "${baseline["$B"]}" ]; then ok="changes the run"; fi
    # Keys this value made the parser read: test them too, with this value in place.
    looked "$sec"
    for k in "${LOOKED[@]}"; do
      if [ -z "${seen["$sec:$k"]+x}" ]; then
        seen["$sec:$k"]=1
        work+=("$sec|$k|${ctx:+$ctx;}$key=$v")
      fi
    done
    # An enumeration names its values: try them.
    if [ -z "$tried" ] && grep -q "^k.cfg:$LINE: \[$sec\] $key=$v: unknown value; allowed:" k.err; then
      tried=1
      for n in $(sed -n "s/^k.cfg:$LINE: .*unknown value; allowed: //p" k.err | tr -d ,); do
        mk "$sec" "$ctxl" "$key=$n"
        probe && [ "$(<k.out)" != "${baseline["$B"]}" ] && { ok="changes the run ($key=$n)"; break; }
        looked "$sec"
        for k in "${LOOKED[@]}"; do
          [ -z "${seen["$sec:$k"]+x}" ] && { seen["$sec:$k"]=1; work+=("$sec|$k|${ctx:+$ctx;}$key=$n"); }
        done
      done
    fi
    [ -n "$ok" ] && break
  done
  if [ -z "$ok" ] && [[ " $(echo $DATA_KEYS) " == *" $sec:$key "* ]]; then ok="data loader key"; fi
  if [ -z "$ok" ] && [[ " $(echo $UNPROVEN) " == *" $sec:$key "* ]]; then
    echo "SKIP [$sec] $key: not provable with one key in a tiny cfg (see UNPROVEN)"
    ok=skip
  fi
  if [ -n "$ok" ]; then
    [ -n "${VERBOSE:-}" ] && echo "ok   [$sec] $key${ctx:+ ($ctx)}: $ok"
  else
    echo "FAIL [$sec] $key${ctx:+ (with $ctx)}: read by the parser, but no value changes the network and none is reported"
    nfail=$((nfail + 1))
  fi
done
check "every key the parser reads (${#work[@]}) changes the network or is reported" [ $nfail = 0 ]
for dk in $DATA_KEYS $UNPROVEN; do
  check "data loader key $dk is still read by the parser" [ -n "${seen[$dk]+x}" ]
done

[ $fails = 0 ] && echo "cfg_keys_all: all checks passed" || echo "cfg_keys_all: $fails checks failed"
[ $fails = 0 ]
