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
/* Every layer's forward output and final backward delta, captured by hooks that take any
 * layout (network.h hook_any_layout): streamed chunks and strided samples arrive in sample
 * order and are appended, so capturing leaves the plan as it is without hooks. A layer's
 * buffer restarts when a new pass begins (it was full). */
typedef struct {
    int n;
    float **out, **delta;
    size_t *nout, *ndelta; /* floats captured so far in the current pass */
    size_t *cap;           /* batch * outputs per layer */
} tu_capture;
void tu_capture_on(tu_capture *c, network *net);
void tu_capture_free(tu_capture *c);
/* The plan `detector train` runs on large inputs, forced onto a small test network:
 * streamed pairs on for every bit width with chunks of `chunk` samples (actnn_stream=1)
 * and zero-copy routes on. Prepares the plan for train and returns the number of streamed
 * pairs; *views gets the number of layers whose buffers live in another's (zero-copy). */
int tu_production_plan(network *net, int train, int chunk, int *views);
/* The temporary directory all helpers write into (created once). */
const char *tu_tmpdir(void);

#endif
