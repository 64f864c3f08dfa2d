/* actnn_auto: ActNN's per-layer mixed precision (DESIGN.md "Mixed precision").
 *
 * Every save under actnn_auto records its samples' costs sum_g R_g^2 (saved.c); in
 * backward a layer reports the factor that turns them into the variance its weight
 * gradient gets from quantizing that input (sv_note_grad): for a conv,
 * K/(4 groups) * G/I * mean_n ||dy_n||^2. Every actnn_auto_interval iterations all
 * (slot, sample) pairs compete for the bits: minimise sum C/(2^b-1)^2 with the values'
 * weighted average at the configured bits (actnn_alloc_layers). A slot's new average is
 * the mean of its samples' bits; the next saves split it between their samples again.
 * A batch-norm x-hat follows its conv's input (sv_follow), as in ActNN, where batch norm
 * takes the bits of the conv before it; its values count in the conv's weight. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/network.h"
#include "memory/saved_internal.h"

int saved_auto_record(saved_state *st, int slot, const double *cost, size_t first, size_t n,
                      size_t total, size_t d, int bits)
{
    sv_auto *a = &st->a[slot];
    if (total > a->cap) {
        double *c = realloc(a->cost, total * sizeof(double));
        if (!c) return ACTNN_E_NOMEM;
        a->cost = c;
        a->cap = total;
    }
    for (size_t i = 0; i < n; ++i) a->cost[first + i] = cost[i];
    /* complete once the mini-batch's last sample is in (streamed saves come in chunks),
     * unless a chunk's costs were lost (sv_cost_lost): then it sits this allocation out */
    if (first == 0) a->lost = 0;
    a->n = first + n == total && !a->lost ? total : 0;
    a->d = d;
    a->cfg_bits = bits;
    return ACTNN_OK;
}

void sv_apply_grad(const saved_store *s, const sv_gnote *g, const double *sq)
{
    sv_auto *a = g->a;
    if (g->first) a->grad_sum = 0;
    if (!sq) return; /* as before: no new factor from this backward */
    for (size_t b = 0; b < g->n; ++b) a->grad_sum += sq[b];
    if (g->last) a->sens = g->factor * (double)s->group * a->grad_sum / (double)g->total;
}

void sv_note_grad(layer_ctx *x, int slot, double factor, const float *delta, size_t d,
                  size_t stride)
{
    saved_store *s = x->sv->store;
    /* a streamed call sums its chunks; chunks visited twice count once (param_grads) */
    if (!s->auto_layers || !x->param_grads) return;
    int total = x->total ? x->total : x->batch;
    sv_gnote g = {.a = &x->sv->a[slot], .n = (size_t)x->batch, .total = (size_t)total,
                  .factor = factor, .first = x->b0 == 0, .last = x->b0 + x->batch == total};
    if (sv_grad_defer(x, delta, d, stride, &g) == 0) return; /* a device: summed at the end */
    /* per-sample sums of squares where the deltas are (a device pulls only these), added
     * in sample order: the same double on every backend and thread count */
    double *sq = malloc((size_t)x->batch * sizeof(double));
    int rc = sq ? saved_sample_stats(x, ACTNN_STAT_SQUARES, delta, (size_t)x->batch, d, stride, sq)
                : ACTNN_E_NOMEM;
    sv_apply_grad(s, &g, rc == ACTNN_OK ? sq : NULL);
    free(sq);
}

void sv_follow(layer_ctx *x, int slot, int lead)
{
    if (x->sv->store->auto_layers) x->sv->a[slot].lead = lead;
}

/* A slot takes part when it was saved quantized for this mini-batch and has a factor
 * (lead) or a lead that takes part (follower). */
static int is_item(const saved_state *st, int k, size_t N)
{
    const sv_auto *a = &st->a[k];
    return a->lead < 0 && a->sens >= 0 && isfinite(a->sens) && a->n == N && a->cost;
}

static int is_follower(const saved_state *st, int k, size_t N)
{
    const sv_auto *a = &st->a[k];
    return a->lead >= 0 && a->n == N && is_item(st, a->lead, N);
}

typedef struct {
    double *cost, *bits;
    size_t *elems;
    double budget_bits; /* sum over items of elems * configured bits */
    size_t L;
} pool;

static void pool_add(pool *p, saved_state *st, int k, size_t N)
{
    sv_auto *a = &st->a[k];
    size_t e = a->d;
    for (int f = 0; f < SV_SLOTS; ++f)
        if (f != k && st->a[f].lead == k && is_follower(st, f, N)) e += st->a[f].d;
    for (size_t i = 0; i < N; ++i) p->cost[p->L * N + i] = a->sens * a->cost[i];
    p->elems[p->L] = e;
    p->budget_bits += (double)e * a->cfg_bits;
    ++p->L;
}

static void pool_apply(const pool *p, saved_store *s, size_t N)
{
    size_t l = 0;
    for (int i = 0; i < s->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k) {
            saved_state *st = &s->st[i];
            if (!is_item(st, k, N)) continue;
            st->a[k].bits = p->bits[l];
            for (int f = 0; f < SV_SLOTS; ++f)
                if (f != k && st->a[f].lead == k && is_follower(st, f, N)) st->a[f].bits = p->bits[l];
            ++l;
        }
}

int saved_auto_allocate(saved_store *s, size_t N)
{
    if (!s || !s->auto_layers || N == 0) return 0;
    size_t max = (size_t)s->n * SV_SLOTS;
    pool p = {.cost = malloc(max * N * sizeof(double)), .bits = malloc(max * sizeof(double)),
              .elems = malloc(max * sizeof(size_t))};
    int rc = p.cost && p.bits && p.elems ? ACTNN_OK : ACTNN_E_NOMEM;
    for (int i = 0; rc == ACTNN_OK && i < s->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k)
            if (is_item(&s->st[i], k, N)) pool_add(&p, &s->st[i], k, N);
    if (rc == ACTNN_OK && p.L) {
        double elems = 0.0;
        for (size_t l = 0; l < p.L; ++l) elems += (double)p.elems[l];
        /* The budget is the items' configured average (per-layer actnn_bits count). */
        rc = actnn_alloc_layers(p.cost, p.elems, p.L, N, p.budget_bits / elems, p.bits, NULL);
        if (rc == ACTNN_OK) pool_apply(&p, s, N);
        /* Tensor sizes change with the bits: the pool's free blocks of the old sizes would
         * stay besides the new ones (nothing is saved between iterations, so all go). */
        if (rc == ACTNN_OK) rc = actnn_trim(s->ctx);
    }
    free(p.cost);
    free(p.bits);
    free(p.elems);
    if (rc != ACTNN_OK)
        snprintf(s->err, sizeof(s->err), "per-layer bit allocation: %s", actnn_strerror(rc));
    return rc == ACTNN_OK ? 0 : -1;
}

double saved_auto_bits(const saved_store *s, int layer, int slot)
{
    if (!s || layer < 0 || layer >= s->n || slot < 0 || slot >= SV_SLOTS) return 0;
    return s->st[layer].a[slot].bits;
}
