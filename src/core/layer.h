/* The layer interface (DESIGN.md "Data flow and memory model").
 *
 * A layer type is a table of functions (layer_ops). A layer struct holds only its
 * configuration and parameters; it never owns batch-sized buffers. The network owns the
 * memory plan and hands each call its buffers through a layer_ctx:
 *   forward(l, x):  x->in (src[0]'s output) or x->ins[] -> x->out; loss layers also write
 *                   x->delta and l->cost. What backward needs goes through saved.h.
 *   backward(l, x): x->delta (this layer's output delta, already complete) -> accumulate
 *                   (+=) into x->delta_in / x->delta_ins[] (NULL when nobody needs them).
 * Deltas follow Darknet's sign: delta = -dLoss/dOutput, so SGD adds lr * accumulated update.
 * Parameters are registered as `param`s (updated generically by params.c) and as weights
 * file entries in Darknet's file order (weights.c). */
#ifndef DN_LAYER_H
#define DN_LAYER_H

#include "core/dn_names.h"

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "core/cfg.h"

typedef enum {
    LT_CONVOLUTIONAL, LT_CONNECTED, LT_MAXPOOL, LT_AVGPOOL, LT_SOFTMAX, LT_COST, LT_DROPOUT,
    LT_ROUTE, LT_SHORTCUT, LT_UPSAMPLE, LT_REORG, LT_CROP, LT_BATCHNORM, LT_ACTIVE,
    LT_YOLO, LT_REGION, LT_SCALE_CHANNELS, LT_SAM, LT_REORG3D,
    LT_COUNT
} layer_type;

typedef struct network network;
typedef struct layer layer;
typedef struct saved_state saved_state;
typedef struct saved_store saved_store;
typedef struct place_ctx place_ctx;

/* A trainable tensor. grad accumulates Darknet-style updates (sums over the batch). */
typedef struct {
    float *w;
    float *grad; /* allocated when training starts */
    float *m, *v; /* adam moments, allocated when adam=1 */
    size_t n;
    int decay; /* weight decay applies (weights yes; biases and BN scales no) */
} param;

/* One array of the weights file, in file order. */
enum { WF_BN_STATS = 1, WF_TRANSPOSE = 2 };
typedef struct {
    float *data;
    size_t n;
    int flags;      /* WF_BN_STATS: skipped by dontloadscales; WF_TRANSPOSE: connected weights */
    int rows, cols; /* for WF_TRANSPOSE: stored as [rows][cols], transposed files are [cols][rows] */
} wfile_entry;

#define LAYER_MAX_PARAMS 4
#define LAYER_MAX_WFILE 6

/* What part of a layer's work a call does. PASS_FULL is the whole batch at once; the
 * other passes are used by streamed segments (stream.h), here for the shortest, a pair: a
 * producer P whose output only its successor C reads runs in chunks of samples, so P's
 * output and delta are chunk-sized. In longer segments every member runs like P.
 *   forward:  P: PASS_STATS (batch-norm statistics of each chunk, nothing saved), then
 *                PASS_APPLY (output of each chunk with the finished statistics);
 *             C: PASS_CHUNK (per-sample work on each chunk of P's output), then PASS_POST
 *                (what needs the whole batch, e.g. C's own batch norm).
 *   backward: C: PASS_PRE (whole batch), then PASS_CHUNK per chunk (param_grads says
 *                whether to add parameter gradients: chunks are visited twice when P has
 *                batch norm);
 *             P: PASS_SUMS (batch-norm sums of each chunk), then PASS_APPLY per chunk.
 * Sample indices given to saved.h are relative to the chunk (x->b0 is added there). */
typedef enum { PASS_FULL, PASS_STATS, PASS_APPLY, PASS_CHUNK, PASS_POST, PASS_PRE, PASS_SUMS } layer_pass;

/* Buffers and context for one forward or backward call. */
typedef struct {
    network *net;
    layer *l;
    const dn_backend *be;  /* where every buffer below lives and whose ops compute on them */
    int batch;             /* samples in this call (a chunk of the mini-batch when streamed) */
    int b0, total;         /* first sample of the call in the mini-batch; mini-batch size */
    layer_pass pass;
    int param_grads;       /* backward adds parameter gradients (PASS_CHUNK may not) */
    int recompute;         /* forward of a streamed chunk again, for a later layer's batch-norm
                            * statistics (stream.h): nothing is saved */
    int train;
    const float *in;       /* output of src[0] (or the network input) */
    float *out;            /* this layer's output */
    float *delta;          /* delta of this layer's output */
    float *delta_in;       /* delta of src[0]'s output, NULL when not needed */
    const float **ins;     /* outputs of src[0..nsrc-1] */
    float **delta_ins;     /* their deltas (entries may be NULL) */
    /* Floats between samples when a buffer is not packed (0: packed, i.e. l->inputs for
     * in and delta_in, l->outputs for out and delta). Only layers with l->strided get
     * non-zero strides: a zero-copy [route] (concat.h) keeps its sources' outputs and deltas
     * as slices of its own buffers. */
    size_t in_stride, out_stride;
    const float *truth;    /* batch * net truths, NULL without truth */
    void *ws;              /* the network's workspace: ws_bytes >= l->workspace bytes */
    size_t ws_bytes;
    float *scratch[2];     /* two buffers of l->restore_floats floats, for per-sample restores */
    saved_state *sv;       /* this layer's saved tensors (saved.h) */
} layer_ctx;

typedef struct {
    const char *name;      /* section name in cfg files */
    layer_type type;
    /* Reads the section (input shape already in l->w/h/c, l->src set), sets the output shape,
     * allocates parameters, registers params and weights-file entries, workspace and
     * restore sizes. Returns 0, or -1 with the error recorded in r. */
    int (*parse)(layer *l, cfg_reader *r, network *net);
    int (*forward)(layer *l, layer_ctx *x);
    int (*backward)(layer *l, layer_ctx *x);
    /* Recomputes shapes after the input size changed (l->w/h set). NULL: not resizable. */
    int (*resize)(layer *l, network *net);
    /* Frees l->p and anything it points to (params registered in l->params are freed by
     * the network). */
    void (*destroy)(layer *l);
    /* Device placement (core/place.h): calls place_array on every float array in l->p that
     * the ops read or write (parameters, batch-norm state), so they follow the network to
     * a device backend and back. NULL: the layer holds no such arrays. */
    void (*place)(layer *l, place_ctx *pc);
    /* 1: forward and backward compute on the host (loss layers, as in Darknet); on a
     * device backend the network copies their buffers to and from the host around calls. */
    int host_only;
} layer_ops;

struct layer {
    const layer_ops *ops;
    layer_type type;
    int index;
    int line;                 /* cfg line of the section header */
    int batch;                /* mini-batch */
    int w, h, c, inputs;      /* input shape, per sample */
    int out_w, out_h, out_c, outputs;
    int nsrc;
    int *src;                 /* producer layer indices; -1 is the network input */
    activation act;

    /* keys every section may use */
    int stopbackward, onlyforward, dontload, dontloadscales, dontsave, dont_update, numload;
    float lr_scale;

    /* memory plan inputs */
    int bits;                 /* ActNN bits for saved activations; 32 = exact fp32 */
    int keeps_input;          /* bit s: backward reads src[s]'s output (kept alive at 32 bits) */
    int batch_stats;          /* forward needs statistics of the whole mini-batch (batch norm) */
    int streams;              /* supports the passes of a streamed pair (layer.h layer_pass) */
    int strided;              /* handles layer_ctx in_stride/out_stride (concat.h) */
    int concat;               /* [route] that only concatenates (no groups): may be zero-copy */
    int view_off;             /* [route] of one source: float offset of its slice (-1: other) */
    int loss;                 /* forward computes delta and cost */
    int persist_output;       /* output read after the forward pass (detections, net output) */
    int truths;               /* truth floats per sample this layer reads */
    float cost;
    size_t workspace;         /* bytes */
    size_t restore_floats;    /* per-sample restore scratch, floats */
    double flops;             /* forward FLOPs per sample (2 per multiply-add), Darknet's BFLOPs */

    param params[LAYER_MAX_PARAMS];
    int nparams;
    wfile_entry wf[LAYER_MAX_WFILE];
    int nwf;

    void *p;                  /* type-specific configuration and parameter arrays */
};

/* Whether layer l's backward reads source s's output, which the plan then keeps alive
 * until that backward when l saves at 32 bits (sv_save's alive). */
static inline int layer_keeps_src(const layer *l, int s) { return (l->keeps_input >> s) & 1; }

/* Registry of layer types, keyed by section name (aliases included). */
const layer_ops *layer_ops_find(const char *section);
const char *layer_type_name(layer_type t);

/* Helpers for parse functions. */
float *layer_alloc_param(layer *l, size_t n, int decay); /* registers and returns zeroed */
void layer_add_wfile(layer *l, float *data, size_t n, int flags);

#endif
