/* Borrowing a route source that an earlier layer saved (saved_internal.h "borrowing").
 *
 * yolov4-tiny's CSP blocks read each 1x1 conv's output twice: layer 5 reads layer 4's
 * output, and layer 7 reads route 6 = [5, 4]. Saving both inputs whole stores layer 4's
 * output twice (0.15 of the 6.08 MiB per 416x416 image at 2 bits). Here the second save
 * stores only its own part and its restore takes the rest from the first. The decision is
 * structural (the graph and what the lender saved this forward), never by address: an
 * arena buffer may hold another tensor by the time a later layer saves from it. */
#include <stdio.h>
#include <string.h>

#include "core/network.h"
#include "memory/saved_internal.h"

int share_input_of(const layer_ctx *x, const float *data, size_t d)
{
    const layer *l = x->l;
    if (data != x->in || d != (size_t)l->inputs || l->nsrc != 1) return 0;
    return l->src[0] + 2;
}

void share_set(sv_entry *e, const sv_share *sh)
{
    e->share_layer = sh->layer;
    e->share_slot = sh->slot;
    e->share_len = sh->len;
    e->own_off = sh->own_off;
    e->from1 = 0;
}

/* A slot of an earlier layer k that reads only producer p and saved p's whole output (len
 * values) this forward, not itself borrowing: its slot index, or -1. */
static int lender_slot(const saved_store *s, const network *net, int k, int p, size_t len)
{
    const layer *lk = &net->layers[k];
    if (lk->nsrc != 1 || lk->src[0] != p) return -1;
    for (int j = 0; j < SV_SLOTS; ++j) {
        const sv_entry *e = &s->st[k].e[j];
        if (e->from1 == p + 2 && e->d == len && (e->kind == SK_TENSOR || e->kind == SK_ALIVE))
            return j;
    }
    return -1;
}

/* Source j of route r starts `off` values into each sample and is `len` long; it may be
 * borrowed when it is the input's first or last part and an earlier layer lends it. */
static int source_lender(const saved_store *s, const network *net, const layer *l, int p,
                         size_t off, size_t len, size_t d, sv_share *out)
{
    if (p < 0 || len == 0 || len >= d || (off != 0 && off + len != d)) return 0;
    for (int k = p + 1; k < l->index; ++k) {
        int j = lender_slot(s, net, k, p, len);
        if (j < 0) continue;
        *out = (sv_share){k, j, len, off == 0 ? len : 0};
        return 1;
    }
    return 0;
}

int share_find(layer_ctx *x, int slot, const float *data, size_t d, sv_share *out)
{
    const saved_store *s = x->sv->store;
    const sv_entry *e = &x->sv->e[slot];
    if (x->b0 != 0) { /* later chunks follow the first chunk's decision */
        if (!e->share_len) return 0;
        *out = (sv_share){e->share_layer, e->share_slot, e->share_len, e->own_off};
        return 1;
    }
    if (s->swap || !share_input_of(x, data, d) || x->l->src[0] < 0) return 0;
    const network *net = x->net;
    const layer *r = &net->layers[x->l->src[0]];
    if (r->type != LT_ROUTE || !r->concat || r->nsrc < 2) return 0;
    size_t off = 0, best = 0;
    for (int j = 0; j < r->nsrc; ++j) {
        int p = r->src[j];
        size_t len = p >= 0 ? (size_t)net->layers[p].outputs : (size_t)net->inputs;
        sv_share c;
        if (source_lender(s, net, x->l, p, off, len, d, &c) && len > best) {
            *out = c;
            best = len;
        }
        off += len;
    }
    return best > 0 && off == d;
}

/* The lender's entry, or NULL with the store's failure set when it is gone (dropped
 * before the borrower's backward, or made again by another forward). */
static sv_entry *lender(layer_ctx *x, const sv_entry *e)
{
    saved_store *s = x->sv->store;
    sv_entry *k = &s->st[e->share_layer].e[e->share_slot];
    if ((k->kind == SK_TENSOR || k->kind == SK_ALIVE) && k->d == e->share_len && k->from1) return k;
    snprintf(s->err, sizeof(s->err), "layer %d: the part of its saved input borrowed from layer "
             "%d is gone (dropped before this layer's backward)", x->l->index, e->share_layer);
    s->pending = 1;
    return NULL;
}

/* n floats at src into dst (both in x's backend memory) unless they are there already. */
static void put(const layer_ctx *x, float *dst, const float *src, size_t n)
{
    if (src == dst) return;
    if (x->be) x->be->copy(dst, src, n);
    else memcpy(dst, src, n * sizeof(float));
}

const float *share_restore(layer_ctx *x, sv_entry *e, size_t i, float *scratch)
{
    sv_entry *k = lender(x, e);
    if (!k) return scratch; /* garbage; the network stops after this layer */
    float *own = scratch + e->own_off, *lent = scratch + (e->own_off ? 0 : e->d);
    const float *p = sv_entry_restore(x, e, i, own);
    if (!p) return NULL;
    put(x, own, p, e->d);
    p = sv_entry_restore(x, k, i, lent);
    if (!p) return NULL;
    put(x, lent, p, k->d);
    return scratch;
}

/* Values [j0, j0 + len) of the borrowing entry's sample i: from the part that holds them,
 * or from both parts copied into buf when the range spans the cut (the second part's
 * values start at 0 at the cut). */
const float *share_part(layer_ctx *x, sv_entry *e, size_t i, size_t j0, size_t len, float *buf)
{
    sv_entry *k = lender(x, e);
    if (!k) return NULL;
    /* first part [0, cut), second [cut, d + share_len) */
    sv_entry *first = e->own_off ? k : e, *second = e->own_off ? e : k;
    size_t cut = first->d;
    if (j0 + len <= cut) return sv_entry_part(x, first, i, j0, len, buf);
    if (j0 >= cut) return sv_entry_part(x, second, i, j0 - cut, len, buf);
    size_t n1 = cut - j0;
    const float *a = sv_entry_part(x, first, i, j0, n1, buf);
    if (!a) return NULL;
    if (a != buf) memcpy(buf, a, n1 * sizeof(float));
    const float *b = sv_entry_part(x, second, i, 0, len - n1, buf + n1);
    if (!b) return NULL;
    if (b != buf + n1) memcpy(buf + n1, b, (len - n1) * sizeof(float));
    return buf;
}
