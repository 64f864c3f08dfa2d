/* test_actnn_api.c: the codec-style API of actnn_plugin: contexts and configuration,
 * error codes and their strings, argument checking (NULL, zero sizes, bits not
 * allowed), size functions equal to the accounted bytes, the pool (reuse, trim, peaks)
 * and freeing a context with live handles (checked for leaks under `make SANITIZE=1`). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actnn.h"

static actnn_ctx *make_ctx(size_t G)
{
    actnn_config cfg;
    assert_int_equal(actnn_config_init(&cfg), ACTNN_OK);
    cfg.group_size = G;
    actnn_ctx *ctx = NULL;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    return ctx;
}

static void test_strerror(void **state)
{
    (void)state;
    const char *unknown = actnn_strerror(12345);
    assert_non_null(unknown);
    for (int e = ACTNN_OK; e >= ACTNN_E_TOO_LARGE; --e) {
        const char *s = actnn_strerror(e);
        assert_non_null(s);
        assert_true(strlen(s) > 1);
        assert_string_not_equal(s, unknown);
        for (int f = e + 1; f <= ACTNN_OK; ++f) assert_string_not_equal(s, actnn_strerror(f));
    }
    assert_string_equal(actnn_strerror(ACTNN_E_TOO_LARGE - 1), unknown);
}

static void test_config(void **state)
{
    (void)state;
    actnn_config cfg, got;
    actnn_ctx *ctx = (actnn_ctx *)1;
    assert_int_equal(actnn_config_init(NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_config_init(&cfg), ACTNN_OK);
    assert_int_equal(cfg.group_size, ACTNN_DEFAULT_GROUP);
    assert_int_equal(actnn_ctx_create(NULL, NULL), ACTNN_E_NULL);
    static const size_t bad_g[] = {0, 16, 31, 48, 100, 65536 + 32};
    for (size_t i = 0; i < sizeof bad_g / sizeof *bad_g; ++i) {
        cfg.group_size = bad_g[i];
        assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_E_GROUP);
        assert_null(ctx);
    }
    cfg.group_size = 64;
    cfg.nthreads = -1;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_E_PARAM);
    cfg.nthreads = 0;
    cfg.simd = 7;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_E_PARAM);
    cfg.simd = ACTNN_SIMD_AUTO;
    cfg.seed = 99;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    assert_int_equal(actnn_ctx_get_config(ctx, &got), ACTNN_OK);
    assert_int_equal(got.group_size, 64);
    uint64_t seed;
    assert_int_equal(actnn_get_seed(ctx, &seed), ACTNN_OK);
    assert_true(seed == 99);
    assert_int_equal(actnn_set_seed(ctx, 5), ACTNN_OK);
    assert_int_equal(actnn_get_seed(ctx, &seed), ACTNN_OK);
    assert_true(seed == 5);
    assert_int_equal(actnn_set_nthreads(ctx, -2), ACTNN_E_PARAM);
    assert_int_equal(actnn_set_nthreads(ctx, 2), ACTNN_OK);
    assert_int_equal(actnn_set_seed(NULL, 1), ACTNN_E_NULL);
    assert_int_equal(actnn_get_seed(ctx, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_ctx_get_config(NULL, &got), ACTNN_E_NULL);
    assert_int_equal(actnn_ctx_free(ctx), ACTNN_OK);
    assert_int_equal(actnn_ctx_free(NULL), ACTNN_OK);
    /* Defaults when cfg is NULL. */
    assert_int_equal(actnn_ctx_create(NULL, &ctx), ACTNN_OK);
    assert_int_equal(actnn_ctx_get_config(ctx, &got), ACTNN_OK);
    assert_int_equal(got.group_size, 256);
    actnn_ctx_free(ctx);
}

static void test_save_bad_arguments(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(256);
    float x[64] = {0}, y[64];
    actnn_tensor *t = (actnn_tensor *)1;
    assert_int_equal(actnn_save(NULL, x, 1, 64, 2, NULL, 0, &t), ACTNN_E_NULL);
    assert_null(t);
    assert_int_equal(actnn_save(ctx, NULL, 1, 64, 2, NULL, 0, &t), ACTNN_E_NULL);
    assert_int_equal(actnn_save(ctx, x, 1, 64, 2, NULL, 0, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_save(ctx, x, 0, 64, 2, NULL, 0, &t), ACTNN_E_SIZE);
    assert_int_equal(actnn_save(ctx, x, 1, 0, 2, NULL, 0, &t), ACTNN_E_SIZE);
    static const int bad_bits[] = {0, -1, 9, 12, 15, 17, 31, 33, 64};
    for (size_t i = 0; i < sizeof bad_bits / sizeof *bad_bits; ++i)
        assert_int_equal(actnn_save(ctx, x, 1, 64, bad_bits[i], NULL, 0, &t), ACTNN_E_BITS);
    uint8_t sb[2] = {2, 9};
    assert_int_equal(actnn_save(ctx, x, 2, 32, 2, sb, 0, &t), ACTNN_E_BITS);
    assert_null(t);
    /* D beyond the 32-bit element counters. */
    assert_int_equal(actnn_tensor_create(ctx, 1, (size_t)1 << 32, 2, NULL, 0, &t), ACTNN_E_TOO_LARGE);
    /* Nothing is held after the failures. */
    actnn_stats st;
    assert_int_equal(actnn_get_stats(ctx, &st), ACTNN_OK);
    assert_int_equal(st.handles + st.payload_bytes + st.meta_bytes, 0);

    assert_int_equal(actnn_tensor_create(ctx, 2, 64, 4, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_save_sample(ctx, t, 2, x), ACTNN_E_INDEX);
    assert_int_equal(actnn_save_sample(ctx, t, 0, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_save_sample(NULL, t, 0, x), ACTNN_E_NULL);
    assert_int_equal(actnn_restore_sample(ctx, t, 0, y), ACTNN_E_NOT_SAVED);
    assert_int_equal(actnn_save_sample(ctx, t, 0, x), ACTNN_OK);
    assert_int_equal(actnn_restore_sample(ctx, t, 0, y), ACTNN_OK);
    assert_int_equal(actnn_restore_sample(ctx, t, 5, y), ACTNN_E_INDEX);
    assert_int_equal(actnn_restore_sample(ctx, t, 0, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_restore(ctx, t, y), ACTNN_E_NOT_SAVED);
    assert_int_equal(actnn_restore(ctx, NULL, y), ACTNN_E_NULL);
    int bits;
    assert_int_equal(actnn_tensor_sample_bits(t, 2, &bits), ACTNN_E_INDEX);
    assert_int_equal(actnn_tensor_sample_bits(t, 1, &bits), ACTNN_OK);
    assert_int_equal(bits, 4);
    double r;
    assert_int_equal(actnn_tensor_range_stat(t, 1, &r), ACTNN_E_NOT_SAVED);
    actnn_tensor_info info;
    assert_int_equal(actnn_tensor_get_info(NULL, &info), ACTNN_E_NULL);
    assert_int_equal(actnn_tensor_free(NULL, t), ACTNN_E_NULL);
    assert_int_equal(actnn_tensor_free(ctx, t), ACTNN_OK);
    assert_int_equal(actnn_tensor_free(ctx, t), ACTNN_E_PARAM); /* double free caught */
    assert_int_equal(actnn_tensor_free(ctx, NULL), ACTNN_OK);

    /* Masks and codes: zero sizes and widths. */
    actnn_mask *m = (actnn_mask *)1;
    actnn_codes *c = (actnn_codes *)1;
    assert_int_equal(actnn_mask_create(ctx, 0, 5, &m), ACTNN_E_SIZE);
    assert_null(m);
    assert_int_equal(actnn_mask_create(NULL, 1, 5, &m), ACTNN_E_NULL);
    assert_int_equal(actnn_codes_create(ctx, 1, 5, 0, &c), ACTNN_E_BITS);
    assert_null(c);
    assert_int_equal(actnn_codes_create(ctx, 1, 5, 9, &c), ACTNN_E_BITS);
    assert_int_equal(actnn_codes_create(ctx, 1, 0, 3, &c), ACTNN_E_SIZE);
    actnn_ctx_free(ctx);
}

static void test_size_functions(void **state)
{
    (void)state;
    size_t p, m;
    assert_int_equal(actnn_tensor_size(1, 10, 2, 256, NULL, &m), ACTNN_E_NULL);
    assert_int_equal(actnn_tensor_size(0, 10, 2, 256, &p, &m), ACTNN_E_SIZE);
    assert_int_equal(actnn_tensor_size(1, 10, 10, 256, &p, &m), ACTNN_E_BITS);
    assert_int_equal(actnn_tensor_size(1, 10, 2, 100, &p, &m), ACTNN_E_GROUP);
    assert_int_equal(actnn_tensor_size((size_t)1 << 62, 1 << 20, 32, 256, &p, &m), ACTNN_E_TOO_LARGE);
    assert_int_equal(actnn_mask_size(1, 0, &p, &m), ACTNN_E_SIZE);
    assert_int_equal(actnn_codes_size(1, 3, 9, &p, &m), ACTNN_E_BITS);
    assert_int_equal(actnn_dropout_size(NULL, &m), ACTNN_E_NULL);
    assert_int_equal(actnn_tensor_size_mixed(1, 3, NULL, 256, &p, &m), ACTNN_E_NULL);

    /* Payload formulas of the header, ragged sizes included. */
    static const size_t Ds[] = {1, 31, 32, 33, 255, 256, 257, 1000};
    for (size_t i = 0; i < sizeof Ds / sizeof *Ds; ++i) {
        size_t D = Ds[i], N = 3, blk = (D + 31) / 32, ng = (D + 255) / 256;
        for (int b = 1; b <= 8; ++b) {
            size_t m0;
            assert_int_equal(actnn_tensor_size(N, D, b, 256, &p, &m), ACTNN_OK);
            assert_int_equal(p, N * 4 * (size_t)b * blk);
            assert_int_equal(actnn_tensor_size(N, D, 32, 256, &p, &m0), ACTNN_OK);
            assert_int_equal(m - m0, N * 4 * ng); /* 4 bytes of metadata per group */
        }
        assert_int_equal(actnn_tensor_size(N, D, 16, 256, &p, &m), ACTNN_OK);
        assert_int_equal(p, N * 4 * ((D + 1) / 2));
        assert_int_equal(actnn_tensor_size(N, D, 32, 256, &p, &m), ACTNN_OK);
        assert_int_equal(p, N * 4 * D);
    }
}

/* The context accounts exactly what the size functions announce, for every kind of
 * handle, and returns to zero when they are freed. */
static void test_accounting(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(128);
    size_t N = 5, D = 1000;
    float *x = malloc(N * D * sizeof *x);
    for (size_t j = 0; j < N * D; ++j) x[j] = sinf((float)j);
    uint8_t sb[5] = {1, 2, 8, 16, 32};
    size_t p1, m1, p2, m2, p3, m3, p4, m4, p5, m5;
    assert_int_equal(actnn_tensor_size(N, D, 2, 128, &p1, &m1), ACTNN_OK);
    assert_int_equal(actnn_tensor_size_mixed(N, D, sb, 128, &p2, &m2), ACTNN_OK);
    assert_int_equal(actnn_mask_size(N, D, &p3, &m3), ACTNN_OK);
    assert_int_equal(actnn_codes_size(N, D, 3, &p4, &m4), ACTNN_OK);
    assert_int_equal(actnn_dropout_size(&p5, &m5), ACTNN_OK);
    actnn_tensor *a, *b;
    actnn_mask *mk;
    actnn_codes *cd;
    actnn_dropout *dr;
    assert_int_equal(actnn_save(ctx, x, N, D, 2, NULL, 1, &a), ACTNN_OK);
    assert_int_equal(actnn_save(ctx, x, N, D, 0, sb, 2, &b), ACTNN_OK);
    assert_int_equal(actnn_mask_create(ctx, N, D, &mk), ACTNN_OK);
    assert_int_equal(actnn_codes_create(ctx, N, D, 3, &cd), ACTNN_OK);
    assert_int_equal(actnn_dropout_create(ctx, N, D, 0.5f, 3, &dr), ACTNN_OK);
    actnn_stats st;
    assert_int_equal(actnn_get_stats(ctx, &st), ACTNN_OK);
    assert_int_equal(st.payload_bytes, p1 + p2 + p3 + p4 + p5);
    assert_int_equal(st.meta_bytes, m1 + m2 + m3 + m4 + m5);
    assert_int_equal(st.handles, 5);
    assert_true(st.pool_bytes >= st.payload_bytes + st.meta_bytes);
    /* The pool wastes at most 12.5% per block plus a 64-byte header and alignment. */
    assert_true(st.pool_bytes <= (st.payload_bytes + st.meta_bytes) * 9 / 8 + 5 * 4 * 64);
    actnn_tensor_info info;
    assert_int_equal(actnn_tensor_get_info(a, &info), ACTNN_OK);
    assert_int_equal(info.payload_bytes, p1);
    assert_int_equal(info.meta_bytes, m1);
    assert_int_equal(info.N, N);
    assert_int_equal(info.D, D);
    assert_int_equal(info.group_size, 128);
    actnn_tensor_free(ctx, a);
    actnn_tensor_free(ctx, b);
    assert_int_equal(actnn_mask_free(ctx, mk), ACTNN_OK);
    assert_int_equal(actnn_codes_free(ctx, cd), ACTNN_OK);
    assert_int_equal(actnn_dropout_free(ctx, dr), ACTNN_OK);
    /* Freeing twice is refused and leaves the accounting alone. */
    assert_int_equal(actnn_mask_free(ctx, mk), ACTNN_E_PARAM);
    assert_int_equal(actnn_codes_free(ctx, cd), ACTNN_E_PARAM);
    assert_int_equal(actnn_dropout_free(ctx, dr), ACTNN_E_PARAM);
    assert_int_equal(actnn_get_stats(ctx, &st), ACTNN_OK);
    assert_int_equal(st.payload_bytes + st.meta_bytes + st.handles, 0);
    assert_int_equal(st.payload_peak, p1 + p2 + p3 + p4 + p5);
    assert_int_equal(st.handles_peak, 5);
    assert_int_equal(actnn_reset_peak(ctx), ACTNN_OK);
    assert_int_equal(actnn_get_stats(ctx, &st), ACTNN_OK);
    assert_int_equal(st.payload_peak, 0);
    actnn_ctx_free(ctx);
    free(x);
}

/* Saving the same sizes again is served by the pool, not by the system; trim returns
 * the free blocks. */
static void test_pool_reuse(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(256);
    size_t N = 4, D = 50000;
    float *x = calloc(N * D, sizeof *x);
    x[7] = 1.0f;
    actnn_stats st0, st;
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, N, D, 2, NULL, 1, &t), ACTNN_OK);
    actnn_tensor_free(ctx, t);
    actnn_get_stats(ctx, &st0);
    assert_int_equal(st0.sys_allocs, 1);
    for (int it = 0; it < 10; ++it) {
        assert_int_equal(actnn_save(ctx, x, N, D, 2, NULL, (uint64_t)it, &t), ACTNN_OK);
        actnn_tensor_free(ctx, t);
    }
    actnn_get_stats(ctx, &st);
    assert_true(st.sys_allocs == st0.sys_allocs);
    assert_true(st.reuses == 10);
    assert_int_equal(st.pool_bytes, st0.pool_bytes);
    assert_int_equal(actnn_trim(ctx), ACTNN_OK);
    actnn_get_stats(ctx, &st);
    assert_int_equal(st.pool_bytes, 0);
    assert_int_equal(actnn_trim(NULL), ACTNN_E_NULL);
    actnn_ctx_free(ctx);
    free(x);
}

/* Freeing the context releases live handles (LeakSanitizer checks under SANITIZE=1). */
static void test_ctx_free_with_live_handles(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(256);
    float x[300];
    for (int j = 0; j < 300; ++j) x[j] = (float)j;
    actnn_tensor *t;
    actnn_mask *m;
    actnn_codes *c;
    actnn_dropout *d;
    assert_int_equal(actnn_save(ctx, x, 1, 300, 3, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_mask_create(ctx, 1, 300, &m), ACTNN_OK);
    assert_int_equal(actnn_codes_create(ctx, 1, 300, 4, &c), ACTNN_OK);
    assert_int_equal(actnn_dropout_create(ctx, 1, 300, 0.1f, 1, &d), ACTNN_OK);
    assert_int_equal(actnn_ctx_free(ctx), ACTNN_OK);
}

/* Two contexts never share state: same seed gives the same bytes, a different seed
 * other bytes. */
static void test_contexts_independent(void **state)
{
    (void)state;
    actnn_ctx *a = make_ctx(256), *b = make_ctx(256);
    float x[1024];
    for (int j = 0; j < 1024; ++j) x[j] = cosf((float)j * 0.1f);
    actnn_tensor *ta, *tb;
    uint64_t ca, cb;
    assert_int_equal(actnn_save(a, x, 2, 512, 2, NULL, 9, &ta), ACTNN_OK);
    assert_int_equal(actnn_save(b, x, 2, 512, 2, NULL, 9, &tb), ACTNN_OK);
    actnn_tensor_checksum(ta, &ca);
    actnn_tensor_checksum(tb, &cb);
    assert_true(ca == cb);
    actnn_tensor_free(b, tb);
    actnn_set_seed(b, 1);
    assert_int_equal(actnn_save(b, x, 2, 512, 2, NULL, 9, &tb), ACTNN_OK);
    actnn_tensor_checksum(tb, &cb);
    assert_true(ca != cb);
    actnn_ctx_free(a);
    actnn_ctx_free(b);
}

/* actnn_sample_view: the exact (32-bit) samples in place, the others refused. */
static void test_sample_view(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(256);
    enum { N = 3, D = 1000 };
    float x[N * D];
    for (int i = 0; i < N * D; ++i) x[i] = (float)i / 7.0f - 100.0f;
    const uint8_t sb[N] = {32, 2, 32};
    actnn_tensor *t;
    assert_int_equal(actnn_tensor_create(ctx, N, D, 2, sb, 1, &t), ACTNN_OK);
    const float *v = x;
    assert_int_equal(actnn_sample_view(t, 0, &v), ACTNN_E_NOT_SAVED);
    assert_null(v);
    for (size_t i = 0; i < N; ++i) assert_int_equal(actnn_save_sample(ctx, t, i, x + i * D), ACTNN_OK);
    for (size_t i = 0; i < N; i += 2) {
        assert_int_equal(actnn_sample_view(t, i, &v), ACTNN_OK);
        assert_memory_equal(v, x + i * D, sizeof(float) * D);
    }
    assert_int_equal(actnn_sample_view(t, 1, &v), ACTNN_E_BITS);
    assert_null(v);
    assert_int_equal(actnn_sample_view(t, N, &v), ACTNN_E_INDEX);
    assert_int_equal(actnn_sample_view(NULL, 0, &v), ACTNN_E_NULL);
    assert_int_equal(actnn_sample_view(t, 0, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_tensor_free(ctx, t), ACTNN_OK);
    assert_int_equal(actnn_ctx_free(ctx), ACTNN_OK);
}

/* A tensor in caller memory (actnn_raw_tensor) holds exactly actnn_tensor_raw's bytes of
 * an actnn_save of the same values, seed and id (the oracle), whichever way its samples
 * are saved (one call, one at a time, in reverse), and restores what actnn_restore gives;
 * at every bit width, with per-sample bits (sample_bits, actnn_auto's layout), with a
 * partial last group and with constant groups. */
static void test_raw_matches_save(void **state)
{
    (void)state;
    enum { N = 4, D = 1000 };
    actnn_ctx *ctx = make_ctx(256);
    assert_int_equal(actnn_set_seed(ctx, 77), ACTNN_OK);
    static float x[N * D], back[N * D], want[N * D];
    for (int i = 0; i < N * D; ++i) x[i] = sinf((float)i * 0.37f) * (1 + i % 13);
    for (int j = 256; j < 512; ++j) x[D + j] = 3.25f; /* a constant group of sample 1 */
    const int bits[] = {1, 2, 3, 4, 8, 16, 32, 0}; /* 0: per-sample bits sb */
    const uint8_t sb[N] = {3, 1, 8, 2};
    for (size_t k = 0; k < sizeof(bits) / sizeof(bits[0]); ++k) {
        const uint8_t *mixed = bits[k] ? NULL : sb;
        actnn_tensor *t;
        assert_int_equal(actnn_save(ctx, x, N, D, mixed ? 2 : bits[k], mixed, 99, &t), ACTNN_OK);
        const void *pay, *meta;
        size_t pb, mb, rpb, rmb;
        assert_int_equal(actnn_tensor_raw(t, &pay, &pb, &meta, &mb), ACTNN_OK);
        if (mixed) assert_int_equal(actnn_raw_size_mixed(N, D, sb, 256, &rpb, &rmb), ACTNN_OK);
        else assert_int_equal(actnn_raw_size(N, D, bits[k], 256, &rpb, &rmb), ACTNN_OK);
        assert_int_equal(rpb, pb);
        assert_int_equal(rmb, mb);
        assert_int_equal(actnn_restore(ctx, t, want), ACTNN_OK);
        for (int order = 0; order < 3; ++order) {
            void *p = calloc(1, rpb);
            uint16_t *m = calloc(1, rmb + 1);
            actnn_raw_tensor r = {.N = N, .D = D, .G = 256, .bits = bits[k], .seed = 77,
                                  .tensor_id = 99, .payload = p, .meta = m, .sample_bits = mixed};
            if (order == 0) assert_int_equal(actnn_raw_save(ctx, &r, 0, N, x), ACTNN_OK);
            for (int i = 0; order && i < N; ++i) {
                int n = order == 1 ? i : N - 1 - i;
                assert_int_equal(actnn_raw_save(ctx, &r, (size_t)n, 1, x + (size_t)n * D), ACTNN_OK);
            }
            assert_memory_equal(p, pay, pb);
            if (mb) assert_memory_equal(m, meta, mb);
            memset(back, 0, sizeof(back));
            assert_int_equal(actnn_raw_restore(ctx, &r, 1, N - 1, back + D), ACTNN_OK);
            assert_int_equal(actnn_raw_restore(ctx, &r, 0, 1, back), ACTNN_OK);
            assert_memory_equal(back, want, sizeof(back));
            assert_int_equal(actnn_raw_save(ctx, &r, N, 1, x), ACTNN_E_INDEX);
            assert_int_equal(actnn_raw_save(ctx, &r, 1, N, x), ACTNN_E_INDEX);
            r.G = 100;
            assert_int_equal(actnn_raw_save(ctx, &r, 0, 1, x), ACTNN_E_GROUP);
            if (mixed) { /* per-sample widths are 1..8 (the metadata layout needs them) */
                const uint8_t bad[N] = {3, 16, 8, 2};
                r.G = 256;
                r.sample_bits = bad;
                assert_int_equal(actnn_raw_save(ctx, &r, 0, 1, x), ACTNN_E_BITS);
                assert_int_equal(actnn_raw_size_mixed(N, D, bad, 256, &rpb, &rmb), ACTNN_E_BITS);
            }
            free(p);
            free(m);
        }
        assert_int_equal(actnn_tensor_free(ctx, t), ACTNN_OK);
    }
    assert_int_equal(actnn_ctx_free(ctx), ACTNN_OK);
}

/* Masks, codes and dropout in caller memory (actnn_raw_mask_set_bytes, actnn_raw_codes_set,
 * actnn_raw_dropout_apply) hold and do exactly what the handles do for the same values
 * (the oracle: actnn_mask_raw / actnn_codes_raw words, actnn_mask_apply, actnn_codes_get,
 * actnn_dropout_apply): D not a multiple of 32, every code width, several samples. */
static void test_raw_planes_match_handles(void **state)
{
    (void)state;
    enum { N = 3, D = 1001 };
    actnn_ctx *ctx = make_ctx(256);
    assert_int_equal(actnn_set_seed(ctx, 5), ACTNN_OK);
    static uint8_t b[N * D], got[N * D];
    static uint32_t words[N * 8 * (D / 32 + 1)];
    static float d1[D], d2[D];
    for (int i = 0; i < N * D; ++i) b[i] = (uint8_t)((i * 2654435761u) >> 13);
    actnn_mask *m;
    assert_int_equal(actnn_mask_create(ctx, N, D, &m), ACTNN_OK);
    for (int n = 0; n < N; ++n) assert_int_equal(actnn_mask_set_bytes(ctx, m, (size_t)n, b + n * D), ACTNN_OK);
    const void *hw;
    size_t hb, pay, meta;
    assert_int_equal(actnn_mask_raw(m, &hw, &hb), ACTNN_OK);
    assert_int_equal(actnn_mask_size(N, D, &pay, &meta), ACTNN_OK);
    assert_int_equal(hb, pay);
    memset(words, 0xAB, sizeof(words));
    assert_int_equal(actnn_raw_mask_set_bytes(ctx, D, N, b, words), ACTNN_OK);
    assert_memory_equal(words, hw, hb);
    for (int j = 0; j < D; ++j) d1[j] = d2[j] = (float)j - 300.5f;
    assert_int_equal(actnn_mask_apply(ctx, m, 2, d1, 1.0f, 0.1f), ACTNN_OK);
    assert_int_equal(actnn_raw_mask_apply(ctx, D, words + 2 * (D / 32 + 1), d2, 1.0f, 0.1f), ACTNN_OK);
    assert_memory_equal(d1, d2, sizeof(d1));
    assert_int_equal(actnn_mask_free(ctx, m), ACTNN_OK);
    for (int w = 1; w <= 8; ++w) {
        static uint8_t c[N * D];
        for (int i = 0; i < N * D; ++i) c[i] = (uint8_t)(b[i] & ((1u << w) - 1));
        actnn_codes *h;
        assert_int_equal(actnn_codes_create(ctx, N, D, w, &h), ACTNN_OK);
        for (int n = 0; n < N; ++n) assert_int_equal(actnn_codes_set(ctx, h, (size_t)n, c + n * D), ACTNN_OK);
        assert_int_equal(actnn_codes_raw(h, &hw, &hb), ACTNN_OK);
        assert_int_equal(actnn_codes_size(N, D, w, &pay, &meta), ACTNN_OK);
        assert_int_equal(hb, pay);
        assert_int_equal(actnn_raw_codes_set(ctx, D, w, N, c, words), ACTNN_OK);
        assert_memory_equal(words, hw, hb);
        assert_int_equal(actnn_raw_codes_get(ctx, D, w, N, words, got), ACTNN_OK);
        assert_memory_equal(got, c, (size_t)N * D);
        if (w < 8) {
            c[D + 7] = (uint8_t)(1u << w); /* one code too wide */
            assert_int_equal(actnn_raw_codes_set(ctx, D, w, N, c, words), ACTNN_E_CODE);
        }
        assert_int_equal(actnn_codes_free(ctx, h), ACTNN_OK);
    }
    actnn_dropout *dr;
    assert_int_equal(actnn_dropout_create(ctx, N, D, 0.3f, 42, &dr), ACTNN_OK);
    for (int n = 0; n < N; ++n) {
        for (int j = 0; j < D; ++j) d1[j] = d2[j] = 1.0f + (float)j;
        assert_int_equal(actnn_dropout_apply(dr, (size_t)n, d1), ACTNN_OK);
        assert_int_equal(actnn_raw_dropout_apply(ctx, 5, 42, 0.3f, (size_t)n, D, d2), ACTNN_OK);
        assert_memory_equal(d1, d2, sizeof(d1));
    }
    assert_int_equal(actnn_raw_dropout_apply(ctx, 5, 42, 1.0f, 0, D, d2), ACTNN_E_PARAM);
    assert_int_equal(actnn_dropout_free(ctx, dr), ACTNN_OK);
    assert_int_equal(actnn_ctx_free(ctx), ACTNN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_save_bad_arguments),
        cmocka_unit_test(test_size_functions),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_ctx_free_with_live_handles),
        cmocka_unit_test(test_contexts_independent),
        cmocka_unit_test(test_sample_view),
        cmocka_unit_test(test_raw_matches_save),
        cmocka_unit_test(test_raw_planes_match_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
