/* AlexeyAB's augmentation (data_mosaic.c) checked against pixels.
 *
 * The shapes set (scripts/make_shapes, built tool): solid shapes on a noisy background.
 * Each image gets a "mask" twin: black, each object's pixels (found by its colour) turned
 * into their bounding rectangle filled with a colour that codes the object (R), the image
 * and class (G) and B = 1, with a label file of exactly those rectangles. The window,
 * mosaic and boxes depend only on the rng, the image sizes and the labels, so augmenting
 * the masks shows where every object's pixels went:
 *  - mosaic_bound=1: every truth box equals the visible part of its object (the pixels of
 *    its code inside its quadrant) within one pixel, and every visible part of 2x2 px or
 *    more has its box;
 *  - mosaic_bound=0 (AlexeyAB's default): boxes are clipped to the input only, so each
 *    visible part lies inside a box of its class;
 *  - letter_box with no jitter: boxes equal the labels mapped through the padded window
 *    (computed here); the same seed gives the same sample; mixup keeps both box sets;
 *  - gaussian_noise's mean brightening matches the half-normal mean sd / sqrt(2 pi). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "data/data_detector.h"

#define NET 96
#define NIMG 10
#define SW 120
#define SH 90
#define FR 60
#define MW (SW + 2 * FR)
#define MH (SH + 2 * FR)
#define TOL 1.0f

static char *img_paths[NIMG], *mask_paths[NIMG];
static int have_set;

/* 8-bit exact codes (the masks go through PNG) */
static float code_r(int j) { return (float)((j + 1) * 32) / 255.0f; }
static float code_g(int img, int cls) { return (float)((img * 3 + cls + 1) * 8) / 255.0f; }

/* The pixels of object j in the real image: those inside its label box (one pixel of
 * slack) with the colour at the box centre (inside every shape: solid shapes on a noisy
 * background). Their bounding box in *x0..*x1, *y0..*y1 (inclusive). */
static void object_pixels(image im, const label_box *b, int *x0, int *y0, int *x1, int *y1)
{
    int cx = (int)(b->x * SW), cy = (int)(b->y * SH);
    float c[3];
    for (int k = 0; k < 3; ++k) c[k] = im.data[((size_t)k * SH + cy) * SW + cx];
    *x0 = *y0 = 1 << 30;
    *x1 = *y1 = -1;
    for (int y = (int)((b->y - b->h / 2) * SH) - 1; y <= (int)((b->y + b->h / 2) * SH) + 1; ++y)
        for (int x = (int)((b->x - b->w / 2) * SW) - 1; x <= (int)((b->x + b->w / 2) * SW) + 1; ++x) {
            if (x < 0 || y < 0 || x >= SW || y >= SH) continue;
            int same = 1;
            for (int k = 0; k < 3; ++k) same &= fabsf(im.data[((size_t)k * SH + y) * SW + x] - c[k]) < 1e-3f;
            if (!same) continue;
            if (x < *x0) *x0 = x;
            if (x > *x1) *x1 = x;
            if (y < *y0) *y0 = y;
            if (y > *y1) *y1 = y;
        }
}

/* Mask twin of image idx: MW x MH black (a frame of FR pixels keeps the mean colour, which
 * pads windows, dark), each object's pixel box filled with its code, and a label file
 * giving those pixel boxes exactly. */
static void write_mask(int idx, const char *img, const char *dir)
{
    char lp[4096], mp[4200];
    assert_int_equal(detector_label_path(img, lp, sizeof(lp)), 1);
    label_box *b = NULL;
    int n = detector_read_labels(lp, 3, &b, NULL, 1);
    assert_true(n >= 1 && n <= 7);
    char err[512];
    image im = image_load_ex(img, 3, err, sizeof(err));
    assert_non_null(im.data);
    image m = make_image(MW, MH, 3);
    snprintf(mp, sizeof(mp), "%s/mask_%02d.txt", dir, idx);
    FILE *f = fopen(mp, "w");
    assert_non_null(f);
    for (int j = 0; j < n; ++j) {
        int x0, y0, x1, y1;
        object_pixels(im, &b[j], &x0, &y0, &x1, &y1);
        assert_true(x1 > x0 && y1 > y0);
        for (int y = y0 + FR; y <= y1 + FR; ++y)
            for (int x = x0 + FR; x <= x1 + FR; ++x) {
                m.data[(size_t)y * MW + x] = code_r(j);
                m.data[(size_t)MW * MH + y * MW + x] = code_g(idx, b[j].id);
                m.data[(size_t)2 * MW * MH + y * MW + x] = 1;
            }
        fprintf(f, "%d %.9f %.9f %.9f %.9f\n", b[j].id, (x0 + x1 + 1) / 2.0 / MW + (double)FR / MW,
                (y0 + y1 + 1) / 2.0 / MH + (double)FR / MH, (x1 + 1 - x0) / (double)MW,
                (y1 + 1 - y0) / (double)MH);
    }
    fclose(f);
    snprintf(mp, sizeof(mp), "%s/mask_%02d", dir, idx);
    save_image_png(m, mp);
    free_image(m);
    free_image(im);
    snprintf(mp + strlen(mp), sizeof(mp) - strlen(mp), ".png");
    mask_paths[idx] = strdup(mp);
    free(b);
}

static int make_set(void **s)
{
    (void)s;
    const char *tools = getenv("DN_TOOLS") ? getenv("DN_TOOLS") : "build/bin";
    char tool[1024], cmd[4096], dir[1024];
    snprintf(tool, sizeof(tool), "%s/make_shapes", tools);
    if (access(tool, X_OK)) {
        printf("skip: %s not built (make tools); the mosaic checks need the shapes set\n", tool);
        return 0;
    }
    snprintf(dir, sizeof(dir), "%s/shapes", tu_tmpdir());
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && %s %s %d 0 %d %d 4 > /dev/null", dir, tool, dir, NIMG,
             SW, SH);
    if (system(cmd)) return -1;
    for (int i = 0; i < NIMG; ++i) {
        char p[2048];
        snprintf(p, sizeof(p), "%s/img_%05d.png", dir, i);
        img_paths[i] = strdup(p);
        write_mask(i, p, dir);
    }
    have_set = 1;
    return 0;
}

static int free_set(void **s)
{
    (void)s;
    for (int i = 0; i < NIMG; ++i) {
        free(img_paths[i]);
        free(mask_paths[i]);
    }
    return 0;
}

static void init_dd(detector_data *dd, char **paths)
{
    memset(dd, 0, sizeof(*dd));
    dd->paths = paths;
    dd->n = NIMG;
    dd->classes = 3;
    dd->w = dd->h = NET;
    dd->c = 3;
    dd->max_boxes = 40;
    dd->augment = 1;
    dd->jitter = .3f;
    dd->resize = 1.5f;
    dd->flip = 1;
    dd->saturation = dd->exposure = 1;
    dd->mixup = 3;
    dd->batch_mix = 1;
}

static float px(const float *x, int k, int y, int xx) { return x[((size_t)k * NET + y) * NET + xx]; }

/* The quadrant of pixel (x, y) for cut (cx, cy). */
static int quad(int x, int y, int cx, int cy) { return (x >= cx) + 2 * (y >= cy); }

/* Bounding box of the pixels of code (r, g) in quadrant q; 0 when there are none. */
static int region(const float *x, float r, float g, int q, int cx, int cy, int *l, int *t, int *rr, int *b)
{
    int n = 0;
    *l = *t = NET;
    *rr = *b = -1;
    for (int y = 0; y < NET; ++y)
        for (int xx = 0; xx < NET; ++xx) {
            if (quad(xx, y, cx, cy) != q) continue;
            /* B is 1 on objects and 0 elsewhere, so B > .5 puts the edge where the bilinear
             * ramp crosses the object's true edge; R/B and G/B give its code back */
            float bb = px(x, 2, y, xx);
            if (bb <= .5f || fabsf(px(x, 0, y, xx) / bb - r) > 4 / 255.0f ||
                fabsf(px(x, 1, y, xx) / bb - g) > 2 / 255.0f)
                continue;
            ++n;
            if (xx < *l) *l = xx;
            if (xx > *rr) *rr = xx;
            if (y < *t) *t = y;
            if (y > *b) *b = y;
        }
    return n;
}

/* The mosaic cut: the row and column where the quadrants meet are found as the places
 * where the seed-independent draw put them; we re-draw them the way the loader does. */
static void cut_of(uint64_t seed, int *cx, int *cy)
{
    rng_t r;
    rng_seed(&r, seed, 1);
    int lo = (int)(NET * .2f), hi = (int)(NET * .8f);
    *cx = lo + rng_int(&r, hi - lo + 1);
    *cy = lo + rng_int(&r, hi - lo + 1);
}

static void box_px(const float *b, float *l, float *t, float *r, float *bt)
{
    *l = (b[0] - b[2] / 2) * NET;
    *r = (b[0] + b[2] / 2) * NET;
    *t = (b[1] - b[3] / 2) * NET;
    *bt = (b[1] + b[3] / 2) * NET;
}

static void mosaic_boxes_match_pixels(void **s)
{
    (void)s;
    if (!have_set) skip();
    detector_data dd;
    init_dd(&dd, mask_paths);
    dd.mosaic_bound = 1;
    static float x[NET * NET * 3], y[200];
    int boxes = 0, clipped = 0, regions = 0;
    for (uint64_t seed = 1; seed <= 30; ++seed) {
        rng_t r;
        rng_seed(&r, seed, 1);
        assert_int_equal(detector_fill(&dd, &r, x, y), 0);
        int cx, cy;
        cut_of(seed, &cx, &cy);
        /* every box against the visible pixels of its object */
        for (int i = 0; i < dd.max_boxes && y[5 * i + 2] > 0; ++i, ++boxes) {
            float l, t, rr, b;
            box_px(y + 5 * i, &l, &t, &rr, &b);
            int mx = (int)((l + rr) / 2), my = (int)((t + b) / 2);
            int q = quad(mx, my, cx, cy);
            float cb = px(x, 2, my, mx), cr = px(x, 0, my, mx) / cb, cg = px(x, 1, my, mx) / cb;
            assert_true(cb > .5f);
            int cls = ((int)lrintf(cg * 255 / 8) - 1) % 3;
            assert_int_equal(cls, (int)y[5 * i + 4]);
            int rl, rt, rr2, rb;
            assert_true(region(x, cr, cg, q, cx, cy, &rl, &rt, &rr2, &rb) > 0);
            /* pixel columns rl..rr2 are inside; the box's edges lie within a pixel of them */
            if (!(fabsf(l - rl) <= TOL && fabsf(rr - (rr2 + 1)) <= TOL && fabsf(t - rt) <= TOL &&
                  fabsf(b - (rb + 1)) <= TOL))
                fail_msg("seed %llu box %d q%d cut %d,%d: box x %.2f..%.2f y %.2f..%.2f, pixels x %d..%d y %d..%d",
                         (unsigned long long)seed, i, q, cx, cy, l, rr, t, b, rl, rr2 + 1, rt, rb + 1);
            clipped += fabsf(l - cx) < .01f || fabsf(rr - cx) < .01f || fabsf(t - cy) < .01f ||
                       fabsf(b - cy) < .01f;
        }
        /* every visible part of 2x2 pixels or more has its box */
        for (int q = 0; q < 4; ++q)
            for (int j = 0; j < 7; ++j)
                for (int img = 0; img < NIMG; ++img)
                    for (int cls = 0; cls < 3; ++cls) {
                        int rl, rt, rr2, rb;
                        if (!region(x, code_r(j), code_g(img, cls), q, cx, cy, &rl, &rt, &rr2, &rb)) continue;
                        if (rr2 - rl < 1 || rb - rt < 1) continue;
                        ++regions;
                        int found = 0;
                        for (int i = 0; i < dd.max_boxes && y[5 * i + 2] > 0 && !found; ++i) {
                            float l, t, rr, b;
                            box_px(y + 5 * i, &l, &t, &rr, &b);
                            found = fabsf(l - rl) <= TOL && fabsf(t - rt) <= TOL &&
                                    fabsf(rr - rr2 - 1) <= TOL && fabsf(b - rb - 1) <= TOL;
                        }
                        if (!found) fail_msg("seed %llu: object %d of image %d (quadrant %d, px %d..%d x %d..%d) has no box",
                                             (unsigned long long)seed, j, img, q, rl, rr2, rt, rb);
                    }
    }
    printf("mosaic_bound=1: %d boxes, %d cut by a quadrant edge, %d visible parts\n", boxes, clipped, regions);
    assert_true(boxes > 60 && clipped > 5 && regions > 60);
}

static void mosaic_unbounded_boxes_cover_pixels(void **s)
{
    (void)s;
    if (!have_set) skip();
    detector_data dd;
    init_dd(&dd, mask_paths);
    static float x[NET * NET * 3], y[200];
    int parts = 0, beyond = 0;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        rng_t r;
        rng_seed(&r, seed, 1);
        assert_int_equal(detector_fill(&dd, &r, x, y), 0);
        int cx, cy;
        cut_of(seed, &cx, &cy);
        for (int i = 0; i < dd.max_boxes && y[5 * i + 2] > 0; ++i) {
            float l, t, rr, b;
            box_px(y + 5 * i, &l, &t, &rr, &b);
            assert_true(l >= -1e-3f && t >= -1e-3f && rr <= NET + 1e-3f && b <= NET + 1e-3f);
            beyond += (l < cx - 1 && rr > cx + 1) || (t < cy - 1 && b > cy + 1);
        }
        for (int q = 0; q < 4; ++q)
            for (int j = 0; j < 7; ++j)
                for (int img = 0; img < NIMG; ++img)
                    for (int cls = 0; cls < 3; ++cls) {
                        int rl, rt, rr2, rb;
                        if (!region(x, code_r(j), code_g(img, cls), q, cx, cy, &rl, &rt, &rr2, &rb)) continue;
                        if (rr2 - rl < 1 || rb - rt < 1) continue;
                        ++parts;
                        int found = 0;
                        for (int i = 0; i < dd.max_boxes && y[5 * i + 2] > 0 && !found; ++i) {
                            float l, t, rr, b;
                            box_px(y + 5 * i, &l, &t, &rr, &b);
                            found = (int)y[5 * i + 4] == cls && l <= rl + TOL && t <= rt + TOL &&
                                    rr >= rr2 + 1 - TOL && b >= rb + 1 - TOL;
                        }
                        if (!found) fail_msg("seed %llu: object %d of image %d has no box around it",
                                             (unsigned long long)seed, j, img);
                    }
    }
    printf("mosaic_bound=0: %d visible parts covered, %d boxes across a cut\n", parts, beyond);
    assert_true(parts > 40 && beyond > 0);
}

static void letter_box_window(void **s)
{
    (void)s;
    if (!have_set) skip();
    detector_data dd;
    init_dd(&dd, mask_paths);
    dd.mixup = 0;
    dd.jitter = 0;
    dd.resize = 1;
    dd.flip = 0;
    dd.letter_box = 1;
    static float x[NET * NET * 3], y[200];
    rng_t r;
    rng_seed(&r, 3, 1);
    assert_int_equal(detector_fill(&dd, &r, x, y), 0);
    /* which image: its box set tells */
    float pad = (MW - MH) / 2.0f; /* window rows added above and below */
    int matched = 0;
    for (int img = 0; img < NIMG && !matched; ++img) {
        char lp[4096];
        label_box *b = NULL;
        detector_label_path(mask_paths[img], lp, sizeof(lp));
        int n = detector_read_labels(lp, 3, &b, NULL, 0);
        int all = 1;
        for (int i = 0; i < dd.max_boxes && y[5 * i + 2] > 0 && all; ++i) {
            int hit = 0;
            for (int j = 0; j < n && !hit; ++j)
                hit = fabsf(y[5 * i] - b[j].x) < 1e-4f && fabsf(y[5 * i + 2] - b[j].w) < 1e-4f &&
                      fabsf(y[5 * i + 1] - (b[j].y * MH + pad) / MW) < 1e-4f &&
                      fabsf(y[5 * i + 3] - b[j].h * MH / MW) < 1e-4f;
            all = hit;
        }
        matched = all && y[2] > 0;
        free(b);
    }
    assert_true(matched);
    /* the padding rows have the mask's mean colour, not an object's */
    assert_true(px(x, 2, 2, NET / 2) < .5f && px(x, 2, NET - 3, NET / 2) < .5f);
}

static void same_seed_same_sample_and_mixup(void **s)
{
    (void)s;
    if (!have_set) skip();
    detector_data dd;
    init_dd(&dd, mask_paths);
    dd.blur = 3;
    dd.gaussian_noise = 10;
    static float x1[NET * NET * 3], x2[NET * NET * 3], y1[200], y2[200];
    rng_t r;
    rng_seed(&r, 77, 1);
    assert_int_equal(detector_fill(&dd, &r, x1, y1), 0);
    rng_seed(&r, 77, 1);
    assert_int_equal(detector_fill(&dd, &r, x2, y2), 0);
    assert_memory_equal(x1, x2, sizeof(x1));
    assert_memory_equal(y1, y2, sizeof(y1));
    /* mixup: both box sets, every box centre half an object (B >= .5) */
    dd.mixup = 1;
    dd.blur = dd.gaussian_noise = 0;
    dd.jitter = 0;
    int both = 0;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
        rng_seed(&r, seed, 1);
        assert_int_equal(detector_fill(&dd, &r, x1, y1), 0);
        int n = 0;
        while (n < dd.max_boxes && y1[5 * n + 2] > 0) {
            if (y1[5 * n + 2] * NET < 3 || y1[5 * n + 3] * NET < 3) { ++n; continue; }
            int mx = (int)(y1[5 * n] * NET), my = (int)(y1[5 * n + 1] * NET);
            assert_true(px(x1, 2, my, mx) >= .5f - 1e-3f);
            ++n;
        }
        both += n >= 2;
    }
    assert_true(both >= 8);
}

static void noise_mean_is_half_normal(void **s)
{
    (void)s;
    image im = make_image(200, 200, 3);
    for (size_t i = 0; i < 200 * 200 * 3; ++i) im.data[i] = .5f;
    rng_t r;
    rng_seed(&r, 5, 0);
    image_add_noise_8u(im, &r, 20);
    double sum = 0;
    for (size_t i = 0; i < 200 * 200 * 3; ++i) {
        assert_true(im.data[i] >= .5f);
        sum += (im.data[i] - .5) * 255;
    }
    double mean = sum / (200 * 200 * 3), want = 20 / sqrt(2 * M_PI);
    /* sd of the mean of 120000 half-normal draws: about 20 * .58 / 346 = .034 */
    assert_true(fabs(mean - want) < .2);
    free_image(im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mosaic_boxes_match_pixels),
        cmocka_unit_test(mosaic_unbounded_boxes_cover_pixels),
        cmocka_unit_test(letter_box_window),
        cmocka_unit_test(same_seed_same_sample_and_mixup),
        cmocka_unit_test(noise_mean_is_half_normal),
    };
    return cmocka_run_group_tests(tests, make_set, free_set);
}
