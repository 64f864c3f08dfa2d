/* Streamed segments: a run of layers a..b whose intermediate outputs nobody outside reads
 * runs in chunks of samples, so the outputs and deltas of its members (a..b-1) take a
 * chunk, not a mini-batch, in the arena; only the exit b's output and delta are whole.
 *
 * Why: at 416x416 the first layers' outputs and deltas (yolov3-tiny layer 0: 169 MiB each
 * at mini-batch 16) dominate what is left once saved activations are compressed, and in
 * yolov4 at 608 whole CSP blocks (routes, shortcuts and views inside) are that wide. A
 * pair (a, a+1) is the shortest segment.
 *
 * Batch norm couples the samples, so a member with batch norm needs its statistics before
 * any chunk can go on: forward makes one statistics sweep per such member m, each chunk
 * recomputing members a..m-1 with their finished statistics and saving nothing
 * (layer_ctx.recompute), then one last sweep that saves and writes the exit's chunk; the
 * exit does its own batch norm once over the whole batch (PASS_CHUNK, PASS_POST). Backward
 * mirrors it: the exit's batch-norm backward on the whole delta (PASS_PRE), then one sums
 * sweep per batch-norm member from the last to the first (each chunk rebuilds the members'
 * deltas from the exit down to it), then the last sweep, which writes the deltas of the
 * layers outside the segment. Parameter gradients are added once per layer and chunk, in
 * sample order, so the results equal the unstreamed ones bit for bit (tests/test_stream.c).
 * The price is recomputation: about K^2/2 member convolutions for K batch-norm members,
 * so a segment holds at most STREAM_MAX_BN of them.
 *
 * Members: [convolutional] (with batch norm, or without when no batch-norm member comes
 * before it), [route], [shortcut], [maxpool]; a [route] view of a layer before the segment
 * may sit inside it (its buffer is the whole-batch one). The exit is a [convolutional] or
 * [maxpool] reading a member. Every member's readers are in the segment; zero-copy route
 * slices and views stay inside it. Members after the first keep no fp32 input alive.
 * The exit is the first whose output is at most a quarter of the widest member's, else
 * the narrowest (stream.c best_exit), so yolov3-tiny keeps its pairs.
 *
 * Used when the layers have bits < 32 and a memory cap needs them (`actnn_stream` unset:
 * budget.h budget_resolve_streaming turns them on only when the plan without them would
 * not fit actnn_budget_mb or the process's resident limit; the recomputation costs 15-25%
 * of an iteration on yolov3-tiny and 2x on yolov4-tiny at 416, so they are not free;
 * `actnn_stream=0` in [net] turns them off, `actnn_stream=1` on, also for 32-bit layers,
 * whatever the cap), the widest member's whole output would be
 * >= 32 MiB and a chunk (about 8 MiB of that member's output, at least one sample) is
 * smaller than the mini-batch. Not with forward hooks. Under actnn_auto a streamed save
 * splits its slot's average bits evenly between samples. */
#ifndef DN_STREAM_H
#define DN_STREAM_H

#include "core/dn_names.h"

#include "memory/plan.h"

typedef struct network network;

#define STREAM_MAX_BN 12

/* Fills p->chunk (samples per chunk of every member, else 0), p->seg_end (for a segment's
 * first layer: its exit, else 0) and p->seg_start (for an exit: the first layer, else -1).
 * Segments do not overlap. */
void stream_select(const network *net, mem_plan *p);
/* Per layer: the highest index of a layer reading its output, or -1 (net->n + 1 ints,
 * malloc'd; NULL when out of memory). Computed once per plan build: the graph does not
 * change while a plan is chosen. */
int *stream_last_readers(const network *net);
/* Moves segment a's exit to b, absorbing the segments that start in between, when a..b
 * can stream as one segment; 1 if it did, 0 if not (nothing changed). `last` is
 * stream_last_readers(net). */
int stream_try_exit(const network *net, mem_plan *p, const int *last, int a, int b);
/* Forward of the segment starting at a, in training. drop_input: the segment holds the
 * input's last reader, so its last sweep hands each finished chunk's input samples back
 * (network.h input_done): the input shrinks while that sweep's saved activations grow.
 * Returns 0 or -1 (message in net->err). */
int stream_forward(network *net, int a, const float *input, int drop_input);
/* Backward of the segment starting at a. */
int stream_backward(network *net, int a);

#endif
