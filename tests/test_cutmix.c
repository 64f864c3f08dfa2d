/* Classifier cutmix (cutmix=1, data/data_classifier.h) on synthetic images of one flat
 * colour per class, so every pixel says which image it came from. Oracles are brute
 * forces over the pixels of each sample: the share of each class's colour must equal that
 * class's truth (the label is mixed by area), the second image's pixels must form one
 * filled rectangle of AlexeyAB's sizes and bounds, and the loader must repeat a run exactly
 * for a seed and mix about one mini-batch in two (a binomial bound). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "data/data_classifier.h"
#include "data/image.h"
#include "data/loader.h"

#define W 24
#define H 20
#define K 3

static char *labels[K] = {"cat", "dog", "owl"};
/* Flat colours, multiples of 1/255 so a PNG keeps them exactly. */
static const int colour[K][3] = {{51, 102, 153}, {204, 25, 76}, {127, 229, 0}};
static char path_buf[K][512];
static char *paths[K];

static void write_images(void)
{
    for (int k = 0; k < K; ++k) {
        image im = make_image(W, H, 3);
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < W * H; ++i) im.data[c * W * H + i] = colour[k][c] / 255.f;
        char base[480];
        snprintf(base, sizeof(base), "%s/cutmix_%s", tu_tmpdir(), labels[k]);
        save_image_png(im, base);
        free_image(im);
        snprintf(path_buf[k], sizeof(path_buf[k]), "%s.png", base);
        paths[k] = path_buf[k];
    }
}

static void init(classifier_data *cd, int cutmix)
{
    char err[512];
    write_images();
    assert_int_equal(classifier_data_init(cd, paths, K, labels, K, err, sizeof(err)), 0);
    cd->w = W;
    cd->h = H;
    cd->c = 3;
    cd->augment = 0; /* flat colours stay flat */
    cd->cutmix = cutmix;
}

/* The class whose colour pixel (x, y) has, -1 when none. */
static int pixel_class(const float *x, int i)
{
    for (int k = 0; k < K; ++k) {
        int same = 1;
        for (int c = 0; c < 3 && same; ++c) same = x[c * W * H + i] == colour[k][c] / 255.f;
        if (same) return k;
    }
    return -1;
}

/* Checks one sample; returns 1 when it holds two images. */
static int check_sample(const float *x, const float *y)
{
    int count[K] = {0}, x0[K], x1[K], y0[K], y1[K];
    for (int k = 0; k < K; ++k) x0[k] = y0[k] = 1 << 20, x1[k] = y1[k] = -1;
    for (int i = 0; i < W * H; ++i) {
        int k = pixel_class(x, i);
        assert_true(k >= 0);
        ++count[k];
        int px = i % W, py = i / W;
        if (px < x0[k]) x0[k] = px;
        if (px > x1[k]) x1[k] = px;
        if (py < y0[k]) y0[k] = py;
        if (py > y1[k]) y1[k] = py;
    }
    int present = 0, pasted = -1;
    for (int k = 0; k < K; ++k) {
        assert_float_equal(y[k], (float)count[k] / (W * H), 1e-6);
        if (!count[k]) continue;
        ++present;
        if (count[k] == (x1[k] - x0[k] + 1) * (y1[k] - y0[k] + 1) && count[k] < W * H) pasted = k;
    }
    assert_true(present <= 2);
    if (present == 1) return 0;
    /* the rectangle: sides in [(int)(.3 n), (int)(.8 n)], never on the last column or row */
    assert_true(pasted >= 0);
    int cw = x1[pasted] - x0[pasted] + 1, ch = y1[pasted] - y0[pasted] + 1;
    assert_in_range(cw, (int)(W * .3f), (int)(W * .8f));
    assert_in_range(ch, (int)(H * .3f), (int)(H * .8f));
    assert_true(x1[pasted] <= W - 2 && y1[pasted] <= H - 2);
    return 1;
}

/* Many samples of a mixed mini-batch: areas and truths agree, every pair is seen. */
static void test_pair_brute_force(void **state)
{
    (void)state;
    classifier_data cd;
    init(&cd, 1);
    cd.batch_mix = 1;
    float x[W * H * 3], y[K];
    int mixed = 0;
    for (int s = 0; s < 600; ++s) {
        rng_t r;
        rng_seed(&r, 5, (uint64_t)s);
        memset(y, 0, sizeof(y));
        assert_int_equal(classifier_fill(&cd, &r, x, y), 0);
        mixed += check_sample(x, y);
    }
    /* distinct pairs come with probability 2/3: 400 expected, sd 11.5 */
    assert_in_range(mixed, 340, 460);
    classifier_data_free(&cd);
}

/* Every side length of the range is drawn, and nothing outside it, for sizes 1..40. */
static void test_rect_range(void **state)
{
    (void)state;
    rng_t r;
    rng_seed(&r, 9, 0);
    for (int n = 1; n <= 40; ++n) {
        int lo = (int)(n * .3f), hi = (int)(n * .8f), seen[41] = {0};
        if (lo < 1) lo = 1;
        if (hi < lo) hi = lo;
        for (int t = 0; t < 2000; ++t) {
            cut_rect c = image_cutmix_rect(&r, n, 7);
            assert_in_range(c.w, lo, hi);
            assert_true(c.x >= 0 && c.x + c.w <= n && c.y >= 0 && c.y + c.h <= 7);
            if (c.w < n) assert_true(c.x + c.w <= n - 1);
            seen[c.w] = 1;
        }
        for (int v = lo; v <= hi; ++v) assert_true(seen[v]);
    }
}

typedef struct {
    float x[8][W * H * 3], y[8][K];
} run_out;

/* 40 mini-batches of 4 through the loader; returns how many mixed (a fractional truth). */
static int run(classifier_data *cd, uint64_t seed, int begin, run_out *out)
{
    char err[256];
    loader *ld = loader_start_ex(4, 0, W * H * 3, K, classifier_fill, begin ? classifier_begin_batch : NULL,
                                 cd, seed, 0, err, sizeof(err));
    assert_non_null(ld);
    int mixed = 0;
    for (int b = 0; b < 40; ++b) {
        float *x, *y;
        assert_int_equal(loader_next(ld, &x, &y, err, sizeof(err)), 0);
        int frac = 0;
        for (int i = 0; i < 4 * K; ++i) frac |= y[i] != 0 && y[i] != 1;
        for (int s = 0; s < 4; ++s) check_sample(x + (size_t)s * W * H * 3, y + s * K);
        mixed += frac;
        if (b < 2) {
            memcpy(out->x[b * 4], x, sizeof(float) * 4 * W * H * 3);
            memcpy(out->y[b * 4], y, sizeof(float) * 4 * K);
        }
    }
    loader_stop(ld);
    return mixed;
}

/* The same seed repeats the same batches; about half of them are mixed (40 batches:
 * 20 expected, sd 3.2, less the 1.2 % of mixed batches whose 4 pairs all match); another
 * seed differs; with cutmix off the begin hook changes nothing and no truth is mixed. */
static void test_loader_seeded(void **state)
{
    (void)state;
    classifier_data cd;
    init(&cd, 1);
    static run_out a, b, c, d, e;
    int ma = run(&cd, 11, 1, &a), mb = run(&cd, 11, 1, &b), mc = run(&cd, 12, 1, &c);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(ma, mb);
    assert_true(memcmp(&a, &c, sizeof(a)) != 0);
    assert_in_range(ma, 8, 32);
    assert_in_range(mc, 8, 32);
    cd.cutmix = 0;
    assert_int_equal(run(&cd, 11, 1, &d), 0);
    assert_int_equal(run(&cd, 11, 0, &e), 0);
    assert_memory_equal(&d, &e, sizeof(d));
    classifier_data_free(&cd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rect_range),
        cmocka_unit_test(test_pair_brute_force),
        cmocka_unit_test(test_loader_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
