/* Parameter updates: Darknet's SGD rule (momentum, decay, accumulated gradients) and adam,
 * applied to every registered param of every layer; and where the gradients live.
 * May not touch: the layers' arithmetic, the network's plan or arena, MPI. */
#ifndef DN_PARAMS_H
#define DN_PARAMS_H

#include "core/layer.h"

typedef struct {
    const dn_backend *be; /* the backend holding the parameters */
    int batch;            /* batch * subdivisions: gradients are sums over this many images */
    float learning_rate;  /* already multiplied by the layer's learning_rate scale */
    float momentum, decay;
    int adam;
    float B1, B2, eps;
    int t;
} update_args;

/* Darknet SGD, in this order: g -= decay*batch*w (decayed params only); w += lr/batch * g;
 * g *= momentum. adam: pjreddie's GPU rule (decay into g, moments, bias-corrected step,
 * g zeroed). */
void param_update(param *p, const update_args *a);
/* The gradients of every param of layers[0..n) in ONE zeroed block (`*floats` floats, free
 * with free(); the network owns it, params only point into it), laid out in backward
 * order: layer n-1's params first (param 0, 1, ... of a layer in turn), layer 0's last,
 * packed with no gap. Why: data-parallel training (src/dist/grad_sync.c) all-reduces
 * the gradients of consecutive layers as one range of memory, in place, as soon as
 * backward has passed them; with this layout a bucket is one range and nothing is copied.
 * With adam=1 each param also gets its moments m, v (apart, zeroed). Called once per
 * network (network_alloc_grads). NULL on out of memory. */
float *params_alloc_grads(layer *layers, int n, int adam, size_t *floats);
/* Frees w, m and v (the gradient belongs to the block above) and clears p. */
void param_free(param *p);

#endif
