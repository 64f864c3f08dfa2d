/* The decoded-image cache (image_cache.h). The oracle is image_load_ex itself: every load
 * through the cache, first or repeated, must give the same bits as a fresh decode; a
 * brute-force count says which loads come from memory, and the byte bound holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stb/stb_image_write.h>

#include "common/testutil.h"
#include "data/image_cache.h"

#define W 32
#define H 24
#define NIMG 4

/* NIMG seeded RGB PNGs of W x H (random bytes: every value 0..255 occurs). */
static void write_images(char paths[NIMG][512])
{
    static unsigned char px[W * H * 3];
    uint64_t s = 12345;
    for (int k = 0; k < NIMG; ++k) {
        for (size_t i = 0; i < sizeof(px); ++i) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            px[i] = (unsigned char)(s >> 56);
        }
        snprintf(paths[k], 512, "%s/cache_%d.png", tu_tmpdir(), k);
        assert_true(stbi_write_png(paths[k], W, H, 3, px, W * 3) != 0);
    }
}

static void same_as_decode(image_cache *c, const char *path, int ch)
{
    char err[512];
    image a = image_cache_load(c, path, ch, err, sizeof(err)), b = image_load_ex(path, ch, err, sizeof(err));
    assert_non_null(a.data);
    assert_non_null(b.data);
    assert_int_equal(a.w, b.w);
    assert_int_equal(a.h, b.h);
    assert_int_equal(a.c, b.c);
    if (memcmp(a.data, b.data, sizeof(float) * (size_t)a.w * a.h * a.c))
        fail_msg("%s (%d channels): the cached image differs from a decode", path, ch);
    free_image(a);
    free_image(b);
}

/* A bound with room for two of the four images: every load equals a decode, two images
 * stay and serve every later load of theirs, the others are decoded every time. */
static void test_loads_equal_decodes_within_the_bound(void **s)
{
    (void)s;
    char paths[NIMG][512];
    write_images(paths);
    /* the table's first 64 slots, two images of 8-bit values with their paths and entries
     * (64 bytes at most), and less than a third image */
    size_t one = (size_t)W * H * 3 + strlen(paths[0]) + 1 + 64;
    image_cache *c = image_cache_new(64 * sizeof(void *) + 2 * one + (size_t)W * H * 3 / 2);
    assert_non_null(c);
    for (int round = 0; round < 3; ++round)
        for (int k = 0; k < NIMG; ++k) same_as_decode(c, paths[k], 3);
    image_cache_stats st;
    image_cache_get_stats(c, &st);
    assert_int_equal(st.images, 2);
    assert_int_equal(st.hits, 2 * 2);          /* rounds 2 and 3 of the two kept */
    assert_int_equal(st.misses, NIMG + 2 * 2); /* round 1, then the two not kept */
    assert_true(st.full > 0);
    assert_true(st.bytes <= st.max_bytes);
    /* the channel count is part of the key: grey is another image */
    same_as_decode(c, paths[0], 1);
    same_as_decode(c, paths[0], 1);
    image_cache_free(c);
}

/* No bound, no cache: loads decode (a NULL cache is valid); a missing file is an error
 * each time, never cached. */
static void test_off_and_failures(void **s)
{
    (void)s;
    char paths[NIMG][512];
    write_images(paths);
    assert_null(image_cache_new(0));
    same_as_decode(NULL, paths[1], 3);
    image_cache *c = image_cache_new(1 << 20);
    char err[512] = "";
    for (int i = 0; i < 2; ++i) {
        image im = image_cache_load(c, "/nonexistent/x.png", 3, err, sizeof(err));
        assert_null(im.data);
        assert_non_null(strstr(err, "/nonexistent/x.png"));
    }
    image_cache_stats st;
    image_cache_get_stats(c, &st);
    assert_int_equal(st.images, 0);
    image_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_equal_decodes_within_the_bound),
        cmocka_unit_test(test_off_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
