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

/* AlexeyAB's counts at a confidence threshold (detector map's "for conf_thresh" lines and
 * the per-class TP/FP), added up over images by map_count_conf. */
typedef struct {
    int *tp, *fp;           /* per class, `classes` entries each (the caller's arrays) */
    int tp_all, fp_all;
    int truths;             /* every truth box seen */
    double iou_sum;         /* IoU of every true positive */
} map_conf_counts;

typedef struct {
    box b;
    int id;                 /* class */
} map_label;

/* One image: its n detections (the order the AP pass sees them: box by box, class by class)
 * against its nt labels. A detection (score > 0 for a class) claims the label of that class
 * with the highest IoU above iou_thresh; when its score is above conf it is a true positive
 * if it found one that no earlier detection of the image claimed (whatever that one's
 * score), adding its IoU, else a false positive. Returns 0, or -1 on out of memory (nothing
 * counted). */
int map_count_conf(map_conf_counts *cc, const detection *d, int n, int classes, const map_label *t,
                   int nt, float iou_thresh, float conf);

/* AlexeyAB's difficult= (VOC): a detection of class c that matches no label of class c
 * with IoU above iou_thresh but matches a difficult box of class c so (the boxes of the
 * difficult list's label file for the same image) is left out of the AP, as if never made.
 * 1 when b is such a detection. */
int map_is_difficult(box b, int c, const map_label *t, int nt, const map_label *dif, int ndif,
                     float iou_thresh);

#endif
