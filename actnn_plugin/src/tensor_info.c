/* tensor_info.c: read-only views of a saved tensor: shape, bits, raw bytes, checksum,
 * and the range statistic of the mixed-precision policy. */
#include <math.h>

#include "floatbits.h"
#include "fpmode.h" /* its sums of squares (s + x*x, here and in statmath.h) must not fuse */
#include "internal.h"
#include "statmath.h"

int actnn_tensor_get_info(const actnn_tensor *t, actnn_tensor_info *out)
{
    if (!t || !out) return ACTNN_E_NULL;
    *out = (actnn_tensor_info){.N = t->N, .D = t->D, .group_size = t->G,
                               .tensor_id = t->tensor_id, .payload_bytes = t->payload_bytes,
                               .meta_bytes = t->meta_bytes};
    return ACTNN_OK;
}

int actnn_tensor_sample_bits(const actnn_tensor *t, size_t i, int *bits)
{
    if (!t || !bits) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    *bits = t->samples[i].bits;
    return ACTNN_OK;
}

int actnn_tensor_raw(const actnn_tensor *t, const void **payload, size_t *payload_bytes,
                     const void **meta, size_t *meta_bytes)
{
    if (!t || !payload || !payload_bytes || !meta || !meta_bytes) return ACTNN_E_NULL;
    *payload = t->payload;
    *payload_bytes = t->payload_bytes;
    *meta = t->gmeta;
    *meta_bytes = 4 * t->gmeta_count;
    return ACTNN_OK;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

int actnn_tensor_checksum(const actnn_tensor *t, uint64_t *out)
{
    if (!t || !out) return ACTNN_E_NULL;
    uint64_t h = fnv1a(0xCBF29CE484222325ull, t->payload, t->payload_bytes);
    *out = fnv1a(h, (const unsigned char *)t->gmeta, 4 * t->gmeta_count);
    return ACTNN_OK;
}

/* Sum of squared (max - min) over groups of G values, in group order (statmath.h: the
 * CUDA kernel's order); NONFINITE on NaN/Inf. */
static int range_stat_values(const float *x, size_t D, size_t G, double *out)
{
    double s = 0.0;
    for (size_t j0 = 0; j0 < D; j0 += G) {
        size_t len = D - j0 < G ? D - j0 : G;
        float lo = x[j0], hi = x[j0];
        for (size_t k = 0; k < len; ++k) {
            float v = x[j0 + k];
            if (!isfinite(v)) return ACTNN_E_NONFINITE;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        s = SM_ADD(s, sm_range_term(lo, hi));
    }
    *out = s;
    return ACTNN_OK;
}

int actnn_range_stat(const float *x, size_t D, size_t G, double *out)
{
    if (!x || !out) return ACTNN_E_NULL;
    if (D == 0) return ACTNN_E_SIZE;
    if (G < ACTNN_MIN_GROUP || G > ACTNN_MAX_GROUP || G % 32) return ACTNN_E_GROUP;
    return range_stat_values(x, D, G, out);
}

int actnn_range_stat_minmax(const float *lo, const float *hi, size_t ngroups, double *out)
{
    if (!lo || !hi || !out) return ACTNN_E_NULL;
    if (ngroups == 0) return ACTNN_E_SIZE;
    double s = 0.0;
    for (size_t g = 0; g < ngroups; ++g) {
        if (!isfinite(lo[g]) || !isfinite(hi[g])) return ACTNN_E_NONFINITE;
        s = SM_ADD(s, sm_range_term(lo[g], hi[g]));
    }
    *out = s;
    return ACTNN_OK;
}

/* Sum of squares of D values: chunk sums in chunk order (statmath.h). */
static double square_stat_values(const float *x, size_t D)
{
    double s = 0.0;
    for (size_t j0 = 0; j0 < D; j0 += SM_CHUNK)
        s = SM_ADD(s, sm_square_chunk(x + j0, D - j0 < SM_CHUNK ? D - j0 : SM_CHUNK));
    return s;
}

int actnn_sample_stats(actnn_ctx *ctx, int kind, const float *x, size_t count, size_t D,
                       size_t stride, size_t G, double *out)
{
    if (!ctx || !x || !out) return ACTNN_E_NULL;
    if (count == 0 || D == 0) return ACTNN_E_SIZE;
    if ((kind != ACTNN_STAT_RANGE && kind != ACTNN_STAT_SQUARES) || stride < D) return ACTNN_E_PARAM;
    if (kind == ACTNN_STAT_RANGE && (G < ACTNN_MIN_GROUP || G > ACTNN_MAX_GROUP || G % 32))
        return ACTNN_E_GROUP;
    int nt = ctx_threads(ctx, count * D), err = ACTNN_OK;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(min : err) if (nt > 1)
    for (size_t n = 0; n < count; ++n) {
        const float *xs = x + n * stride;
        int e = ACTNN_OK;
        if (kind == ACTNN_STAT_RANGE) e = range_stat_values(xs, D, G, &out[n]);
        else out[n] = square_stat_values(xs, D);
        err = e < err ? e : err;
    }
    return err;
}

/* Min and max of n halves, decoded through a small buffer. */
static int half_minmax(const uint16_t *h, size_t n, float *lo, float *hi)
{
    float buf[256];
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t k0 = 0; k0 < n; k0 += 256) {
        size_t len = n - k0 < 256 ? n - k0 : 256;
        half_decode(h + k0, len, buf, 1);
        for (size_t k = 0; k < len; ++k) {
            if (!isfinite(buf[k])) return ACTNN_E_NONFINITE;
            *lo = buf[k] < *lo ? buf[k] : *lo;
            *hi = buf[k] > *hi ? buf[k] : *hi;
        }
    }
    return ACTNN_OK;
}

/* 16/32-bit samples: the statistic of the stored values. */
static int range_stat_stored(const actnn_tensor *t, const tensor_sample *s, double *out)
{
    const unsigned char *pay = t->payload + s->pay_off;
    if (s->bits == 32) return range_stat_values((const float *)pay, t->D, t->G, out);
    double total = 0.0;
    for (size_t j0 = 0; j0 < t->D; j0 += t->G) {
        size_t len = t->D - j0 < t->G ? t->D - j0 : t->G;
        float lo, hi;
        int err = half_minmax((const uint16_t *)pay + j0, len, &lo, &hi);
        if (err) return err;
        total = SM_ADD(total, sm_range_term(lo, hi));
    }
    *out = total;
    return ACTNN_OK;
}

int actnn_tensor_range_stat(const actnn_tensor *t, size_t i, double *out)
{
    if (!t || !out) return ACTNN_E_NULL;
    if (i >= t->N) return ACTNN_E_INDEX;
    const tensor_sample *s = &t->samples[i];
    if (!s->saved) return ACTNN_E_NOT_SAVED;
    if (s->bits > 8) return range_stat_stored(t, s, out);
    double total = 0.0;
    const uint16_t *m = t->gmeta + 2 * s->meta_off;
    for (size_t g = 0; g < t->ngroups; ++g) {
        double r = bf16_to_float(m[2 * g + 1]);
        total += r * r;
    }
    *out = total;
    return ACTNN_OK;
}
