/* actnn_swap=1 (ActNN's swapping) for the saved store of a device run: a block (a tensor
 * with its metadata and per-sample widths, a mask, codes) is written on the device into
 * the swap window (swap_window.h), copied to host memory once its last sample is written,
 * and copied back into the window for its backward, ahead of it when the network asks
 * (saved_prefetch), so the device holds only the blocks of the unit (layer or streamed
 * segment) being computed and of the next one.
 *
 * With the backend's copy ops (pull_async, push_async, copy_wait, host_alloc) the copies
 * run on a second stream into page-locked memory and overlap compute: a pulled block goes
 * back to the window only after its pull is waited for (when the window needs the room,
 * swap_retire_all), and a prefetched block is waited for at its first read. Without them
 * the copies are synchronous pull/push into malloc'd memory.
 *
 * It owns the host pool, the retiring list and the order of copies and waits; the window
 * allocator is swap_window.c's, the entries and their layout saved.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/saved_internal.h"

static int async_ops(const dn_backend *be)
{
    return be->host_alloc && be->host_release && be->pull_async && be->push_async && be->copy_wait;
}

/* ---- the host side: a pool reset once every block is back, own blocks meanwhile ---- */

static void *host_alloc(const dn_backend *be, size_t bytes)
{
    return async_ops(be) ? be->host_alloc(bytes) : malloc(bytes ? bytes : 1);
}

static void host_release(const dn_backend *be, void *p, size_t bytes)
{
    if (async_ops(be)) be->host_release(p, bytes);
    else free(p);
}

static char *host_take(saved_store *s, const dn_backend *be, size_t bytes, int *own)
{
    ++s->hpool_live;
    s->hpool_want += bytes;
    *own = !(s->hpool && s->hpool_top + bytes <= s->hpool_bytes);
    if (!*own) {
        char *p = s->hpool + s->hpool_top;
        s->hpool_top += bytes;
        return p;
    }
    char *p = host_alloc(be, bytes);
    if (!p) --s->hpool_live;
    return p;
}

/* Once every block is back, the pool restarts at 0, made as large as the iteration asked
 * (after every copy is done: a late copy may still use the old pool). */
static void host_give(saved_store *s, const dn_backend *be, void *p, size_t bytes, int own)
{
    if (own) host_release(be, p, bytes);
    if (--s->hpool_live > 0) return;
    if (s->hpool_want > s->hpool_bytes) {
        if (async_ops(be)) (void)be->copy_wait(DN_COPY_ALL);
        if (s->hpool) host_release(be, s->hpool, s->hpool_bytes);
        s->hpool = host_alloc(be, s->hpool_want);
        s->hpool_bytes = s->hpool ? s->hpool_want : 0; /* none: own blocks, as before */
    }
    s->hpool_top = s->hpool_want = 0;
}

/* ---- device blocks: the window, and the blocks whose pull is not yet waited for ---- */

/* The pulls still holding blocks of `side`, waited for and their blocks returned. */
static void retire_side(saved_store *s, int side)
{
    int kept = 0;
    for (int i = 0; i < s->nret; ++i) {
        struct sv_retiring *r = &s->ret[i];
        if (r->side != side) {
            s->ret[kept++] = *r;
            continue;
        }
        (void)s->dbe->copy_wait(r->ticket); /* a failure shows in the backend's error */
        swin_give(&s->swin, r->blk, r->bytes, r->own);
    }
    s->nret = kept;
}

void swap_retire_all(saved_store *s)
{
    retire_side(s, 0);
    retire_side(s, 1);
}

/* A unit's first block finds its side empty: the unit two before, on the same side, has
 * its pulls waited for (issued a whole unit ago, so rarely a wait), while those of the
 * unit just before go on overlapping (swap_window.h says why the sides). */
char *swap_dev_take(saved_store *s, const dn_backend *be, size_t bytes, sv_unit u, int *own)
{
    s->dbe = be;
    if (u.unit != s->swap_unit) {
        s->swap_unit = u.unit;
        retire_side(s, u.side);
    }
    char *p = swin_take(&s->swin, be, bytes, u.side, 0, own);
    if (!p && s->nret) { /* room held by blocks on their way out: wait for them */
        swap_retire_all(s);
        p = swin_take(&s->swin, be, bytes, u.side, 0, own);
    }
    return p ? p : swin_take(&s->swin, be, bytes, u.side, 1, own);
}

void swap_dev_give(saved_store *s, void *blk, size_t bytes, int own)
{
    swin_give(&s->swin, blk, bytes, own);
}

static int retire_later(saved_store *s, void *blk, size_t bytes, int own, int side, uint64_t ticket)
{
    if (s->nret == s->capret) {
        int cap = s->capret ? 2 * s->capret : 32;
        struct sv_retiring *r = realloc(s->ret, (size_t)cap * sizeof *r);
        if (!r) return -1;
        s->ret = r;
        s->capret = cap;
    }
    s->ret[s->nret++] = (struct sv_retiring){blk, bytes, own, side, ticket};
    return 0;
}

int swap_block_out(saved_store *s, const dn_backend *be, sv_entry *e, int side)
{
    int own = 0;
    char *h = host_take(s, be, e->dev_bytes, &own);
    if (!h) return ACTNN_E_NOMEM;
    if (async_ops(be)) {
        uint64_t t = 0;
        if (be->pull_async(h, e->dmem, e->dev_bytes, &t) ||
            retire_later(s, e->dmem, e->dev_bytes, e->dev_own, side, t)) {
            (void)be->copy_wait(DN_COPY_ALL);
            host_give(s, be, h, e->dev_bytes, own);
            return ACTNN_E_NOMEM;
        }
        e->pull_ticket = t;
    } else {
        if (be->pull(h, e->dmem, e->dev_bytes)) {
            host_give(s, be, h, e->dev_bytes, own);
            return ACTNN_E_NOMEM;
        }
        swin_give(&s->swin, e->dmem, e->dev_bytes, e->dev_own);
    }
    e->host = h;
    e->host_own = own;
    sv_point_block(e, NULL);
    ++s->swap_outs;
    s->swap_host += e->dev_bytes;
    if (s->swap_host > s->swap_host_peak) s->swap_host_peak = s->swap_host;
    return ACTNN_OK;
}

/* Starts bringing e's block back (async: a push to wait for at the first read). */
static int fetch(saved_store *s, const dn_backend *be, sv_entry *e, sv_unit u)
{
    int own = 0;
    char *blk = swap_dev_take(s, be, e->dev_bytes, u, &own);
    if (!blk) return ACTNN_E_NOMEM;
    int rc = async_ops(be) ? be->push_async(blk, e->host, e->dev_bytes, &e->ticket)
                           : be->push(blk, e->host, e->dev_bytes);
    if (rc) {
        swin_give(&s->swin, blk, e->dev_bytes, own);
        return ACTNN_E_NOMEM;
    }
    e->dev_own = own;
    e->fetching = async_ops(be);
    sv_point_block(e, blk);
    ++s->swap_ins;
    return ACTNN_OK;
}

int swap_block_in(saved_store *s, const dn_backend *be, sv_entry *e, sv_unit u)
{
    if (e->host && !e->dmem) {
        int rc = fetch(s, be, e, u);
        if (rc != ACTNN_OK) return rc;
    } else if (e->fetching) {
        ++s->swap_prefetches; /* started by saved_prefetch */
    }
    if (e->fetching) {
        e->fetching = 0;
        if (be->copy_wait(e->ticket)) return ACTNN_E_NOMEM;
    }
    return ACTNN_OK;
}

void swap_drop(saved_store *s, sv_entry *e)
{
    const dn_backend *be = s->dbe;
    if (e->fetching) { /* fetched, never read: the push must land before the block is reused */
        (void)be->copy_wait(e->ticket);
        e->fetching = 0;
    }
    if (!e->host) return;
    /* an own host block may still be the target of its pull */
    if (e->host_own && async_ops(be) && e->pull_ticket) (void)be->copy_wait(e->pull_ticket);
    s->swap_host -= e->dev_bytes;
    host_give(s, be, e->host, e->dev_bytes, e->host_own);
    e->host = NULL;
}

void swap_free(saved_store *s)
{
    if (s->dbe && async_ops(s->dbe)) (void)s->dbe->copy_wait(DN_COPY_ALL);
    if (s->nret) swap_retire_all(s);
    free(s->ret);
    if (s->hpool) host_release(s->dbe, s->hpool, s->hpool_bytes);
    swin_free(&s->swin);
}

int saved_window_reserve(saved_store *s, const dn_backend *be, size_t bytes)
{
    if (!s->swap || !bytes) return 0;
    s->dbe = be;
    if (s->swin.n || s->swin.own_live) {
        snprintf(s->err, sizeof(s->err), "reserving the actnn_swap device window: %d blocks "
                 "still live", s->swin.n + s->swin.own_live);
        return -1;
    }
    if (swin_reserve(&s->swin, be, bytes) == 0) return 0;
    snprintf(s->err, sizeof(s->err), "out of device memory reserving the actnn_swap device "
             "window (%.1f MiB planned): lower actnn_bits or raise subdivisions",
             bytes / 1048576.0);
    return -1;
}

int saved_prefetch(saved_store *s, const dn_backend *be, int lo, int hi, int side)
{
    if (!s || !s->swap || !be || !be->device) return 0;
    if (lo < 0) lo = 0;
    sv_unit u = {lo, side};
    for (int i = hi; i >= lo && i < s->n; --i)
        for (int k = 0; k < SV_SLOTS; ++k) {
            sv_entry *e = &s->st[i].e[k];
            if (e->host && !e->dmem && fetch(s, be, e, u) != ACTNN_OK) return 0; /* no room: on demand */
        }
    return 0;
}
