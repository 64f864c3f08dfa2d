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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ap_all_points), cmocka_unit_test(ap_11_points),
        cmocka_unit_test(ap_101_points), cmocka_unit_test(perfect_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
