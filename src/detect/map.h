/* Average precision of detections against ground truth, per class (mAP = their mean).
 * Detections are matched greedily in descending score order to the unmatched truth of the
 * same image with the highest IoU; IoU >= iou_thresh makes a true positive (AlexeyAB's
 * detector map). The precision/recall curve is summarised as
 *   points = 0:   area under the monotone precision envelope at every recall change (VOC2010+)
 *   points = 11:  mean of the best precision at recall >= 0, .1, ..., 1 (VOC2007)
 *   points = 101: the same at 0, .01, ..., 1 (COCO style). */
#ifndef DN_MAP_H
#define DN_MAP_H

#include "core/dn_api.h"

typedef struct {
    float score;
    int image;
    box b;
} map_det;

typedef struct {
    int image;
    box b;
} map_truth;

typedef struct {
    int tp, fp;       /* at every score */
    double ap;
} map_result;

/* AP of one class. dets are reordered (sorted by score). Returns 0, or -1 on out of memory.
 * With no truth the AP is 0. */
int map_class_ap(map_det *dets, int nd, const map_truth *truth, int nt, float iou_thresh,
                 int points, map_result *out);

#endif
