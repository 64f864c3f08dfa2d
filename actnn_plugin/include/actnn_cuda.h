/* actnn_cuda.h: the GPU side of actnn_plugin (built only with GPU=1; quantize.cu).
 *
 * The GPU stores exactly the bytes the CPU stores (actnn_tensor_raw's layout): same
 * counter-based noise (rng.h), same bf16 metadata, same bit planes, so a tensor saved
 * on one side restores bit-identically on the other and tests compare raw bytes.
 *
 * Unlike the host API, memory is the caller's: the framework plans device memory and
 * passes device pointers (d_*), sized with actnn_cuda_tensor_size(). Kernels run on the
 * context's stream and do not wait; data errors (NaN/Inf to quantize, a code too wide)
 * are collected on the device and returned by the next actnn_cuda_status(), which waits.
 * Like actnn.h: no printing, no exit(), error codes only. */
#ifndef ACTNN_CUDA_H
#define ACTNN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "actnn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A CUDA runtime failure; actnn_cuda_last_error() has the runtime's reason. */
#define ACTNN_E_CUDA (-100)

typedef struct actnn_cuda_ctx actnn_cuda_ctx;

/* stream: a cudaStream_t, or NULL for the default stream. */
int actnn_cuda_ctx_create(void *stream, actnn_cuda_ctx **out);
int actnn_cuda_ctx_free(actnn_cuda_ctx *ctx);
/* The CUDA reason of the last ACTNN_E_CUDA (a static string; "" when none). */
const char *actnn_cuda_last_error(const actnn_cuda_ctx *ctx);
/* Waits for the context's stream; returns the first data error since the last call
 * (ACTNN_E_NONFINITE, ACTNN_E_CODE, ACTNN_E_BITS), ACTNN_E_CUDA, or ACTNN_OK, and clears it. */
int actnn_cuda_status(actnn_cuda_ctx *ctx);

/* The kernels of the quantized save and restore (bits 1..8 and per-sample widths).
 * FAST: a warp per group keeps its values in registers between the min/max and the
 * quantization, writes a block's bit planes with one store, restores a group per warp,
 * and sums per-sample widths once per call. REF: the first version (a lane load per
 * value per pass, a store per bit plane, a thread per restored value, widths summed
 * before each sample), kept so a device on which FAST misbehaves still has a working
 * quantizer. Both store the same bytes and restore the same floats (tests/gpu checks each
 * against the CPU). A new context uses ACTNN_CUDA_KERNEL_DEFAULT. */
enum { ACTNN_CUDA_KERNEL_FAST = 0, ACTNN_CUDA_KERNEL_REF = 1 };
#define ACTNN_CUDA_KERNEL_DEFAULT ACTNN_CUDA_KERNEL_FAST
/* ACTNN_E_NULL without a context, ACTNN_E_PARAM for an unknown kernel. */
int actnn_cuda_set_kernel(actnn_cuda_ctx *ctx, int kernel);

/* A quantized tensor in device memory, one bit width for all samples (1..8, 16, 32).
 * payload: N * per-sample payload bytes (actnn.h's storage format); meta: 2 uint16 per
 * group per sample (bits <= 8 only, else unused and may be NULL). With sample_bits (device
 * memory, N widths in 1..8; bits unused) each sample has its own width, laid out as
 * actnn_raw_tensor's sample_bits (sizes: actnn_raw_size_mixed); a width outside 1..8 is
 * flagged as ACTNN_E_BITS by the next actnn_cuda_status. */
typedef struct {
    size_t N, D, G;
    int bits;
    uint64_t seed, tensor_id; /* the host context's seed and the tensor id */
    void *payload;
    uint16_t *meta;
    const uint8_t *sample_bits;
} actnn_cuda_tensor;

/* Device bytes of the payload and of the group metadata (the host's accounting adds
 * the handle and sample table, which the GPU does not need). */
int actnn_cuda_tensor_size(size_t N, size_t D, int bits, size_t G, size_t *payload,
                           size_t *meta);
/* Saves samples [n0, n0+count) from d_x (count * D floats). */
int actnn_cuda_save(actnn_cuda_ctx *ctx, const actnn_cuda_tensor *t, size_t n0, size_t count,
                    const float *d_x);
/* Restores samples [n0, n0+count) into d_out (count * D floats). */
int actnn_cuda_restore(actnn_cuda_ctx *ctx, const actnn_cuda_tensor *t, size_t n0,
                       size_t count, float *d_out);

/* actnn_sample_stats on device memory: out[n] (d_out, count doubles) for sample n of d_x
 * (D values, `stride` floats apart), the same doubles as the host library (the same
 * additions in the same order, statmath.h). A NaN/Inf in a range sample: its statistic is
 * NaN and the next actnn_cuda_status returns ACTNN_E_NONFINITE. A context set to
 * ACTNN_CUDA_KERNEL_REF runs the first (slower) kernels here too: the same doubles. */
int actnn_cuda_sample_stats(actnn_cuda_ctx *ctx, int kind, const float *d_x, size_t count,
                            size_t D, size_t stride, size_t G, double *d_out);

/* actnn_auto's per-sample widths chosen on the device, where the costs are (so nothing
 * waits for the device between the statistics and the save): d_bits[k], k < n, are the
 * widths actnn_alloc_bits(cost, NULL, n, avg_bits, bits) gives for the n doubles at d_cost
 * (device memory), byte for byte; their sum is actnn_alloc_bits_sum's. A cost that is not
 * finite or is < 0 gives the widths of all-zero costs (the same sum, so a save sized by it
 * stays inside its tensor) and ACTNN_E_NONFINITE from the next actnn_cuda_status.
 * _split: actnn_split_bits(n, avg_bits)'s widths, no costs. ACTNN_E_PARAM for avg_bits
 * outside actnn_alloc_bits' / actnn_split_bits' range. */
int actnn_cuda_alloc_bits(actnn_cuda_ctx *ctx, const double *d_cost, size_t n, double avg_bits,
                          uint8_t *d_bits);
int actnn_cuda_split_bits(actnn_cuda_ctx *ctx, size_t n, double avg_bits, uint8_t *d_bits);

/* Masks: ceil(D/32) words per sample, bit j of a sample at bit j%32 of word j/32. */
int actnn_cuda_mask_gt(actnn_cuda_ctx *ctx, const float *d_x, size_t count, size_t D,
                       float threshold, uint32_t *d_words);
int actnn_cuda_mask_between(actnn_cuda_ctx *ctx, const float *d_x, size_t count, size_t D,
                            float lo, float hi, uint32_t *d_words);
int actnn_cuda_mask_get_bytes(actnn_cuda_ctx *ctx, const uint32_t *d_words, size_t count,
                              size_t D, uint8_t *d_out);
/* delta[j] = delta[j] * (bit_j ? g1 : g0). */
int actnn_cuda_mask_apply(actnn_cuda_ctx *ctx, const uint32_t *d_words, size_t count, size_t D,
                          float *d_delta, float g1, float g0);

/* Codes of width 1..8: width * ceil(D/32) words per sample (bit planes). */
int actnn_cuda_codes_pack(actnn_cuda_ctx *ctx, const uint8_t *d_codes, size_t count, size_t D,
                          int width, uint32_t *d_words);
int actnn_cuda_codes_unpack(actnn_cuda_ctx *ctx, const uint32_t *d_words, size_t count,
                            size_t D, int width, uint8_t *d_codes);

/* Dropout of sample i keyed by (seed, tensor_id), in place on d_x (D floats): the values
 * actnn_dropout_apply / actnn_raw_dropout_apply give. */
int actnn_cuda_dropout_apply(actnn_cuda_ctx *ctx, uint64_t seed, uint64_t tensor_id, float p,
                             size_t i, size_t D, float *d_x);

#ifdef __cplusplus
}
#endif
#endif
