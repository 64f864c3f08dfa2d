/* Shared helpers for the cmocka tests. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/network.h"

/* Writes text to a fresh temporary file and returns its path (static buffer per call slot). */
const char *tu_write_temp(const char *name, const char *text);
/* Parses cfg text; fails the test with the error message when it does not parse. */
network *tu_net_from_text(const char *cfg_text, int batch);
/* Parses cfg text expecting failure; returns the error message (static buffer). */
const char *tu_net_error(const char *cfg_text);
/* Fills x with uniform values in [lo, hi) from a fixed seed. */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);
/* max |a-b| / max(max |b|, floor) */
double tu_rel_err(const float *a, const float *b, size_t n, double floor);
/* Floats in all parameter gradients of net. */
size_t tu_grad_count(const network *net);
/* One training forward + backward from zeroed gradients on net->input/net->truth: copies
 * every gradient (in layer and parameter order) into g, the output into out when not
 * NULL, and returns the cost; fails the test when a pass fails. */
float tu_train_step(network *net, float *g, float *out);
/* The temporary directory all helpers write into (created once). */
const char *tu_tmpdir(void);

#endif
