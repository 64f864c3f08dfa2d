/* Memory plan: buffer lifetimes from the layer graph, then greedy offset assignment. */
#include "memory/plan.h"

#include <stdlib.h>
#include <string.h>

#include "core/network.h"
#include "memory/concat.h"
#include "memory/stream.h"

#define PLAN_ALIGN 64
#define FOREVER (1 << 30)

static size_t align_up(size_t x) { return (x + PLAN_ALIGN - 1) & ~(size_t)(PLAN_ALIGN - 1); }

/* Index of the last layer with stopbackward: it and everything before it get no backward. */
static int stop_index(const network *net)
{
    int stop = -1;
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].stopbackward) stop = i;
    return stop;
}

/* Samples a layer's output and delta buffers hold. */
static size_t rows(const mem_plan *p, int i) { return (size_t)(p->chunk[i] ? p->chunk[i] : p->batch); }

static void output_lifetimes(mem_plan *p, const network *net)
{
    int n = net->n;
    for (int i = 0; i < n; ++i) {
        const layer *l = &net->layers[i];
        p->out[i].bytes = align_up((size_t)l->outputs * rows(p, i) * sizeof(float));
        p->out[i].start = i;
        p->out[i].end = (l->persist_output || i == net->out_index) ? FOREVER : i;
    }
    for (int k = 0; k < n; ++k) {
        const layer *l = &net->layers[k];
        for (int s = 0; s < l->nsrc; ++s) {
            int j = l->src[s];
            if (j < 0) continue;
            if (p->out[j].end < k) p->out[j].end = k;
            /* An exact (32-bit) save keeps the producer's buffer instead of a copy. */
            int kept = p->train && layer_keeps_src(l, s) && l->bits >= 32 && k > p->stop &&
                       !l->onlyforward;
            if (kept && p->out[j].end < plan_bwd_step(p, k)) p->out[j].end = plan_bwd_step(p, k);
        }
    }
}

static void delta_lifetimes(mem_plan *p, const network *net)
{
    int n = net->n;
    for (int i = 0; i < n; ++i) {
        p->delta[i].bytes = 0;
        p->delta[i].start = FOREVER;
        p->delta[i].end = -1;
    }
    if (!p->train) return;
    for (int i = n - 1; i > p->stop; --i) {
        const layer *l = &net->layers[i];
        p->delta[i].bytes = align_up((size_t)l->outputs * rows(p, i) * sizeof(float));
        p->delta[i].end = plan_bwd_step(p, i);
        int first = l->loss ? i : plan_bwd_step(p, i);
        if (first < p->delta[i].start) p->delta[i].start = first;
    }
    /* A consumer's backward writes its sources' deltas. */
    for (int k = n - 1; k > p->stop; --k) {
        const layer *l = &net->layers[k];
        if (l->onlyforward) continue;
        for (int s = 0; s < l->nsrc; ++s) {
            int j = l->src[s];
            if (j <= p->stop || !p->delta[j].bytes) continue;
            if (plan_bwd_step(p, k) < p->delta[j].start) p->delta[j].start = plan_bwd_step(p, k);
        }
    }
}

/* A segment a..b runs in step a forward and in step bwd(b) backward (plan.h). */
static void segment_lifetimes(mem_plan *p, const network *net, int a)
{
    int b = p->seg_end[a], fb = plan_bwd_step(p, b), fa = plan_bwd_step(p, a);
    for (int i = a; i <= b; ++i) {
        if (p->out[i].start > a) p->out[i].start = a;
        if (p->chunk[i] && p->out[i].end < b) p->out[i].end = b;
        mem_buf *d = &p->delta[i];
        if (d->bytes && (p->chunk[i] || i == b)) {
            if (d->start > fb) d->start = fb;
            if (d->end < fa) d->end = fa;
        }
        const layer *l = &net->layers[i];
        for (int s = 0; s < l->nsrc; ++s) {
            int j = l->src[s];
            if (j < 0 || p->chunk[j] || !p->delta[j].bytes) continue;
            if (p->delta[j].start > fb) p->delta[j].start = fb;
            if (p->delta[j].end < fa) p->delta[j].end = fa;
        }
    }
}

static void stream_lifetimes(mem_plan *p, const network *net)
{
    for (int a = 0; a < net->n; ++a)
        if (p->seg_end[a] > a) segment_lifetimes(p, net, a);
}

/* A zero-copy source's buffers are slices of its route's: the route's live as long as any
 * slice does. */
static void concat_lifetimes(mem_plan *p)
{
    /* Downwards: a view (parent below it) merges into its source before that source, if
     * concatenated, merges into its route (parent above it, never itself held). */
    for (int j = p->n - 1; j >= 0; --j) {
        int r = p->parent[j];
        if (r < 0) continue;
        mem_buf *so = &p->out[j], *ro = &p->out[r], *sd = &p->delta[j], *rd = &p->delta[r];
        if (so->start < ro->start) ro->start = so->start;
        if (so->end > ro->end) ro->end = so->end;
        so->alias = 1;
        if (!sd->bytes || !rd->bytes) continue;
        if (sd->start < rd->start) rd->start = sd->start;
        if (sd->end > rd->end) rd->end = sd->end;
        sd->alias = 1;
    }
}

/* Byte offset of layer j's slice from the start of its outermost holder's buffer. */
static size_t slice_off(const mem_plan *p, int j, int *root)
{
    size_t off = 0;
    for (int depth = 0; p->parent[j] >= 0 && depth < p->n; ++depth) {
        off += p->sub[j] * sizeof(float);
        j = p->parent[j];
    }
    *root = j;
    return off;
}

static void place_aliases(mem_plan *p)
{
    for (int j = 0; j < p->n; ++j) {
        if (p->parent[j] < 0) continue;
        int r;
        size_t off = slice_off(p, j, &r);
        p->out[j].off = p->out[r].off + off;
        if (p->delta[j].alias) p->delta[j].off = p->delta[r].off + off;
    }
}

typedef struct {
    mem_buf *b;
} buf_ref;

static int by_size_desc(const void *a, const void *b)
{
    const mem_buf *x = ((const buf_ref *)a)->b, *y = ((const buf_ref *)b)->b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->start - y->start;
}

static int by_offset(const void *a, const void *b)
{
    const mem_buf *x = ((const buf_ref *)a)->b, *y = ((const buf_ref *)b)->b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int overlaps(const mem_buf *a, const mem_buf *b)
{
    return a->start <= b->end && b->start <= a->end;
}

/* First-fit of b among already placed buffers that share time with it. */
static size_t place(const mem_buf *b, buf_ref *placed, int np, buf_ref *tmp)
{
    int k = 0;
    for (int i = 0; i < np; ++i)
        if (overlaps(b, placed[i].b)) tmp[k++] = placed[i];
    qsort(tmp, (size_t)k, sizeof(buf_ref), by_offset);
    size_t off = 0;
    for (int i = 0; i < k; ++i) {
        if (tmp[i].b->off >= off + b->bytes) break;
        size_t end = tmp[i].b->off + tmp[i].b->bytes;
        if (end > off) off = end;
    }
    return off;
}

static int assign_offsets(mem_plan *p)
{
    int n = p->n, cnt = 0;
    buf_ref *all = malloc(sizeof(buf_ref) * 2 * (size_t)n + 1);
    buf_ref *placed = malloc(sizeof(buf_ref) * 2 * (size_t)n + 1);
    buf_ref *tmp = malloc(sizeof(buf_ref) * 2 * (size_t)n + 1);
    if (!all || !placed || !tmp) { free(all); free(placed); free(tmp); return -1; }
    for (int i = 0; i < n; ++i) {
        if (p->out[i].bytes && !p->out[i].alias) all[cnt++].b = &p->out[i];
        if (p->delta[i].bytes && !p->delta[i].alias) all[cnt++].b = &p->delta[i];
    }
    qsort(all, (size_t)cnt, sizeof(buf_ref), by_size_desc);
    p->arena_bytes = p->total_bytes = 0;
    for (int i = 0; i < cnt; ++i) {
        mem_buf *b = all[i].b;
        b->off = place(b, placed, i, tmp);
        placed[i] = all[i];
        if (b->off + b->bytes > p->arena_bytes) p->arena_bytes = b->off + b->bytes;
        p->total_bytes += b->bytes;
    }
    free(all); free(placed); free(tmp);
    return 0;
}

/* The exit of the unit starting at j (j itself when no segment starts there). */
static int unit_end(const mem_plan *p, int j)
{
    return p->seg_end && p->seg_end[j] > j ? p->seg_end[j] : j;
}

int plan_unit(const mem_plan *p, int i)
{
    int j = 0;
    while (j < i && unit_end(p, j) < i) j = unit_end(p, j) + 1;
    return j <= i ? j : i;
}

int plan_unit_parity(const mem_plan *p, int i)
{
    int u = plan_unit(p, i), parity = 0;
    for (int j = 0; j < u; j = unit_end(p, j) + 1) parity ^= 1;
    return parity;
}

int plan_hooked(const network *net) { return (net->hook || net->bhook) && !net->hook_any_layout; }

/* Lifetimes and offsets for the current choice of streamed pairs. */
static int layout(mem_plan *p, const network *net)
{
    output_lifetimes(p, net);
    delta_lifetimes(p, net);
    stream_lifetimes(p, net);
    concat_lifetimes(p);
    return assign_offsets(p);
}

static void segment_set(mem_plan *p, int a, const int *chunk, int on)
{
    int b = on ? chunk[p->n] : p->seg_end[a];
    for (int i = a; i < b; ++i) p->chunk[i] = on ? chunk[i] : 0;
    p->seg_end[a] = on ? b : 0;
    p->seg_start[b] = on ? a : -1;
}

/* A streamed segment recomputes its members, so keep only the segments that lower the
 * arena's peak: going from the deepest (usually smallest) up, drop each one whose removal
 * does not grow the arena. yolov3-tiny at 416, mini-batch 16: layers 0 and 2 stay, layer 4
 * (not on the peak) goes. A chunk size forced by tests (net->stream_chunk) keeps them all. */
static int prune_streams(mem_plan *p, const network *net)
{
    if (net->stream_chunk > 0) return 0;
    if (layout(p, net)) return -1;
    size_t best = p->arena_bytes;
    int *keep = malloc(sizeof(int) * ((size_t)net->n + 1));
    if (!keep) return -1;
    for (int a = net->n - 1; a >= 0; --a) {
        if (p->seg_end[a] <= a) continue;
        memcpy(keep, p->chunk, sizeof(int) * (size_t)net->n);
        keep[net->n] = p->seg_end[a];
        segment_set(p, a, keep, 0);
        if (layout(p, net)) { free(keep); return -1; }
        if (p->arena_bytes <= best) best = p->arena_bytes;
        else segment_set(p, a, keep, 1);
    }
    free(keep);
    return 0;
}

/* A long segment can lower the peak where two short ones cannot: yolov3-tiny at 416 peaks
 * while the backward of the segment 2..3 writes the whole-batch delta of 1 (the exit of
 * 0..1) and still reads that of 3; one segment 0..3 makes the delta of 1 chunk-sized.
 * So each kept segment's exit moves further (absorbing the next segments) while that
 * lowers the arena by at least 1/16; more batch-norm members cost more recomputation,
 * which is why streaming is on only under a memory cap. On by default; actnn_stream_grow=0
 * keeps the first exits. (A segment holding the input's last reader keeps the input alive
 * while it saves: stream_forward drops it chunk by chunk, else yolov3-tiny's 0..5 held
 * 1.2 MiB per image more than planned, memreport.h saved_with_input.) */
static int grow_streams(mem_plan *p, const network *net)
{
    if (net->stream_chunk > 0) return 0;
    if (!net->actnn_stream_grow) return 0;
    size_t n1 = (size_t)net->n + 1;
    int *save = malloc(sizeof(int) * 3 * n1);
    int *last = stream_last_readers(net); /* once: every try below reads it */
    if (!save || !last || layout(p, net)) { free(save); free(last); return -1; }
    size_t best = p->arena_bytes;
    for (int a = 0; a < net->n; ++a) {
        if (p->seg_end[a] <= a) continue;
        for (int b = p->seg_end[a] + 1; b < net->n; ++b) {
            memcpy(save, p->chunk, sizeof(int) * n1);
            memcpy(save + n1, p->seg_end, sizeof(int) * n1);
            memcpy(save + 2 * n1, p->seg_start, sizeof(int) * n1);
            if (!stream_try_exit(net, p, last, a, b)) continue;
            if (layout(p, net)) { free(save); free(last); return -1; }
            /* a real gain only: each extra member is recomputed in every sweep */
            if (p->arena_bytes + best / 16 <= best) { best = p->arena_bytes; continue; }
            memcpy(p->chunk, save, sizeof(int) * n1);
            memcpy(p->seg_end, save + n1, sizeof(int) * n1);
            memcpy(p->seg_start, save + 2 * n1, sizeof(int) * n1);
        }
    }
    free(save);
    free(last);
    return 0;
}

int plan_build(mem_plan *p, const network *net, int train)
{
    plan_free(p);
    p->n = net->n;
    p->train = train;
    p->batch = net->batch;
    p->w = net->w;
    p->h = net->h;
    p->stop = stop_index(net);
    p->hooked = plan_hooked(net);
    p->out = calloc((size_t)net->n + 1, sizeof(mem_buf));
    p->delta = calloc((size_t)net->n + 1, sizeof(mem_buf));
    p->chunk = calloc((size_t)net->n + 1, sizeof(int));
    p->seg_end = calloc((size_t)net->n + 1, sizeof(int));
    p->seg_start = calloc((size_t)net->n + 1, sizeof(int));
    p->parent = calloc((size_t)net->n + 1, sizeof(int));
    p->sub = calloc((size_t)net->n + 1, sizeof(size_t));
    p->stride = calloc((size_t)net->n + 1, sizeof(size_t));
    if (!p->out || !p->delta || !p->chunk || !p->seg_end || !p->seg_start || !p->parent || !p->sub || !p->stride) {
        plan_free(p);
        return -1;
    }
    concat_select(net, p);
    stream_select(net, p);
    if (prune_streams(p, net) || grow_streams(p, net) || layout(p, net)) {
        plan_free(p);
        return -1;
    }
    place_aliases(p);
    p->valid = 1;
    return 0;
}

void plan_free(mem_plan *p)
{
    free(p->out);
    free(p->delta);
    free(p->chunk);
    free(p->seg_end);
    free(p->seg_start);
    free(p->parent);
    free(p->sub);
    free(p->stride);
    memset(p, 0, sizeof(*p));
}

int plan_verify(const mem_plan *p)
{
    for (int a = 0; a < 2 * p->n; ++a) {
        const mem_buf *x = a < p->n ? &p->out[a] : &p->delta[a - p->n];
        if (!x->bytes || x->alias) continue;
        for (int b = a + 1; b < 2 * p->n; ++b) {
            const mem_buf *y = b < p->n ? &p->out[b] : &p->delta[b - p->n];
            if (!y->bytes || y->alias || !overlaps(x, y)) continue;
            if (x->off < y->off + y->bytes && y->off < x->off + x->bytes) return -1;
        }
        if (x->off + x->bytes > p->arena_bytes) return -1;
    }
    return 0;
}
