/* Optimizer state beside a weights file (<weights>.state), so a resumed run continues
 * with the same SGD momentum (or adam moments) as an uninterrupted one.
 *
 * Format, native byte order like .weights files:
 *   char magic[4] "DNOS"; uint32 version (2); uint64 seen; uint64 iteration;
 *   int32 adam_t; int32 adam (0: SGD, 1: adam); uint64 nfloats;
 *   version 2 only: float best_map (detector train -map's best mAP@0.5); uint32 zero;
 *   then nfloats floats: for every layer in cfg order, every parameter in registration
 *   order: its gradient/momentum buffer, followed with adam by m and v.
 * `seen` must equal the weights file's, so a state file left from another checkpoint is
 * never paired with the wrong weights. */
#ifndef DN_TRAIN_STATE_H
#define DN_TRAIN_STATE_H

#include <stddef.h>

#include "core/network.h"

/* "<weights>.state" into out. */
void train_state_path(const char *weights, char *out, size_t n);
/* Writes the state atomically. 0, or -1 with err set. */
int train_state_save(network *net, const char *path, char *err, size_t errlen);
/* Loads the state (version 1 or 2; version 1 has no best mAP: 0) when it matches the network and its loaded weights: returns 0.
 * Returns 1 when there is no file (nothing to say), -1 when the file does not match or is
 * damaged: err says why and the momentum is zero (training can go on). */
int train_state_load(network *net, const char *path, char *err, size_t errlen);

#endif
