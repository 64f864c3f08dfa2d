#!/usr/bin/env bash
# `./darknet memory`, the `planned:`/`memory:` lines and scripts/cfg_variant.sh:
#  - yolov3-tiny at 2 bits stores >= 12x fewer saved bytes than the same items in fp32,
#    and its arena is no larger than the fp32 plan's;
#  - the stock cfg (no actnn keys) plans at 32 bits: masks/codes only below fp32;
#  - the planned saved bytes equal what a training run really saved (memory: line);
#  - the loss layers' training chatter stays out of the plan's output;
#  - cfg_variant.sh writes the keys the benchmark scripts rely on.
set -u
cd "$(dirname "$0")/../.."
DARKNET=${DARKNET:-./darknet}
TOOLS=${DN_TOOLS:-build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/memory_report.XXXXXX")
trap 'rm -rf "$T"' EXIT
. tests/common/checks.sh   # cwd is the repository root here
# key=value from a line of key=value words
val() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }

"$DARKNET" memory cfg/yolov3-tiny-actnn.cfg -batch 4 > $T/q.txt 2>$T/q.err || { bad "memory 2-bit rc"; cat $T/q.err; }
tot=$(grep '^total:' $T/q.txt)
check "total line present" [ -n "$tot" ]
check "one row per layer (24)" [ "$(grep -cE '^ +[0-9]+ ' $T/q.txt)" = 24 ]
check "conv rows save q2 input, q2 x-hat and a mask" grep -qE '^ +4 convolutional .* q2\+q2\+mask ' $T/q.txt
check "by default the first conv saves its x-hat too" grep -qE '^ +0 convolutional .* q2\+q2\+mask ' $T/q.txt
sed 's/^actnn_bits=2$/actnn_bits=2\nactnn_xhat_rebuild=-1/' cfg/yolov3-tiny-actnn.cfg > $T/xr.cfg
"$DARKNET" memory $T/xr.cfg -batch 4 > $T/xr.txt 2>&1 || bad "memory xhat-rebuild rc"
check "actnn_xhat_rebuild=-1: a cheap first conv rebuilds x-hat (input and mask only)" grep -qE '^ +0 convolutional .* q2\+mask ' $T/xr.txt
check "maxpool saves 2-bit codes" grep -qE '^ +1 maxpool .* code2 ' $T/q.txt
check "no loss chatter on stdout" bash -c "! grep -q Region $T/q.txt"
s=$(val "$tot" saved_mib) f=$(val "$tot" saved_fp32_mib)
check "saved fp32/2-bit >= 12 ($f / $s)" ge "$(awk -v a="$f" -v b="$s" 'BEGIN {print a / b}')" 12
check "arena at 2 bits <= fp32 arena" ge "$(val "$tot" arena_fp32_mib)" "$(val "$tot" arena_mib)"

"$DARKNET" memory /usr/share/darknet/cfg/yolov3-tiny.cfg -batch 4 > $T/f.txt 2>/dev/null || bad "memory fp32 rc"
tot=$(grep '^total:' $T/f.txt)
check "stock cfg plans at 32 bits" [ "$(val "$tot" bits)" = 32 ]
check "stock cfg keeps conv inputs alive" grep -qE '^ +2 convolutional .* kept\+f32\+mask ' $T/f.txt
check "stock arena = fp32 arena" [ "$(val "$tot" arena_mib)" = "$(val "$tot" arena_fp32_mib)" ]

"$DARKNET" memory $T/none.cfg > /dev/null 2>&1 && bad "missing cfg must fail" || ok "missing cfg fails"

# planned (batch-1 dry run scaled by the plugin's size functions) = measured
for keys in "" "actnn=1" "actnn_bits=4"; do
    sed -e "s/^\[net\]/[net]\n$keys/" -e 's/^width=16/width=96/' -e 's/^height=16/height=96/' \
        tests/data/tiny_cls.cfg > $T/tiny.cfg
    "$TOOLS/train_mem" $T/tiny.cfg -batch 8 -iters 2 > $T/t.txt 2>&1 || { bad "train_mem rc ($keys)"; cat $T/t.txt; }
    p=$(grep '^planned:' $T/t.txt) m=$(grep '^memory:' $T/t.txt)
    check "saved is measurable ($keys)" ge "$(val "$m" saved_fp32_mib)" 2
    check "planned saved_fp32 = measured ($keys)" [ "$(val "$p" saved_fp32_mib)" = "$(val "$m" saved_fp32_mib)" ]
    check "planned saved = measured saved ($keys): $(val "$p" saved_mib) $(val "$m" saved_mib)" \
        [ "$(val "$p" saved_mib)" = "$(val "$m" saved_mib)" ]
    check "planned arena = measured arena ($keys)" [ "$(val "$p" arena_mib)" = "$(val "$m" arena_mib)" ]
done

scripts/cfg_variant.sh cfg/yolov3-tiny-actnn.cfg $T/v.cfg 4 8 3
check "variant sets batch, subdivisions, max_batches, bits" \
    bash -c "grep -qx batch=8 $T/v.cfg && grep -qx subdivisions=1 $T/v.cfg && grep -qx max_batches=3 $T/v.cfg && grep -qx actnn_bits=4 $T/v.cfg && [ \$(grep -c '^actnn_bits' $T/v.cfg) = 1 ]"
check "variant turns random off" bash -c "! grep -q '^random=1' $T/v.cfg"
scripts/cfg_variant.sh cfg/yolov3-tiny-actnn.cfg $T/v32.cfg 32 8 3
check "32-bit variant has no actnn keys" bash -c "! grep -q '^actnn' $T/v32.cfg"
"$DARKNET" memory $T/v.cfg > $T/v.txt 2>/dev/null
check "variant parses and plans at 4 bits" grep -q 'mini-batch=8 bits=4' $T/v.txt

# -budget: one row per width, more images at fewer bits, the cfg batch/subdivisions to write
"$DARKNET" memory cfg/yolov3-tiny-actnn.cfg -budget 2G > $T/b.txt 2>$T/b.err || { bad "memory -budget rc"; cat $T/b.err; }
mb() { awk -v w="$1" '$1 == w {print $2}' $T/b.txt; }
check "budget rows for 32, 8, 4, 2 bits" [ -n "$(mb 32)" ] && [ -n "$(mb 8)" ] && [ -n "$(mb 4)" ] && [ -n "$(mb 2)" ]
check "budget: 2 bits fit >= 3x the fp32 mini-batch ($(mb 2) vs $(mb 32))" [ "$(mb 2)" -ge $((3 * $(mb 32))) ]
check "budget: fewer bits never fit fewer images" [ "$(mb 2)" -ge "$(mb 4)" ] && [ "$(mb 4)" -ge "$(mb 8)" ] && [ "$(mb 8)" -ge "$(mb 32)" ]
check "budget rows say what to write in [net]" grep -qE '^32 .* batch=[0-9]+ subdivisions=[0-9]+' $T/b.txt
"$DARKNET" memory cfg/yolov3-tiny-actnn.cfg -budget 2Q > /dev/null 2>$T/b.err && bad "bad -budget must fail" || \
    check "bad -budget is named" grep -q "budget: '2Q' is not a size" $T/b.err
sed 's/^actnn_bits=2/actnn_budget_mb=600/' cfg/yolov3-tiny-actnn.cfg > $T/budget.cfg
"$DARKNET" memory $T/budget.cfg -batch 32 > $T/bk.txt 2>$T/bk.err || { bad "actnn_budget_mb rc"; cat $T/bk.err; }
check "actnn_budget_mb says what it chose" grep -q '^actnn_budget_mb=600: mini-batch 32 plans .* layer:bits 0:' $T/bk.err
p=$(sed -n 's/^planned training memory.*: \([0-9.]*\) MiB at the cfg.s bits.*/\1/p' $T/bk.txt)
check "actnn_budget_mb=600 plan fits ($p MiB)" ge 600 "$p"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all memory report checks passed"
