/* Saved-activation store. This version keeps exact data only: fp32 buffers kept alive or
 * copied, masks and codes one byte per value, dropout as a seed. */
#include "saved.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

typedef enum { SK_NONE, SK_ALIVE, SK_F32, SK_MASK, SK_CODES, SK_DROPOUT } sv_kind;

typedef struct {
    sv_kind kind;
    int batch;
    size_t d;
    const float *alive;
    void *mem;
    size_t bytes, fp32_bytes;
    float p;
    uint64_t key;
} sv_entry;

struct saved_state {
    saved_store *store;
    int layer;
    sv_entry e[SV_SLOTS];
};

struct saved_store {
    int n;
    saved_state *st;
    saved_stats stats;
    uint64_t seed, iter;
    char err[256];
};

saved_store *saved_store_create(const network *net, char *err, size_t errlen)
{
    saved_store *s = calloc(1, sizeof(*s));
    if (s) s->st = calloc((size_t)net->n + 1, sizeof(saved_state));
    if (!s || !s->st) {
        free(s);
        snprintf(err, errlen, "out of memory creating the saved-activation store");
        return NULL;
    }
    s->n = net->n;
    s->seed = net->seed;
    for (int i = 0; i < net->n; ++i) {
        s->st[i].store = s;
        s->st[i].layer = i;
    }
    return s;
}

static void drop(saved_store *s, sv_entry *e)
{
    if (e->kind == SK_NONE) return;
    s->stats.cur_bytes -= e->bytes;
    s->stats.cur_fp32_bytes -= e->fp32_bytes;
    if (e->kind == SK_ALIVE) s->stats.alive_bytes -= e->fp32_bytes;
    free(e->mem);
    memset(e, 0, sizeof(*e));
}

void saved_release_layer(saved_store *s, int i)
{
    if (!s || i < 0 || i >= s->n) return;
    for (int k = 0; k < SV_SLOTS; ++k) drop(s, &s->st[i].e[k]);
}

void saved_release_all(saved_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; ++i) saved_release_layer(s, i);
}

void saved_store_free(saved_store *s)
{
    if (!s) return;
    saved_release_all(s);
    free(s->st);
    free(s);
}

void saved_bind(saved_store *s, layer_ctx *x) { x->sv = &s->st[x->l->index]; }

void saved_get_stats(const saved_store *s, saved_stats *st) { *st = s->stats; }

void saved_reset_peak(saved_store *s)
{
    s->stats.peak_bytes = s->stats.cur_bytes;
    s->stats.peak_fp32_bytes = s->stats.cur_fp32_bytes;
}

void saved_next_iteration(saved_store *s, uint64_t iteration) { s->iter = iteration; }

const char *saved_error(const saved_store *s) { return s->err; }

/* Accounts a new entry; returns its memory (NULL with an error message when bytes can't be
 * allocated). */
static sv_entry *begin(layer_ctx *x, int slot, sv_kind kind, size_t d, size_t bytes, size_t fp32)
{
    saved_store *s = x->sv->store;
    sv_entry *e = &x->sv->e[slot];
    drop(s, e);
    if (bytes) {
        e->mem = malloc(bytes);
        if (!e->mem) {
            snprintf(s->err, sizeof(s->err),
                     "out of memory saving %.1f MiB of activations for layer %d", bytes / 1048576.0,
                     x->l->index);
            return NULL;
        }
    }
    e->kind = kind;
    e->batch = x->batch;
    e->d = d;
    e->bytes = bytes;
    e->fp32_bytes = fp32;
    s->stats.cur_bytes += bytes;
    s->stats.cur_fp32_bytes += fp32;
    if (s->stats.cur_bytes > s->stats.peak_bytes) s->stats.peak_bytes = s->stats.cur_bytes;
    if (s->stats.cur_fp32_bytes > s->stats.peak_fp32_bytes)
        s->stats.peak_fp32_bytes = s->stats.cur_fp32_bytes;
    return e;
}

int sv_save(layer_ctx *x, int slot, const float *data, size_t d, int alive)
{
    size_t n = d * (size_t)x->batch;
    if (alive && x->l->bits >= 32) {
        sv_entry *e = begin(x, slot, SK_ALIVE, d, 0, n * sizeof(float));
        e->alive = data;
        x->sv->store->stats.alive_bytes += n * sizeof(float);
        return 0;
    }
    sv_entry *e = begin(x, slot, SK_F32, d, n * sizeof(float), n * sizeof(float));
    if (!e) return -1;
    memcpy(e->mem, data, n * sizeof(float));
    return 0;
}

int sv_save_mask(layer_ctx *x, int slot, const float *y, size_t d, activation a)
{
    size_t n = d * (size_t)x->batch;
    sv_entry *e = begin(x, slot, SK_MASK, d, n, n * sizeof(float));
    if (!e) return -1;
    activation_mask(y, n, a, e->mem);
    return 0;
}

int sv_save_codes(layer_ctx *x, int slot, const uint8_t *codes, size_t d, int width)
{
    (void)width;
    size_t n = d * (size_t)x->batch;
    sv_entry *e = begin(x, slot, SK_CODES, d, n, n * sizeof(float));
    if (!e) return -1;
    memcpy(e->mem, codes, n);
    return 0;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int sv_dropout_begin(layer_ctx *x, int slot, size_t d, float p)
{
    saved_store *s = x->sv->store;
    sv_entry *e = begin(x, slot, SK_DROPOUT, d, 0, (size_t)x->batch * d * sizeof(float));
    e->p = p;
    e->key = mix64(s->seed ^ mix64(s->iter * 0x9E3779B97F4A7C15ull + (uint64_t)x->l->index));
    return 0;
}

void sv_dropout_apply(layer_ctx *x, int slot, int sample, float *v)
{
    sv_entry *e = &x->sv->e[slot];
    float scale = 1.f / (1.f - e->p);
    uint64_t base = mix64(e->key + (uint64_t)sample * 0xD1B54A32D192ED03ull);
    for (size_t j = 0; j < e->d; ++j) {
        float u = (float)(mix64(base + j) >> 40) * (1.0f / 16777216.0f);
        v[j] = u < e->p ? 0 : v[j] * scale;
    }
}

const float *sv_restore(layer_ctx *x, int slot, int sample, float *scratch)
{
    (void)scratch;
    sv_entry *e = &x->sv->e[slot];
    if (e->kind == SK_ALIVE) return e->alive + (size_t)sample * e->d;
    return (const float *)e->mem + (size_t)sample * e->d;
}

void sv_mask_apply(layer_ctx *x, int slot, int sample, float *delta, float g1, float g0)
{
    sv_entry *e = &x->sv->e[slot];
    const uint8_t *m = (const uint8_t *)e->mem + (size_t)sample * e->d;
    for (size_t j = 0; j < e->d; ++j) delta[j] *= m[j] ? g1 : g0;
}

const uint8_t *sv_codes(layer_ctx *x, int slot, int sample, uint8_t *scratch)
{
    (void)scratch;
    sv_entry *e = &x->sv->e[slot];
    return (const uint8_t *)e->mem + (size_t)sample * e->d;
}
