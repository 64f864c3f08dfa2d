/* Detection data: label paths, label parsing with bad lines, truth packing, and that after
 * the random jitter / scale / flip of detector_fill the packed truth box still covers the
 * object in the augmented image (a white rectangle on black, checked pixel by pixel). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "data/data_detector.h"

static void label_path_rules(void **s)
{
    (void)s;
    char dir[512], p[1200], out[1024];
    snprintf(dir, sizeof(dir), "%s/lp/images", tu_tmpdir());
    snprintf(p, sizeof(p), "mkdir -p %s %s/../labels", dir, dir);
    assert_int_equal(system(p), 0);
    /* pjreddie's rule: images -> labels, .jpg -> .txt */
    snprintf(p, sizeof(p), "%s/../labels/a.txt", dir);
    FILE *f = fopen(p, "w");
    fclose(f);
    snprintf(p, sizeof(p), "%s/a.jpg", dir);
    assert_int_equal(detector_label_path(p, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "/lp/labels/a.txt"));
    /* next to the image wins */
    snprintf(p, sizeof(p), "%s/a.txt", dir);
    f = fopen(p, "w");
    fclose(f);
    snprintf(p, sizeof(p), "%s/a.jpg", dir);
    assert_int_equal(detector_label_path(p, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "/lp/images/a.txt"));
    snprintf(p, sizeof(p), "%s/none.png", dir);
    assert_int_equal(detector_label_path(p, out, sizeof(out)), 0);
}

/* Writes an empty file at tu_tmpdir()/rel, its folders made. */
static void touch_rel(const char *rel)
{
    char p[1200];
    snprintf(p, sizeof(p), "mkdir -p \"$(dirname '%s/%s')\" && touch '%s/%s'", tu_tmpdir(), rel,
             tu_tmpdir(), rel);
    assert_int_equal(system(p), 0);
}

/* Where the label of <img> (relative to tu_tmpdir()) is found, relative again; "" if none. */
static const char *found(const char *img)
{
    static char out[1200];
    char p[1200];
    snprintf(p, sizeof(p), "%s/%s", tu_tmpdir(), img);
    if (!detector_label_path(p, out, sizeof(out))) return "";
    return out + strlen(tu_tmpdir()) + 1;
}

/* The folder layouts of AlexeyAB's replace_image_to_label, of datasets split into
 * images/<set> and labels/<set>, and pjreddie's replacements applied one after another. A
 * folder merely named like one (my_images, rawdata) must not hide the real one. */
static void label_path_layouts(void **s)
{
    (void)s;
    touch_rel("my_images/VOC/labels/x.txt"); /* AlexeyAB: /JPEGImages/ -> /labels/ */
    assert_string_equal(found("my_images/VOC/JPEGImages/x.jpg"), "my_images/VOC/labels/x.txt");
    touch_rel("coco/labels/train2017/c.txt");
    assert_string_equal(found("coco/images/train2017/c.JPG"), "coco/labels/train2017/c.txt");
    touch_rel("set/images_v2/labels/val/d.txt"); /* the last /images/ folder */
    assert_string_equal(found("set/images_v2/images/val/d.png"), "set/images_v2/labels/val/d.txt");
    touch_rel("pj/labels/labels/e.txt"); /* pjreddie: images -> labels, then raw -> labels */
    assert_string_equal(found("pj/images/raw/e.png"), "pj/labels/labels/e.txt");
    assert_string_equal(found("my_images/VOC/JPEGImages/none.jpg"), "");
}

static void labels_with_bad_lines(void **s)
{
    (void)s;
    const char *path = tu_write_temp("lab.txt", "0 0.5 0.5 0.2 0.2\n"
                                                "3 0.5 0.5 0.2 0.2\n"     /* class out of range */
                                                "1 0.5 0.5 0.2\n"         /* short */
                                                "\n"
                                                "2 0.1 0.9 0.05 0.1\n"
                                                "1 0.5 0.5 0 0.3\n"       /* no area */
                                                "1 12 0.5 0.1 0.3\n");    /* not relative */
    label_box *b = NULL;
    unsigned long bad = 0;
    int n = detector_read_labels(path, 3, &b, &bad, 0);
    assert_int_equal(n, 2);
    assert_int_equal(bad, 4);
    assert_int_equal(b[1].id, 2);
    assert_float_equal(b[1].y, .9f, 1e-6);
    free(b);
    assert_int_equal(detector_read_labels("/nonexistent/x.txt", 3, &b, &bad, 0), -1);
}

static void pack_clips_flips_and_drops(void **s)
{
    (void)s;
    label_box b[3] = {{.5f, .5f, .4f, .2f, 1}, {.95f, .5f, .2f, .2f, 2}, {.5f, .5f, .0005f, .2f, 0}};
    float t[4 * 5];
    /* no transform, flip: x mirrored; the second box is clipped at the right edge */
    int n = detector_pack_truth(b, 3, 0, 0, 1, 1, 1, t, 4);
    assert_int_equal(n, 2);
    assert_float_equal(t[0], .5f, 1e-6);
    assert_float_equal(t[2], .4f, 1e-6);
    assert_float_equal(t[4], 1, 0);
    assert_float_equal(t[5], 1 - (.85f + 1) / 2, 1e-6); /* [.85, 1] flipped to [0, .15] */
    assert_float_equal(t[7], .15f, 1e-6);
    assert_float_equal(t[10], 0, 0);                    /* the tiny box dropped, rest zero */
    /* half scale, shifted */
    n = detector_pack_truth(b, 1, .25f, .1f, .5f, .5f, 0, t, 4);
    assert_int_equal(n, 1);
    assert_float_equal(t[0], .5f, 1e-6);
    assert_float_equal(t[1], .35f, 1e-6);
    assert_float_equal(t[2], .2f, 1e-6);
    assert_float_equal(t[3], .1f, 1e-6);
}

/* A 120x80 black image with a white box at x 30..70, y 20..60 and its label. */
static const char *make_sample(void)
{
    static char base[600];
    snprintf(base, sizeof(base), "%s/aug", tu_tmpdir());
    image im = make_image(120, 80, 3);
    for (int k = 0; k < 3; ++k)
        for (int y = 20; y < 60; ++y)
            for (int x = 30; x < 70; ++x) im.data[(k * 80 + y) * 120 + x] = 1;
    save_image_png(im, base);
    free_image(im);
    char p[700];
    snprintf(p, sizeof(p), "%s.txt", base);
    FILE *f = fopen(p, "w");
    fprintf(f, "1 %f %f %f %f\n", 50 / 120.0, 40 / 80.0, 40 / 120.0, 40 / 80.0);
    fclose(f);
    snprintf(base + strlen(base), sizeof(base) - strlen(base), ".png");
    return base;
}

static void augmented_box_covers_object(void **s)
{
    (void)s;
    char *paths[1] = {(char *)make_sample()};
    detector_data dd;
    memset(&dd, 0, sizeof(dd));
    dd.paths = paths;
    dd.n = 1;
    dd.classes = 3;
    dd.w = dd.h = 64;
    dd.c = 3;
    dd.max_boxes = 4;
    dd.augment = 1;
    dd.jitter = .3f;
    dd.flip = 1;
    dd.hue = 0;
    dd.saturation = dd.exposure = 1;
    float x[64 * 64 * 3], y[20];
    int flips = 0;
    for (int trial = 0; trial < 40; ++trial) {
        rng_t r;
        rng_seed(&r, 9, (uint64_t)trial);
        assert_int_equal(detector_fill(&dd, &r, x, y), 0);
        if (y[2] == 0) continue; /* pushed fully off the canvas */
        assert_float_equal(y[4], 1, 0);
        int l = (int)ceilf((y[0] - y[2] / 2) * 64), rr = (int)floorf((y[0] + y[2] / 2) * 64);
        int t = (int)ceilf((y[1] - y[3] / 2) * 64), b = (int)floorf((y[1] + y[3] / 2) * 64);
        int inside = 0, white_in = 0, white_out = 0;
        for (int py = 0; py < 64; ++py)
            for (int px = 0; px < 64; ++px) {
                float v = x[py * 64 + px];
                int in = px >= l + 1 && px < rr - 1 && py >= t + 1 && py < b - 1;
                int near = px >= l - 1 && px <= rr && py >= t - 1 && py <= b;
                if (in) { inside++; white_in += v > .9f; }
                else if (!near) white_out += v > .9f;
            }
        if (inside) assert_true(white_in == inside);
        if (white_out) fail_msg("trial %d: %d white pixels outside the truth box", trial, white_out);
        flips += y[0] > .5f;
    }
    assert_true(flips > 0); /* the object did move to the other side sometimes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_path_rules),
        cmocka_unit_test(label_path_layouts), cmocka_unit_test(labels_with_bad_lines),
        cmocka_unit_test(pack_clips_flips_and_drops), cmocka_unit_test(augmented_box_covers_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
