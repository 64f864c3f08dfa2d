/* [yolo] (YOLOv3, pjreddie semantics plus AlexeyAB's keys).
 * Forward: logistic on x, y, objectness and classes of every anchor in `mask` (w, h stay
 * raw), then AlexeyAB's scale_x_y remap of x and y. With new_coords=1 (scaled-YOLOv4,
 * yolov7) the previous layer has applied the logistic to every entry already: only the
 * scale_x_y remap is done here, and boxes are w = (2 t)^2 anchors (det_yolo_size). With truth in training the loss is
 * computed here (yolo_loss.c) and written to the delta; backward passes the delta on
 * unchanged, as Darknet does (its deltas already stand for the logit gradients). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_layers.h"
#include "core/layer_common.h"
#include "core/network.h"
#include "layers/yolo_loss.h"

static const char *const iou_names[] = {"mse", "iou", "giou", "diou", "ciou"};
static const char *const nms_names[] = {"default", "greedynms", "diounms", "cornersnms"};

void det_params_free(det_params *p)
{
    if (!p) return;
    free(p->mask);
    free(p->biases);
    free(p->class_mult);
    free(p);
}

/* counters_per_class (AlexeyAB, for unbalanced data): one count per class; a class's
 * weight is the largest count over its own (at most max_delta), and it multiplies that
 * class's truth deltas: its class entry and its box (iou_normalizer). Printed as his. */
static int parse_class_mult(det_params *p, cfg_reader *r)
{
    int *cnt = NULL;
    int n = cfg_int_list(r, "counters_per_class", &cnt);
    if (n <= 0) return r->failed ? -1 : 0;
    if (n != p->classes) {
        cfg_fail(r, "counters_per_class", "%d counts for classes=%d: give one per class", n, p->classes);
        free(cnt);
        return -1;
    }
    p->class_mult = malloc(sizeof(float) * (size_t)n);
    if (!p->class_mult) {
        free(cnt);
        return layer_oom(r);
    }
    float most = 1;
    for (int i = 0; i < n; ++i) most = cnt[i] > most ? (float)cnt[i] : most;
    fprintf(stderr, " classes_multipliers:");
    for (int i = 0; i < n; ++i) {
        float m = most / (float)(cnt[i] < 1 ? 1 : cnt[i]);
        p->class_mult[i] = m > p->max_delta ? p->max_delta : m;
        fprintf(stderr, " %.1f%s", p->class_mult[i], i + 1 < n ? "," : "\n");
    }
    free(cnt);
    return 0;
}

/* num, mask and anchors: mask defaults to every anchor; anchors not given stay .5. */
static int parse_anchors(det_params *p, cfg_reader *r)
{
    p->total = cfg_int(r, "num", 1, 1, 1 << 16);
    int nm = cfg_int_list(r, "mask", &p->mask);
    if (r->failed) return -1;
    p->biases = layer_read_anchors(r, p->total);
    if (!p->biases) return -1;
    if (nm <= 0) {
        free(p->mask);
        p->mask = malloc(sizeof(int) * (size_t)p->total);
        if (!p->mask) return layer_oom(r);
        for (int i = 0; i < p->total; ++i) p->mask[i] = i;
        nm = p->total;
    }
    for (int i = 0; i < nm; ++i)
        if (p->mask[i] < 0 || p->mask[i] >= p->total) {
            cfg_fail(r, "mask", "anchor index %d is outside 0..num-1 (num=%d)", p->mask[i], p->total);
            return -1;
        }
    p->n = nm;
    return 0;
}

/* AlexeyAB keys we read but whose features are not implemented: an error, not silence. */
static void reject_unsupported(cfg_reader *r)
{
    layer_reject_key(r, "map", "class maps (map=) are not supported; remove the key");
    layer_reject_key(r, "track_history_size", "tracking keys are not supported");
    layer_reject_key(r, "embedding_layer", "tracking keys are not supported");
}

static void parse_yolo_keys(det_params *p, cfg_reader *r)
{
    p->classes = cfg_int(r, "classes", 20, 1, 1 << 20);
    p->coords = 4;
    p->max_boxes = cfg_int(r, "max", 90, 1, 1 << 16);
    p->jitter = cfg_float(r, "jitter", .2f, 0, 1);
    p->ignore_thresh = cfg_float(r, "ignore_thresh", .5f, 0, 1);
    p->truth_thresh = cfg_float(r, "truth_thresh", 1, 0, 1);
    p->random = cfg_float(r, "random", 0, 0, 10);
    p->resize = cfg_float(r, "resize", 1, 0, 100);
    p->scale_x_y = cfg_float(r, "scale_x_y", 1, 0.01f, 100);
    /* iou_normalizer defaults to 1 (pjreddie's behaviour); AlexeyAB's cfgs set it. */
    p->iou_normalizer = cfg_float(r, "iou_normalizer", 1, 0, 1e6f);
    p->obj_normalizer = cfg_float(r, "obj_normalizer", 1, 0, 1e6f);
    p->cls_normalizer = cfg_float(r, "cls_normalizer", 1, 0, 1e6f);
    layer_ignore_key(r, "delta_normalizer", 1, "AlexeyAB's delta scaling is not implemented");
    p->iou_thresh = cfg_float(r, "iou_thresh", 1, 0, 1);
    p->label_smooth_eps = cfg_float(r, "label_smooth_eps", 0, 0, 1);
    p->beta_nms = cfg_float(r, "beta_nms", .6f, 0, 10);
    p->max_delta = cfg_float(r, "max_delta", 3.4e38f, 0, 3.4e38f);
    p->show_details = cfg_int(r, "show_details", 1, 0, 2);
    p->iou_loss = (iou_kind)cfg_enum(r, "iou_loss", iou_names, IOU_KINDS, IOU_MSE);
    p->iou_thresh_kind = (iou_kind)cfg_enum(r, "iou_thresh_kind", iou_names + 1, IOU_KINDS - 1, 0) + 1;
    p->nms = (nms_kind)cfg_enum(r, "nms_kind", nms_names, NMS_KINDS, NMS_DEFAULT);
    p->new_coords = cfg_int(r, "new_coords", 0, 0, 1);
    p->objectness_smooth = cfg_int(r, "objectness_smooth", 0, 0, 1);
    reject_unsupported(r);
}

static int yolo_shape(layer *l, cfg_reader *r, network *net)
{
    det_params *p = l->p;
    int want = p->n * (p->classes + p->coords + 1);
    if (l->c != want) {
        /* The fix is in the layer before: name its line and key, and the value it needs. */
        const layer *prev = l->index ? &net->layers[l->index - 1] : NULL;
        char msg[512];
        snprintf(msg, sizeof(msg), "%s:%d: filters=%d in the section before [%s] (line %d) "
                 "must be len(mask) * (classes + %d) = %d * (%d + %d) = %d; set filters=%d",
                 net->cfgfile, prev ? prev->line : l->line, l->c, l->ops->name, l->line, p->coords + 1, p->n,
                 p->classes, p->coords + 1, want, want);
        if (r && r->err && r->errlen && !r->failed) snprintf(r->err, r->errlen, "%s", msg);
        if (r) r->failed = 1;
        else fprintf(stderr, "%s\n", msg);
        return -1;
    }
    l->out_w = l->w;
    l->out_h = l->h;
    l->out_c = l->c;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->truths = p->max_boxes * 5;
    return 0;
}

/* [Gaussian_yolo]'s own keys: detection with AlexeyAB's decoding and scores; its loss
 * (the Gaussian negative log-likelihood of the box) is not implemented, so training
 * refuses the cfg, naming the section. */
static void gaussian_keys(layer *l, det_params *p, cfg_reader *r, network *net)
{
    p->coords = 8;
    p->gaussian = 1;
    if (p->new_coords) cfg_fail(r, "new_coords", "is not used by [Gaussian_yolo]");
    layer_ignore_key(r, "uc_normalizer", 1, "a training key; [Gaussian_yolo] trains nowhere here");
    if (strcmp(cfg_str(r, "yolo_point", "center"), "center") != 0)
        cfg_fail(r, "yolo_point", "only center is supported");
    if (!net->train_refusal[0])
        snprintf(net->train_refusal, sizeof(net->train_refusal),
                 "%s:%d: [Gaussian_yolo]: its loss is not implemented here, so this cfg cannot "
                 "train; detection and evaluation work", net->cfgfile, l->line);
}

static int yolo_parse_as(layer *l, cfg_reader *r, network *net, int gaussian)
{
    det_params *p = calloc(1, sizeof(det_params));
    if (!p) return layer_oom(r);
    l->p = p;
    parse_yolo_keys(p, r);
    if (gaussian) gaussian_keys(l, p, r, net);
    else p->focal_loss = cfg_int(r, "focal_loss", 0, 0, 1);
    if (r->failed || parse_anchors(p, r) || parse_class_mult(p, r)) return -1;
    l->loss = 1;
    l->persist_output = 1; /* boxes are read after the pass */
    return yolo_shape(l, r, net);
}

static int yolo_parse(layer *l, cfg_reader *r, network *net) { return yolo_parse_as(l, r, net, 0); }

static int gaussian_yolo_parse(layer *l, cfg_reader *r, network *net)
{
    return yolo_parse_as(l, r, net, 1);
}

/* [Gaussian_yolo] (AlexeyAB's): entries x, sigma x, y, sigma y, w, sigma w, h, sigma h,
 * objectness, classes; every one logistic but w and h, then scale_x_y on x and y. */
static void gaussian_activate(const layer *l, const det_params *p, float *out, int batch)
{
    int hw = l->w * l->h;
    float s = p->scale_x_y;
    const dn_backend *host = dn_backend_cpu();
    static const int logistic[] = {0, 1, 2, 3, 5, 7};
    for (int b = 0; b < batch; ++b)
        for (int n = 0; n < p->n; ++n) {
            for (int k = 0; k < 6; ++k)
                host->activate(out + det_entry(l, p, b, n, logistic[k], 0), (size_t)hw, ACT_LOGISTIC);
            host->activate(out + det_entry(l, p, b, n, 8, 0), (size_t)(1 + p->classes) * hw, ACT_LOGISTIC);
            for (int e = 0; s != 1 && e <= 2; e += 2) {
                float *v = out + det_entry(l, p, b, n, e, 0);
                for (int i = 0; i < hw; ++i) v[i] = v[i] * s - .5f * (s - 1);
            }
        }
}

static void yolo_activate(const layer *l, const det_params *p, float *out, int batch)
{
    int hw = l->w * l->h;
    float s = p->scale_x_y;
    const dn_backend *host = dn_backend_cpu(); /* a loss layer: computes on the host */
    if (p->gaussian) {
        gaussian_activate(l, p, out, batch);
        return;
    }
    for (int b = 0; b < batch; ++b)
        for (int n = 0; n < p->n; ++n) {
            float *xy = out + det_entry(l, p, b, n, 0, 0);
            if (!p->new_coords) host->activate(xy, (size_t)2 * hw, ACT_LOGISTIC);
            if (s != 1)
                for (int i = 0; i < 2 * hw; ++i) xy[i] = xy[i] * s - .5f * (s - 1);
            if (!p->new_coords)
                host->activate(out + det_entry(l, p, b, n, 4, 0), (size_t)(1 + p->classes) * hw,
                               ACT_LOGISTIC);
        }
}

static int yolo_forward(layer *l, layer_ctx *x)
{
    det_params *p = l->p;
    size_t n = (size_t)x->batch * l->outputs;
    memcpy(x->out, x->in, n * sizeof(float));
    yolo_activate(l, p, x->out, x->batch);
    if (!x->train || !x->delta) return 0;
    memset(x->delta, 0, n * sizeof(float));
    if (!x->truth || p->gaussian) return 0; /* no Gaussian loss (training refuses it) */
    l->cost = yolo_loss(l, p, x);
    if (p->show_details) det_print_stats(l, p);
    return 0;
}

static int yolo_resize(layer *l, network *net) { return yolo_shape(l, NULL, net); }

int det_backward(layer *l, layer_ctx *x)
{
    if (!x->delta_in) return 0;
    size_t n = (size_t)x->batch * l->inputs;
    for (size_t i = 0; i < n; ++i) x->delta_in[i] += x->delta[i];
    return 0;
}

void det_destroy(layer *l)
{
    det_params_free(l->p);
    l->p = NULL;
}

const layer_ops yolo_ops = {
    .name = "yolo", .type = LT_YOLO, .parse = yolo_parse, .forward = yolo_forward,
    .backward = det_backward, .resize = yolo_resize, .destroy = det_destroy,
    .host_only = 1, /* a loss layer: computes on the host, as in Darknet */
};

/* The same type as [yolo] for everything that reads boxes (detections.c). */
const layer_ops gaussian_yolo_ops = {
    .name = "Gaussian_yolo", .type = LT_YOLO, .parse = gaussian_yolo_parse, .forward = yolo_forward,
    .backward = det_backward, .resize = yolo_resize, .destroy = det_destroy, .host_only = 1,
};
