/* Finding where NaN or inf first appeared in training.
 *
 * A watch hooks every layer's forward output and backward delta (network.h hooks) and
 * records the first non-finite value with its layer and phase; once something is found
 * it stops scanning, so a healthy run pays one read of each buffer per iteration (an
 * integer max over the exponent bits, which the compiler vectorizes). On a device the
 * buffers are not pulled for this: the backend marks a flag per layer and phase
 * (nonfinite_mark) and finite_check_iteration pulls the flags once an iteration. */
#ifndef DN_FINITE_CHECK_H
#define DN_FINITE_CHECK_H

#include <stddef.h>

#include "core/network.h"

typedef struct {
    int layer;          /* first layer with a non-finite value, -1 when none */
    const char *phase;  /* "output (forward)" or "delta (backward)" */
} finite_watch;

/* Index of the first non-finite value of a[0..n), or n when all are finite. */
size_t finite_first_bad(const float *a, size_t n);
/* Installs the hooks on net (replacing any) with w as their state. */
void finite_watch_attach(network *net, finite_watch *w);
/* First layer whose saved arrays (weights file entries) hold a non-finite value, or -1.
 * On a device the arrays are scanned there (backend nonfinite_mark) and only the marks come
 * back; without that op the host mirrors are pulled first. */
int finite_check_weights(const network *net);
/* Once an iteration, after its update: finite_check_weights, and on a device also the
 * watch's marks of this iteration's outputs and deltas into w (the hooks' finding on the
 * CPU), which clears them. */
int finite_check_iteration(network *net, finite_watch *w);

#endif
