/* Per-layer wall time of training passes: `-benchmark_layers` (AlexeyAB's flag) on
 * `detector train` and `classifier train`. Owns net->ltimes only; it reads the layer list
 * and never changes what a pass computes.
 *
 * Why wall time and not CPU time: the passes run OpenMP and BLAS threads, and what a
 * user wants to know is where an iteration's seconds go. A streamed segment (stream.h)
 * runs its layers interleaved in chunks, so its time is one row, under its first layer. */
#ifndef DN_LAYER_TIMES_H
#define DN_LAYER_TIMES_H

#include <stdio.h>

#include "core/dn_names.h"

typedef struct network network;

/* Starts timing; 0, or -1 when out of memory. */
int layer_times_enable(network *net);
/* Monotonic seconds. */
double layer_times_now(void);
/* Adds `s` seconds to layer i's forward (bwd = 0) or backward (bwd = 1) time. The
 * first two training iterations (allocation, thread start) are not counted. */
void layer_times_add(network *net, int i, int bwd, double s);
/* The table: per layer forward and backward ms per iteration, share of the total, and the
 * layer types' totals. Nothing when timing is off or no iteration was counted. */
void layer_times_print(const network *net, FILE *f);

#endif
