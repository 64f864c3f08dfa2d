/* quantize.cu: actnn_plugin's CUDA kernels (actnn_cuda.h), byte-identical to the CPU.
 *
 * The per-value arithmetic (rng.h's counter hash, bf16 rounding, quantize.c's parameters
 * and rounding, half.c's fp16) is in qmirror.h, shared with a CPU test that checks it
 * against the library's bytes without a GPU. This file adds the parallel structure:
 * group min/max by warp shuffles, and pack.c's bit planes (word i of a block holds bit i
 * of code k at bit k), which a warp builds with one __ballot_sync per plane. The GPU test
 * (tests/gpu) compares the stored bytes with the CPU path's on a device.
 *
 * Work split: one warp per (sample, group) unit for quantization (G is a multiple of 32,
 * so a group is whole blocks of 32 and the warp's lanes map onto one block's bits), one
 * thread per element for restore, masks and 16/32-bit formats. */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actnn_cuda.h"
#include "cuda_ctx.h"
#include "qmirror.h"

enum { QT = 256, ST_NONFINITE = ACTNN_ST_NONFINITE, ST_CODE = ACTNN_ST_CODE, ST_BITS = ACTNN_ST_BITS };
#define FULL 0xFFFFFFFFu

static int cuda_fail(actnn_cuda_ctx *ctx, cudaError_t e)
{
    ctx->last_err = cudaGetErrorString(e);
    (void)cudaGetLastError();
    return ACTNN_E_CUDA;
}

#define ACU(call)                                                                         \
    do {                                                                                  \
        cudaError_t e_ = (call);                                                          \
        if (e_ != cudaSuccess) return cuda_fail(ctx, e_);                                 \
    } while (0)

static unsigned grid_for(size_t threads)
{
    size_t b = (threads + QT - 1) / QT;
    if (b == 0) b = 1;
    return b > 1048576u ? 1048576u : (unsigned)b;
}

#define GRID_LOOP(i, n)                                                                   \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);               \
         i += (size_t)gridDim.x * blockDim.x)

static size_t blocks32(size_t D) { return D / 32 + (D % 32 != 0); }

static size_t payload_per_sample(size_t D, int bits)
{
    if (bits == 32) return 4 * D;
    if (bits == 16) return 4 * (D / 2 + D % 2);
    return 4 * (size_t)bits * blocks32(D);
}

/* ---- kernels: quantized save and restore ------------------------------------------- */

/* Width and payload offset of sample n: `b` and n * its payload, or with per-sample bits
 * (sb not NULL) sb[n] and qm_sample_offset. 0 when a width up to n is outside 1..8 (the
 * offsets would leave the tensor): the caller flags ST_BITS and skips the sample. */
__device__ static int sample_layout(const uint8_t *sb, size_t n, size_t D, int *b, size_t *off)
{
    if (!sb) {
        *off = n * 4 * (size_t)*b * ((D + 31) / 32);
        return 1;
    }
    for (size_t k = 0; k <= n; ++k)
        if (sb[k] < 1 || sb[k] > 8) return 0;
    *b = sb[n];
    *off = qm_sample_offset(sb, n, D);
    return 1;
}

/* One warp per unit u = (sample k of this call, group g). */
__global__ void k_save_q(const float *x, size_t count, size_t n0, size_t D, size_t G, int bits,
                         const uint8_t *sb, uint64_t seed, uint64_t tid, uint8_t *payload,
                         uint16_t *meta, int *status)
{
    size_t ng = (D + G - 1) / G, units = count * ng, off;
    unsigned lane = threadIdx.x & 31;
    size_t warp = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    size_t nwarps = ((size_t)gridDim.x * blockDim.x) / 32;
    for (size_t u = warp; u < units; u += nwarps) {
        size_t k = u / ng, g = u % ng, n = n0 + k;
        size_t j0 = g * G, len = D - j0 < G ? D - j0 : G;
        int b = bits;
        if (!sample_layout(sb, n, D, &b, &off)) { /* the same for the whole warp */
            if (lane == 0) atomicOr(status, ST_BITS);
            continue;
        }
        const float *xs = x + k * D + j0;
        float lo = xs[0], hi = xs[0];
        int bad = 0;
        for (size_t i = lane; i < len; i += 32) {
            float v = xs[i];
            bad |= !isfinite(v);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        for (int o = 16; o > 0; o /= 2) {
            float l2 = __shfl_xor_sync(FULL, lo, o), h2 = __shfl_xor_sync(FULL, hi, o);
            lo = l2 < lo ? l2 : lo;
            hi = h2 > hi ? h2 : hi;
        }
        if (__any_sync(FULL, bad)) {
            if (lane == 0) atomicOr(status, ST_NONFINITE);
            continue;
        }
        /* Lanes may disagree on the sign of a zero min/max; lane 0's values decide. */
        lo = __shfl_sync(FULL, lo, 0);
        hi = __shfl_sync(FULL, hi, 0);
        uint16_t m0, m1;
        qm_params p;
        if (qm_from_minmax(lo, hi, b, &m0, &m1, &p)) {
            if (lane == 0) atomicOr(status, ST_NONFINITE);
            continue;
        }
        uint32_t *words = (uint32_t *)(payload + off) + (j0 / 32) * (size_t)b;
        size_t nw = ((len + 31) / 32) * (size_t)b;
        if (lane == 0) {
            uint16_t *mt = meta + 2 * (n * ng + g);
            mt[0] = m0;
            mt[1] = m1;
        }
        if (p.constant) {
            for (size_t i = lane; i < nw; i += 32) words[i] = i == 0 ? __float_as_uint(p.value) : 0u;
            continue;
        }
        qm_key key = qm_sample_key(seed, tid, n);
        for (size_t k0 = 0; k0 < len; k0 += 32, words += b) {
            size_t i = k0 + lane;
            uint32_t code = i < len ? qm_quantize(xs[i], j0 + i, key, p) : 0u;
            for (int bit = 0; bit < b; ++bit) {
                uint32_t w = __ballot_sync(FULL, (code >> bit) & 1u);
                if ((int)lane == bit) words[bit] = w;
            }
        }
    }
}

/* One thread per element of the call's samples (with per-sample bits each thread sums the
 * widths of the samples before its own: n byte reads, from cache). */
__global__ void k_restore_q(const uint8_t *payload, const uint16_t *meta, size_t count,
                            size_t n0, size_t D, size_t G, int bits, const uint8_t *sb,
                            float *out, int *status)
{
    size_t ng = (D + G - 1) / G, off;
    GRID_LOOP(e, count * D) {
        size_t k = e / D, j = e % D, n = n0 + k, g = j / G;
        int b = bits;
        if (!sample_layout(sb, n, D, &b, &off)) {
            if (j == 0) atomicOr(status, ST_BITS);
            out[e] = 0.0f;
            continue;
        }
        const uint32_t *words = (const uint32_t *)(payload + off);
        const uint16_t *mt = meta + 2 * (n * ng + g);
        qm_params p = qm_from_meta(mt[0], mt[1], b);
        if (p.constant) {
            out[e] = __uint_as_float(words[(g * G / 32) * (size_t)b]);
            continue;
        }
        const uint32_t *blk = words + (j / 32) * (size_t)b;
        uint32_t c = 0, s = (uint32_t)(j % 32);
        for (int i = 0; i < b; ++i) c |= ((blk[i] >> s) & 1u) << i;
        out[e] = qm_restore(c, p);
    }
}

/* Halves per sample: D rounded up to even; the padding half is stored as 0. */
__global__ void k_save_h(const float *x, size_t count, size_t n0, size_t D, uint16_t *h)
{
    size_t hs = D + D % 2;
    GRID_LOOP(e, count * hs) {
        size_t k = e / hs, j = e % hs;
        h[(n0 + k) * hs + j] = j < D ? qm_half_from(x[k * D + j]) : (uint16_t)0;
    }
}

__global__ void k_restore_h(const uint16_t *h, size_t count, size_t n0, size_t D, float *out)
{
    size_t hs = D + D % 2;
    GRID_LOOP(e, count * D) {
        size_t k = e / D, j = e % D;
        out[e] = qm_half_to(h[(n0 + k) * hs + j]);
    }
}

/* ---- masks and codes ------------------------------------------------------------------- */
enum { P_GT, P_BETWEEN };

/* Threads cover count * ceil(D/32) * 32 slots, a multiple of 32, and the grid stride is
 * a multiple of 32 too, so whole warps iterate together and ballots are safe. */
__global__ void k_mask(const float *x, size_t count, size_t D, int kind, float a, float b,
                       uint32_t *words)
{
    size_t nw = (D + 31) / 32, slots = count * nw * 32;
    GRID_LOOP(t, slots) {
        size_t k = t / (nw * 32), j = t % (nw * 32);
        bool bit = false;
        if (j < D) {
            float v = x[k * D + j];
            bit = kind == P_GT ? v > a : (a < v && v < b);
        }
        uint32_t w = __ballot_sync(FULL, bit);
        if ((threadIdx.x & 31) == 0) words[k * nw + j / 32] = w;
    }
}

__global__ void k_mask_bytes(const uint32_t *words, size_t count, size_t D, uint8_t *out)
{
    size_t nw = (D + 31) / 32;
    GRID_LOOP(e, count * D) {
        size_t k = e / D, j = e % D;
        out[e] = (uint8_t)((words[k * nw + j / 32] >> (j % 32)) & 1u);
    }
}

__global__ void k_mask_apply(const uint32_t *words, size_t count, size_t D, float *delta,
                             float g1, float g0)
{
    size_t nw = (D + 31) / 32;
    GRID_LOOP(e, count * D) {
        size_t k = e / D, j = e % D;
        bool bit = (words[k * nw + j / 32] >> (j % 32)) & 1u;
        delta[e] = __fmul_rn(delta[e], bit ? g1 : g0);
    }
}

__global__ void k_codes_pack(const uint8_t *codes, size_t count, size_t D, int width,
                             uint32_t *words, int *status)
{
    size_t nw = (D + 31) / 32, slots = count * nw * 32;
    GRID_LOOP(t, slots) {
        size_t k = t / (nw * 32), j = t % (nw * 32);
        uint32_t c = j < D ? codes[k * D + j] : 0u;
        if (c >> width) atomicOr(status, ST_CODE);
        uint32_t *blk = words + (k * nw + j / 32) * (size_t)width;
        for (int i = 0; i < width; ++i) {
            uint32_t w = __ballot_sync(FULL, (c >> i) & 1u);
            if ((int)(threadIdx.x & 31) == i) blk[i] = w;
        }
    }
}

__global__ void k_codes_unpack(const uint32_t *words, size_t count, size_t D, int width,
                               uint8_t *codes)
{
    size_t nw = (D + 31) / 32;
    GRID_LOOP(e, count * D) {
        size_t k = e / D, j = e % D;
        const uint32_t *blk = words + (k * nw + j / 32) * (size_t)width;
        uint32_t c = 0, s = (uint32_t)(j % 32);
        for (int i = 0; i < width; ++i) c |= ((blk[i] >> s) & 1u) << i;
        codes[e] = (uint8_t)c;
    }
}

/* Dropout of one sample (dropout.c): one thread per element. */
__global__ void k_dropout(float *x, size_t D, qm_key k, uint32_t threshold, float scale)
{
    GRID_LOOP(j, D) x[j] = qm_dropout_one(x[j], (uint32_t)j, k, threshold, scale);
}

/* ---- API ------------------------------------------------------------------------------ */

extern "C" int actnn_cuda_ctx_create(void *stream, actnn_cuda_ctx **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    actnn_cuda_ctx *ctx = (actnn_cuda_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return ACTNN_E_NOMEM;
    ctx->stream = (cudaStream_t)stream;
    ctx->last_err = "";
    cudaError_t e = cudaMalloc((void **)&ctx->d_status, sizeof(int));
    if (e == cudaSuccess) e = cudaMemsetAsync(ctx->d_status, 0, sizeof(int), ctx->stream);
    if (e != cudaSuccess) {
        int err = e == cudaErrorMemoryAllocation ? ACTNN_E_NOMEM : ACTNN_E_CUDA;
        (void)cudaGetLastError();
        if (ctx->d_status) (void)cudaFree(ctx->d_status);
        free(ctx);
        return err;
    }
    *out = ctx;
    return ACTNN_OK;
}

extern "C" int actnn_cuda_ctx_free(actnn_cuda_ctx *ctx)
{
    if (!ctx) return ACTNN_OK;
    cudaError_t e = cudaFree(ctx->d_status);
    free(ctx);
    return e == cudaSuccess ? ACTNN_OK : ACTNN_E_CUDA;
}

extern "C" const char *actnn_cuda_last_error(const actnn_cuda_ctx *ctx)
{
    return ctx ? ctx->last_err : "";
}

extern "C" int actnn_cuda_status(actnn_cuda_ctx *ctx)
{
    if (!ctx) return ACTNN_E_NULL;
    int st = 0;
    ACU(cudaMemcpyAsync(&st, ctx->d_status, sizeof st, cudaMemcpyDeviceToHost, ctx->stream));
    ACU(cudaStreamSynchronize(ctx->stream));
    if (st) ACU(cudaMemsetAsync(ctx->d_status, 0, sizeof(int), ctx->stream));
    if (st & ST_NONFINITE) return ACTNN_E_NONFINITE;
    if (st & ST_CODE) return ACTNN_E_CODE;
    if (st & ST_BITS) return ACTNN_E_BITS;
    return ACTNN_OK;
}

static int tensor_ok(const actnn_cuda_tensor *t, size_t n0, size_t count)
{
    if (!t || !t->payload) return ACTNN_E_NULL;
    int q = t->sample_bits || t->bits <= 8; /* quantized: groups and metadata */
    if (!t->sample_bits && !((t->bits >= 1 && t->bits <= 8) || t->bits == 16 || t->bits == 32))
        return ACTNN_E_BITS;
    if (t->N == 0 || t->D == 0) return ACTNN_E_SIZE;
    if (t->D > 0xFFFFFFFFull) return ACTNN_E_TOO_LARGE;
    if (q && (t->G < 32 || t->G > 65536 || t->G % 32)) return ACTNN_E_GROUP;
    if (q && !t->meta) return ACTNN_E_NULL;
    if (n0 > t->N || count > t->N - n0) return ACTNN_E_INDEX;
    return ACTNN_OK;
}

extern "C" int actnn_cuda_tensor_size(size_t N, size_t D, int bits, size_t G, size_t *payload,
                                      size_t *meta)
{
    if (!payload || !meta) return ACTNN_E_NULL;
    if (N == 0 || D == 0) return ACTNN_E_SIZE;
    /* As actnn_tensor_size: element counters are 32-bit (rng.h), and a wrapped byte count
     * would have the caller allocate too little. Per sample nothing wraps: D < 2^32. */
    if (D > 0xFFFFFFFFull) return ACTNN_E_TOO_LARGE;
    if (!((bits >= 1 && bits <= 8) || bits == 16 || bits == 32)) return ACTNN_E_BITS;
    if (G < 32 || G > 65536 || G % 32) return ACTNN_E_GROUP;
    size_t ps = payload_per_sample(D, bits), ms = bits <= 8 ? 4 * ((D + G - 1) / G) : 0;
    if (N > SIZE_MAX / ps || (ms && N > SIZE_MAX / ms)) return ACTNN_E_TOO_LARGE;
    *payload = N * ps;
    *meta = N * ms;
    return ACTNN_OK;
}

extern "C" int actnn_cuda_save(actnn_cuda_ctx *ctx, const actnn_cuda_tensor *t, size_t n0,
                               size_t count, const float *d_x)
{
    if (!ctx || !d_x) return ACTNN_E_NULL;
    int err = tensor_ok(t, n0, count);
    if (err || count == 0) return err;
    uint8_t *pay = (uint8_t *)t->payload;
    if (!t->sample_bits && t->bits == 32) {
        ACU(cudaMemcpyAsync(pay + n0 * 4 * t->D, d_x, count * 4 * t->D, cudaMemcpyDeviceToDevice,
                            ctx->stream));
        return ACTNN_OK;
    }
    if (!t->sample_bits && t->bits == 16) {
        size_t hs = t->D + t->D % 2;
        k_save_h<<<grid_for(count * hs), QT, 0, ctx->stream>>>(d_x, count, n0, t->D, (uint16_t *)pay);
    } else {
        size_t units = count * ((t->D + t->G - 1) / t->G);
        unsigned blocks = grid_for(units * 32);
        k_save_q<<<blocks, QT, 0, ctx->stream>>>(d_x, count, n0, t->D, t->G, t->bits,
                                                 t->sample_bits, t->seed, t->tensor_id, pay,
                                                 t->meta, ctx->d_status);
    }
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

extern "C" int actnn_cuda_restore(actnn_cuda_ctx *ctx, const actnn_cuda_tensor *t, size_t n0,
                                  size_t count, float *d_out)
{
    if (!ctx || !d_out) return ACTNN_E_NULL;
    int err = tensor_ok(t, n0, count);
    if (err || count == 0) return err;
    const uint8_t *pay = (const uint8_t *)t->payload;
    if (!t->sample_bits && t->bits == 32) {
        ACU(cudaMemcpyAsync(d_out, pay + n0 * 4 * t->D, count * 4 * t->D, cudaMemcpyDeviceToDevice,
                            ctx->stream));
        return ACTNN_OK;
    }
    if (!t->sample_bits && t->bits == 16)
        k_restore_h<<<grid_for(count * t->D), QT, 0, ctx->stream>>>((const uint16_t *)pay, count,
                                                                   n0, t->D, d_out);
    else
        k_restore_q<<<grid_for(count * t->D), QT, 0, ctx->stream>>>(pay, t->meta, count, n0, t->D,
                                                                   t->G, t->bits, t->sample_bits,
                                                                   d_out, ctx->d_status);
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

static int mask_args(const actnn_cuda_ctx *ctx, const void *a, const void *b, size_t count,
                     size_t D)
{
    if (!ctx || !a || !b) return ACTNN_E_NULL;
    if (count == 0 || D == 0) return ACTNN_E_SIZE;
    return ACTNN_OK;
}

static int mask_set(actnn_cuda_ctx *ctx, const float *d_x, size_t count, size_t D, int kind,
                    float a, float b, uint32_t *d_words)
{
    int err = mask_args(ctx, d_x, d_words, count, D);
    if (err) return err;
    k_mask<<<grid_for(count * blocks32(D) * 32), QT, 0, ctx->stream>>>(d_x, count, D, kind, a, b,
                                                                      d_words);
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

extern "C" int actnn_cuda_mask_gt(actnn_cuda_ctx *ctx, const float *d_x, size_t count, size_t D,
                                  float threshold, uint32_t *d_words)
{
    return mask_set(ctx, d_x, count, D, P_GT, threshold, 0, d_words);
}

extern "C" int actnn_cuda_mask_between(actnn_cuda_ctx *ctx, const float *d_x, size_t count,
                                       size_t D, float lo, float hi, uint32_t *d_words)
{
    return mask_set(ctx, d_x, count, D, P_BETWEEN, lo, hi, d_words);
}

extern "C" int actnn_cuda_mask_get_bytes(actnn_cuda_ctx *ctx, const uint32_t *d_words,
                                         size_t count, size_t D, uint8_t *d_out)
{
    int err = mask_args(ctx, d_words, d_out, count, D);
    if (err) return err;
    k_mask_bytes<<<grid_for(count * D), QT, 0, ctx->stream>>>(d_words, count, D, d_out);
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

extern "C" int actnn_cuda_mask_apply(actnn_cuda_ctx *ctx, const uint32_t *d_words, size_t count,
                                     size_t D, float *d_delta, float g1, float g0)
{
    int err = mask_args(ctx, d_words, d_delta, count, D);
    if (err) return err;
    k_mask_apply<<<grid_for(count * D), QT, 0, ctx->stream>>>(d_words, count, D, d_delta, g1, g0);
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

extern "C" int actnn_cuda_codes_pack(actnn_cuda_ctx *ctx, const uint8_t *d_codes, size_t count,
                                     size_t D, int width, uint32_t *d_words)
{
    int err = mask_args(ctx, d_codes, d_words, count, D);
    if (err) return err;
    if (width < 1 || width > 8) return ACTNN_E_BITS;
    k_codes_pack<<<grid_for(count * blocks32(D) * 32), QT, 0, ctx->stream>>>(
        d_codes, count, D, width, d_words, ctx->d_status);
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

extern "C" int actnn_cuda_codes_unpack(actnn_cuda_ctx *ctx, const uint32_t *d_words, size_t count,
                                       size_t D, int width, uint8_t *d_codes)
{
    int err = mask_args(ctx, d_words, d_codes, count, D);
    if (err) return err;
    if (width < 1 || width > 8) return ACTNN_E_BITS;
    k_codes_unpack<<<grid_for(count * D), QT, 0, ctx->stream>>>(d_words, count, D, width, d_codes);
    ACU(cudaGetLastError());
    return ACTNN_OK;
}

extern "C" int actnn_cuda_dropout_apply(actnn_cuda_ctx *ctx, uint64_t seed, uint64_t tensor_id,
                                        float p, size_t i, size_t D, float *d_x)
{
    if (!ctx || !d_x) return ACTNN_E_NULL;
    if (D == 0) return ACTNN_E_SIZE;
    if (!(p >= 0.0f && p < 1.0f)) return ACTNN_E_PARAM;
    qm_key k = qm_sample_key_in(seed, tensor_id, i, QM_DOMAIN_DROPOUT);
    k_dropout<<<grid_for(D), QT, 0, ctx->stream>>>(d_x, D, k, qm_dropout_threshold(p),
                                                  qm_dropout_scale(p));
    ACU(cudaGetLastError());
    return ACTNN_OK;
}
