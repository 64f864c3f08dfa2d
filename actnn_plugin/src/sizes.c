/* sizes.c: bytes of every stored form, so a framework can plan memory before saving.
 * The numbers here are exactly what the context accounts when a handle is created. */
#include "internal.h"

int bits_valid(int bits) { return (bits >= 1 && bits <= 8) || bits == 16 || bits == 32; }

int size_check_nd(size_t N, size_t D)
{
    if (N == 0 || D == 0) return ACTNN_E_SIZE;
    if ((uint64_t)D > ACTNN_MAX_D) return ACTNN_E_TOO_LARGE;
    return ACTNN_OK;
}

int size_muladd(size_t a, size_t b, size_t c, size_t *out)
{
    if (b && a > (SIZE_MAX - c) / b) return 0;
    *out = a * b + c;
    return 1;
}

static size_t blocks32(size_t D) { return D / 32 + (D % 32 != 0); }

size_t sample_payload_bytes(size_t D, int bits)
{
    if (bits == 32) return 4 * D;
    if (bits == 16) return 4 * (D / 2 + D % 2);
    return 4 * (size_t)bits * blocks32(D);
}

size_t sample_meta_bytes(size_t D, int bits, size_t G)
{
    if (bits > 8) return 0;
    return 4 * (D / G + (D % G != 0));
}

int actnn_tensor_size_mixed(size_t N, size_t D, const uint8_t *bits, size_t G,
                            size_t *payload, size_t *meta)
{
    if (!bits || !payload || !meta) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (G < ACTNN_MIN_GROUP || G > ACTNN_MAX_GROUP || G % 32) return ACTNN_E_GROUP;
    size_t pay = 0, met = 0;
    if (!size_muladd(N, sizeof(tensor_sample), sizeof(struct actnn_tensor), &met))
        return ACTNN_E_TOO_LARGE;
    for (size_t n = 0; n < N; ++n) {
        if (!bits_valid(bits[n])) return ACTNN_E_BITS;
        /* 4*D fits: D < 2^32 and size_t is 64-bit on every target we build. */
        if (!size_muladd(1, sample_payload_bytes(D, bits[n]), pay, &pay) ||
            !size_muladd(1, sample_meta_bytes(D, bits[n], G), met, &met))
            return ACTNN_E_TOO_LARGE;
    }
    *payload = pay;
    *meta = met;
    return ACTNN_OK;
}

int actnn_tensor_size(size_t N, size_t D, int bits, size_t G, size_t *payload, size_t *meta)
{
    if (!payload || !meta) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (!bits_valid(bits)) return ACTNN_E_BITS;
    if (G < ACTNN_MIN_GROUP || G > ACTNN_MAX_GROUP || G % 32) return ACTNN_E_GROUP;
    size_t met0;
    if (!size_muladd(N, sizeof(tensor_sample), sizeof(struct actnn_tensor), &met0) ||
        !size_muladd(N, sample_payload_bytes(D, bits), 0, payload) ||
        !size_muladd(N, sample_meta_bytes(D, bits, G), met0, meta))
        return ACTNN_E_TOO_LARGE;
    return ACTNN_OK;
}

int actnn_codes_size(size_t N, size_t D, int width, size_t *payload, size_t *meta)
{
    if (!payload || !meta) return ACTNN_E_NULL;
    int err = size_check_nd(N, D);
    if (err) return err;
    if (width < 1 || width > 8) return ACTNN_E_BITS;
    if (!size_muladd(N, 4 * (size_t)width * blocks32(D), 0, payload) ||
        !size_muladd(N, 1, sizeof(planes_store), meta))
        return ACTNN_E_TOO_LARGE;
    return ACTNN_OK;
}

int actnn_mask_size(size_t N, size_t D, size_t *payload, size_t *meta)
{
    return actnn_codes_size(N, D, 1, payload, meta);
}
