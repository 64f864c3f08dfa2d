/* Batch-norm arithmetic; see bn_ops.h for the conventions. The per-channel loops run in
 * parallel over channels, each channel's sums in one thread (so results do not depend on
 * the thread count). */
#include "backend/cpu/bn_ops.h"

#include "backend/cpu/activations.h"
#include "backend/math/bn_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One training process has one set of ranks; NULL keeps statistics per process. */
static const bn_sync_ops *bn_sync;

void bn_set_sync(const bn_sync_ops *ops) { bn_sync = ops; }

static double sync_ranks(void) { return bn_sync ? bn_sync->ranks : 1; }

int bn_alloc(bn_state *b, int n)
{
    memset(b, 0, sizeof(*b));
    b->n = n;
    b->mean = calloc((size_t)n, sizeof(float));
    b->variance = calloc((size_t)n, sizeof(float));
    b->sum_d = calloc((size_t)n, sizeof(float));
    b->sum_dx = calloc((size_t)n, sizeof(float));
    b->acc = calloc(2 * (size_t)n, sizeof(double));
    if (!b->mean || !b->variance || !b->sum_d || !b->sum_dx || !b->acc) { bn_free(b); return -1; }
    return 0;
}

void bn_free(bn_state *b)
{
    free(b->mean); free(b->variance); free(b->sum_d); free(b->sum_dx); free(b->acc);
    b->mean = b->variance = b->sum_d = b->sum_dx = NULL;
    b->acc = NULL;
}

/* Darknet's (x - mean) / (sqrt(var) + .000001f), the denominator in double as there. It is
 * computed once per channel (norm_den) rather than per value: the same double, so the same
 * result, and the value loop vectorizes (no sqrt call with errno in it). */
static inline double norm_den(float var) { return sqrt(var) + .000001f; }

/* One value of x-hat: every normalization here computes it this way. */
static inline float xhat_one(float v, float mean, double den) { return (float)((v - mean) / den); }

static inline void norm_row(float *p, int spatial, float mean, double den)
{
    for (int k = 0; k < spatial; ++k) p[k] = xhat_one(p[k], mean, den);
}

void bn_stats_begin(bn_state *b) { memset(b->acc, 0, 2 * (size_t)b->n * sizeof(double)); }

/* One pass in double: sum and sum of squares. With float inputs the cancellation in
 * q - s*s/cnt costs ~1e-16 * mean^2/var relative, far below float precision. */
void bn_stats_add(bn_state *b, const float *x, int batch, int spatial)
{
    int n = b->n;
#pragma omp parallel for schedule(static)
    for (int f = 0; f < n; ++f) {
        double s = b->acc[2 * f], q = b->acc[2 * f + 1];
        for (int j = 0; j < batch; ++j) {
            const float *p = x + ((size_t)j * n + f) * spatial;
            for (int k = 0; k < spatial; ++k) dn_bn_stats_term(p[k], &s, &q); /* as the GPU's */
        }
        b->acc[2 * f] = s;
        b->acc[2 * f + 1] = q;
    }
}

/* actnn_auto's ranges from the statistics pass. A piece is the part of a channel inside one
 * group of the flattened sample; a channel spans at most ceil(S/G) + 1 groups, so each has
 * that many slots (ws, dn_bn_range_ws_floats: C * slots minima, then as many maxima). */
static size_t piece_slots(int spatial, size_t group) { return dn_bn_range_ws_floats(1, spatial, group) / 2; }

void bn_stats_add_minmax(bn_state *b, const float *x, int spatial, size_t group, float *ws)
{
    int n = b->n;
    size_t S = (size_t)spatial, slots = piece_slots(spatial, group);
#pragma omp parallel for schedule(static)
    for (int f = 0; f < n; ++f) {
        double s = b->acc[2 * f], q = b->acc[2 * f + 1];
        const float *p = x + (size_t)f * S;
        size_t base = (size_t)f * S, g0 = base / group;
        float *lo = ws + (size_t)f * slots, *hi = lo + (size_t)n * slots;
        for (size_t k = 0; k < S;) {
            size_t g = (base + k) / group, end = (g + 1) * group - base;
            if (end > S) end = S;
            float mn = p[k], mx = p[k];
            for (; k < end; ++k) {
                dn_bn_stats_term(p[k], &s, &q); /* bn_stats_add's sums, in its order */
                mn = p[k] < mn ? p[k] : mn;
                mx = p[k] > mx ? p[k] : mx;
            }
            lo[g - g0] = mn;
            hi[g - g0] = mx;
        }
        b->acc[2 * f] = s;
        b->acc[2 * f + 1] = q;
    }
}

void bn_xhat_group_ranges(const bn_state *b, const float *ws, int spatial, size_t group,
                          float *lo, float *hi)
{
    size_t S = (size_t)spatial, C = (size_t)b->n, slots = piece_slots(spatial, group);
    size_t ng = (C * S + group - 1) / group;
    for (size_t g = 0; g < ng; ++g) { /* a NaN, once in, stays: no comparison replaces it */
        lo[g] = INFINITY;
        hi[g] = -INFINITY;
    }
    /* channel by channel, its statistics once: x -> x-hat is non-decreasing (a rounded
     * subtraction, then a rounded division by a positive den), so a piece's x-hat extremes
     * are its extremes' images */
    for (size_t f = 0; f < C; ++f) {
        double den = norm_den(b->variance[f]);
        float mean = b->mean[f];
        size_t g0 = f * S / group, g1 = ((f + 1) * S - 1) / group;
        for (size_t g = g0; g <= g1; ++g) {
            size_t i = f * slots + (g - g0);
            float a = xhat_one(ws[i], mean, den), z = xhat_one(ws[C * slots + i], mean, den);
            if (a < lo[g] || isnan(a)) lo[g] = a;
            if (z > hi[g] || isnan(z)) hi[g] = z;
        }
    }
}

void bn_stats_end(bn_state *b, double cnt)
{
    if (bn_sync) bn_sync->sum_f64(b->acc, 2 * b->n);
    cnt *= sync_ranks(); /* every rank has the same share of the batch */
    for (int f = 0; f < b->n; ++f) {
        double s = b->acc[2 * f], q = b->acc[2 * f + 1];
        float mean = (float)(s / cnt);
        double v = (q - s * s / cnt) / (cnt - 1 > 0 ? cnt - 1 : 1);
        float var = (float)(v > 0 ? v : 0);
        b->mean[f] = mean;
        b->variance[f] = var;
        b->rolling_mean[f] = .99f * b->rolling_mean[f] + .01f * mean;
        b->rolling_variance[f] = .99f * b->rolling_variance[f] + .01f * var;
    }
}

void bn_normalize(const bn_state *b, float *x, int batch, int spatial)
{
    int n = b->n;
#pragma omp parallel for schedule(static)
    for (int f = 0; f < n; ++f)
        for (int j = 0; j < batch; ++j)
            norm_row(x + ((size_t)j * n + f) * spatial, spatial, b->mean[f], norm_den(b->variance[f]));
}

void bn_forward_train(bn_state *b, float *x, int batch, int spatial)
{
    bn_stats_begin(b);
    bn_stats_add(b, x, batch, spatial);
    bn_stats_end(b, (double)batch * spatial);
    bn_normalize(b, x, batch, spatial);
}

void bn_forward_infer(const bn_state *b, float *x, int batch, int spatial)
{
    int n = b->n;
#pragma omp parallel for schedule(static)
    for (int f = 0; f < n; ++f)
        for (int j = 0; j < batch; ++j)
            norm_row(x + ((size_t)j * n + f) * spatial, spatial, b->rolling_mean[f],
                     norm_den(b->rolling_variance[f]));
}

void bn_scale_shift(const bn_state *b, float *x, int batch, int spatial)
{
    int n = b->n;
    for (int j = 0; j < batch; ++j)
        for (int f = 0; f < n; ++f) {
            float *p = x + ((size_t)j * n + f) * spatial;
            float s = b->scales[f], t = b->biases[f];
            for (int k = 0; k < spatial; ++k) p[k] = p[k] * s + t;
        }
}

void add_bias(float *x, const float *bias, int batch, int n, int spatial)
{
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f)
        for (int j = 0; j < batch; ++j) {
            float *p = x + ((size_t)j * n + f) * spatial;
            for (int k = 0; k < spatial; ++k) p[k] += bias[f];
        }
}

/* Channels in parallel; each channel's samples are added in sample order, as before. */
void backward_bias(float *bias_updates, const float *delta, int batch, int n, int spatial)
{
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f)
        for (int j = 0; j < batch; ++j) {
            const float *p = delta + ((size_t)j * n + f) * spatial;
            float s = 0;
            for (int k = 0; k < spatial; ++k) s += p[k];
            bias_updates[f] += s;
        }
}

void bn_backward_reset(bn_state *b)
{
    memset(b->sum_d, 0, sizeof(float) * (size_t)b->n);
    memset(b->sum_dx, 0, sizeof(float) * (size_t)b->n);
}

void bn_backward_sums(bn_state *b, const float *delta, const float *xhat, int spatial)
{
    int n = b->n;
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f) {
        const float *d = delta + (size_t)f * spatial, *x = xhat + (size_t)f * spatial;
        float sd = 0, sdx = 0;
        for (int k = 0; k < spatial; ++k) {
            sd += d[k];
            sdx += d[k] * x[k];
        }
        b->sum_d[f] += sd;
        b->sum_dx[f] += sdx;
    }
}

void bn_backward_params(bn_state *b, float *bias_updates, float *scale_updates)
{
    for (int f = 0; f < b->n; ++f) {
        bias_updates[f] += b->sum_d[f];
        scale_updates[f] += b->sum_dx[f];
    }
    /* After the gradients took the local sums: they are all-reduced with the others. */
    if (bn_sync) {
        bn_sync->sum_f32(b->sum_d, b->n);
        bn_sync->sum_f32(b->sum_dx, b->n);
    }
}

/* Per channel in parallel, the coefficients once per channel (bn_math.h, the arithmetic
 * the CUDA kernel uses), so the value loop has no division and vectorizes. */
void bn_backward_delta(const bn_state *b, float *delta, const float *xhat, int batch, int spatial)
{
    double cnt = (double)batch * spatial * sync_ranks();
    int n = b->n;
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f) {
        dn_bn_delta_coef c = dn_bn_delta_coefs(cnt, b->variance[f], b->scales[f], b->sum_d[f],
                                               b->sum_dx[f]);
        float *d = delta + (size_t)f * spatial;
        const float *x = xhat + (size_t)f * spatial;
        for (int k = 0; k < spatial; ++k) d[k] = dn_bn_delta_val(&c, d[k], x[k]);
    }
}

/* Channels in parallel as in the two above; within a channel, blocks of x-hat from `src`
 * into a buffer on the stack, consumed in the unfused loops' order (the same sums). */
void bn_backward_sums_src(bn_state *b, const float *delta, int spatial, dn_block_src src,
                          void *ud)
{
    int n = b->n;
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f) {
        float buf[DN_FUSE_BLOCK_MAX];
        const float *d = delta + (size_t)f * spatial;
        float sd = 0, sdx = 0;
        for (int k0 = 0; k0 < spatial; k0 += DN_FUSE_BLOCK_MAX) {
            int len = spatial - k0 < DN_FUSE_BLOCK_MAX ? spatial - k0 : DN_FUSE_BLOCK_MAX;
            const float *x = src(ud, (size_t)f * spatial + k0, (size_t)len, buf);
            for (int k = 0; k < len; ++k) {
                sd += d[k0 + k];
                sdx += d[k0 + k] * x[k];
            }
        }
        b->sum_d[f] += sd;
        b->sum_dx[f] += sdx;
    }
}

void bn_backward_delta_src(const bn_state *b, float *delta, int batch, int spatial,
                           dn_block_src src, void *ud)
{
    double cnt = (double)batch * spatial * sync_ranks();
    int n = b->n;
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f) {
        float buf[DN_FUSE_BLOCK_MAX];
        dn_bn_delta_coef c = dn_bn_delta_coefs(cnt, b->variance[f], b->scales[f], b->sum_d[f],
                                               b->sum_dx[f]);
        float *d = delta + (size_t)f * spatial;
        for (int k0 = 0; k0 < spatial; k0 += DN_FUSE_BLOCK_MAX) {
            int len = spatial - k0 < DN_FUSE_BLOCK_MAX ? spatial - k0 : DN_FUSE_BLOCK_MAX;
            const float *x = src(ud, (size_t)f * spatial + k0, (size_t)len, buf);
            for (int k = 0; k < len; ++k) d[k0 + k] = dn_bn_delta_val(&c, d[k0 + k], x[k]);
        }
    }
}

/* pre = xhat * scale + bias, the same expression the forward evaluated. */
void bn_preact(const bn_state *bn, const float *xhat, int spatial, float *pre)
{
    for (int f = 0; f < bn->n; ++f) {
        float s = bn->scales[f], t = bn->biases[f];
        const float *a = xhat + (size_t)f * spatial;
        float *o = pre + (size_t)f * spatial;
        for (int k = 0; k < spatial; ++k) o[k] = a[k] * s + t;
    }
}

/* Values per block: a block is scaled and shifted, then activated while it is still in L1
 * (8 KiB), so the output is read and written once instead of twice. Per value the same
 * operations as bn_scale_shift followed by activate_array. Channels run in parallel: each
 * value is computed by one thread whatever the count. */
#define SSA_BLOCK 2048

void bn_scale_shift_act(const bn_state *b, float *x, int spatial, activation a)
{
    int n = b->n;
#pragma omp parallel for schedule(static) if ((size_t)n * spatial > 32768)
    for (int f = 0; f < n; ++f) {
        float s = b->scales[f], t = b->biases[f];
        float *p = x + (size_t)f * spatial;
        for (int k0 = 0; k0 < spatial; k0 += SSA_BLOCK) {
            int len = spatial - k0 < SSA_BLOCK ? spatial - k0 : SSA_BLOCK;
            float *q = p + k0;
            for (int k = 0; k < len; ++k) q[k] = q[k] * s + t;
            activate_array(q, (size_t)len, a);
        }
    }
}

/* x-hat of values [j0, j0 + len) of one sample into xh, channel by channel. */
static void norm_block(const bn_state *b, const float *x, int spatial, size_t j0, size_t len,
                       float *xh)
{
    for (size_t j = j0; j < j0 + len;) {
        size_t f = j / (size_t)spatial, end = (f + 1) * (size_t)spatial;
        if (end > j0 + len) end = j0 + len;
        float mean = b->mean[f];
        double den = norm_den(b->variance[f]);
        for (size_t k = j; k < end; ++k) xh[k - j0] = xhat_one(x[k], mean, den);
        j = end;
    }
}

/* y = x-hat * scale + bias of the same block into x, then the activation. */
static void ssa_block(const bn_state *b, const float *xh, int spatial, size_t j0, size_t len,
                      activation a, float *x)
{
    for (size_t j = j0; j < j0 + len;) {
        size_t f = j / (size_t)spatial, end = (f + 1) * (size_t)spatial;
        if (end > j0 + len) end = j0 + len;
        float s = b->scales[f], t = b->biases[f];
        for (size_t k = j; k < end; ++k) x[k] = xh[k - j0] * s + t;
        j = end;
    }
    activate_array(x + j0, len, a);
}

/* Blocks of the flattened sample run in parallel; each is normalized into a buffer on the
 * stack (L1) (copied there when x already holds x-hat), handed to the sink, scaled,
 * shifted and activated into x: x is read once and written once. Per value the
 * operations of bn_normalize, bn_scale_shift_act. */
static void fused_blocks(const bn_state *b, float *x, int spatial, activation a, size_t block,
                         dn_block_sink sink, void *ud, int normalized)
{
    size_t d = (size_t)b->n * (size_t)spatial;
    if (block == 0 || block > DN_FUSE_BLOCK_MAX) block = DN_FUSE_BLOCK_MAX;
    long nb = (long)((d + block - 1) / block);
#pragma omp parallel for schedule(static) if (d > 32768)
    for (long i = 0; i < nb; ++i) {
        float xh[DN_FUSE_BLOCK_MAX];
        size_t j0 = (size_t)i * block, len = d - j0 < block ? d - j0 : block;
        if (normalized) memcpy(xh, x + j0, len * sizeof(float));
        else norm_block(b, x, spatial, j0, len, xh);
        ssa_block(b, xh, spatial, j0, len, a, x);
        if (sink) sink(ud, j0, len, xh, x + j0);
    }
}

void bn_train_fused(const bn_state *b, float *x, int spatial, activation a, size_t block,
                    dn_block_sink sink, void *ud)
{
    fused_blocks(b, x, spatial, a, block, sink, ud, 0);
}

void bn_xhat_fused(const bn_state *b, float *x, int spatial, activation a, size_t block,
                   dn_block_sink sink, void *ud)
{
    fused_blocks(b, x, spatial, a, block, sink, ud, 1);
}
