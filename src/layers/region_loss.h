/* The [region] training loss (pjreddie's forward_region_layer, coords=4, no tree). */
#ifndef DN_REGION_LOSS_H
#define DN_REGION_LOSS_H

#include "detect/detect_layers.h"

/* Writes x->delta (already zeroed) from x->out and x->truth; fills p->st; returns the cost. */
float region_loss(const layer *l, det_params *p, layer_ctx *x);

#endif
