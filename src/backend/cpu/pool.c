/* Pooling kernels of the CPU backend (backend.h): pjreddie's [maxpool] with the argmax
 * code of each output, and the global [avgpool]; per-value arithmetic in pool_math.h. */
#include "backend/cpu/cpu_ops.h"

#include <float.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "backend/math/pool_math.h"

/* dn_maxpool_window (pool_math.h, the GPU's too) with a fast path for windows inside the
 * image: the same comparisons in the same order, without the bounds tests. */
static inline float pool_window(const float *in, int w, int h, int size, int y0, int x0, int *arg)
{
    float best = -FLT_MAX;
    int a = 0;
    if (size == 2 && y0 >= 0 && x0 >= 0 && y0 + 2 <= h && x0 + 2 <= w) {
        /* the common 2x2 window: the same four comparisons in the same order, as selects
         * (the outcomes are random, so branches would mispredict half the time) */
        const float *r = in + (size_t)y0 * w + x0;
        float v[4] = {r[0], r[1], r[w], r[w + 1]};
        for (int m = 0; m < 4; ++m) {
            int gt = v[m] > best;
            best = gt ? v[m] : best;
            a = gt ? m : a;
        }
        *arg = a;
        return best;
    }
    if (y0 >= 0 && x0 >= 0 && y0 + size <= h && x0 + size <= w) {
        /* inside the image (most windows): no bounds tests */
        const float *r = in + (size_t)y0 * w + x0;
        for (int n = 0; n < size; ++n, r += w)
            for (int m = 0; m < size; ++m)
                if (r[m] > best) { best = r[m]; a = n * size + m; }
        *arg = a;
        return best;
    }
    return dn_maxpool_window(in, h, w, size, y0, x0, arg); /* the edges: bounds tested */
}

/* One output row of 2x2 windows at stride 2 inside the image (x0 = 2j): the same four
 * comparisons in the same order as pool_window, as selects (the outcomes are random, so
 * branches mispredict half the time). SSE2 (every x86-64) does four windows at once: its
 * ordered compare is false for NaN, as C's `>`. */
static inline void pool2_one(const float *r0, const float *r1, float *out, uint8_t *cd)
{
    float v[4] = {r0[0], r0[1], r1[0], r1[1]}, best = -FLT_MAX;
    int a = 0;
    for (int m = 0; m < 4; ++m) {
        int gt = v[m] > best;
        best = gt ? v[m] : best;
        a = gt ? m : a;
    }
    *out = best;
    *cd = (uint8_t)a;
}

#ifdef __SSE2__
static inline __m128 sel_ps(__m128 g, __m128 a, __m128 b)
{
    return _mm_or_ps(_mm_and_ps(g, a), _mm_andnot_ps(g, b));
}

static inline __m128i sel_epi32(__m128 g, __m128i a, __m128i b)
{
    __m128i m = _mm_castps_si128(g);
    return _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b));
}
#endif

static void pool2_row(const float *r0, const float *r1, int n, float *out, uint8_t *cd)
{
    int j = 0;
#ifdef __SSE2__
    for (; j + 4 <= n; j += 4) {
        __m128 a0 = _mm_loadu_ps(r0 + 2 * j), b0 = _mm_loadu_ps(r0 + 2 * j + 4);
        __m128 a1 = _mm_loadu_ps(r1 + 2 * j), b1 = _mm_loadu_ps(r1 + 2 * j + 4);
        __m128 v[4] = {_mm_shuffle_ps(a0, b0, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm_shuffle_ps(a0, b0, _MM_SHUFFLE(3, 1, 3, 1)),
                       _mm_shuffle_ps(a1, b1, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm_shuffle_ps(a1, b1, _MM_SHUFFLE(3, 1, 3, 1))};
        __m128 best = _mm_set1_ps(-FLT_MAX);
        __m128i arg = _mm_setzero_si128();
        for (int m = 0; m < 4; ++m) {
            __m128 gt = _mm_cmpgt_ps(v[m], best);
            best = sel_ps(gt, v[m], best);
            arg = sel_epi32(gt, _mm_set1_epi32(m), arg);
        }
        _mm_storeu_ps(out + j, best);
        __m128i b8 = _mm_packus_epi16(_mm_packs_epi32(arg, arg), _mm_setzero_si128());
        int32_t w4 = _mm_cvtsi128_si32(b8);
        memcpy(cd + j, &w4, 4);
    }
#endif
    for (; j < n; ++j) pool2_one(r0 + 2 * j, r1 + 2 * j, out + j, cd + j);
}

/* Output and argmax codes in one pass over the input. */
static void maxpool_sample(const float *in0, int c, int h, int w, int size, int stride, int pad,
                           float *out0, uint8_t *codes)
{
    int off = -pad / 2, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
#pragma omp parallel for schedule(static) if (c * ow * oh > 16384)
    for (int k = 0; k < c; ++k) {
        const float *in = in0 + (size_t)k * w * h;
        float *out = out0 + (size_t)k * ow * oh;
        uint8_t *cd = codes + (size_t)k * ow * oh;
        for (int i = 0; i < oh; ++i) {
            int j0 = 0, y0 = off + i * stride;
            if (size == 2 && stride == 2 && off >= 0 && y0 + 2 <= h) {
                /* interior windows of the row: x0 = off + 2j with x0 + 2 <= w */
                int n = (w - off) / 2 < ow ? (w - off) / 2 : ow;
                pool2_row(in + (size_t)y0 * w + off, in + (size_t)(y0 + 1) * w + off, n,
                          out + (size_t)i * ow, cd + (size_t)i * ow);
                j0 = n;
            }
            for (int j = j0; j < ow; ++j) {
                int arg;
                out[i * ow + j] = pool_window(in, w, h, size, y0, off + j * stride, &arg);
                cd[i * ow + j] = (uint8_t)arg;
            }
        }
    }
}

void cpu_maxpool_forward(const float *in, int batch, int c, int h, int w, int size, int stride,
                         int pad, float *out, uint8_t *codes)
{
    size_t ins = (size_t)c * h * w;
    size_t outs = (size_t)c * ((h + pad - size) / stride + 1) * ((w + pad - size) / stride + 1);
    for (int b = 0; b < batch; ++b)
        maxpool_sample(in + b * ins, c, h, w, size, stride, pad, out + b * outs, codes + b * outs);
}

void cpu_maxpool_backward(const float *delta, const uint8_t *codes, int batch, int c, int h,
                          int w, int size, int stride, int pad, float *delta_in)
{
    int off = -pad / 2, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    /* planes in parallel: each writes only its own plane of delta_in, in the same order */
#pragma omp parallel for schedule(static) if ((size_t)batch * c * ow * oh > 16384)
    for (int bc = 0; bc < batch * c; ++bc) {
        const float *d = delta + (size_t)bc * ow * oh;
        float *din = delta_in + (size_t)bc * w * h;
        const uint8_t *cd = codes + (size_t)bc * ow * oh;
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                int code = cd[i * ow + j];
                int y = off + i * stride + code / size;
                int xx = off + j * stride + code % size;
                if (y >= 0 && y < h && xx >= 0 && xx < w) din[y * w + xx] += d[i * ow + j];
            }
    }
}

void cpu_avgpool_forward(const float *in0, int batch, int c, int h, int w, float *out)
{
    int hw = w * h;
    for (int b = 0; b < batch; ++b)
        for (int k = 0; k < c; ++k) {
            out[b * c + k] = dn_avgpool1(in0 + ((size_t)b * c + k) * hw, hw);
        }
}

void cpu_avgpool_backward(const float *delta, int batch, int c, int h, int w, float *delta_in)
{
    int hw = w * h;
    for (int b = 0; b < batch; ++b)
        for (int k = 0; k < c; ++k) {
            float *d = delta_in + ((size_t)b * c + k) * hw;
            float g = delta[b * c + k] / hw;
            for (int i = 0; i < hw; ++i) d[i] += g;
        }
}
