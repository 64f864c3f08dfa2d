/* Device placement (place.h). */
#include "core/place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "memory/saved.h"

/* The pair whose host (or device) range holds p; *off gets p's offset in it. A field may
 * point inside a moved array (a parameter's gradient inside the gradient block). */
static place_pair *find(const network *net, const float *p, int by_dev, size_t *off)
{
    for (int i = 0; i < net->nplaced; ++i) {
        place_pair *q = &net->placed[i];
        const float *base = by_dev ? q->dev : q->host;
        if (p >= base && p < base + (q->n ? q->n : 1)) {
            *off = (size_t)(p - base);
            return q;
        }
    }
    return NULL;
}

static place_pair *add(network *net, float *host, size_t n)
{
    if (net->nplaced == net->placed_cap) {
        int cap = net->placed_cap ? 2 * net->placed_cap : 64;
        place_pair *a = realloc(net->placed, sizeof(place_pair) * (size_t)cap);
        if (!a) return NULL;
        net->placed = a;
        net->placed_cap = cap;
    }
    float *dev = net->be->alloc((n ? n : 1) * sizeof(float), "a parameter array");
    if (!dev) return NULL;
    if (net->be->push(dev, host, n * sizeof(float))) {
        net->be->release(dev, (n ? n : 1) * sizeof(float));
        return NULL;
    }
    place_pair *q = &net->placed[net->nplaced++];
    q->host = host;
    q->dev = dev;
    q->n = n;
    return q;
}

place_ctx place_ctx_to_device(network *net) { return (place_ctx){.net = net}; }

int place_array(place_ctx *pc, float **field, size_t n)
{
    network *net = pc->net;
    if (!*field) return 0;
    size_t off = 0;
    if (pc->returning) {
        place_pair *q = find(net, *field, 1, &off);
        if (q) *field = q->host + off;
        return 0;
    }
    place_pair *q = find(net, *field, 0, &off);
    if (!q) q = add(net, *field, n);
    if (!q || off + n > (q->n ? q->n : 1)) { /* a field reaching past its array: a bug */
        pc->failed = 1;
        return -1;
    }
    *field = q->dev + off;
    return 0;
}

void place_bn(place_ctx *pc, bn_state *b)
{
    size_t n = (size_t)b->n;
    place_array(pc, &b->scales, n);
    place_array(pc, &b->biases, n);
    place_array(pc, &b->rolling_mean, n);
    place_array(pc, &b->rolling_variance, n);
    place_array(pc, &b->mean, n);
    place_array(pc, &b->variance, n);
    place_array(pc, &b->sum_d, n);
    place_array(pc, &b->sum_dx, n);
    /* The forward's per-channel sums (2n doubles, 4n floats of memory): the backend's
     * bn_stats_* ops write them, so they live where the ops run. Through a float pointer
     * because the table pairs float arrays; the allocation is aligned for doubles. */
    float *acc = (float *)b->acc;
    place_array(pc, &acc, 4 * n);
    b->acc = (double *)acc;
}

float *place_dev_of(const network *net, const float *host)
{
    size_t off = 0;
    place_pair *q = host ? find(net, host, 0, &off) : NULL;
    return q ? q->dev + off : NULL;
}

float *place_host_of(const network *net, const float *dev)
{
    for (int i = 0; i < net->nplaced; ++i) {
        const place_pair *q = &net->placed[i];
        if (dev >= q->dev && dev < q->dev + (q->n ? q->n : 1)) return q->host + (dev - q->dev);
    }
    return NULL;
}

int place_pull_all(network *net)
{
    for (int i = 0; i < net->nplaced; ++i) {
        place_pair *q = &net->placed[i];
        if (net->be->pull(q->host, q->dev, q->n * sizeof(float))) return -1;
    }
    return 0;
}

int place_push_all(network *net)
{
    for (int i = 0; i < net->nplaced; ++i) {
        place_pair *q = &net->placed[i];
        if (net->be->push(q->dev, q->host, q->n * sizeof(float))) return -1;
    }
    return 0;
}

/* Every moved field of every layer: the gradient block first (the params' gradients are
 * slices of it, params.h), the registered params, then the layer's own. */
static void map_layers(place_ctx *pc)
{
    network *net = pc->net;
    place_array(pc, &net->grad_block, net->grad_floats);
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        for (int k = 0; k < l->nparams; ++k) {
            param *p = &l->params[k];
            place_array(pc, &p->w, p->n);
            place_array(pc, &p->grad, p->n);
            place_array(pc, &p->m, p->n);
            place_array(pc, &p->v, p->n);
        }
        if (l->ops->place) l->ops->place(l, pc);
    }
}

/* The buffers network_prepare sizes: made again on the new backend. */
static void drop_buffers(network *net)
{
    if (net->arena) net->be->release(net->arena, net->arena_bytes ? net->arena_bytes : 64);
    if (net->workspace) net->be->release(net->workspace, net->workspace_bytes);
    for (int k = 0; k < 2; ++k)
        if (net->dscratch[k]) net->be->release(net->dscratch[k], net->scratch_floats * sizeof(float));
    if (net->dev_input) net->be->release(net->dev_input, net->dev_input_floats * sizeof(float));
    if (net->nan_flags) net->be->release(net->nan_flags, 3 * (size_t)net->n * sizeof(float));
    net->nan_flags = NULL;
    net->arena = net->workspace = NULL;
    net->dscratch[0] = net->dscratch[1] = net->dev_input = NULL;
    net->arena_bytes = net->workspace_bytes = net->dev_input_floats = 0;
    net->plan.valid = 0;
}

static void unplace(network *net)
{
    place_pull_all(net); /* the host arrays become the parameters again */
    place_ctx pc = {.net = net, .returning = 1};
    map_layers(&pc);
    for (int i = 0; i < net->nplaced; ++i)
        net->be->release(net->placed[i].dev, (net->placed[i].n ? net->placed[i].n : 1) * sizeof(float));
    free(net->placed);
    net->placed = NULL;
    net->nplaced = net->placed_cap = 0;
}

int network_place(network *net, const dn_backend *be, char *err, size_t errlen)
{
    if (be == net->be) return 0;
    drop_buffers(net);
    if (net->placed) unplace(net);
    net->be = be;
    if (!be->device) return 0;
    place_ctx pc = place_ctx_to_device(net);
    map_layers(&pc);
    if (pc.failed || be->error()) {
        snprintf(err, errlen, "out of %s memory moving the parameters (%d arrays)", be->name,
                 net->nplaced);
        unplace(net);
        net->be = dn_backend_cpu();
        return -1;
    }
    return 0;
}

const dn_backend *place_env_backend(void)
{
    const char *b = getenv("DN_BACKEND");
    if (b && !strcmp(b, "devsim")) return dn_backend_devsim();
    return NULL;
}
