/* Network construction helpers shared by parser.c, network.c and weights.c. */
#ifndef DN_NET_INTERNAL_H
#define DN_NET_INTERNAL_H

#include <stdio.h>

#include "core/network.h"

network *network_alloc(int max_layers, const char *cfgfile);
/* Allocates net->input and net->truth for the current batch. */
int network_alloc_io(network *net, char *err, size_t errlen);
/* The context of layer i's whole-batch call, buffers from the current plan. */
void network_make_ctx(network *net, int i, const float *input, int train, layer_ctx *x);
/* Calls hook h with batch samples of layer l's values, `stride` floats apart (packed: one
 * call for all). On a device with net->nan_marks, marks them instead (network.h). */
void network_run_hook(network *net, forward_hook h, const layer *l, const float *d, size_t stride,
                      int batch);
/* The backend's check after layer i's forward (fwd) or backward call (backend.h
 * sync_check; nothing when it has none): -1 with net->err set when it reports a failure. */
int network_sync_check(network *net, int i, int fwd);

/* The NaN marks of a device run (network.h nan_flags): 3 * net->n floats in backend
 * memory, zeroed when first made; NULL when the backend has no nonfinite_mark or no
 * memory. */
float *network_nan_flags(network *net);

#endif
