/* What the detection layers ([yolo], [region]) share with the code around them: their
 * configuration (l->p of both types), so the detector's data loading (jitter, random,
 * max boxes) and box extraction (anchors, mask, classes) can read it. */
#ifndef DN_DETECT_LAYERS_H
#define DN_DETECT_LAYERS_H

#include <math.h>

#include "detect/box.h"
#include "core/layer.h"

typedef enum { NMS_DEFAULT, NMS_GREEDY, NMS_DIOU, NMS_CORNERS, NMS_KINDS } nms_kind;

/* Per forward: the figures Darknet prints for each detection layer. */
typedef struct {
    double iou, cls, obj, anyobj, recall, recall75;
    int count, class_count, cells;
} det_stats;

typedef struct {
    int n;               /* anchors used by this layer (len(mask); region: num) */
    int total;           /* anchors given (num) */
    int classes, coords, max_boxes;
    int *mask;           /* n anchor indices into biases */
    float *biases;       /* 2 * total anchor sizes: pixels (yolo) or cells (region) */
    float *class_mult;   /* counters_per_class: each class's loss weight, or NULL (yolo) */
    float jitter, random, resize;
    float ignore_thresh, truth_thresh;
    /* AlexeyAB [yolo] keys */
    float scale_x_y, iou_normalizer, obj_normalizer, cls_normalizer, iou_thresh;
    float label_smooth_eps, beta_nms, max_delta;
    iou_kind iou_loss, iou_thresh_kind;
    nms_kind nms;
    int show_details;
    int new_coords;        /* scaled-YOLOv4 boxes: the previous layer applies the logistic */
    int objectness_smooth; /* objectness targets follow the IoU (AlexeyAB) */
    int focal_loss;        /* AlexeyAB's focal loss on the class entries */
    int gaussian;          /* [Gaussian_yolo]: x, y, w, h each with an uncertainty (coords 8) */
    /* [region] keys */
    int softmax, bias_match, rescore, background;
    float coord_scale, object_scale, noobject_scale, class_scale, thresh;
    det_stats st;
} det_params;

/* AlexeyAB's focal loss factor on the class deltas of a truth whose class output is `out`:
 * alpha * g with alpha .5 and g = -(1 - pt)(2 pt ln pt + pt - 1), pt = out + 1e-15. */
static inline float det_focal_factor(float out)
{
    float pt = out + 1e-15f;
    return .5f * (-(1 - pt) * (2 * pt * logf(pt) + pt - 1));
}

/* Index of `entry` (0..coords+classes: box, objectness at coords, classes) of anchor n at
 * cell loc in sample b. */
static inline int det_entry(const layer *l, const det_params *p, int b, int n, int entry, int loc)
{
    int hw = l->w * l->h;
    return b * l->outputs + n * hw * (p->coords + 1 + p->classes) + entry * hw + loc;
}

/* Box size over the anchor for a raw w or h entry: e^t, or (2t)^2 with new_coords (t is
 * then a logistic output, so a box is at most 4 anchors wide). */
static inline double det_yolo_size(const det_params *p, float t)
{
    return p->new_coords ? 4.0 * t * t : exp(t);
}

/* Boxes above thresh in a forward output (per sample 0). Coordinates are relative to the
 * network input; box.c maps them to the image. */
int yolo_count_boxes(const layer *l, const float *out, float thresh);
int yolo_get_boxes(const layer *l, const float *out, int netw, int neth, float thresh,
                   detection *dets);
int region_get_boxes(const layer *l, const float *out, float thresh, detection *dets);

void det_print_stats(const layer *l, const det_params *p);
void det_params_free(det_params *p);
/* The loss already sits in the layer's delta (written in forward): backward only passes it
 * on to the input, as Darknet does. Shared by [yolo] and [region]. */
int det_backward(layer *l, layer_ctx *x);
void det_destroy(layer *l);

#endif
