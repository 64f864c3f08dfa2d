#!/usr/bin/env bash
# Smoke test of tests/oracle/dn_oracle (the reference built on Debian's libdarknet).
# Checks softmax sums, softmax delta = truth - output, cost, poly rate, the SGD update
# of one conv layer, saved-weights layout/size, determinism, cfgset, a small
# yolov3-tiny variant, and exit status 2 on errors. Any failed check fails the script.
set -u
cd "$(dirname "$0")/../.."
make -s oracle >/dev/null || { echo "FAIL: make oracle"; exit 1; }
O=build/oracle/dn_oracle
CFG=tests/data/tiny_cls.cfg
T=$(mktemp -d "${TMPDIR:-/tmp}/oracle_smoke.XXXXXX")
trap 'rm -rf "$T"' EXIT
. tests/common/checks.sh   # cwd is the repository root here
# awk program over stdin must print nothing when all is well; prints offenders otherwise
awk_none() { local out; out=$(awk "$@"); [ -z "$out" ] || { echo "$out" | head -5; return 1; }; }

# ---- weights generation -------------------------------------------------------
$O randweights $CFG 7 $T/w.weights 2>$T/log || { bad "randweights rc"; cat $T/log; }
$O randweights $CFG 7 $T/w2.weights 2>/dev/null
$O randweights $CFG 8 $T/w3.weights 2>/dev/null
# tiny_cls: conv0 8*(bias,scale,mean,var)=32 + 8*3*3*3=216; conv2 5 + 5*8 = 45 -> 293 floats
check "weights size 20+4*293=1192" [ "$(stat -c %s $T/w.weights)" = 1192 ]
check "header of fresh weights" [ "$($O header $T/w.weights)" = "0 2 0 0" ]
check "randweights deterministic" cmp -s $T/w.weights $T/w2.weights
check "randweights seed matters" bash -c "! cmp -s $T/w.weights $T/w3.weights"
$O wdump $T/w.weights > $T/w.txt
check "wdump gives 293 floats" [ "$(wc -l < $T/w.txt)" = 293 ]
# ranges: biases [0,8) U(-.1,.1); scales [8,16) and vars [24,32) U(.5,1.5); means [16,24) U(-.1,.1);
# conv2 biases [248,253) U(-.1,.1)
check "randomised BN/bias ranges" awk_none '{i=NR-1; v=$1
  if ((i<8 || (i>=16&&i<24) || (i>=248&&i<253)) && !(v>=-0.1 && v<0.1)) print "range", i, v
  if (((i>=8&&i<16) || (i>=24&&i<32)) && !(v>=0.5 && v<1.5)) print "range", i, v }' $T/w.txt

# ---- inputs ---------------------------------------------------------------
$O randinput $((2*16*16*3)) 1 $T/in.f32
$O onehot 2 5 3 $T/truth.f32
check "onehot rows sum to 1" awk_none '$1!=1{print}' <($O check-sum $T/truth.f32 5)
check "randinput in [0,1)" awk_none '!($1>=0 && $1<1){print}' <($O dump $T/in.f32)

# ---- forward --------------------------------------------------------------
$O forward $CFG $T/w.weights $T/in.f32 $T/f1 >$T/f1.stdout 2>$T/log || { bad "forward rc"; cat $T/log; }
$O forward $CFG $T/w.weights $T/in.f32 $T/f2 >/dev/null 2>&1
check "meta.txt has 5 layers" [ "$(wc -l < $T/f1/meta.txt)" = 5 ]
check "meta line of softmax" grep -qx "4 4 softmax 0 0 0 5" $T/f1/meta.txt
check "meta line of conv0" grep -qx "0 0 convolutional 16 16 8 2048" $T/f1/meta.txt
check "forward stdout = meta" cmp -s $T/f1.stdout $T/f1/meta.txt
for i in 0 1 2 3 4; do check "forward deterministic out_$i" cmp -s $T/f1/out_$i.f32 $T/f2/out_$i.f32; done
check "out_0 size 4+4*2*2048" [ "$(stat -c %s $T/f1/out_0.f32)" = $((4 + 4*2*2048)) ]
check "forward softmax sums to 1" awk_none '{d=$1-1; if (d<0) d=-d; if (d>1e-5) print "sum", $1}' <($O check-sum $T/f1/out_4.f32 5)
check "forward softmax has 2 rows" [ "$($O check-sum $T/f1/out_4.f32 5 | wc -l)" = 2 ]

# ---- train ----------------------------------------------------------------
$O train $CFG $T/w.weights $T/in.f32 $T/truth.f32 $T/t >$T/t.stdout 2>$T/log || { bad "train rc"; cat $T/log; }
check "train softmax sums to 1" awk_none '{d=$1-1; if (d<0) d=-d; if (d>1e-5) print "sum", $1}' <($O check-sum $T/t/out_4.f32 5)
paste <($O dump $T/truth.f32) <($O dump $T/t/out_4.f32) <($O dump $T/t/delta_4.f32) > $T/sm.txt
check "softmax delta = truth - output" awk_none '{d=$3-($1-$2); if (d<0) d=-d; if (d>1e-6) print NR, $0}' $T/sm.txt
check "softmax delta has 10 values" [ "$(wc -l < $T/sm.txt)" = 10 ]
# pjreddie: softmax cost = sum over batch of -t*log(p); net cost = mean over cost layers
check "cost = -sum t log p" awk -v c="$(awk '$1=="cost"{print $2}' $T/t/cost.txt)" \
  '{ if ($1>0) s -= $1*log($2) } END { d=s-c; if (d<0) d=-d; exit !(d <= 1e-5*s && NR==10) }' $T/sm.txt
check "layer_cost line" grep -q '^layer_cost 4 softmax ' $T/t/cost.txt
# poly, max_batches=100, power=4, seen=2 -> batch_num 1: 0.1*(0.99)^4
check "rate is poly at batch 1" awk '$1=="rate"{d=$2-0.1*0.99^4; if(d<0)d=-d; f=1; exit !(d<1e-8)} END{if(!f) exit 1}' $T/t/cost.txt
check "seen 2 in cost.txt" grep -qx "seen 2" $T/t/cost.txt
check "train stdout has meta and cost" bash -c "grep -q '^cost ' $T/t.stdout && grep -qx '4 4 softmax 0 0 0 5' $T/t.stdout"
for i in 0 1 2 3 4; do check "delta_$i written" [ -f $T/t/delta_$i.f32 ]; done
# backward chain: softmax adds its delta into avgpool's (zeroed) delta; avgpool spreads
# delta/(8*8) over conv2's linear outputs; conv0/maxpool deltas must be non-zero
check "avgpool delta = softmax delta" cmp -s $T/t/delta_3.f32 $T/t/delta_4.f32
check "conv2 delta = avgpool delta / 64" awk_none '
  NR==FNR { a[FNR-1]=$1; next }
  { i=FNR-1; b=int(i/320); k=int((i%320)/64); want=a[b*5+k]/64; e=$1-want; if(e<0)e=-e
    if (e>1e-8+1e-6*(want<0?-want:want)) print i, $1, want }' \
  <($O dump $T/t/delta_3.f32) <($O dump $T/t/delta_2.f32)
for i in 0 1 2; do
  check "delta_$i not all zero" awk '$1!=0{n++} END{exit !(n>0)}' <($O dump $T/t/delta_$i.f32)
done
check "after.weights size 1192" [ "$(stat -c %s $T/t/after.weights)" = 1192 ]
check "after.weights header seen=2" [ "$($O header $T/t/after.weights)" = "0 2 0 2" ]
$O wdump $T/t/after.weights > $T/a.txt
# conv2 (1x1, pad 0, linear) SGD, first step (no momentum history), B = batch*subdivisions = 2,
# lr = rate, decay = 0.0005:
#   bias[k] += lr/B * sum_{b,p} delta2[b,k,p]
#   w[k,c]  += lr/B * (sum_{b,p} delta2[b,k,p]*out1[b,c,p] - decay*B*w[k,c])
rate=$(awk '$1=="rate"{print $2}' $T/t/cost.txt)
check "conv2 bias and weight update" awk_none -v lr="$rate" '
  FILENAME==ARGV[1] { before[FNR-1]=$1; next }
  FILENAME==ARGV[2] { after[FNR-1]=$1; next }
  FILENAME==ARGV[3] { d[FNR-1]=$1; next }      # delta_2: [2][5][64]
  FILENAME==ARGV[4] { o[FNR-1]=$1; next }      # out_1:   [2][8][64]
  END {
    B=2; decay=0.0005
    for (k=0;k<5;k++) {
      g=0; for (b=0;b<2;b++) for (p=0;p<64;p++) g+=d[b*320+k*64+p]
      want=before[248+k]+lr/B*g; e=after[248+k]-want; if(e<0)e=-e
      if (e>1e-6+1e-5*(want<0?-want:want)) print "bias", k, after[248+k], want
      for (c=0;c<8;c++) {
        g=0; for (b=0;b<2;b++) for (p=0;p<64;p++) g+=d[b*320+k*64+p]*o[b*512+c*64+p]
        i=253+k*8+c; want=before[i]+lr/B*(g-decay*B*before[i]); e=after[i]-want; if(e<0)e=-e
        if (e>1e-6+1e-5*(want<0?-want:want)) print "weight", k, c, after[i], want
      }
    }
  }' $T/w.txt $T/a.txt <($O dump $T/t/delta_2.f32) <($O dump $T/t/out_1.f32)
# conv0 rolling mean/variance move in a train-mode forward (0.99*old + 0.01*batch stat)
check "conv0 rolling stats changed" awk_none 'NR==FNR{b[FNR]=$1; next} (FNR>16 && FNR<=32 && $1==b[FNR]){print "unchanged", FNR}' $T/w.txt $T/a.txt
check "train BN output differs from inference BN" bash -c "! cmp -s $T/t/out_0.f32 $T/f1/out_0.f32"

# ---- error handling: exit status 2 -------------------------------------------
rc_is_2() { "$@" >/dev/null 2>&1; [ $? = 2 ]; }
$O randinput 7 1 $T/short.f32
head -c 600 $T/w.weights > $T/trunc.weights
printf 'abc' > $T/garbage.f32
check "no args -> 2" rc_is_2 $O
check "unknown command -> 2" rc_is_2 $O frobnicate
check "missing cfg -> 2" rc_is_2 $O forward $T/nope.cfg $T/w.weights $T/in.f32 $T/x
check "missing weights -> 2" rc_is_2 $O forward $CFG $T/nope.weights $T/in.f32 $T/x
check "missing input -> 2" rc_is_2 $O forward $CFG $T/w.weights $T/nope.f32 $T/x
check "wrong input size -> 2" rc_is_2 $O forward $CFG $T/w.weights $T/short.f32 $T/x
check "garbage float file -> 2" rc_is_2 $O forward $CFG $T/w.weights $T/garbage.f32 $T/x
check "truncated weights -> 2" rc_is_2 $O forward $CFG $T/trunc.weights $T/in.f32 $T/x
check "wrong truth size -> 2" rc_is_2 $O train $CFG $T/w.weights $T/in.f32 $T/short.f32 $T/x
check "bad seed -> 2" rc_is_2 $O randweights $CFG abc $T/x.weights
check "bad key=value -> 2" rc_is_2 $O cfgset $CFG $T/x.cfg width
check "short header -> 2" rc_is_2 $O header $T/garbage.f32

# ---- cfgset ------------------------------------------------------------------
$O cfgset $CFG $T/c.cfg width=24 batch=4 angle=7 2>$T/log || { bad "cfgset rc"; cat $T/log; }
check "cfgset replaces width" bash -c "grep -qx 'width=24' $T/c.cfg && ! grep -qx 'width=16' $T/c.cfg"
check "cfgset replaces batch" grep -qx 'batch=4' $T/c.cfg
check "cfgset adds angle in [net]" bash -c "sed -n '/^\[net\]/,/^\[conv/p' $T/c.cfg | grep -qx 'angle=7'"
check "cfgset keeps other lines" [ "$(wc -l < $T/c.cfg)" = $(( $(wc -l < $CFG) + 1 )) ]
Y=/usr/share/darknet/cfg/yolov3-tiny.cfg
$O cfgset $Y $T/y.cfg width=64 height=64 batch=2 subdivisions=1
check "cfgset leaves comments alone" bash -c "grep -qx '# batch=64' $T/y.cfg && grep -qx 'batch=2' $T/y.cfg"
check "cfgset leaves other sections alone" bash -c "diff <(sed -n '/^\[convolutional\]/,\$p' $Y) <(sed -n '/^\[convolutional\]/,\$p' $T/y.cfg)"

# ---- yolov3-tiny at 64x64, mini-batch 2 -------------------------------------
$O randweights $T/y.cfg 5 $T/y.weights 2>/dev/null || bad "yolov3-tiny randweights"
$O randinput $((2*64*64*3)) 9 $T/yin.f32
$O forward $T/y.cfg $T/y.weights $T/yin.f32 $T/yf >/dev/null 2>$T/log || { bad "yolov3-tiny forward rc"; tail -3 $T/log; }
check "yolov3-tiny has 24 layers" [ "$(wc -l < $T/yf/meta.txt)" = 24 ]
check "yolov3-tiny yolo 16 at 2x2" grep -qx "16 23 yolo 2 2 255 1020" $T/yf/meta.txt
check "yolov3-tiny yolo 23 at 4x4" grep -qx "23 23 yolo 4 4 255 4080" $T/yf/meta.txt
# one box per image, [x y w h class] x 90 per image
{ echo 0.5 0.5 0.3 0.4 2; yes 0 | head -n 445; echo 0.25 0.7 0.1 0.2 7; yes 0 | head -n 445; } | $O fromtext - $T/ytruth.f32
$O train $T/y.cfg $T/y.weights $T/yin.f32 $T/ytruth.f32 $T/yt >/dev/null 2>$T/log || { bad "yolov3-tiny train rc"; tail -3 $T/log; }
check "yolov3-tiny cost = mean of the 2 yolo costs" awk '
  $1=="cost"{c=$2} $1=="layer_cost"{s+=$4; n++}
  END { d=c-s/n; if(d<0)d=-d; exit !(n==2 && c>0 && d<=1e-5*c) }' $T/yt/cost.txt
check "yolov3-tiny after.weights same size" [ "$(stat -c %s $T/yt/after.weights)" = "$(stat -c %s $T/y.weights)" ]

if [ $fails -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all oracle checks passed"
