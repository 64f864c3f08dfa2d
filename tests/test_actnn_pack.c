/* test_actnn_pack.c: the exact side of actnn_plugin: bit-plane packing, 1-bit masks,
 * small integer codes and seed-only dropout masks.
 *
 * - planes_pack/planes_unpack (portable and AVX2) round-trip exhaustively: every pair
 *   of codes for n = 1, 2 at every width, every code value at every position for every
 *   n in 1..100, and agree with a layout reference written here (word i, bit k = bit i
 *   of code k);
 * - masks: every predicate gives the exact bits (NaN, +-0, thresholds), apply matches a
 *   scalar loop, storage is 1 bit per value (4*ceil(D/32) bytes per sample);
 * - codes: exact round trip at every width, out-of-range codes rejected;
 * - dropout: the same elements are dropped on every call, the kept fraction is within
 *   a derived binomial bound of 1-p, nothing is stored. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../actnn_plugin/src/internal.h"
#include "actnn.h"

static uint64_t xs_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static actnn_ctx *make_ctx(int simd, int nthreads)
{
    actnn_config cfg;
    actnn_config_init(&cfg);
    cfg.simd = simd;
    cfg.nthreads = nthreads;
    cfg.seed = 314;
    actnn_ctx *ctx = NULL;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    return ctx;
}

/* ---- bit planes ---- */

/* Layout reference, independent of pack.c: bit i of code k lives in word
 * (k/32)*b + i at bit k%32. */
static void ref_pack(const uint8_t *codes, size_t n, int b, uint32_t *words)
{
    memset(words, 0, 4 * (size_t)b * ((n + 31) / 32));
    for (size_t k = 0; k < n; ++k)
        for (int i = 0; i < b; ++i)
            words[(k / 32) * (size_t)b + (size_t)i] |= (uint32_t)((codes[k] >> i) & 1) << (k % 32);
}

/* Packs with both paths, compares to the reference, unpacks with both paths. */
static void roundtrip(const uint8_t *codes, size_t n, int b)
{
    uint32_t ref[8 * 5], w[8 * 5];
    uint8_t back[160];
    assert_true(n <= 160);
    ref_pack(codes, n, b, ref);
    size_t nw = (size_t)b * ((n + 31) / 32);
    for (int simd = 0; simd <= 1; ++simd) {
        memset(w, 0xA5, sizeof w);
        planes_pack(codes, n, b, w, simd);
        if (memcmp(w, ref, 4 * nw)) fail_msg("pack n=%zu b=%d simd=%d differs", n, b, simd);
        for (int usimd = 0; usimd <= 1; ++usimd) {
            memset(back, 0xA5, sizeof back);
            planes_unpack(w, n, b, back, usimd);
            if (memcmp(back, codes, n)) fail_msg("unpack n=%zu b=%d simd=%d", n, b, usimd);
            if (n < 160) assert_int_equal(back[n], 0xA5); /* nothing written past n */
        }
    }
}

/* All (2^b)^n code vectors for n = 1 and 2: 2^16 cases at b = 8. */
static void test_planes_exhaustive_pairs(void **state)
{
    (void)state;
    for (int b = 1; b <= 8; ++b) {
        unsigned V = 1u << b;
        for (unsigned a = 0; a < V; ++a) {
            uint8_t one[1] = {(uint8_t)a};
            roundtrip(one, 1, b);
            for (unsigned c = 0; c < V; ++c) {
                uint8_t two[2] = {(uint8_t)a, (uint8_t)c};
                roundtrip(two, 2, b);
            }
        }
    }
}

/* Every code value at every position of every length up to 100 (crosses 4 blocks and
 * ragged tails), the other positions holding a varying background. */
static void test_planes_every_position(void **state)
{
    (void)state;
    uint64_t s = 99;
    uint8_t codes[160];
    for (int b = 1; b <= 8; ++b) {
        unsigned V = 1u << b;
        for (size_t n = 1; n <= 100; ++n)
            for (size_t pos = 0; pos < n; ++pos)
                for (unsigned v = 0; v < V; v += (b > 5 ? 7 : 1)) {
                    for (size_t k = 0; k < n; ++k) codes[k] = (uint8_t)(xs_next(&s) & (V - 1));
                    codes[pos] = (uint8_t)v;
                    roundtrip(codes, n, b);
                }
        /* The extremes at every position too (the step above skips some values). */
        for (size_t n = 1; n <= 130; ++n) {
            memset(codes, (int)(V - 1), n);
            roundtrip(codes, n, b);
            memset(codes, 0, n);
            roundtrip(codes, n, b);
        }
    }
}

/* ---- masks ---- */

static void test_mask_exact(void **state)
{
    (void)state;
    static const size_t Ds[] = {1, 31, 32, 33, 64, 100, 1000, 70001};
    uint64_t s = 5;
    for (size_t di = 0; di < sizeof Ds / sizeof *Ds; ++di) {
        size_t D = Ds[di], N = 3;
        float *x = malloc(N * D * sizeof *x), *d = malloc(D * sizeof *d), *dref = malloc(D * sizeof *d);
        uint8_t *bits = malloc(D), *want = malloc(D);
        for (size_t j = 0; j < N * D; ++j) x[j] = (float)((int)(xs_next(&s) % 17) - 8) * 0.75f;
        x[0] = NAN;
        if (N * D > 3) x[1] = -0.0f, x[2] = 6.0f, x[3] = INFINITY;
        for (int simd = 0; simd <= 1; ++simd) {
            actnn_ctx *ctx = make_ctx(simd ? ACTNN_SIMD_AUTO : ACTNN_SIMD_OFF, 2);
            actnn_mask *m;
            assert_int_equal(actnn_mask_create(ctx, N, D, &m), ACTNN_OK);
            for (int kind = 0; kind < 3; ++kind) {
                for (size_t n = 0; n < N; ++n) {
                    const float *xn = x + n * D;
                    for (size_t j = 0; j < D; ++j) {
                        if (kind == 0) want[j] = xn[j] > 0.0f;
                        else if (kind == 1) want[j] = 0.0f < xn[j] && xn[j] < 6.0f;
                        else want[j] = (uint8_t)(j % 3 == 0 ? 0 : j % 7 + 1);
                    }
                    if (kind == 0) assert_int_equal(actnn_mask_set_gt(ctx, m, n, xn, 0.0f), ACTNN_OK);
                    if (kind == 1) assert_int_equal(actnn_mask_set_between(ctx, m, n, xn, 0.0f, 6.0f), ACTNN_OK);
                    if (kind == 2) assert_int_equal(actnn_mask_set_bytes(ctx, m, n, want), ACTNN_OK);
                    assert_int_equal(actnn_mask_get_bytes(ctx, m, n, bits), ACTNN_OK);
                    for (size_t j = 0; j < D; ++j)
                        if (bits[j] != (want[j] != 0)) fail_msg("D=%zu kind=%d j=%zu", D, kind, j);
                    /* apply: leaky backward, delta * (bit ? 1 : 0.1), exact products. */
                    for (size_t j = 0; j < D; ++j) d[j] = dref[j] = (float)(j % 13) - 6.5f;
                    for (size_t j = 0; j < D; ++j) dref[j] = dref[j] * (want[j] ? 1.0f : 0.1f);
                    assert_int_equal(actnn_mask_apply(ctx, m, n, d, 1.0f, 0.1f), ACTNN_OK);
                    assert_memory_equal(d, dref, D * sizeof *d);
                }
            }
            {
                size_t pay, meta;
                actnn_stats st;
                assert_int_equal(actnn_mask_size(N, D, &pay, &meta), ACTNN_OK);
                assert_int_equal(pay, N * 4 * ((D + 31) / 32)); /* 1 bit per value, padded to 32 */
                actnn_get_stats(ctx, &st);
                assert_int_equal(st.payload_bytes, pay);
                assert_int_equal(st.meta_bytes, meta);
            }
            assert_int_equal(actnn_mask_free(ctx, m), ACTNN_OK);
            actnn_ctx_free(ctx);
        }
        free(x), free(d), free(dref), free(bits), free(want);
    }
}

static void test_mask_bits_per_value(void **state)
{
    (void)state;
    size_t pay, meta, N = 64, D = 1 << 16;
    assert_int_equal(actnn_mask_size(N, D, &pay, &meta), ACTNN_OK);
    /* Exactly 1 bit per value when D is a multiple of 32; metadata is one handle. */
    assert_true(8.0 * (double)pay / (double)(N * D) == 1.0);
    assert_true(meta < 256 + N);
}

static void test_mask_unsaved_and_index(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(ACTNN_SIMD_AUTO, 1);
    actnn_mask *m;
    float x[40] = {0}, d[40] = {0};
    uint8_t b[40];
    assert_int_equal(actnn_mask_create(ctx, 2, 40, &m), ACTNN_OK);
    assert_int_equal(actnn_mask_get_bytes(ctx, m, 0, b), ACTNN_E_NOT_SAVED);
    assert_int_equal(actnn_mask_apply(ctx, m, 1, d, 1, 0), ACTNN_E_NOT_SAVED);
    assert_int_equal(actnn_mask_set_gt(ctx, m, 2, x, 0), ACTNN_E_INDEX);
    assert_int_equal(actnn_mask_set_gt(ctx, m, 0, NULL, 0), ACTNN_E_NULL);
    assert_int_equal(actnn_mask_set_gt(NULL, m, 0, x, 0), ACTNN_E_NULL);
    actnn_ctx_free(ctx); /* frees the live mask too (ASan would report a leak) */
}

/* ---- codes ---- */

static void test_codes_exact(void **state)
{
    (void)state;
    static const size_t Ds[] = {1, 9, 32, 47, 256, 1001};
    uint64_t s = 17;
    for (int w = 1; w <= 8; ++w)
        for (size_t di = 0; di < sizeof Ds / sizeof *Ds; ++di) {
            size_t D = Ds[di], N = 4;
            uint8_t *c = malloc(N * D), *back = malloc(D);
            for (size_t j = 0; j < N * D; ++j) c[j] = (uint8_t)(xs_next(&s) & ((1u << w) - 1));
            c[0] = (uint8_t)((1u << w) - 1);
            for (int simd = 0; simd <= 1; ++simd) {
                actnn_ctx *ctx = make_ctx(simd ? ACTNN_SIMD_AUTO : ACTNN_SIMD_OFF, 1);
                actnn_codes *h;
                assert_int_equal(actnn_codes_create(ctx, N, D, w, &h), ACTNN_OK);
                for (size_t n = N; n-- > 0;) assert_int_equal(actnn_codes_set(ctx, h, n, c + n * D), ACTNN_OK);
                for (size_t n = 0; n < N; ++n) {
                    assert_int_equal(actnn_codes_get(ctx, h, n, back), ACTNN_OK);
                    assert_memory_equal(back, c + n * D, D);
                }
                size_t pay, meta;
                actnn_stats st;
                assert_int_equal(actnn_codes_size(N, D, w, &pay, &meta), ACTNN_OK);
                assert_int_equal(pay, N * 4 * (size_t)w * ((D + 31) / 32));
                actnn_get_stats(ctx, &st);
                assert_int_equal(st.payload_bytes, pay);
                /* A code >= 2^w is refused and leaves the sample unsaved. */
                if (w < 8) {
                    uint8_t keep = c[D - 1];
                    c[D - 1] = (uint8_t)(1u << w);
                    assert_int_equal(actnn_codes_set(ctx, h, 0, c), ACTNN_E_CODE);
                    assert_int_equal(actnn_codes_get(ctx, h, 0, back), ACTNN_E_NOT_SAVED);
                    c[D - 1] = keep;
                }
                assert_int_equal(actnn_codes_free(ctx, h), ACTNN_OK);
                actnn_get_stats(ctx, &st);
                assert_int_equal(st.payload_bytes + st.meta_bytes + st.handles, 0);
                actnn_ctx_free(ctx);
            }
            free(c), free(back);
        }
}

/* ---- dropout ---- */

/* Keep fraction over M elements: Binomial(M, 1-p) / M has sd sqrt(p(1-p)/M); with
 * M = 2^20 and p = 0.5 that is 4.9e-4, so 6 sd = 2.9e-3 (false failure < 2e-9). The
 * threshold p*2^32 makes the exact keep probability 1 - p within 2^-32. */
static void test_dropout(void **state)
{
    (void)state;
    size_t N = 4, D = (1u << 18) + 3;
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
    float *x = malloc(D * sizeof *x), *y = malloc(D * sizeof *y);
    uint8_t *keep = malloc(D);
    for (size_t pi = 0; pi < 4; ++pi) {
        float p = ps[pi];
        actnn_ctx *ctx = make_ctx(ACTNN_SIMD_AUTO, 2), *ctx0 = make_ctx(ACTNN_SIMD_OFF, 1);
        actnn_dropout *d, *d0;
        assert_int_equal(actnn_dropout_create(ctx, N, D, p, 77, &d), ACTNN_OK);
        assert_int_equal(actnn_dropout_create(ctx0, N, D, p, 77, &d0), ACTNN_OK);
        size_t kept = 0;
        float scale = (float)(1.0 / (1.0 - (double)p));
        for (size_t n = 0; n < N; ++n) {
            for (size_t j = 0; j < D; ++j) x[j] = y[j] = (float)(j % 101) - 50.0f;
            assert_int_equal(actnn_dropout_apply(d, n, x), ACTNN_OK);  /* AVX2 */
            assert_int_equal(actnn_dropout_apply(d0, n, y), ACTNN_OK); /* portable */
            assert_memory_equal(x, y, D * sizeof *x);
            assert_int_equal(actnn_dropout_get_bytes(d, n, keep), ACTNN_OK);
            for (size_t j = 0; j < D; ++j) {
                float want = keep[j] ? ((float)(j % 101) - 50.0f) * scale : 0.0f;
                if (x[j] != want) fail_msg("p=%g n=%zu j=%zu", (double)p, n, j);
                kept += keep[j];
            }
        }
        double frac = (double)kept / (double)(N * D), sd = sqrt((double)p * (1 - p) / (double)(N * D));
        print_message("dropout p=%.1f kept %.5f (expected %.5f, 6 sd = %.5f)\n", (double)p, frac, 1 - p, 6 * sd);
        assert_true(fabs(frac - (1.0 - p)) <= 6 * sd + 1e-9);
        /* A different id or sample draws a different mask (for 0 < p). */
        if (p > 0) {
            uint8_t *k2 = malloc(D);
            actnn_dropout *e;
            assert_int_equal(actnn_dropout_create(ctx, N, D, p, 78, &e), ACTNN_OK);
            assert_int_equal(actnn_dropout_get_bytes(e, 0, k2), ACTNN_OK);
            assert_int_equal(actnn_dropout_get_bytes(d, 0, keep), ACTNN_OK);
            assert_memory_not_equal(keep, k2, D);
            assert_int_equal(actnn_dropout_get_bytes(d, 1, k2), ACTNN_OK);
            assert_memory_not_equal(keep, k2, D);
            actnn_dropout_free(ctx, e);
            free(k2);
        }
        size_t pay, meta;
        actnn_stats st;
        assert_int_equal(actnn_dropout_size(&pay, &meta), ACTNN_OK);
        assert_int_equal(pay, 0);
        actnn_get_stats(ctx, &st);
        assert_int_equal(st.payload_bytes, 0);
        assert_int_equal(st.meta_bytes, meta);
        actnn_dropout_free(ctx, d);
        actnn_dropout_free(ctx0, d0);
        actnn_ctx_free(ctx);
        actnn_ctx_free(ctx0);
    }
    free(x), free(y), free(keep);
}

static void test_dropout_args(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(ACTNN_SIMD_AUTO, 1);
    actnn_dropout *d = (actnn_dropout *)1;
    assert_int_equal(actnn_dropout_create(ctx, 1, 10, 1.0f, 0, &d), ACTNN_E_PARAM);
    assert_null(d);
    assert_int_equal(actnn_dropout_create(ctx, 1, 10, -0.1f, 0, &d), ACTNN_E_PARAM);
    assert_int_equal(actnn_dropout_create(ctx, 1, 10, NAN, 0, &d), ACTNN_E_PARAM);
    assert_int_equal(actnn_dropout_create(ctx, 0, 10, 0.5f, 0, &d), ACTNN_E_SIZE);
    assert_int_equal(actnn_dropout_create(NULL, 1, 10, 0.5f, 0, &d), ACTNN_E_NULL);
    assert_int_equal(actnn_dropout_create(ctx, 2, 10, 0.5f, 0, &d), ACTNN_OK);
    float x[10] = {0};
    assert_int_equal(actnn_dropout_apply(d, 2, x), ACTNN_E_INDEX);
    assert_int_equal(actnn_dropout_apply(d, 0, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_dropout_apply(NULL, 0, x), ACTNN_E_NULL);
    actnn_dropout_free(ctx, d);
    actnn_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planes_exhaustive_pairs),
        cmocka_unit_test(test_planes_every_position),
        cmocka_unit_test(test_mask_exact),
        cmocka_unit_test(test_mask_bits_per_value),
        cmocka_unit_test(test_mask_unsaved_and_index),
        cmocka_unit_test(test_codes_exact),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_dropout_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
