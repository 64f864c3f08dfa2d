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
 * thread per element for masks and 16/32-bit formats. The quantized save and restore come
 * in two versions (actnn_cuda.h ACTNN_CUDA_KERNEL_*): REF (k_save_q, k_restore_q), the
 * first, and FAST (k_save_q_fast, k_restore_q_fast, k_width_scan), which differ only in
 * how values move: every value goes through the same qmirror.h functions in either. */
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

/* The warp-per-unit kernels walk units u = (sample k of the call, group g) a warp at a
 * time, grid-stride. */
__device__ static size_t warp_index(void)
{
    return ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
}

__device__ static size_t warp_count(void) { return ((size_t)gridDim.x * blockDim.x) / 32; }

typedef struct {
    size_t k, g, n, j0, len; /* sample of the call and overall, group, its values */
} q_unit;

__device__ static q_unit unit_at(size_t u, size_t ng, size_t n0, size_t D, size_t G)
{
    q_unit q;
    q.k = u / ng;
    q.g = u % ng;
    q.n = n0 + q.k;
    q.j0 = q.g * G;
    q.len = D - q.j0 < G ? D - q.j0 : G;
    return q;
}

/* One warp per unit u = (sample k of this call, group g). */
__global__ void k_save_q(const float *x, size_t count, size_t n0, size_t D, size_t G, int bits,
                         const uint8_t *sb, uint64_t seed, uint64_t tid, uint8_t *payload,
                         uint16_t *meta, int *status)
{
    size_t ng = (D + G - 1) / G, units = count * ng, off;
    unsigned lane = threadIdx.x & 31;
    for (size_t u = warp_index(); u < units; u += warp_count()) {
        q_unit q = unit_at(u, ng, n0, D, G);
        size_t k = q.k, g = q.g, n = q.n, j0 = q.j0, len = q.len;
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

/* ---- FAST versions -------------------------------------------------------------------- */

/* Values a lane keeps in registers: a group of up to 32 * QV values is read once; a larger
 * one is read again, chunk by chunk, for the quantization (from cache, just read). 8 covers
 * the default G = 256 and keeps the kernel within __launch_bounds__'s 64 registers. */
enum { QV = 8, QCHUNK = 32 * QV, SCAN_BAD = 0 };

/* k_width_scan: scan[0] = the first sample in [0, m) whose width is outside 1..8 (m when
 * none), scan[1 + n] = the widths of samples before n, summed. One block: each thread sums
 * a run of samples, thread 0 turns the run sums into their prefixes, each thread writes its
 * run's. A call has at most a few thousand samples: this is microseconds, once per call. */
__global__ void k_width_scan(const uint8_t *sb, size_t m, size_t *scan)
{
    __shared__ size_t run_sum[QT], run_bad[QT];
    size_t per = (m + QT - 1) / QT, a = threadIdx.x * per, e = a + per < m ? a + per : m;
    size_t sum = 0, bad = m;
    for (size_t k = a; k < e; ++k) {
        if ((sb[k] < 1 || sb[k] > 8) && bad == m) bad = k;
        sum += sb[k];
    }
    run_sum[threadIdx.x] = sum;
    run_bad[threadIdx.x] = bad;
    __syncthreads();
    if (threadIdx.x == 0) {
        size_t total = 0, first = m;
        for (int t = 0; t < QT; ++t) {
            size_t v = run_sum[t];
            run_sum[t] = total;
            total += v;
            first = run_bad[t] < first ? run_bad[t] : first;
        }
        scan[SCAN_BAD] = first;
    }
    __syncthreads();
    sum = run_sum[threadIdx.x];
    for (size_t k = a; k < e; ++k) {
        scan[1 + k] = sum;
        sum += sb[k];
    }
}

/* sample_layout from k_width_scan's sums: O(1) per unit or element. */
__device__ static int scanned_layout(const uint8_t *sb, const size_t *scan, size_t n, size_t D,
                                     int *b, size_t *off)
{
    if (!sb) {
        *off = n * 4 * (size_t)*b * ((D + 31) / 32);
        return 1;
    }
    if (n >= scan[SCAN_BAD]) return 0;
    *b = sb[n];
    *off = 4 * scan[1 + n] * ((D + 31) / 32);
    return 1;
}

/* Chunk c0 of a group into v: lane's values c0 + lane + 32 i, guarded by len. All QV loads
 * are independent (unrolled), so a warp has them in flight together. */
__device__ static void load_chunk(const float *xs, size_t c0, size_t len, unsigned lane, float *v)
{
#pragma unroll
    for (int i = 0; i < QV; ++i) {
        size_t idx = c0 + 32 * (size_t)i + lane;
        if (idx < len) v[i] = xs[idx];
    }
}

/* The true min/max of a group (k_save_q's reduction: lanes, xor shuffles, lane 0's
 * values broadcast), and whether a value is NaN/Inf. v ends holding chunk 0. */
__device__ static int group_minmax(const float *xs, size_t len, unsigned lane, float *v,
                                   float *lo_out, float *hi_out)
{
    float lo = xs[0], hi = xs[0];
    int bad = 0;
    for (size_t c0 = len > QCHUNK ? QCHUNK * ((len - 1) / QCHUNK) : 0;; c0 -= QCHUNK) {
        load_chunk(xs, c0, len, lane, v); /* last chunk first, so chunk 0 stays in v */
#pragma unroll
        for (int i = 0; i < QV; ++i) {
            if (c0 + 32 * (size_t)i + lane >= len) continue;
            bad |= !isfinite(v[i]);
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        if (c0 == 0) break;
    }
    for (int o = 16; o > 0; o /= 2) {
        float l2 = __shfl_xor_sync(FULL, lo, o), h2 = __shfl_xor_sync(FULL, hi, o);
        lo = l2 < lo ? l2 : lo;
        hi = h2 > hi ? h2 : hi;
    }
    *lo_out = __shfl_sync(FULL, lo, 0);
    *hi_out = __shfl_sync(FULL, hi, 0);
    return __any_sync(FULL, bad);
}

/* Codes of one chunk into its blocks' bit planes: per block, b ballots; lane i keeps plane
 * i, and lanes 0..b-1 store the block's b words together. */
__device__ static void quantize_chunk(const float *v, size_t c0, size_t len, size_t j0, int b,
                                      unsigned lane, qm_key key, qm_params p, uint32_t *words)
{
#pragma unroll
    for (int i = 0; i < QV; ++i) {
        size_t k0 = c0 + 32 * (size_t)i, idx = k0 + lane;
        if (k0 >= len) break; /* the same for the whole warp */
        uint32_t code = idx < len ? qm_quantize(v[i], j0 + idx, key, p) : 0u, mine = 0;
        for (int bit = 0; bit < b; ++bit) {
            uint32_t w = __ballot_sync(FULL, (code >> bit) & 1u);
            mine = (int)lane == bit ? w : mine;
        }
        if ((int)lane < b) words[(k0 / 32) * (size_t)b + lane] = mine;
    }
}

/* k_save_q's units, results and flags, with the values read once (groups up to QCHUNK). */
__global__ void __launch_bounds__(QT, 4)
    k_save_q_fast(const float *x, size_t count, size_t n0, size_t D, size_t G, int bits,
                  const uint8_t *sb, const size_t *scan, uint64_t seed, uint64_t tid,
                  uint8_t *payload, uint16_t *meta, int *status)
{
    size_t ng = (D + G - 1) / G, units = count * ng, off;
    unsigned lane = threadIdx.x & 31;
    float v[QV] = {0}; /* slots past a group's end are never used; zero keeps them defined */
    for (size_t u = warp_index(); u < units; u += warp_count()) {
        q_unit q = unit_at(u, ng, n0, D, G);
        size_t k = q.k, g = q.g, n = q.n, j0 = q.j0, len = q.len;
        int b = bits;
        if (!scanned_layout(sb, scan, n, D, &b, &off)) {
            if (lane == 0) atomicOr(status, ST_BITS);
            continue;
        }
        const float *xs = x + k * D + j0;
        float lo, hi;
        uint16_t m0, m1;
        qm_params p;
        if (group_minmax(xs, len, lane, v, &lo, &hi) || qm_from_minmax(lo, hi, b, &m0, &m1, &p)) {
            if (lane == 0) atomicOr(status, ST_NONFINITE);
            continue;
        }
        uint32_t *words = (uint32_t *)(payload + off) + (j0 / 32) * (size_t)b;
        if (lane == 0) {
            uint16_t *mt = meta + 2 * (n * ng + g);
            mt[0] = m0;
            mt[1] = m1;
        }
        if (p.constant) {
            size_t nw = ((len + 31) / 32) * (size_t)b;
            for (size_t i = lane; i < nw; i += 32) words[i] = i == 0 ? __float_as_uint(p.value) : 0u;
            continue;
        }
        qm_key key = qm_sample_key(seed, tid, n);
        for (size_t c0 = 0; c0 < len; c0 += QCHUNK) {
            if (c0 > 0) load_chunk(xs, c0, len, lane, v);
            quantize_chunk(v, c0, len, j0, b, lane, key, p, words);
        }
    }
}

/* k_restore_q's values by one warp per (sample, group) unit: the parameters once per
 * group, a block's planes loaded by lanes 0..b-1 and shared by shuffles, values written
 * 32 consecutive floats at a time. */
__global__ void __launch_bounds__(QT)
    k_restore_q_fast(const uint8_t *payload, const uint16_t *meta, size_t count, size_t n0,
                     size_t D, size_t G, int bits, const uint8_t *sb, const size_t *scan,
                     float *out, int *status)
{
    size_t ng = (D + G - 1) / G, units = count * ng, off;
    unsigned lane = threadIdx.x & 31;
    for (size_t u = warp_index(); u < units; u += warp_count()) {
        q_unit q = unit_at(u, ng, n0, D, G);
        size_t k = q.k, g = q.g, n = q.n, j0 = q.j0, len = q.len;
        float *os = out + k * D + j0;
        int b = bits;
        if (!scanned_layout(sb, scan, n, D, &b, &off)) {
            if (lane == 0 && g == 0) atomicOr(status, ST_BITS);
            for (size_t i = lane; i < len; i += 32) os[i] = 0.0f;
            continue;
        }
        const uint32_t *words = (const uint32_t *)(payload + off) + (j0 / 32) * (size_t)b;
        const uint16_t *mt = meta + 2 * (n * ng + g);
        qm_params p = qm_from_meta(mt[0], mt[1], b);
        if (p.constant) {
            float c = __uint_as_float(words[0]);
            for (size_t i = lane; i < len; i += 32) os[i] = c;
            continue;
        }
        for (size_t k0 = 0; k0 < len; k0 += 32, words += b) {
            uint32_t mine = (int)lane < b ? words[lane] : 0u, c = 0;
            for (int i = 0; i < b; ++i) c |= ((__shfl_sync(FULL, mine, i) >> lane) & 1u) << i;
            if (k0 + lane < len) os[k0 + lane] = qm_restore(c, p);
        }
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
    ctx->kernel = ACTNN_CUDA_KERNEL_DEFAULT;
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
    cudaError_t e = cudaFree(ctx->d_status), e2 = cudaFree(ctx->d_scan); /* NULL: no-op */
    if (e == cudaSuccess) e = e2;
    free(ctx);
    return e == cudaSuccess ? ACTNN_OK : ACTNN_E_CUDA;
}

extern "C" int actnn_cuda_set_kernel(actnn_cuda_ctx *ctx, int kernel)
{
    if (!ctx) return ACTNN_E_NULL;
    if (kernel != ACTNN_CUDA_KERNEL_FAST && kernel != ACTNN_CUDA_KERNEL_REF) return ACTNN_E_PARAM;
    ctx->kernel = kernel;
    return ACTNN_OK;
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

/* The FAST kernels' width sums for samples [0, m) into ctx->d_scan (NULL without per-sample
 * widths). Growing waits for the stream first: a queued kernel may still read the old
 * buffer. */
static int width_scan(actnn_cuda_ctx *ctx, const uint8_t *sb, size_t m, const size_t **scan)
{
    *scan = NULL;
    if (!sb) return ACTNN_OK;
    if (ctx->scan_cap < 1 + m) {
        size_t cap = 1 + m < 1024 ? 1024 : 2 * (1 + m);
        ACU(cudaStreamSynchronize(ctx->stream));
        ACU(cudaFree(ctx->d_scan));
        ctx->d_scan = NULL;
        ctx->scan_cap = 0;
        cudaError_t e = cudaMalloc((void **)&ctx->d_scan, cap * sizeof(size_t));
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            return ACTNN_E_NOMEM;
        }
        ACU(e);
        ctx->scan_cap = cap;
    }
    k_width_scan<<<1, QT, 0, ctx->stream>>>(sb, m, ctx->d_scan);
    ACU(cudaGetLastError());
    *scan = ctx->d_scan;
    return ACTNN_OK;
}

/* Samples [n0, n0 + count) at 1..8 bits or per-sample widths, by the context's kernels. */
static int save_quantized(actnn_cuda_ctx *ctx, const actnn_cuda_tensor *t, size_t n0,
                          size_t count, const float *d_x)
{
    unsigned blocks = grid_for(count * ((t->D + t->G - 1) / t->G) * 32);
    if (ctx->kernel == ACTNN_CUDA_KERNEL_REF) {
        k_save_q<<<blocks, QT, 0, ctx->stream>>>(d_x, count, n0, t->D, t->G, t->bits,
                                                 t->sample_bits, t->seed, t->tensor_id,
                                                 (uint8_t *)t->payload, t->meta, ctx->d_status);
        return ACTNN_OK;
    }
    const size_t *scan;
    int err = width_scan(ctx, t->sample_bits, n0 + count, &scan);
    if (err) return err;
    k_save_q_fast<<<blocks, QT, 0, ctx->stream>>>(d_x, count, n0, t->D, t->G, t->bits,
                                                  t->sample_bits, scan, t->seed, t->tensor_id,
                                                  (uint8_t *)t->payload, t->meta, ctx->d_status);
    return ACTNN_OK;
}

static int restore_quantized(actnn_cuda_ctx *ctx, const actnn_cuda_tensor *t, size_t n0,
                             size_t count, float *d_out)
{
    const uint8_t *pay = (const uint8_t *)t->payload;
    if (ctx->kernel == ACTNN_CUDA_KERNEL_REF) {
        k_restore_q<<<grid_for(count * t->D), QT, 0, ctx->stream>>>(
            pay, t->meta, count, n0, t->D, t->G, t->bits, t->sample_bits, d_out, ctx->d_status);
        return ACTNN_OK;
    }
    const size_t *scan;
    int err = width_scan(ctx, t->sample_bits, n0 + count, &scan);
    if (err) return err;
    k_restore_q_fast<<<grid_for(count * ((t->D + t->G - 1) / t->G) * 32), QT, 0, ctx->stream>>>(
        pay, t->meta, count, n0, t->D, t->G, t->bits, t->sample_bits, scan, d_out, ctx->d_status);
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
        err = save_quantized(ctx, t, n0, count, d_x);
        if (err) return err;
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
    if (!t->sample_bits && t->bits == 16) {
        k_restore_h<<<grid_for(count * t->D), QT, 0, ctx->stream>>>((const uint16_t *)pay, count,
                                                                   n0, t->D, d_out);
    } else {
        err = restore_quantized(ctx, t, n0, count, d_out);
        if (err) return err;
    }
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
