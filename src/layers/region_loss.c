/* [region] loss, step by step as pjreddie's forward_region_layer:
 *  1. every (cell, anchor): objectness pushed to 0 (noobject_scale) unless its best IoU
 *     with a truth exceeds thresh; for the first 12800 images the box is also pulled
 *     towards its anchor at the cell centre (scale .01), which stabilises early training;
 *  2. every truth: the cell holding its centre picks the anchor whose shape (prediction, or
 *     the anchor itself with bias_match) fits best and learns box, objectness and class. */
#include <math.h>
#include <string.h>

#include "core/network.h"
#include "layers/region_loss.h"

typedef struct {
    const layer *l;
    det_params *p;
    const float *out;
    float *delta;
    const float *truth;
    int b, stride; /* floats per truth box */
} rctx;

/* pjreddie's get_region_box: anchors are in grid cells. */
static box pred_box(const rctx *c, int n, int loc)
{
    const layer *l = c->l;
    int hw = l->w * l->h, idx = det_entry(l, c->p, c->b, n, 0, loc);
    box r;
    r.x = (float)((loc % l->w + c->out[idx]) / l->w);
    r.y = (float)((loc / l->w + c->out[idx + hw]) / l->h);
    r.w = (float)(exp(c->out[idx + 2 * hw]) * c->p->biases[2 * n] / l->w);
    r.h = (float)(exp(c->out[idx + 3 * hw]) * c->p->biases[2 * n + 1] / l->h);
    return r;
}

static box truth_box(const rctx *c, int t)
{
    const float *v = c->truth + t * c->stride;
    return (box){v[0], v[1], v[2], v[3]};
}

static float delta_box(rctx *c, box t, int n, int loc, float scale)
{
    const layer *l = c->l;
    int hw = l->w * l->h, idx = det_entry(l, c->p, c->b, n, 0, loc);
    float iou = box_iou(pred_box(c, n, loc), t);
    float tx = t.x * l->w - loc % l->w, ty = t.y * l->h - loc / l->w;
    float tw = (float)log(t.w * l->w / c->p->biases[2 * n]);
    float th = (float)log(t.h * l->h / c->p->biases[2 * n + 1]);
    const float *o = c->out;
    c->delta[idx] = scale * (tx - o[idx]);
    c->delta[idx + hw] = scale * (ty - o[idx + hw]);
    c->delta[idx + 2 * hw] = scale * (tw - o[idx + 2 * hw]);
    c->delta[idx + 3 * hw] = scale * (th - o[idx + 3 * hw]);
    return iou;
}

/* pjreddie's delta_region_class; `tag` (no softmax) keeps earlier class deltas. With
 * focal_loss=1 the class deltas are multiplied by AlexeyAB's focal factor. */
static void delta_class(rctx *c, int n, int loc, int cls)
{
    det_params *p = c->p;
    int hw = c->l->w * c->l->h, idx = det_entry(c->l, p, c->b, n, p->coords + 1, loc);
    if (c->delta[idx] && !p->softmax) {
        c->delta[idx + hw * cls] = p->class_scale * (1 - c->out[idx + hw * cls]);
        return;
    }
    float f = p->focal_loss ? det_focal_factor(c->out[idx + hw * cls]) : 1;
    for (int k = 0; k < p->classes; ++k) {
        c->delta[idx + hw * k] = p->class_scale * ((k == cls) - c->out[idx + hw * k]);
        if (p->focal_loss) c->delta[idx + hw * k] *= f; /* AlexeyAB's: after the scale */
        if (k == cls) p->st.cls += c->out[idx + hw * k];
    }
}

static void objectness_pass(rctx *c, int n, int loc, int maxb, size_t seen)
{
    const layer *l = c->l;
    det_params *p = c->p;
    box pred = pred_box(c, n, loc);
    float best = 0;
    for (int t = 0; t < maxb; ++t) {
        box tb = truth_box(c, t);
        if (!tb.x) break;
        float iou = box_iou(pred, tb);
        if (iou > best) best = iou;
    }
    int obj = det_entry(l, p, c->b, n, p->coords, loc);
    p->st.anyobj += c->out[obj];
    c->delta[obj] = p->noobject_scale * ((p->background ? 1 : 0) - c->out[obj]);
    if (best > p->thresh) c->delta[obj] = 0;
    if (seen < 12800) {
        box prior = {(float)((loc % l->w + .5) / l->w), (float)((loc / l->w + .5) / l->h),
                     p->biases[2 * n] / l->w, p->biases[2 * n + 1] / l->h};
        delta_box(c, prior, n, loc, .01f);
    }
}

static void truth_pass(rctx *c, int t)
{
    const layer *l = c->l;
    det_params *p = c->p;
    box tb = truth_box(c, t);
    int cls = (int)c->truth[t * c->stride + p->coords];
    if (cls < 0 || cls >= p->classes || tb.w <= 0 || tb.h <= 0) return;
    int i = (int)(tb.x * l->w), j = (int)(tb.y * l->h);
    if (i >= l->w) i = l->w - 1;
    if (j >= l->h) j = l->h - 1;
    int loc = j * l->w + i, best_n = 0;
    float best = 0;
    box shift = {0, 0, tb.w, tb.h};
    for (int n = 0; n < p->n; ++n) {
        box pred = pred_box(c, n, loc);
        if (p->bias_match) {
            pred.w = p->biases[2 * n] / l->w;
            pred.h = p->biases[2 * n + 1] / l->h;
        }
        pred.x = pred.y = 0;
        float iou = box_iou(pred, shift);
        if (iou > best) { best = iou; best_n = n; }
    }
    float iou = delta_box(c, tb, best_n, loc, p->coord_scale * (2 - tb.w * tb.h));
    if (iou > .5f) p->st.recall += 1;
    p->st.iou += iou;
    int obj = det_entry(l, p, c->b, best_n, p->coords, loc);
    p->st.obj += c->out[obj];
    c->delta[obj] = p->object_scale * (1 - c->out[obj]);
    if (p->rescore) c->delta[obj] = p->object_scale * (iou - c->out[obj]);
    if (p->background) c->delta[obj] = p->object_scale * (0 - c->out[obj]);
    delta_class(c, best_n, loc, cls);
    p->st.count++;
    p->st.class_count++;
}

float region_loss(const layer *l, det_params *p, layer_ctx *x)
{
    rctx c = {l, p, x->out, x->delta, NULL, 0, p->coords + 1};
    int tstride = x->net->truths, maxb = p->max_boxes;
    if (maxb * c.stride > tstride) maxb = tstride / c.stride;
    memset(&p->st, 0, sizeof(p->st));
    p->st.cells = l->w * l->h * p->n * x->batch;
    for (int b = 0; b < x->batch; ++b) {
        c.b = b;
        c.truth = x->truth + (size_t)b * tstride;
        for (int loc = 0; loc < l->w * l->h; ++loc)
            for (int n = 0; n < p->n; ++n) objectness_pass(&c, n, loc, maxb, x->net->seen);
        for (int t = 0; t < maxb; ++t) {
            if (!c.truth[t * c.stride]) break;
            truth_pass(&c, t);
        }
    }
    double s = 0;
    for (size_t k = 0; k < (size_t)x->batch * l->outputs; ++k) s += (double)x->delta[k] * x->delta[k];
    return (float)s;
}
