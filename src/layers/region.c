/* [region] (YOLOv2, pjreddie semantics, coords=4).
 * Forward: logistic on x, y and objectness; classes get a softmax per cell and anchor
 * (softmax=1) or a logistic. With truth in training the loss goes into the delta
 * (region_loss.c). Backward: pjreddie's CPU backward_region_layer has its body commented
 * out (2018), so its yolov2 cannot train on CPU; we do what its GPU path and AlexeyAB do
 * (region_backward). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_layers.h"
#include "core/layer_common.h"
#include "core/network.h"
#include "layers/region_loss.h"

/* Keys we read but whose features are not implemented. */
static void reject_unsupported(cfg_reader *r)
{
    layer_reject_key(r, "tree", "hierarchical softmax (tree=) is not supported");
    layer_reject_key(r, "map", "class maps (map=) are not supported; remove the key");
}

static void parse_region_keys(det_params *p, cfg_reader *r)
{
    p->coords = cfg_int(r, "coords", 4, 4, 4);
    p->classes = cfg_int(r, "classes", 20, 1, 1 << 20);
    p->total = cfg_int(r, "num", 1, 1, 1 << 16);
    layer_ignore_key(r, "log", 0, "Darknet's region layer never reads it");
    layer_ignore_key(r, "sqrt", 0, "Darknet's region layer never reads it");
    p->softmax = cfg_int(r, "softmax", 0, 0, 1);
    p->background = cfg_int(r, "background", 0, 0, 1);
    p->max_boxes = cfg_int(r, "max", 30, 1, 1 << 16);
    p->jitter = cfg_float(r, "jitter", .2f, 0, 1);
    p->rescore = cfg_int(r, "rescore", 0, 0, 1);
    p->thresh = cfg_float(r, "thresh", .5f, 0, 1);
    layer_ignore_key(r, "classfix", 0, "Darknet's region layer never reads it");
    layer_ignore_key(r, "absolute", 0, "Darknet's region layer never reads it");
    p->random = cfg_float(r, "random", 0, 0, 10);
    p->resize = cfg_float(r, "resize", 1, 0, 100);
    p->coord_scale = cfg_float(r, "coord_scale", 1, 0, 1e6f);
    p->object_scale = cfg_float(r, "object_scale", 1, 0, 1e6f);
    p->noobject_scale = cfg_float(r, "noobject_scale", 1, 0, 1e6f);
    layer_ignore_key(r, "mask_scale", 1, "instance masks (coords > 4) are not supported");
    p->class_scale = cfg_float(r, "class_scale", 1, 0, 1e6f);
    p->bias_match = cfg_int(r, "bias_match", 0, 0, 1);
    p->nms = NMS_DEFAULT;
    reject_unsupported(r);
}

static int parse_biases(det_params *p, cfg_reader *r)
{
    if (r->failed) return -1;
    p->biases = layer_read_anchors(r, p->total);
    if (!p->biases) return -1;
    p->mask = malloc(sizeof(int) * (size_t)p->total);
    if (!p->mask) return layer_oom(r);
    for (int i = 0; i < p->total; ++i) p->mask[i] = i;
    p->n = p->total;
    return 0;
}

static int region_shape(layer *l, cfg_reader *r, network *net)
{
    det_params *p = l->p;
    int want = p->n * (p->classes + p->coords + 1);
    if (l->c != want) {
        const layer *prev = l->index ? &net->layers[l->index - 1] : NULL;
        char msg[512];
        snprintf(msg, sizeof(msg), "%s:%d: filters=%d in the section before [region] (line %d) "
                 "must be num * (classes + coords + 1) = %d * (%d + %d + 1) = %d; set filters=%d",
                 net->cfgfile, prev ? prev->line : l->line, l->c, l->line, p->n, p->classes,
                 p->coords, want, want);
        if (r && r->err && r->errlen && !r->failed) snprintf(r->err, r->errlen, "%s", msg);
        if (r) r->failed = 1;
        else fprintf(stderr, "%s\n", msg);
        return -1;
    }
    l->out_w = l->w;
    l->out_h = l->h;
    l->out_c = l->c;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->truths = p->max_boxes * (p->coords + 1);
    return 0;
}

static int region_parse(layer *l, cfg_reader *r, network *net)
{
    det_params *p = calloc(1, sizeof(det_params));
    if (!p) return layer_oom(r);
    l->p = p;
    parse_region_keys(p, r);
    p->focal_loss = cfg_int(r, "focal_loss", 0, 0, 1);
    if (r->failed || parse_biases(p, r)) return -1;
    l->loss = 1;
    l->persist_output = 1;
    return region_shape(l, r, net);
}

/* Softmax over the classes of one (sample, anchor, cell): values stride hw apart. */
static void softmax_strided(const float *in, int n, int stride, float *out)
{
    float largest = -FLT_MAX, sum = 0;
    for (int i = 0; i < n; ++i)
        if (in[i * stride] > largest) largest = in[i * stride];
    for (int i = 0; i < n; ++i) {
        float e = (float)exp(in[i * stride] - largest);
        sum += e;
        out[i * stride] = e;
    }
    for (int i = 0; i < n; ++i) out[i * stride] /= sum;
}

static void region_activate(const layer *l, const det_params *p, const float *in, float *out,
                            int batch)
{
    int hw = l->w * l->h;
    const dn_backend *host = dn_backend_cpu(); /* a loss layer: computes on the host */
    for (int b = 0; b < batch; ++b)
        for (int n = 0; n < p->n; ++n) {
            host->activate(out + det_entry(l, p, b, n, 0, 0), (size_t)2 * hw, ACT_LOGISTIC);
            if (!p->background)
                host->activate(out + det_entry(l, p, b, n, p->coords, 0), (size_t)hw, ACT_LOGISTIC);
            int ci = det_entry(l, p, b, n, p->coords + !p->background, 0);
            if (!p->softmax) {
                host->activate(out + det_entry(l, p, b, n, p->coords + 1, 0), (size_t)p->classes * hw,
                               ACT_LOGISTIC);
                continue;
            }
            for (int loc = 0; loc < hw; ++loc)
                softmax_strided(in + ci + loc, p->classes + p->background, hw, out + ci + loc);
        }
}

static int region_forward(layer *l, layer_ctx *x)
{
    det_params *p = l->p;
    size_t n = (size_t)x->batch * l->outputs;
    memcpy(x->out, x->in, n * sizeof(float));
    region_activate(l, p, x->in, x->out, x->batch);
    if (!x->train || !x->delta) return 0;
    memset(x->delta, 0, n * sizeof(float));
    if (!x->truth) return 0;
    l->cost = region_loss(l, p, x);
    det_print_stats(l, p);
    return 0;
}

/* pjreddie's loss writes t - s(z) for the logistic entries (x, y, objectness), as if they
 * took a cross-entropy; its GPU backward (backward_region_layer_gpu) then multiplies them by
 * the logistic's derivative s (1 - s) before passing them on, and AlexeyAB's loss writes
 * them with that factor: both train the squared error 1/2 (t - s(z))^2. So we pass that
 * gradient down and leave the layer's own delta (and the cost, its sum of squares) as
 * pjreddie's CPU loss wrote it. Classes (softmax) and w, h pass unchanged. */
static int region_backward(layer *l, layer_ctx *x)
{
    if (!x->delta_in) return 0;
    const det_params *p = l->p;
    int hw = l->w * l->h, entries = p->coords + 1 + p->classes;
    for (int b = 0; b < x->batch; ++b)
        for (int n = 0; n < p->n; ++n)
            for (int e = 0; e < entries; ++e) {
                int logistic = e < 2 || (e == p->coords && !p->background);
                size_t i = (size_t)det_entry(l, p, b, n, e, 0);
                for (int loc = 0; loc < hw; ++loc, ++i) {
                    float g = logistic ? x->out[i] * (1 - x->out[i]) : 1;
                    x->delta_in[i] += g * x->delta[i];
                }
            }
    return 0;
}

static int region_resize(layer *l, network *net) { return region_shape(l, NULL, net); }

const layer_ops region_ops = {
    .name = "region", .type = LT_REGION, .parse = region_parse, .forward = region_forward,
    .backward = region_backward, .resize = region_resize, .destroy = det_destroy,
    .host_only = 1, /* a loss layer: computes on the host, as in Darknet */
};
