/* Per-layer wall time of training or inference passes: `-benchmark_layers` (AlexeyAB's
 * flag) on `detector train|test|map|valid` and `classifier train|predict|valid`. Owns
 * net->ltimes and net->ltimes_* only; it reads the layer list and never changes what a
 * pass computes.
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
/* Stops timing and drops what was measured (a network that serves another: training's
 * -map evaluations must not print a table each time). */
void layer_times_disable(network *net);
/* Monotonic seconds. */
double layer_times_now(void);
/* Called by network_forward as a pass starts. The first two training iterations
 * (allocation, thread start) are not counted; every inference pass is, so that `detector
 * test` on one image has a table. */
void layer_times_begin_pass(network *net, int train);
/* Adds `s` seconds to layer i's forward (bwd = 0) or backward (bwd = 1) time when the
 * current pass is counted. */
void layer_times_add(network *net, int i, int bwd, double s);
/* The table: per layer forward and backward ms per pass, share of the total, and the
 * layer types' totals. Nothing when timing is off or no pass was counted. */
void layer_times_print(const network *net, FILE *f);

#endif
