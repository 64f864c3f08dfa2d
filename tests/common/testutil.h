/* Shared helpers for the cmocka tests. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "network.h"

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
/* The temporary directory all helpers write into (created once). */
const char *tu_tmpdir(void);

#endif
