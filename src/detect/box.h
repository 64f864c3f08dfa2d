/* Boxes: IoU and its GIoU / DIoU / CIoU variants with exact gradients, non-maximum
 * suppression, and the detections of a network's [yolo] / [region] layers.
 *
 * Boxes are centre + size (`box` from darknet.h), relative to the image. The gradient
 * functions work in double so the IoU-family losses can be checked against finite
 * differences; the layers use them to push predicted boxes towards the truth. */
#ifndef DN_BOX_H
#define DN_BOX_H

#include "core/dn_api.h"

typedef enum { IOU_MSE, IOU_IOU, IOU_GIOU, IOU_DIOU, IOU_CIOU, IOU_KINDS } iou_kind;

typedef struct {
    double x, y, w, h;
} dbox;

/* The IoU-family value of prediction a against truth b (IOU_MSE is treated as IOU_IOU).
 * When grad is not NULL it receives d value / d (a.x, a.y, a.w, a.h). Degenerate boxes
 * (w or h <= 0) give value 0 and a zero gradient. */
double box_iou_kind(dbox a, dbox b, iou_kind kind, dbox *grad);

float box_giou(box a, box b);
float box_diou(box a, box b);
float box_ciou(box a, box b);
/* Intersection over union of two boxes centred at the origin (anchor shape matching). */
float box_shape_iou(float w1, float h1, float w2, float h2);

/* AlexeyAB's DIoU-NMS (nms_kind=diounms): like do_nms_sort, with IoU - (d^2/c^2)^beta. */
void do_nms_diou(detection *dets, int total, int classes, float thresh, float beta);

#endif
