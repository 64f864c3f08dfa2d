/* actnn_auto's statistics on a device (DESIGN.md "Mixed precision"): what saved.c and
 * saved_auto.c need of the per-sample costs and gradient sums when the data lives in
 * backend memory, computed there (act_sample_stats) and left there until the backward
 * ends, so no layer waits for the device to learn them.
 *
 *   - costs (sum of squared group ranges of a saved tensor's samples): into dcost, where
 *     act_auto_bits reads them to write the save's widths; noted (sv_cnote) and recorded
 *     for the per-layer allocation (saved_auto_record) at saved_stats_flush.
 *   - gradient sums (sv_note_grad's per-sample sums of squared deltas): into dgrad, noted
 *     (sv_gnote) and added to their slots at saved_stats_flush.
 *
 * The flush pulls each vector once and applies the notes in the order they were made, so
 * the doubles and the order of the additions are the CPU's. A vector that runs out is
 * flushed early (a wait, not a different result). Owns dstat, dcost, dgrad and the notes;
 * touches a slot's sv_auto only through saved_auto_record and sv_apply_grad. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "actnn.h"
#include "core/network.h"
#include "memory/saved_internal.h"

/* Grows a device vector of doubles to `want`. The old one is released although kernels
 * queued earlier (act_auto_bits) may still read it: a backend's release waits for the
 * device first (CUDA: cudaFree synchronizes; devsim and the CPU run nothing late). */
static int vec_room(saved_store *s, const dn_backend *be, double **v, size_t *cap, size_t want,
                    const char *what)
{
    if (want <= *cap) return ACTNN_OK;
    if (*v) s->dstat_be->release(*v, *cap * sizeof(double));
    s->dstat_be = be;
    *v = be->alloc(want * sizeof(double), what);
    *cap = *v ? want : 0;
    return *v ? ACTNN_OK : ACTNN_E_NOMEM;
}

/* The scratch vector of per-sample statistics read back at once, grown to n (kept:
 * reserved before training, or made by the first iteration). */
static int dstat_room(saved_store *s, const dn_backend *be, size_t n)
{
    return vec_room(s, be, &s->dstat, &s->dstat_n, n, "actnn_auto's per-sample statistics");
}

/* sv_note_grad's device sums: one per layer and sample of an iteration (only SV_IN notes
 * them), made once; a call past it makes the flush apply what is queued first. */
static size_t dgrad_want(const saved_store *s, size_t n) { return s->auto_layers ? (size_t)s->n * n : 0; }

static int dgrad_room(saved_store *s, const dn_backend *be, size_t n)
{
    size_t want = dgrad_want(s, n);
    if (!s->auto_layers || want <= s->dgrad_n) return ACTNN_OK;
    saved_stats_flush(s);
    return vec_room(s, be, &s->dgrad, &s->dgrad_n, want, "actnn_auto's gradient statistics");
}

/* The saves' costs: one per slot, layer and sample of a forward (a recomputation in
 * backward saves nothing), made once. Layers save at most two tensors with costs today (a
 * conv's input and its batch norm's x-hat); SV_SLOTS bounds any layer. Running out only
 * flushes early: a wait, the same result. */
static size_t dcost_want(const saved_store *s, size_t n) { return SV_SLOTS * (size_t)s->n * n; }

static int dcost_room(saved_store *s, const dn_backend *be, size_t n)
{
    size_t want = dcost_want(s, n);
    if (!be->act_auto_bits || want <= s->dcost_n) return ACTNN_OK;
    saved_stats_flush(s);
    return vec_room(s, be, &s->dcost, &s->dcost_n, want, "actnn_auto's per-sample costs");
}

/* A note's slot in the growing array `*a` (count *n, capacity *cap); NULL when it cannot
 * grow. */
static void *note_slot(void **a, int *n, int *cap, size_t size)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        void *m = realloc(*a, size * (size_t)c);
        if (!m) return NULL;
        *a = m;
        *cap = c;
    }
    return (char *)*a + size * (size_t)(*n)++;
}

int sv_grad_defer(layer_ctx *x, const float *delta, size_t d, size_t stride, const sv_gnote *g)
{
    saved_store *s = x->sv->store;
    if (!SV_ON_DEVICE(x) || !x->be->act_sample_stats) return 1;
    if (!s->dgrad && dgrad_room(s, x->be, (size_t)g->total) != ACTNN_OK) return 1;
    if (s->dgrad_top + g->n > s->dgrad_n) saved_stats_flush(s);
    if (g->n > s->dgrad_n) return 1;
    int rc = x->be->act_sample_stats(s->ctx, ACTNN_STAT_SQUARES, delta, g->n, d, stride, s->group,
                                     s->dgrad + s->dgrad_top);
    sv_gnote *e = rc == ACTNN_OK ? note_slot((void **)&s->gnote, &s->ngnote, &s->capgnote, sizeof *e)
                                 : NULL;
    if (!e) { /* nothing queued for this call: it is computed now, after what is */
        saved_stats_flush(s);
        return 1;
    }
    ++s->dev_stats;
    ++s->grad_noted;
    *e = *g;
    e->off = s->dgrad_top;
    s->dgrad_top += g->n;
    return 0;
}

int sv_cost_defer(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                  const double **where)
{
    saved_store *s = x->sv->store;
    size_t n = (size_t)x->batch, total = (size_t)(x->total ? x->total : x->batch);
    int rc = dcost_room(s, x->be, total);
    if (rc == ACTNN_OK && s->dcost_top + n > s->dcost_n) saved_stats_flush(s);
    if (rc == ACTNN_OK && n > s->dcost_n) rc = ACTNN_E_NOMEM;
    if (rc == ACTNN_OK)
        rc = x->be->act_sample_stats(s->ctx, ACTNN_STAT_RANGE, data, n, d, stride, s->group,
                                     s->dcost + s->dcost_top);
    if (rc != ACTNN_OK) return rc;
    ++s->dev_stats;
    *where = s->dcost + s->dcost_top;
    if (s->auto_layers) {
        sv_cnote *e = note_slot((void **)&s->cnote, &s->ncnote, &s->capcnote, sizeof *e);
        if (!e) return ACTNN_E_NOMEM;
        *e = (sv_cnote){.st = x->sv, .slot = slot, .off = s->dcost_top, .first = (size_t)x->b0,
                        .n = n, .total = total, .d = d, .bits = x->l->bits};
        ++s->cost_noted;
    }
    s->dcost_top += n;
    return ACTNN_OK;
}

/* The noted costs, recorded for the allocation in the order noted; when they could not
 * be pulled, their slots sit this allocation out (incomplete, and `lost` until the next
 * mini-batch's first chunk, so a streamed slot's later chunks do not complete it with
 * the previous mini-batch's costs) rather than use old costs. */
static void cost_flush(saved_store *s)
{
    double *h = s->ncnote ? malloc(s->dcost_top * sizeof(double)) : NULL;
    int ok = h && s->dstat_be->pull(h, s->dcost, s->dcost_top * sizeof(double)) == 0;
    for (int i = 0; i < s->ncnote; ++i) {
        const sv_cnote *c = &s->cnote[i];
        if (!ok || saved_auto_record(c->st, c->slot, h + c->off, c->first, c->n, c->total, c->d,
                                     c->bits) != ACTNN_OK) {
            c->st->a[c->slot].n = 0;
            c->st->a[c->slot].lost = 1; /* a later chunk's record must not complete it */
        }
    }
    free(h);
    s->cost_pulls += ok;
    s->ncnote = 0;
    s->dcost_top = 0;
}

static void grad_flush(saved_store *s)
{
    double *h = s->ngnote ? malloc(s->dgrad_top * sizeof(double)) : NULL;
    int ok = h && s->dstat_be->pull(h, s->dgrad, s->dgrad_top * sizeof(double)) == 0;
    for (int i = 0; i < s->ngnote; ++i)
        sv_apply_grad(s, &s->gnote[i], ok ? h + s->gnote[i].off : NULL);
    free(h);
    s->grad_pulls += ok;
    s->ngnote = 0;
    s->dgrad_top = 0;
}

void saved_stats_flush(saved_store *s)
{
    if (!s) return;
    if (s->ncnote) cost_flush(s);
    s->dcost_top = 0; /* costs kept only for widths: read by their kernels already queued */
    if (s->ngnote) grad_flush(s);
}

int saved_stats_reserve(saved_store *s, const dn_backend *be, size_t n)
{
    if (!s->auto_on || !be->device || !be->act_sample_stats ||
        (dstat_room(s, be, n) == ACTNN_OK && dgrad_room(s, be, n) == ACTNN_OK &&
         dcost_room(s, be, n) == ACTNN_OK))
        return 0;
    snprintf(s->err, sizeof(s->err), "out of device memory reserving actnn_auto's statistics "
             "(%zu samples)", n);
    return -1;
}

size_t saved_stats_plan_bytes(const saved_store *s, size_t n)
{
    if (!s || !s->auto_on) return 0;
    return (n + dgrad_want(s, n) + dcost_want(s, n)) * sizeof(double);
}

void saved_devstats_free(saved_store *s)
{
    if (s->dstat) s->dstat_be->release(s->dstat, s->dstat_n * sizeof(double));
    if (s->dgrad) s->dstat_be->release(s->dgrad, s->dgrad_n * sizeof(double));
    if (s->dcost) s->dstat_be->release(s->dcost, s->dcost_n * sizeof(double));
    free(s->gnote);
    free(s->cnote);
}

int saved_sample_stats(layer_ctx *x, int kind, const float *data, size_t n, size_t d,
                       size_t stride, double *out)
{
    saved_store *s = x->sv->store;
    if (!SV_ON_DEVICE(x)) return actnn_sample_stats(s->ctx, kind, data, n, d, stride, s->group, out);
    if (!x->be->act_sample_stats) { /* a backend without the op: the samples cross */
        const float *h = saved_host_view(x, data, n, d, stride);
        return h ? actnn_sample_stats(s->ctx, kind, h, n, d, d, s->group, out) : ACTNN_E_NOMEM;
    }
    if (dstat_room(s, x->be, n) != ACTNN_OK) return ACTNN_E_NOMEM;
    int rc = x->be->act_sample_stats(s->ctx, kind, data, n, d, stride, s->group, s->dstat);
    ++s->dev_stats;
    if (rc == ACTNN_OK && x->be->pull(out, s->dstat, n * sizeof(double))) rc = ACTNN_E_NOMEM;
    /* a device flags NaN later (the backend's error); its statistic is NaN now */
    for (size_t i = 0; rc == ACTNN_OK && kind == ACTNN_STAT_RANGE && i < n; ++i)
        if (!isfinite(out[i])) rc = ACTNN_E_NONFINITE;
    return rc;
}
