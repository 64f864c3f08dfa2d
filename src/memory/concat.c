/* Zero-copy [route] concatenation; see concat.h. */
#include "memory/concat.h"

#include "core/network.h"

/* Every layer that reads layer j's output handles strided buffers, and none keeps it
 * alive for its backward (an exact 32-bit save): a kept slice would keep the whole
 * holder alive, which costs more than the copy saves. */
static int readers_ok(const network *net, const mem_plan *p, int j)
{
    for (int k = j + 1; k < net->n; ++k) {
        const layer *l = &net->layers[k];
        for (int s = 0; s < l->nsrc; ++s) {
            if (l->src[s] != j) continue;
            if (!l->strided) return 0;
            if (p->train && layer_keeps_src(l, s) && l->bits >= 32 && k > p->stop && !l->onlyforward)
                return 0;
        }
    }
    return 1;
}

static int source_ok(const network *net, const mem_plan *p, int j)
{
    const layer *l = &net->layers[j];
    return j >= 0 && l->type == LT_CONVOLUTIONAL && l->strided && p->parent[j] < 0 && !l->loss &&
           !l->persist_output && j != net->out_index && readers_ok(net, p, j);
}

/* A [route] of one source (a group slice or a plain copy) becomes a view: its buffers are
 * the slice of the source's, with the source's stride. */
static void select_views(const network *net, mem_plan *p)
{
    for (int r = 0; r < net->n; ++r) {
        const layer *R = &net->layers[r];
        int j = R->nsrc == 1 ? R->src[0] : -1;
        if (R->type != LT_ROUTE || j < 0 || R->view_off < 0 || p->parent[r] >= 0) continue;
        if (R->loss || R->persist_output || r == net->out_index || !readers_ok(net, p, r)) continue;
        if (j <= p->stop && r > p->stop) continue; /* the route has a delta, its source none */
        p->parent[r] = j;
        p->sub[r] = (size_t)R->view_off;
        p->stride[r] = p->stride[j];
    }
}

void concat_select(const network *net, mem_plan *p)
{
    for (int i = 0; i < net->n; ++i) {
        p->parent[i] = -1;
        p->sub[i] = 0;
        p->stride[i] = (size_t)net->layers[i].outputs;
    }
    if (net->actnn_concat == 0 || plan_hooked(net)) return;
    for (int r = 0; r < net->n; ++r) {
        const layer *R = &net->layers[r];
        if (R->type != LT_ROUTE || !R->concat) continue;
        size_t off = 0;
        for (int s = 0; s < R->nsrc; ++s) {
            int j = R->src[s], dup = 0;
            for (int t = 0; t < R->nsrc; ++t) dup |= t != s && R->src[t] == j;
            if (!dup && source_ok(net, p, j)) {
                p->parent[j] = r;
                p->sub[j] = off;
                p->stride[j] = (size_t)R->outputs;
            }
            off += (size_t)net->layers[j].outputs;
        }
    }
    select_views(net, p);
}
