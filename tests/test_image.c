/* Image API and augmentation helpers against float64 references computed here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "data/image.h"
#include "common/testutil.h"

static image random_image(int w, int h, int c, uint64_t seed)
{
    image im = make_image(w, h, c);
    tu_fill_uniform(im.data, (size_t)w * h * c, 0, 1, seed);
    return im;
}

static double at(image im, int x, int y, int k) { return im.data[((size_t)k * im.h + y) * im.w + x]; }

/* Bilinear in double straight from the definition (corner-aligned grid). */
static double ref_resize(image im, int w, int h, int x, int y, int k)
{
    double sx = w > 1 ? (double)(im.w - 1) / (w - 1) : 0, sy = h > 1 ? (double)(im.h - 1) / (h - 1) : 0;
    double fx = x * sx, fy = y * sy;
    int x0 = (int)floor(fx), y0 = (int)floor(fy);
    int x1 = x0 + 1 < im.w ? x0 + 1 : im.w - 1, y1 = y0 + 1 < im.h ? y0 + 1 : im.h - 1;
    double dx = fx - x0, dy = fy - y0;
    return (1 - dy) * ((1 - dx) * at(im, x0, y0, k) + dx * at(im, x1, y0, k)) +
           dy * ((1 - dx) * at(im, x0, y1, k) + dx * at(im, x1, y1, k));
}

static void test_resize_matches_reference(void **state)
{
    (void)state;
    image im = random_image(7, 5, 3, 1);
    const int sizes[][2] = {{13, 11}, {3, 2}, {7, 5}, {64, 64}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); ++s) {
        int w = sizes[s][0], h = sizes[s][1];
        image r = resize_image(im, w, h);
        double md = 0;
        for (int k = 0; k < 3; ++k)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) md = fmax(md, fabs(at(r, x, y, k) - ref_resize(im, w, h, x, y, k)));
        if (md > 1e-6) fail_msg("resize to %dx%d differs by %g", w, h, md);
        /* Corners map onto corners. */
        assert_true(fabs(at(r, w - 1, h - 1, 2) - at(im, 6, 4, 2)) < 1e-6);
        free_image(r);
    }
    free_image(im);
}

static void test_png_round_trip_and_grey(void **state)
{
    (void)state;
    image im = make_image(5, 4, 3);
    for (int i = 0; i < 60; ++i) im.data[i] = (float)((i * 37) % 256) / 255.0f;
    char base[512];
    snprintf(base, sizeof(base), "%s/rt", tu_tmpdir());
    save_image_png(im, base);
    char path[600];
    snprintf(path, sizeof(path), "%s.png", base);
    char err[256];
    image back = image_load_ex(path, 3, err, sizeof(err));
    assert_non_null(back.data);
    assert_int_equal(back.w, 5);
    assert_int_equal(back.h, 4);
    for (int i = 0; i < 60; ++i) assert_true(fabsf(back.data[i] - im.data[i]) < 1e-6f);
    /* A grey PNG loads into one channel with the same values. */
    image g = make_image(5, 4, 1);
    memcpy(g.data, im.data, 20 * sizeof(float));
    snprintf(base, sizeof(base), "%s/grey", tu_tmpdir());
    save_image_png(g, base);
    snprintf(path, sizeof(path), "%s.png", base);
    image gb = image_load_ex(path, 1, err, sizeof(err));
    assert_int_equal(gb.c, 1);
    for (int i = 0; i < 20; ++i) assert_true(fabsf(gb.data[i] - g.data[i]) < 1e-6f);
    free_image(im);
    free_image(back);
    free_image(g);
    free_image(gb);
}

static void test_load_error_names_file(void **state)
{
    (void)state;
    char err[512];
    image im = image_load_ex("/nonexistent/cat.png", 3, err, sizeof(err));
    assert_null(im.data);
    assert_non_null(strstr(err, "/nonexistent/cat.png"));
    const char *txt = tu_write_temp("notimage.png", "hello");
    im = image_load_ex(txt, 3, err, sizeof(err));
    assert_null(im.data);
    assert_non_null(strstr(err, "notimage.png"));
}

static void test_hsv_known_values_and_round_trip(void **state)
{
    (void)state;
    /* red, green, blue, grey, (0.2,0.4,0.8) */
    const float rgb[5][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {.5f, .5f, .5f}, {.2f, .4f, .8f}};
    const double hsv[5][3] = {{0, 1, 1}, {1. / 3, 1, 1}, {2. / 3, 1, 1}, {0, 0, .5}, {(4 + (.2 - .4) / .6) / 6, .75, .8}};
    image im = make_image(5, 1, 3);
    for (int i = 0; i < 5; ++i)
        for (int k = 0; k < 3; ++k) im.data[k * 5 + i] = rgb[i][k];
    image_rgb_to_hsv(im);
    for (int i = 0; i < 5; ++i)
        for (int k = 0; k < 3; ++k)
            if (fabs(im.data[k * 5 + i] - hsv[i][k]) > 1e-6)
                fail_msg("pixel %d channel %d: %g, expected %g", i, k, im.data[k * 5 + i], hsv[i][k]);
    image_hsv_to_rgb(im);
    for (int i = 0; i < 5; ++i)
        for (int k = 0; k < 3; ++k) assert_true(fabsf(im.data[k * 5 + i] - rgb[i][k]) < 1e-6f);
    free_image(im);
}

static void test_distort(void **state)
{
    (void)state;
    image im = random_image(8, 8, 3, 2);
    image ref = copy_image(im);
    image_distort(im, 0, 1, 1);
    for (int i = 0; i < 192; ++i) assert_true(fabsf(im.data[i] - ref.data[i]) < 1e-5f);
    /* A full turn of hue is the identity; value 0.5 halves every channel of RGB. */
    image_distort(im, 1, 1, .5f);
    for (int i = 0; i < 192; ++i) assert_true(fabsf(im.data[i] - .5f * ref.data[i]) < 1e-5f);
    /* Red shifted by a third of a turn becomes green. */
    image red = make_image(1, 1, 3);
    red.data[0] = 1;
    image_distort(red, 1.0f / 3, 1, 1);
    assert_true(fabsf(red.data[0]) < 1e-5f && fabsf(red.data[1] - 1) < 1e-5f && fabsf(red.data[2]) < 1e-5f);
    /* Grey images only get the exposure, clamped to 1. */
    image g = make_image(2, 1, 1);
    g.data[0] = .2f;
    g.data[1] = .8f;
    image_distort(g, .3f, 2, 1.5f);
    assert_true(fabsf(g.data[0] - .3f) < 1e-6f && g.data[1] == 1.0f);
    free_image(im);
    free_image(ref);
    free_image(red);
    free_image(g);
}

static void test_flip_crop_letterbox(void **state)
{
    (void)state;
    image im = random_image(5, 3, 2, 3);
    image f = copy_image(im);
    flip_image(f);
    for (int k = 0; k < 2; ++k)
        for (int y = 0; y < 3; ++y)
            for (int x = 0; x < 5; ++x) assert_true(at(f, x, y, k) == at(im, 4 - x, y, k));
    image c = crop_image(im, -1, 1, 3, 3);
    assert_true(at(c, 0, 0, 1) == at(im, 0, 1, 1));  /* left of the image: edge column */
    assert_true(at(c, 2, 2, 0) == at(im, 1, 2, 0));  /* below the image: last row */
    assert_true(at(c, 1, 0, 0) == at(im, 0, 1, 0));
    image wide = random_image(4, 2, 1, 4);
    image lb = letterbox_image(wide, 8, 8);
    for (int x = 0; x < 8; ++x) {
        assert_true(at(lb, x, 0, 0) == .5f && at(lb, x, 7, 0) == .5f);
        assert_true(fabs(at(lb, x, 2, 0) - ref_resize(wide, 8, 4, x, 0, 0)) < 1e-6);
    }
    free_image(im);
    free_image(f);
    free_image(c);
    free_image(wide);
    free_image(lb);
}

static void test_random_crop(void **state)
{
    (void)state;
    image im = random_image(28, 28, 1, 5);
    crop_args a = {.w = 28, .h = 28, .min_size = 28, .max_size = 28, .aspect = 1};
    rng_t r;
    rng_seed(&r, 9, 0);
    image same = image_random_crop(im, &r, &a);
    for (int i = 0; i < 28 * 28; ++i) assert_true(fabsf(same.data[i] - im.data[i]) < 1e-6f);
    /* Doubling the size then taking the centre: output pixel (x, y) samples source
     * ((x + .5) / 2 + 6.5, ...) bilinearly. */
    a.w = a.h = 16;
    a.min_size = a.max_size = 56;
    a.center = 1;
    image up = image_random_crop(im, &r, &a);
    for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) {
            double sx = (x + 20 + .5) / 2 - .5, sy = (y + 20 + .5) / 2 - .5;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            double dx = sx - x0, dy = sy - y0;
            double ref = (1 - dy) * ((1 - dx) * at(im, x0, y0, 0) + dx * at(im, x0 + 1, y0, 0)) +
                         dy * ((1 - dx) * at(im, x0, y0 + 1, 0) + dx * at(im, x0 + 1, y0 + 1, 0));
            if (fabs(at(up, x, y, 0) - ref) > 1e-5) fail_msg("crop (%d,%d): %g vs %g", x, y, at(up, x, y, 0), ref);
        }
    /* The same rng state gives the same random crop. */
    a.center = 0;
    a.min_size = 28;
    a.max_size = 40;
    a.angle = 10;
    a.aspect = 1.2f;
    rng_t r1, r2;
    rng_seed(&r1, 4, 1);
    rng_seed(&r2, 4, 1);
    image p = image_random_crop(im, &r1, &a), q = image_random_crop(im, &r2, &a);
    assert_memory_equal(p.data, q.data, 16 * 16 * sizeof(float));
    free_image(im);
    free_image(same);
    free_image(up);
    free_image(p);
    free_image(q);
}

/* image_place against its definition, pixel by pixel with image_bilinear (the loop the
 * detector loader ran before): the same bits, over scales up and down, offsets that cut
 * the image on every side, grey sources on colour canvases; the canvas outside keeps its
 * values. */
static void test_place_matches_bilinear(void **state)
{
    (void)state;
    uint64_t s = 99;
    for (int t = 0; t < 300; ++t) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int iw = 1 + (int)((s >> 58) % 40), ih = 1 + (int)((s >> 52) % 33), ic = (s >> 40) & 1 ? 3 : 1;
        int cw = 1 + (int)((s >> 33) % 48), chh = 1 + (int)((s >> 27) % 41);
        int nw = 1 + (int)((s >> 20) % 90), nh = 1 + (int)((s >> 14) % 70);
        int dx = (int)((s >> 8) % 100) - 50, dy = (int)((s >> 2) % 90) - 45;
        image im = random_image(iw, ih, ic, s), got = random_image(cw, chh, 3, s + 1), want = copy_image(got);
        assert_int_equal(image_place(im, nw, nh, dx, dy, got), 0);
        for (int k = 0; k < 3; ++k)
            for (int y = 0; y < nh; ++y)
                for (int x = 0; x < nw; ++x) {
                    int cx = x + dx, cy = y + dy;
                    if (cx < 0 || cy < 0 || cx >= cw || cy >= chh) continue;
                    want.data[((size_t)k * chh + cy) * cw + cx] =
                        image_bilinear(im, (float)x / nw * im.w, (float)y / nh * im.h, k < ic ? k : 0);
                }
        if (memcmp(got.data, want.data, sizeof(float) * (size_t)cw * chh * 3))
            fail_msg("case %d: %dx%dx%d placed as %dx%d at (%d,%d) on %dx%d differs", t, iw, ih, ic, nw, nh, dx,
                     dy, cw, chh);
        free_image(im);
        free_image(got);
        free_image(want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_matches_reference),
        cmocka_unit_test(test_png_round_trip_and_grey),
        cmocka_unit_test(test_load_error_names_file),
        cmocka_unit_test(test_hsv_known_values_and_round_trip),
        cmocka_unit_test(test_distort),
        cmocka_unit_test(test_flip_crop_letterbox),
        cmocka_unit_test(test_random_crop),
        cmocka_unit_test(test_place_matches_bilinear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
