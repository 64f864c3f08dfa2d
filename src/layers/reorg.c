/* [reorg] with pjreddie's element mapping (AlexeyAB's REORG_OLD): a permutation of each
 * sample's values. For the forward (non-reverse) layer pjreddie calls its reorg kernel with
 * forward=0, which is not a standard space-to-depth; we reproduce that mapping. */
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"

typedef struct {
    int stride, reverse;
} reorg_p;

static int reorg_shape(layer *l)
{
    reorg_p *p = l->p;
    int s = p->stride;
    if (p->reverse) {
        l->out_w = l->w * s; l->out_h = l->h * s; l->out_c = l->c / (s * s);
    } else {
        l->out_w = l->w / s; l->out_h = l->h / s; l->out_c = l->c * s * s;
    }
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    return 0;
}

static int reorg_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    reorg_p *p = calloc(1, sizeof(reorg_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->stride = cfg_int(r, "stride", 1, 1, 64);
    p->reverse = cfg_int(r, "reverse", 0, 0, 1);
    layer_reject_key(r, "flatten", "flatten is not supported");
    layer_reject_key(r, "extra", "extra is not supported");
    if (r->failed) return -1;
    int s = p->stride;
    if (p->reverse ? (l->c % (s * s)) : (l->w % s || l->h % s)) {
        cfg_fail(r, "stride", "%s", p->reverse ? "channels must be divisible by stride^2"
                                               : "width and height must be divisible by stride");
        return -1;
    }
    return reorg_shape(l);
}

static int reorg_forward(layer *l, layer_ctx *x)
{
    reorg_p *p = l->p;
    for (int b = 0; b < x->batch; ++b) {
        const float *in = x->in + (size_t)b * l->inputs;
        float *out = x->out + (size_t)b * l->outputs;
        if (p->reverse) x->be->reorg(in, l->w, l->h, l->c, p->stride, 1, 0, out);
        else x->be->reorg(in, l->w, l->h, l->c, p->stride, 0, 0, out);
    }
    return 0;
}

static int reorg_backward(layer *l, layer_ctx *x)
{
    reorg_p *p = l->p;
    if (!x->delta_in) return 0;
    for (int b = 0; b < x->batch; ++b) {
        const float *d = x->delta + (size_t)b * l->outputs;
        float *din = x->delta_in + (size_t)b * l->inputs;
        /* the adjoint of a permutation is its inverse */
        if (p->reverse) x->be->reorg(d, l->w, l->h, l->c, p->stride, 0, 1, din);
        else x->be->reorg(d, l->w, l->h, l->c, p->stride, 1, 1, din);
    }
    return 0;
}

static int reorg_resize(layer *l, network *net)
{
    (void)net;
    return reorg_shape(l);
}

static void reorg_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops reorg_ops = {
    .name = "reorg", .type = LT_REORG, .parse = reorg_parse, .forward = reorg_forward,
    .backward = reorg_backward, .resize = reorg_resize, .destroy = reorg_destroy,
};
