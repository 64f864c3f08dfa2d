/* Decoded-image cache (image_cache.h): an open-addressing table from (path, channels) to
 * immutable entries; entries are only added, and freed with the cache. */
#include "data/image_cache.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *path;
    int ch;               /* the channels asked for (0: the file's) */
    int w, h, c;
    int u8;               /* data holds bytes q with value q / 255.0f; else floats */
    void *data;
} entry;

struct image_cache {
    pthread_mutex_t mu;
    entry **slot;         /* cap slots, at most half used */
    size_t cap;
    image_cache_stats st;
};

static uint64_t key_hash(const char *path, int ch)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(unsigned)ch;
    for (const unsigned char *p = (const unsigned char *)path; *p; ++p) h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* The slot holding (path, ch), or the empty slot where it would go. */
static size_t find(const image_cache *c, const char *path, int ch)
{
    size_t i = key_hash(path, ch) & (c->cap - 1);
    while (c->slot[i] && (c->slot[i]->ch != ch || strcmp(c->slot[i]->path, path))) i = (i + 1) & (c->cap - 1);
    return i;
}

image_cache *image_cache_new(size_t max_bytes)
{
    if (!max_bytes) return NULL;
    image_cache *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->cap = 64;
    c->slot = calloc(c->cap, sizeof(entry *));
    if (!c->slot) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->st.max_bytes = max_bytes;
    c->st.bytes = c->cap * sizeof(entry *);
    return c;
}

void image_cache_free(image_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->cap; ++i)
        if (c->slot[i]) {
            free(c->slot[i]->path);
            free(c->slot[i]->data);
            free(c->slot[i]);
        }
    free(c->slot);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static uint32_t bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

/* Bytes q with q / 255.0f bit-equal to every value (what 8-bit decoders give), or NULL. */
static unsigned char *as_bytes(const float *v, size_t n)
{
    unsigned char *q = malloc(n ? n : 1);
    if (!q) return NULL;
    for (size_t i = 0; i < n; ++i) {
        float s = v[i] * 255.0f;
        long k = s >= 0 && s <= 255 ? lrintf(s) : -1;
        if (k < 0 || bits((float)k / 255.0f) != bits(v[i])) {
            free(q);
            return NULL;
        }
        q[i] = (unsigned char)k;
    }
    return q;
}

/* Doubles the table (keeps it at most half full). 0, or -1 when it cannot grow. */
static int grow(image_cache *c)
{
    size_t extra = c->cap * sizeof(entry *);
    if (c->st.bytes + extra > c->st.max_bytes) return -1;
    entry **old = c->slot;
    size_t n = c->cap;
    c->slot = calloc(2 * n, sizeof(entry *));
    if (!c->slot) {
        c->slot = old;
        return -1;
    }
    c->cap = 2 * n;
    for (size_t i = 0; i < n; ++i)
        if (old[i]) c->slot[find(c, old[i]->path, old[i]->ch)] = old[i];
    free(old);
    c->st.bytes += extra;
    return 0;
}

/* Keeps a copy of im under (path, ch) when it fits the bound. Called with the mutex held. */
static void insert(image_cache *c, const char *path, int ch, image im)
{
    if (c->slot[find(c, path, ch)]) return; /* another thread decoded it meanwhile */
    size_t n = (size_t)im.w * im.h * im.c, plen = strlen(path) + 1, fixed = plen + sizeof(entry);
    if (c->st.bytes + n + fixed > c->st.max_bytes || (2 * (c->st.images + 1) > c->cap && grow(c))) {
        c->st.full++;
        return;
    }
    void *px = as_bytes(im.data, n);
    int u8 = px != NULL;
    size_t need = (u8 ? n : n * sizeof(float)) + fixed;
    entry *e = NULL;
    if (c->st.bytes + need > c->st.max_bytes || !(e = calloc(1, sizeof(*e))) || !(e->path = malloc(plen)) ||
        (!u8 && !(px = malloc(n * sizeof(float))))) {
        if (e) free(e->path);
        free(e);
        free(px);
        c->st.full++;
        return;
    }
    if (!u8) memcpy(px, im.data, n * sizeof(float));
    memcpy(e->path, path, plen);
    e->ch = ch;
    e->w = im.w;
    e->h = im.h;
    e->c = im.c;
    e->u8 = u8;
    e->data = px;
    c->slot[find(c, path, ch)] = e;
    c->st.images++;
    c->st.bytes += need;
}

/* A new image from an entry: the same values image_load_ex gave when it was decoded. */
static image from_entry(const entry *e, const char *path, char *err, size_t errlen)
{
    image im = make_image(e->w, e->h, e->c);
    if (!im.data) {
        snprintf(err, errlen, "out of memory loading %s (%dx%d)", path, e->w, e->h);
        return im;
    }
    size_t n = (size_t)e->w * e->h * e->c;
    if (!e->u8) {
        memcpy(im.data, e->data, n * sizeof(float));
        return im;
    }
    const unsigned char *q = e->data;
    for (size_t i = 0; i < n; ++i) im.data[i] = q[i] / 255.0f; /* image_load_ex's conversion */
    return im;
}

image image_cache_load(image_cache *c, const char *path, int ch, char *err, size_t errlen)
{
    if (!c) return image_load_ex(path, ch, err, errlen);
    pthread_mutex_lock(&c->mu);
    /* Entries are never changed nor freed before the cache: read them without the lock. */
    const entry *e = c->slot[find(c, path, ch)];
    if (e) c->st.hits++;
    else c->st.misses++;
    pthread_mutex_unlock(&c->mu);
    if (e) return from_entry(e, path, err, errlen);
    image im = image_load_ex(path, ch, err, errlen);
    if (!im.data) return im;
    pthread_mutex_lock(&c->mu);
    insert(c, path, ch, im);
    pthread_mutex_unlock(&c->mu);
    return im;
}

void image_cache_get_stats(image_cache *c, image_cache_stats *s)
{
    memset(s, 0, sizeof(*s));
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    *s = c->st;
    pthread_mutex_unlock(&c->mu);
}

void image_cache_report(image_cache *c, FILE *f)
{
    if (!c) return;
    image_cache_stats s;
    image_cache_get_stats(c, &s);
    fprintf(f, "image cache: %zu images in %.1f of %.1f MiB (image_cache_mb), %zu loads from memory, %zu decoded%s\n",
            s.images, s.bytes / 1048576.0, s.max_bytes / 1048576.0, s.hits, s.misses,
            s.full ? " (bound reached: some images are decoded every time)" : "");
}
