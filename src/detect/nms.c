/* Non-maximum suppression over detections (pjreddie's do_nms_sort / do_nms_obj): boxes
 * with no objectness go to the end, then per class (or by objectness) the boxes are sorted
 * best first and every later box overlapping a kept one by more than thresh is zeroed. */
#include <math.h>
#include <stdlib.h>

#include "detect/box.h"

static int by_score(const void *pa, const void *pb)
{
    const detection *a = pa, *b = pb;
    float diff = b->sort_class >= 0 ? a->prob[b->sort_class] - b->prob[b->sort_class]
                                    : a->objectness - b->objectness;
    return diff < 0 ? 1 : (diff > 0 ? -1 : 0);
}

/* Moves detections with objectness 0 to the end; returns how many remain in front. */
static int drop_empty(detection *dets, int total)
{
    int k = total - 1;
    for (int i = 0; i <= k; ++i)
        if (dets[i].objectness == 0) {
            detection t = dets[i];
            dets[i] = dets[k];
            dets[k] = t;
            --k;
            --i;
        }
    return k + 1;
}

void do_nms_sort(detection *dets, int total, int classes, float thresh)
{
    total = drop_empty(dets, total);
    for (int k = 0; k < classes; ++k) {
        for (int i = 0; i < total; ++i) dets[i].sort_class = k;
        qsort(dets, (size_t)total, sizeof(detection), by_score);
        for (int i = 0; i < total; ++i) {
            if (dets[i].prob[k] == 0) continue;
            for (int j = i + 1; j < total; ++j)
                if (box_iou(dets[i].bbox, dets[j].bbox) > thresh) dets[j].prob[k] = 0;
        }
    }
}

void do_nms_obj(detection *dets, int total, int classes, float thresh)
{
    total = drop_empty(dets, total);
    for (int i = 0; i < total; ++i) dets[i].sort_class = -1;
    qsort(dets, (size_t)total, sizeof(detection), by_score);
    for (int i = 0; i < total; ++i) {
        if (dets[i].objectness == 0) continue;
        for (int j = i + 1; j < total; ++j)
            if (box_iou(dets[i].bbox, dets[j].bbox) > thresh) {
                dets[j].objectness = 0;
                for (int k = 0; k < classes; ++k) dets[j].prob[k] = 0;
            }
    }
}

/* AlexeyAB's DIoU-NMS: a box is suppressed when IoU - (d^2 / c^2)^beta exceeds thresh
 * (d: centre distance, c: diagonal of the enclosing box), so boxes with distant centres
 * (neighbouring objects) survive more often than with plain IoU. */
static float diou_nms_score(box a, box b, float beta)
{
    float l = fminf(a.x - a.w / 2, b.x - b.w / 2), r = fmaxf(a.x + a.w / 2, b.x + b.w / 2);
    float t = fminf(a.y - a.h / 2, b.y - b.h / 2), bt = fmaxf(a.y + a.h / 2, b.y + b.h / 2);
    float c = (r - l) * (r - l) + (bt - t) * (bt - t);
    float d = (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
    return box_iou(a, b) - (c > 0 ? powf(d / c, beta) : 0);
}

void do_nms_diou(detection *dets, int total, int classes, float thresh, float beta)
{
    total = drop_empty(dets, total);
    for (int k = 0; k < classes; ++k) {
        for (int i = 0; i < total; ++i) dets[i].sort_class = k;
        qsort(dets, (size_t)total, sizeof(detection), by_score);
        for (int i = 0; i < total; ++i) {
            if (dets[i].prob[k] == 0) continue;
            for (int j = i + 1; j < total; ++j)
                if (diou_nms_score(dets[i].bbox, dets[j].bbox, beta) > thresh) dets[j].prob[k] = 0;
        }
    }
}
