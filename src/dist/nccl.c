/* NCCL gradient all-reduce for ranks whose networks live on GPUs (MPI=1 GPU=1 NCCL=1).
 *
 * One rank per GPU (cli/device.c maps rank r to the r-th GPU of -gpus, or to -i/-gpus plus
 * r). MPI carries only the communicator's id (broadcast from rank 0) and the small
 * agreements it already carries (loss, stop, weights checksum); the gradients, one block
 * in device memory in backward order (params.h, moved as one array by core/place.c), are
 * summed in place by one ncclAllReduce on the default stream when backward is done, so
 * the optimizer's kernels on that stream see the sums. No overlap with backward yet (the
 * CPU path's buckets): one call per step. sync_bn is refused on devices (grad_sync.c).
 * Built and compiled here (CUDA 13's NCCL under /usr/local/cuda); never run: no GPU was
 * lent to this work (docs/mpi.md). */
#include "dist/dist.h"

#ifdef DN_NCCL
#include <mpi.h>
#include <nccl.h>
#include <stdio.h>

#include "core/network.h"
#include "dist/dist_internal.h"

static ncclComm_t g_comm;
static int g_ready;

static int nccl_fail(ncclResult_t r, const char *what, char *err, size_t errlen)
{
    if (r == ncclSuccess) return 0;
    snprintf(err, errlen, "rank %d: %s: %s", dist_rank(), what, ncclGetErrorString(r));
    return -1;
}

static int nccl_grad_sync(network *net, int layer)
{
    if (layer >= 0) return 0; /* one all-reduce after backward (no buckets yet) */
    if (!net->grad_block || !net->grad_floats) return 0;
    ncclResult_t r = ncclAllReduce(net->grad_block, net->grad_block, net->grad_floats, ncclFloat,
                                   ncclSum, g_comm, NULL);
    if (r == ncclSuccess) return 0;
    nccl_fail(r, "ncclAllReduce of the gradients", net->err, sizeof(net->err));
    return -1;
}

int dist_nccl_attach(network *net, char *err, size_t errlen)
{
    if (!g_ready) {
        ncclUniqueId id;
        if (dist_rank() == 0 && nccl_fail(ncclGetUniqueId(&id), "ncclGetUniqueId", err, errlen))
            return -1;
        if (dist_mpi_error(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, dist_comm), "MPI_Bcast (NCCL id)",
                           err, errlen))
            return -1;
        if (nccl_fail(ncclCommInitRank(&g_comm, dist_size(), id, dist_rank()), "ncclCommInitRank",
                      err, errlen))
            return -1;
        g_ready = 1;
    }
    net->grad_sync = nccl_grad_sync;
    return 0;
}

void dist_nccl_detach(network *net)
{
    if (net->grad_sync == nccl_grad_sync) net->grad_sync = NULL;
    if (g_ready) ncclCommDestroy(g_comm);
    g_ready = 0;
}
#else
/* Without NCCL=1 this file is empty; the declaration keeps the unit non-empty (ISO C). */
typedef int dn_nccl_unused;
#endif
