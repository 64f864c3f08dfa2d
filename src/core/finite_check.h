/* Finding where NaN or inf first appeared in training.
 *
 * A watch hooks every layer's forward output and backward delta (network.h hooks) and
 * records the first non-finite value with its layer and phase; once something is found
 * it stops scanning, so a healthy run pays one read of each buffer per iteration (an
 * integer max over the exponent bits, which the compiler vectorizes). */
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
/* First layer whose saved arrays (weights file entries) hold a non-finite value, or -1. */
int finite_check_weights(const network *net);

#endif
