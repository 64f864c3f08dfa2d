/* The inner step both `classifier train` and `detector train` run. */
#ifndef DN_CLI_TRAIN_LOOP_H
#define DN_CLI_TRAIN_LOOP_H

#include <stddef.h>

#include "data/loader.h"
#include "core/network.h"

/* Monotonic seconds, for the per-iteration timing of the training line. */
double cli_now_s(void);
/* One iteration = `subdivisions` mini-batches from the loader, trained in place; *loss is
 * the loss per image as Darknet reports it. 0, or -1 with a message in err. */
int cli_train_iteration(network *net, loader *ld, float *loss, char *err, size_t errlen);

#endif
