/* Decoded training images kept in memory between epochs (issue 20, item 4: the loader
 * must not steal the compute cores). Decoding a PNG or JPEG is the largest single part of
 * a detector sample's loading (~40% of the loader's CPU at 416 px); a small data set read
 * for many epochs decodes every file again each time. The cache keeps each file's decoded
 * pixels (8 bits per value when the decoder's floats are exactly q/255, as stb's are;
 * else the floats) up to a byte bound, and hands out fresh copies bit-identical to what
 * image_load_ex returns, so training is the same with the cache on or off.
 *
 * Policy: fill until the bound, never evict. Samples are drawn uniformly with replacement,
 * so any policy holding the same bytes has the same hit rate; not evicting costs nothing
 * per miss and never decodes a file twice while it fits.
 * Owns: its table and copies of decoded pixels. May not touch: augmentation (callers
 * transform the copies), the loader's threads (a mutex makes calls from any thread safe).
 * The bound is [net] image_cache_mb (network.h); the memory plan counts it with the
 * loader (memreport.c). */
#ifndef DN_IMAGE_CACHE_H
#define DN_IMAGE_CACHE_H

#include <stddef.h>
#include <stdio.h>

#include "data/image.h"

typedef struct image_cache image_cache;

/* A cache holding at most max_bytes (pixels, paths and table); NULL when max_bytes is 0
 * or on out of memory (then loads simply decode: a NULL cache is valid everywhere). */
image_cache *image_cache_new(size_t max_bytes);
void image_cache_free(image_cache *c);
/* image_load_ex(path, ch, err, errlen) through the cache: a new image the caller frees,
 * with the same bits a decode gives. Failures are not cached (a file may appear later). */
image image_cache_load(image_cache *c, const char *path, int ch, char *err, size_t errlen);

typedef struct {
    size_t hits, misses;  /* loads served from memory / decoded */
    size_t images, bytes; /* held now */
    size_t max_bytes;
    size_t full;          /* decoded images not kept because the bound was reached */
} image_cache_stats;
void image_cache_get_stats(image_cache *c, image_cache_stats *s);
/* One line for the end of training: "image cache: ..." (nothing for a NULL cache). */
void image_cache_report(image_cache *c, FILE *f);

#endif
