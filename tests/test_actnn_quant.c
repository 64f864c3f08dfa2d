/* test_actnn_quant.c: quantized tensors of actnn_plugin.
 *
 * - the stored bytes equal an independent implementation of the format written here
 *   from the definition in docs/actnn.md (every width, ragged tails, several group sizes),
 *   with volatile intermediates so a fused multiply-add in the library would show;
 * - the restore error bound, in terms of the stored range and of the true min/max;
 * - unbiasedness over many tensor ids (per element and aggregate z-score);
 * - constant groups exact, 16/32-bit pass-through, mixed per-sample bits;
 * - same bytes with 1 and 2 threads, AVX2 and portable paths, whole-batch and
 *   per-sample saves;
 * - stored size at 2 bits <= 2.2 bits per value;
 * - NaN/Inf and overflowing ranges rejected. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actnn.h"

/* ---- test data: a small generator of our own ---- */
typedef struct {
    uint64_t s;
} trng;

static uint64_t trng_next(trng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static double trng_unif(trng *r) { return (double)(trng_next(r) >> 11) * 0x1p-53; }

static float trng_normal(trng *r)
{
    double u1 = trng_unif(r) + 1e-300, u2 = trng_unif(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

enum { DIST_NORMAL, DIST_RELU, DIST_OFFSET, DIST_WIDE, DIST_STEPS, DIST_COUNT };

/* Distributions that stress different parts: zeros (relu), a large offset with a small
 * spread (bf16 rounding of the min), magnitudes over many octaves, repeated values. */
static float *make_data(size_t n, int dist, uint64_t seed)
{
    trng r = {seed * 0x9E3779B97F4A7C15ull + 12345};
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; ++i) {
        float z = trng_normal(&r);
        switch (dist) {
        case DIST_NORMAL: x[i] = z; break;
        case DIST_RELU: x[i] = z > 0 ? 3.0f * z : 0.0f; break;
        case DIST_OFFSET: x[i] = 100.3f + 0.01f * z; break;
        case DIST_WIDE: x[i] = (float)(z * exp(20.0 * trng_unif(&r) - 10.0)); break;
        default: x[i] = (float)(int)(4.0f * z) * 0.25f; break;
        }
    }
    return x;
}

static actnn_ctx *make_ctx(size_t G, uint64_t seed, int nthreads, int simd)
{
    actnn_config cfg;
    assert_int_equal(actnn_config_init(&cfg), ACTNN_OK);
    cfg.group_size = G;
    cfg.seed = seed;
    cfg.nthreads = nthreads;
    cfg.simd = simd;
    actnn_ctx *ctx = NULL;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    return ctx;
}

/* ---- the reference implementation of the format ---- */
static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float ffrom(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t ref_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void ref_key(uint64_t seed, uint64_t tid, uint64_t n, uint32_t *k1, uint32_t *k2)
{
    uint64_t z = ref_mix64(seed ^ 0x9E3779B97F4A7C15ull); /* quantization domain = 1 */
    z = ref_mix64(ref_mix64(z ^ tid) ^ n);
    *k1 = (uint32_t)z;
    *k2 = (uint32_t)(z >> 32);
}

static uint32_t ref_hash(uint32_t c, uint32_t k1, uint32_t k2)
{
    uint32_t x = c ^ k1;
    x = (x ^ (x >> 16)) * 0x21F0AAADu;
    x ^= k2;
    x = (x ^ (x >> 15)) * 0x735A2D97u;
    return x ^ (x >> 15);
}

/* The bf16 neighbours of f by search over bit patterns near its truncation. */
static uint16_t ref_bf16(float f, int up)
{
    uint16_t best = (uint16_t)(fbits(f) >> 16);
    for (int d = -2; d <= 2; ++d) {
        uint16_t c = (uint16_t)((fbits(f) >> 16) + d);
        float v = ffrom((uint32_t)c << 16), bv = ffrom((uint32_t)best << 16);
        if (isnan(v)) continue;
        if (up ? (v >= f && (bv < f || v < bv)) : (v <= f && (bv > f || v > bv))) best = c;
    }
    return best;
}

/* Stores sample n of x (D values) as docs/actnn.md defines; words and meta are zeroed by
 * the caller, words has 4*b*ceil(D/32) bytes, meta 2*ceil(D/G) halves. */
static void ref_save_sample(const float *x, size_t D, size_t G, int b, uint64_t seed,
                            uint64_t tid, uint64_t n, uint32_t *words, uint16_t *meta)
{
    uint32_t k1, k2;
    ref_key(seed, tid, n, &k1, &k2);
    float L = (float)((1 << b) - 1);
    for (size_t g = 0; g * G < D; ++g) {
        size_t j0 = g * G, len = D - j0 < G ? D - j0 : G;
        float lo = x[j0], hi = x[j0];
        for (size_t k = 0; k < len; ++k) {
            lo = fminf(lo, x[j0 + k]);
            hi = fmaxf(hi, x[j0 + k]);
        }
        uint32_t *w = words + (j0 / 32) * b;
        if (lo == hi) {
            meta[2 * g] = ref_bf16(lo + 0.0f, 0);
            meta[2 * g + 1] = 0;
            w[0] = fbits(lo + 0.0f);
            continue;
        }
        uint16_t m16 = ref_bf16(lo + 0.0f, 0);
        float m = ffrom((uint32_t)m16 << 16);
        uint16_t r16 = ref_bf16(hi - m, 1);
        /* R must cover the exact difference, which double holds for these data. */
        if ((double)ffrom((uint32_t)r16 << 16) < (double)hi - (double)m) r16++;
        if (ffrom((uint32_t)r16 << 16) < 0x1p-100f) r16 = (uint16_t)(fbits(0x1p-100f) >> 16);
        meta[2 * g] = m16;
        meta[2 * g + 1] = r16;
        float R = ffrom((uint32_t)r16 << 16), s = L / R;
        for (size_t k = 0; k < len; ++k) {
            size_t j = j0 + k;
            uint32_t h = ref_hash((uint32_t)((j / 16) * 8 + j % 8), k1, k2);
            uint32_t u16 = (j % 16) < 8 ? h % 65536 : h / 65536;
            volatile float t = (x[j] - m) * s;
            volatile float v = t + (float)(2 * u16 + 1) / 131072.0f;
            uint32_t q = (uint32_t)floorf(v);
            if (q > (uint32_t)L) q = (uint32_t)L;
            for (int i = 0; i < b; ++i) w[(k / 32) * b + i] |= ((q >> i) & 1u) << (k % 32);
        }
    }
}

/* Saves with the library and compares the raw bytes with the reference. */
static void check_against_reference(size_t N, size_t D, size_t G, int b, int simd, int dist)
{
    uint64_t seed = 77 + D, tid = 1000 + (uint64_t)b;
    float *x = make_data(N * D, dist, D * 31 + (size_t)b);
    actnn_ctx *ctx = make_ctx(G, seed, 0, simd);
    actnn_tensor *t = NULL;
    assert_int_equal(actnn_save(ctx, x, N, D, b, NULL, tid, &t), ACTNN_OK);
    const void *pay, *meta;
    size_t pb, mb, wps = (size_t)b * ((D + 31) / 32), ng = (D + G - 1) / G;
    assert_int_equal(actnn_tensor_raw(t, &pay, &pb, &meta, &mb), ACTNN_OK);
    assert_int_equal(pb, N * wps * 4);
    assert_int_equal(mb, N * ng * 4);
    uint32_t *words = calloc(N * wps, 4);
    uint16_t *rmeta = calloc(N * ng, 4);
    for (size_t n = 0; n < N; ++n)
        ref_save_sample(x + n * D, D, G, b, seed, tid, n, words + n * wps, rmeta + 2 * n * ng);
    assert_memory_equal(meta, rmeta, mb);
    assert_memory_equal(pay, words, pb);
    free(words);
    free(rmeta);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
    free(x);
}

static void test_reference_format(void **state)
{
    (void)state;
    static const size_t Ds[] = {1, 5, 31, 32, 33, 100, 255, 256, 257, 1000, 4096};
    static const size_t Gs[] = {32, 256, 1024};
    for (int b = 1; b <= 8; ++b)
        for (size_t gi = 0; gi < 3; ++gi)
            for (size_t di = 0; di < sizeof Ds / sizeof *Ds; ++di)
                for (int simd = 0; simd <= 1; ++simd)
                    check_against_reference(3, Ds[di], Gs[gi], b, simd, (int)(di + gi) % DIST_COUNT);
}

/* ---- error bound ---- */
typedef struct {
    double worst_ratio; /* max error / (R/L): shows the bound is nearly reached */
    size_t checked;
} bound_report;

/* Checks every restored value of a saved sample against both bounds (docs/actnn.md):
 *   stored terms: |x' - x| <= (R/L)(1 + 2^-12) + 2^-23 (|m| + R)
 *   true terms:   |x' - x| <= ((hi - lo) + 2^-7 |lo|)(1 + 2^-6) / L + 2^-22 (|lo| + |hi|)
 *                 (when R is not raised to its floor 2^-100)
 * and that m <= lo, hi <= m + R. */
static void check_bounds(const float *x, const float *y, size_t D, size_t G, int b,
                         const uint16_t *meta, bound_report *rep)
{
    double L = (double)((1 << b) - 1);
    for (size_t g = 0; g * G < D; ++g) {
        size_t j0 = g * G, len = D - j0 < G ? D - j0 : G;
        double lo = x[j0], hi = x[j0];
        for (size_t k = 0; k < len; ++k) {
            lo = fmin(lo, x[j0 + k]);
            hi = fmax(hi, x[j0 + k]);
        }
        double m = ffrom((uint32_t)meta[2 * g] << 16), R = ffrom((uint32_t)meta[2 * g + 1] << 16);
        if (R == 0.0) { /* constant group: exact */
            assert_true(lo == hi);
            for (size_t k = 0; k < len; ++k) assert_true(y[j0 + k] == x[j0 + k]);
            continue;
        }
        assert_true(m <= lo);
        assert_true(hi <= m + R);
        double bs = R / L * (1 + 0x1p-12) + 0x1p-23 * (fabs(m) + R);
        double bt = ((hi - lo) + 0x1p-7 * fabs(lo)) * (1 + 0x1p-6) / L + 0x1p-22 * (fabs(lo) + fabs(hi));
        int floor_used = R == 0x1p-100;
        for (size_t k = 0; k < len; ++k) {
            double e = fabs((double)y[j0 + k] - (double)x[j0 + k]);
            if (e > bs || (!floor_used && e > bt))
                fail_msg("b=%d G=%zu j=%zu x=%.9g y=%.9g err=%.3g bound_stored=%.3g bound_true=%.3g",
                         b, G, j0 + k, x[j0 + k], y[j0 + k], e, bs, bt);
            if (e / (R / L) > rep->worst_ratio) rep->worst_ratio = e / (R / L);
            rep->checked++;
        }
    }
}

static void run_bound_case(size_t N, size_t D, size_t G, int b, int dist, int simd,
                           bound_report *rep)
{
    float *x = make_data(N * D, dist, (uint64_t)(b * 1000 + dist) + D);
    float *y = malloc(N * D * sizeof *y);
    actnn_ctx *ctx = make_ctx(G, 5, 0, simd);
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, N, D, b, NULL, 42, &t), ACTNN_OK);
    assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
    const void *pay, *meta;
    size_t pb, mb, ng = (D + G - 1) / G;
    assert_int_equal(actnn_tensor_raw(t, &pay, &pb, &meta, &mb), ACTNN_OK);
    for (size_t n = 0; n < N; ++n)
        check_bounds(x + n * D, y + n * D, D, G, b, (const uint16_t *)meta + 2 * n * ng, rep);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
    free(x);
    free(y);
}

static void test_error_bound(void **state)
{
    (void)state;
    static const size_t Ds[] = {7, 256, 1000, 20000};
    for (int b = 1; b <= 8; ++b) {
        bound_report rep = {0};
        for (int dist = 0; dist < DIST_COUNT; ++dist)
            for (size_t di = 0; di < 4; ++di)
                for (int simd = 0; simd <= 1; ++simd)
                    run_bound_case(2, Ds[di], di % 2 ? 256 : 64, b, dist, simd, &rep);
        assert_true(rep.checked > 100000);
        /* Stochastic rounding moves some values almost a whole step. */
        assert_true(rep.worst_ratio > 0.9);
        print_message("bits=%d checked=%zu worst error = %.4f step\n", b, rep.checked, rep.worst_ratio);
    }
}

/* Relu-like data has min 0, which bf16 holds exactly: the bound is (hi-lo)/L up to
 * the outward rounding of the range (at most 2^-7 relative, plus float rounding). */
static void test_error_bound_zero_min(void **state)
{
    (void)state;
    size_t N = 4, D = 4096, G = 256;
    for (int b = 1; b <= 8; ++b) {
        float *x = make_data(N * D, DIST_RELU, (uint64_t)b);
        for (size_t g = 0; g < N * D / G; ++g) x[g * G] = 0.0f; /* every group has min 0 */
        float *y = malloc(N * D * sizeof *y);
        actnn_ctx *ctx = make_ctx(G, 1, 0, ACTNN_SIMD_AUTO);
        actnn_tensor *t;
        assert_int_equal(actnn_save(ctx, x, N, D, b, NULL, 9, &t), ACTNN_OK);
        assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
        for (size_t g = 0; g < N * D / G; ++g) {
            float hi = 0.0f;
            for (size_t k = 0; k < G; ++k) hi = fmaxf(hi, x[g * G + k]);
            double bound = hi * (1 + 0x1p-7) * (1 + 0x1p-12) / ((1 << b) - 1) + 0x1p-22 * hi;
            for (size_t k = 0; k < G; ++k)
                assert_true(fabs((double)y[g * G + k] - x[g * G + k]) <= bound);
        }
        actnn_tensor_free(ctx, t);
        actnn_ctx_free(ctx);
        free(x);
        free(y);
    }
}

/* A range below 2^-100 is raised to 2^-100 so the scale stays finite. */
static void test_tiny_range(void **state)
{
    (void)state;
    size_t D = 64;
    float x[64], y[64];
    for (size_t j = 0; j < D; ++j) x[j] = 1e-35f + (float)j * 1e-40f;
    actnn_ctx *ctx = make_ctx(32, 1, 1, ACTNN_SIMD_AUTO);
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, 1, D, 2, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
    const void *pay, *meta;
    size_t pb, mb;
    actnn_tensor_raw(t, &pay, &pb, &meta, &mb);
    bound_report rep = {0};
    check_bounds(x, y, D, 32, 2, meta, &rep);
    assert_true(ffrom((uint32_t)((const uint16_t *)meta)[1] << 16) == 0x1p-100f);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
}

/* ---- unbiasedness ---- */
/* K restores of the same data with different tensor ids. One restore of element j
 * takes the two grid values around x_j with probabilities that make it unbiased, so
 * its variance is step^2 f (1 - f) <= step^2 / 4. The mean of K restores then has
 * standard deviation <= step / (2 sqrt K); we require every element within 5 of those
 * (P < 6e-7 each) and the aggregate z-score of the sum of errors within 4.5. */
static void run_unbiased(int b, int dist, int simd)
{
    const size_t D = 2048, G = 256, K = 1000;
    float *x = make_data(D, dist, 99 + (uint64_t)b);
    float *y = malloc(D * sizeof *y);
    double *sum = calloc(D, sizeof *sum), *sum2 = calloc(D, sizeof *sum2), *step = calloc(D, sizeof *step);
    actnn_ctx *ctx = make_ctx(G, 2024, 0, simd);
    for (size_t k = 0; k < K; ++k) {
        actnn_tensor *t;
        assert_int_equal(actnn_save(ctx, x, 1, D, b, NULL, 0xABC000 + k, &t), ACTNN_OK);
        assert_int_equal(actnn_restore_sample(ctx, t, 0, y), ACTNN_OK);
        if (k == 0) {
            const void *pay, *meta;
            size_t pb, mb;
            actnn_tensor_raw(t, &pay, &pb, &meta, &mb);
            for (size_t j = 0; j < D; ++j)
                step[j] = ffrom((uint32_t)((const uint16_t *)meta)[2 * (j / G) + 1] << 16) / ((1 << b) - 1);
        }
        for (size_t j = 0; j < D; ++j) {
            double e = (double)y[j] - (double)x[j];
            sum[j] += e;
            sum2[j] += e * e;
        }
        actnn_tensor_free(ctx, t);
    }
    double zsum = 0.0, zvar = 0.0;
    for (size_t j = 0; j < D; ++j) {
        double mean = sum[j] / K, var = sum2[j] / K - mean * mean;
        if (step[j] == 0.0) {
            assert_true(sum2[j] == 0.0);
            continue;
        }
        assert_true(var <= step[j] * step[j] / 4 * 1.25 + 1e-30);
        if (fabs(mean) > 5.0 * step[j] / (2.0 * sqrt((double)K)))
            fail_msg("b=%d element %zu: mean error %.3g step=%.3g", b, j, mean, step[j]);
        zsum += mean;
        zvar += var / K;
    }
    double z = zvar > 0 ? zsum / sqrt(zvar) : 0.0;
    print_message("bits=%d dist=%d %s aggregate z = %.3f\n", b, dist, simd == ACTNN_SIMD_OFF ? "portable" : "avx2", z);
    assert_true(fabs(z) < 4.5);
    actnn_ctx_free(ctx);
    free(x);
    free(y);
    free(sum);
    free(sum2);
    free(step);
}

static void test_unbiased(void **state)
{
    (void)state;
    run_unbiased(1, DIST_NORMAL, ACTNN_SIMD_AUTO);
    run_unbiased(2, DIST_NORMAL, ACTNN_SIMD_AUTO);
    run_unbiased(2, DIST_RELU, ACTNN_SIMD_OFF);
    run_unbiased(4, DIST_OFFSET, ACTNN_SIMD_AUTO);
    run_unbiased(8, DIST_NORMAL, ACTNN_SIMD_AUTO);
}

/* ---- exactness cases ---- */
static void test_constant_groups(void **state)
{
    (void)state;
    static const float vals[] = {0.0f, -0.0f, 0.1f, -7.3e-30f, 3.3e38f, -1e-42f, 1.0f + 0x1p-23f};
    size_t G = 32, ng = sizeof vals / sizeof *vals, D = G * ng + 5; /* tail group: 5 zeros */
    float *x = calloc(D, sizeof *x), *y = malloc(D * sizeof *y);
    for (size_t g = 0; g < ng; ++g)
        for (size_t k = 0; k < G; ++k) x[g * G + k] = vals[g];
    for (int simd = 0; simd <= 1; ++simd)
        for (int b = 1; b <= 8; ++b) {
            actnn_ctx *ctx = make_ctx(G, 3, 1, simd);
            actnn_tensor *t;
            assert_int_equal(actnn_save(ctx, x, 1, D, b, NULL, 5, &t), ACTNN_OK);
            assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
            for (size_t j = 0; j < D; ++j) assert_true(y[j] == x[j]);
            double st;
            assert_int_equal(actnn_tensor_range_stat(t, 0, &st), ACTNN_OK);
            assert_true(st == 0.0);
            actnn_tensor_free(ctx, t);
            actnn_ctx_free(ctx);
        }
    free(x);
    free(y);
}

static void test_passthrough_16_32(void **state)
{
    (void)state;
    size_t N = 3, D = 1001;
    float *x = make_data(N * D, DIST_WIDE, 8), *y = malloc(N * D * sizeof *y), *y2 = malloc(N * D * sizeof *y2);
    x[3] = 1e6f; /* beyond fp16: Inf at 16 bits */
    x[4] = 1e-9f; /* below fp16's smallest subnormal: 0 */
    actnn_ctx *ctx = make_ctx(256, 3, 0, ACTNN_SIMD_AUTO), *ctx0 = make_ctx(256, 3, 0, ACTNN_SIMD_OFF);
    actnn_tensor *t, *t0;
    assert_int_equal(actnn_save(ctx, x, N, D, 32, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
    assert_memory_equal(x, y, N * D * sizeof *x);
    actnn_tensor_free(ctx, t);
    assert_int_equal(actnn_save(ctx, x, N, D, 16, NULL, 1, &t), ACTNN_OK);
    assert_int_equal(actnn_save(ctx0, x, N, D, 16, NULL, 1, &t0), ACTNN_OK);
    uint64_t c1, c0;
    actnn_tensor_checksum(t, &c1);
    actnn_tensor_checksum(t0, &c0);
    assert_true(c1 == c0);
    assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
    assert_int_equal(actnn_restore(ctx0, t0, y2), ACTNN_OK);
    assert_memory_equal(y, y2, N * D * sizeof *y);
    assert_true(isinf(y[3]) && y[4] == 0.0f);
    for (size_t j = 0; j < N * D; ++j) {
        if (j == 3 || fabsf(x[j]) < 0x1p-14f || fabsf(x[j]) > 65504.0f) continue;
        assert_true(fabs((double)y[j] - x[j]) <= fabs((double)x[j]) * 0x1p-11);
    }
    actnn_tensor_free(ctx, t);
    actnn_tensor_free(ctx0, t0);
    actnn_ctx_free(ctx);
    actnn_ctx_free(ctx0);
    free(x);
    free(y);
    free(y2);
}

/* The portable fp16 converter against F16C on 2^24 spread bit patterns and specials. */
static void test_fp16_paths_agree(void **state)
{
    (void)state;
    size_t D = (1u << 20) + 7;
    float *x = malloc(D * sizeof *x), *y = malloc(D * sizeof *y), *y0 = malloc(D * sizeof *y0);
    actnn_ctx *ctx = make_ctx(256, 0, 0, ACTNN_SIMD_AUTO), *ctx0 = make_ctx(256, 0, 0, ACTNN_SIMD_OFF);
    for (uint32_t pass = 0; pass < 16; ++pass) {
        for (size_t j = 0; j < D; ++j) x[j] = ffrom((uint32_t)(j * 4096u + pass * 257u + (j >> 20)));
        static const uint32_t special[] = {0x7F800000u, 0xFF800000u, 0x7FC00001u, 0x7F800001u,
                                           0x477FEFFFu, 0x477FF000u, 0x33000000u, 0x33000001u,
                                           0x387FFFFFu, 0x38800000u, 0x80000000u, 0x477FE000u};
        for (size_t s = 0; s < sizeof special / 4; ++s) x[s] = ffrom(special[s]);
        actnn_tensor *t, *t0;
        assert_int_equal(actnn_save(ctx, x, 1, D, 16, NULL, 1, &t), ACTNN_OK);
        assert_int_equal(actnn_save(ctx0, x, 1, D, 16, NULL, 1, &t0), ACTNN_OK);
        const void *p, *p0, *m, *m0;
        size_t pb, pb0, mb, mb0;
        actnn_tensor_raw(t, &p, &pb, &m, &mb);
        actnn_tensor_raw(t0, &p0, &pb0, &m0, &mb0);
        assert_memory_equal(p, p0, pb);
        actnn_restore(ctx, t, y);
        actnn_restore(ctx0, t0, y0);
        assert_memory_equal(y, y0, D * sizeof *y);
        actnn_tensor_free(ctx, t);
        actnn_tensor_free(ctx0, t0);
    }
    actnn_ctx_free(ctx);
    actnn_ctx_free(ctx0);
    free(x);
    free(y);
    free(y0);
}

static void test_mixed_bits(void **state)
{
    (void)state;
    static const uint8_t sb[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 2};
    size_t N = sizeof sb, D = 777, G = 64;
    float *x = make_data(N * D, DIST_NORMAL, 4), *y = malloc(N * D * sizeof *y), *ys = malloc(D * sizeof *ys);
    actnn_ctx *ctx = make_ctx(G, 11, 0, ACTNN_SIMD_AUTO);
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, N, D, 0, sb, 17, &t), ACTNN_OK);
    assert_int_equal(actnn_restore(ctx, t, y), ACTNN_OK);
    size_t pay, meta;
    assert_int_equal(actnn_tensor_size_mixed(N, D, sb, G, &pay, &meta), ACTNN_OK);
    actnn_tensor_info info;
    actnn_tensor_get_info(t, &info);
    assert_int_equal(info.payload_bytes, pay);
    assert_int_equal(info.meta_bytes, meta);
    const uint8_t *rawm;
    const void *rawp, *rm;
    size_t pb, mb, goff = 0, ng = (D + G - 1) / G;
    actnn_tensor_raw(t, &rawp, &pb, &rm, &mb);
    rawm = rm;
    for (size_t n = 0; n < N; ++n) {
        int bits;
        assert_int_equal(actnn_tensor_sample_bits(t, n, &bits), ACTNN_OK);
        assert_int_equal(bits, sb[n]);
        assert_int_equal(actnn_restore_sample(ctx, t, n, ys), ACTNN_OK);
        assert_memory_equal(ys, y + n * D, D * sizeof *ys);
        if (bits == 32) assert_memory_equal(ys, x + n * D, D * sizeof *ys);
        if (bits <= 8) {
            bound_report rep = {0};
            check_bounds(x + n * D, ys, D, G, bits, (const uint16_t *)(rawm + 4 * goff), &rep);
            goff += ng;
        }
        double from_meta, from_data;
        assert_int_equal(actnn_tensor_range_stat(t, n, &from_meta), ACTNN_OK);
        assert_int_equal(actnn_range_stat(x + n * D, D, G, &from_data), ACTNN_OK);
        /* Stored ranges are outward-rounded bf16: up to (1 + 2^-7)^2 larger; and a
         * fp16 sample's own ranges are within fp16 rounding. */
        assert_true(from_meta >= from_data * (1 - 0x1p-9) && from_meta <= from_data * 1.04);
    }
    assert_int_equal(goff * 4, mb);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
    free(x);
    free(y);
    free(ys);
}

/* ---- reproducibility ---- */
static uint64_t save_checksum(const float *x, size_t N, size_t D, int b, int nthreads, int simd,
                              int incremental)
{
    actnn_ctx *ctx = make_ctx(256, 123, nthreads, simd);
    actnn_tensor *t;
    if (incremental) {
        assert_int_equal(actnn_tensor_create(ctx, N, D, b, NULL, 55, &t), ACTNN_OK);
        for (size_t n = N; n-- > 0;) assert_int_equal(actnn_save_sample(ctx, t, n, x + n * D), ACTNN_OK);
    } else {
        assert_int_equal(actnn_save(ctx, x, N, D, b, NULL, 55, &t), ACTNN_OK);
    }
    uint64_t c;
    assert_int_equal(actnn_tensor_checksum(t, &c), ACTNN_OK);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
    return c;
}

/* Runtime dispatch: SIMD_AUTO takes the AVX2 objects exactly when cpuid (asked here
 * directly, the oracle) reports AVX2, FMA and F16C; SIMD_OFF never does. Without them the
 * AUTO-vs-OFF byte comparisons of this file compare the portable path with itself. */
static void test_dispatch_path(void **state)
{
    (void)state;
    __builtin_cpu_init();
    int cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              __builtin_cpu_supports("f16c");
    actnn_ctx *on = make_ctx(256, 1, 1, ACTNN_SIMD_AUTO), *off = make_ctx(256, 1, 1, ACTNN_SIMD_OFF);
    assert_int_equal(actnn_simd_active(on), cpu);
    assert_int_equal(actnn_simd_active(off), 0);
    assert_int_equal(actnn_simd_active(NULL), 0);
    if (!cpu) print_message("note: this CPU lacks AVX2/FMA/F16C: the SIMD_AUTO vs SIMD_OFF byte "
                            "comparisons run the portable path twice (nothing to compare)\n");
    actnn_ctx_free(on);
    actnn_ctx_free(off);
}

static void test_same_bytes_threads_simd(void **state)
{
    (void)state;
    size_t N = 6, D = 100003;
    float *x = make_data(N * D, DIST_NORMAL, 6);
    static const int bits[] = {1, 2, 3, 4, 8, 16, 32};
    for (size_t i = 0; i < sizeof bits / sizeof *bits; ++i) {
        uint64_t ref = save_checksum(x, N, D, bits[i], 1, ACTNN_SIMD_OFF, 0);
        assert_true(save_checksum(x, N, D, bits[i], 1, ACTNN_SIMD_AUTO, 0) == ref);
        assert_true(save_checksum(x, N, D, bits[i], 2, ACTNN_SIMD_AUTO, 0) == ref);
        assert_true(save_checksum(x, N, D, bits[i], 2, ACTNN_SIMD_OFF, 0) == ref);
        assert_true(save_checksum(x, N, D, bits[i], 2, ACTNN_SIMD_AUTO, 1) == ref);
        assert_true(save_checksum(x, N, D, bits[i], 3, ACTNN_SIMD_AUTO, 1) == ref);
    }
    /* A different seed or id changes the bytes. */
    actnn_ctx *ctx = make_ctx(256, 123, 0, ACTNN_SIMD_AUTO);
    actnn_tensor *a, *b;
    uint64_t ca, cb;
    actnn_save(ctx, x, N, D, 2, NULL, 55, &a);
    actnn_save(ctx, x, N, D, 2, NULL, 56, &b);
    actnn_tensor_checksum(a, &ca);
    actnn_tensor_checksum(b, &cb);
    assert_true(ca != cb && ca == save_checksum(x, N, D, 2, 1, ACTNN_SIMD_OFF, 0));
    actnn_ctx_free(ctx);
    free(x);
}

/* Restores agree between paths and threads too (AVX2 lookup table for b <= 3). */
static void test_restore_paths_agree(void **state)
{
    (void)state;
    size_t N = 3, D = 70001;
    float *x = make_data(N * D, DIST_RELU, 12), *y1 = malloc(N * D * 4), *y2 = malloc(N * D * 4);
    for (int b = 1; b <= 8; ++b) {
        actnn_ctx *c1 = make_ctx(256, 1, 1, ACTNN_SIMD_OFF), *c2 = make_ctx(256, 1, 2, ACTNN_SIMD_AUTO);
        actnn_tensor *t;
        assert_int_equal(actnn_save(c1, x, N, D, b, NULL, 3, &t), ACTNN_OK);
        assert_int_equal(actnn_restore(c1, t, y1), ACTNN_OK);
        assert_int_equal(actnn_restore(c2, t, y2), ACTNN_OK);
        assert_memory_equal(y1, y2, N * D * 4);
        actnn_tensor_free(c1, t);
        actnn_ctx_free(c1);
        actnn_ctx_free(c2);
    }
    free(x);
    free(y1);
    free(y2);
}

/* ---- size ---- */
static void test_stored_size(void **state)
{
    (void)state;
    size_t N = 4, D = 65536;
    float *x = make_data(N * D, DIST_NORMAL, 1);
    actnn_ctx *ctx = make_ctx(256, 0, 0, ACTNN_SIMD_AUTO);
    static const int bits[] = {1, 2, 4, 8};
    for (int i = 0; i < 4; ++i) {
        actnn_tensor *t;
        assert_int_equal(actnn_save(ctx, x, N, D, bits[i], NULL, 1, &t), ACTNN_OK);
        actnn_tensor_info info;
        actnn_tensor_get_info(t, &info);
        double bpv = 8.0 * (double)(info.payload_bytes + info.meta_bytes) / (double)(N * D);
        print_message("bits=%d: %.4f bits per value, %.2fx smaller than fp32\n", bits[i], bpv, 32 / bpv);
        assert_true(bpv >= bits[i] + 0.125 && bpv <= bits[i] + 0.135);
        if (bits[i] == 2) assert_true(bpv <= 2.2 && 32.0 / bpv >= 14.5);
        actnn_tensor_free(ctx, t);
    }
    actnn_ctx_free(ctx);
    free(x);
}

/* ---- rejected data ---- */
static void test_nonfinite(void **state)
{
    (void)state;
    size_t D = 300;
    float *x = make_data(2 * D, DIST_NORMAL, 2);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    actnn_stats st;
    for (int simd = 0; simd <= 1; ++simd)
        for (int i = 0; i < 3; ++i)
            for (size_t pos = 0; pos < 2 * D; pos += 97) {
                actnn_ctx *ctx = make_ctx(256, 0, 1, simd);
                float keep = x[pos];
                x[pos] = bad[i];
                actnn_tensor *t = (actnn_tensor *)1;
                assert_int_equal(actnn_save(ctx, x, 2, D, 2, NULL, 1, &t), ACTNN_E_NONFINITE);
                assert_null(t);
                actnn_get_stats(ctx, &st);
                assert_int_equal(st.payload_bytes + st.meta_bytes + st.handles, 0);
                /* 16/32 bits store any value. */
                assert_int_equal(actnn_save(ctx, x, 2, D, 32, NULL, 1, &t), ACTNN_OK);
                actnn_tensor_free(ctx, t);
                /* Per sample: the bad sample stays unsaved, the other one is fine. */
                assert_int_equal(actnn_tensor_create(ctx, 2, D, 4, NULL, 1, &t), ACTNN_OK);
                size_t bs = pos / D;
                assert_int_equal(actnn_save_sample(ctx, t, bs, x + bs * D), ACTNN_E_NONFINITE);
                assert_int_equal(actnn_save_sample(ctx, t, 1 - bs, x + (1 - bs) * D), ACTNN_OK);
                float y[300];
                assert_int_equal(actnn_restore_sample(ctx, t, bs, y), ACTNN_E_NOT_SAVED);
                assert_int_equal(actnn_restore_sample(ctx, t, 1 - bs, y), ACTNN_OK);
                assert_int_equal(actnn_restore(ctx, t, x), ACTNN_E_NOT_SAVED);
                actnn_tensor_free(ctx, t);
                x[pos] = keep;
                actnn_ctx_free(ctx);
            }
    /* Ranges beyond float, or values beyond bf16's largest finite (3.39e38). */
    actnn_ctx *ctx = make_ctx(32, 0, 1, ACTNN_SIMD_AUTO);
    float big[32] = {0};
    big[0] = -3e38f;
    big[1] = 3e38f;
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, big, 1, 32, 8, NULL, 1, &t), ACTNN_E_NONFINITE);
    big[1] = 0.0f;
    big[0] = -3.4e38f;
    assert_int_equal(actnn_save(ctx, big, 1, 32, 8, NULL, 1, &t), ACTNN_E_NONFINITE);
    big[0] = -3.3e38f; /* representable range: accepted */
    assert_int_equal(actnn_save(ctx, big, 1, 32, 8, NULL, 1, &t), ACTNN_OK);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_format),
        cmocka_unit_test(test_error_bound),
        cmocka_unit_test(test_error_bound_zero_min),
        cmocka_unit_test(test_tiny_range),
        cmocka_unit_test(test_unbiased),
        cmocka_unit_test(test_constant_groups),
        cmocka_unit_test(test_passthrough_16_32),
        cmocka_unit_test(test_fp16_paths_agree),
        cmocka_unit_test(test_mixed_bits),
        cmocka_unit_test(test_dispatch_path),
        cmocka_unit_test(test_same_bytes_threads_simd),
        cmocka_unit_test(test_restore_paths_agree),
        cmocka_unit_test(test_stored_size),
        cmocka_unit_test(test_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
