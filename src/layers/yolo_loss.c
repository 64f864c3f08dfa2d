/* [yolo] loss, following pjreddie's forward_yolo_layer step by step so one training step
 * matches Debian's libdarknet:
 *  1. every (cell, anchor) predicts a box; its objectness is pushed to 0 unless its best
 *     IoU with any truth exceeds ignore_thresh (and to 1 above truth_thresh);
 *  2. every truth picks the anchor (of all `num`) whose shape fits best; when that anchor is
 *     in this layer's mask, the cell holding the truth's centre learns the box, objectness 1
 *     and the class.
 * AlexeyAB additions: obj/cls/iou normalizers, IoU-family box losses, iou_thresh (more
 * anchors per truth), label smoothing, max_delta clipping, objectness_smooth (objectness
 * targets are the IoU), new_coords (boxes from logistic outputs).
 * With new_coords every delta is the exact negative gradient with respect to this layer's
 * input (the previous layer's logistic output): obj/class entries of k/2 (target - t)^2,
 * box entries of k/2 (target - t)^2 (MSE) or k (1 - IoU) through the box decoding, i.e.
 * with the factors s/lw (x, scale_x_y s) and 8 t anchor/netw (w) that AlexeyAB leaves out
 * (tests/test_yolo.c checks them against finite differences). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/network.h"
#include "layers/yolo_loss.h"

typedef struct {
    const layer *l;
    det_params *p;
    const float *out;
    float *delta;
    const float *truth; /* this sample's truth */
    int b, netw, neth;
    double iou_cost;    /* IoU-family losses: sum of normalizer * (1 - value) */
} yctx;

static box truth_box(const float *t) { return (box){t[0], t[1], t[2], t[3]}; }

/* Darknet's get_yolo_box: centre from the cell and the (squashed) offsets, size from the
 * anchor (double arithmetic as in pjreddie, where exp() returns double). */
static box pred_box(const yctx *c, int n, int loc)
{
    const layer *l = c->l;
    int hw = l->w * l->h, a = c->p->mask[n];
    int idx = det_entry(l, c->p, c->b, n, 0, loc);
    box r;
    r.x = (float)((loc % l->w + c->out[idx]) / l->w);
    r.y = (float)((loc / l->w + c->out[idx + hw]) / l->h);
    r.w = (float)(det_yolo_size(c->p, c->out[idx + 2 * hw]) * c->p->biases[2 * a] / c->netw);
    r.h = (float)(det_yolo_size(c->p, c->out[idx + 3 * hw]) * c->p->biases[2 * a + 1] / c->neth);
    return r;
}

static float clip_delta(float d, float max)
{
    if (!isfinite(d)) return 0;
    return d > max ? max : (d < -max ? -max : d);
}

/* counters_per_class's weight of class cls (1 without the key). */
static float class_weight(const det_params *p, int cls) { return p->class_mult ? p->class_mult[cls] : 1; }

/* Box deltas of anchor n at loc towards truth t, weighted by w (the truth class's
 * counters_per_class weight, on iou_normalizer as AlexeyAB); returns the plain IoU before
 * the step. */
static float delta_box(yctx *c, box t, float w, int n, int loc)
{
    const layer *l = c->l;
    det_params *p = c->p;
    int hw = l->w * l->h, a = p->mask[n];
    int idx = det_entry(l, p, c->b, n, 0, loc);
    box pred = pred_box(c, n, loc);
    float iou = box_iou(pred, t);
    const float *o = c->out;
    if (p->iou_loss == IOU_MSE) {
        float scale = w * p->iou_normalizer * (2 - t.w * t.h);
        float tx = t.x * l->w - loc % l->w, ty = t.y * l->h - loc / l->w;
        float tw = (float)log(t.w * c->netw / p->biases[2 * a]);
        float th = (float)log(t.h * c->neth / p->biases[2 * a + 1]);
        /* new_coords: x and y went through scale_x_y here, w and h are (2t)^2 anchors. */
        float sxy = p->new_coords ? p->scale_x_y : 1;
        if (p->new_coords) {
            tw = (float)sqrt(t.w * c->netw / (4 * p->biases[2 * a]));
            th = (float)sqrt(t.h * c->neth / (4 * p->biases[2 * a + 1]));
        }
        c->delta[idx] = sxy * scale * (tx - o[idx]);
        c->delta[idx + hw] = sxy * scale * (ty - o[idx + hw]);
        c->delta[idx + 2 * hw] = scale * (tw - o[idx + 2 * hw]);
        c->delta[idx + 3 * hw] = scale * (th - o[idx + 3 * hw]);
        return iou;
    }
    /* IoU family: delta = normalizer * d value / d box (it increases the IoU). As in
     * AlexeyAB, w and h are scaled by e^t (the exponential's derivative) and x, y are not
     * divided by the grid size, which is what its tuned iou_normalizer values assume. */
    dbox pd = {pred.x, pred.y, pred.w, pred.h}, td = {t.x, t.y, t.w, t.h}, g;
    double v = box_iou_kind(pd, td, p->iou_loss, &g);
    c->iou_cost += w * p->iou_normalizer * (1 - v);
    double k = w * p->iou_normalizer, jx = 1, jy = 1, jw = exp(o[idx + 2 * hw]), jh = exp(o[idx + 3 * hw]);
    if (p->new_coords) { /* d box / d input */
        jx = p->scale_x_y / l->w;
        jy = p->scale_x_y / l->h;
        jw = 8.0 * o[idx + 2 * hw] * p->biases[2 * a] / c->netw;
        jh = 8.0 * o[idx + 3 * hw] * p->biases[2 * a + 1] / c->neth;
    }
    c->delta[idx] = clip_delta((float)(k * g.x * jx), p->max_delta);
    c->delta[idx + hw] = clip_delta((float)(k * g.y * jy), p->max_delta);
    c->delta[idx + 2 * hw] = clip_delta((float)(k * g.w * jw), p->max_delta);
    c->delta[idx + 3 * hw] = clip_delta((float)(k * g.h * jh), p->max_delta);
    return iou;
}

/* AlexeyAB's focal loss on one truth's class entries (alpha .5, gamma 2 in his gradient
 * formula): each delta (target - output) is scaled by alpha * g, g = -(1 - pt)(2 pt ln pt +
 * pt - 1), pt the truth class's output. No label smoothing or class weights, as his. */
static void delta_class_focal(yctx *c, int idx, int cls, double *avg_cat)
{
    int hw = c->l->w * c->l->h;
    float ag = det_focal_factor(c->out[idx + hw * cls]);
    for (int k2 = 0; k2 < c->p->classes; ++k2)
        c->delta[idx + hw * k2] = ((k2 == cls ? 1.f : 0.f) - c->out[idx + hw * k2]) * ag;
    if (avg_cat) *avg_cat += c->out[idx + hw * cls];
}

/* pjreddie's delta_yolo_class: when the class deltas are already set (two truths in one
 * cell), only the new class is pushed up. Label smoothing moves the targets inwards. As
 * AlexeyAB's: the truth class's delta is weighted by counters_per_class, and cls_normalizer
 * multiplies it only together with that key (his classes_multipliers); without it
 * cls_normalizer has no effect (his stock cfgs set 1.0, scaled-YOLOv4's and yolov7's 0.5). */
static void delta_class(yctx *c, int n, int loc, int cls, double *avg_cat)
{
    det_params *p = c->p;
    int hw = c->l->w * c->l->h, idx = det_entry(c->l, p, c->b, n, 5, loc);
    float yes = 1, no = 0, w = class_weight(p, cls), kw = p->class_mult ? w * p->cls_normalizer : 1;
    if (p->label_smooth_eps > 0) {
        yes = 1 - .5f * p->label_smooth_eps;
        no = .5f * p->label_smooth_eps;
    }
    if (c->delta[idx]) { /* pjreddie tests the first class entry (AlexeyAB: the truth's) */
        c->delta[idx + hw * cls] = w * (yes - c->out[idx + hw * cls]);
        if (avg_cat) *avg_cat += c->out[idx + hw * cls];
        return;
    }
    if (p->focal_loss) {
        delta_class_focal(c, idx, cls, avg_cat);
        return;
    }
    for (int k2 = 0; k2 < p->classes; ++k2) {
        c->delta[idx + hw * k2] = (k2 == cls ? kw : 1) * ((k2 == cls ? yes : no) - c->out[idx + hw * k2]);
        if (k2 == cls && avg_cat) *avg_cat += c->out[idx + hw * k2];
    }
}

static int truth_class(const yctx *c, int t)
{
    float v = c->truth[t * 5 + 4];
    int cls = (int)v;
    return (cls >= 0 && cls < c->p->classes) ? cls : -1;
}

/* Step 1 for one (cell, anchor). */
static void objectness_pass(yctx *c, int n, int loc, int maxb)
{
    det_params *p = c->p;
    box pred = pred_box(c, n, loc);
    float best = 0;
    int best_t = 0;
    for (int t = 0; t < maxb; ++t) {
        box tb = truth_box(c->truth + t * 5);
        if (!tb.x) break;
        float iou = box_iou(pred, tb);
        if (iou > best) { best = iou; best_t = t; }
    }
    int obj = det_entry(c->l, p, c->b, n, 4, loc);
    p->st.anyobj += c->out[obj];
    c->delta[obj] = p->obj_normalizer * (0 - c->out[obj]);
    /* objectness_smooth: a prediction this good is pulled towards its IoU, not left alone. */
    if (best > p->ignore_thresh)
        c->delta[obj] = p->objectness_smooth ? p->obj_normalizer * (best - c->out[obj]) : 0;
    if (best > p->truth_thresh) {
        int cls = truth_class(c, best_t);
        if (cls < 0) return;
        float target = p->objectness_smooth ? best * best : 1;
        c->delta[obj] = p->obj_normalizer * (target - c->out[obj]);
        delta_class(c, n, loc, cls, NULL);
        if (p->objectness_smooth) {
            int ci = det_entry(c->l, p, c->b, n, 5 + cls, loc);
            c->delta[ci] = class_weight(p, cls) * (target - c->out[ci]);
        }
        delta_box(c, truth_box(c->truth + best_t * 5), class_weight(p, cls), n, loc);
    }
}

/* The anchor (of all num) whose shape best fits the truth. */
static int best_anchor(const yctx *c, box t)
{
    float best = 0;
    int best_n = 0;
    for (int n = 0; n < c->p->total; ++n) {
        float iou = box_shape_iou(c->p->biases[2 * n] / c->netw, c->p->biases[2 * n + 1] / c->neth,
                                  t.w, t.h);
        if (iou > best) { best = iou; best_n = n; }
    }
    return best_n;
}

static void assign(yctx *c, box t, int cls, int n, int loc)
{
    det_params *p = c->p;
    float iou = delta_box(c, t, class_weight(p, cls), n, loc);
    int obj = det_entry(c->l, p, c->b, n, 4, loc);
    p->st.obj += c->out[obj];
    /* objectness_smooth keeps a target the objectness pass already set (AlexeyAB). */
    if (!p->objectness_smooth || c->delta[obj] == 0)
        c->delta[obj] = p->obj_normalizer * (1 - c->out[obj]);
    delta_class(c, n, loc, cls, &p->st.cls);
    p->st.count++;
    p->st.class_count++;
    if (iou > .5f) p->st.recall += 1;
    if (iou > .75f) p->st.recall75 += 1;
    p->st.iou += iou;
}

/* Step 2 for one truth. */
static void truth_pass(yctx *c, int t)
{
    const layer *l = c->l;
    det_params *p = c->p;
    box tb = truth_box(c->truth + t * 5);
    int cls = truth_class(c, t);
    if (cls < 0 || tb.w <= 0 || tb.h <= 0) return;
    int i = (int)(tb.x * l->w), j = (int)(tb.y * l->h);
    if (i < 0) i = 0;
    if (i >= l->w) i = l->w - 1;
    if (j < 0) j = 0;
    if (j >= l->h) j = l->h - 1;
    int best_n = best_anchor(c, tb);
    for (int m = 0; m < p->n; ++m) {
        int a = p->mask[m], use = a == best_n;
        if (!use && p->iou_thresh < 1) {
            dbox ad = {0, 0, p->biases[2 * a] / c->netw, p->biases[2 * a + 1] / c->neth};
            dbox td = {0, 0, tb.w, tb.h};
            use = box_iou_kind(ad, td, p->iou_thresh_kind, NULL) > p->iou_thresh;
        }
        if (use) assign(c, tb, cls, m, j * l->w + i);
    }
}

/* Darknet's cost: the squared norm of the delta; with an IoU-family box loss the box
 * entries count as normalizer * (1 - value) instead. */
static double layer_cost(const yctx *c, int batch)
{
    const layer *l = c->l;
    const det_params *p = c->p;
    int hw = l->w * l->h;
    double s = 0;
    for (int b = 0; b < batch; ++b)
        for (int n = 0; n < p->n; ++n)
            for (int e = 0; e < 5 + p->classes; ++e) {
                if (p->iou_loss != IOU_MSE && e < 4) continue;
                const float *d = c->delta + det_entry(l, p, b, n, e, 0);
                for (int k = 0; k < hw; ++k) s += (double)d[k] * d[k];
            }
    return s + c->iou_cost;
}

float yolo_loss(const layer *l, det_params *p, layer_ctx *x)
{
    yctx c = {l, p, x->out, x->delta, NULL, 0, x->net->w, x->net->h, 0};
    int tstride = x->net->truths, maxb = p->max_boxes;
    if (maxb * 5 > tstride) maxb = tstride / 5;
    memset(&p->st, 0, sizeof(p->st));
    p->st.cells = l->w * l->h * p->n * x->batch;
    for (int b = 0; b < x->batch; ++b) {
        c.b = b;
        c.truth = x->truth + (size_t)b * tstride;
        for (int loc = 0; loc < l->w * l->h; ++loc)
            for (int n = 0; n < p->n; ++n) objectness_pass(&c, n, loc, maxb);
        for (int t = 0; t < maxb; ++t) {
            if (!c.truth[t * 5]) break;
            truth_pass(&c, t);
        }
    }
    return (float)layer_cost(&c, x->batch);
}

void det_print_stats(const layer *l, const det_params *p)
{
    const det_stats *s = &p->st;
    double cnt = s->count ? s->count : 1, cc = s->class_count ? s->class_count : 1;
    printf("Region %d Avg IOU: %f, Class: %f, Obj: %f, No Obj: %f, .5R: %f, .75R: %f,  count: %d\n",
           l->index, s->iou / cnt, s->cls / cc, s->obj / cnt, s->anyobj / (s->cells ? s->cells : 1),
           s->recall / cnt, s->recall75 / cnt, s->count);
}
