/* Device placement: moves a parsed network onto a device backend (DESIGN.md "Backends":
 * the arena, the parameters and the saved store in that backend's memory, the same plan).
 *
 * Owns the table of moved arrays (network.placed): each entry pairs a host array (the
 * weights file's entry, a gradient, a batch-norm statistic) with its copy in backend
 * memory. While placed, the layers, the optimizer and the ops see only the backend
 * copies; the host arrays are mirrors brought up to date by place_pull_all (before the
 * weights or the training state are written) and sent back by place_push_all (after they
 * are read). The activation arena, workspace, scratch and input batch are the network's
 * (network.c); the saved store keeps quantized tensors in a device pool where the backend
 * has act_save, and stages the other saves through the host (saved.c).
 * May not: compute anything (no kernels), or touch the plan. */
#ifndef DN_PLACE_H
#define DN_PLACE_H

#include <stddef.h>

#include "core/network.h"

typedef struct place_pair {
    float *host, *dev;
    size_t n;
} place_pair;

/* Moves the network's parameters and layer state to `be` (a device backend), or back to
 * the CPU backend when `be` is the CPU backend and the network is placed. Frees the
 * arena, workspace and scratch (the next network_prepare allocates them on `be`).
 * 0, or -1 with a message in err (nothing changed then). */
int network_place(network *net, const dn_backend *be, char *err, size_t errlen);

/* One mapping pass over the layers (layer_ops.place): which network, which way, and
 * whether an array failed. Explicit so that two networks (or a nested pass) never share
 * a direction or a failure. */
struct place_ctx {
    network *net;
    int returning; /* 0: host -> device copies; 1: back to the host arrays */
    int failed;    /* set by place_array on a failure; the pass checks it at the end */
};

/* A pass to the device for net (network_alloc_grads places arrays made later). */
place_ctx place_ctx_to_device(network *net);
/* For layer_ops.place: replaces *field (n floats) with its copy on the side pc maps to
 * (device while placing, host while returning), creating the pair on first use. 0, or -1
 * (out of memory, or a field reaching past its array) with pc->failed set. */
int place_array(place_ctx *pc, float **field, size_t n);
/* Batch-norm state: its parameter pointers and its own statistics and scratch arrays. */
void place_bn(place_ctx *pc, bn_state *b);

/* The backend copy of a host array (a weights file entry or a pointer inside one), or
 * NULL when it was not moved. */
float *place_dev_of(const network *net, const float *host);
/* The host mirror of a backend array (a moved pointer or one inside it), or NULL. */
float *place_host_of(const network *net, const float *dev);
/* Device -> host (pull) or host -> device (push) for every pair; 0 or -1 (backend error). */
int place_pull_all(network *net);
int place_push_all(network *net);

/* The backend chosen by the environment for tests: DN_BACKEND=devsim (backend/cpu/devsim.c)
 * or NULL. */
const dn_backend *place_env_backend(void);

#endif
