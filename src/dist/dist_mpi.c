/* MPI start/stop, rank and size, the split of the mini-batch, the per-iteration agreement
 * and the weights checksum (dist.h). Every MPI call's return code is checked: the world
 * communicator is switched to MPI_ERRORS_RETURN so failures come back as codes. */
#include "core/place.h"
#include "dist/dist.h"
#include "dist/dist_internal.h"
#include "memory/budget.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_started, g_rank, g_size = 1;
MPI_Comm dist_comm = MPI_COMM_NULL;

int dist_mpi_error(int rc, const char *what, char *err, size_t errlen)
{
    if (rc == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof(msg), "MPI error %d", rc);
    snprintf(err, errlen, "rank %d of %d: %s failed: %s (another rank may have died)", g_rank,
             g_size, what, msg);
    return -1;
}

void dist_check_or_abort(int rc, const char *what)
{
    char err[MPI_MAX_ERROR_STRING + 256];
    if (dist_mpi_error(rc, what, err, sizeof(err))) dist_abort(err);
}

/* mpirun (OpenMPI), or a PMI/PMIx launcher (MPICH's hydra, Slurm's srun), set these. */
static int launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int dist_init(int *argc, char ***argv)
{
    if (!launched_by_mpirun()) return 0;
    /* OpenMPI's non-blocking all-reduce (coll/libnbc) picks, for fewer than 4 ranks or an
     * in-place call (ours), reduce-to-rank-0 then broadcast: rank 0 sums every bucket
     * alone, after copying it, while the others wait, and the whole bucket crosses twice.
     * The ring (reduce-scatter, then all-gather) splits the sums over the ranks and moves
     * 2(N-1)/N of a bucket per rank, the cost model of docs/mpi.md. A user's own setting
     * (environment or mpirun --mca) wins. Other MPIs ignore the variable. */
    if (setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0))
        fprintf(stderr, "warning: cannot select the ring all-reduce (setenv failed)\n");
    int provided = 0;
    /* FUNNELED: only the main thread calls MPI (OpenMP loops and the loader thread never do). */
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "MPI_Init_thread failed (%d): cannot train data-parallel\n", rc);
        return -1;
    }
    g_started = 1;
    char err[MPI_MAX_ERROR_STRING + 256];
    if (dist_mpi_error(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler",
                       err, sizeof(err)) ||
        dist_mpi_error(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank", err, sizeof(err)) ||
        dist_mpi_error(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size", err, sizeof(err)) ||
        /* Our own communicator: nothing else that uses the world can mix with our collectives. */
        dist_mpi_error(MPI_Comm_dup(MPI_COMM_WORLD, &dist_comm), "MPI_Comm_dup", err, sizeof(err)) ||
        dist_mpi_error(MPI_Comm_set_errhandler(dist_comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler",
                       err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (provided < MPI_THREAD_FUNNELED) {
        fprintf(stderr, "rank %d: MPI gives thread level %d, below MPI_THREAD_FUNNELED\n", g_rank, provided);
        return -1;
    }
    /* Rank 0 alone prints the training lines; errors (stderr) stay visible on every rank. */
    if (g_rank != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "rank %d: cannot silence stdout\n", g_rank);
    return 0;
}

int dist_finalize(int rc)
{
    if (!g_started) return rc;
    fflush(stdout);
    char err[MPI_MAX_ERROR_STRING + 256];
    int bad = 0;
    if (dist_comm != MPI_COMM_NULL && dist_mpi_error(MPI_Comm_free(&dist_comm), "MPI_Comm_free", err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        bad = 1;
    }
    if (dist_mpi_error(MPI_Finalize(), "MPI_Finalize", err, sizeof(err))) { /* always finalize */
        fprintf(stderr, "%s\n", err);
        bad = 1;
    }
    if (bad && rc == 0) rc = 1;
    g_started = 0;
    return rc;
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }

void dist_abort(const char *msg)
{
    fprintf(stderr, "%s\nrank %d of %d failed: stopping all ranks (the last saved weights are "
            "intact: saves are atomic)\n", msg, g_rank, g_size);
    fflush(stderr);
    fflush(stdout);
    if (g_started) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

int dist_prepare(network *net, const char *cfg, char *err, size_t errlen)
{
    if (g_size == 1) return 0;
    int mini = net->batch; /* batch / subdivisions of the cfg: the global mini-batch */
    if (mini % g_size) {
        snprintf(err, errlen, "%s: the mini-batch batch/subdivisions = %d/%d = %d does not divide "
                 "over %d ranks: make batch/subdivisions a multiple of %d (mpirun -np %d)", cfg,
                 mini * net->subdivisions, net->subdivisions, mini, g_size, g_size, g_size);
        return -1;
    }
    set_batch_network(net, mini / g_size);
    budget_resolve_streaming(net); /* each rank's cap and its share of the mini-batch */
    net->ranks = g_size;
    /* Every rank loaded the same weights (or drew the same initial ones from the seed). */
    return dist_check_weights(net, 0, 1, err, errlen);
}

/* Agreement calls cannot fail softly: a rank that cannot take part leaves the others
 * waiting, so a failure aborts all (the message names this rank). */
float dist_mean(float x)
{
    if (g_size == 1) return x;
    double v = x;
    dist_check_or_abort(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, dist_comm), "MPI_Allreduce (loss)");
    return (float)(v / g_size);
}

int dist_any(int flag)
{
    if (g_size == 1) return flag != 0;
    int v = flag != 0;
    dist_check_or_abort(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, dist_comm), "MPI_Allreduce (flags)");
    return v;
}

/* FNV-1a over the bits of every trained parameter, in layer order. */
static uint64_t weights_hash(const network *net)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        for (int k = 0; k < l->nparams; ++k) {
            const param *p = &l->params[k];
            const float *w = net->be->device ? place_host_of(net, p->w) : p->w;
            for (size_t j = 0; w && j < p->n; ++j) {
                uint32_t u;
                memcpy(&u, &w[j], sizeof(u));
                h = (h ^ u) * 0x100000001b3ull;
            }
        }
    }
    return h;
}

int dist_check_weights(const network *net, size_t iteration, int every, char *err, size_t errlen)
{
    if (g_size == 1 || every <= 0 || iteration % (size_t)every) return 0;
    /* on a GPU the parameters are hashed from their host mirrors, made current here */
    if (net->be->device && place_pull_all((network *)net)) {
        snprintf(err, errlen, "rank %d: copying the parameters from the %s device", g_rank, net->be->name);
        return -1;
    }
    uint64_t mine = weights_hash(net);
    uint64_t *all = calloc((size_t)g_size, sizeof(uint64_t));
    if (!all) {
        snprintf(err, errlen, "rank %d: out of memory for the weights checksums", g_rank);
        return -1;
    }
    if (dist_mpi_error(MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, dist_comm),
                       "MPI_Allgather (weights checksum)", err, errlen)) {
        free(all);
        return -1;
    }
    int len = snprintf(err, errlen, "weights checksum at iteration %zu: rank(s)", iteration), bad = 0;
    for (int r = 1; r < g_size; ++r)
        if (all[r] != all[0]) {
            bad++;
            if (len > 0 && (size_t)len < errlen) len += snprintf(err + len, errlen - (size_t)len, " %d", r);
        }
    free(all);
    if (!bad) return 0;
    if (len > 0 && (size_t)len < errlen)
        snprintf(err + len, errlen - (size_t)len, " differ from rank 0: the ranks drifted apart "
                 "(different weights files or a non-deterministic reduction); stopping");
    return -1;
}

void dist_rank_figures(double mine, char *out, size_t n)
{
    if (n) out[0] = 0;
    if (g_size == 1) return;
    double *all = g_rank == 0 ? calloc((size_t)g_size, sizeof(double)) : NULL;
    if (g_rank == 0 && !all) return;
    char err[MPI_MAX_ERROR_STRING + 256];
    if (dist_mpi_error(MPI_Gather(&mine, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, dist_comm), "MPI_Gather (memory)",
                       err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        free(all);
        return;
    }
    size_t len = 0;
    for (int r = 0; all && r < g_size && len + 1 < n; ++r) {
        int w = snprintf(out + len, n - len, "%s%.1f", r ? "," : "", all[r]);
        if (w < 0) break;
        len += (size_t)w;
    }
    free(all);
}
