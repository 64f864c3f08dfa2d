/* Parameter updates: Darknet's SGD rule (momentum, decay, accumulated gradients) and adam,
 * applied to every registered param of every layer. */
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
int param_alloc_grad(param *p, int adam);
void param_free(param *p);

#endif
