#!/usr/bin/env bash
# The gradient all-reduce alone (docs/mpi.md): 2 ranks sum yolov3-tiny's 8,674,496 floats
# of gradients in place in NB non-blocking calls (MPI_Iallreduce, then MPI_Waitall), as
# src/dist/grad_sync.c does, with OpenMPI's libnbc default algorithm (reduce on rank 0,
# then broadcast, for fewer than 4 ranks or in-place calls) against the ring that
# dist_init selects. Rounds alternate the two so a load change on a shared machine hits
# both; each run repeats the all-reduce REPS times (the first 2 discarded) and reports the
# minimum and median wall milliseconds on rank 0; the last line gives the medians over
# rounds and their ratio.
#   scripts/bench_allreduce.sh            ROUNDS=3 REPS=25 NB=4 RANKS=2
set -euo pipefail
ROUNDS=${ROUNDS:-3} REPS=${REPS:-25} NB=${NB:-4} RANKS=${RANKS:-2}
command -v mpicc > /dev/null || { echo "bench_allreduce.sh: mpicc missing (scripts/setup.sh)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/bench_allreduce.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat > "$T/ar.c" <<'C'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
    int rank, nb = atoi(argv[1]), reps = atoi(argv[2]);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    size_t n = 8674496, per = n / (size_t)nb;
    float *x = malloc(n * sizeof(float));
    MPI_Request *q = malloc(sizeof(MPI_Request) * (size_t)nb);
    double *t = malloc(sizeof(double) * (size_t)reps);
    if (!x || !q || !t) return 1;
    for (size_t i = 0; i < n; ++i) x[i] = (float)(i % 7) * 1e-3f;
    for (int r = 0; r < reps; ++r) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int b = 0; b < nb; ++b) {
            size_t c = b == nb - 1 ? n - per * (size_t)b : per;
            if (MPI_Iallreduce(MPI_IN_PLACE, x + per * (size_t)b, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                               &q[b]) != MPI_SUCCESS)
                return 1;
        }
        if (MPI_Waitall(nb, q, MPI_STATUSES_IGNORE) != MPI_SUCCESS) return 1;
        t[r] = 1e3 * (MPI_Wtime() - t0);
    }
    if (rank == 0 && reps > 2) {
        qsort(t + 2, (size_t)reps - 2, sizeof(double), cmp);
        printf("%.1f %.1f\n", t[2], t[2 + (reps - 2) / 2]);
    }
    MPI_Finalize();
    return 0;
}
C
mpicc -O2 -o "$T/ar" "$T/ar.c"
run() { OMPI_MCA_coll_libnbc_iallreduce_algorithm=$1 mpirun -np "$RANKS" --oversubscribe --allow-run-as-root \
          --bind-to none "$T/ar" "$NB" "$REPS"; }
echo "MPI_Iallreduce of 8674496 floats in $NB in-place calls, $RANKS ranks, $REPS repetitions, $ROUNDS interleaved rounds"
printf '%6s %26s %26s\n' round "default (binomial) min/med" "ring min/med"
: > "$T/d"; : > "$T/r"
for i in $(seq "$ROUNDS"); do
  read -r dm dd <<< "$(run 0)"; read -r rm rd <<< "$(run 1)"
  echo "$dd" >> "$T/d"; echo "$rd" >> "$T/r"
  printf '%6d %26s %26s\n' "$i" "$dm / $dd ms" "$rm / $rd ms"
done
med() { sort -g "$1" | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
a=$(med "$T/d") b=$(med "$T/r")
awk -v a="$a" -v b="$b" 'BEGIN {printf "median of medians: default %.1f ms, ring %.1f ms: the ring takes %.2fx the time (load average: '"$(cut -d' ' -f1-3 /proc/loadavg)"')\n", a, b, b / a}'
