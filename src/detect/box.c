/* IoU and its GIoU / DIoU / CIoU variants, value and exact gradient with respect to the
 * predicted box. The gradient is derived edge by edge: the intersection and the enclosing
 * box are min/max of box edges, so each edge's derivative is an indicator of which box
 * supplies it. Ties (shared edges) pick one side; finite differences agree away from them. */
#include "detect/box.h"

#include <math.h>
#include <stddef.h>

/* pjreddie's float arithmetic, kept as is so ignore_thresh decisions match the oracle. */
static float overlap(float x1, float w1, float x2, float w2)
{
    float l1 = x1 - w1 / 2, l2 = x2 - w2 / 2;
    float left = l1 > l2 ? l1 : l2;
    float r1 = x1 + w1 / 2, r2 = x2 + w2 / 2;
    float right = r1 < r2 ? r1 : r2;
    return right - left;
}

float box_iou(box a, box b)
{
    float w = overlap(a.x, a.w, b.x, b.w), h = overlap(a.y, a.h, b.y, b.h);
    float inter = (w < 0 || h < 0) ? 0 : w * h;
    float uni = a.w * a.h + b.w * b.h - inter;
    return uni > 0 ? inter / uni : 0;
}

float box_shape_iou(float w1, float h1, float w2, float h2)
{
    box a = {0, 0, w1, h1}, b = {0, 0, w2, h2};
    return box_iou(a, b);
}

/* One axis: extent of the intersection and of the enclosing span, with their derivatives
 * with respect to the prediction's centre (dc) and size (ds). */
typedef struct {
    double in, in_dc, in_ds;   /* intersection length (clamped at 0) */
    double en, en_dc, en_ds;   /* enclosing length */
} axis;

static axis axis_of(double c, double s, double tc, double ts)
{
    axis a;
    double lo = c - s / 2, hi = c + s / 2, tlo = tc - ts / 2, thi = tc + ts / 2;
    int hi_mine = hi < thi, lo_mine = lo > tlo;      /* prediction supplies the edge */
    double ihi = hi_mine ? hi : thi, ilo = lo_mine ? lo : tlo;
    a.in = ihi - ilo;
    a.in_dc = (double)hi_mine - (double)lo_mine;
    a.in_ds = 0.5 * hi_mine + 0.5 * lo_mine;
    if (a.in <= 0) a.in = a.in_dc = a.in_ds = 0;
    int ehi_mine = hi >= thi, elo_mine = lo <= tlo;
    a.en = (ehi_mine ? hi : thi) - (elo_mine ? lo : tlo);
    a.en_dc = (double)ehi_mine - (double)elo_mine;
    a.en_ds = 0.5 * ehi_mine + 0.5 * elo_mine;
    return a;
}

/* Gradients are kept as 4-vectors over (x, y, w, h). */
typedef struct {
    double v, g[4];
} dval;

static dval iou_val(dbox a, dbox b, const axis *ax, const axis *ay)
{
    dval I = {ax->in * ay->in, {ax->in_dc * ay->in, ay->in_dc * ax->in, ax->in_ds * ay->in,
                                ay->in_ds * ax->in}};
    double area_g[4] = {0, 0, a.h, a.w};
    dval U = {a.w * a.h + b.w * b.h - I.v, {0}};
    for (int k = 0; k < 4; ++k) U.g[k] = area_g[k] - I.g[k];
    dval r = {I.v / U.v, {0}};
    for (int k = 0; k < 4; ++k) r.g[k] = (I.g[k] * U.v - I.v * U.g[k]) / (U.v * U.v);
    return r;
}

/* GIoU = IoU - (C - U) / C = IoU - 1 + U / C. */
static void add_giou(dval *r, dbox a, dbox b, const axis *ax, const axis *ay)
{
    double I = ax->in * ay->in, U = a.w * a.h + b.w * b.h - I;
    double Ig[4] = {ax->in_dc * ay->in, ay->in_dc * ax->in, ax->in_ds * ay->in, ay->in_ds * ax->in};
    double Ug[4] = {-Ig[0], -Ig[1], a.h - Ig[2], a.w - Ig[3]};
    double C = ax->en * ay->en;
    double Cg[4] = {ax->en_dc * ay->en, ay->en_dc * ax->en, ax->en_ds * ay->en, ay->en_ds * ax->en};
    r->v += U / C - 1;
    for (int k = 0; k < 4; ++k) r->g[k] += (Ug[k] * C - U * Cg[k]) / (C * C);
}

/* DIoU = IoU - rho^2 / c^2: centre distance over the enclosing box's squared diagonal. */
static void add_diou(dval *r, dbox a, dbox b, const axis *ax, const axis *ay)
{
    double dx = a.x - b.x, dy = a.y - b.y;
    double rho = dx * dx + dy * dy, rg[4] = {2 * dx, 2 * dy, 0, 0};
    double c = ax->en * ax->en + ay->en * ay->en;
    double cg[4] = {2 * ax->en * ax->en_dc, 2 * ay->en * ay->en_dc, 2 * ax->en * ax->en_ds,
                    2 * ay->en * ay->en_ds};
    r->v -= rho / c;
    for (int k = 0; k < 4; ++k) r->g[k] -= (rg[k] * c - rho * cg[k]) / (c * c);
}

/* CIoU = DIoU - alpha v, v = 4/pi^2 (atan(wt/ht) - atan(w/h))^2, alpha = v / (1 - IoU + v).
 * alpha v = v^2 / S is differentiated in full (alpha is not held constant), so the value
 * and its gradient agree exactly. */
static void add_ciou(dval *r, const dval *iou, dbox a, dbox b)
{
    double k4 = 4 / (M_PI * M_PI);
    double d = atan(b.w / b.h) - atan(a.w / a.h);
    double v = k4 * d * d, n2 = a.w * a.w + a.h * a.h;
    double vg[4] = {0, 0, -2 * k4 * d * a.h / n2, 2 * k4 * d * a.w / n2};
    double S = 1 - iou->v + v;
    if (S <= 0) return; /* identical boxes: v = 0 and nothing to add */
    r->v -= v * v / S;
    for (int k = 0; k < 4; ++k) {
        double Sg = -iou->g[k] + vg[k];
        r->g[k] -= (2 * v * vg[k] * S - v * v * Sg) / (S * S);
    }
}

double box_iou_kind(dbox a, dbox b, iou_kind kind, dbox *grad)
{
    dval r = {0, {0, 0, 0, 0}};
    if (a.w > 0 && a.h > 0 && b.w > 0 && b.h > 0) {
        axis ax = axis_of(a.x, a.w, b.x, b.w), ay = axis_of(a.y, a.h, b.y, b.h);
        dval iou = iou_val(a, b, &ax, &ay);
        r = iou;
        if (kind == IOU_GIOU) add_giou(&r, a, b, &ax, &ay);
        if (kind == IOU_DIOU || kind == IOU_CIOU) add_diou(&r, a, b, &ax, &ay);
        if (kind == IOU_CIOU) add_ciou(&r, &iou, a, b);
    }
    if (grad) {
        grad->x = r.g[0];
        grad->y = r.g[1];
        grad->w = r.g[2];
        grad->h = r.g[3];
    }
    return r.v;
}

static dbox to_d(box a) { return (dbox){a.x, a.y, a.w, a.h}; }

float box_giou(box a, box b) { return (float)box_iou_kind(to_d(a), to_d(b), IOU_GIOU, NULL); }
float box_diou(box a, box b) { return (float)box_iou_kind(to_d(a), to_d(b), IOU_DIOU, NULL); }
float box_ciou(box a, box b) { return (float)box_iou_kind(to_d(a), to_d(b), IOU_CIOU, NULL); }
