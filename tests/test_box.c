/* Box maths: IoU values against hand-computed cases, and the gradients of IoU, GIoU, DIoU
 * and CIoU against central finite differences in float64. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "detect/box.h"
#include "common/testutil.h"

static void iou_hand_cases(void **s)
{
    (void)s;
    box a = {0.5f, 0.5f, 0.2f, 0.2f}, b = {0.6f, 0.5f, 0.2f, 0.2f};
    /* overlap 0.1 x 0.2 = 0.02, union 0.04 + 0.04 - 0.02 = 0.06 */
    assert_float_equal(box_iou(a, b), 1.0f / 3, 1e-6);
    box far = {0.9f, 0.9f, 0.1f, 0.1f};
    assert_float_equal(box_iou(a, far), 0, 0);
    /* GIoU of disjoint boxes: enclosing 0.55 x 0.55 = .3025, union .05 */
    assert_float_equal(box_giou(a, far), -(0.3025f - 0.05f) / 0.3025f, 1e-6);
    /* DIoU: centre distance^2 0.32, enclosing diagonal^2 0.605 */
    assert_float_equal(box_diou(a, far), -0.32f / 0.605f, 1e-6);
    assert_float_equal(box_ciou(a, a), 1, 1e-6);
    assert_float_equal(box_shape_iou(1, 1, 2, 2), 0.25f, 1e-6);
}

/* Edges closer than this to a tie make the one-sided derivatives differ. */
static int near_tie(dbox a, dbox b, double eps)
{
    double e[4] = {a.x - a.w / 2, a.x + a.w / 2, a.y - a.h / 2, a.y + a.h / 2};
    double t[4] = {b.x - b.w / 2, b.x + b.w / 2, b.y - b.h / 2, b.y + b.h / 2};
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            if (fabs(e[i] - t[j]) < eps) return 1;
    return 0;
}

static void check_kind(iou_kind kind)
{
    float r[8];
    int checked = 0;
    for (int trial = 0; trial < 400; ++trial) {
        tu_fill_uniform(r, 8, 0, 1, 1000 + (uint64_t)trial * 7 + kind);
        dbox a = {r[0], r[1], 0.05 + 0.5 * r[2], 0.05 + 0.5 * r[3]};
        dbox b = {r[4], r[5], 0.05 + 0.5 * r[6], 0.05 + 0.5 * r[7]};
        if (near_tie(a, b, 1e-4)) continue;
        dbox g;
        box_iou_kind(a, b, kind, &g);
        double an[4] = {g.x, g.y, g.w, g.h};
        for (int k = 0; k < 4; ++k) {
            const double h = 1e-7;
            dbox p = a, m = a;
            double *pp = &p.x + k, *mm = &m.x + k;
            *pp += h;
            *mm -= h;
            double fd = (box_iou_kind(p, b, kind, NULL) - box_iou_kind(m, b, kind, NULL)) / (2 * h);
            if (fabs(fd - an[k]) > 1e-6 * (1 + fabs(fd)))
                fail_msg("kind %d trial %d coord %d: analytic %.9g, finite difference %.9g", kind,
                         trial, k, an[k], fd);
        }
        checked++;
    }
    assert_true(checked > 300);
}

static void grad_iou(void **s) { (void)s; check_kind(IOU_IOU); }
static void grad_giou(void **s) { (void)s; check_kind(IOU_GIOU); }
static void grad_diou(void **s) { (void)s; check_kind(IOU_DIOU); }
static void grad_ciou(void **s) { (void)s; check_kind(IOU_CIOU); }

static void degenerate_boxes(void **s)
{
    (void)s;
    dbox a = {0.5, 0.5, 0, 0.2}, b = {0.5, 0.5, 0.2, 0.2}, g;
    assert_true(box_iou_kind(a, b, IOU_CIOU, &g) == 0);
    assert_true(g.x == 0 && g.y == 0 && g.w == 0 && g.h == 0);
}

/* Two boxes of one class with IoU .5 and centres apart: greedy NMS at .45 removes the
 * weaker, DIoU-NMS keeps it (.5 - (d^2/c^2)^.6 < .45); a box on top of the other goes. */
static void diou_nms_keeps_neighbours(void **s)
{
    (void)s;
    float p[3][1] = {{.9f}, {.8f}, {.7f}};
    detection d[3];
    box b[3] = {{.3f, .5f, .3f, .3f}, {.4f, .5f, .3f, .3f}, {.3f, .5f, .29f, .3f}};
    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < 3; ++i) {
            p[i][0] = .9f - .1f * i;
            d[i] = (detection){b[i], 1, p[i], NULL, 1, 0};
        }
        if (pass) do_nms_diou(d, 3, 1, .45f, .6f);
        else do_nms_sort(d, 3, 1, .45f);
        int kept = 0;
        for (int i = 0; i < 3; ++i) kept += d[i].prob[0] > 0;
        assert_int_equal(kept, pass ? 2 : 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iou_hand_cases), cmocka_unit_test(grad_iou),
        cmocka_unit_test(grad_giou),      cmocka_unit_test(grad_diou),
        cmocka_unit_test(grad_ciou),      cmocka_unit_test(degenerate_boxes),
        cmocka_unit_test(diou_nms_keeps_neighbours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
