#!/usr/bin/env bash
# A/B of two ./darknet builds by layer type, for changes too small for s/iter on a noisy
# machine: ROUNDS interleaved training runs of each (A, B, A, B, ...) with
# -benchmark_layers, each giving the mean milliseconds per pass of every layer type's
# forward and backward; prints every round, then per type the medians over the rounds and
# the median of the per-round ratios B/A (each round's two runs seconds apart).
# Usage: scripts/ab_layers.sh DARKNET_A DARKNET_B DATA CFG [ROUNDS=5]
#   The cfg sets the mini-batch and iterations (max_batches), e.g. a copy made the way
#   scripts/bench_peak.sh makes its cases (scripts/cfg_variant.sh, then dn_oracle cfgset).
. "$(dirname "$0")/ab_common.sh"
# "type fwd bwd" lines from a -benchmark_layers report
bytype() { awk '/^  [a-z_]+ +forward .* backward/{print $1, $3, $6}' "$1"; }
echo "ab_layers: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $CFG, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  for s in A B; do
    bin=$A; [ $s = B ] && bin=$B
    rm -rf "$T"/backup/* # every run is fresh: nothing of the previous one to keep apart
    "$bin" -seed 1 detector train "$T/ab.data" "$CFG" -dont_show -benchmark_layers > "$T/l$s" 2>&1
    bytype "$T/l$s" | sed "s/^/$r $s /" >> "$T/all"
  done
  echo "round $r: $(awk -v r="$r" '$1==r{printf "%s %s fwd %s bwd %s; ", $2, $3, $4, $5}' "$T/all")"
done
# per type: medians of A and B, median of per-round B/A, forward and backward
awk '{k=$3; if($2=="A"){fa[k,$1]=$4; ba[k,$1]=$5} else {fb[k,$1]=$4; bb[k,$1]=$5}; t[k]=1; n=$1>n?$1:n}
  function med(v, m,   i,j,x){for(i=0;i<m;i++)for(j=i+1;j<m;j++)if(v[j]<v[i]){x=v[i];v[i]=v[j];v[j]=x}
    return (m%2)? v[int(m/2)] : (v[m/2-1]+v[m/2])/2}
  END{for(k in t){m=0; for(r=1;r<=n;r++){a1[m]=fa[k,r]; b1[m]=fb[k,r]; q1[m]=fa[k,r]>0?fb[k,r]/fa[k,r]:1;
        a2[m]=ba[k,r]; b2[m]=bb[k,r]; q2[m]=ba[k,r]>0?bb[k,r]/ba[k,r]:1; m++}
      printf "%-14s forward A %.2f ms, B %.2f ms, B/A per round %.3f; backward A %.2f ms, B %.2f ms, B/A per round %.3f\n",
        k, med(a1,m), med(b1,m), med(q1,m), med(a2,m), med(b2,m), med(q2,m)}}' "$T/all" | sort
