/* Lifetime-planned arena for transient buffers (DESIGN.md, memory kind 2).
 *
 * Timeline: forward of layer i is step i; backward of layer i is step 2n-1-i.
 * - Output of layer i lives from step i to the last forward step that reads it; longer when
 *   a reader keeps it for its backward (exact fp32 saving keeps the buffer alive instead of
 *   copying it), or for ever when it is read after the pass (net output, detections).
 * - Delta of layer i lives from the first backward step that writes it (its highest
 *   consumer), or from its forward for loss layers, down to its own backward step.
 * Buffers whose intervals are disjoint share memory: offsets are assigned greedily, largest
 * first, at the lowest offset that does not collide with a placed buffer alive at the same
 * time (the approach of ggml's graph allocator).
 * A streamed segment a..b (stream.h) runs all its layers in step a forward and in step
 * bwd(b) backward: its members' outputs (steps a..b) and deltas (bwd(b)..bwd(a)) are one
 * chunk large, the exit's output is born at step a, its delta lives down to bwd(a), and
 * the deltas of layers outside that the segment writes are born at bwd(b). */
#ifndef DN_PLAN_H
#define DN_PLAN_H

#include "core/dn_names.h"

#include <stddef.h>

typedef struct network network;

typedef struct {
    size_t off;   /* byte offset in the arena */
    size_t bytes; /* 0: no buffer */
    int start, end;
    int alias;    /* lives inside its layer's parent route's buffer (concat.h): not placed */
} mem_buf;

typedef struct {
    int n;
    int train;
    int batch;
    int w, h;          /* network input size the plan was made for */
    int stop;          /* backward runs for layers i > stop (stop = -1: all) */
    int hooked;        /* made with forward hooks set (no streaming, no zero-copy routes) */
    mem_buf *out;      /* per layer */
    mem_buf *delta;    /* per layer; bytes 0 when the layer gets no delta */
    int *chunk;        /* per layer: samples per chunk of a streamed segment's member, or 0 */
    int *seg_end;      /* per layer: the exit of the streamed segment starting here, or 0 */
    int *seg_start;    /* per layer: the first layer of the segment it is the exit of, or -1 */
    int *parent;       /* per layer: route whose buffers hold its output and delta, or -1 */
    size_t *sub;       /* float offset of the layer's slice in each sample of the parent */
    size_t *stride;    /* floats between samples of the layer's output and delta */
    size_t arena_bytes;
    size_t total_bytes; /* sum of all buffers, i.e. without reuse */
    int valid;
} mem_plan;

int plan_build(mem_plan *p, const network *net, int train);
/* Hooks that need whole packed buffers are set: no streaming, no zero-copy routes. */
int plan_hooked(const network *net);
void plan_free(mem_plan *p);
/* Checks that no two buffers alive at the same step overlap in the arena (tests). */
int plan_verify(const mem_plan *p);
/* The unit layer i's forward and backward run in: the first layer of the streamed segment
 * holding it, else i. (actnn_swap's window holds a unit's saves, saved_swap.c.) */
int plan_unit(const mem_plan *p, int i);
/* 0 or 1, alternating from each unit to the next (the window side of its saves). */
int plan_unit_parity(const mem_plan *p, int i);
/* Backward step of layer i. */
static inline int plan_bwd_step(const mem_plan *p, int i) { return 2 * p->n - 1 - i; }

#endif
