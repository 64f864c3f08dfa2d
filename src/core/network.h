/* The network: layers, [net] settings, the memory plan and the training loop state. */
#ifndef DN_NETWORK_H
#define DN_NETWORK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/dn_api.h"
#include "core/layer.h"
#include "memory/plan.h"

typedef enum {
    POLICY_CONSTANT, POLICY_STEP, POLICY_EXP, POLICY_POLY, POLICY_STEPS, POLICY_SIG,
    POLICY_RANDOM, POLICY_SGDR, POLICY_COUNT
} lr_policy;


/* Called after every layer's forward (tests compare per-layer outputs with it). */
typedef void (*forward_hook)(void *ud, const layer *l, const float *out, size_t n);

struct network {
    int n;
    layer *layers;
    char *cfgfile;

    /* [net] */
    int batch;              /* mini-batch: cfg batch / subdivisions * time_steps */
    int subdivisions, time_steps, max_batches;
    int w, h, c, inputs;
    int outputs;            /* of the output layer */
    int out_index;          /* the last layer that is not [cost] */
    int truths;             /* floats of truth per sample */
    float learning_rate, momentum, decay, gamma, scale, power, learning_rate_min;
    lr_policy policy;
    int step, *steps, num_steps, burn_in, sgdr_cycle, sgdr_mult;
    float *scales;
    int adam;
    float B1, B2, eps;
    /* augmentation and data */
    int max_crop, min_crop, center, random, flip, letter_box, notruth;
    float max_ratio, min_ratio, angle, aspect, exposure, saturation, hue, jitter;
    int resize_step;
    int image_cache_mb;     /* bound of the loaders' decoded-image cache, 0: off (image_cache.h) */
    /* AlexeyAB's detector augmentation (data_detector.h): mixup 0 off, 1 mixup, 3 mosaic
     * (his numbering; cutmix=1 alone is 2, which detector training ignores as he does) */
    int mixup, mosaic_bound, blur, gaussian_noise;
    int workspace_limit_mb;
    uint64_t seed;

    /* ActNN settings ([net] defaults; layers may override bits) */
    int actnn;              /* compression on */
    int actnn_bits;         /* [net] bits (32 when off) */
    int actnn_group;
    int actnn_auto, actnn_auto_interval, actnn_auto_layers, actnn_swap;
    int actnn_stream;       /* streamed pairs (stream.h): -1 auto, 0 off, 1 always */
    int actnn_stream_grow;  /* 1 (default): streamed segments grow (plan.c grow_streams); 0 off */
    int stream_auto_on;     /* auto: on when a memory cap needs them (budget_resolve_streaming) */
    char stream_why[256];   /* auto: what decided it, for the start-up report */
    int stream_chunk;       /* samples per chunk; 0 = about 8 MiB of output (tests set it) */
    int actnn_concat;       /* zero-copy routes (concat.h): -1 default (on), 0 off */
    int actnn_xhat_rebuild; /* conv x-hat rebuilt, not saved: -1 auto, 0 never, 1 always */
    int actnn_budget_mb;    /* > 0: layers' bits picked so the plan fits (budget.h) */
    int actnn_budget_line;  /* its line in the cfg, for errors */

    /* state */
    size_t seen;
    int t;                  /* adam step */
    float epoch;
    float best_map;         /* detector train -map: best mAP@0.5 so far (kept in the train state) */
    int train;
    float cost;             /* sum of layer costs of the last forward */
    float *input;           /* batch * inputs, owned */
    const float *fwd_input; /* input of the last forward: backward reads the same buffer */
    float *truth;           /* batch * truths, owned (NULL when truths == 0) */
    float *output;          /* points at the output layer's output after a forward */
    int grads_ready;        /* param grads allocated */
    float *grad_block;      /* every param's grad, one block in backward order (params.h) */
    size_t grad_floats;

    /* memory */
    const dn_backend *be;   /* backend of the arena, parameters and layer calls (backend.h) */
    mem_plan plan;          /* the current plan (depends on train, batch, sizes) */
    float *arena;
    size_t arena_bytes;
    void *workspace;
    size_t workspace_bytes;
    float *scratch[2];
    size_t scratch_floats;
    saved_store *store;     /* saved activations */
    /* device placement (core/place.h): set when `be` is a device backend */
    struct place_pair *placed; /* host array <-> backend copy, one per moved array */
    int nplaced, placed_cap;
    float *dev_input;       /* the input batch in backend memory (batch * inputs) */
    size_t dev_input_floats;
    float *dscratch[2];     /* scratch in backend memory (scratch_floats each) */
    char *host_arena;       /* host mirror of the arena, for host-only layers and reads */
    size_t host_arena_bytes;
    float *hook_stage;      /* host copy of a sample handed to a hook */
    size_t hook_stage_floats;

    forward_hook hook;      /* after each layer's forward, with its output */
    forward_hook bhook;     /* after each layer's backward, with its (final) delta */
    void *hook_ud;
    int hook_any_layout;    /* the hooks take any slice of values (a NaN watch): streaming and
                             * zero-copy routes stay on and hooks get chunks or samples; else
                             * hooks need whole packed buffers and those are turned off */
    int nan_marks;          /* device runs: the hooks are a NaN watch (finite_check.h), so
                             * network_run_hook marks non-finite buffers on the device
                             * (nonfinite_mark) instead of pulling them to the hooks */
    float *nan_flags;       /* backend memory, 3 per layer: output, delta, weights (NaN marks) */

    /* Called in a training forward when network_input_dead(): samples [0, upto) of the
     * input batch are no longer read, so the caller may drop their pages (the CLI
     * trainers' loader does, loader.h). upto grows chunk by chunk while a streamed segment
     * holds the input's last reader (its last sweep), then reaches the mini-batch right
     * after that reader; calls come in increasing order. */
    void (*input_done)(void *ud, int upto);
    void *input_done_ud;
    int heap_trimmed;       /* the first training step trimmed the heap (network_train_batch) */

    const float **tmp_ins;  /* per-call source pointer arrays (max nsrc entries) */
    float **tmp_dins;
    int max_src;
    uint64_t iteration;     /* forward passes in training, keys the random streams */
    double *ltimes;         /* -benchmark_layers: per layer forward, backward seconds (layer_times.h) */
    int ltimes_passes;      /* passes counted in ltimes */
    int ltimes_on;          /* the current pass is counted */
    int ltimes_train;       /* the counted passes were training passes */
    char err[512];
    /* A training-only key this build does not implement (focal_loss, counters_per_class,
     * dropblock): inference runs, network_prepare for training fails with this text. */
    char train_refusal[320];

    /* Data parallel (src/dist, MPI=1): `batch` is this rank's share of the mini-batch and
     * `ranks` processes train together (1 otherwise), so `seen`, the rate schedule and the
     * update count the global batch. grad_sync, when set, runs after each layer's backward
     * (its index) and before the update (-1): the all-reduce of the gradients. */
    int ranks;
    int sync_bn;            /* [net] sync_bn=1: batch-norm sums over all ranks */
    int (*grad_sync)(network *net, int layer);
    void *dist;
};

/* Forward/backward/update over one mini-batch already in net->input / net->truth. */
int network_forward(network *net, const float *input, int train);
int network_backward(network *net);
void network_update(network *net);
/* One training step on net->input/net->truth (Darknet's train_network_datum): seen +=
 * batch, forward, backward, and an update every `subdivisions` steps. Returns 0 and the
 * summed cost in *cost, or -1 with a message. */
int network_train_datum(network *net, float *cost, char *err, size_t errlen);
/* The same step on a caller's batch of inputs `x` (batch * inputs floats, valid until the
 * step returns), truth still in net->truth: trainers pass their loader's buffer and never
 * write net->input, whose pages then stay untouched (a batch of input less in RSS). */
int network_train_batch(network *net, const float *x, float *cost, char *err, size_t errlen);
/* Nothing reads the input batch after the training forward: every layer that reads it
 * and runs a backward is a convolutional or connected layer saving a compressed copy
 * (bits < 32; at 32 bits it keeps the input itself for its weight gradient). */
int network_input_dead(const network *net);

/* Layer i's output after a forward, in host memory (the arena itself, or for a device run
 * its host mirror after a copy: only the mirror changes, hence const); NULL without a plan
 * or a buffer. */
const float *network_layer_output(const network *net, int i);
/* (Re)computes the plan for the current train flag and batch and sizes the arena. */
int network_prepare(network *net, int train, char *err, size_t errlen);
int network_alloc_grads(network *net);
/* Prints Darknet's layer table to f: shapes, bits, BFLOPs per layer and the total. */
void network_print(const network *net, FILE *f);
float network_current_rate(const network *net);
size_t network_current_batch(const network *net);
layer *network_output_layer(network *net);

/* Last error text set by the compat wrappers (per thread). */
const char *network_last_error(void);

#endif
