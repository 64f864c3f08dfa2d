/* Streamed segments; see stream.h. */
#include "memory/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/net_internal.h"
#include "core/network.h"
#include "memory/saved.h"

#define STREAM_MIN_BYTES ((size_t)32 << 20)
#define STREAM_CHUNK_BYTES ((size_t)8 << 20)

/* ---- selection ----------------------------------------------------------------------- */

/* The layer whose buffers hold layer j's (itself unless a zero-copy slice or view). */
static int root_of(const mem_plan *p, int j)
{
    for (int d = 0; j >= 0 && p->parent[j] >= 0 && d < p->n; ++d) j = p->parent[j];
    return j;
}

static int layer_ok(const network *net, const mem_plan *p, int i)
{
    const layer *l = &net->layers[i];
    return i > p->stop && !l->onlyforward && !l->loss && !l->persist_output && i != net->out_index;
}

/* A member's work per chunk: batch norm only with statistics of a finished sweep, and no
 * parameters whose gradients a repeated backward sweep would add twice (a convolution
 * without batch norm after a batch-norm member is visited by that member's sums sweep). */
static int member_type_ok(const layer *l, int bn_before)
{
    switch (l->type) {
    case LT_CONVOLUTIONAL: return l->batch_stats || !bn_before;
    case LT_ROUTE:
    case LT_SHORTCUT:
    case LT_MAXPOOL: return 1;
    default: return 0;
    }
}

typedef struct {
    const network *net;
    const mem_plan *p;
    const int *last_reader; /* per layer: highest index reading its output, or -1 */
} sel_ctx;

/* A [route] view of a layer before the segment: its buffer is that layer's whole one. */
static int outside_view(const network *net, const mem_plan *p, int j)
{
    const layer *l = &net->layers[j];
    return l->type == LT_ROUTE && l->nsrc == 1 && p->parent[j] >= 0;
}

/* Whether a..b can stream; *widest gets the widest member's per-sample bytes. */
static int segment_ok(const sel_ctx *s, int a, int b, size_t *widest)
{
    const network *net = s->net;
    const mem_plan *p = s->p;
    int on32 = net->actnn_stream > 0, bn_before = 0;
    *widest = 0;
    for (int j = a; j < b; ++j) {
        const layer *l = &net->layers[j];
        int r = root_of(p, j);
        if (!layer_ok(net, p, j)) return 0;
        if (r < a || r >= b) { /* not chunked */
            if (j == a || !outside_view(net, p, j)) return 0;
            continue;
        }
        if (!member_type_ok(l, bn_before) || s->last_reader[j] > b) return 0;
        if (layer_keeps_src(l, 0) && l->bits >= 32) {
            int src = l->src[0], src_in = src >= a && root_of(p, src) >= a && root_of(p, src) < b;
            if (!on32 || src_in) return 0; /* a kept input must be a whole-batch buffer */
        }
        if (!on32 && l->bits >= 32) return 0;
        bn_before |= l->batch_stats;
        size_t per = (size_t)l->outputs * sizeof(float);
        if (per > *widest) *widest = per;
    }
    /* a layer outside whose buffer is a member's (a slice of a member route) */
    for (int j = 0; j < net->n; ++j)
        if ((j < a || j > b) && root_of(p, j) >= a && root_of(p, j) < b) return 0;
    const layer *e = &net->layers[b];
    int src = e->src[0];
    /* The exit's output and delta are whole-batch buffers, so it may be the network's output
     * or persist (unlike a member); it must still take part in backward. */
    return b > p->stop && !e->onlyforward && e->streams && e->nsrc == 1 && src >= a && src < b &&
           root_of(p, src) >= a && root_of(p, src) < b && *widest > 0;
}

/* Samples per chunk for a segment whose widest member has `per` bytes a sample, or 0. */
static int chunk_for(const network *net, const mem_plan *p, size_t per)
{
    size_t c = net->stream_chunk > 0 ? (size_t)net->stream_chunk : STREAM_CHUNK_BYTES / per;
    if (c < 1) c = 1;
    if (net->stream_chunk <= 0 && per * (size_t)p->batch < STREAM_MIN_BYTES) return 0;
    return c < (size_t)p->batch ? (int)c : 0;
}

/* The exit for a segment starting at a: the first whose output is at most a quarter of the
 * widest member's (the arena gains little from going on, the recomputation grows), else
 * the narrowest, at most STREAM_MAX_BN batch-norm members. yolov3-tiny: the pairs (0, 1)
 * and (2, 3); yolov4 at 608: 0..11 (608x608x32 wide, 152x152x128 out). -1 if none. */
static int best_exit(const sel_ctx *s, int a, int *chunk)
{
    const network *net = s->net;
    int best = -1, nbn = 0;
    size_t best_bytes = 0;
    for (int b = a + 1; b < net->n; ++b) {
        nbn += net->layers[b - 1].batch_stats;
        if (nbn > STREAM_MAX_BN || !layer_ok(net, s->p, b - 1)) break;
        size_t widest;
        if (!segment_ok(s, a, b, &widest)) continue;
        int c = chunk_for(net, s->p, widest);
        size_t bytes = (size_t)net->layers[b].outputs * sizeof(float);
        if (!c || (best >= 0 && bytes >= best_bytes)) continue;
        best = b;
        best_bytes = bytes;
        *chunk = c;
        if (4 * bytes <= widest) break;
    }
    return best;
}

int *stream_last_readers(const network *net)
{
    int *last = malloc(sizeof(int) * ((size_t)net->n + 1));
    if (!last) return NULL;
    for (int i = 0; i < net->n; ++i) last[i] = -1;
    for (int k = 0; k < net->n; ++k)
        for (int s = 0; s < net->layers[k].nsrc; ++s) {
            int j = net->layers[k].src[s];
            if (j >= 0 && last[j] < k) last[j] = k;
        }
    return last;
}

void stream_select(const network *net, mem_plan *p)
{
    for (int i = 0; i < net->n; ++i) {
        p->chunk[i] = 0;
        p->seg_end[i] = 0;
        p->seg_start[i] = -1;
    }
    if (!p->train || plan_hooked(net) || net->actnn_stream == 0) return;
    if (net->actnn_stream < 0 && !net->stream_auto_on) return; /* no cap needs them */
    int *last = stream_last_readers(net);
    if (!last) return; /* no streaming: only memory is lost */
    sel_ctx s = {net, p, last};
    for (int a = 0; a + 1 < net->n; ++a) {
        int c = 0, b = best_exit(&s, a, &c);
        if (b < 0) continue;
        for (int i = a; i < b; ++i)
            if (root_of(p, i) >= a && root_of(p, i) < b) p->chunk[i] = c;
        p->seg_end[a] = b;
        p->seg_start[b] = a;
        a = b;
    }
    free(last);
}

/* Moves segment a's exit to b (plan.c grow_streams): the segments starting inside
 * (old exit, b] are absorbed. 0 when a..b cannot stream as one segment (then nothing
 * changed), 1 when done. */
int stream_try_exit(const network *net, mem_plan *p, const int *last, int a, int b)
{
    int old = p->seg_end[a], nbn = 0;
    if (old <= a || b <= old) return 0;
    for (int i = a; i < b; ++i) nbn += net->layers[i].batch_stats;
    for (int i = old + 1; i <= b; ++i)
        if (p->seg_end[i] > b) return 0; /* a later segment reaching past b */
    if (nbn > STREAM_MAX_BN) return 0;
    sel_ctx s = {net, p, last};
    size_t widest = 0;
    int c = segment_ok(&s, a, b, &widest) ? chunk_for(net, p, widest) : 0;
    if (!c) return 0;
    for (int i = old + 1; i <= b; ++i) { /* absorbed segments */
        if (p->seg_end[i] > i) p->seg_start[p->seg_end[i]] = -1;
        p->seg_end[i] = 0;
    }
    p->seg_start[old] = -1;
    for (int i = a; i < b; ++i) p->chunk[i] = root_of(p, i) >= a && root_of(p, i) < b ? c : 0;
    p->chunk[b] = 0;
    p->seg_end[a] = b;
    p->seg_start[b] = a;
    return 1;
}

/* ---- running ------------------------------------------------------------------------- */

static int chunked(const network *net, int j) { return j >= 0 && net->plan.chunk[j] != 0; }

/* Context of layer i for samples b0..b0+nb-1. Whole-batch buffers (the input, layers
 * outside the segment, the exit, views of outside layers) are offset to the chunk; the
 * deltas of layers outside are given only when `outside` (the last backward sweep). */
static void seg_ctx(network *net, int i, const float *input, int b0, int nb, layer_pass pass,
                    int outside, layer_ctx *x)
{
    const mem_plan *p = &net->plan;
    layer *l = &net->layers[i];
    network_make_ctx(net, i, input, 1, x);
    x->b0 = b0;
    x->batch = nb;
    x->pass = pass;
    for (int s = 0; s < l->nsrc; ++s) {
        int j = l->src[s];
        if (chunked(net, j)) continue;
        size_t st = j < 0 ? (size_t)net->inputs : p->stride[j];
        if (x->ins[s]) x->ins[s] += (size_t)b0 * st;
        if (x->delta_ins[s]) x->delta_ins[s] = outside ? x->delta_ins[s] + (size_t)b0 * st : NULL;
    }
    if (l->nsrc) {
        x->in = x->ins[0];
        x->delta_in = x->delta_ins[0];
    }
    if (!chunked(net, i)) {
        if (x->out) x->out += (size_t)b0 * p->stride[i];
        if (x->delta) x->delta += (size_t)b0 * p->stride[i];
    }
}

static int failed(network *net, int i, const char *what)
{
    snprintf(net->err, sizeof(net->err), "layer %d (%s) %s: %s", i, net->layers[i].ops->name, what,
             saved_error(net->store));
    return -1;
}

/* Pass of a member once batch-norm statistics (or sums) are known. */
static layer_pass member_pass(const layer *l)
{
    return l->type == LT_CONVOLUTIONAL ? PASS_APPLY : PASS_FULL;
}

static int chunk_len(int B, int b0, int c) { return B - b0 < c ? B - b0 : c; }

/* Members a..last of one chunk; `stats` is the member whose statistics this sweep gathers
 * (the others recompute without saving), or -1 for the last sweep. */
static int forward_chunk(network *net, int a, int last, int stats, const float *input, int b0, int nb)
{
    for (int i = a; i <= last; ++i) {
        layer *l = &net->layers[i];
        layer_ctx x;
        seg_ctx(net, i, input, b0, nb, i == stats ? PASS_STATS : member_pass(l), 0, &x);
        x.recompute = stats >= 0 && i != stats;
        if (l->ops->forward(l, &x)) return failed(net, i, "streamed forward");
        if (network_sync_check(net, i, 1)) return -1;
        if (stats < 0 && chunked(net, i))
            network_run_hook(net, net->hook, l, x.out, net->plan.stride[i], nb);
    }
    return 0;
}

int stream_forward(network *net, int a, const float *input, int drop_input)
{
    const mem_plan *p = &net->plan;
    int b = p->seg_end[a], B = net->batch, c = p->chunk[a];
    layer *E = &net->layers[b];
    layer_ctx x;
    for (int m = a; m < b; ++m) {
        if (!net->layers[m].batch_stats || !chunked(net, m)) continue;
        for (int b0 = 0; b0 < B; b0 += c)
            if (forward_chunk(net, a, m, m, input, b0, chunk_len(B, b0, c))) return -1;
    }
    for (int b0 = 0; b0 < B; b0 += c) {
        int nb = chunk_len(B, b0, c);
        if (forward_chunk(net, a, b - 1, -1, input, b0, nb)) return -1;
        seg_ctx(net, b, input, b0, nb, PASS_CHUNK, 0, &x);
        if (E->ops->forward(E, &x)) return failed(net, b, "streamed forward");
        if (network_sync_check(net, b, 1)) return -1;
        /* no later sweep reads these samples of the input (the exit reads a member); the
         * whole batch goes once the segment is done (network_forward) */
        if (drop_input && net->input_done && b0 + nb < B) net->input_done(net->input_done_ud, b0 + nb);
    }
    seg_ctx(net, b, input, 0, B, PASS_POST, 0, &x);
    x.in = NULL;
    if (E->ops->forward(E, &x)) return failed(net, b, "streamed forward");
    if (network_sync_check(net, b, 1)) return -1;
    network_run_hook(net, net->hook, E, x.out, p->stride[b], B);
    return 0;
}

static void zero_member_deltas(network *net, int a, int b)
{
    const mem_plan *p = &net->plan;
    for (int i = a; i < b; ++i) {
        const mem_buf *d = &p->delta[i];
        if (chunked(net, i) && d->bytes && !d->alias)
            net->be->fill((float *)((char *)net->arena + d->off), d->bytes / sizeof(float), 0);
    }
}

/* One chunk of a backward sweep: the exit, then the members from b-1 down to `low`, where
 * `sums` (a batch-norm member, or -1 in the last sweep) only gathers its sums. done[k]
 * says layer a+k has added its parameter gradients for this chunk's sweep already. */
static int backward_chunk(network *net, int a, int low, int sums, const char *done,
                          const float *input, int b0, int nb)
{
    int b = net->plan.seg_end[a], last = sums < 0;
    zero_member_deltas(net, a, b);
    for (int i = b; i >= low; --i) {
        layer *l = &net->layers[i];
        layer_pass pass = i == b ? PASS_CHUNK : (i == sums ? PASS_SUMS : member_pass(l));
        layer_ctx x;
        seg_ctx(net, i, input, b0, nb, pass, last, &x);
        x.param_grads = i != sums && !done[i - a];
        if (l->ops->backward && l->ops->backward(l, &x)) return failed(net, i, "streamed backward");
        if (network_sync_check(net, i, 0)) return -1;
        if (last && i < b && chunked(net, i))
            network_run_hook(net, net->bhook, l, x.delta, net->plan.stride[i], nb);
    }
    return 0;
}

int stream_backward(network *net, int a)
{
    const mem_plan *p = &net->plan;
    int b = p->seg_end[a], B = net->batch, c = p->chunk[a], rc = 0;
    const float *input = net->fwd_input ? net->fwd_input : net->input;
    layer *E = &net->layers[b];
    layer_ctx x;
    seg_ctx(net, b, input, 0, B, PASS_PRE, 1, &x);
    if (E->ops->backward(E, &x)) return failed(net, b, "streamed backward");
    if (network_sync_check(net, b, 0)) return -1;
    network_run_hook(net, net->bhook, E, x.delta, p->stride[b], B); /* final after PRE */
    char *done = calloc((size_t)(b - a + 1), 1);
    if (!done) {
        snprintf(net->err, sizeof(net->err), "layer %d: out of memory streaming", a);
        return -1;
    }
    /* sums sweeps from the last batch-norm member down, then the last sweep (m = a - 1) */
    for (int m = b - 1; m >= a - 1 && !rc; --m) {
        int last = m == a - 1;
        if (!last && (!net->layers[m].batch_stats || !chunked(net, m))) continue;
        int low = last ? a : m, sums = last ? -1 : m;
        for (int b0 = 0; b0 < B && !rc; b0 += c)
            rc = backward_chunk(net, a, low, sums, done, input, b0, chunk_len(B, b0, c));
        for (int i = low; i <= b; ++i)
            if (i != sums) done[i - a] = 1;
    }
    free(done);
    return rc;
}
