/* Blocks in one backend region, first fit from either end (swap_window.h). The live list
 * is short (the saved tensors of two units), so a linear scan is enough. */
#include "memory/swap_window.h"

#include <stdlib.h>
#include <string.h>

/* Index where a block of `bytes` fits, with its offset: the lowest gap (at its start) for
 * side 0, the highest (at its end) for side 1. Gap i lies between blocks i-1 and i. */
static int find_gap(const swap_window *w, size_t bytes, int side, size_t *at)
{
    for (int k = 0; k <= w->n; ++k) {
        int i = side ? w->n - k : k;
        size_t start = i > 0 ? w->off[i - 1] + w->len[i - 1] : 0;
        size_t end = i < w->n ? w->off[i] : w->bytes;
        if (end >= start && end - start >= bytes) {
            *at = side ? end - bytes : start;
            return i;
        }
    }
    return -1;
}

static int grow_list(swap_window *w)
{
    if (w->n < w->cap) return 0;
    int cap = w->cap ? 2 * w->cap : 16;
    size_t *o = realloc(w->off, (size_t)cap * sizeof *o);
    if (!o) return -1;
    w->off = o;
    size_t *l = realloc(w->len, (size_t)cap * sizeof *l);
    if (!l) return -1;
    w->len = l;
    w->cap = cap;
    return 0;
}

void *swin_take(swap_window *w, const dn_backend *be, size_t bytes, int side, int may_own,
                int *own)
{
    w->be = be;
    size_t at = 0;
    int i = w->base ? find_gap(w, bytes, side, &at) : -1;
    *own = i < 0;
    if (*own && !may_own) {
        *own = 0;
        return NULL;
    }
    void *p;
    if (*own) {
        p = be->alloc(bytes, "a swapped saved activation");
        if (!p) return NULL;
        /* the region, had it been as much larger as every own block now live, would have
         * held them: what it grows to once empty */
        w->own_bytes += bytes;
        if (w->bytes + w->own_bytes > w->need) w->need = w->bytes + w->own_bytes;
        ++w->own_live;
        ++w->allocs;
    } else {
        if (grow_list(w)) return NULL;
        memmove(w->off + i + 1, w->off + i, (size_t)(w->n - i) * sizeof *w->off);
        memmove(w->len + i + 1, w->len + i, (size_t)(w->n - i) * sizeof *w->len);
        w->off[i] = at;
        w->len[i] = bytes;
        ++w->n;
        p = w->base + at;
    }
    w->live_bytes += bytes;
    if (w->live_bytes > w->peak_bytes) w->peak_bytes = w->live_bytes;
    return p;
}

/* Once empty, the region becomes as large as the last iterations asked. */
static void regrow(swap_window *w)
{
    if (w->n || w->own_live || w->need <= w->bytes) return;
    if (w->base) w->be->release(w->base, w->bytes);
    w->base = w->be->alloc(w->need, "the actnn_swap device window");
    w->bytes = w->base ? w->need : 0; /* none: own blocks, as before */
    w->allocs += w->base != NULL;
}

int swin_reserve(swap_window *w, const dn_backend *be, size_t bytes)
{
    if (w->n || w->own_live) return -1;
    w->be = be;
    if (bytes > w->need) w->need = bytes;
    regrow(w);
    return w->bytes >= bytes ? 0 : -1;
}

void swin_give(swap_window *w, void *p, size_t bytes, int own)
{
    if (!p) return;
    w->live_bytes -= bytes < w->live_bytes ? bytes : w->live_bytes;
    if (own) {
        w->be->release(p, bytes);
        --w->own_live;
        w->own_bytes -= bytes;
    } else {
        size_t at = (size_t)((char *)p - w->base);
        for (int i = 0; i < w->n; ++i)
            if (w->off[i] == at) {
                memmove(w->off + i, w->off + i + 1, (size_t)(w->n - i - 1) * sizeof *w->off);
                memmove(w->len + i, w->len + i + 1, (size_t)(w->n - i - 1) * sizeof *w->len);
                --w->n;
                break;
            }
    }
    regrow(w);
}

void swin_free(swap_window *w)
{
    if (w->base) w->be->release(w->base, w->bytes);
    free(w->off);
    free(w->len);
    memset(w, 0, sizeof *w);
}
