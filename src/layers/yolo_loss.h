/* The [yolo] training loss (pjreddie's forward_yolo_layer with AlexeyAB's options). */
#ifndef DN_YOLO_LOSS_H
#define DN_YOLO_LOSS_H

#include "detect/detect_layers.h"

/* Writes x->delta (already zeroed) from x->out and x->truth; fills p->st; returns the cost. */
float yolo_loss(const layer *l, det_params *p, layer_ctx *x);

#endif
