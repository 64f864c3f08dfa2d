/* Classifier samples the Darknet way: an image's class is the one label name that occurs
 * (strstr) in its path; the truth is one-hot. */
#ifndef DN_DATA_CLASSIFIER_H
#define DN_DATA_CLASSIFIER_H

#include <stddef.h>

#include "data/image.h"
#include "data/image_cache.h"
#include "core/rng.h"

typedef struct {
    char **paths;
    int n;
    char **labels;
    int classes;
    int *label_of;   /* class of each path, found once up front */
    int w, h, c;     /* network input */
    int augment;     /* training: random crop, flip and HSV distortion */
    crop_args crop;
    int flip;
    float hue, saturation, exposure;
    unsigned long skipped; /* images that could not be loaded (loader thread only) */
    image_cache *cache;    /* decoded images kept between epochs (NULL: decode every time) */
} classifier_data;

/* The class whose label occurs in path, or -1 with Darknet's message
 * "Too many or too few labels: N, <path>" in err. */
int classifier_label_of(const char *path, char *const *labels, int classes, char *err, size_t errlen);

/* Finds the label of every path; fails on the first path with 0 or several labels. The
 * arrays are borrowed, not copied. */
int classifier_data_init(classifier_data *cd, char **paths, int n, char **labels, int classes,
                         char *err, size_t errlen);
void classifier_data_free(classifier_data *cd);

/* loader_fill_fn: a random path (with replacement, as Darknet), augmented when cd->augment.
 * An unreadable image prints a warning and returns -1 so the loader draws another. */
int classifier_fill(void *user, rng_t *r, float *x, float *y);

/* Sample i without augmentation (resized to the network input) for validation; returns 0
 * or -1 with err set. */
int classifier_load(const classifier_data *cd, int i, float *x, char *err, size_t errlen);

#endif
