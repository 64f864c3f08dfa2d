# Sourced by the shell tests (tests/sh/*.sh, tests/valgrind_train.sh): the check helpers and
# a tiny classifier data set. Not a test itself, so it lives outside tests/sh/.
fails=0
ok()    { echo "ok   $*"; }
bad()   { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
has()   { grep -q -- "$2" "$1" || { echo "  '$2' not in $1:"; tail -5 "$1"; return 1; }; }
# test_env <name>, sourced from the repository root: ROOT (it), DN (the darknet under test,
# $DARKNET when set), TOOLS (build/bin or $DN_TOOLS), O (the oracle program) and T, a
# temporary folder removed at exit unless KEEP is set.
test_env() {
  ROOT=$PWD
  DN=${DARKNET:-$ROOT/darknet}
  TOOLS=${DN_TOOLS:-$ROOT/build/bin}
  O=$ROOT/build/oracle/dn_oracle
  T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
}
# header_functions <0|1>: the function names include/darknet.h declares for pjreddie's
# library (0) or with DARKNET_ALEXEY_API defined (1), one per line, sorted: a name followed
# by '(' on a line that is not a comment, a typedef or a preprocessor line, outside the
# other library's #ifdef/#ifndef DARKNET_ALEXEY_API blocks.
header_functions() {
  awk -v ab="$1" '
    /^#ifdef DARKNET_ALEXEY_API/  { blk = 1; keep = ab; next }
    /^#ifndef DARKNET_ALEXEY_API/ { blk = 1; keep = !ab; next }
    blk && /^#else/  { keep = !keep; next }
    blk && /^#endif/ { blk = 0; next }
    !blk || keep' include/darknet.h |
    grep -vE '^\s*(/?\*|typedef|#)' | grep -oE '^[a-z][a-z_ 0-9]*[ *]+[a-z_0-9]+\(' |
    sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | sort -u
}
# same_nonempty <a> <b>: a is not empty and b has the same bytes.
same_nonempty() { [ -s "$1" ] && cmp -s "$1" "$2"; }
# init_detector: in the current folder, a 96x64 shapes set (set/), d.data and y.cfg, a
# yolov3-tiny-shapes at 64x64 without batch norm whose weights bk/y_final.weights are its
# initialisation (learning rate 0, one iteration, seed 2): finite boxes of moderate
# scores, for tests of the detection outputs. Needs test_env's DN, TOOLS, O and ROOT.
init_detector() {
  mkdir -p set bk
  "$TOOLS/make_shapes" set 2 2 96 64 3 > /dev/null || return 1
  printf 'rectangle\nellipse\ntriangle\n' > names
  printf 'classes=3\ntrain=set/train.txt\nvalid=set/valid.txt\nnames=names\nbackup=bk\n' > d.data
  $O cfgset $ROOT/cfg/yolov3-tiny-shapes.cfg y0.cfg width=64 height=64 batch=2 subdivisions=1 \
    max_batches=1 burn_in=0 learning_rate=0 > /dev/null
  grep -v '^batch_normalize' y0.cfg > y.cfg
  "$DN" -seed 2 detector train d.data y.cfg -dont_show > train.out 2>&1
  [ -s bk/y_final.weights ]
}
# shapes_sides <train> <valid>: in $T, a 64x64 shapes set (set/), its names and one .data
# per side of a comparison, cpu.data and dev.data, saving into cpu/ and dev/. Needs
# test_env's T and TOOLS.
shapes_sides() {
  mkdir -p "$T/set" "$T/cpu" "$T/dev"
  "$TOOLS/make_shapes" "$T/set" "$1" "$2" 64 64 3 > /dev/null || return 1
  printf 'rectangle\nellipse\ntriangle\n' > "$T/names"
  local side
  for side in cpu dev; do
    printf 'classes=3\ntrain=%s/set/train.txt\nvalid=%s/set/valid.txt\nnames=%s/names\nbackup=%s/%s\n' \
      "$T" "$T" "$T" "$T" "$side" > "$T/$side.data"
  done
}
# True in the sanitizer suite (make SANITIZE=1 test sets DN_VARIANT to a *-san* variant).
sanitized() { [[ ${DN_VARIANT:-} == *san* ]]; }

# grey_set <n> <names-file> <image-dir> <list-file>: n 28x28 grey PNGs in Darknet's
# classifier layout (label i%10 of the Fashion-MNIST names, in the file name), written as
# IDX files by awk (C locale: one byte per %c) and converted by build/bin/idx2png. The top
# half of an image is its label's grey level, the bottom half seeded noise.
grey_set() {
  local n=$1 names=$2 dir=$3 list=$4
  LC_ALL=C awk -v n="$n" 'BEGIN{printf "%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c",0,0,8,3,0,0,0,n,0,0,0,28,0,0,0,28;
    srand(3); for(i=0;i<n;i++){ l=i%10; for(p=0;p<784;p++){ v=(p<392)? l*25 : int(rand()*255); printf "%c", v } } }' > img.idx
  LC_ALL=C awk -v n="$n" 'BEGIN{printf "%c%c%c%c%c%c%c%c",0,0,8,1,0,0,0,n; for(i=0;i<n;i++) printf "%c", i%10 }' > lab.idx
  printf '%s\n' top trouser pullover dress coat sandal shirt sneaker bag boot > "$names"
  mkdir -p "$dir"
  "$TOOLS/idx2png" img.idx lab.idx "$names" "$dir" "$list" > /dev/null
}
