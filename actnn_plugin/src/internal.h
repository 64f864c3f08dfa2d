/* internal.h: structures shared by the library's source files (never installed). */
#ifndef ACTNN_INTERNAL_H
#define ACTNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "actnn.h"
#include "rng.h"

#define ACTNN_MIN_GROUP 32
#define ACTNN_MAX_GROUP 65536
#define ACTNN_MAX_D 0xFFFFFFFFull /* the element counters are 32-bit (rng.h) */

/* ---- runtime CPU dispatch (cpu.c) ----
 * Every object is compiled for plain x86-64 except *_avx2.c (-mavx2 -mfma -mf16c); the
 * *_avx2 functions below are called only when cpu_has_avx2() says the CPU (and the OS,
 * for the YMM state) supports them. */
#if defined(__x86_64__) || defined(__i386__)
#define ACTNN_X86 1
#else
#define ACTNN_X86 0
#endif
int cpu_has_avx2(void);
#if ACTNN_X86
/* simd_avx2.c; n32 is a multiple of 32; the others return how many values they did. */
void planes_pack_avx2(const uint8_t *codes, size_t n32, int b, uint32_t *words);
void planes_unpack_avx2(const uint32_t *words, size_t n32, int b, uint8_t *codes);
size_t half_encode_avx2(const float *x, size_t n, uint16_t *out);
size_t half_decode_avx2(const uint16_t *h, size_t n, float *out);
uint32_t mask_word_avx2(const float *x, float a, float b, int between); /* 32 values */
uint32_t mask_word_bytes_avx2(const uint8_t *bytes);                    /* 32 bytes */
void mask_apply_avx2(uint32_t w, float *d, float g1, float g0);         /* 32 values */
size_t dropout_avx2(size_t D, uint32_t threshold, float scale, rng_key key, float *x);
#endif

/* ---- pool (pool.c) ---- */
#define POOL_NCLASS 512
typedef struct pool_block pool_block;
typedef struct {
    pool_block *free_list[POOL_NCLASS];
    pool_block *live; /* every block handed out, so ctx_free can release them */
    size_t held, held_peak;
    uint64_t sys_allocs, reuses;
} actnn_pool;

void pool_init(actnn_pool *p);
/* 64-byte aligned block of at least `bytes`; NULL when out of memory. */
void *pool_alloc(actnn_pool *p, size_t bytes);
void pool_free(actnn_pool *p, void *ptr);
void pool_trim(actnn_pool *p);
void pool_destroy(actnn_pool *p);

/* ---- context (ctx.c) ---- */
struct actnn_ctx {
    actnn_config cfg;
    actnn_pool pool;
    size_t payload, payload_peak, meta, meta_peak, handles, handles_peak;
};

/* Accounts a handle's bytes (sign = +1 on creation, -1 on release). */
void ctx_account(actnn_ctx *ctx, size_t payload, size_t meta, int sign);
/* Threads to use for `work` units of roughly equal size (1 when not worth it). */
int ctx_threads(const actnn_ctx *ctx, size_t work_values);
int ctx_simd(const actnn_ctx *ctx);

/* ---- sizes (sizes.c) ---- */
int bits_valid(int bits);
int size_check_nd(size_t N, size_t D);
/* Payload bytes of one sample at `bits`. */
size_t sample_payload_bytes(size_t D, int bits);
/* Group-metadata bytes of one sample (0 for 16/32 bits). */
size_t sample_meta_bytes(size_t D, int bits, size_t G);
/* a*b + c with overflow check; returns 0 on overflow. */
int size_muladd(size_t a, size_t b, size_t c, size_t *out);

/* ---- bit planes (pack.c) ---- */
/* Packs n <= 32 codes (each < 2^b) into b words: word i holds bit i of code k at bit k.
 * Missing codes (k >= n) are 0. */
void planes_pack32(const uint8_t *codes, size_t n, int b, uint32_t *words);
void planes_unpack32(const uint32_t *words, size_t n, int b, uint8_t *codes);
/* Whole runs of n codes, ceil(n/32)*b words; simd selects the AVX2 path when built. */
void planes_pack(const uint8_t *codes, size_t n, int b, uint32_t *words, int simd);
void planes_unpack(const uint32_t *words, size_t n, int b, uint8_t *codes, int simd);

/* ---- group quantization (quantize.c, quantize_avx2.c) ---- */
typedef struct {
    float m;      /* stored min (bf16 rounded down) */
    float scale;  /* (2^b - 1) / R */
    float step;   /* R / (2^b - 1) */
    float lmax;   /* 2^b - 1 */
    int constant; /* max == min: value kept exactly */
    float value;
} qparams;

/* From the group's true min/max (finite): the stored meta[2] and the parameters. */
int q_params_from_minmax(float lo, float hi, int b, uint16_t meta[2], qparams *p);
/* From stored metadata (restore side; identical parameters). */
void q_params_from_meta(const uint16_t meta[2], int b, qparams *p);
/* Quantizes one group of n values starting at element j0 (multiple of 32) of its
 * sample into ceil(n/32)*b words. ACTNN_E_NONFINITE on NaN/Inf/overflowing range. */
int q_save_group(const float *x, size_t n, size_t j0, int b, rng_key key,
                 uint16_t meta[2], uint32_t *words, int simd);
void q_restore_group(const uint32_t *words, const uint16_t meta[2], size_t n, int b,
                     float *out, int simd);
int q_save_group_scalar(const float *x, size_t n, size_t j0, int b, rng_key key,
                        uint16_t meta[2], uint32_t *words);
void q_restore_group_scalar(const uint32_t *words, const uint16_t meta[2], size_t n, int b,
                            float *out);
#if ACTNN_X86
int q_save_group_avx2(const float *x, size_t n, size_t j0, int b, rng_key key,
                      uint16_t meta[2], uint32_t *words);
void q_restore_group_avx2(const uint32_t *words, const uint16_t meta[2], size_t n, int b,
                          float *out);
#endif

/* ---- fp16 pass-through (half.c) ---- */
uint16_t half_from_float(float f);
float half_to_float(uint16_t h);
void half_encode(const float *x, size_t n, uint16_t *out, int simd);
void half_decode(const uint16_t *h, size_t n, float *out, int simd);

/* ---- handles ---- */
#define ACTNN_MAGIC_TENSOR 0x54414354u /* "TCAT" */
#define ACTNN_MAGIC_PLANES 0x50414354u
#define ACTNN_MAGIC_DROPOUT 0x44414354u

typedef struct {
    uint64_t pay_off;  /* byte offset of the sample's payload */
    uint64_t meta_off; /* index of the sample's first group in the meta array */
    uint8_t bits;
    uint8_t saved;
} tensor_sample;

struct actnn_tensor {
    uint32_t magic;
    size_t N, D, G, ngroups;
    uint64_t tensor_id, seed;
    size_t payload_bytes, meta_bytes; /* as accounted */
    size_t gmeta_count;               /* groups with metadata, all samples */
    tensor_sample *samples;
    uint16_t *gmeta; /* 2 per group: bf16 min, bf16 range */
    uint8_t *payload;
};

/* Masks (width 1) and codes share one layout: bit planes, 4*w*ceil(D/32) bytes/sample. */
typedef struct {
    uint32_t magic;
    int width;
    size_t N, D, words_per_sample;
    size_t payload_bytes, meta_bytes;
    uint8_t *saved;
    uint32_t *words;
} planes_store;

struct actnn_mask {
    planes_store s;
};
struct actnn_codes {
    planes_store s;
};

int planes_create(actnn_ctx *ctx, size_t N, size_t D, int width, planes_store **out);
int planes_check(const planes_store *s, size_t i, const void *ptr);
int planes_free(actnn_ctx *ctx, planes_store *s);

#endif
