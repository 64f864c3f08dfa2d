/* test_fused_post.c: the fused batch-norm training forward (issue 20: one pass over a
 * layer's output) against the unfused sequence it replaces, byte for byte.
 *  - bn_train_fused (CPU backend) against bn_normalize, a copy of x-hat, bn_scale_shift_act
 *    and activation_mask, for channel sizes that are not multiples of the block (blocks
 *    spanning channels), several block sizes and activations; the sink must see every
 *    value exactly once. The same for bn_normalize then bn_xhat_fused (actnn_auto's path).
 *  - activation_mask's vector path (leaky, relu, relie) against grad_y(y) == g1 per value,
 *    with signed zeros, NaN and denormals.
 *  - actnn_save_part / actnn_mask_set_bytes_part, saved block by block in shuffled order,
 *    against actnn_save_sample / actnn_mask_set_bytes of the whole sample (same payload
 *    and metadata bytes, at every width), and their argument checks. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actnn.h"
#include "backend/backend.h"
#include "backend/math/act_math.h"

static float frand(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f;
}

typedef struct {
    float *xhat;
    uint8_t *mask;
    int *seen;
    activation a;
} rec;

/* Records what the kernel hands out; each block writes only its own range, so the
 * threads never touch the same memory. */
static void record(void *ud, size_t j0, size_t len, const float *xhat, const float *y)
{
    rec *r = ud;
    memcpy(r->xhat + j0, xhat, len * sizeof(float));
    dn_backend_cpu()->activation_mask(y, len, r->a, r->mask + j0);
    for (size_t k = 0; k < len; ++k) r->seen[j0 + k]++;
}

/* from_xhat: x holds x-hat already (bn_normalize) and bn_xhat_fused runs (actnn_auto). */
static void fused_case(int n, int spatial, size_t block, activation a, uint32_t seed, int from_xhat)
{
    const dn_backend *cpu = dn_backend_cpu();
    size_t d = (size_t)n * spatial;
    float *x = malloc(d * sizeof(float)), *ref = malloc(d * sizeof(float));
    float *xh_ref = malloc(d * sizeof(float)), *xh = calloc(d, sizeof(float));
    uint8_t *m_ref = malloc(d), *m = calloc(d, 1);
    int *seen = calloc(d, sizeof(int));
    bn_state b = {.n = n};
    b.mean = malloc(n * sizeof(float));
    b.variance = malloc(n * sizeof(float));
    b.scales = malloc(n * sizeof(float));
    b.biases = malloc(n * sizeof(float));
    assert_true(x && ref && xh_ref && xh && m_ref && m && seen && b.mean && b.variance && b.scales && b.biases);
    for (int f = 0; f < n; ++f) {
        b.mean[f] = frand(&seed) * 4 - 2;
        b.variance[f] = frand(&seed) * 3 + (f % 3 == 0 ? 0 : 0.01f); /* some zero variances */
        b.scales[f] = frand(&seed) * 2 - 0.5f;
        b.biases[f] = frand(&seed) - 0.5f;
    }
    for (size_t i = 0; i < d; ++i) x[i] = frand(&seed) * 10 - 5;
    memcpy(ref, x, d * sizeof(float));
    /* the unfused sequence conv_post ran before */
    cpu->bn_normalize(&b, ref, 1, spatial);
    memcpy(xh_ref, ref, d * sizeof(float));
    cpu->bn_scale_shift_act(&b, ref, spatial, a);
    cpu->activation_mask(ref, d, a, m_ref);
    rec r = {.xhat = xh, .mask = m, .seen = seen, .a = a};
    if (from_xhat) {
        cpu->bn_normalize(&b, x, 1, spatial);
        cpu->bn_xhat_fused(&b, x, spatial, a, block, record, &r);
    } else {
        cpu->bn_train_fused(&b, x, spatial, a, block, record, &r);
    }
    assert_memory_equal(x, ref, d * sizeof(float));
    assert_memory_equal(xh, xh_ref, d * sizeof(float));
    assert_memory_equal(m, m_ref, d);
    for (size_t i = 0; i < d; ++i) assert_int_equal(seen[i], 1);
    free(x); free(ref); free(xh_ref); free(xh); free(m_ref); free(m); free(seen);
    free(b.mean); free(b.variance); free(b.scales); free(b.biases);
}

static void test_fused_matches_unfused(void **state)
{
    (void)state;
    const activation acts[] = {ACT_LEAKY, ACT_RELU, ACT_LINEAR, ACT_LOGISTIC, ACT_MISH, ACT_RELU6};
    const int shapes[][2] = {{3, 169}, {16, 100}, {5, 4103}, {40, 169}, {64, 676}, {1, 1}, {7, 33}};
    const size_t blocks[] = {2048, 256, 4096, 32};
    uint32_t seed = 1;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
        for (size_t k = 0; k < sizeof(blocks) / sizeof(blocks[0]); ++k)
            for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); ++a)
                for (int from_xhat = 0; from_xhat < 2; ++from_xhat)
                    fused_case(shapes[s][0], shapes[s][1], blocks[k], acts[a], seed++, from_xhat);
}

/* actnn_auto's x-hat ranges from the statistics pass (bn_stats_add_minmax, then
 * bn_xhat_group_ranges), against the oracle they replace: x-hat written by bn_normalize,
 * then its groups' extremes and actnn_range_stat of it. The statistics must be
 * bn_stats_add's to the bit, every group's extremes equal to x-hat's, and the cost the
 * same double (or both ACTNN_E_NONFINITE). Shapes put groups inside channels, channels
 * inside groups and both straddling; the data has constant channels (x-hat all zero),
 * small integers (ties), an infinity and a NaN. (A batch's x-hat cannot overflow: an
 * outlier raises the variance with it.) */
static void ranges_case(int n, int spatial, size_t G, int kind, uint32_t seed)
{
    const dn_backend *cpu = dn_backend_cpu();
    enum { B = 3 };
    size_t d = (size_t)n * spatial, ng = (d + G - 1) / G, per = dn_bn_range_ws_floats(n, spatial, G);
    float *x = malloc(B * d * sizeof(float)), *xh = malloc(B * d * sizeof(float));
    float *ws = malloc(B * per * sizeof(float)), *lo = malloc(ng * sizeof(float)), *hi = malloc(ng * sizeof(float));
    bn_state a = {.n = n}, b = {.n = n};
    bn_state *st[2] = {&a, &b};
    for (int k = 0; k < 2; ++k) {
        st[k]->mean = calloc(n, sizeof(float));
        st[k]->variance = calloc(n, sizeof(float));
        st[k]->rolling_mean = calloc(n, sizeof(float));
        st[k]->rolling_variance = calloc(n, sizeof(float));
        st[k]->acc = calloc(2 * (size_t)n, sizeof(double));
    }
    for (size_t i = 0; i < B * d; ++i) {
        size_t f = i % d / (size_t)spatial;
        x[i] = f % 4 == 1 ? 0.75f : (float)(int)(frand(&seed) * 9) - 4.0f + (f % 4 == 2 ? frand(&seed) : 0.0f);
    }
    if (kind == 1) x[d + 5 % d] = INFINITY; /* the channel's mean infinite: its x-hat not finite */
    if (kind == 2) x[2 * d + d / 2] = NAN;
    cpu->bn_stats_begin(&a);
    cpu->bn_stats_begin(&b);
    for (int s = 0; s < B; ++s) {
        cpu->bn_stats_add(&a, x + s * d, 1, spatial);
        cpu->bn_stats_add_minmax(&b, x + s * d, spatial, G, ws + s * per);
    }
    cpu->bn_stats_end(&a, (double)B * spatial);
    cpu->bn_stats_end(&b, (double)B * spatial);
    assert_memory_equal(a.acc, b.acc, 2 * (size_t)n * sizeof(double));
    assert_memory_equal(a.mean, b.mean, n * sizeof(float));
    assert_memory_equal(a.variance, b.variance, n * sizeof(float));
    memcpy(xh, x, B * d * sizeof(float));
    cpu->bn_normalize(&a, xh, B, spatial);
    for (int s = 0; s < B; ++s) {
        cpu->bn_xhat_group_ranges(&b, ws + s * per, spatial, G, lo, hi);
        const float *v = xh + s * d;
        for (size_t g = 0; g < ng && kind == 0; ++g) {
            float mn = v[g * G], mx = v[g * G];
            for (size_t j = g * G; j < d && j < (g + 1) * G; ++j) {
                mn = v[j] < mn ? v[j] : mn;
                mx = v[j] > mx ? v[j] : mx;
            }
            if (!(lo[g] == mn && hi[g] == mx))
                fail_msg("n=%d spatial=%d G=%zu sample %d group %zu: [%.9g, %.9g], x-hat's [%.9g, %.9g]",
                         n, spatial, G, s, g, lo[g], hi[g], mn, mx);
        }
        double want = 0, got = 0;
        int ew = actnn_range_stat(v, d, G, &want), eg = actnn_range_stat_minmax(lo, hi, ng, &got);
        assert_int_equal(eg, ew);
        if (ew == ACTNN_OK) assert_memory_equal(&got, &want, sizeof(double));
        if (kind && ew != ACTNN_E_NONFINITE) /* every sample shares the channel's statistics */
            fail_msg("n=%d spatial=%d G=%zu kind %d sample %d: x-hat finite", n, spatial, G, kind, s);
    }
    for (int k = 0; k < 2; ++k) {
        free(st[k]->mean); free(st[k]->variance); free(st[k]->rolling_mean);
        free(st[k]->rolling_variance); free(st[k]->acc);
    }
    free(x); free(xh); free(ws); free(lo); free(hi);
}

static void test_xhat_ranges(void **state)
{
    (void)state;
    const int shapes[][2] = {{3, 169}, {16, 100}, {5, 4103}, {4, 1024}, {40, 13}, {1, 1}, {7, 33}, {2, 32}};
    const size_t groups[] = {32, 64, 256, 1024};
    uint32_t seed = 9;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
        for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); ++g)
            for (int kind = 0; kind < 3; ++kind) ranges_case(shapes[s][0], shapes[s][1], groups[g], kind, seed++);
    float lo = 0, hi = 1;
    double c;
    assert_int_equal(actnn_range_stat_minmax(&lo, &hi, 0, &c), ACTNN_E_SIZE);
    assert_int_equal(actnn_range_stat_minmax(NULL, &hi, 1, &c), ACTNN_E_NULL);
}

/* The sink is optional. */
static void test_fused_without_sink(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    enum { N = 4, S = 300 };
    float x[N * S], ref[N * S], mean[N] = {0.5f, -1, 0, 2}, var[N] = {1, 0.25f, 0, 4};
    float sc[N] = {1, 2, -1, 0.5f}, bi[N] = {0, 1, -1, 0.1f};
    bn_state b = {.n = N, .mean = mean, .variance = var, .scales = sc, .biases = bi};
    uint32_t seed = 7;
    for (int i = 0; i < N * S; ++i) x[i] = ref[i] = frand(&seed) * 6 - 3;
    cpu->bn_normalize(&b, ref, 1, S);
    cpu->bn_scale_shift_act(&b, ref, S, ACT_LEAKY);
    cpu->bn_train_fused(&b, x, S, ACT_LEAKY, 256, NULL, NULL);
    assert_memory_equal(x, ref, sizeof(x));
}

/* The vector path of activation_mask against the per-value definition. */
static void test_mask_fast_path(void **state)
{
    (void)state;
    const activation acts[] = {ACT_LEAKY, ACT_RELU, ACT_RELIE};
    enum { D = 1031 };
    float y[D];
    uint8_t m[D];
    uint32_t seed = 3;
    for (int i = 0; i < D; ++i) y[i] = frand(&seed) * 2 - 1;
    y[0] = 0.0f;
    y[1] = -0.0f;
    y[2] = NAN;
    y[3] = 1e-42f;
    y[4] = -1e-42f;
    y[5] = INFINITY;
    y[6] = -INFINITY;
    for (size_t a = 0; a < sizeof(acts) / sizeof(acts[0]); ++a) {
        const float g1 = 1; /* activation_is_masked's g1 for these three */
        dn_backend_cpu()->activation_mask(y, D, acts[a], m);
        for (int i = 0; i < D; ++i) assert_int_equal(m[i], grad_y(y[i], acts[a]) == g1);
    }
}

static actnn_ctx *make_ctx(size_t G)
{
    actnn_config cfg;
    assert_int_equal(actnn_config_init(&cfg), ACTNN_OK);
    cfg.group_size = G;
    actnn_ctx *ctx = NULL;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    return ctx;
}

static void raw_equal(const actnn_tensor *a, const actnn_tensor *b)
{
    const void *pa, *pb, *ma, *mb;
    size_t na, nb, ka, kb;
    assert_int_equal(actnn_tensor_raw(a, &pa, &na, &ma, &ka), ACTNN_OK);
    assert_int_equal(actnn_tensor_raw(b, &pb, &nb, &mb, &kb), ACTNN_OK);
    assert_int_equal(na, nb);
    assert_int_equal(ka, kb);
    assert_memory_equal(pa, pb, na);
    assert_memory_equal(ma, mb, ka);
}

/* Parts of `part` values (a multiple of G) in reverse order, as the threads of a fused
 * kernel may store them; then the restored sample and the bytes equal the reference's. */
static void parts_case(size_t G, size_t D, size_t part, int bits)
{
    enum { N = 3 };
    actnn_ctx *ctx = make_ctx(G);
    float *x = malloc(N * D * sizeof(float)), *out = malloc(D * sizeof(float));
    assert_true(x && out);
    uint32_t seed = (uint32_t)(D + bits);
    for (size_t i = 0; i < N * D; ++i) x[i] = frand(&seed) * 8 - 4;
    actnn_tensor *ref, *t;
    assert_int_equal(actnn_tensor_create(ctx, N, D, bits, NULL, 42, &ref), ACTNN_OK);
    assert_int_equal(actnn_tensor_create(ctx, N, D, bits, NULL, 42, &t), ACTNN_OK);
    for (size_t i = 0; i < N; ++i) {
        assert_int_equal(actnn_save_sample(ctx, ref, i, x + i * D), ACTNN_OK);
        size_t nparts = (D + part - 1) / part;
        for (size_t p = 0; p < nparts; ++p) {
            size_t j0 = (nparts - 1 - p) * part, len = D - j0 < part ? D - j0 : part;
            assert_int_equal(actnn_save_part(ctx, t, i, j0, len, x + i * D + j0), ACTNN_OK);
        }
    }
    raw_equal(ref, t);
    for (size_t i = 0; i < N; ++i) {
        float *o2 = malloc(D * sizeof(float));
        assert_non_null(o2);
        assert_int_equal(actnn_restore_sample(ctx, t, i, out), ACTNN_OK);
        assert_int_equal(actnn_restore_sample(ctx, ref, i, o2), ACTNN_OK);
        assert_memory_equal(out, o2, D * sizeof(float));
        free(o2);
    }
    actnn_tensor_free(ctx, ref);
    actnn_tensor_free(ctx, t);
    free(x);
    free(out);
    actnn_ctx_free(ctx);
}

static void test_save_part_bytes(void **state)
{
    (void)state;
    const int widths[] = {1, 2, 4, 8, 16, 32};
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); ++w) {
        parts_case(256, 1000, 512, widths[w]);  /* last group partial */
        parts_case(256, 2048, 2048, widths[w]); /* one part */
        parts_case(32, 169 * 3, 64, widths[w]);
        parts_case(1024, 5000, 1024, widths[w]);
    }
}

static void test_save_part_checks(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(256);
    float x[1000] = {0}, out[1000];
    actnn_tensor *t;
    assert_int_equal(actnn_tensor_create(ctx, 2, 1000, 2, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_save_part(ctx, t, 0, 128, 256, x), ACTNN_E_PARAM); /* not a group start */
    assert_int_equal(actnn_save_part(ctx, t, 0, 0, 200, x), ACTNN_E_PARAM);   /* partial group inside */
    assert_int_equal(actnn_save_part(ctx, t, 0, 768, 512, x), ACTNN_E_PARAM); /* beyond D */
    assert_int_equal(actnn_save_part(ctx, t, 2, 0, 256, x), ACTNN_E_INDEX);
    assert_int_equal(actnn_save_part(NULL, t, 0, 0, 256, x), ACTNN_E_NULL);
    assert_int_equal(actnn_save_part(ctx, t, 0, 0, 256, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_save_part(ctx, t, 0, 0, 768, x), ACTNN_OK);
    assert_int_equal(actnn_restore_sample(ctx, t, 0, out), ACTNN_E_NOT_SAVED);
    assert_int_equal(actnn_save_part(ctx, t, 0, 768, 232, x + 768), ACTNN_OK);
    assert_int_equal(actnn_restore_sample(ctx, t, 0, out), ACTNN_OK);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
}

static void test_mask_part_bytes(void **state)
{
    (void)state;
    actnn_ctx *ctx = make_ctx(256);
    enum { N = 2, D = 1000 };
    uint8_t b[N * D], got[D], want[D];
    uint32_t seed = 11;
    for (int i = 0; i < N * D; ++i) b[i] = frand(&seed) < 0.5f ? 0 : (uint8_t)(1 + i % 3);
    actnn_mask *ref, *m;
    assert_int_equal(actnn_mask_create(ctx, N, D, &ref), ACTNN_OK);
    assert_int_equal(actnn_mask_create(ctx, N, D, &m), ACTNN_OK);
    assert_int_equal(actnn_mask_set_bytes_part(ctx, m, 0, 16, 32, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_mask_set_bytes_part(ctx, m, 0, 0, 40, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_mask_set_bytes_part(ctx, m, 0, 992, 64, b), ACTNN_E_PARAM);
    assert_int_equal(actnn_mask_set_bytes_part(ctx, m, N, 0, 32, b), ACTNN_E_INDEX);
    for (size_t i = 0; i < N; ++i) {
        assert_int_equal(actnn_mask_set_bytes(ctx, ref, i, b + i * D), ACTNN_OK);
        for (size_t j0 = 0; j0 < D; j0 += 96) { /* 96 = 3 words; the last part is 40 */
            size_t len = D - j0 < 96 ? D - j0 : 96;
            if (j0 + len < D)
                assert_int_equal(actnn_mask_set_bytes_part(ctx, m, i, j0 + 0, len, b + i * D + j0), ACTNN_OK);
        }
        assert_int_equal(actnn_mask_get_bytes(ctx, m, i, got), ACTNN_E_NOT_SAVED);
        size_t last = D / 96 * 96;
        assert_int_equal(actnn_mask_set_bytes_part(ctx, m, i, last, D - last, b + i * D + last), ACTNN_OK);
        assert_int_equal(actnn_mask_get_bytes(ctx, m, i, got), ACTNN_OK);
        assert_int_equal(actnn_mask_get_bytes(ctx, ref, i, want), ACTNN_OK);
        assert_memory_equal(got, want, D);
        /* the delta a backward applies is the same as well */
        float d1[D], d2[D];
        for (int k = 0; k < D; ++k) d1[k] = d2[k] = (float)k - 500.5f;
        assert_int_equal(actnn_mask_apply(ctx, m, i, d1, 1, 0.1f), ACTNN_OK);
        assert_int_equal(actnn_mask_apply(ctx, ref, i, d2, 1, 0.1f), ACTNN_OK);
        assert_memory_equal(d1, d2, sizeof(d1));
    }
    actnn_mask_free(ctx, ref);
    actnn_mask_free(ctx, m);
    actnn_ctx_free(ctx);
}

/* actnn_restore_part over every range of a few sizes (starts inside and at group and
 * 32-value block edges, across groups, ending at D) equals the slice of
 * actnn_restore_sample; one sample holds a constant group and one a constant 32-value
 * block inside a varying group. Then the argument checks. */
static void restore_part_case(size_t G, size_t D, int bits, int simd)
{
    enum { N = 2 };
    actnn_config cfg;
    assert_int_equal(actnn_config_init(&cfg), ACTNN_OK);
    cfg.group_size = G;
    cfg.simd = simd ? ACTNN_SIMD_AUTO : ACTNN_SIMD_OFF;
    actnn_ctx *ctx = NULL;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    float *x = malloc(N * D * sizeof(float)), *all = malloc(D * sizeof(float));
    float *part = malloc((D + 1) * sizeof(float));
    assert_true(x && all && part);
    uint32_t seed = (uint32_t)(7 * D + bits);
    for (size_t i = 0; i < N * D; ++i) x[i] = frand(&seed) * 6 - 3;
    for (size_t j = 0; j < G && j < D; ++j) x[j] = 1.25f;                /* constant group */
    for (size_t j = D + G; j < D + G + 32 && j < 2 * D; ++j) x[j] = -0.5f; /* constant block */
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, N, D, bits, NULL, 9, &t), ACTNN_OK);
    const size_t lens[] = {1, 5, 31, 32, 33, 64, 100, G - 1, G, G + 7, 2 * G + 33};
    for (size_t i = 0; i < N; ++i) {
        assert_int_equal(actnn_restore_sample(ctx, t, i, all), ACTNN_OK);
        for (size_t L = 0; L < sizeof(lens) / sizeof(lens[0]); ++L)
            for (size_t j0 = 0; j0 + lens[L] <= D; j0 += 13) {
                part[lens[L]] = 12345.0f; /* a canary after the range */
                assert_int_equal(actnn_restore_part(ctx, t, i, j0, lens[L], part), ACTNN_OK);
                assert_memory_equal(part, all + j0, lens[L] * sizeof(float));
                assert_true(part[lens[L]] == 12345.0f);
            }
        assert_int_equal(actnn_restore_part(ctx, t, i, 0, D, part), ACTNN_OK);
        assert_memory_equal(part, all, D * sizeof(float));
    }
    assert_int_equal(actnn_restore_part(ctx, t, 0, D - 3, 4, part), ACTNN_E_PARAM);
    assert_int_equal(actnn_restore_part(ctx, t, N, 0, 1, part), ACTNN_E_INDEX);
    assert_int_equal(actnn_restore_part(ctx, t, 0, 0, 1, NULL), ACTNN_E_NULL);
    assert_int_equal(actnn_restore_part(ctx, t, 0, D, 0, part), ACTNN_OK);
    actnn_tensor_free(ctx, t);
    assert_int_equal(actnn_tensor_create(ctx, 1, D, bits, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_restore_part(ctx, t, 0, 0, 1, part), ACTNN_E_NOT_SAVED);
    actnn_tensor_free(ctx, t);
    free(x);
    free(all);
    free(part);
    actnn_ctx_free(ctx);
}

static void test_restore_part(void **state)
{
    (void)state;
    const int widths[] = {1, 2, 3, 4, 8, 16, 32};
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); ++w)
        for (int simd = 0; simd < 2; ++simd) {
            restore_part_case(256, 1000, widths[w], simd); /* last group partial (232) */
            restore_part_case(32, 169, widths[w], simd);
            restore_part_case(64, 600, widths[w], simd);
        }
}

/* A dn_block_src over a whole x-hat: a copy into buf (as a restore does) or, for `view`,
 * a pointer into it (as an exact store does); counts the values handed out. */
typedef struct {
    const float *xhat;
    int view;
    long handed;
} src_rec;

static const float *src_block(void *ud, size_t j0, size_t len, float *buf)
{
    src_rec *r = ud;
    __atomic_add_fetch(&r->handed, (long)len, __ATOMIC_RELAXED);
    if (r->view) return r->xhat + j0;
    memcpy(buf, r->xhat + j0, len * sizeof(float));
    return buf;
}

/* bn_backward_sums_src / bn_backward_delta_src against bn_backward_sums /
 * bn_backward_delta over a mini-batch of `batch` samples: the same sums and deltas bit for
 * bit, every x-hat value fetched once per pass. */
static void backward_src_case(int n, int spatial, int batch, int view, uint32_t seed)
{
    const dn_backend *cpu = dn_backend_cpu();
    size_t d = (size_t)n * spatial, all = d * (size_t)batch;
    float *xh = malloc(all * sizeof(float)), *d1 = malloc(all * sizeof(float));
    float *d2 = malloc(all * sizeof(float));
    bn_state a, b;
    float *sc = malloc(n * sizeof(float));
    assert_true(xh && d1 && d2 && sc && bn_alloc(&a, n) == 0 && bn_alloc(&b, n) == 0);
    a.scales = b.scales = sc; /* the layer's parameter in a network */
    for (int f = 0; f < n; ++f) {
        a.variance[f] = b.variance[f] = frand(&seed) * 3 + 0.01f;
        sc[f] = frand(&seed) * 2 - 0.5f;
    }
    for (size_t i = 0; i < all; ++i) {
        xh[i] = frand(&seed) * 4 - 2;
        d1[i] = d2[i] = (frand(&seed) - 0.5f) * 1e-2f;
    }
    cpu->bn_backward_reset(&a);
    cpu->bn_backward_reset(&b);
    src_rec r = {.view = view};
    for (int s = 0; s < batch; ++s) {
        cpu->bn_backward_sums(&a, d1 + s * d, xh + s * d, spatial);
        r.xhat = xh + s * d;
        cpu->bn_backward_sums_src(&b, d2 + s * d, spatial, src_block, &r);
    }
    assert_memory_equal(a.sum_d, b.sum_d, n * sizeof(float));
    assert_memory_equal(a.sum_dx, b.sum_dx, n * sizeof(float));
    for (int s = 0; s < batch; ++s) {
        cpu->bn_backward_delta(&a, d1 + s * d, xh + s * d, batch, spatial);
        r.xhat = xh + s * d;
        cpu->bn_backward_delta_src(&b, d2 + s * d, batch, spatial, src_block, &r);
    }
    assert_memory_equal(d1, d2, all * sizeof(float));
    assert_int_equal(r.handed, 2 * (long)all);
    free(xh); free(d1); free(d2); free(sc);
    bn_free(&a);
    bn_free(&b);
}

static void test_backward_src_matches(void **state)
{
    (void)state;
    const int shapes[][2] = {{3, 169}, {16, 4096}, {5, 4103}, {2, 9000}, {64, 676}, {1, 1}};
    uint32_t seed = 5;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
        for (int view = 0; view < 2; ++view)
            backward_src_case(shapes[s][0], shapes[s][1], 3, view, seed++);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fused_matches_unfused),
        cmocka_unit_test(test_fused_without_sink),
        cmocka_unit_test(test_xhat_ranges),
        cmocka_unit_test(test_mask_fast_path),
        cmocka_unit_test(test_save_part_bytes),
        cmocka_unit_test(test_save_part_checks),
        cmocka_unit_test(test_mask_part_bytes),
        cmocka_unit_test(test_restore_part),
        cmocka_unit_test(test_backward_src_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
