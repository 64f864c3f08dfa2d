/* actnn_gpu.c: the CUDA quantizer stores the CPU's bytes (one width or per-sample widths),
 * restores the CPU's floats, masks / codes and actnn_auto's statistics match the host
 * library. The quantized save and restore are checked with each of the plugin's kernels
 * (ACTNN_CUDA_KERNEL_FAST, _REF: "[fast]", "[ref]" in the check's name), so a table from a
 * device says which of them works. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actnn.h"
#include "actnn_cuda.h"
#include "backend/cuda/dn_cuda.h"
#include "gpu/gpu_test.h"

enum { N = 3, D = 1000 }; /* a partial last group and a partial last 32-block */

/* Data with the awkward cases: a constant group, zeros of both signs, a tiny range, a
 * wide range, a group whose true minimum is -0 (its first value: lane 0 starts from it)
 * under a positive maximum, with +0 values too. */
static void make_data(float *x)
{
    gt_fill(x, (size_t)N * D, 7, -3.0f, 5.0f);
    for (int j = 256; j < 512; ++j) x[j] = 0.5f;                     /* sample 0 group 1 */
    for (int j = 512; j < 768; ++j) x[j] = j % 3 ? (float)(j % 17) / 16.0f : 0.0f;
    x[512] = -0.0f;                                                  /* sample 0 group 2 */
    for (int j = 0; j < 256; ++j) x[D + j] = (j & 1) ? -0.0f : 0.0f; /* sample 1 group 0 */
    for (int j = 512; j < 768; ++j) x[D + j] = 1.0f + j * 1e-7f;     /* tiny range */
    for (int j = 0; j < 64; ++j) x[2 * D + j] *= 1e6f;                /* wide range */
}

static const char *kname(int kernel) { return kernel == ACTNN_CUDA_KERNEL_REF ? "ref" : "fast"; }

/* Saves samples [n0, n0 + count) alone into a zeroed tensor: the CPU's bytes from byte
 * `from` of the payload and from their first group's metadata on (what a layer's
 * per-sample saves store; with per-sample widths the offset depends on earlier samples). */
static void check_part(actnn_cuda_ctx *cc, actnn_cuda_tensor *gt, const float *dx, size_t n0,
                       size_t count, const unsigned char *cp, size_t pb, size_t from,
                       const unsigned char *cm, size_t mb, const char *what)
{
    char name[128];
    dn_cuda_zero(gt->payload, pb);
    if (mb) dn_cuda_zero(gt->meta, mb);
    int err = actnn_cuda_save(cc, gt, n0, count, dx + n0 * D);
    if (!err) err = actnn_cuda_status(cc);
    unsigned char *hp = malloc(pb + mb + 1);
    gt_pull(hp, gt->payload, pb);
    snprintf(name, sizeof name, "%s n0=%zu count=%zu", what, n0, count);
    if (err) {
        gt_result(name, 0, actnn_strerror(err));
    } else if (gt_cmp_bytes(name, hp + from, cp + from, pb - from) && mb) {
        size_t m0 = mb / N * n0; /* metadata: the same bytes per sample */
        gt_pull(hp + pb, gt->meta, mb);
        snprintf(name, sizeof name, "%s metadata n0=%zu count=%zu", what, n0, count);
        gt_cmp_bytes(name, hp + pb + m0, cm + m0, mb - m0);
    }
    free(hp);
}

/* One bit width and group size: whole-batch save, per-sample save, restore. */
static void check_tensor(actnn_ctx *ctx, actnn_cuda_ctx *cc, int kernel, const float *x, int bits,
                         size_t G)
{
    char what[96];
    actnn_tensor *t = NULL;
    int err = actnn_save(ctx, x, N, D, bits, NULL, 77, &t);
    if (err) {
        snprintf(what, sizeof what, "actnn cpu save b=%d G=%zu", bits, G);
        gt_result(what, 0, actnn_strerror(err));
        return;
    }
    const void *cp, *cm;
    size_t cpb, cmb, gpb, gmb;
    actnn_tensor_raw(t, &cp, &cpb, &cm, &cmb);
    actnn_cuda_tensor_size(N, D, bits, G, &gpb, &gmb);
    snprintf(what, sizeof what, "actnn sizes b=%d G=%zu", bits, G);
    gt_result(what, gpb == cpb && gmb == cmb, NULL);

    uint64_t seed = 0;
    actnn_get_seed(ctx, &seed);
    float *dx = gt_dev(x, sizeof(float) * N * D);
    actnn_cuda_tensor gt = {.N = N, .D = D, .G = G, .bits = bits, .seed = seed, .tensor_id = 77,
                            .payload = gt_dev_zero(gpb), .meta = gmb ? gt_dev_zero(gmb) : NULL};
    err = actnn_cuda_save(cc, &gt, 0, N, dx);
    if (!err) err = actnn_cuda_status(cc);
    snprintf(what, sizeof what, "actnn gpu save b=%d G=%zu [%s]", bits, G, kname(kernel));
    gt_result(what, err == ACTNN_OK, err ? actnn_strerror(err) : NULL);

    unsigned char *hp = malloc(gpb + 1), *hm = malloc(gmb + 1);
    gt_pull(hp, gt.payload, gpb);
    snprintf(what, sizeof what, "actnn payload bytes b=%d G=%zu [%s]", bits, G, kname(kernel));
    gt_cmp_bytes(what, hp, cp, gpb);
    if (gmb) {
        gt_pull(hm, gt.meta, gmb);
        snprintf(what, sizeof what, "actnn metadata bytes b=%d G=%zu [%s]", bits, G, kname(kernel));
        gt_cmp_bytes(what, hm, cm, gmb);
    }

    /* Sample 2 alone (the per-sample path a layer uses) gives the same bytes. */
    dn_cuda_zero(gt.payload, gpb);
    err = actnn_cuda_save(cc, &gt, 2, 1, dx + 2 * D);
    if (!err) err = actnn_cuda_status(cc);
    gt_pull(hp, gt.payload, gpb);
    size_t ps = gpb / N;
    snprintf(what, sizeof what, "actnn per-sample save b=%d G=%zu [%s]", bits, G, kname(kernel));
    gt_cmp_bytes(what, hp + 2 * ps, (const unsigned char *)cp + 2 * ps, ps);
    snprintf(what, sizeof what, "actnn partial save b=%d G=%zu [%s]", bits, G, kname(kernel));
    check_part(cc, &gt, dx, 1, 2, cp, gpb, ps, cm, gmb, what);

    /* Restore from the CPU's bytes on the GPU: the same floats as the CPU restore. */
    dn_cuda_push(gt.payload, cp, gpb);
    if (gmb) dn_cuda_push(gt.meta, cm, gmb);
    float *cr = malloc(sizeof(float) * N * D), *gr = malloc(sizeof(float) * N * D);
    float *dr = gt_dev_zero(sizeof(float) * N * D);
    actnn_restore(ctx, t, cr);
    err = actnn_cuda_restore(cc, &gt, 0, N, dr);
    if (!err) err = actnn_cuda_status(cc);
    gt_pull(gr, dr, sizeof(float) * N * D);
    snprintf(what, sizeof what, "actnn restore b=%d G=%zu [%s]", bits, G, kname(kernel));
    gt_cmp(what, gr, cr, (size_t)N * D, 0);

    free(cr); free(gr); free(hp); free(hm);
    gt_free(dr, sizeof(float) * N * D);
    gt_free(gt.payload, gpb);
    gt_free(gt.meta, gmb);
    gt_free(dx, sizeof(float) * N * D);
    actnn_tensor_free(ctx, t);
}

/* actnn_cuda_sample_stats: the host library's doubles, bit for bit. */
static void check_stats(actnn_ctx *ctx, actnn_cuda_ctx *cc, const float *x, size_t G)
{
    char what[96];
    int err;
    double cs[N], gs[N];
    float *dx = gt_dev(x, sizeof(float) * N * D);
    double *ds = gt_dev_zero(sizeof gs);
    for (int kind = ACTNN_STAT_RANGE; kind <= ACTNN_STAT_SQUARES; ++kind) {
        actnn_sample_stats(ctx, kind, x, N, D, D, G, cs);
        err = actnn_cuda_sample_stats(cc, kind, dx, N, D, D, G, ds);
        if (!err) err = actnn_cuda_status(cc);
        gt_pull(gs, ds, sizeof gs);
        snprintf(what, sizeof what, "actnn per-sample %s G=%zu",
                 kind == ACTNN_STAT_RANGE ? "range costs" : "sums of squares", G);
        if (err) gt_result(what, 0, actnn_strerror(err));
        else gt_cmp_bytes(what, gs, cs, sizeof gs);
    }
    gt_free(ds, sizeof gs);
    gt_free(dx, sizeof(float) * N * D);
}

/* actnn_auto on the GPU: per-sample widths (sample_bits in device memory) store the CPU's
 * bytes of actnn_save with the same widths and restore its floats. */
static void check_mixed(actnn_ctx *ctx, actnn_cuda_ctx *cc, int kernel, const float *x, size_t G,
                        const uint8_t *sb)
{
    char what[128], tag[40];
    snprintf(tag, sizeof tag, "G=%zu widths %d,%d,%d [%s]", G, sb[0], sb[1], sb[2], kname(kernel));
    actnn_tensor *t = NULL;
    int err = actnn_save(ctx, x, N, D, 2, sb, 78, &t);
    if (err) {
        gt_result("actnn cpu save, per-sample bits", 0, actnn_strerror(err));
        return;
    }
    const void *cp, *cm;
    size_t cpb, cmb;
    actnn_tensor_raw(t, &cp, &cpb, &cm, &cmb);
    uint64_t seed = 0;
    actnn_get_seed(ctx, &seed);
    float *dx = gt_dev(x, sizeof(float) * N * D);
    actnn_cuda_tensor gt = {.N = N, .D = D, .G = G, .bits = 2, .seed = seed, .tensor_id = 78,
                            .payload = gt_dev_zero(cpb), .meta = gt_dev_zero(cmb),
                            .sample_bits = gt_dev(sb, N)};
    err = actnn_cuda_save(cc, &gt, 0, N, dx);
    if (!err) err = actnn_cuda_status(cc);
    snprintf(what, sizeof what, "actnn gpu save, per-sample bits %s", tag);
    gt_result(what, err == ACTNN_OK, err ? actnn_strerror(err) : NULL);
    unsigned char *hp = malloc(cpb), *hm = malloc(cmb);
    gt_pull(hp, gt.payload, cpb);
    gt_pull(hm, gt.meta, cmb);
    snprintf(what, sizeof what, "actnn payload bytes, per-sample bits %s", tag);
    gt_cmp_bytes(what, hp, cp, cpb);
    snprintf(what, sizeof what, "actnn metadata bytes, per-sample bits %s", tag);
    gt_cmp_bytes(what, hm, cm, cmb);
    float *cr = malloc(sizeof(float) * N * D), *gr = malloc(sizeof(float) * N * D);
    float *dr = gt_dev_zero(sizeof(float) * N * D);
    actnn_restore(ctx, t, cr);
    err = actnn_cuda_restore(cc, &gt, 0, N, dr);
    if (!err) err = actnn_cuda_status(cc);
    gt_pull(gr, dr, sizeof(float) * N * D);
    snprintf(what, sizeof what, "actnn restore, per-sample bits %s", tag);
    gt_cmp(what, gr, cr, (size_t)N * D, 0);
    /* sample 0's payload is 4 * sb[0] * ceil(D/32) bytes: samples 1.. start there */
    snprintf(what, sizeof what, "actnn partial save, per-sample bits %s", tag);
    check_part(cc, &gt, dx, 1, 2, cp, cpb, 4 * (size_t)sb[0] * ((D + 31) / 32), cm, cmb, what);
    free(cr); free(gr); free(hp); free(hm);
    gt_free(dr, sizeof(float) * N * D);
    gt_free(gt.payload, cpb);
    gt_free(gt.meta, cmb);
    gt_free((void *)gt.sample_bits, N);
    gt_free(dx, sizeof(float) * N * D);
    actnn_tensor_free(ctx, t);
}


static void check_nonfinite(actnn_cuda_ctx *cc)
{
    float x[64];
    gt_fill(x, 64, 3, -1, 1);
    x[40] = NAN;
    size_t pb, mb;
    actnn_cuda_tensor_size(1, 64, 2, 32, &pb, &mb);
    float *dx = gt_dev(x, sizeof x);
    actnn_cuda_tensor t = {.N = 1, .D = 64, .G = 32, .bits = 2, .payload = gt_dev_zero(pb),
                           .meta = gt_dev_zero(mb)};
    int err = actnn_cuda_save(cc, &t, 0, 1, dx);
    if (!err) err = actnn_cuda_status(cc);
    gt_result("actnn gpu save rejects NaN", err == ACTNN_E_NONFINITE, actnn_strerror(err));
    gt_result("actnn status cleared after report", actnn_cuda_status(cc) == ACTNN_OK, NULL);
    gt_free(dx, sizeof x);
    gt_free(t.payload, pb);
    gt_free(t.meta, mb);
}

static void check_masks(actnn_ctx *ctx, actnn_cuda_ctx *cc, const float *x)
{
    size_t nw = (D + 31) / 32;
    actnn_mask *m = NULL;
    actnn_mask_create(ctx, N, D, &m);
    float *dx = gt_dev(x, sizeof(float) * N * D);
    uint32_t *dw = gt_dev_zero(4 * N * nw);
    uint8_t *db = gt_dev_zero((size_t)N * D);
    uint8_t *cb = malloc((size_t)N * D), *gb = malloc((size_t)N * D);
    for (int kind = 0; kind < 2; ++kind) {
        for (int i = 0; i < N; ++i) {
            if (kind == 0) actnn_mask_set_gt(ctx, m, i, x + i * D, 0.0f);
            else actnn_mask_set_between(ctx, m, i, x + i * D, -1.0f, 1.0f);
            actnn_mask_get_bytes(ctx, m, i, cb + i * D);
        }
        if (kind == 0) actnn_cuda_mask_gt(cc, dx, N, D, 0.0f, dw);
        else actnn_cuda_mask_between(cc, dx, N, D, -1.0f, 1.0f, dw);
        actnn_cuda_mask_get_bytes(cc, dw, N, D, db);
        gt_pull(gb, db, (size_t)N * D);
        gt_cmp_bytes(kind == 0 ? "actnn mask gt" : "actnn mask between", gb, cb, (size_t)N * D);
    }
    /* apply: delta *= bit ? g1 : g0, bitwise as the CPU */
    float *cd = malloc(sizeof(float) * N * D), *gd = malloc(sizeof(float) * N * D);
    gt_fill(cd, (size_t)N * D, 11, -2, 2);
    float *dd = gt_dev(cd, sizeof(float) * N * D);
    for (int i = 0; i < N; ++i) actnn_mask_apply(ctx, m, i, cd + i * D, 1.0f, 0.1f);
    actnn_cuda_mask_apply(cc, dw, N, D, dd, 1.0f, 0.1f);
    gt_pull(gd, dd, sizeof(float) * N * D);
    gt_cmp("actnn mask apply", gd, cd, (size_t)N * D, 0);
    actnn_mask_free(ctx, m);
    free(cb); free(gb); free(cd); free(gd);
    gt_free(dx, sizeof(float) * N * D);
    gt_free(dw, 4 * N * nw);
    gt_free(db, (size_t)N * D);
    gt_free(dd, sizeof(float) * N * D);
}

/* Host reference of pack.c's layout (the library keeps its words private). */
static void ref_pack(const uint8_t *c, size_t n, int w, uint32_t *words)
{
    for (size_t k0 = 0; k0 < n; k0 += 32, words += w)
        for (int i = 0; i < w; ++i) {
            uint32_t v = 0;
            for (size_t k = k0; k < n && k < k0 + 32; ++k) v |= (uint32_t)((c[k] >> i) & 1u) << (k - k0);
            words[i] = v;
        }
}

static void check_codes(actnn_ctx *ctx, actnn_cuda_ctx *cc)
{
    size_t nw = (D + 31) / 32;
    uint8_t *c = malloc((size_t)N * D), *back = malloc((size_t)N * D), *cpu = malloc((size_t)N * D);
    uint32_t *ref = malloc(4 * 8 * N * nw), *got = malloc(4 * 8 * N * nw);
    for (int w = 1; w <= 8; ++w) {
        uint64_t s = 99 + w;
        for (size_t i = 0; i < (size_t)N * D; ++i) c[i] = (uint8_t)(gt_uniform(&s, 0, 256) ) >> (8 - w);
        actnn_codes *cs = NULL;
        actnn_codes_create(ctx, N, D, w, &cs);
        for (int i = 0; i < N; ++i) {
            actnn_codes_set(ctx, cs, i, c + i * D);
            actnn_codes_get(ctx, cs, i, cpu + i * D);
            ref_pack(c + i * D, D, w, ref + (size_t)i * nw * w);
        }
        uint8_t *dc = gt_dev(c, (size_t)N * D), *du = gt_dev_zero((size_t)N * D);
        uint32_t *dw = gt_dev_zero(4 * (size_t)w * N * nw);
        int err = actnn_cuda_codes_pack(cc, dc, N, D, w, dw);
        if (!err) err = actnn_cuda_codes_unpack(cc, dw, N, D, w, du);
        if (!err) err = actnn_cuda_status(cc);
        gt_pull(got, dw, 4 * (size_t)w * N * nw);
        gt_pull(back, du, (size_t)N * D);
        char what[64];
        snprintf(what, sizeof what, "actnn codes pack w=%d (bit planes)", w);
        gt_cmp_bytes(what, got, ref, 4 * (size_t)w * N * nw);
        snprintf(what, sizeof what, "actnn codes unpack w=%d vs cpu get", w);
        gt_cmp_bytes(what, back, cpu, (size_t)N * D);
        actnn_codes_free(ctx, cs);
        gt_free(dc, (size_t)N * D);
        gt_free(du, (size_t)N * D);
        gt_free(dw, 4 * (size_t)w * N * nw);
    }
    free(c); free(back); free(cpu); free(ref); free(got);
}

int gt_actnn(void)
{
    actnn_cuda_ctx *cc = NULL;
    int err = actnn_cuda_ctx_create(NULL, &cc);
    if (err) {
        gt_result("actnn cuda context", 0, actnn_strerror(err));
        return -1;
    }
    float *x = malloc(sizeof(float) * N * D);
    make_data(x);
    static const int bits[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 32};
    static const size_t groups[] = {256, 64};
    static const uint8_t widths[2][N] = {{3, 1, 8}, {5, 7, 6}};
    static const int kernels[] = {ACTNN_CUDA_KERNEL_FAST, ACTNN_CUDA_KERNEL_REF};
    for (size_t gi = 0; gi < 2; ++gi) {
        actnn_config cfg;
        actnn_config_init(&cfg);
        cfg.group_size = groups[gi];
        cfg.seed = 12345 + gi;
        actnn_ctx *ctx = NULL;
        actnn_ctx_create(&cfg, &ctx);
        for (size_t k = 0; k < 2; ++k) {
            if (actnn_cuda_set_kernel(cc, kernels[k]))
                gt_result("actnn cuda set kernel", 0, kname(kernels[k]));
            for (size_t b = 0; b < sizeof bits / sizeof bits[0]; ++b)
                check_tensor(ctx, cc, kernels[k], x, bits[b], groups[gi]);
            for (size_t w = 0; w < 2; ++w)
                check_mixed(ctx, cc, kernels[k], x, groups[gi], widths[w]);
        }
        actnn_cuda_set_kernel(cc, ACTNN_CUDA_KERNEL_DEFAULT);
        check_stats(ctx, cc, x, groups[gi]);
        if (gi == 0) {
            check_masks(ctx, cc, x);
            check_codes(ctx, cc);
        }
        actnn_ctx_free(ctx);
    }
    check_nonfinite(cc);
    free(x);
    actnn_cuda_ctx_free(cc);
    return 0;
}

/* Checks that need no device (test_gpu runs them before it looks for one): the device
 * sizes against the host library's, and their limits (ACTNN_E_TOO_LARGE for D >= 2^32 or
 * a byte count that would wrap, as actnn_tensor_size). */
int gt_actnn_host(void)
{
    static const struct { size_t N, D; int bits; size_t G; } cs[] = {
        {3, 1000, 2, 256}, {1, 1, 1, 32}, {7, 4097, 5, 64}, {2, 33, 16, 32}, {2, 33, 32, 32},
        {1, (size_t)1 << 32, 2, 256}, {SIZE_MAX / 8, 1000, 2, 256}, {SIZE_MAX / 100, 64, 32, 32},
        {(size_t)1 << 40, 0xFFFFFFFFull, 8, 32}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; ++i) {
        size_t hp = 0, hm = 0, dp = 0, dm = 0, hm0 = 0, unused;
        int he = actnn_tensor_size(cs[i].N, cs[i].D, cs[i].bits, cs[i].G, &hp, &hm);
        int de = actnn_cuda_tensor_size(cs[i].N, cs[i].D, cs[i].bits, cs[i].G, &dp, &dm);
        /* the host's metadata adds its handle and sample table: the size with no groups */
        if (!he) actnn_tensor_size(cs[i].N, cs[i].D, 32, cs[i].G, &unused, &hm0);
        char what[96], detail[96];
        snprintf(what, sizeof what, "actnn sizes host vs cuda N=%zu D=%zu b=%d", cs[i].N, cs[i].D,
                 cs[i].bits);
        snprintf(detail, sizeof detail, "host %d, cuda %d (error codes)", he, de);
        gt_result(what, he == de && (he || (dp == hp && dm == hm - hm0)), detail);
    }
    return 0;
}
