/* [yolo] new_coords=1 (scaled-YOLOv4 / yolov7 boxes) and objectness_smooth.
 * The layer's delta must be minus the gradient, with respect to its input (a logistic
 * output of the layer before), of the loss written out here in double from AlexeyAB's
 * decoding: x = (i + s t - (s - 1) / 2) / lw, w = 4 t^2 anchor / netw; objectness and
 * class entries 1/2 (target - t)^2 (the cfg's cls_normalizer=.6 does not apply: AlexeyAB's
 * delta_yolo_class uses it only with counters_per_class); the box k (1 - IoU) (IoU family, box_iou_kind being
 * checked against finite differences in test_box) or k scale/2 (target - t')^2 (MSE).
 * The gradient is taken by central finite differences in float64. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"
#include "detect/box.h"

/* 4x4 grid on a 4x4 input, two anchors, one class; the truth's shape picks anchor 0. */
#define G 4
#define HW (G * G)
#define NA 2
#define ENT 6
static const double anchors[2 * NA] = {1.2, 1.6, 3.0, 3.0};
static const double truth[4] = {.40, .60, .30, .40};
#define LOC (2 * G + 1) /* cell of the truth centre: i=1, j=2 */
#define KO .7
#define KC 1.0 /* not the cfg's cls_normalizer (see the top) */
#define KI .5
#define SXY 2.0

static double sq(double v) { return v * v; }

/* The loss of one sample as a function of the layer's input t (HW * NA * ENT values). */
static double loss_of(const double *t, iou_kind kind)
{
    double L = 0;
    for (int n = 0; n < NA; ++n)
        for (int loc = 0; loc < HW; ++loc) {
            const double *e = t + n * ENT * HW + loc;
            if (!(n == 0 && loc == LOC)) { L += KO / 2 * sq(e[4 * HW]); continue; }
            L += KO / 2 * sq(1 - e[4 * HW]) + KC / 2 * sq(1 - e[5 * HW]);
            double x = SXY * e[0] - (SXY - 1) / 2, y = SXY * e[HW] - (SXY - 1) / 2;
            if (kind == IOU_MSE) {
                double scale = KI * (2 - truth[2] * truth[3]);
                double tx = truth[0] * G - 1, ty = truth[1] * G - 2;
                double tw = sqrt(truth[2] * G / (4 * anchors[0]));
                double th = sqrt(truth[3] * G / (4 * anchors[1]));
                L += scale / 2 * (sq(tx - x) + sq(ty - y) + sq(tw - e[2 * HW]) + sq(th - e[3 * HW]));
                continue;
            }
            dbox p = {(1 + x) / G, (2 + y) / G, 4 * sq(e[2 * HW]) * anchors[0] / G,
                      4 * sq(e[3 * HW]) * anchors[1] / G};
            dbox tb = {truth[0], truth[1], truth[2], truth[3]};
            L += KI * (1 - box_iou_kind(p, tb, kind, NULL));
        }
    return L;
}

static network *newcoords_net(const char *extra)
{
    char cfg[768];
    snprintf(cfg, sizeof(cfg),
             "[net]\nwidth=4\nheight=4\nchannels=12\n[yolo]\nmask=0,1\nnum=2\n"
             "anchors=1.2,1.6,3,3\nclasses=1\nshow_details=0\nnew_coords=1\n"
             "scale_x_y=2\nobj_normalizer=.7\ncls_normalizer=.6\niou_normalizer=.5\n%s\n", extra);
    network *net = tu_net_from_text(cfg, 1);
    /* a logistic output, away from 0 so no box is degenerate */
    tu_fill_uniform(net->input, (size_t)net->inputs, .1f, .9f, 7);
    memset(net->truth, 0, sizeof(float) * (size_t)net->truths);
    const float t[5] = {(float)truth[0], (float)truth[1], (float)truth[2], (float)truth[3], 0};
    memcpy(net->truth, t, sizeof(t));
    assert_int_equal(network_forward(net, net->input, 1), 0);
    return net;
}

static const float *delta_of(network *net)
{
    return (const float *)((char *)net->arena + net->plan.delta[0].off);
}

static void check_fd(iou_kind kind, const char *extra)
{
    network *net = newcoords_net(extra);
    const float *d = delta_of(net);
    int n = net->inputs;
    double *t = malloc(sizeof(double) * (size_t)n);
    assert_non_null(t);
    for (int k = 0; k < n; ++k) t[k] = net->input[k];
    double worst = 0;
    for (int k = 0; k < n; ++k) {
        const double h = 1e-6;
        double keep = t[k];
        t[k] = keep + h;
        double lp = loss_of(t, kind);
        t[k] = keep - h;
        double lm = loss_of(t, kind);
        t[k] = keep;
        double g = -(lp - lm) / (2 * h);
        double err = fabs(d[k] - g) / (1e-3 + fabs(g));
        if (err > worst) worst = err;
        if (err > 1e-4) print_error("entry %d: delta %g, -dL/dt %g\n", k, d[k], g);
        assert_true(err <= 1e-4);
    }
    /* the box entries of the responsible anchor carry a gradient at all */
    double box = 0;
    for (int e = 0; e < 4; ++e) box += fabs(d[e * HW + LOC]);
    assert_true(box > 1e-3);
    free(t);
    free_network(net);
}

static void ciou_gradient(void **s) { (void)s; check_fd(IOU_CIOU, "iou_loss=ciou\nignore_thresh=1"); }
static void giou_gradient(void **s) { (void)s; check_fd(IOU_GIOU, "iou_loss=giou\nignore_thresh=1"); }
static void mse_gradient(void **s) { (void)s; check_fd(IOU_MSE, "iou_loss=mse\nignore_thresh=1"); }

/* Forward leaves w, h, objectness and classes as they come; only x, y are rescaled. */
static void forward_no_logistic(void **s)
{
    (void)s;
    network *net = newcoords_net("iou_loss=ciou\nignore_thresh=1");
    const float *o = (const float *)((char *)net->arena + net->plan.out[0].off), *in = net->input;
    for (int k = 0; k < net->inputs; ++k) {
        int e = (k / HW) % ENT;
        double want = e < 2 ? SXY * in[k] - (SXY - 1) / 2 : in[k];
        assert_float_equal(o[k], want, 1e-6);
    }
    free_network(net);
}

/* objectness_smooth (AlexeyAB): a cell whose box beats ignore_thresh is pulled towards its
 * IoU; the responsible anchor keeps that target instead of 1. */
static void objectness_smooth_targets(void **s)
{
    (void)s;
    network *net = newcoords_net("iou_loss=ciou\nobjectness_smooth=1\nignore_thresh=.02");
    const float *o = (const float *)((char *)net->arena + net->plan.out[0].off), *d = delta_of(net);
    dbox tb = {truth[0], truth[1], truth[2], truth[3]};
    int above = 0, below = 0;
    for (int n = 0; n < NA; ++n)
        for (int loc = 0; loc < HW; ++loc) {
            const float *e = o + n * ENT * HW + loc;
            dbox p = {(loc % G + e[0]) / G, (loc / G + e[HW]) / G,
                      4 * sq(e[2 * HW]) * anchors[2 * n] / G, 4 * sq(e[3 * HW]) * anchors[2 * n + 1] / G};
            double iou = box_iou_kind(p, tb, IOU_IOU, NULL), obj = e[4 * HW];
            double want = iou > .02 ? KO * (iou - obj) : -KO * obj;
            above += iou > .02;
            below += iou <= .02;
            assert_float_equal(d[n * ENT * HW + 4 * HW + loc], want, 1e-5);
        }
    assert_true(above > 0 && below > 0); /* cells on both sides of ignore_thresh */
    free_network(net);
    /* without the key the responsible anchor is pulled to 1 */
    net = newcoords_net("iou_loss=ciou\nignore_thresh=.02");
    o = (const float *)((char *)net->arena + net->plan.out[0].off);
    assert_float_equal(delta_of(net)[4 * HW + LOC], KO * (1 - o[4 * HW + LOC]), 1e-6);
    free_network(net);
}

static void bad_values_rejected(void **s)
{
    (void)s;
    const char *e = tu_net_error("[net]\nwidth=4\nheight=4\nchannels=6\n[yolo]\nmask=0\nnum=1\n"
                                 "classes=1\nnew_coords=2\n");
    assert_non_null(strstr(e, "new_coords"));
}

int main(void)
{
    darknet_set_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ciou_gradient),         cmocka_unit_test(giou_gradient),
        cmocka_unit_test(mse_gradient),          cmocka_unit_test(forward_no_logistic),
        cmocka_unit_test(objectness_smooth_targets), cmocka_unit_test(bad_values_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
