/* [route]: concatenates the outputs of `layers=` per sample, in order. With AlexeyAB's
 * groups/group_id each input contributes only its group_id-th contiguous 1/groups slice.
 * Spatial sizes must match (Darknet silently produces a 0x0 layer; we stop with an error).
 * A source the plan made zero-copy (concat.h) already writes its output into this layer's
 * buffer and reads its delta from it: it is skipped here. Sources may be strided. */
#include <stdlib.h>
#include <string.h>

#include "core/layer_common.h"
#include "core/network.h"

typedef struct {
    int groups, group_id;
} route_p;

static int route_shape(layer *l, network *net, cfg_reader *r)
{
    route_p *p = l->p;
    const layer *first = &net->layers[l->src[0]];
    l->out_w = first->out_w;
    l->out_h = first->out_h;
    l->out_c = 0;
    l->outputs = 0;
    for (int i = 0; i < l->nsrc; ++i) {
        const layer *s = &net->layers[l->src[i]];
        if (s->out_w != l->out_w || s->out_h != l->out_h) {
            if (r) cfg_fail(r, "layers", "layer %d is %dx%d but layer %d is %dx%d: routed layers must "
                            "have the same width and height", l->src[0], l->out_w, l->out_h, l->src[i],
                            s->out_w, s->out_h);
            return -1;
        }
        if (s->out_c % p->groups) {
            if (r) cfg_fail(r, "groups", "layer %d has %d channels, not divisible by %d", l->src[i],
                            s->out_c, p->groups);
            return -1;
        }
        l->out_c += s->out_c / p->groups;
        l->outputs += s->outputs / p->groups;
    }
    l->w = l->out_w;
    l->h = l->out_h;
    l->c = l->out_c;
    l->inputs = l->outputs;
    return 0;
}

static int route_parse(layer *l, cfg_reader *r, network *net)
{
    route_p *p = calloc(1, sizeof(route_p));
    if (!p) return layer_oom(r);
    l->p = p;
    int *idx = NULL;
    int n = cfg_int_list(r, "layers", &idx);
    if (n <= 0) {
        if (!r->failed) cfg_fail(r, "layers", "is required: a list of layer indices");
        free(idx);
        return -1;
    }
    for (int i = 0; i < n; ++i) {
        int j = idx[i] < 0 ? l->index + idx[i] : idx[i];
        if (j < 0 || j >= l->index) {
            cfg_fail(r, "layers", "index %d is out of range: layer %d can route layers 0..%d (or -1..-%d)",
                     idx[i], l->index, l->index - 1, l->index);
            free(idx);
            return -1;
        }
        idx[i] = j;
    }
    free(l->src);
    l->src = idx;
    l->nsrc = n;
    p->groups = cfg_int(r, "groups", 1, 1, 1 << 16);
    p->group_id = cfg_int(r, "group_id", 0, 0, p->groups - 1);
    if (r->failed) return -1;
    l->strided = 1;
    l->concat = p->groups == 1 && n >= 2;
    l->view_off = -1;
    if (route_shape(l, net, r)) return -1;
    if (n == 1) l->view_off = l->outputs * p->group_id;
    return 0;
}

/* Source i lives in this layer's buffers (nothing to copy). */
static int in_place(const layer *l, const layer_ctx *x, int i)
{
    const mem_plan *pl = &x->net->plan;
    return pl->parent && pl->parent[l->src[i]] == l->index;
}

/* This layer's buffers are a slice of its single source's. */
static int is_view(const layer *l, const layer_ctx *x)
{
    const mem_plan *pl = &x->net->plan;
    return pl->parent && l->nsrc == 1 && pl->parent[l->index] == l->src[0];
}

static size_t src_stride(const layer_ctx *x, int j)
{
    const mem_plan *pl = &x->net->plan;
    return pl->stride ? pl->stride[j] : (size_t)x->net->layers[j].outputs;
}

/* Each source's part of every sample in one copy_rows call (backend.h). */
static int route_forward(layer *l, layer_ctx *x)
{
    route_p *p = l->p;
    if (is_view(l, x)) return 0;
    size_t off = 0;
    for (int i = 0; i < l->nsrc; ++i) {
        const layer *s = &x->net->layers[l->src[i]];
        size_t part = (size_t)s->outputs / p->groups;
        if (!in_place(l, x, i))
            x->be->copy_rows(x->out + off, (size_t)l->outputs, x->ins[i] + part * p->group_id,
                             src_stride(x, l->src[i]), part, x->batch, 0);
        off += part;
    }
    return 0;
}

static int route_backward(layer *l, layer_ctx *x)
{
    route_p *p = l->p;
    if (is_view(l, x)) return 0;
    size_t off = 0;
    for (int i = 0; i < l->nsrc; ++i) {
        const layer *s = &x->net->layers[l->src[i]];
        size_t part = (size_t)s->outputs / p->groups;
        float *d = x->delta_ins[i];
        if (d && !in_place(l, x, i))
            x->be->copy_rows(d + part * p->group_id, src_stride(x, l->src[i]), x->delta + off,
                             (size_t)l->outputs, part, x->batch, 1);
        off += part;
    }
    return 0;
}

static int route_resize(layer *l, network *net)
{
    int rc = route_shape(l, net, NULL);
    route_p *p = l->p;
    if (!rc && l->nsrc == 1) l->view_off = l->outputs * p->group_id;
    return rc;
}

static void route_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops route_ops = {
    .name = "route", .type = LT_ROUTE, .parse = route_parse, .forward = route_forward,
    .backward = route_backward, .resize = route_resize, .destroy = route_destroy,
};
