/* Average precision on hand-made detections whose AP is worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "detect/map.h"

/* Three truths in two images. Detections by score:
 *   .9 img0 on truth A      TP   P=1    R=1/3
 *   .8 img0 far away        FP   P=1/2  R=1/3
 *   .7 img1 on truth C      TP   P=2/3  R=2/3
 *   .6 img0 on A again      FP (A already matched)  P=1/2 R=2/3
 *   .5 img1 half off C      FP (IoU 1/3 < .5)       P=2/5 R=2/3
 * Truth B is never found, so recall stops at 2/3.
 * All points: 1/3 * 1 + 1/3 * 2/3 = 5/9.
 * 11 points: recall >= 0, .1, .2, .3 -> 1 (4 points); .4, .5, .6 -> 2/3 (3); above 2/3 -> 0.
 *   (4 + 2) / 11 = 6/11.
 * 101 points: r = 0..0.33 (34 points) -> 1; .34 .. .66 (33 points) -> 2/3; (34 + 22) / 101. */
static map_truth truth[3] = {
    {0, {.2f, .2f, .2f, .2f}}, {0, {.7f, .7f, .2f, .2f}}, {1, {.5f, .5f, .4f, .4f}}};

static void fill(map_det *d)
{
    map_det v[5] = {{.9f, 0, {.2f, .2f, .2f, .2f}}, {.8f, 0, {.9f, .1f, .1f, .1f}},
                    {.7f, 1, {.5f, .5f, .4f, .4f}}, {.6f, 0, {.21f, .2f, .2f, .2f}},
                    {.5f, 1, {.7f, .5f, .4f, .4f}}};
    /* shuffled on purpose: the function sorts */
    int order[5] = {3, 0, 4, 2, 1};
    for (int i = 0; i < 5; ++i) d[i] = v[order[i]];
}

static void ap_all_points(void **s)
{
    (void)s;
    map_det d[5];
    fill(d);
    map_result r;
    assert_int_equal(map_class_ap(d, 5, truth, 3, .5f, 0, &r), 0);
    assert_int_equal(r.tp, 2);
    assert_int_equal(r.fp, 3);
    assert_float_equal(r.ap, 5.0 / 9, 1e-9);
}

static void ap_11_points(void **s)
{
    (void)s;
    map_det d[5];
    fill(d);
    map_result r;
    assert_int_equal(map_class_ap(d, 5, truth, 3, .5f, 11, &r), 0);
    assert_float_equal(r.ap, 6.0 / 11, 1e-9);
}

static void ap_101_points(void **s)
{
    (void)s;
    map_det d[5];
    fill(d);
    map_result r;
    assert_int_equal(map_class_ap(d, 5, truth, 3, .5f, 101, &r), 0);
    assert_float_equal(r.ap, (34 + 33 * 2.0 / 3) / 101, 1e-9);
}

static void perfect_and_empty(void **s)
{
    (void)s;
    map_det d[3] = {{.9f, 0, truth[0].b}, {.8f, 0, truth[1].b}, {.7f, 1, truth[2].b}};
    map_result r;
    assert_int_equal(map_class_ap(d, 3, truth, 3, .5f, 0, &r), 0);
    assert_float_equal(r.ap, 1, 1e-12);
    assert_int_equal(map_class_ap(d, 0, truth, 3, .5f, 0, &r), 0);
    assert_float_equal(r.ap, 0, 0);
    assert_int_equal(map_class_ap(d, 3, truth, 0, .5f, 0, &r), 0);
    assert_float_equal(r.ap, 0, 0);
}

/* AlexeyAB's counts at a confidence threshold (map_count_conf), on hand-made images whose
 * answers follow from his rules: two classes, IoU threshold .5, conf .25. */
typedef struct {
    map_conf_counts cc;
    int tp[2], fp[2];
} counts;

static void count(counts *k, const box *b, const float (*p)[2], int n, const map_label *t, int nt)
{
    detection d[8];
    float prob[8][2];
    for (int j = 0; j < n; ++j) {
        prob[j][0] = p[j][0];
        prob[j][1] = p[j][1];
        d[j] = (detection){.bbox = b[j], .classes = 2, .prob = prob[j]};
    }
    k->cc.tp = k->tp;
    k->cc.fp = k->fp;
    assert_int_equal(map_count_conf(&k->cc, d, n, 2, t, nt, .5f, .25f), 0);
}

static const map_label labels[2] = {{{.5f, .5f, .2f, .2f}, 0}, {{.2f, .2f, .1f, .1f}, 1}};

static void conf_counts_rules(void **s)
{
    (void)s;
    const box t0 = labels[0].b;
    /* the truth found once (TP, IoU 1), found again (FP), and by a box of the other class
     * over it, whose own truth is elsewhere (FP) */
    counts a = {0};
    const box ba[3] = {t0, t0, t0};
    const float pa[3][2] = {{.9f, 0}, {.8f, 0}, {0, .7f}};
    count(&a, ba, pa, 3, labels, 2);
    assert_int_equal(a.tp[0], 1);
    assert_int_equal(a.fp[0], 1);
    assert_int_equal(a.tp[1], 0);
    assert_int_equal(a.fp[1], 1);
    assert_int_equal(a.cc.tp_all, 1);
    assert_int_equal(a.cc.fp_all, 2);
    assert_int_equal(a.cc.truths, 2);
    assert_float_equal(a.cc.iou_sum, 1, 1e-6);
    /* an earlier detection below conf claims the truth: the confident one after it is a FP */
    counts b = {0};
    const box bb[2] = {t0, t0};
    const float pb[2][2] = {{.1f, 0}, {.9f, 0}};
    count(&b, bb, pb, 2, labels, 2);
    assert_int_equal(b.cc.tp_all, 0);
    assert_int_equal(b.cc.fp_all, 1);
    /* IoU .6 (shifted by .05: overlap .15 x .2 over .05) is a TP adding .6; IoU 1/7
     * (shifted by .15) a FP; a score of exactly conf is not counted */
    counts c = {0};
    const box bc[3] = {{.55f, .5f, .2f, .2f}, {.65f, .5f, .2f, .2f}, t0};
    const float pc[3][2] = {{.5f, 0}, {.5f, 0}, {.25f, 0}};
    count(&c, bc, pc, 3, labels, 2);
    assert_int_equal(c.cc.tp_all, 1);
    assert_int_equal(c.cc.fp_all, 1);
    assert_float_equal(c.cc.iou_sum, .6, 1e-5);
    /* a box of class 1 over the class-0 truth alone finds nothing: a FP of class 1 */
    counts d = {0};
    const float pd[1][2] = {{0, .9f}};
    count(&d, ba, pd, 1, labels, 2);
    assert_int_equal(d.cc.tp_all, 0);
    assert_int_equal(d.fp[1], 1);
    /* counts add up over images */
    count(&c, ba, pa, 3, labels, 2);
    assert_int_equal(c.cc.tp_all, 2);
    assert_int_equal(c.cc.fp_all, 3);
    assert_int_equal(c.cc.truths, 4);
}

/* difficult= (AlexeyAB's): left out only when no label of its class matches it and a
 * difficult box of its class does (IoU above the threshold: .6 at a .05 shift, 1/7 at .15,
 * as in conf_counts_rules). */
static void difficult_rule(void **s)
{
    (void)s;
    const map_label dif[2] = {{{.2f, .5f, .2f, .2f}, 0}, {{.8f, .8f, .2f, .2f}, 1}};
    const box on_dif0 = {.25f, .5f, .2f, .2f}, on_dif1 = {.8f, .8f, .2f, .2f};
    assert_true(map_is_difficult(on_dif0, 0, labels, 2, dif, 2, .5f));  /* IoU .6 */
    assert_false(map_is_difficult(on_dif0, 0, labels, 2, dif, 2, .65f)); /* .6 is not above */
    assert_false(map_is_difficult(on_dif0, 1, labels, 2, dif, 2, .5f));  /* another class */
    assert_true(map_is_difficult(on_dif1, 1, labels, 2, dif, 2, .5f));
    assert_false(map_is_difficult((box){.35f, .5f, .2f, .2f}, 0, labels, 2, dif, 2, .5f)); /* 1/7 */
    /* a label of its class matches too: a normal detection */
    const map_label both[1] = {{{.25f, .5f, .2f, .2f}, 0}};
    assert_false(map_is_difficult(on_dif0, 0, both, 1, dif, 2, .5f));
    assert_false(map_is_difficult(on_dif0, 0, labels, 2, NULL, 0, .5f)); /* no difficult list */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ap_all_points), cmocka_unit_test(ap_11_points),
        cmocka_unit_test(ap_101_points), cmocka_unit_test(perfect_and_empty),
        cmocka_unit_test(conf_counts_rules), cmocka_unit_test(difficult_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
