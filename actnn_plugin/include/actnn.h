/* actnn.h: the whole public API of actnn_plugin, a lossy codec for saved activations.
 *
 * ActNN (activation-compressed training) keeps what a layer's backward needs in a few
 * bits per value: per sample, groups of G consecutive values are stochastically rounded
 * to b-bit codes between the group's minimum and maximum. The rounding is unbiased, so
 * the gradient stays unbiased. Exact side channels (1-bit masks, small integer codes,
 * seed-only dropout masks) and a mixed-precision bit allocator complete the library.
 *
 * Style, in the manner of a C codec (zstd, lz4):
 *   - an explicit context (actnn_ctx) holds the configuration, the seed, a memory pool
 *     and the byte accounting; there is no global state;
 *   - every function returns an int: ACTNN_OK (0) or a negative ACTNN_E_* code, which
 *     actnn_strerror() turns into a string; outputs are written through pointers;
 *   - nothing calls exit() or prints.
 *
 * Threads: one context is used by one thread at a time, except that the per-sample
 * functions (actnn_save_sample, actnn_restore_sample, actnn_mask_*, actnn_codes_set/get,
 * actnn_dropout_apply) may run concurrently on DIFFERENT samples of the same handle.
 * Internally the library parallelises with OpenMP (config.nthreads). Stored bytes never
 * depend on the number of threads nor on whether the AVX2 or the portable path ran.
 *
 * Floating point: results are bit-reproducible (CPU and GPU) under the default IEEE
 * environment: no -ffast-math, no FMA contraction (-std=c11 implies -ffp-contract=off in
 * GCC), no flush-to-zero/denormals-are-zero.
 *
 * Storage format (docs/actnn.md describes it in full):
 *   quantized, b in 1..8: per sample, ceil(D/G) groups; per group 4 bytes of metadata
 *     (bf16 min rounded down, bf16 range rounded up; range 0 = constant group whose
 *     exact fp32 value sits in the group's first payload word) and the codes as bit
 *     planes: each block of 32 values takes b 32-bit words, word i holding bit i of
 *     value k at bit k. Payload per sample: 4*b*ceil(D/32) bytes.
 *   16: IEEE fp16 (round to nearest even), 4*ceil(D/2) bytes per sample.
 *   32: exact fp32 copy, 4*D bytes per sample.
 *   masks: 1 bit per value, 4*ceil(D/32) bytes per sample; codes of width w: w planes,
 *     4*w*ceil(D/32) bytes per sample; dropout: no payload (only the seed is kept).
 */
#ifndef ACTNN_H
#define ACTNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------------------- */
enum {
    ACTNN_OK = 0,
    ACTNN_E_NULL = -1,        /* a required pointer argument is NULL */
    ACTNN_E_SIZE = -2,        /* a size (N, D, count) is zero */
    ACTNN_E_BITS = -3,        /* bit width not allowed here */
    ACTNN_E_NOMEM = -4,       /* out of memory */
    ACTNN_E_INDEX = -5,       /* sample index out of range */
    ACTNN_E_GROUP = -6,       /* group size not a multiple of 32 in [32, 65536] */
    ACTNN_E_NONFINITE = -7,   /* NaN or Inf in data to quantize, or its range overflows */
    ACTNN_E_PARAM = -8,       /* other argument out of its domain (p, budget, weight...) */
    ACTNN_E_CODE = -9,        /* an integer code does not fit the declared width */
    ACTNN_E_NOT_SAVED = -10,  /* restoring a sample that was never saved */
    ACTNN_E_TOO_LARGE = -11   /* sizes overflow (D > 2^32-1 or bytes overflow size_t) */
};
/* A static string for every code (unknown codes give "unknown actnn error"). */
const char *actnn_strerror(int err);

/* ---- context --------------------------------------------------------------------- */
typedef struct actnn_ctx actnn_ctx;

enum { ACTNN_SIMD_AUTO = 0, ACTNN_SIMD_OFF = 1 };

typedef struct {
    size_t group_size; /* G: multiple of 32 in [32, 65536]; default 256 */
    uint64_t seed;     /* key of the random streams; default 0 */
    int nthreads;      /* OpenMP threads for one call; 0 = OpenMP default; 1 = serial */
    int simd;          /* ACTNN_SIMD_AUTO (vector paths when the CPU has AVX2, FMA and
                          F16C, chosen at run time), or ACTNN_SIMD_OFF to force the
                          portable path (same bytes; used by tests) */
} actnn_config;

#define ACTNN_DEFAULT_GROUP 256

/* Fills cfg with the defaults above. */
int actnn_config_init(actnn_config *cfg);
/* cfg NULL = defaults. The context owns every handle created from it. */
int actnn_ctx_create(const actnn_config *cfg, actnn_ctx **out);
/* Frees the context, its pool and every handle still alive (they become invalid). */
int actnn_ctx_free(actnn_ctx *ctx);
int actnn_ctx_get_config(const actnn_ctx *ctx, actnn_config *out);
/* 1 when calls on ctx take the AVX2 paths (cfg.simd AUTO and the CPU has them), else 0. */
int actnn_simd_active(const actnn_ctx *ctx);
/* The seed keys quantization noise and dropout of handles created afterwards. */
int actnn_set_seed(actnn_ctx *ctx, uint64_t seed);
int actnn_get_seed(const actnn_ctx *ctx, uint64_t *seed);
int actnn_set_nthreads(actnn_ctx *ctx, int nthreads);

/* Byte accounting. "payload" = codes / fp16 / fp32 values; "meta" = everything else a
 * handle holds (group min/range, per-sample table, the handle itself). "pool" = bytes
 * held from the system by the pool, free blocks included. */
typedef struct {
    size_t payload_bytes, payload_peak;
    size_t meta_bytes, meta_peak;
    size_t pool_bytes, pool_peak;
    size_t handles, handles_peak;  /* live tensors, masks, codes, dropouts */
    uint64_t sys_allocs;           /* blocks obtained from the system */
    uint64_t reuses;               /* allocations served from a free list */
} actnn_stats;
int actnn_get_stats(const actnn_ctx *ctx, actnn_stats *out);
/* Peaks restart from the current values. */
int actnn_reset_peak(actnn_ctx *ctx);
/* Returns every free pooled block to the system. */
int actnn_trim(actnn_ctx *ctx);

/* ---- sizes (no context needed; let a framework plan memory) -------------------- */
/* Bytes a quantized tensor of N samples x D values takes at `bits` (1..8, 16, 32)
 * with group size G; *payload and *meta may not be NULL. Equals what actnn_get_stats
 * accounts for the tensor. */
int actnn_tensor_size(size_t N, size_t D, int bits, size_t G, size_t *payload, size_t *meta);
/* Same with one bit width per sample (bits[N]). */
int actnn_tensor_size_mixed(size_t N, size_t D, const uint8_t *bits, size_t G,
                            size_t *payload, size_t *meta);
int actnn_mask_size(size_t N, size_t D, size_t *payload, size_t *meta);
int actnn_codes_size(size_t N, size_t D, int width, size_t *payload, size_t *meta);
int actnn_dropout_size(size_t *payload, size_t *meta);

/* ---- quantized tensors ------------------------------------------------------------ */
/* N samples of D floats each. bits: 1..8 quantized, 16 fp16, 32 exact. tensor_id is
 * the framework's 64-bit key (e.g. from iteration, layer, slot): the noise of element j
 * of sample n comes from a counter hash of (ctx seed, tensor_id, n, j), so a new id
 * draws fresh noise and the same id and seed give the same bytes. */
typedef struct actnn_tensor actnn_tensor;

/* Whole batch: quantizes x[N*D]. sample_bits (N entries) overrides bits when not NULL.
 * On error *out is NULL and nothing stays allocated. ACTNN_E_NONFINITE if a group to
 * quantize (bits <= 8) holds NaN/Inf or a range beyond float (|x| > 3.38e38). */
int actnn_save(actnn_ctx *ctx, const float *x, size_t N, size_t D, int bits,
               const uint8_t *sample_bits, uint64_t tensor_id, actnn_tensor **out);
/* Incremental: reserve the tensor, then save each sample from its own D floats. */
int actnn_tensor_create(actnn_ctx *ctx, size_t N, size_t D, int bits,
                        const uint8_t *sample_bits, uint64_t tensor_id, actnn_tensor **out);
int actnn_save_sample(actnn_ctx *ctx, actnn_tensor *t, size_t i, const float *x);
/* Part of sample i: values [j0, j0 + len) from x (x[0] is value j0), on the calling thread
 * (no OpenMP inside), so a caller may save a sample block by block while each block is in
 * its cache, from any thread. j0 must start a group (a multiple of the group size) and
 * len must cover whole groups (or end at D). The bytes are those actnn_save_sample stores
 * for the same values. The sample counts as saved once the part ending at D is stored:
 * store every other part before or in the same parallel region as that one. */
int actnn_save_part(actnn_ctx *ctx, actnn_tensor *t, size_t i, size_t j0, size_t len,
                    const float *x);
/* Dequantize into out[N*D] / out[D]. */
int actnn_restore(actnn_ctx *ctx, const actnn_tensor *t, float *out);
int actnn_restore_sample(actnn_ctx *ctx, const actnn_tensor *t, size_t i, float *out);
/* Values [j0, j0 + len) of sample i into out[len] (out[0] is value j0): any range, on the
 * calling thread (no OpenMP inside), so a caller may restore a sample block by block while
 * each block stays in its cache, from several threads at once (restoring only reads the
 * tensor). The values are those actnn_restore_sample writes at the same positions. */
int actnn_restore_part(actnn_ctx *ctx, const actnn_tensor *t, size_t i, size_t j0, size_t len,
                       float *out);
/* Sample i's stored values without a copy, when it is stored exactly (32 bits): *out
 * points at its D floats inside the tensor, valid until the tensor is freed. ACTNN_E_BITS
 * (and *out NULL) for a sample stored at fewer bits: restore it instead. */
int actnn_sample_view(const actnn_tensor *t, size_t i, const float **out);
/* Returns the tensor's memory to the context's pool. NULL is accepted. Every *_free
 * returns ACTNN_E_PARAM for a handle already freed, while its block is not reused. */
int actnn_tensor_free(actnn_ctx *ctx, actnn_tensor *t);

typedef struct {
    size_t N, D, group_size;
    uint64_t tensor_id;
    size_t payload_bytes, meta_bytes;
} actnn_tensor_info;
int actnn_tensor_get_info(const actnn_tensor *t, actnn_tensor_info *out);
int actnn_tensor_sample_bits(const actnn_tensor *t, size_t i, int *bits);
/* Sum over the sample's groups of R^2 (R = stored group range; for 16/32-bit samples
 * the range of the stored values): the range term of the mixed-precision cost C_n. */
int actnn_tensor_range_stat(const actnn_tensor *t, size_t i, double *out);
/* The same statistic computed from data (x[D], group size G, true ranges). */
int actnn_range_stat(const float *x, size_t D, size_t G, double *out);
/* The same statistic from the groups' minima and maxima (lo[g], hi[g], g < ngroups, in
 * group order), for a caller that has them without the values (e.g. from a pass that
 * had to read the data anyway): the same double as actnn_range_stat of values with those
 * extremes. ACTNN_E_NONFINITE when an extreme is NaN or infinite. */
int actnn_range_stat_minmax(const float *lo, const float *hi, size_t ngroups, double *out);
/* The per-sample statistics of the mixed-precision policy, for count samples of D values
 * `stride` floats apart (stride >= D): out[n] = kind ACTNN_STAT_RANGE: actnn_range_stat
 * of sample n (group size G; ACTNN_E_NONFINITE on NaN/Inf); ACTNN_STAT_SQUARES: the sum
 * of its squares (the ||grad y||^2 of a layer's sensitivity; G unused), added in chunks of
 * 256 values, the chunk sums in order. The order of the additions is fixed (the CUDA path,
 * actnn_cuda_sample_stats, gives the same doubles), so it does not depend on threads. */
enum { ACTNN_STAT_RANGE = 0, ACTNN_STAT_SQUARES = 1 };
int actnn_sample_stats(actnn_ctx *ctx, int kind, const float *x, size_t count, size_t D,
                       size_t stride, size_t G, double *out);
/* The raw stored bytes: payload codes and group metadata of all samples, in sample
 * order (defined once every sample is saved). For tests and the CUDA port. */
int actnn_tensor_raw(const actnn_tensor *t, const void **payload, size_t *payload_bytes,
                     const void **meta, size_t *meta_bytes);
/* 64-bit FNV-1a of the raw payload then the raw metadata. */
int actnn_tensor_checksum(const actnn_tensor *t, uint64_t *out);

/* ---- tensors in the caller's memory ------------------------------------------------ */
/* One bit width for every sample, laid out as actnn_tensor_raw and actnn_cuda.h lay them
 * out: sample n's payload at payload + n * (payload bytes per sample), its group metadata
 * at meta + 2 * n * ceil(D/G) (bits <= 8; meta unused otherwise). The caller owns and
 * sizes the memory (actnn_raw_size), e.g. a framework's planned pool, so the same bytes
 * can live where the GPU path keeps them; the context only supplies threads and SIMD.
 * The bytes equal those actnn_save stores for the same seed, tensor_id and values. */
/* Per-sample bits (actnn_auto): sample_bits, when not NULL, holds N widths in 1..8 in the
 * same memory as the payload (bits is then unused): sample n's payload starts after the
 * payloads of samples 0..n-1 (4 * b_k * ceil(D/32) bytes each) and its metadata at
 * meta + 2 * n * ceil(D/G), as actnn_tensor_raw lays out a tensor created with these
 * sample_bits, whose bytes the raw functions store. */
typedef struct {
    size_t N, D, G;
    int bits;
    uint64_t seed, tensor_id;
    void *payload;
    uint16_t *meta;
    const uint8_t *sample_bits;
} actnn_raw_tensor;
/* Bytes of the payload and of the metadata (no handle, no sample table). */
int actnn_raw_size(size_t N, size_t D, int bits, size_t G, size_t *payload, size_t *meta);
/* The same with one width per sample (bits[N] in 1..8, host memory). */
int actnn_raw_size_mixed(size_t N, size_t D, const uint8_t *bits, size_t G, size_t *payload,
                         size_t *meta);
/* The same for widths not known yet but whose sum is (bits_sum, in N..8N): the payload
 * depends on the widths only through it (actnn_alloc_bits_sum, actnn_split_bits_sum). */
int actnn_raw_size_sum(size_t N, size_t D, size_t bits_sum, size_t G, size_t *payload,
                       size_t *meta);
/* Saves samples [n0, n0 + count) from x (count * D floats) / restores them into out. */
int actnn_raw_save(actnn_ctx *ctx, const actnn_raw_tensor *t, size_t n0, size_t count,
                   const float *x);
int actnn_raw_restore(actnn_ctx *ctx, const actnn_raw_tensor *t, size_t n0, size_t count,
                      float *out);

/* Masks, codes and dropout in the caller's memory, for a framework that keeps them where
 * the GPU path does (actnn_cuda.h): per sample width * ceil(D/32) 32-bit words (width 1:
 * a mask), sample n at words + n * width * ceil(D/32), as actnn_mask and actnn_codes store
 * them; the bytes are the payload of actnn_mask_size / actnn_codes_size. For the same
 * values they equal the handles' words (actnn_mask_raw / actnn_codes_raw). */
/* Mask bits of count samples from b (count * D bytes; bit = b != 0). */
int actnn_raw_mask_set_bytes(actnn_ctx *ctx, size_t D, size_t count, const uint8_t *b,
                             uint32_t *words);
/* One sample: delta[j] *= bit_j ? g1 : g0, as actnn_mask_apply. */
int actnn_raw_mask_apply(actnn_ctx *ctx, size_t D, const uint32_t *words, float *delta, float g1,
                         float g0);
/* count samples of D codes (width 1..8); ACTNN_E_CODE (nothing stored) if one is too wide. */
int actnn_raw_codes_set(actnn_ctx *ctx, size_t D, int width, size_t count, const uint8_t *codes,
                        uint32_t *words);
int actnn_raw_codes_get(actnn_ctx *ctx, size_t D, int width, size_t count, const uint32_t *words,
                        uint8_t *codes);
/* Sample i's dropout, as actnn_dropout_apply on a handle created with this seed (the
 * context's seed then), tensor_id and p: nothing stored but the key. */
int actnn_raw_dropout_apply(actnn_ctx *ctx, uint64_t seed, uint64_t tensor_id, float p, size_t i,
                            size_t D, float *x);

/* ---- 1-bit masks (relu / leaky / relu6 / hardtan backward) ----------------------- */
typedef struct actnn_mask actnn_mask;
int actnn_mask_create(actnn_ctx *ctx, size_t N, size_t D, actnn_mask **out);
/* bit_j = x[j] > threshold (NaN gives 0). */
int actnn_mask_set_gt(actnn_ctx *ctx, actnn_mask *m, size_t i, const float *x, float threshold);
/* bit_j = lo < x[j] && x[j] < hi (relu6: 0,6; hardtan: -1,1). */
int actnn_mask_set_between(actnn_ctx *ctx, actnn_mask *m, size_t i, const float *x,
                           float lo, float hi);
/* bit_j = b[j] != 0. */
int actnn_mask_set_bytes(actnn_ctx *ctx, actnn_mask *m, size_t i, const uint8_t *b);
/* Part of sample i: bits [j0, j0 + len) from b[0 .. len), on the calling thread (as
 * actnn_save_part): j0 a multiple of 32, len too unless the part ends at D. The sample
 * counts as saved once the part ending at D is stored. */
int actnn_mask_set_bytes_part(actnn_ctx *ctx, actnn_mask *m, size_t i, size_t j0, size_t len,
                              const uint8_t *b);
/* out[j] = bit_j (0 or 1). */
int actnn_mask_get_bytes(actnn_ctx *ctx, const actnn_mask *m, size_t i, uint8_t *out);
/* delta[j] = delta[j] * (bit_j ? g1 : g0). */
int actnn_mask_apply(actnn_ctx *ctx, const actnn_mask *m, size_t i, float *delta,
                     float g1, float g0);
int actnn_mask_free(actnn_ctx *ctx, actnn_mask *m);
/* The mask's words, every sample in order (tests compare the caller-memory form). */
int actnn_mask_raw(const actnn_mask *m, const void **words, size_t *bytes);

/* ---- small integer codes of width 1..8 (maxpool argmax) -------------------------- */
typedef struct actnn_codes actnn_codes;
int actnn_codes_create(actnn_ctx *ctx, size_t N, size_t D, int width, actnn_codes **out);
/* ACTNN_E_CODE if some code >= 2^width (the sample is then left unsaved). */
int actnn_codes_set(actnn_ctx *ctx, actnn_codes *c, size_t i, const uint8_t *codes);
int actnn_codes_get(actnn_ctx *ctx, const actnn_codes *c, size_t i, uint8_t *out);
int actnn_codes_free(actnn_ctx *ctx, actnn_codes *c);
/* The codes' words, every sample in order (tests compare the caller-memory form). */
int actnn_codes_raw(const actnn_codes *c, const void **words, size_t *bytes);

/* ---- dropout: only the seed is stored ------------------------------------------- */
typedef struct actnn_dropout actnn_dropout;
/* 0 <= p < 1. Captures the context's current seed. */
int actnn_dropout_create(actnn_ctx *ctx, size_t N, size_t D, float p, uint64_t tensor_id,
                         actnn_dropout **out);
/* In place, sample i: x[j] = kept ? x[j] * scale : 0, scale = (float)(1/(1-p)).
 * Element j is kept iff hash(seed, tensor_id, i, j) >= p * 2^32; the forward (on the
 * output) and the backward (on the delta) calls therefore drop the same elements. */
int actnn_dropout_apply(const actnn_dropout *d, size_t i, float *x);
/* Kept elements as bytes (0/1), for inspection. */
int actnn_dropout_get_bytes(const actnn_dropout *d, size_t i, uint8_t *out);
int actnn_dropout_free(actnn_ctx *ctx, actnn_dropout *d);

/* ---- mixed precision ------------------------------------------------------------- */
#define ACTNN_AUTO_MIN_BITS 1
#define ACTNN_AUTO_MAX_BITS 8
/* Chooses bits[k] in [1, 8] for n items minimising sum_k cost[k] / (2^bits[k] - 1)^2
 * subject to sum_k weight[k] * bits[k] <= avg_bits * sum_k weight[k]. weight NULL
 * means all 1 (per-sample allocation; the greedy is then exactly optimal). Costs must
 * be finite and >= 0, weights finite and > 0, 1 <= avg_bits. Greedy: start at 8 bits,
 * repeatedly take one bit from the item whose cost grows least per unit of weight,
 * then give bits back where the leftover budget allows; with weights and n <= 512, also
 * try "one bit more here, the cheapest bits fewer elsewhere" moves (at most 64).
 * Deterministic (ties by index). */
int actnn_alloc_bits(const double *cost, const double *weight, size_t n, double avg_bits,
                     uint8_t *bits);
/* actnn_alloc_bits(cost, NULL, n, avg_bits, bits)'s widths computed as
 * actnn_cuda_alloc_bits computes them on a device: each item decided on its own
 * (src/allocmath.h), O(49 n^2). A cost that is not finite or is < 0 gives the widths of
 * all-zero costs and ACTNN_E_NONFINITE, as the device does. For simulated devices and
 * tests. */
int actnn_alloc_bits_each(const double *cost, size_t n, double avg_bits, uint8_t *bits);
/* The sum of the n widths actnn_alloc_bits(cost, NULL, n, avg_bits, bits) chooses, which
 * does not depend on the costs: a tensor can be sized (actnn_raw_size_sum) before its
 * widths are chosen, e.g. on a device where the costs are (actnn_cuda_alloc_bits). */
int actnn_alloc_bits_sum(size_t n, double avg_bits, size_t *sum);
/* Widths without costs (a streamed save's first chunk, before the later chunks' costs
 * exist): bits[k] = floor(avg) + (k < up), up = floor(frac(avg) * n + 1e-9), an even
 * split by index. 1 <= avg_bits <= 8, else ACTNN_E_PARAM. _sum: their sum. */
int actnn_split_bits(size_t n, double avg_bits, uint8_t *bits);
int actnn_split_bits_sum(size_t n, double avg_bits, size_t *sum);
/* Per-layer allocation over L layers x N samples: cost[l*N + n] = C of sample n in layer
 * l, elems[l] = values per sample of layer l (the weight). layer_bits[l] = mean of the
 * layer's sample bits (fractional). sample_bits (L*N) may be NULL. */
int actnn_alloc_layers(const double *cost, const size_t *elems, size_t L, size_t N,
                       double avg_bits, double *layer_bits, uint8_t *sample_bits);
/* Per-sample costs of one layer from its data x[N*D]: cost[n] = sensitivity *
 * sum_g R_{n,g}^2 over the sample's groups of G values (true ranges). sensitivity (finite,
 * >= 0) carries the layer's constant factors, e.g. ActNN's (K/4/groups)(G/I)||grad y||^2. */
int actnn_sample_costs(const float *x, size_t N, size_t D, size_t G, double sensitivity,
                       double *cost);

#ifdef __cplusplus
}
#endif
#endif
