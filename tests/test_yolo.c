/* [yolo] layer: cfg validation messages, the loss deltas of one responsible cell for the
 * MSE and IoU-family box losses (against formulas computed here, the IoU gradients being
 * checked against finite differences in test_box), and that a step along the delta raises
 * the IoU. The full layer is also compared with Debian's libdarknet in test_diff_darknet. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/box.h"
#include "common/testutil.h"
#include "core/network.h"
#include "detect/detect_layers.h"

static void filters_mismatch_names_line_and_value(void **s)
{
    (void)s;
    const char *e = tu_net_error("[net]\nwidth=8\nheight=8\nchannels=3\n"
                                 "[convolutional]\nfilters=20\nsize=1\nactivation=linear\n"
                                 "[yolo]\nmask=0,1\nnum=2\nanchors=1,1,2,2\nclasses=3\n");
    assert_non_null(strstr(e, "bad.cfg:5"));
    assert_non_null(strstr(e, "filters=20"));
    assert_non_null(strstr(e, "set filters=16"));
}

static void bad_enum_values_list_allowed(void **s)
{
    (void)s;
    const char *base = "[net]\nwidth=4\nheight=4\nchannels=6\n[yolo]\nnum=1\nclasses=1\n";
    char cfg[512];
    snprintf(cfg, sizeof(cfg), "%smask=0\niou_loss=l2\n", base);
    const char *e = tu_net_error(cfg);
    assert_non_null(strstr(e, "iou_loss"));
    assert_non_null(strstr(e, "ciou"));
    snprintf(cfg, sizeof(cfg), "%smask=0\nnms_kind=fast\n", base);
    e = tu_net_error(cfg);
    assert_non_null(strstr(e, "greedynms"));
    snprintf(cfg, sizeof(cfg), "%smask=0,3\n", base);
    e = tu_net_error(cfg);
    assert_non_null(strstr(e, "mask"));
}

/* 4x4 grid fed straight from the input: one anchor of 2x2 pixels, `classes` classes, the
 * truth of class 0. */
static network *yolo_n(int classes, const char *extra)
{
    char cfg[512];
    snprintf(cfg, sizeof(cfg),
             "[net]\nwidth=4\nheight=4\nchannels=%d\n[yolo]\nmask=0\nnum=1\nanchors=2,2\n"
             "classes=%d\nignore_thresh=1\nshow_details=0\n%s\n", 5 + classes, classes, extra);
    network *net = tu_net_from_text(cfg, 1);
    tu_fill_uniform(net->input, (size_t)net->inputs, -1, 1, 42);
    memset(net->truth, 0, sizeof(float) * (size_t)net->truths);
    const float t[5] = {.40f, .60f, .30f, .40f, 0};
    memcpy(net->truth, t, sizeof(t));
    assert_int_equal(network_forward(net, net->input, 1), 0);
    return net;
}

static network *tiny_yolo(const char *extra) { return yolo_n(1, extra); }
static network *two_class_yolo(const char *extra) { return yolo_n(2, extra); }

static const float *delta_of(network *net)
{
    return (const float *)((char *)net->arena + net->plan.delta[0].off);
}

static const float *out_of(network *net)
{
    return (const float *)((char *)net->arena + net->plan.out[0].off);
}

/* Cell of the truth centre (.4, .6) on the 4x4 grid: i=1, j=2. */
#define LOC (2 * 4 + 1)
#define HW 16

static dbox pred_of(const float *o, const float *raw)
{
    dbox p = {(1 + o[LOC]) / 4.0, (2 + o[HW + LOC]) / 4.0, exp(raw[2 * HW + LOC]) * 2 / 4.0,
              exp(raw[3 * HW + LOC]) * 2 / 4.0};
    return p;
}

static void mse_deltas(void **s)
{
    (void)s;
    network *net = tiny_yolo("iou_normalizer=1");
    const float *o = out_of(net), *d = delta_of(net), *raw = net->input;
    double scale = 2 - .3 * .4;
    assert_float_equal(d[LOC], scale * (.4 * 4 - 1 - o[LOC]), 1e-5);
    assert_float_equal(d[HW + LOC], scale * (.6 * 4 - 2 - o[HW + LOC]), 1e-5);
    assert_float_equal(d[2 * HW + LOC], scale * (log(.3 * 4 / 2) - raw[2 * HW + LOC]), 1e-5);
    assert_float_equal(d[4 * HW + LOC], 1 - o[4 * HW + LOC], 1e-6);
    assert_float_equal(d[5 * HW + LOC], 1 - o[5 * HW + LOC], 1e-6);
    assert_float_equal(d[4 * HW + 0], -o[4 * HW + 0], 1e-6); /* another cell: no object */
    /* logistic applied to x, y, obj, class; w and h raw */
    assert_float_equal(o[3], 1 / (1 + exp(-raw[3])), 1e-6);
    assert_float_equal(o[2 * HW + 3], raw[2 * HW + 3], 0);
    double cost = 0;
    for (int k = 0; k < 6 * HW; ++k) cost += (double)d[k] * d[k];
    assert_float_equal(net->layers[0].cost, cost, 1e-4 * cost);
    free_network(net);
}

static void iou_family_deltas(iou_kind kind, const char *name)
{
    char extra[128];
    snprintf(extra, sizeof(extra), "iou_loss=%s\niou_normalizer=0.5", name);
    network *net = tiny_yolo(extra);
    const float *o = out_of(net), *d = delta_of(net), *raw = net->input;
    dbox p = pred_of(o, raw), t = {.4, .6, .3, .4}, g;
    double v = box_iou_kind(p, t, kind, &g);
    assert_float_equal(d[LOC], .5 * g.x, 1e-5);
    assert_float_equal(d[HW + LOC], .5 * g.y, 1e-5);
    assert_float_equal(d[2 * HW + LOC], .5 * g.w * exp(raw[2 * HW + LOC]), 1e-5);
    assert_float_equal(d[3 * HW + LOC], .5 * g.h * exp(raw[3 * HW + LOC]), 1e-5);
    double cost = .5 * (1 - v);
    for (int e = 4; e < 6; ++e)
        for (int k = 0; k < HW; ++k) cost += (double)d[e * HW + k] * d[e * HW + k];
    assert_float_equal(net->layers[0].cost, cost, 1e-4 * cost);
    /* a small step of the raw w, h along the delta raises the value */
    float step[4] = {raw[LOC], raw[HW + LOC], raw[2 * HW + LOC] + 1e-3f * d[2 * HW + LOC],
                     raw[3 * HW + LOC] + 1e-3f * d[3 * HW + LOC]};
    dbox q = {p.x, p.y, exp(step[2]) * .5, exp(step[3]) * .5};
    assert_true(box_iou_kind(q, t, kind, NULL) > v);
    free_network(net);
}

/* counters_per_class (AlexeyAB): class c's weight is max(count) / count[c], at most
 * max_delta; it multiplies the truth's box deltas (through iou_normalizer) and its class
 * delta, nothing else. Against the same layer without the key. */
static void counters_per_class_weights(void **s)
{
    (void)s;
    network *a = two_class_yolo("iou_normalizer=1");
    const float *da = delta_of(a);
    const char *extra[] = {"counters_per_class=10,40", "counters_per_class=1,1000\nmax_delta=3",
                           "counters_per_class=40,10", "counters_per_class=10,40\niou_loss=ciou"};
    const float weight[] = {4, 3, 1, 4};
    for (int k = 0; k < 4; ++k) {
        network *b = two_class_yolo(extra[k]);
        const float *db = delta_of(b);
        network *ref = k == 3 ? two_class_yolo("iou_loss=ciou") : NULL;
        const float *dr = ref ? delta_of(ref) : da;
        for (int e = 0; e < 7 * HW; ++e) {
            int weighted = (e % HW == LOC) && (e / HW < 4 || e / HW == 5);
            assert_float_equal(db[e], (weighted ? weight[k] : 1) * dr[e], 1e-6 + 1e-6 * fabs(dr[e]));
        }
        assert_true(fabsf(dr[5 * HW + LOC]) > 0 && fabsf(dr[LOC]) > 0); /* the weighted ones move */
        free_network(b);
        free_network(ref);
    }
    free_network(a);
    const char *e = tu_net_error("[net]\nwidth=4\nheight=4\nchannels=7\n[yolo]\nmask=0\nnum=1\n"
                                 "classes=2\ncounters_per_class=1,2,3\n");
    assert_non_null(strstr(e, "counters_per_class=1,2,3: 3 counts for classes=2: give one per class"));
}

/* cls_normalizer, as AlexeyAB's delta_yolo_class: without counters_per_class it changes
 * nothing; with it, it multiplies the truth class's delta (with the class weight) and no
 * other class entry. */
static void cls_normalizer_with_counters_only(void **s)
{
    (void)s;
    network *a = two_class_yolo("iou_normalizer=1"), *b = two_class_yolo("iou_normalizer=1\ncls_normalizer=.5");
    assert_memory_equal(delta_of(a), delta_of(b), 7 * HW * sizeof(float));
    network *c = two_class_yolo("iou_normalizer=1\ncls_normalizer=.5\ncounters_per_class=10,40");
    const float *da = delta_of(a), *dc = delta_of(c);
    for (int e = 0; e < 7 * HW; ++e) {
        float k = e % HW != LOC ? 1 : e / HW < 4 ? 4 : e / HW == 5 ? 4 * .5f : 1;
        assert_float_equal(dc[e], k * da[e], 1e-6 + 1e-6 * fabs(da[e]));
    }
    assert_true(fabsf(da[6 * HW + LOC]) > 0); /* the other class's entry moves, unscaled */
    free_network(a), free_network(b), free_network(c);
}

/* focal_loss=1 (AlexeyAB's): the truth's class entries become (target - output) * .5 * g,
 * g = -(1 - pt)(2 pt ln pt + pt - 1), pt the truth class's output (written here in double);
 * every other entry is the plain layer's. */
static void focal_loss_class_deltas(void **s)
{
    (void)s;
    network *a = two_class_yolo("iou_normalizer=1"), *f = two_class_yolo("iou_normalizer=1\nfocal_loss=1");
    const float *da = delta_of(a), *df = delta_of(f), *o = out_of(f);
    double pt = o[5 * HW + LOC], g = -(1 - pt) * (2 * pt * log(pt) + pt - 1);
    for (int e = 0; e < 7 * HW; ++e) {
        double want = da[e];
        if (e == 5 * HW + LOC) want = (1 - o[e]) * .5 * g;
        if (e == 6 * HW + LOC) want = (0 - o[e]) * .5 * g;
        assert_float_equal(df[e], want, 1e-6 + 1e-5 * fabs(want));
    }
    assert_true(fabs(g) > 1e-3 && fabs(g - 1) > 1e-3); /* a factor that shows */
    free_network(a), free_network(f);
}

/* [Gaussian_yolo] detection (AlexeyAB's get_gaussian_yolo_detections), written out in
 * double: entries x, sx, y, sy, w, sw, h, sh, objectness, classes; all logistic but w and
 * h; x, y through scale_x_y; each class scored objectness * class * (1 - mean of the four
 * uncertainties). Training refuses it (its loss is not implemented). */
static double lg(double z) { return 1 / (1 + exp(-z)); }

static void gaussian_yolo_boxes(void **s)
{
    (void)s;
    const char *cfg = "[net]\nwidth=4\nheight=4\nchannels=11\n[Gaussian_yolo]\nmask=0\nnum=1\n"
                      "anchors=2,3\nclasses=2\nscale_x_y=1.1\n";
    network *net = tu_net_from_text(cfg, 1);
    tu_fill_uniform(net->input, (size_t)net->inputs, -2, 2, 9);
    float z[11 * HW];
    memcpy(z, net->input, sizeof z);
    assert_int_equal(network_forward(net, net->input, 0), 0);
    const float *o = network_layer_output(net, 0);
    detection d[HW];
    float prob[HW][2];
    for (int i = 0; i < HW; ++i) d[i].prob = prob[i];
    float thresh = .05f;
    int n = yolo_get_boxes(&net->layers[0], o, 4, 4, thresh, d), k = 0;
    for (int loc = 0; loc < HW; ++loc) {
        double obj = lg(z[8 * HW + loc]);
        if (!(obj > thresh)) continue;
        assert_true(k < n);
        double uc = (lg(z[HW + loc]) + lg(z[3 * HW + loc]) + lg(z[5 * HW + loc]) + lg(z[7 * HW + loc])) / 4;
        double x = (loc % 4 + lg(z[loc]) * 1.1 - .05) / 4, y = (loc / 4 + lg(z[2 * HW + loc]) * 1.1 - .05) / 4;
        double w = exp(z[4 * HW + loc]) * 2 / 4, h = exp(z[6 * HW + loc]) * 3 / 4;
        assert_float_equal(d[k].bbox.x, x, 1e-6);
        assert_float_equal(d[k].bbox.y, y, 1e-6);
        assert_float_equal(d[k].bbox.w, w, 1e-5 * w);
        assert_float_equal(d[k].bbox.h, h, 1e-5 * h);
        assert_float_equal(d[k].objectness, obj, 1e-6);
        for (int c = 0; c < 2; ++c) {
            double p = obj * lg(z[(9 + c) * HW + loc]) * (1 - uc);
            assert_float_equal(d[k].prob[c], p > thresh ? p : 0, 1e-6);
        }
        ++k;
    }
    assert_int_equal(k, n);
    assert_true(n > 2);
    char err[512];
    assert_int_equal(network_prepare(net, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "[Gaussian_yolo]: its loss is not implemented here, so this cfg cannot train"));
    free_network(net);
    const char *e = tu_net_error("[net]\nwidth=4\nheight=4\nchannels=7\n[Gaussian_yolo]\nmask=0\nnum=1\nclasses=2\n");
    assert_non_null(strstr(e, "must be len(mask) * (classes + 9) = 1 * (2 + 9) = 11"));
}

static void giou_deltas(void **s) { (void)s; iou_family_deltas(IOU_GIOU, "giou"); }
static void diou_deltas(void **s) { (void)s; iou_family_deltas(IOU_DIOU, "diou"); }
static void ciou_deltas(void **s) { (void)s; iou_family_deltas(IOU_CIOU, "ciou"); }

/* The loss whose gradient Darknet's [yolo] delta is (pjreddie's yolo_layer.c, MSE boxes),
 * written here in float64 over the layer's raw input z for one anchor of 2x2 pixels, one
 * class, the 4x4 grid and the truth box of tiny_yolo (responsible cell i=1, j=2), no
 * ignore_thresh: logistic x, y, objectness and class take the cross-entropy
 * -t log s(z) - (1-t) log(1-s(z)) (their delta t - s(z) is its negative derivative), w and
 * h the squared error 1/2 (t - z)^2, the box terms weighted by scale = 2 - w h. */
static double bce(double t, double zv)
{
    double sg = 1 / (1 + exp(-zv));
    return -t * log(sg) - (1 - t) * log(1 - sg);
}

static double yolo_loss(const double *z)
{
    const int resp = LOC;
    double scale = 2 - .3 * .4, L = 0;
    for (int c = 0; c < HW; ++c) L += bce(c == resp, z[4 * HW + c]); /* objectness */
    L += scale * bce(.4 * 4 - 1, z[resp]) + scale * bce(.6 * 4 - 2, z[HW + resp]);
    L += .5 * scale * pow(log(.3 * 4 / 2) - z[2 * HW + resp], 2);
    L += .5 * scale * pow(log(.4 * 4 / 2) - z[3 * HW + resp], 2);
    L += bce(1, z[5 * HW + resp]); /* class 0 */
    return L;
}

/* A conv feeds [yolo]: the conv's delta (what yolo's backward passed down) equals the
 * negative central finite difference of yolo_loss at the conv's output, every element. */
static void backward_passes_delta(void **s)
{
    (void)s;
    const char *cfg = "[net]\nwidth=4\nheight=4\nchannels=3\n"
                      "[convolutional]\nfilters=6\nsize=1\nactivation=linear\n"
                      "[yolo]\nmask=0\nnum=1\nanchors=2,2\nclasses=1\nshow_details=0\n"
                      "ignore_thresh=1\niou_normalizer=1\n";
    network *net = tu_net_from_text(cfg, 1);
    tu_capture c;
    tu_capture_on(&c, net);
    tu_fill_uniform(net->input, (size_t)net->inputs, 0, 1, 3);
    const float t[5] = {.40f, .60f, .30f, .40f, 0};
    memcpy(net->truth, t, sizeof(t));
    assert_int_equal(network_forward(net, net->input, 1), 0);
    assert_true(net->cost > 0);
    assert_int_equal(network_backward(net), 0);
    size_t n = (size_t)net->layers[0].outputs;
    assert_int_equal(c.nout[0], n);
    assert_int_equal(c.ndelta[0], n);
    double *z = malloc(n * sizeof(double)), h = 1e-4, worst = 0, gmax = 0;
    for (size_t k = 0; k < n; ++k) z[k] = c.out[0][k];
    for (size_t k = 0; k < n; ++k) {
        double keep = z[k];
        z[k] = keep + h;
        double hi = yolo_loss(z);
        z[k] = keep - h;
        double lo = yolo_loss(z);
        z[k] = keep;
        double fd = -(hi - lo) / (2 * h), err = fabs(fd - c.delta[0][k]);
        if (fabs(fd) > gmax) gmax = fabs(fd);
        if (err > worst) worst = err;
        if (err > 1e-4 * (1 + fabs(fd)))
            fail_msg("delta[%zu] (channel %zu, cell %zu): %g, -dL/dz %g", k, k / HW, k % HW,
                     (double)c.delta[0][k], fd);
    }
    print_message("yolo delta vs finite differences: max error %.2g (largest %.3g)\n", worst, gmax);
    assert_true(gmax > 0.1);
    free(z);
    tu_capture_free(&c);
    free_network(net);
}

int main(void)
{
    darknet_set_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filters_mismatch_names_line_and_value),
        cmocka_unit_test(bad_enum_values_list_allowed),
        cmocka_unit_test(mse_deltas),
        cmocka_unit_test(giou_deltas),
        cmocka_unit_test(diou_deltas),
        cmocka_unit_test(ciou_deltas),
        cmocka_unit_test(backward_passes_delta),
        cmocka_unit_test(counters_per_class_weights),
        cmocka_unit_test(cls_normalizer_with_counters_only),
        cmocka_unit_test(focal_loss_class_deltas),
        cmocka_unit_test(gaussian_yolo_boxes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
