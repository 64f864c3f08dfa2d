#!/usr/bin/env bash
# CPU training throughput against the machine's sgemm peak, in one run (issue 20):
#   1. sgemm GFLOPS of the BLAS ./darknet links (build/bin/bench_sgemm, 2048^3, all threads),
#      measured before and after the training runs; the higher median is the peak;
#   2. effective training GFLOPS = 3 x forward FLOPs x mini-batch / (s/iter), the forward
#      FLOPs being the "Total BFLOPS" line ./darknet prints at load (Darknet's per-layer sum;
#      backward costs about twice the forward), for yolov3-tiny and yolov4-tiny at 416
#      (fp32 and 2 bits) and yolov3-tiny at 128, mini-batch 8 on the synthetic shapes set;
#      each printed with its fraction of the peak, and 2 bits against fp32;
#   3. NEIGHBOUR=1 (default): the 128 px case again with one single-threaded CPU-bound
#      process running beside it, interleaved with quiet runs, and the fraction of the quiet
#      speed it keeps (two cores, one shared: a fair share is 75%).
# s/iter is the median over iterations after the first two (one-off allocations, thread
# start). The machine may be shared: every ratio is taken within this one run; the
# absolute numbers move with the load (printed in the header).
# Settings (environment): ITERS=6 BATCH=8 ROUNDS=3 (interleaved rounds of the cases)
#   REPS=2 (quiet/busy pairs) NEIGHBOUR=1
#   CASES="3:416:32 3:416:2 4:416:32 4:416:2 3:128:32" OUT=bench_peak.txt
#   (a case is <yolov version>:<size>:<bits>; bits 2 is ActNN's L3, the default since
#   actnn_bits=2 turns actnn_auto on; "2u" is uniform 2 bits (actnn_auto=0), "2a" 2 bits
#   with actnn_auto=1 written out; every pair of 32, 2, 2u, 2a that ran is compared)
#   MD=1 also prints the rows as a Markdown table (what README's speed table is).
#   BLAS_CMP="pthread:nosplit openmp:nosplit pthread openmp serial": instead of the above,
#   the thread-pool comparison of docs/speed.md: for each of Debian's OpenBLAS builds in
#   turn (the same ./darknet, the library swapped with LD_LIBRARY_PATH): dn_gemm splits
#   each gemm over OpenMP's threads with OPENBLAS_NUM_THREADS=1, ":nosplit" sets
#   DN_GEMM_SPLIT=0 and leaves the threading to OpenBLAS (the setup before issue 20 is
#   pthread:nosplit); serial is one thread. Reports sgemm GFLOPS and yolov3-tiny 128 s/iter
#   quiet and beside one busy neighbour, REPS rounds interleaved, medians.
set -u
cd "$(dirname "$0")/.."
ITERS=${ITERS:-6} BATCH=${BATCH:-8} REPS=${REPS:-2} NEIGHBOUR=${NEIGHBOUR:-1} ROUNDS=${ROUNDS:-3}
CASES=${CASES:-"3:416:32 3:416:2 4:416:32 4:416:2 3:128:32"}
OUT=${OUT:-bench_peak.txt}
DN=$(realpath "${DARKNET:-./darknet}")
TOOLS=${DN_TOOLS:-build/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_peak.XXXXXX")
hog=
cleanup() { [ -n "$hog" ] && kill "$hog" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
if [ -z "${DARKNET:-}" ]; then
  make -s -j2 all tools oracle > /dev/null || { echo "build failed"; exit 1; }
fi
# The same environment ./darknet gives itself (src/cli/cpu_env.c), so the sgemm tool and
# the training run the same BLAS kernels with the same thread settings.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi

SHAPES_DIR=$T/shapes SHAPES_DATA=$T/shapes0.data scripts/make_shapes.sh 32 4 416 416 1 > /dev/null \
  || { echo "make_shapes failed"; exit 1; }
sed "s|^backup.*|backup = $T/backup/|" $T/shapes0.data > $T/shapes.data
mkdir -p $T/backup
: > "$OUT"
say() { echo "$*" | tee -a "$OUT"; }
say "bench_peak: $(date -u +%FT%TZ), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), mini-batch $BATCH, $ITERS iterations (median after the first 2), OMP_WAIT_POLICY=$OMP_WAIT_POLICY OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto} OMP_NUM_THREADS=${OMP_NUM_THREADS:-default}"
say "darknet links: $(ldd "$DN" | awk '/blas|gomp|omp/{print $3}' | xargs echo)"

sgemm() { "$TOOLS/bench_sgemm" 2048 5 | tee -a $T/sgemm.txt | sed -n 's/.*median_gflops=\([0-9.]*\).*/\1/p'; }
g0=$(sgemm)
say "$(head -1 $T/sgemm.txt)"
say "sgemm 2048^3 (before): $g0 GFLOPS (median of 5)"
# 2 bits gives the input's and the saved pool's pages back every iteration (bench_fault.c)
say "$("$TOOLS/bench_fault" 64 5)"

# cfg for one case: yolov<v>-tiny-shapes at <size>, <bits>, fixed size, constant rate.
# <bits>: 32, or a width (ActNN's default L3 at 2: per-sample and per-layer bits), with
# "u" for uniform bits (actnn_auto=0) or "a" for actnn_auto=1 written out.
make_cfg() { # v size bits out
  local b=${3%[au]} key=
  case "$3" in *u) key=actnn_auto=0 ;; *a) key=actnn_auto=1 ;; esac
  scripts/cfg_variant.sh cfg/yolov$1-tiny-shapes.cfg $T/tmp.cfg "$b" "$BATCH" "$ITERS"
  build/oracle/dn_oracle cfgset $T/tmp.cfg "$4" width=$2 height=$2 burn_in=0 \
    learning_rate=0.001 policy=constant > /dev/null
  if [ -n "$key" ]; then
    awk -v k="$key" '{ print } /^\[(net|network)\]/ { print k }' "$4" > $T/key.cfg && mv $T/key.cfg "$4"
  fi
}
# how a case's bits read in the report
label() {
  case "$1" in
    32) echo fp32 ;;
    *u) echo "uniform ${1%u} bits" ;;
    *a) echo "${1%a} bits, actnn_auto=1" ;;
    2) echo "2 bits (L3)" ;;
    *) echo "$1 bits" ;;
  esac
}
# median seconds per iteration after the first two, from a training log
secs() { awk '/ seconds, /{for(i=1;i<=NF;i++) if($(i)=="seconds,") {n++; if(n>2) v[k++]=$(i-1)}}
  END{if(!k){print "nan"; exit} for(i=0;i<k;i++) for(j=i+1;j<k;j++) if(v[j]<v[i]){t=v[i];v[i]=v[j];v[j]=t}
      printf "%.3f", (k%2)? v[int(k/2)] : (v[k/2-1]+v[k/2])/2}' "$1"; }
bflops() { sed -n 's/^Total BFLOPS \([0-9.]*\).*/\1/p' "$1" | head -1; }
# the loader's CPU seconds per batch and the trainer's total wait, from the loader: line
loader_cpu() { sed -n 's/^loader: .* s wall and \([0-9.]*\) s CPU per batch.*/\1/p' "$1" | tail -1; }
loader_wait() { sed -n 's/^loader: .*the trainer waited \([0-9.]*\) s.*/\1/p' "$1" | tail -1; }
# train <v> <size> <bits> <tag>: prints "s/iter bflops"
train() {
  make_cfg "$1" "$2" "$3" $T/$4.cfg
  # in $T: training writes chart_<cfg>.png into its working directory
  rm -rf "$T"/backup/* # every run is fresh: nothing of the previous one to keep apart
  if ! (cd "$T" && "$DN" -seed 1 detector train $T/shapes.data $T/$4.cfg -dont_show) > $T/$4.out 2>&1; then
    echo "training $4 failed:" >&2; tail -5 $T/$4.out >&2; echo "nan nan"; return
  fi
  echo "$(secs $T/$4.out) $(bflops $T/$4.out)"
}
gf() { awk -v s="$1" -v f="$2" -v b="$BATCH" 'BEGIN{if (s+0 > 0) printf "%.1f", 3*f*b/s; else print "nan"}'; }

med() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{printf "%.3f", (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
if [ -n "${BLAS_CMP:-}" ]; then
  declare -A G Q B
  for r in $(seq "$REPS"); do
    for lib in $BLAS_CMP; do
      d=/usr/lib/x86_64-linux-gnu/openblas-${lib%%:*} split=1
      [ "${lib#*:}" = nosplit ] && split=0
      [ -f $d/libopenblas.so.0 ] || { say "no $d (scripts/setup.sh installs it)"; continue; }
      export LD_LIBRARY_PATH=$d DN_GEMM_SPLIT=$split OPENBLAS_NUM_THREADS=$((split ? 1 : $(nproc)))
      G[$lib]+=" $("$TOOLS/bench_sgemm" 2048 3 | sed -n 's/.*median_gflops=\([0-9.]*\).*/\1/p')"
      read -r s _ <<< "$(train 3 128 32 q${lib%%:*}$split$r)"; Q[$lib]+=" $s"
      bash -c 'while :; do :; done' & hog=$!
      read -r s _ <<< "$(train 3 128 32 b${lib%%:*}$split$r)"; B[$lib]+=" $s"
      unset LD_LIBRARY_PATH DN_GEMM_SPLIT; export OPENBLAS_NUM_THREADS=1
      kill "$hog"; wait "$hog" 2>/dev/null; hog=
    done
  done
  say "OpenBLAS build   sgemm GFLOPS (median)   yolov3-tiny 128 s/iter quiet   beside a busy process   kept"
  for lib in $BLAS_CMP; do
    [ -n "${G[$lib]:-}" ] || continue
    q=$(med ${Q[$lib]}) b=$(med ${B[$lib]})
    say "$(printf '%-16s %-23s %-30s %-23s %s' "$lib" "$(med ${G[$lib]}) (${G[$lib]# })" "$q (${Q[$lib]# })" "$b (${B[$lib]# })" "$(awk -v q="$q" -v b="$b" 'BEGIN{printf "%.0f%%", 100*q/b}')")"
  done
  exit 0
fi

# ROUNDS rounds of every case, interleaved so load drifts hit all cases alike; s/iter is
# the median over rounds, and 2 bits vs fp32 the median of the per-round ratios.
declare -A S F ALL
for r in $(seq "$ROUNDS"); do
  for c in $CASES; do
    IFS=: read -r v size bits <<< "$c"
    read -r s f <<< "$(train "$v" "$size" "$bits" "y${v}_${size}_${bits}")"
    ALL[$c]+=" $s" F[$c]=$f
  done
done
for c in $CASES; do S[$c]=$(med ${ALL[$c]}); done
g1=$(sgemm)
say "sgemm 2048^3 (after): $g1 GFLOPS"
peak=$(awk -v a="$g0" -v b="$g1" 'BEGIN{print (a > b) ? a : b}')
say ""
say "case                         BFLOPS/img  s/iter  train GFLOPS  of sgemm peak ($peak)  loader share of 2 cores, trainer waited"
rows=()
for c in $CASES; do
  IFS=: read -r v size bits <<< "$c"
  g=$(gf "${S[$c]}" "${F[$c]}")
  pct=$(awk -v g="$g" -v p="$peak" 'BEGIN{printf "%.0f%%", 100*g/p}')
  name="yolov$v-tiny $size $(label "$bits")"
  o=$T/y${v}_${size}_${bits}.out
  ld=$(awk -v c="$(loader_cpu $o)" -v s="${S[$c]}" -v n="$(nproc)" 'BEGIN{if (s+0 > 0 && c != "") printf "%.1f%%", 100*c/(n*s); else print "?"}')
  say "$(printf '%-28s %10s %7s %13s %14s   %s, %s s' "$name" "${F[$c]}" "${S[$c]}" "$g" "$pct" "$ld" "$(loader_wait $o)")"
  rows+=("| $name, mini-batch $BATCH | ${F[$c]} | ${S[$c]} | $g | $pct | $ld |")
done
# ratio <case a> <case b>: the median of the per-round ratios of b's s/iter to a's, and them
ratio() {
  local A B rs=() k
  read -ra A <<< "${ALL[$1]}"; read -ra B <<< "${ALL[$2]}"
  for k in "${!A[@]}"; do rs+=("$(awk -v a="${A[$k]}" -v b="${B[$k]}" 'BEGIN{printf "%.3f", b/a}')"); done
  echo "$(med "${rs[@]}")x (per round: ${rs[*]})"
}
for v in 3 4; do
  for pair in "32 2" "32 2u" "2u 2" "32 2a" "2u 2a"; do
    read -r a b <<< "$pair"
    [ -n "${ALL[$v:416:$a]:-}" ] && [ -n "${ALL[$v:416:$b]:-}" ] || continue
    say "yolov$v-tiny 416: $(label "$b") takes $(ratio "$v:416:$a" "$v:416:$b") the time of $(label "$a"), median of $ROUNDS interleaved rounds (s/iter ${ALL[$v:416:$a]# } / ${ALL[$v:416:$b]# })"
  done
done

if [ "$NEIGHBOUR" = 1 ]; then
  # One single-threaded CPU-bound neighbour (a shell busy loop), started and stopped
  # around each busy run; quiet and busy runs alternate so load drifts hit both.
  qs=() bs=()
  for r in $(seq "$REPS"); do
    read -r s _ <<< "$(train 3 128 32 quiet$r)"; qs+=("$s")
    bash -c 'while :; do :; done' & hog=$!
    read -r s _ <<< "$(train 3 128 32 busy$r)"; bs+=("$s")
    kill "$hog"; wait "$hog" 2>/dev/null; hog=
  done
  q=$(med "${qs[@]}") b=$(med "${bs[@]}")
  say ""
  say "yolov3-tiny 128 with one single-threaded CPU-bound neighbour: quiet ${qs[*]} s/iter, busy ${bs[*]} s/iter;"
  say "  keeps $(awk -v q="$q" -v b="$b" 'BEGIN{printf "%.0f%%", 100*q/b}') of its quiet speed (medians $q / $b; fair share 75%)"
fi
if [ "${MD:-0}" = 1 ]; then
  say ""
  say "| case | BFLOPS per image (forward) | s/iter | training GFLOPS | of sgemm peak ($peak GFLOPS) | loader's share of the cores |"
  say "|---|---|---|---|---|---|"
  for r in "${rows[@]}"; do say "$r"; done
fi
