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
    int cutmix;      /* AlexeyAB's cutmix=1: one mini-batch in two is cut-mixed */
    unsigned long skipped; /* images that could not be loaded (loader thread only) */
    image_cache *cache;    /* decoded images kept between epochs (NULL: decode every time) */
    /* loader thread only: whether this mini-batch mixes, and the second sample's buffers */
    int batch_mix;
    float *mix_x, *mix_y;
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
 * An unreadable image prints a warning and returns -1 so the loader draws another.
 * In a cut-mixed mini-batch (cd->cutmix, classifier_begin_batch) a second random sample,
 * augmented the same way, is drawn next from the same rng; the rectangle
 * image_cutmix_rect of it replaces the first's pixels (every channel), and the truth
 * becomes y1 (1 - a) + y2 a with a the rectangle's share of the w x h input (AlexeyAB's
 * load_data_augment). */
int classifier_fill(void *user, rng_t *r, float *x, float *y);

/* loader_begin_fn: with cutmix on, one mini-batch in two (a draw from the batch's rng) is
 * cut-mixed, as in AlexeyAB's loader. */
void classifier_begin_batch(void *user, rng_t *r);

/* Sample i without augmentation (resized to the network input) for validation; returns 0
 * or -1 with err set. */
int classifier_load(const classifier_data *cd, int i, float *x, char *err, size_t errlen);

#endif
