/* Streamed pairs: a layer P whose output only its successor C reads runs in chunks of
 * samples, so P's output and delta take a chunk, not a mini-batch, in the arena.
 *
 * Why: at 416x416 the first layers' outputs and deltas (yolov3-tiny layer 0: 169 MiB each
 * at mini-batch 16) dominate what is left once saved activations are compressed. Batch
 * norm couples the samples, so P runs twice per chunk: a statistics pass, then the output
 * pass (P's GEMM is computed twice); in backward C's chunk of P's delta is rebuilt for a
 * batch-norm sums pass and again for the delta pass. C (a maxpool or convolutional) does
 * its per-sample work on each chunk and what needs the whole batch (its own batch norm)
 * once at the end. The results equal the unstreamed ones bit for bit (tests/test_stream.c).
 *
 * Used when P has bits < 32 (ActNN on; `actnn_stream=0` in [net] turns it off,
 * `actnn_stream=1` also streams 32-bit layers), P's whole output would be >= 32 MiB and a
 * chunk (about 8 MiB of P's output, at least one sample) is smaller than the mini-batch.
 * Not with forward hooks. Under actnn_auto a streamed save splits its slot's average bits
 * evenly between samples (the later chunks' ranges are unknown when the tensor is made). */
#ifndef DN_STREAM_H
#define DN_STREAM_H

#include "core/dn_names.h"

#include "memory/plan.h"

typedef struct network network;

/* Samples per chunk when layer i is streamed with its successor, else 0. Pairs do not
 * overlap: a layer that is C of a pair is not P of the next. */
void stream_select(const network *net, const mem_plan *p, int *chunk);
/* Forward of the pair (i, i+1), in training. Returns 0 or -1 (message in net->err). */
int stream_forward(network *net, int i, const float *input);
/* Backward of the pair (i, i+1). */
int stream_backward(network *net, int i);

#endif
