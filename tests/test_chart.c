/* chart.png (src/cli/train_chart.c, compiled into this test): the loss curve and the mAP
 * points land where the axes put them, in their colours; the files decode (stb_image) to
 * exactly the pixels drawn; a missing folder is a warning, not a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <stb/stb_image.h>

#include "cli/train_chart.c"
#include "common/testutil.h"

static const unsigned char *at(const unsigned char *px, int x, int y) { return px + 3 * ((size_t)y * W + x); }

static int is(const unsigned char *p, const unsigned char *rgb) { return !memcmp(p, rgb, 3); }

static void curve_and_points_in_place(void **s)
{
    (void)s;
    train_chart c;
    train_chart_init(&c, "cfg/yolov4-tiny.cfg", NULL, 200, 10);
    assert_string_equal(c.path[0], "chart.png");
    assert_string_equal(c.path[1], "chart_yolov4-tiny.png");
    for (int i = 1; i <= 100; ++i) train_chart_add_loss(&c, i, 5); /* half of max_loss 10 */
    train_chart_add_map(&c, 100, .8f);
    int w, h;
    unsigned char *px = train_chart_draw(&c, 100, .001f, 1.5, &w, &h);
    assert_non_null(px);
    assert_int_equal(w, 1000);
    assert_int_equal(h, 700);
    /* the flat loss at half height: iteration 50 of 200 is a quarter of the plot width */
    int x = LEFT + (RIGHT - LEFT) / 4, y = BOTTOM - (BOTTOM - TOP) / 2;
    assert_true(is(at(px, x, y), BLUE));
    assert_false(is(at(px, x, y - 10), BLUE));
    /* the loss stops at iteration 100 (the middle) */
    assert_false(is(at(px, LEFT + (RIGHT - LEFT) * 3 / 4, y), BLUE));
    /* the mAP point: iteration 100, 80 % of the height */
    int mx = (LEFT + RIGHT) / 2, my = BOTTOM - (int)(.8 * (BOTTOM - TOP) + .5);
    for (int d = -3; d <= 3; ++d) assert_true(is(at(px, mx + d, my + d), RED));
    /* some text under the plot */
    int dark = 0;
    for (int yy = BOTTOM + 50; yy < BOTTOM + 62; ++yy)
        for (int xx = LEFT; xx < LEFT + 300; ++xx) dark += is(at(px, xx, yy), BLACK);
    assert_true(dark > 100);
    free(px);
    train_chart_free(&c);
}

static void files_decode_to_the_drawing(void **s)
{
    (void)s;
    char old[4096];
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(tu_tmpdir()), 0);
    train_chart c;
    train_chart_init(&c, "y.cfg", NULL, 50, 0);
    for (int i = 1; i <= 50; ++i) train_chart_add_loss(&c, i, 100.0f / i);
    assert_int_equal(train_chart_write(&c, 50, .01f, 0), 0);
    int w, h;
    unsigned char *px = train_chart_draw(&c, 50, .01f, 0, &w, &h);
    for (int k = 0; k < 2; ++k) {
        int fw, fh, n;
        unsigned char *f = stbi_load(c.path[k], &fw, &fh, &n, 3);
        assert_non_null(f);
        assert_int_equal(fw, w);
        assert_int_equal(fh, h);
        assert_memory_equal(f, px, (size_t)w * h * 3);
        stbi_image_free(f);
    }
    free(px);
    train_chart_free(&c);
    /* a folder that does not exist: a warning and -1 */
    train_chart_init(&c, "y.cfg", "no/such/dir/c.png", 50, 0);
    train_chart_add_loss(&c, 1, 1);
    assert_int_equal(train_chart_write(&c, 1, .01f, 0), -1);
    train_chart_free(&c);
    assert_int_equal(chdir(old), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(curve_and_points_in_place),
        cmocka_unit_test(files_decode_to_the_drawing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
