/* Background data loading (Darknet's loader thread, made deterministic).
 *
 * A loader fills mini-batches on its own thread while the network trains on the previous
 * one. It holds one mini-batch (the one handed to the trainer) and a prefetch buffer of at
 * most loader_prefetch() samples: the first samples of the next mini-batch are filled
 * while the trainer works, the rest once it gives its batch back. A whole second
 * mini-batch would cost as much again as the input (2 MiB per 416x416 image), which at
 * 2-bit ActNN is a fifth of all training memory per image. What a sample is comes from the caller: `fill` writes one
 * sample's input (x_floats) and truth (y_floats) and returns 0, or -1 to have the loader
 * draw another sample (a warning was printed and the caller counts skipped files).
 * Sample j of mini-batch k gets its own rng seeded from (seed, k, j), so a run repeats
 * exactly whatever the thread timing, and a loader can fill any slice of a batch: data-
 * parallel ranks (src/dist) each load samples [sample0, sample0 + batch) of the global
 * mini-batch and together see exactly the images one process would. */
#ifndef DN_LOADER_H
#define DN_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/rng.h"

typedef int (*loader_fill_fn)(void *user, rng_t *r, float *x, float *y);
/* Called before the first sample of each batch with that batch's rng (decisions taken for
 * a whole batch, like AlexeyAB's mosaic); may be NULL. */
typedef void (*loader_begin_fn)(void *user, rng_t *r);

typedef struct loader loader;

/* Bytes of samples filled ahead of time (memory reports count the same bound). */
#define LOADER_PREFETCH_MIB 64
/* Samples prefetched for a mini-batch of `batch` samples of `sample_floats` floats each:
 * as many as fit LOADER_PREFETCH_MIB, at least 1, at most the mini-batch. */
int loader_prefetch(int batch, size_t sample_floats);

/* Starts the thread; the first batch is batch index `first` (resume continues the stream).
 * Returns NULL with a message in err on failure. */
loader *loader_start(int batch, size_t x_floats, size_t y_floats, loader_fill_fn fill,
                     void *user, uint64_t seed, uint64_t first, char *err, size_t errlen);
/* The same for the slice of every mini-batch that starts at sample `sample0`. */
loader *loader_start_at(int batch, int sample0, size_t x_floats, size_t y_floats,
                        loader_fill_fn fill, void *user, uint64_t seed, uint64_t first, char *err,
                        size_t errlen);
/* The same with a per-batch begin function (called with an rng of the batch alone, the
 * same in every rank, before the slice's first sample). */
loader *loader_start_ex(int batch, int sample0, size_t x_floats, size_t y_floats,
                        loader_fill_fn fill, loader_begin_fn begin, void *user, uint64_t seed,
                        uint64_t first, char *err, size_t errlen);
/* loader_start with `prefetch` samples filled ahead (1..batch; 0: loader_prefetch()).
 * What a batch holds does not depend on it. */
loader *loader_start_prefetch(int batch, size_t x_floats, size_t y_floats, loader_fill_fn fill,
                              void *user, uint64_t seed, uint64_t first, int prefetch, char *err,
                              size_t errlen);
/* Blocks for the next batch; the buffers stay valid until the next call or loader_stop.
 * Returns 0, or -1 when filling failed for good (message in err). */
int loader_next(loader *ld, float **x, float **y, char *err, size_t errlen);
/* One line: batches filled, wall and CPU seconds per batch on the loader's thread, and how
 * long the trainer waited for batches (scripts/bench_peak.sh reads it: the loader's share
 * of the cores, and whether it is on the critical path). */
void loader_report(loader *ld, FILE *f);
void loader_stop(loader *ld);
/* The trainer no longer needs samples [0, upto) of the batch it holds (its input is dead
 * after its last reader's forward, network_input_dead; a streamed reader finishes it chunk
 * by chunk): their pages go back to the system now, and the loader fills them again only
 * after the next loader_next. Calls for one batch come with growing upto. For
 * network->input_done. */
void loader_discard(void *ld, int upto);

#endif
