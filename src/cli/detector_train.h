/* `detector train` options beyond Darknet's positional arguments, and -map during
 * training (AlexeyAB's schedule and _best.weights). Used by detector.c only. */
#ifndef DN_CLI_DETECTOR_TRAIN_H
#define DN_CLI_DETECTOR_TRAIN_H

#include <stddef.h>

#include "cli/detector_cli.h"
#include "cli/train_ckpt.h"
#include "core/network.h"

typedef struct {
    int map;                 /* -map: mAP on valid= during training */
    int map_epochs;          /* -mAP_epochs (AlexeyAB's, default 4) */
    const char *chart;       /* -chart <file>: the second chart file's name */
    det_eval_opts eval;      /* -iou_thresh, -thresh, -letter_box as `detector map` reads them;
                              * the area under the curve always (AlexeyAB's training) */
} train_opts;

typedef struct {
    int on;
    const char *datafile, *cfg;
    det_eval_opts eval;
    int every;               /* iterations between two mAPs */
    size_t next;             /* iteration of the next mAP */
    float last;              /* the last mAP (-1: none yet) */
} train_map;

/* AlexeyAB's rule: every max(map_epochs epochs, 100) iterations, not before burn_in, and
 * at the last iteration. DN_MAP_EVERY=<n> in the environment replaces the interval (tests
 * keep runs short). The first mAP comes one interval after `start` (a resume's iteration). */
void train_map_init(train_map *m, const network *net, const train_opts *o, const char *datafile,
                    const char *cfg, int ntrain, size_t start);
/* AlexeyAB's lines printed before a training line: the next mAP and the last and best. */
void train_map_print(const train_map *m, const network *net);
/* After iteration `it`: when due, the mAP of the current weights on valid= (printed per
 * class), and <base>_best.weights written atomically when it is at least the best so far
 * (net->best_map, kept in the train state). Returns 1 when a mAP was computed, 0 when not
 * due, -1 on a failure to save. */
int train_map_step(train_map *m, train_ckpt *ck, size_t it);

int detector_train_ex(const char *datafile, const char *cfg, const char *weights, int clear,
                      const train_opts *opts);

#endif
