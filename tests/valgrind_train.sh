#!/usr/bin/env bash
# One short training run of ./darknet under valgrind --leak-check=full (run by .ci/run, not
# by `make test`: it takes a minute). Fails on any definite or indirect leak and on any
# memory error. Data: 20 generated 28x28 images in Darknet's classifier layout (grey_set).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
DN=${DARKNET:-$root/darknet}
TOOLS=${DN_TOOLS:-$root/build/bin}
command -v valgrind >/dev/null || { echo "valgrind missing: run scripts/setup.sh"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/valgrind_train.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$root/tests/common/checks.sh"
mkdir -p bk
grey_set 20 names img train.list
printf 'classes=10\ntrain=train.list\nvalid=train.list\nlabels=names\nbackup=bk\ntop=2\n' > t.data
# The fashion cfg with 2-bit ActNN so the compressed store is exercised too.
sed -e 's/^max_batches=.*/max_batches=3/' -e 's/^batch=.*/batch=4/' -e 's/^subdivisions=.*/subdivisions=1/' \
    "$root/cfg/fashion-actnn.cfg" > t.cfg
# DN_ENV_TUNED: the CLI would otherwise re-exec itself (cpu_env.c) out from under valgrind.
DN_ENV_TUNED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=3 \
  "$DN" classifier train t.data t.cfg -seed 1 > out 2> err || { rc=$?; tail -40 err; echo "valgrind run failed (rc=$rc)"; exit 1; }
grep -q '^memory:' out err || { echo "no memory: line"; tail -20 out err; exit 1; }
[ -f bk/t_final.weights ] || { echo "no final weights"; ls bk; exit 1; }
echo "valgrind: 3 training iterations, no leaks, no memory errors"
