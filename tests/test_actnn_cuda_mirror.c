/* test_actnn_cuda_mirror.c: the arithmetic the CUDA quantizer runs, checked on the CPU.
 *
 * actnn_plugin/src/quantize.cu computes every value through qmirror.h. This test runs the
 * same functions in a sequential emulation of the kernels' data layout (per group: true
 * min/max, parameters, one code per element, bit planes per 32 values; per element for
 * fp16; per-sample widths placed by qm_sample_offset) and requires the library's exact
 * bytes (actnn_tensor_raw) and restored floats,
 * so a transcription error in qmirror.h fails here, on a machine with no GPU. What it
 * cannot check is the kernels' warp mechanics (shuffles, ballots): tests/gpu does, on a
 * device. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actnn.h"
#include "../actnn_plugin/src/qmirror.h"
#include "../actnn_plugin/src/statmath.h"
#include "../actnn_plugin/src/allocmath.h"

/* The emulated kernel on samples [n0, n0 + count) (x holds theirs, as actnn_cuda_save's
 * d_x): 0, or -1 where the GPU would flag ACTNN_E_NONFINITE.
 * sb not NULL: per-sample widths (k_save_q's sample_layout: sb[n], qm_sample_offset). */
static int emu_save_part(const float *x, size_t n0, size_t count, size_t D, int bits,
                         const uint8_t *sb, size_t G, uint64_t seed, uint64_t tid,
                         uint8_t *payload, uint16_t *meta)
{
    size_t ng = (D + G - 1) / G;
    for (size_t n = n0; n < n0 + count; ++n)
        for (size_t g = 0; g < ng; ++g) {
            int b = sb ? sb[n] : bits;
            size_t off = sb ? qm_sample_offset(sb, n, D) : n * 4 * (size_t)b * ((D + 31) / 32);
            size_t j0 = g * G, len = D - j0 < G ? D - j0 : G;
            const float *xs = x + (n - n0) * D + j0;
            float lo = xs[0], hi = xs[0];
            for (size_t i = 0; i < len; ++i) {
                if (!isfinite(xs[i])) return -1;
                lo = xs[i] < lo ? xs[i] : lo;
                hi = xs[i] > hi ? xs[i] : hi;
            }
            uint16_t m0, m1;
            qm_params p;
            if (qm_from_minmax(lo, hi, b, &m0, &m1, &p)) return -1;
            meta[2 * (n * ng + g)] = m0;
            meta[2 * (n * ng + g) + 1] = m1;
            uint32_t *words = (uint32_t *)(payload + off) + (j0 / 32) * (size_t)b;
            size_t nw = ((len + 31) / 32) * (size_t)b;
            if (p.constant) {
                for (size_t i = 0; i < nw; ++i) words[i] = i == 0 ? qm_bits(p.value) : 0u;
                continue;
            }
            qm_key key = qm_sample_key(seed, tid, n);
            for (size_t k0 = 0; k0 < len; k0 += 32, words += b) {
                for (int bit = 0; bit < b; ++bit) words[bit] = 0;
                for (size_t l = 0; l < 32; ++l) {
                    size_t i = k0 + l;
                    uint32_t code = i < len ? qm_quantize(xs[i], j0 + i, key, p) : 0u;
                    for (int bit = 0; bit < b; ++bit) words[bit] |= ((code >> bit) & 1u) << l;
                }
            }
        }
    return 0;
}

static int emu_save(const float *x, size_t N, size_t D, int bits, const uint8_t *sb, size_t G,
                    uint64_t seed, uint64_t tid, uint8_t *payload, uint16_t *meta)
{
    return emu_save_part(x, 0, N, D, bits, sb, G, seed, tid, payload, meta);
}

static void emu_restore(const uint8_t *payload, const uint16_t *meta, size_t N, size_t D,
                        int bits, const uint8_t *sb, size_t G, float *out)
{
    size_t ng = (D + G - 1) / G;
    for (size_t e = 0; e < N * D; ++e) {
        size_t n = e / D, j = e % D, g = j / G;
        int b = sb ? sb[n] : bits;
        size_t off = sb ? qm_sample_offset(sb, n, D) : n * 4 * (size_t)b * ((D + 31) / 32);
        const uint32_t *words = (const uint32_t *)(payload + off);
        qm_params p = qm_from_meta(meta[2 * (n * ng + g)], meta[2 * (n * ng + g) + 1], b);
        if (p.constant) {
            out[e] = qm_float(words[(g * G / 32) * (size_t)b]);
            continue;
        }
        const uint32_t *blk = words + (j / 32) * (size_t)b;
        uint32_t c = 0;
        for (int i = 0; i < b; ++i) c |= ((blk[i] >> (j % 32)) & 1u) << i;
        out[e] = qm_restore(c, p);
    }
}

static uint64_t rs = 88172645463325252ull;
static float urand(float lo, float hi)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return lo + (hi - lo) * (float)((rs >> 40) * 0x1p-24);
}

/* Awkward data: constants, signed zeros, tiny and huge ranges, subnormals, and (7) groups
 * whose true minimum is -0 (the first value of every 32-block, so lane 0 sees it) with a
 * positive maximum. */
static void make_data(float *x, size_t N, size_t D, int kind)
{
    for (size_t i = 0; i < N * D; ++i) {
        switch (kind) {
        case 0: x[i] = urand(-3, 5); break;
        case 1: x[i] = (i / 37) % 3 == 0 ? 0.25f : urand(-1, 1); break;
        case 2: x[i] = (i & 1) ? -0.0f : 0.0f; break;
        case 3: x[i] = 1.0f + (float)(i % 50) * 1e-7f; break;
        case 4: x[i] = urand(-1, 1) * 1e30f; break;
        case 5: x[i] = urand(-1, 1) * 1e-39f; break; /* subnormal */
        case 6: x[i] = (i % 7) ? urand(0, 1e-3f) : -urand(1e3f, 1e4f); break;
        default: x[i] = (i % D) % 32 == 0 ? -0.0f : ((i % D) % 3 == 0 ? 0.0f : urand(0, 1)); break;
        }
    }
}

static void check_case(size_t N, size_t D, int bits, size_t G, int kind, uint64_t seed)
{
    float *x = malloc(sizeof(float) * N * D);
    make_data(x, N, D, kind);
    actnn_config cfg;
    actnn_config_init(&cfg);
    cfg.group_size = G;
    cfg.seed = seed;
    actnn_ctx *ctx;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    /* bits 0: per-sample widths 1..8 (actnn_auto's layout) */
    uint8_t *sb = bits ? NULL : malloc(N);
    for (size_t n = 0; !bits && n < N; ++n) sb[n] = (uint8_t)(1 + (n * 3 + (size_t)kind) % 8);
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, N, D, bits ? bits : 2, sb, 4242 + kind, &t), ACTNN_OK);
    const void *cp, *cm;
    size_t cpb, cmb;
    actnn_tensor_raw(t, &cp, &cpb, &cm, &cmb);
    uint8_t *pay = calloc(cpb, 1);
    uint16_t *meta = calloc(cmb / 2 + 1, 2);
    float *a = malloc(sizeof(float) * N * D), *b = malloc(sizeof(float) * N * D);
    if (bits == 16) {
        uint16_t *h = (uint16_t *)pay;
        size_t hs = D + D % 2;
        for (size_t n = 0; n < N; ++n)
            for (size_t j = 0; j < hs; ++j) h[n * hs + j] = j < D ? qm_half_from(x[n * D + j]) : 0;
        assert_memory_equal(pay, cp, cpb);
        actnn_restore(ctx, t, a);
        for (size_t n = 0; n < N; ++n)
            for (size_t j = 0; j < D; ++j) b[n * D + j] = qm_half_to(h[n * hs + j]);
    } else {
        assert_int_equal(emu_save(x, N, D, bits, sb, G, seed, 4242 + kind, pay, meta), 0);
        assert_int_equal(cmb, 4 * N * ((D + G - 1) / G));
        assert_memory_equal(pay, cp, cpb);
        assert_memory_equal(meta, cm, cmb);
        /* the same bytes from two calls, samples 1.. first (n0 = 1, as a layer's per-sample
         * saves; with per-sample widths, an offset summed from sb[0]) */
        memset(pay, 0, cpb);
        memset(meta, 0, cmb);
        assert_int_equal(emu_save_part(x + D, 1, N - 1, D, bits, sb, G, seed, 4242 + kind, pay, meta), 0);
        assert_int_equal(emu_save_part(x, 0, 1, D, bits, sb, G, seed, 4242 + kind, pay, meta), 0);
        assert_memory_equal(pay, cp, cpb);
        assert_memory_equal(meta, cm, cmb);
        actnn_restore(ctx, t, a);
        emu_restore(pay, meta, N, D, bits, sb, G, b);
    }
    assert_memory_equal(a, b, sizeof(float) * N * D);
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
    free(x); free(pay); free(meta); free(a); free(b); free(sb);
}

static void test_mirror_bytes(void **state)
{
    (void)state;
    static const int bits[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 0}; /* 0: per-sample widths */
    static const size_t Ds[] = {1, 31, 33, 1000, 4097};
    static const size_t Gs[] = {32, 64, 256};
    for (int kind = 0; kind < 8; ++kind)
        for (size_t bi = 0; bi < sizeof bits / sizeof bits[0]; ++bi)
            for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; ++di)
                for (size_t gi = 0; gi < sizeof Gs / sizeof Gs[0]; ++gi)
                    check_case(3, Ds[di], bits[bi], Gs[gi], kind, 1000 + kind * 7 + bi);
}

/* fp16 of every special class: NaN payloads, infinities, overflow, subnormals, ties. */
static void test_mirror_half(void **state)
{
    (void)state;
    enum { n = 4099 };
    float x[n];
    static const float sp[] = {NAN, -NAN, INFINITY, -INFINITY, 65504.f, 65520.f, 65519.99f,
                               1e-8f, 2.98e-8f, 5.96e-8f, 6.1e-5f, -0.0f, 0.0f, 1.0009765625f,
                               1.00048828125f, 3.4e38f};
    for (size_t i = 0; i < n; ++i) x[i] = urand(-70000, 70000) * ((i % 3) ? 1 : 1e-6f);
    memcpy(x, sp, sizeof sp);
    actnn_ctx *ctx;
    assert_int_equal(actnn_ctx_create(NULL, &ctx), ACTNN_OK);
    actnn_tensor *t;
    assert_int_equal(actnn_save(ctx, x, 1, n, 16, NULL, 1, &t), ACTNN_OK);
    const void *cp, *cm;
    size_t cpb, cmb;
    actnn_tensor_raw(t, &cp, &cpb, &cm, &cmb);
    const uint16_t *h = cp;
    float back[n];
    actnn_restore(ctx, t, back);
    for (size_t i = 0; i < n; ++i) {
        assert_int_equal(qm_half_from(x[i]), h[i]);
        float y = qm_half_to(h[i]);
        assert_memory_equal(&y, &back[i], sizeof y);
    }
    actnn_tensor_free(ctx, t);
    actnn_ctx_free(ctx);
}

/* The GPU flags exactly the groups the CPU rejects. */
static void test_mirror_nonfinite(void **state)
{
    (void)state;
    float x[64];
    uint8_t pay[64];
    uint16_t meta[8];
    actnn_ctx *ctx;
    assert_int_equal(actnn_ctx_create(NULL, &ctx), ACTNN_OK);
    for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 64; ++i) x[i] = urand(-1, 1);
        if (c == 0) x[5] = NAN;
        if (c == 1) x[9] = -INFINITY;
        if (c == 2) { x[1] = 3e38f; x[2] = -3e38f; } /* range overflows float */
        actnn_tensor *t = NULL;
        assert_int_equal(actnn_save(ctx, x, 1, 64, 2, NULL, 1, &t), ACTNN_E_NONFINITE);
        assert_int_equal(emu_save(x, 1, 64, 2, NULL, 256, 0, 1, pay, meta), -1);
    }
    actnn_ctx_free(ctx);
}

/* quantize.cu's dropout kernel computes each element with qm_dropout_one (key from
 * qm_sample_key_in in the dropout domain, qm_dropout_threshold/scale): the same values as
 * the library's actnn_dropout_apply (the oracle) for several p, samples and an odd D. */
static void test_mirror_dropout(void **state)
{
    (void)state;
    enum { N = 3, D = 777 };
    actnn_ctx *ctx;
    actnn_config cfg;
    actnn_config_init(&cfg);
    cfg.seed = 1234;
    assert_int_equal(actnn_ctx_create(&cfg, &ctx), ACTNN_OK);
    const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
    static float want[D], got[D];
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); ++k) {
        actnn_dropout *dr;
        assert_int_equal(actnn_dropout_create(ctx, N, D, ps[k], 55 + k, &dr), ACTNN_OK);
        for (size_t n = 0; n < N; ++n) {
            for (int j = 0; j < D; ++j) want[j] = got[j] = 0.37f * (float)j - 40.0f;
            assert_int_equal(actnn_dropout_apply(dr, n, want), ACTNN_OK);
            qm_key key = qm_sample_key_in(1234, 55 + k, n, QM_DOMAIN_DROPOUT);
            for (uint32_t j = 0; j < D; ++j)
                got[j] = qm_dropout_one(got[j], j, key, qm_dropout_threshold(ps[k]),
                                        qm_dropout_scale(ps[k]));
            assert_memory_equal(got, want, sizeof(want));
        }
        assert_int_equal(actnn_dropout_free(ctx, dr), ACTNN_OK);
    }
    assert_int_equal(actnn_ctx_free(ctx), ACTNN_OK);
}

/* The 32 lanes' min/max combined by the kernels' shuffle-xor tree; lane 0's term. */
static double emu_warp_term(float *lo, float *hi)
{
    float l2[32], h2[32];
    for (int o = 16; o > 0; o /= 2) {
        for (int l = 0; l < 32; ++l) {
            l2[l] = lo[l ^ o] < lo[l] ? lo[l ^ o] : lo[l];
            h2[l] = hi[l ^ o] > hi[l] ? hi[l ^ o] : hi[l];
        }
        memcpy(lo, l2, sizeof(l2));
        memcpy(hi, h2, sizeof(h2));
    }
    return sm_range_term(lo[0], hi[0]);
}

/* stats.cu's k_stat_range_ref (ACTNN_CUDA_KERNEL_REF), sequentially: rounds of 8 groups
 * (one per warp of a 256-thread block), each group's min/max by 32 lanes (values lane, lane+32, ...) and the shuffle-xor
 * tree, lane 0's term into part[warp]; thread 0 adds part[] in order after each round. */
static double emu_stat_range(const float *x, size_t D, size_t G)
{
    size_t ng = (D + G - 1) / G;
    double s = 0.0, part[8];
    for (size_t g0 = 0; g0 < ng; g0 += 8) {
        for (size_t w = 0; w < 8 && g0 + w < ng; ++w) {
            size_t j0 = (g0 + w) * G, len = D - j0 < G ? D - j0 : G;
            float lo[32], hi[32];
            for (size_t l = 0; l < 32; ++l) {
                lo[l] = hi[l] = x[j0];
                for (size_t i = l; i < len; i += 32) {
                    lo[l] = x[j0 + i] < lo[l] ? x[j0 + i] : lo[l];
                    hi[l] = x[j0 + i] > hi[l] ? x[j0 + i] : hi[l];
                }
            }
            part[w] = emu_warp_term(lo, hi);
        }
        for (size_t k = 0; k < 8 && g0 + k < ng; ++k) s = SM_ADD(s, part[k]);
    }
    return s;
}

/* stats.cu's k_stat_squares_ref: thread t of a round takes chunk c0 + t (sm_square_chunk),
 * thread 0 adds the round's chunk sums in order. */
static double emu_stat_squares(const float *x, size_t D)
{
    size_t nch = (D + SM_CHUNK - 1) / SM_CHUNK;
    double s = 0.0;
    static double part[256];
    for (size_t c0 = 0; c0 < nch; c0 += 256) {
        for (size_t t = 0; t < 256 && c0 + t < nch; ++t) {
            size_t j0 = (c0 + t) * SM_CHUNK;
            part[t] = sm_square_chunk(x + j0, D - j0 < SM_CHUNK ? D - j0 : SM_CHUNK);
        }
        for (size_t k = 0; k < 256 && c0 + k < nch; ++k) s = SM_ADD(s, part[k]);
    }
    return s;
}

/* One warp of stats.cu's range_pair: groups g0 and g0+1 (if < ng), lanes taking values
 * lane, lane+32, .. of both from +-Inf, then the shuffle-xor tree per group. */
static void emu_range_pair(const float *x, size_t D, size_t G, size_t g0, size_t ng, double *term)
{
    for (size_t q = 0; q < 2 && g0 + q < ng; ++q) {
        size_t j0 = (g0 + q) * G, len = D - j0 < G ? D - j0 : G;
        float lo[32], hi[32];
        for (size_t l = 0; l < 32; ++l) {
            lo[l] = INFINITY;
            hi[l] = -INFINITY;
            for (size_t i = l; i < G; i += 32)
                if (i < len) {
                    lo[l] = x[j0 + i] < lo[l] ? x[j0 + i] : lo[l];
                    hi[l] = x[j0 + i] > hi[l] ? x[j0 + i] : hi[l];
                }
        }
        term[q] = emu_warp_term(lo, hi);
    }
}

/* stats.cu's k_stat_range, sequentially: in iteration r, warps w < 31 put round r's terms
 * (groups r*62 + 2w, +1) into buffer r&1 while warp 31 adds round r-1's from the other
 * buffer, in order; one barrier an iteration. */
static double emu_stat_range_fast(const float *x, size_t D, size_t G)
{
    enum { W = 31, T = 62 };
    size_t ng = (D + G - 1) / G, rounds = (ng + T - 1) / T;
    double s = 0.0, term[2][T];
    for (size_t r = 0; r <= rounds; ++r)
        for (size_t w = 0; w <= W; ++w) {
            if (w < W && r < rounds && r * T + 2 * w < ng)
                emu_range_pair(x, D, G, r * T + 2 * w, ng, &term[r & 1][2 * w]);
            else if (w == W && r > 0)
                for (size_t k = 0; k < T && (r - 1) * T + k < ng; ++k) s = SM_ADD(s, term[(r - 1) & 1][k]);
        }
    return s;
}

/* stats.cu's k_stat_squares, sequentially: 8 warps take 32 chunks each a round; lane l
 * sums chunk c0+l from the 32 x 32 tile slab by slab (values 32k..32k+31, those < D);
 * warp 8 adds the previous round's 256 sums in order. */
static double emu_stat_squares_fast(const float *x, size_t D)
{
    enum { W = 8, T = 256 };
    size_t nch = (D + SM_CHUNK - 1) / SM_CHUNK, rounds = (nch + T - 1) / T;
    double s = 0.0;
    static double part[2][T];
    static float tile[32][33];
    for (size_t r = 0; r <= rounds; ++r)
        for (size_t w = 0; w <= W; ++w) {
            size_t c0 = r * T + w * 32;
            if (w < W && r < rounds && c0 < nch) {
                double acc[32] = {0};
                for (size_t k = 0; k < SM_CHUNK / 32; ++k) {
                    for (size_t row = 0; row < 32; ++row)
                        for (size_t l = 0; l < 32; ++l) {
                            size_t j = (c0 + row) * SM_CHUNK + k * 32 + l;
                            tile[row][l] = j < D ? x[j] : 0.0f;
                        }
                    for (size_t l = 0; l < 32; ++l)
                        for (size_t c = 0; c < 32; ++c)
                            if ((c0 + l) * SM_CHUNK + k * 32 + c < D) {
                                double v = (double)tile[l][c];
                                acc[l] = SM_ADD(acc[l], SM_MUL(v, v));
                            }
                }
                memcpy(&part[r & 1][w * 32], acc, sizeof(acc));
            } else if (w == W && r > 0) {
                for (size_t k = 0; k < T && (r - 1) * T + k < nch; ++k) s = SM_ADD(s, part[(r - 1) & 1][k]);
            }
        }
    return s;
}

/* The kernels of actnn_cuda_sample_stats (both pairs), emulated above, against the library's
 * actnn_sample_stats (the CPU path actnn_auto takes): the same doubles, bit for bit, for
 * awkward data, several D and G, strided samples, and data whose sums depend on the order
 * of the additions (huge and tiny groups and chunks side by side: a different order rounds
 * differently). The range statistic also equals actnn_range_stat per sample, and a sum of
 * squares of small integers equals the exact integer sum. */
static void test_mirror_stats(void **state)
{
    (void)state;
    actnn_ctx *ctx;
    assert_int_equal(actnn_ctx_create(NULL, &ctx), ACTNN_OK);
    const size_t Ds[] = {1, 40, 256, 777, 4096 + 13, 70000, 300000};
    const size_t Gs[] = {32, 256, 2048};
    enum { N = 3, PAD = 5 };
    for (size_t di = 0; di < sizeof(Ds) / sizeof(Ds[0]); ++di)
        for (int kind = 0; kind <= 8; ++kind) {
            size_t D = Ds[di], stride = D + PAD;
            float *x = malloc(sizeof(float) * N * stride);
            make_data(x, N * stride, 1, kind < 7 ? kind : 0);
            if (kind == 7) /* order-sensitive: values of 1e15 and 1 alternating by chunk/group */
                for (size_t i = 0; i < N * stride; ++i) x[i] = ((i / 32) % 3 == 0) ? 1e15f * x[i] : x[i];
            if (kind == 8)
                for (size_t i = 0; i < N * stride; ++i) x[i] = (float)(i % 4);
            double got[N], want[N];
            for (size_t gi = 0; gi < sizeof(Gs) / sizeof(Gs[0]); ++gi) {
                assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_RANGE, x, N, D, stride, Gs[gi], got),
                                 ACTNN_OK);
                for (size_t n = 0; n < N; ++n) {
                    want[n] = emu_stat_range(x + n * stride, D, Gs[gi]);
                    double fast = emu_stat_range_fast(x + n * stride, D, Gs[gi]);
                    assert_memory_equal(&fast, &got[n], sizeof(double));
                    double one;
                    assert_int_equal(actnn_range_stat(x + n * stride, D, Gs[gi], &one), ACTNN_OK);
                    assert_memory_equal(&one, &got[n], sizeof(double));
                }
                assert_memory_equal(got, want, sizeof(got));
            }
            assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_SQUARES, x, N, D, stride, 0, got), ACTNN_OK);
            for (size_t n = 0; n < N; ++n) {
                want[n] = emu_stat_squares(x + n * stride, D);
                double fast = emu_stat_squares_fast(x + n * stride, D);
                assert_memory_equal(&fast, &got[n], sizeof(double));
                if (kind == 8) { /* exact: integers far below 2^53 */
                    double exact = 0;
                    for (size_t j = 0; j < D; ++j) exact += (double)((n * stride + j) % 4) * (double)((n * stride + j) % 4);
                    assert_true(got[n] == exact);
                }
            }
            assert_memory_equal(got, want, sizeof(got));
            free(x);
        }
    /* errors: the library's checks (the CUDA entry point makes the same) */
    float v[64] = {0};
    double o[2];
    v[3] = NAN;
    assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_RANGE, v, 2, 32, 32, 32, o), ACTNN_E_NONFINITE);
    assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_RANGE, v, 1, 32, 16, 32, o), ACTNN_E_PARAM);
    assert_int_equal(actnn_sample_stats(ctx, 7, v, 1, 32, 32, 32, o), ACTNN_E_PARAM);
    assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_RANGE, v, 1, 32, 32, 48, o), ACTNN_E_GROUP);
    assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_SQUARES, v, 0, 32, 32, 0, o), ACTNN_E_SIZE);
    assert_int_equal(actnn_sample_stats(ctx, ACTNN_STAT_SQUARES, NULL, 1, 32, 32, 0, o), ACTNN_E_NULL);
    actnn_ctx_free(ctx);
}

/* bits.cu's k_alloc_bits, emulated: every sample's width decided on its own
 * (allocmath.h am_width), against the host library's greedy with its heap
 * (actnn_alloc_bits, weight NULL), byte for byte: costs with ties (repeated values,
 * zeros, a repeated value in different samples), over 30 decades, subnormals, and every
 * average from 1 to 8 in steps that are not exact. A cost the library refuses (NaN, Inf,
 * < 0) makes the kernel use all-zero costs: the library's widths for zeros. */
static uint64_t am_rng = 99;
static double am_unif(void)
{
    am_rng = am_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(am_rng >> 11) * 0x1p-53;
}

static void emu_alloc_bits(const double *cost, size_t n, double avg, uint8_t *bits)
{
    size_t sum = 0;
    assert_int_equal(actnn_alloc_bits_sum(n, avg, &sum), ACTNN_OK);
    size_t R = 8 * n - sum; /* as actnn_cuda_alloc_bits computes it */
    am_steps st = am_make_steps();
    int zero = 0;
    for (size_t j = 0; j < n; ++j) zero |= !am_cost_ok(cost[j]);
    for (size_t k = 0; k < n; ++k) bits[k] = (uint8_t)am_width(cost, n, &st, k, R, zero);
}

static void test_mirror_alloc_bits(void **state)
{
    (void)state;
    size_t cases = 0, tied = 0;
    static const size_t ns[] = {1, 2, 3, 5, 8, 16, 31, 64, 100, 257};
    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ++ni)
        for (int kind = 0; kind < 5; ++kind)
            for (int ai = 0; ai <= 15; ++ai) {
                size_t n = ns[ni];
                double avg = 1.0 + ai * 0.5 + (ai % 3 ? 1.0 / 7.0 : 0.0), c[257];
                if (avg > 8.0) avg = ai == 15 ? 9.0 : 8.0; /* 8, and above it: all at 8 */
                for (size_t k = 0; k < n; ++k) {
                    double u = am_unif();
                    switch (kind) {
                    case 0: c[k] = exp(69.0 * am_unif() - 34.5); break; /* 30 decades */
                    case 1: c[k] = u < 0.3 ? 0.0 : (double)(1 + (int)(u * 4)); break; /* ties */
                    case 2: c[k] = k ? c[(size_t)(u * (double)k)] : 1.5; break; /* repeats */
                    case 3: c[k] = u < 0.5 ? 0x1p-1070 * (1 + (int)(u * 8)) : 1e-300; break;
                    default: c[k] = 0.0; break;
                    }
                }
                uint8_t want[257], got[257], each[257];
                assert_int_equal(actnn_alloc_bits(c, NULL, n, avg, want), ACTNN_OK);
                emu_alloc_bits(c, n, avg, got);
                assert_int_equal(actnn_alloc_bits_each(c, n, avg, each), ACTNN_OK);
                for (size_t k = 0; k < n; ++k)
                    if (want[k] != got[k] || want[k] != each[k])
                        fail_msg("n=%zu kind=%d avg=%g: sample %zu library %d, per-sample %d (each %d)",
                                 n, kind, avg, k, want[k], got[k], each[k]);
                /* a tie decided: two samples of equal cost ended at different widths */
                int t = 0;
                for (size_t k = 1; k < n && !t; ++k)
                    for (size_t j = 0; j < k && !t; ++j) t = c[j] == c[k] && want[j] != want[k];
                tied += t;
                cases++;
            }
    /* the costs the library refuses: the widths of all-zero costs */
    double c[6] = {1, 2, 3, 4, 5, 6}, z[6] = {0};
    uint8_t want[6], got[6];
    assert_int_equal(actnn_alloc_bits(z, NULL, 6, 2.5, want), ACTNN_OK);
    const double bad[] = {NAN, INFINITY, -1.0};
    for (int i = 0; i < 3; ++i) {
        c[4] = bad[i];
        emu_alloc_bits(c, 6, 2.5, got);
        assert_memory_equal(want, got, 6);
        assert_int_equal(actnn_alloc_bits_each(c, 6, 2.5, got), ACTNN_E_NONFINITE);
        assert_memory_equal(want, got, 6);
    }
    if (tied < 40) fail_msg("only %zu of %zu cases split samples of equal cost: ties untested", tied, cases);
    print_message("alloc bits: %zu cases (%zu splitting equal costs), per-sample widths equal to the greedy's\n",
                  cases, tied);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mirror_bytes),
        cmocka_unit_test(test_mirror_half),
        cmocka_unit_test(test_mirror_nonfinite),
        cmocka_unit_test(test_mirror_dropout),
        cmocka_unit_test(test_mirror_stats),
        cmocka_unit_test(test_mirror_alloc_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
