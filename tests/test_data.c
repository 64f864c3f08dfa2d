/* Data path: list and .data files, classifier labels from paths, and the loader's
 * determinism contract (loader.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "data/data_classifier.h"
#include "core/list.h"
#include "data/loader.h"

static void test_list_and_data_cfg(void **state)
{
    (void)state;
    char err[512];
    int n = 0;
    const char *p = tu_write_temp("a.list", "  one\n\ntwo  \r\n\t three\n");
    char **l = list_read(p, &n, err, sizeof(err));
    assert_non_null(l);
    assert_int_equal(n, 3);
    assert_string_equal(l[0], "one");
    assert_string_equal(l[1], "two");
    assert_string_equal(l[2], "three");
    assert_null(l[3]);
    list_free(l);
    assert_null(list_read(tu_write_temp("empty.list", "\n \n"), &n, err, sizeof(err)));
    assert_non_null(strstr(err, "no entries"));
    assert_null(list_read("/nonexistent/x.list", &n, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/x.list"));

    data_cfg d;
    p = tu_write_temp("x.data", "# comment\nclasses = 10\n; other\ntrain=a b.list\n\ntop=5\ntop=3\n");
    assert_int_equal(data_cfg_read(p, &d, err, sizeof(err)), 0);
    int v = 0;
    assert_int_equal(data_cfg_int(&d, "classes", 2, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 10);
    assert_int_equal(data_cfg_int(&d, "top", 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 5); /* the first one wins, as in Darknet's option_find */
    assert_int_equal(data_cfg_int(&d, "missing", 7, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 7);
    assert_string_equal(data_cfg_str(&d, "train", NULL), "a b.list");
    assert_int_equal(data_cfg_int(&d, "train", 0, &v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an integer"));
    data_cfg_free(&d);
    /* a UTF-8 byte order mark before the first key or path is not part of it */
    p = tu_write_temp("bom.data", "\xEF\xBB\xBF" "classes=4\n");
    assert_int_equal(data_cfg_read(p, &d, err, sizeof(err)), 0);
    assert_int_equal(data_cfg_int(&d, "classes", 2, &v, err, sizeof(err)), 0);
    assert_int_equal(v, 4);
    data_cfg_free(&d);
    l = list_read(tu_write_temp("bom.list", "\xEF\xBB\xBF" "a.png\n\xEF\xBB\xBF" "b.png\n"), &n, err,
                  sizeof(err));
    assert_non_null(l);
    assert_string_equal(l[0], "a.png");
    assert_string_equal(l[1], "\xEF\xBB\xBF" "b.png"); /* only at the start of the file */
    list_free(l);
    assert_null(list_read("/tmp", &n, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot read list file /tmp: Is a directory"));
    p = tu_write_temp("bad.data", "classes=1\nthis line is wrong\n");
    assert_int_equal(data_cfg_read(p, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad.data:2"));
}

static void test_labels_from_paths(void **state)
{
    (void)state;
    char *labels[] = {"top", "trouser", "bag", NULL};
    char err[512];
    assert_int_equal(classifier_label_of("data/f/train/00012_bag.png", labels, 3, err, sizeof(err)), 2);
    assert_int_equal(classifier_label_of("x/trouser/1.png", labels, 3, err, sizeof(err)), 1);
    assert_int_equal(classifier_label_of("x/1_top_bag.png", labels, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Too many or too few labels: 2, x/1_top_bag.png"));
    assert_int_equal(classifier_label_of("x/1_shoe.png", labels, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Too many or too few labels: 0, x/1_shoe.png"));
    /* init stops at the first bad path and names it */
    char *paths[] = {"a_top.png", "b_bag.png", "c.png"};
    classifier_data cd;
    assert_int_equal(classifier_data_init(&cd, paths, 3, labels, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "0, c.png"));
    assert_int_equal(classifier_data_init(&cd, paths, 2, labels, 3, err, sizeof(err)), 0);
    assert_int_equal(cd.label_of[0], 0);
    assert_int_equal(cd.label_of[1], 2);
    classifier_data_free(&cd);
}

/* A fill that records rng draws. A draw below 0.3 "fails" (as a bad file would on every
 * visit), so the loader must draw another sample from the same stream. */
typedef struct {
    int fails;
    int always_fail;
} fake_src;

static int fake_fill(void *user, rng_t *r, float *x, float *y)
{
    fake_src *f = user;
    float v = rng_float(r);
    if (f->always_fail || v < .3f) {
        f->fails++;
        return -1;
    }
    x[0] = v;
    x[1] = rng_float(r);
    y[0] = 1 + v; /* the truth follows its sample: a stale or mixed-up y shows */
    return 0;
}

/* Reads `nb` batches of 4 two-float samples starting at batch `first`. */
static void run_loader(uint64_t seed, uint64_t first, int nb, float *out)
{
    char err[256];
    fake_src f = {0};
    loader *ld = loader_start(4, 2, 1, fake_fill, &f, seed, first, err, sizeof(err));
    assert_non_null(ld);
    for (int k = 0; k < nb; ++k) {
        float *x, *y;
        assert_int_equal(loader_next(ld, &x, &y, err, sizeof(err)), 0);
        memcpy(out + k * 8, x, 8 * sizeof(float));
        for (int b = 0; b < 4; ++b) assert_true(y[b] == 1 + x[2 * b]);
    }
    loader_stop(ld);
    assert_true(nb < 3 || f.fails > 0); /* the retry path was exercised */
}

static void test_loader_is_deterministic(void **state)
{
    (void)state;
    float a[48], b[48], c[24], d[48];
    run_loader(42, 0, 6, a);
    run_loader(42, 0, 6, b);
    assert_memory_equal(a, b, sizeof(a));
    /* Starting at batch 3 (a resumed run) continues the same stream. */
    run_loader(42, 3, 3, c);
    assert_memory_equal(a + 24, c, sizeof(c));
    run_loader(43, 0, 6, d);
    assert_memory_not_equal(a, d, sizeof(a));
    /* batches differ from each other */
    assert_memory_not_equal(a, a + 8, 8 * sizeof(float));
}

/* The oracle of batch k: sample b drawn from its own stream (seed mixed with k, stream
 * LOADER_STREAM + b), a failed draw followed by the next one from the same stream.
 * Whatever the prefetch size, the loader gives it. */
static void expected_batch(uint64_t seed, uint64_t k, float *out)
{
    fake_src f = {0};
    float y[1];
    for (int b = 0; b < 4; ++b) {
        rng_t r;
        rng_seed(&r, seed ^ (k * 0x9E3779B97F4A7C15ull), 0x4C4F414445520000ull + (uint64_t)b);
        while (fake_fill(&f, &r, out + 2 * b, y)) {
        }
    }
}

static void test_loader_bounded_prefetch(void **state)
{
    (void)state;
    char err[256];
    for (int p = 1; p <= 4; ++p) {
        fake_src f = {0};
        loader *ld = loader_start_prefetch(4, 2, 1, fake_fill, &f, 7, 2, p, err, sizeof(err));
        assert_non_null(ld);
        for (uint64_t k = 2; k < 8; ++k) {
            float *x, *y, want[8];
            assert_int_equal(loader_next(ld, &x, &y, err, sizeof(err)), 0);
            expected_batch(7, k, want);
            assert_memory_equal(x, want, sizeof(want));
            /* dropping a batch's pages (after the forward) leaves the next ones whole */
            if (k % 2) loader_discard(ld, 4);
            for (int b = 0; b < 4; ++b) assert_true(y[b] == 1 + want[2 * b]);
        }
        loader_stop(ld);
    }
    assert_null(loader_start_prefetch(4, 2, 1, fake_fill, NULL, 7, 0, 5, err, sizeof(err)));
    assert_non_null(strstr(err, "prefetch 5"));
    /* the bound: 64 MiB of samples, at least one, at most the batch */
    assert_int_equal(loader_prefetch(200, 416 * 416 * 3 + 450), 32);
    assert_int_equal(loader_prefetch(4, (size_t)100 << 20), 1);
    assert_int_equal(loader_prefetch(3, 1), 3);
}

/* Samples of 3000 floats (12000 bytes: pages straddle samples), all ones. */
#define WIDE 3000
static int wide_fill(void *user, rng_t *r, float *x, float *y)
{
    (void)user;
    (void)r;
    for (int i = 0; i < WIDE; ++i) x[i] = 1;
    y[0] = 1;
    return 0;
}

/* Bytes [from, to) of x are zero (dropped pages read as zeros) or all ones (kept). */
static int all_bytes(const float *x, size_t from, size_t to, int zero)
{
    const unsigned char *c = (const unsigned char *)x;
    float one = 1;
    for (size_t i = from; i < to; ++i)
        if (c[i] != (zero ? 0 : ((const unsigned char *)&one)[i % sizeof(float)])) return 0;
    return 1;
}

/* A streamed first layer drops the input chunk by chunk (network.h input_done): only
 * whole pages below the sample named go, a page shared with a later sample stays until
 * that sample goes, and the next batch is whole again. The oracle is the page size. */
static void test_loader_partial_discard(void **state)
{
    (void)state;
    char err[256];
    size_t page = (size_t)sysconf(_SC_PAGESIZE), S = WIDE * sizeof(float);
    if (S < 2 * page || S % page == 0) skip(); /* the layout below needs straddling pages */
    loader *ld = loader_start(4, WIDE, 1, wide_fill, NULL, 1, 0, err, sizeof(err));
    assert_non_null(ld);
    for (int k = 0; k < 2; ++k) {
        float *x, *y;
        assert_int_equal(loader_next(ld, &x, &y, err, sizeof(err)), 0);
        assert_true(all_bytes(x, 0, 4 * S, 0));
        for (int upto = 1; upto <= 3; ++upto) {
            loader_discard(ld, upto);
            size_t cut = upto * S / page * page;
            assert_true(all_bytes(x, 0, cut, 1));
            assert_true(all_bytes(x, cut, 4 * S, 0));
        }
        loader_discard(ld, 2); /* a smaller upto changes nothing */
        assert_true(all_bytes(x, 3 * S / page * page, 4 * S, 0));
        loader_discard(ld, 4);
        assert_true(all_bytes(x, 0, 4 * S, 1));
    }
    loader_stop(ld);
}

static void test_loader_reports_hopeless_data(void **state)
{
    (void)state;
    char err[256];
    fake_src f = {.always_fail = 1};
    loader *ld = loader_start(2, 2, 1, fake_fill, &f, 1, 0, err, sizeof(err));
    assert_non_null(ld);
    float *x, *y;
    assert_int_equal(loader_next(ld, &x, &y, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "could not be loaded"));
    loader_stop(ld);
}

/* A sample that takes 1 ms to load, counted. */
static int slow_fill(void *user, rng_t *r, float *x, float *y)
{
    (void)r;
    usleep(1000);
    x[0] = 1;
    y[0] = 1;
    __atomic_add_fetch((int *)user, 1, __ATOMIC_RELAXED);
    return 0;
}

/* loader_stop while a batch loads stops between samples instead of finishing the batch (a
 * trainer that failed at start must not wait for tens of thousands of images): of a batch
 * of 20000 samples at 1 ms each (20 s), stopping 50 ms after the start loads far fewer
 * than the batch (the bound leaves 5 s for a loaded machine). */
static void test_loader_stop_interrupts(void **state)
{
    (void)state;
    char err[256];
    int loaded = 0;
    loader *ld = loader_start_prefetch(20000, 1, 1, slow_fill, &loaded, 1, 0, 20000, err, sizeof(err));
    assert_non_null(ld);
    usleep(50000);
    loader_stop(ld);
    int n = __atomic_load_n(&loaded, __ATOMIC_RELAXED);
    if (n >= 5000) fail_msg("loader_stop returned after %d of 20000 samples", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_data_cfg),
        cmocka_unit_test(test_labels_from_paths),
        cmocka_unit_test(test_loader_is_deterministic),
        cmocka_unit_test(test_loader_bounded_prefetch),
        cmocka_unit_test(test_loader_partial_discard),
        cmocka_unit_test(test_loader_reports_hopeless_data),
        cmocka_unit_test(test_loader_stop_interrupts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
