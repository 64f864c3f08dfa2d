/* Data-parallel training over MPI (DESIGN.md "Scale", docs/mpi.md).
 *
 * Owns: starting and stopping MPI, this process's rank and the number of ranks, splitting
 * the mini-batch over the ranks, the all-reduce (sum) of the parameter gradients (bucketed,
 * each bucket started as soon as backward has finished its layers), the sync_bn sums, the
 * per-iteration agreement (mean loss, stop requests, failures) and the weights checksum
 * that proves the ranks stayed identical.
 * May not touch: the layers' arithmetic (batch norm gets a callback through bn_ops.h), the
 * optimizer (every rank runs the same network_update on the same sums), files (the CLI
 * writes, on rank 0 alone) and the loader (the CLI gives each rank its slice).
 *
 * Compiled only with MPI=1 (the .c files here, -DDN_MPI). Without it, the inline stubs below
 * make every call the single-process answer, so callers never test for MPI themselves. */
#ifndef DN_DIST_H
#define DN_DIST_H

#include <stddef.h>

#include "core/network.h"

#ifdef DN_MPI

/* Starts MPI when the process was launched by mpirun (and only then: a plain ./darknet of
 * an MPI build stays one process with no MPI at all). Ranks other than 0 send stdout to
 * /dev/null: rank 0 alone prints the training lines. 0, or -1 with a message printed. */
int dist_init(int *argc, char ***argv);
/* Ends MPI after a command (when dist_init started it); returns rc. */
int dist_finalize(int rc);
int dist_rank(void);
int dist_size(void);
/* Before training: checks that the cfg's mini-batch (batch/subdivisions) divides over the
 * ranks, gives this rank its share (net->batch, net->ranks) and checks every rank loaded
 * the same weights. 0, or -1 with the message in err. */
int dist_prepare(network *net, const char *cfg, char *err, size_t errlen);
/* Right before the loop: installs the gradient all-reduce and, with sync_bn=1, the
 * batch-norm sums. dist_detach removes them. */
int dist_attach(network *net, char *err, size_t errlen);
void dist_detach(network *net);
/* Before the first mini-batch of an iteration: ranks other than 0 clear the gradient
 * buffers (they hold momentum, which rank 0 alone carries into the sum). */
void dist_step_begin(network *net);
/* The mean of x over the ranks (the per-image loss of the global batch: shares are equal). */
float dist_mean(float x);
/* 1 when flag is non-zero on any rank: stop requests, failures and failed saves are agreed
 * on, so every rank leaves the loop at the same iteration. */
int dist_any(int flag);
/* Every `every` iterations: compares a checksum of all trained parameters over the ranks.
 * 0, or -1 with a message naming the ranks that differ from rank 0. */
int dist_check_weights(const network *net, size_t iteration, int every, char *err, size_t errlen);
#ifdef DN_NCCL
/* Ranks on GPUs (nccl.c, NCCL=1): the NCCL communicator and its gradient all-reduce on the
 * device gradient block. 0, or -1 with the message in err. */
int dist_nccl_attach(network *net, char *err, size_t errlen);
void dist_nccl_detach(network *net);
#endif
/* Per-rank peak RSS (MiB) gathered on rank 0 as "a,b,..." (others get ""). */
void dist_rank_figures(double mine, char *out, size_t n);
/* A failure that leaves the other ranks waiting in a collective: prints the message with
 * this rank's number and aborts every rank (no file is left half written: saves are
 * atomic). Does not return. */
void dist_abort(const char *msg);

#else /* one process */

#include <stdio.h>
#include <stdlib.h>

static inline int dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* N copies of a non-MPI binary would each train alone and overwrite the same files. */
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (n && atoi(n) > 1) {
        fprintf(stderr, "this ./darknet was built without MPI: build it with `make MPI=1` to "
                "train with mpirun (docs/mpi.md)\n");
        return -1;
    }
    return 0;
}
static inline int dist_finalize(int rc) { return rc; }
static inline int dist_rank(void) { return 0; }
static inline int dist_size(void) { return 1; }
static inline int dist_prepare(network *net, const char *cfg, char *err, size_t errlen)
{
    (void)net; (void)cfg; (void)err; (void)errlen;
    return 0;
}
static inline int dist_attach(network *net, char *err, size_t errlen)
{
    (void)net; (void)err; (void)errlen;
    return 0;
}
static inline void dist_detach(network *net) { (void)net; }
static inline void dist_step_begin(network *net) { (void)net; }
static inline float dist_mean(float x) { return x; }
static inline int dist_any(int flag) { return flag != 0; }
static inline int dist_check_weights(const network *net, size_t it, int every, char *err, size_t n)
{
    (void)net; (void)it; (void)every; (void)err; (void)n;
    return 0;
}
static inline void dist_rank_figures(double mine, char *out, size_t n)
{
    (void)mine;
    if (n) out[0] = 0;
}
static inline void dist_abort(const char *msg)
{
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

#endif
#endif
