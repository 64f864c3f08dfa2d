/* Label bars (data/label.h) on synthetic images. The oracle is a brute force over every
 * pixel: inside the bar rectangle (written here as literal numbers from the documented
 * geometry, not taken from label_bar) a pixel is black where the font table's bit for
 * that glyph pixel is set and the bar colour elsewhere; outside it nothing changes. The
 * font table itself is checked against glyphs drawn a second time here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "data/font.h"
#include "data/label.h"
#include "common/testutil.h"

static float px(image im, int x, int y, int k) { return im.data[((size_t)k * im.h + y) * im.w + x]; }

/* Whether glyph pixel (gx, gy) of text's glyph i is set (font table). */
static int ink(const char *text, int i, int gx, int gy)
{
    return font_row((unsigned char)text[i], gy) >> (FONT_W - 1 - gx) & 1u;
}

/* What (x, y) channel k must hold after drawing text in rgb on a bar at r with scale s. */
static float expected(image before, label_rect r, const char *text, int s, const float *rgb, int x,
                      int y, int k)
{
    int inside = x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
    if (!inside || k >= 3) return px(before, x, y, k);
    int u = x - r.x - s, v = y - r.y - s; /* from the first glyph's top-left corner */
    if (u >= 0 && v >= 0) {
        int i = u / (6 * s), gx = u % (6 * s) / s, gy = v / s;
        if ((size_t)i < strlen(text) && gx < FONT_W && gy < FONT_H && ink(text, i, gx, gy)) return 0;
    }
    return rgb[k];
}

/* Draws text for a box at (x1, y1) on a copy of a random image and compares every pixel
 * and channel with the oracle for bar r at scale s. Returns the number of ink pixels seen. */
static int check_label(int w, int h, int c, int x1, int y1, const char *text, label_rect r, int s)
{
    const float rgb[3] = {1, .5f, .25f};
    image before = make_image(w, h, c);
    tu_fill_uniform(before.data, (size_t)w * h * c, .3f, .9f, 7); /* never 0: ink stands out */
    image after = copy_image(before);
    assert_int_equal(label_scale(h), s);
    label_rect got = label_bar(w, h, x1, y1, text, s);
    assert_int_equal(got.x, r.x);
    assert_int_equal(got.y, r.y);
    assert_int_equal(got.w, r.w);
    assert_int_equal(got.h, r.h);
    draw_label(after, x1, y1, text, rgb);
    int bad = 0, inked = 0;
    for (int k = 0; k < c; ++k)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                float e = expected(before, r, text, s, rgb, x, y, k), g = px(after, x, y, k);
                if (e != g && bad++ < 5) printf("(%d,%d) channel %d: %g, expected %g\n", x, y, k, g, e);
                inked += k == 0 && e == 0;
            }
    free_image(before);
    free_image(after);
    assert_int_equal(bad, 0);
    return inked;
}

/* Some glyphs drawn again by hand: the table must say the same. */
static void test_font_table(void **state)
{
    (void)state;
    static const struct { char ch; const char *rows[FONT_H]; } art[] = {
        {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
        {'b', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."}},
        {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
        {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
        {'%', {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"}},
        {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
        {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    };
    for (size_t g = 0; g < sizeof(art) / sizeof(art[0]); ++g)
        for (int y = 0; y < FONT_H; ++y)
            for (int x = 0; x < FONT_W; ++x) {
                char want[2] = {art[g].rows[y][x] == '#' ? '1' : '0', 0};
                char got[2] = {font_row(art[g].ch, y) >> (FONT_W - 1 - x) & 1u ? '1' : '0', 0};
                if (strcmp(want, got)) printf("'%c' row %d column %d\n", art[g].ch, y, x);
                assert_string_equal(got, want);
            }
    /* every printable glyph fits 5 bits, only the space is empty, no two are the same */
    for (int a = 32; a < 127; ++a) {
        unsigned any = 0;
        for (int y = 0; y < FONT_H; ++y) {
            assert_true(font_row(a, y) < 1u << FONT_W);
            any |= font_row(a, y);
        }
        assert_int_equal(any != 0, a != ' ');
        for (int b = 32; b < a; ++b) {
            int same = 1;
            for (int y = 0; y < FONT_H; ++y) same &= font_row(a, y) == font_row(b, y);
            if (same) printf("'%c' and '%c' are the same glyph\n", a, b);
            assert_false(same);
        }
    }
    for (int y = 0; y < FONT_H; ++y) {
        assert_int_equal(font_row(200, y), font_row('?', y));
        assert_int_equal(font_row(7, y), font_row('?', y));
        assert_int_equal(font_row(127, y), font_row('?', y)); /* DEL: one past the table */
        assert_int_equal(font_row(-61, y), font_row('?', y)); /* a signed char of UTF-8 */
    }
    assert_int_equal(font_row('a', -1), 0);
    assert_int_equal(font_row('a', FONT_H), 0);
}

static void test_scale(void **state)
{
    (void)state;
    const int h[] = {1, 64, 128, 299, 300, 599, 600, 1080};
    const int s[] = {1, 1, 1, 1, 2, 2, 3, 4};
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); ++i) assert_int_equal(label_scale(h[i]), s[i]);
}

/* "ab 50%": 6 glyphs, bar (6 * 6 + 1) * s wide, 9 * s tall. */
static void test_bar_above_box(void **state)
{
    (void)state;
    assert_true(check_label(128, 64, 3, 20, 40, "ab 50%", (label_rect){20, 31, 37, 9}, 1) > 40);
    assert_true(check_label(128, 128, 3, 0, 9, "ab 50%", (label_rect){0, 0, 37, 9}, 1) > 40);
    /* scale 2: each glyph pixel a 2 x 2 block */
    assert_true(check_label(320, 300, 3, 10, 100, "ab 50%", (label_rect){10, 82, 74, 18}, 2) > 160);
}

/* No room above: the bar hangs inside the box from its top; a box leaving the image on the
 * left or right gets its bar moved inside. */
static void test_bar_kept_inside(void **state)
{
    (void)state;
    check_label(128, 64, 3, 5, 4, "ab 50%", (label_rect){5, 4, 37, 9}, 1);
    check_label(128, 64, 3, -10, -3, "ab 50%", (label_rect){0, 0, 37, 9}, 1);
    check_label(128, 64, 3, 120, 40, "ab 50%", (label_rect){91, 31, 37, 9}, 1);
    check_label(128, 64, 3, 10, 70, "ab 50%", (label_rect){10, 55, 37, 9}, 1);
}

/* Bars larger than the image are clipped: only pixels inside are written (ASan builds
 * would report any write outside). */
static void test_bar_clipped(void **state)
{
    (void)state;
    check_label(64, 16, 3, 30, 12, "rectangle 100%", (label_rect){0, 3, 85, 9}, 1);
    check_label(20, 6, 3, 3, 3, "ab 50%", (label_rect){0, 0, 37, 9}, 1);
    check_label(1, 1, 3, 0, 0, "x", (label_rect){0, 0, 7, 9}, 1);
}

/* A grey image takes rgb[0]; a 4th channel is left alone (the oracle keeps k >= 3);
 * characters outside ASCII are drawn as '?'. */
static void test_channels_and_non_ascii(void **state)
{
    (void)state;
    check_label(64, 32, 1, 4, 20, "ab 50%", (label_rect){4, 11, 37, 9}, 1);
    check_label(64, 32, 4, 4, 20, "ab 50%", (label_rect){4, 11, 37, 9}, 1);
    image a = make_image(40, 12, 3), b = make_image(40, 12, 3);
    const float rgb[3] = {0, 1, 0};
    draw_label(a, 0, 0, "caf\xc3\xa9", rgb);
    draw_label(b, 0, 0, "caf??", rgb);
    assert_memory_equal(a.data, b.data, sizeof(float) * 40 * 12 * 3);
    free_image(a);
    free_image(b);
}

/* label_classes against a brute force: a class is shown when its probability is above
 * thresh and its name does not start with "dont_show"; the first one out is the shown class
 * that no other shown class beats (higher, or equal with a lower index); the rest are the
 * other shown classes by increasing index. Random probabilities on a coarse grid (so ties
 * and values equal to thresh happen), 1-6 classes, some hidden names. */
static void test_classes_brute_force(void **state)
{
    (void)state;
    char *names[6] = {"a", "dont_show_b", "c", "d", "dont_show", "f"};
    char *plain[6] = {"a", "b", "c", "d", "e", "f"};
    rng_t r;
    rng_seed(&r, 17, 0);
    int multi = 0;
    for (int it = 0; it < 20000; ++it) {
        int classes = 1 + rng_int(&r, 6);
        float prob[6], thresh = rng_int(&r, 5) * .2f;
        for (int k = 0; k < classes; ++k) prob[k] = rng_int(&r, 6) * .2f;
        char **nm = it % 3 == 0 ? NULL : (it % 3 == 1 ? names : plain);
        int show[6], want[6], nw = 0, best = -1;
        for (int k = 0; k < classes; ++k)
            show[k] = prob[k] > thresh && !(nm && (k == 1 || k == 4) && nm == names);
        for (int k = 0; k < classes && best < 0; ++k) {
            int beaten = !show[k];
            for (int j = 0; j < classes && !beaten; ++j)
                beaten = show[j] && (prob[j] > prob[k] || (prob[j] == prob[k] && j < k));
            if (!beaten) best = k;
        }
        if (best >= 0) want[nw++] = best;
        for (int k = 0; k < classes; ++k)
            if (show[k] && k != best) want[nw++] = k;
        int got[6];
        int n = label_classes(prob, classes, nm, thresh, got);
        assert_int_equal(n, nw);
        if (n) assert_memory_equal(got, want, sizeof(int) * (size_t)n);
        multi += n > 1;
    }
    assert_true(multi > 1000);
}

/* The label: the first class with its percentage, then ", name" for each other class;
 * cut to the buffer and always terminated. */
static void test_label_text(void **state)
{
    (void)state;
    char *names[4] = {"rectangle", "ellipse", "triangle", "x"};
    float prob[4] = {.31f, .874f, .5f, .2f};
    int cls[4];
    int n = label_classes(prob, 4, names, .3f, cls);
    char buf[64];
    label_text(buf, sizeof(buf), prob, names, cls, n);
    assert_string_equal(buf, "ellipse 87%, rectangle, triangle");
    label_text(buf, 12, prob, names, cls, n);
    assert_string_equal(buf, "ellipse 87%");
    label_text(buf, 15, prob, names, cls, n);
    assert_string_equal(buf, "ellipse 87%, r");
    label_text(buf, sizeof(buf), prob, names, cls, 0);
    assert_string_equal(buf, "");
    n = label_classes(prob, 4, names, .6f, cls);
    label_text(buf, sizeof(buf), prob, names, cls, n);
    assert_string_equal(buf, "ellipse 87%");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_font_table),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_bar_above_box),
        cmocka_unit_test(test_bar_kept_inside),
        cmocka_unit_test(test_bar_clipped),
        cmocka_unit_test(test_channels_and_non_ascii),
        cmocka_unit_test(test_classes_brute_force),
        cmocka_unit_test(test_label_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
