/* Boxes out of a network after a forward pass (pjreddie's get_network_boxes): every [yolo]
 * and [region] layer contributes its candidates, then boxes are mapped from the network
 * input (letterboxed image) back to the original image. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_layers.h"
#include "core/network.h"

/* Sample b's output of layer i: host memory, also after a device run. */
/* The public façades pass arrays of this type through (src/api/api_detect.c) or copy them
 * field by field (api_alexey.c): its layout is pjreddie's. */
_Static_assert(sizeof(detection) == 48 && offsetof(detection, prob) == 24 &&
               offsetof(detection, objectness) == 40 && offsetof(detection, sort_class) == 44,
               "pjreddie's detection layout");

static const float *layer_output(const network *net, int i, int b)
{
    const float *o = network_layer_output(net, i);
    return o ? o + (size_t)b * net->layers[i].outputs : NULL;
}

/* [yolo]'s entries are x, y, w, h; [Gaussian_yolo]'s put an uncertainty after each. */
static box yolo_box(const layer *l, const det_params *p, const float *o, int n, int loc, int netw,
                    int neth)
{
    int hw = l->w * l->h, a = p->mask[n], idx = det_entry(l, p, 0, n, 0, loc), g = p->gaussian ? 2 : 1;
    box b;
    b.x = (float)((loc % l->w + o[idx]) / l->w);
    b.y = (float)((loc / l->w + o[idx + g * hw]) / l->h);
    b.w = (float)(det_yolo_size(p, o[idx + 2 * g * hw]) * p->biases[2 * a] / netw);
    b.h = (float)(det_yolo_size(p, o[idx + 3 * g * hw]) * p->biases[2 * a + 1] / neth);
    return b;
}

/* [Gaussian_yolo]'s score factor: 1 - the mean of the four uncertainties, with AlexeyAB's
 * roundings (a float mean, the product taken in double). */
static double uncertainty_factor(const layer *l, const det_params *p, const float *o, int n, int loc)
{
    int hw = l->w * l->h, idx = det_entry(l, p, 0, n, 1, loc);
    float mean = (float)((o[idx] + o[idx + 2 * hw] + o[idx + 4 * hw] + o[idx + 6 * hw]) / 4.0);
    return 1.0 - mean;
}

int yolo_count_boxes(const layer *l, const float *out, float thresh)
{
    const det_params *p = l->p;
    int count = 0;
    for (int n = 0; n < p->n; ++n)
        for (int loc = 0; loc < l->w * l->h; ++loc)
            if (out[det_entry(l, p, 0, n, p->coords, loc)] > thresh) ++count;
    return count;
}

int yolo_get_boxes(const layer *l, const float *out, int netw, int neth, float thresh,
                   detection *dets)
{
    const det_params *p = l->p;
    int count = 0, hw = l->w * l->h;
    for (int loc = 0; loc < hw; ++loc)
        for (int n = 0; n < p->n; ++n) {
            float obj = out[det_entry(l, p, 0, n, p->coords, loc)];
            /* Same test as yolo_count_boxes: a NaN objectness (untrained BN, rolling
             * variance 0) must be skipped here too, or more boxes are written than counted. */
            if (!(obj > thresh)) continue;
            detection *d = &dets[count++];
            d->bbox = yolo_box(l, p, out, n, loc, netw, neth);
            d->objectness = obj;
            d->classes = p->classes;
            int ci = det_entry(l, p, 0, n, p->coords + 1, loc);
            double uc = p->gaussian ? uncertainty_factor(l, p, out, n, loc) : 1;
            for (int k = 0; k < p->classes; ++k) {
                float prob = obj * out[ci + k * hw];
                if (p->gaussian) prob = (float)(prob * uc);
                d->prob[k] = prob > thresh ? prob : 0;
            }
        }
    return count;
}

/* [region] gives one candidate per cell and anchor, zero where below thresh. */
int region_get_boxes(const layer *l, const float *out, float thresh, detection *dets)
{
    const det_params *p = l->p;
    int hw = l->w * l->h;
    for (int loc = 0; loc < hw; ++loc)
        for (int n = 0; n < p->n; ++n) {
            detection *d = &dets[n * hw + loc];
            int idx = det_entry(l, p, 0, n, 0, loc);
            float scale = p->background ? 1 : out[det_entry(l, p, 0, n, p->coords, loc)];
            d->bbox.x = (float)((loc % l->w + out[idx]) / l->w);
            d->bbox.y = (float)((loc / l->w + out[idx + hw]) / l->h);
            d->bbox.w = (float)(exp(out[idx + 2 * hw]) * p->biases[2 * n] / l->w);
            d->bbox.h = (float)(exp(out[idx + 3 * hw]) * p->biases[2 * n + 1] / l->h);
            d->objectness = scale > thresh ? scale : 0;
            d->classes = p->classes;
            for (int k = 0; k < p->classes; ++k) {
                float prob = d->objectness ? scale * out[det_entry(l, p, 0, n, p->coords + 1 + k, loc)] : 0;
                d->prob[k] = prob > thresh ? prob : 0;
            }
        }
    return hw * p->n;
}

/* From letterboxed network coordinates to the w x h image (pjreddie's correct_yolo_boxes). */
static void correct_boxes(detection *dets, int n, int w, int h, int netw, int neth, int relative)
{
    int new_w, new_h;
    if ((float)netw / w < (float)neth / h) {
        new_w = netw;
        new_h = (h * netw) / w;
    } else {
        new_h = neth;
        new_w = (w * neth) / h;
    }
    for (int i = 0; i < n; ++i) {
        box b = dets[i].bbox;
        b.x = (float)((b.x - (netw - new_w) / 2. / netw) / ((float)new_w / netw));
        b.y = (float)((b.y - (neth - new_h) / 2. / neth) / ((float)new_h / neth));
        b.w *= (float)netw / new_w;
        b.h *= (float)neth / new_h;
        if (!relative) {
            b.x *= w;
            b.w *= w;
            b.y *= h;
            b.h *= h;
        }
        dets[i].bbox = b;
    }
}

/* A huge size logit overflows exp() to inf (an untrained or diverged network): such a box
 * printed by -ext_output, written as JSON ("width":inf is not JSON) or scored by map (IoU
 * NaN) is worse than none, so it scores 0 everywhere and its box is zeroed; Darknet keeps
 * it. It stays in the array so that the count that sized it still holds. */
static void drop_nonfinite(detection *d, int n)
{
    for (int i = 0; i < n; ++i) {
        box b = d[i].bbox;
        if (isfinite(b.x) && isfinite(b.y) && isfinite(b.w) && isfinite(b.h)) continue;
        memset(&d[i].bbox, 0, sizeof(d[i].bbox));
        d[i].objectness = 0;
        memset(d[i].prob, 0, sizeof(float) * (size_t)d[i].classes);
    }
}

static int layer_box_count(const network *net, int i, int b, float thresh)
{
    const layer *l = &net->layers[i];
    const float *o = layer_output(net, i, b);
    if (!o) return 0;
    if (l->type == LT_YOLO) return yolo_count_boxes(l, o, thresh);
    if (l->type == LT_REGION) return l->w * l->h * ((const det_params *)l->p)->n;
    return 0;
}

static detection *make_boxes(network *net, int b, float thresh, int *num)
{
    int total = 0;
    for (int i = 0; i < net->n; ++i) total += layer_box_count(net, i, b, thresh);
    detection *dets = calloc((size_t)total + 1, sizeof(detection));
    if (num) *num = 0;
    if (!dets) return NULL;
    int k = 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->type != LT_YOLO && l->type != LT_REGION) continue;
        const det_params *p = l->p;
        for (int end = k + layer_box_count(net, i, b, thresh); k < end; ++k) {
            dets[k].prob = calloc((size_t)p->classes, sizeof(float));
            dets[k].classes = p->classes;
            if (!dets[k].prob) { /* out of memory: no detections rather than a crash */
                free_detections(dets, total);
                return NULL;
            }
        }
    }
    if (num) *num = total;
    return dets;
}

detection *make_network_boxes(network *net, float thresh, int *num)
{
    return make_boxes(net, 0, thresh, num);
}

detection *dn_network_boxes_sample(network *net, int b, int w, int h, float thresh, int relative,
                                   int *num)
{
    int total;
    detection *dets = make_boxes(net, b, thresh, &total);
    *num = 0;
    if (!dets) return NULL;
    int k = 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        const float *o = layer_output(net, i, b);
        if (!o || (l->type != LT_YOLO && l->type != LT_REGION)) continue;
        int got = l->type == LT_YOLO ? yolo_get_boxes(l, o, net->w, net->h, thresh, dets + k)
                                      : region_get_boxes(l, o, thresh, dets + k);
        correct_boxes(dets + k, got, w, h, net->w, net->h, relative);
        drop_nonfinite(dets + k, got);
        k += got;
    }
    *num = k;
    return dets;
}

detection *get_network_boxes(network *net, int w, int h, float thresh, float hier, int *map,
                             int relative, int *num)
{
    (void)hier; /* [region] tree= hierarchies and class maps are not supported */
    (void)map;
    return dn_network_boxes_sample(net, 0, w, h, thresh, relative, num);
}

void free_detections(detection *dets, int n)
{
    if (!dets) return;
    for (int i = 0; i < n; ++i) {
        free(dets[i].prob);
        free(dets[i].mask);
    }
    free(dets);
}
