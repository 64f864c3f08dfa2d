/* Classifier data: labels from paths and samples for the loader. */
#include "data/data_classifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int classifier_label_of(const char *path, char *const *labels, int classes, char *err, size_t errlen)
{
    int found = -1, count = 0;
    for (int j = 0; j < classes; ++j)
        if (labels[j] && strstr(path, labels[j])) {
            found = j;
            ++count;
        }
    if (count != 1) {
        snprintf(err, errlen,
                 "Too many or too few labels: %d, %s (each image path must contain exactly one "
                 "of the label names)", count, path);
        return -1;
    }
    return found;
}

int classifier_data_init(classifier_data *cd, char **paths, int n, char **labels, int classes,
                         char *err, size_t errlen)
{
    memset(cd, 0, sizeof(*cd));
    cd->paths = paths;
    cd->n = n;
    cd->labels = labels;
    cd->classes = classes;
    cd->label_of = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!cd->label_of) {
        snprintf(err, errlen, "out of memory for %d labels", n);
        return -1;
    }
    for (int i = 0; i < n; ++i)
        if ((cd->label_of[i] = classifier_label_of(paths[i], labels, classes, err, errlen)) < 0) {
            classifier_data_free(cd);
            return -1;
        }
    return 0;
}

void classifier_data_free(classifier_data *cd)
{
    free(cd->label_of);
    free(cd->mix_x);
    free(cd->mix_y);
    cd->label_of = NULL;
    cd->mix_x = cd->mix_y = NULL;
}

/* One sample: a random path, augmented, into x; its one-hot class into y (zeroed). */
static int fill_one(classifier_data *cd, rng_t *r, float *x, float *y)
{
    int i = rng_int(r, cd->n);
    char err[1024];
    image im = image_cache_load(cd->cache, cd->paths[i], cd->c, err, sizeof(err));
    if (!im.data) {
        /* A few lines say what is wrong; thousands would bury the training lines. */
        if (cd->skipped < 10) fprintf(stderr, "warning: %s; skipped\n", err);
        if (cd->skipped == 10) fprintf(stderr, "warning: more images could not be loaded (not shown)\n");
        cd->skipped++;
        return -1;
    }
    if (cd->augment) {
        crop_args a = cd->crop;
        a.w = cd->w;
        a.h = cd->h;
        image cr = image_random_crop(im, r, &a);
        free_image(im);
        im = cr;
        if (!im.data) {
            fprintf(stderr, "warning: out of memory augmenting %s; skipped\n", cd->paths[i]);
            return -1;
        }
        if (cd->flip) image_random_flip(im, r);
        image_random_distort(im, r, cd->hue, cd->saturation, cd->exposure);
    }
    int rc = image_fill(im, x, cd->w, cd->h, cd->c);
    free_image(im);
    if (rc) return -1;
    y[cd->label_of[i]] = 1;
    return 0;
}

void classifier_begin_batch(void *user, rng_t *r)
{
    classifier_data *cd = user;
    cd->batch_mix = cd->cutmix && rng_int(r, 2);
}

/* The second sample of a cut-mixed one, pasted into x; truths mixed by area. */
static int cutmix_into(classifier_data *cd, rng_t *r, float *x, float *y)
{
    size_t nx = (size_t)cd->w * cd->h * cd->c;
    if (!cd->mix_x) cd->mix_x = malloc(sizeof(float) * nx);
    if (!cd->mix_y) cd->mix_y = malloc(sizeof(float) * (size_t)(cd->classes > 0 ? cd->classes : 1));
    if (!cd->mix_x || !cd->mix_y) {
        fprintf(stderr, "warning: out of memory for cutmix; sample skipped\n");
        return -1;
    }
    memset(cd->mix_y, 0, sizeof(float) * (size_t)cd->classes);
    if (fill_one(cd, r, cd->mix_x, cd->mix_y)) return -1;
    cut_rect c = image_cutmix_rect(r, cd->w, cd->h);
    image_paste_rect(x, cd->mix_x, cd->w, cd->h, cd->c, c);
    float a = (float)c.w * c.h / ((float)cd->w * cd->h);
    for (int k = 0; k < cd->classes; ++k) y[k] = y[k] * (1 - a) + cd->mix_y[k] * a;
    return 0;
}

int classifier_fill(void *user, rng_t *r, float *x, float *y)
{
    classifier_data *cd = user;
    if (fill_one(cd, r, x, y)) return -1;
    return cd->batch_mix ? cutmix_into(cd, r, x, y) : 0;
}

int classifier_load(const classifier_data *cd, int i, float *x, char *err, size_t errlen)
{
    image im = image_load_ex(cd->paths[i], cd->c, err, errlen);
    if (!im.data) return -1;
    int rc = image_fill(im, x, cd->w, cd->h, cd->c);
    free_image(im);
    if (rc) snprintf(err, errlen, "out of memory resizing %s", cd->paths[i]);
    return rc;
}
