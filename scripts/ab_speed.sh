#!/usr/bin/env bash
# A/B training speed of two ./darknet builds on one cfg, for a shared (noisy) machine:
# ROUNDS interleaved runs of each (A, B, A, B, ...), each run's s/iter the median of its
# iterations after the first two; prints both medians over the rounds and the ratio
# B/A of the medians, plus the median of the per-round ratios (each round's two runs
# are seconds apart, so they saw about the same load).
# Usage: scripts/ab_speed.sh DARKNET_A DARKNET_B DATA CFG [ROUNDS=5]
#   The cfg sets the mini-batch and iterations (max_batches), e.g. a copy made the way
#   scripts/bench_peak.sh makes its cases (scripts/cfg_variant.sh, then dn_oracle cfgset).
. "$(dirname "$0")/ab_common.sh"
secs() { awk '/ seconds, /{for(i=1;i<=NF;i++) if($(i)=="seconds,") {n++; if(n>2) v[k++]=$(i-1)}}
  END{if(!k){print "nan"; exit} for(i=0;i<k;i++) for(j=i+1;j<k;j++) if(v[j]<v[i]){t=v[i];v[i]=v[j];v[j]=t}
      printf "%.3f", (k%2)? v[int(k/2)] : (v[k/2-1]+v[k/2])/2}' "$1"; }
median() { sort -g | awk '{v[n++]=$1} END{printf "%.3f", (n%2)? v[int(n/2)] : (v[n/2-1]+v[n/2])/2}'; }
echo "ab_speed: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $CFG, $ROUNDS rounds"
: > "$T/a" ; : > "$T/b"; : > "$T/r"
for r in $(seq "$ROUNDS"); do
  rm -rf "$T"/backup/* # every run is fresh: nothing of the previous one to keep apart
  "$A" -seed 1 detector train "$T/ab.data" "$CFG" -dont_show > "$T/la" 2>&1
  rm -rf "$T"/backup/*
  "$B" -seed 1 detector train "$T/ab.data" "$CFG" -dont_show > "$T/lb" 2>&1
  a=$(secs "$T/la") b=$(secs "$T/lb")
  echo "$a" >> "$T/a"; echo "$b" >> "$T/b"
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.4f\n", b/a}' >> "$T/r"
  echo "round $r: A $a s/iter, B $b s/iter"
done
ma=$(median < "$T/a") mb=$(median < "$T/b") mr=$(median < "$T/r")
echo "median A $ma s/iter, B $mb s/iter; B/A $(awk -v a="$ma" -v b="$mb" 'BEGIN{printf "%.3f", b/a}'); median of per-round B/A $mr"
