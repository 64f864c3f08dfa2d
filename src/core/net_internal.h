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
 * call for all). */
void network_run_hook(network *net, forward_hook h, const layer *l, const float *d, size_t stride,
                      int batch);

#endif
