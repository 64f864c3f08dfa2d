/* Detection samples: an image and its YOLO label file (`class x y w h` per line, relative
 * to the image), packed as truth [x, y, w, h, class] x max_boxes (zeros after the last box).
 * Two augmentation schemes:
 *  - pjreddie's load_data_detection (random aspect and scale jitter with the image placed
 *    on a grey canvas, HSV distortion, flip): cfgs without AlexeyAB's keys, unchanged;
 *  - AlexeyAB's (data_mosaic.c), as soon as a cfg sets mosaic, mixup, blur,
 *    gaussian_noise, letter_box or a [yolo] resize other than 1: a crop window jittered
 *    by +-jitter of each side and scaled by resize=, padded with the image's mean colour,
 *    flip, HSV, blur, noise, then per mini-batch (one draw in two) mosaic or mixup. */
#ifndef DN_DATA_DETECTOR_H
#define DN_DATA_DETECTOR_H

#include <stddef.h>

#include "data/image.h"
#include "data/image_cache.h"
#include "core/rng.h"

typedef struct {
    float x, y, w, h;
    int id;
} label_box;

typedef struct {
    char **paths;
    int n;
    int classes;
    int w, h, c;          /* network input */
    int max_boxes;        /* truth floats per sample / 5 */
    int augment;          /* training: jitter, distortion, flip */
    float jitter, hue, saturation, exposure;
    int flip, letter_box;
    /* AlexeyAB's keys (network.h numbering of mixup; resize from the last [yolo]) */
    int mixup, mosaic_bound, blur, gaussian_noise;
    float resize;
    int batch_mix;        /* this mini-batch mixes (mosaic/mixup): loader thread only */
    image_cache *cache;   /* decoded images kept between epochs (NULL: decode every time) */
    /* counters, written by the loader thread only */
    unsigned long skipped;     /* unreadable images */
    unsigned long no_labels;   /* images without a label file (used without boxes) */
    unsigned long bad_labels;  /* label lines dropped (malformed, class out of range, no area) */
    unsigned long warnings;    /* printed so far (the rest are only counted) */
} detector_data;

/* The label file of an image, the first that exists of: the same name with .txt next to it;
 * AlexeyAB's rule (/JPEGImages/ -> /labels/, /images/train2017/ -> /labels/train2017/ and
 * COCO's other folders); the last /images/ folder -> /labels/; pjreddie's rule ("images",
 * "JPEGImages", "raw" -> "labels", each its first occurrence). The extension becomes
 * ".txt". Writes the chosen path (the one beside the image when none exists); returns 1
 * when it exists, 0 when not. */
int detector_label_path(const char *img, char *out, size_t n);

/* Reads a label file. Malformed lines, class ids outside [0, classes) and boxes without
 * area are dropped with a warning naming file and line (counted in *bad). Returns the
 * number of boxes in *out (malloc'd), or -1 when the file is missing or cannot be read (the
 * latter, e.g. a folder, said on stderr when warn is set). A leading byte order mark is
 * skipped. */
int detector_read_labels(const char *path, int classes, label_box **out, unsigned long *bad,
                         int warn);

/* Maps boxes into the augmented canvas (scale sx, sy, then offset dx, dy, all relative,
 * and an optional horizontal flip), clips them to the image and packs those with w and h
 * >= .001 into truth (max boxes, zeros after). Returns the number packed. */
int detector_pack_truth(label_box *b, int n, float dx, float dy, float sx, float sy, int flip,
                        float *truth, int max);

/* loader_fill_fn: a random image of the list (with replacement, as Darknet), augmented. */
int detector_fill(void *user, rng_t *r, float *x, float *y);
/* loader_begin_fn: AlexeyAB mixes (mosaic or mixup) a whole mini-batch or none of it, one
 * draw in two; no draw when the cfg has neither (the pjreddie stream stays as it was). */
void detector_begin_batch(void *user, rng_t *r);

/* 1 when the cfg asks for AlexeyAB's augmentation (see the top of this file). */
int detector_uses_alexey(const detector_data *dd);
/* AlexeyAB's sample (data_mosaic.c): one jittered image, a mosaic of four or a mixup of two
 * as the batch draw says. 0, or -1 when an image could not be read (counted). */
int detector_fill_alexey(detector_data *dd, rng_t *r, float *x, float *y);

/* Pieces shared by data_detector.c and data_mosaic.c. */
int detector_want_warning(detector_data *dd);
/* The shuffled label boxes of an image (AlexeyAB and pjreddie shuffle before packing);
 * count in *n (0 without a label file, counted and warned). */
label_box *detector_image_labels(detector_data *dd, const char *img, rng_t *r, int *n);

/* Image i as the network input for valid/map: letterboxed when `letter`, else stretched
 * to the network size (AlexeyAB's default); its size in *iw, *ih. Returns 0 or -1 with
 * err set. */
int detector_load_eval(const detector_data *dd, int i, int letter, float *x, int *iw, int *ih,
                       char *err, size_t errlen);

#endif
