/* The gradient all-reduce (dist.h) and the sync_bn sums.
 *
 * The gradients of all params live in one block laid out in backward order (last layer
 * first, params.h). A bucket is a run of consecutive layers whose gradients are one range
 * of that memory, about DIST_BUCKET_BYTES long; its MPI_Iallreduce runs in place on that
 * range as soon as backward has finished the lowest layer in it, so the sums of the last
 * layers travel while the first layers still compute, and nothing is packed or unpacked.
 * A range ends where the memory stops being contiguous (a layer that is not updated sits
 * between, or gradients allocated elsewhere): correct for any layout, fewest calls for the
 * block's. Before the update the remaining buckets start and all are waited for. Every rank
 * builds the same buckets (same cfg, same layout) and starts them in the same order, as MPI
 * requires.
 *
 * Momentum: Darknet's SGD keeps momentum in the gradient buffer (g *= momentum after the
 * update). Every rank holds the same momentum after an update, so only rank 0 keeps it
 * for the next sum: the others clear their buffers at the start of the iteration
 * (dist_step_begin) and the sum is momentum + every rank's fresh gradient, as in one
 * process. Adam clears the buffer itself. */
#include "dist/dist.h"
#include "dist/dist_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/bn_state.h"
#include "backend/backend.h"
#include "core/layer.h"
#include "memory/saved.h"

/* 4 MiB: large enough that latency per bucket is small next to its transfer, small enough
 * that yolov3-tiny (35 MB of gradients) gets several buckets to overlap with backward. */
#define DIST_BUCKET_BYTES (4u << 20)

typedef struct {
    int lo;               /* lowest layer in the bucket: ready after its backward */
    float *base;          /* the bucket's range of gradient memory, summed in place */
    size_t count;
    MPI_Request req;
    int started, done;
} bucket;

typedef struct {
    bucket *b;
    int nb, next;         /* buckets; the next one to start */
    int stop;             /* plan.stop the layout was made for */
    int built;
} grad_state;

static grad_state g_gs;

/* Wall seconds inside the gradient MPI calls (all of them, and the waits after backward),
 * for the line dist_detach prints: the all-reduce's share of an iteration. */
static struct {
    double in_mpi, waiting;
    unsigned long steps;
} g_time;

/* The layers network_update updates: their gradients are summed. */
static int synced_layer(const network *net, int i, int stop)
{
    const layer *l = &net->layers[i];
    return i > stop && !l->onlyforward && !l->dont_update;
}

static int plan_stop(const network *net) { return net->plan.valid ? net->plan.stop : -1; }

static void free_layout(grad_state *g)
{
    free(g->b);
    memset(g, 0, sizeof(*g));
}

/* Adds layer i's gradients to the current bucket while they continue its range in memory
 * (a new bucket at the layer's start once the current one is full). */
static int add_layer(grad_state *g, network *net, int i)
{
    int fresh_layer = 1;
    for (int k = 0; k < net->layers[i].nparams; ++k) {
        param *p = &net->layers[i].params[k];
        if (!p->grad || !p->n) continue;
        bucket *cur = g->nb ? &g->b[g->nb - 1] : NULL;
        int joins = cur && cur->base + cur->count == p->grad && cur->count + p->n <= (size_t)INT_MAX &&
                    !(fresh_layer && cur->count * sizeof(float) >= DIST_BUCKET_BYTES);
        fresh_layer = 0;
        if (!joins) {
            if (p->n > (size_t)INT_MAX) {
                snprintf(net->err, sizeof(net->err), "rank %d: layer %d has %zu parameters in one "
                         "tensor, more than one MPI call can sum", dist_rank(), i, p->n);
                return -1;
            }
            cur = &g->b[g->nb++];
            cur->base = p->grad;
        }
        cur->count += p->n;
        cur->lo = i;
    }
    return 0;
}

static int build_layout(grad_state *g, network *net)
{
    free_layout(g);
    int stop = plan_stop(net);
    g->stop = stop;
    int most = 0; /* at most one bucket per param */
    for (int i = net->n - 1; i > stop; --i)
        if (synced_layer(net, i, stop)) most += net->layers[i].nparams;
    g->b = calloc((size_t)(most ? most : 1), sizeof(bucket));
    if (!g->b) {
        snprintf(net->err, sizeof(net->err), "rank %d: out of memory for %d gradient buckets", dist_rank(),
                 most);
        return -1;
    }
    for (int i = net->n - 1; i > stop; --i)
        if (synced_layer(net, i, stop) && add_layer(g, net, i)) {
            free_layout(g);
            return -1;
        }
    g->built = 1;
    size_t floats = 0;
    for (int i = 0; i < g->nb; ++i) floats += g->b[i].count;
    /* tests/sh/mpi_train.sh reads it: with the block layout every bucket but the last holds
     * at least DIST_BUCKET_BYTES (more buckets mean the gradients are scattered) */
    if (dist_rank() == 0)
        fprintf(stderr, "gradient all-reduce: %d buckets over %zu floats (%.1f MiB), summed in place\n", g->nb,
                floats, floats * sizeof(float) / 1048576.0);
    return 0;
}

static int start_bucket(grad_state *g, network *net, int bi)
{
    bucket *b = &g->b[bi];
    b->started = 1;
    double t0 = MPI_Wtime();
    int rc = MPI_Iallreduce(MPI_IN_PLACE, b->base, (int)b->count, MPI_FLOAT, MPI_SUM, dist_comm, &b->req);
    g_time.in_mpi += MPI_Wtime() - t0;
    return dist_mpi_error(rc, "MPI_Iallreduce (gradients)", net->err, sizeof(net->err));
}

/* Lets MPI move the started buckets along while backward goes on (no progress thread). */
static int progress(grad_state *g, network *net)
{
    for (int i = 0; i < g->next; ++i) {
        bucket *b = &g->b[i];
        if (!b->started || b->done) continue;
        int flag = 0;
        double t0 = MPI_Wtime();
        int rc = MPI_Test(&b->req, &flag, MPI_STATUS_IGNORE);
        g_time.in_mpi += MPI_Wtime() - t0;
        if (dist_mpi_error(rc, "MPI_Test (gradients)", net->err, sizeof(net->err))) return -1;
        b->done = flag;
    }
    return 0;
}

static int finish(grad_state *g, network *net)
{
    while (g->next < g->nb)
        if (start_bucket(g, net, g->next++)) return -1;
    double t0 = MPI_Wtime();
    for (int i = 0; i < g->nb; ++i) {
        bucket *b = &g->b[i];
        if (!b->done &&
            dist_mpi_error(MPI_Wait(&b->req, MPI_STATUS_IGNORE), "MPI_Wait (gradients)", net->err, sizeof(net->err)))
            return -1;
        b->started = b->done = 0;
    }
    double w = MPI_Wtime() - t0;
    g_time.waiting += w;
    g_time.in_mpi += w;
    g_time.steps++;
    g->next = 0;
    return 0;
}

static int last_subdivision(const network *net)
{
    size_t global = (size_t)net->batch * (size_t)net->ranks;
    return (net->seen / global) % (size_t)net->subdivisions == 0;
}

static int grad_sync(network *net, int layer)
{
    grad_state *g = &g_gs;
    if (layer >= 0 && !last_subdivision(net)) return 0;
    if ((!g->built || g->stop != plan_stop(net)) && build_layout(g, net)) return -1;
    if (layer < 0) return finish(g, net);
    while (g->next < g->nb && g->b[g->next].lo >= layer)
        if (start_bucket(g, net, g->next++)) return -1;
    return progress(g, net);
}

void dist_step_begin(network *net)
{
    if (dist_size() == 1 || dist_rank() == 0) return;
    int stop = plan_stop(net);
    for (int i = 0; i < net->n; ++i) {
        if (!synced_layer(net, i, stop)) continue;
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            if (p->grad) net->be->fill(p->grad, p->n, 0); /* host or device memory */
        }
    }
}

static void bn_sum_f64(double *x, int n)
{
    dist_check_or_abort(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, dist_comm), "MPI_Allreduce (sync_bn)");
}

static void bn_sum_f32(float *x, int n)
{
    dist_check_or_abort(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, dist_comm), "MPI_Allreduce (sync_bn)");
}

static bn_sync_ops g_bn;

int dist_attach(network *net, char *err, size_t errlen)
{
    if (dist_size() == 1) return 0;
    if (net->be && net->be->device) { /* gradients in device memory: NCCL's all-reduce */
        if (net->sync_bn) {
            snprintf(err, errlen, "sync_bn=1 runs on the CPU backend only (docs/mpi.md); add -nogpu "
                     "or remove it");
            return -1;
        }
#ifdef DN_NCCL
        return dist_nccl_attach(net, err, errlen);
#else
        snprintf(err, errlen, "MPI ranks on GPUs need an NCCL build (make MPI=1 GPU=1 CUDNN=1 NCCL=1; "
                 "docs/mpi.md); add -nogpu to train the ranks on the CPU");
        return -1;
#endif
    }
    /* ActNN rounding noise and dropout masks are keyed by the sample's index in the local
     * mini-batch: with one seed, every rank would draw the same noise for its k-th sample.
     * A seed per rank makes them independent (deterministic, so a resume replays them). */
    int rc = 0;
    if (dist_rank() > 0) {
        rc = network_prepare(net, 1, err, errlen);
        if (!rc && net->store)
            saved_set_seed(net->store, net->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)dist_rank()));
    }
    if (dist_any(rc)) { /* every rank stops when one cannot start */
        if (!rc) snprintf(err, errlen, "rank %d: another rank could not start training", dist_rank());
        return -1;
    }
    net->grad_sync = grad_sync;
    if (net->sync_bn) {
        g_bn.sum_f64 = bn_sum_f64;
        g_bn.sum_f32 = bn_sum_f32;
        g_bn.ranks = dist_size();
        bn_set_sync(&g_bn);
    }
    return 0;
}

void dist_detach(network *net)
{
#ifdef DN_NCCL
    dist_nccl_detach(net);
#endif
    if (net->grad_sync == grad_sync) net->grad_sync = NULL;
    bn_set_sync(NULL);
    free_layout(&g_gs);
    if (g_time.steps && dist_rank() == 0) /* scripts/bench_mpi.sh reads it */
        fprintf(stderr, "all-reduce time: %.1f ms per iteration inside the gradient MPI calls, %.1f ms of it "
                "waiting for the sums after backward (rank 0, %lu iterations)\n",
                1e3 * g_time.in_mpi / g_time.steps, 1e3 * g_time.waiting / g_time.steps, g_time.steps);
    memset(&g_time, 0, sizeof(g_time));
}
