/* Zero-copy [route] concatenation. A [route] that only concatenates (no groups) would copy
 * each source's output into its own buffer in forward and add its delta back in backward;
 * at 416x416 these copies are what sets yolov4-tiny's arena peak (layer 8: 104x104x128 =
 * 2 x 104x104x64 sources + the copy). Instead the plan can place a source's output and
 * delta inside the route's buffers: sample b of source k lives at
 *   route buffer + b * route->outputs + (outputs of the sources before k),
 * i.e. the source writes with a sample stride of route->outputs, the route skips it.
 *
 * A source is placed so when it is a [convolutional] (which handles strides) whose readers
 * all handle strides (convolutional, route), that is not the network output, a loss layer
 * or already placed in another route, and not part of a streamed pair (stream.h). Off with
 * forward hooks (they expect packed outputs) and with `actnn_concat=0` in [net]. The numbers are bit for bit those of the copying route (tests/test_concat.c).
 *
 * A [route] with one source (yolov4-tiny's `groups=2 group_id=1` halves, or a plain copy)
 * becomes a view: its output and delta are that slice of the source's buffers, with the
 * source's stride, when all its readers handle strides. So parent[i] is the layer whose
 * buffers hold layer i's: a route for a concatenated source (parent > i), the source for
 * a view (parent < i); chains (a view of a concatenated source) resolve transitively. */
#ifndef DN_CONCAT_H
#define DN_CONCAT_H

#include "core/dn_names.h"

#include <stddef.h>

#include "memory/plan.h"

typedef struct network network;

/* Fills p->parent (the holder's index or -1), p->sub (float offset in the holder's sample) and
 * p->stride (floats between samples of each layer's output and delta). */
void concat_select(const network *net, mem_plan *p);

#endif
