/* [reorg] with pjreddie's element mapping (AlexeyAB's REORG_OLD): a permutation of each
 * sample's values. For the forward (non-reverse) layer pjreddie calls its reorg kernel with
 * forward=0, which is not a standard space-to-depth; we reproduce that mapping.
 * [reorg3d] (AlexeyAB's REORG) calls the same kernel with the output's sizes instead of the
 * input's, which makes it space-to-depth: output channel o*C + c of cell (i, j) is input
 * channel c at (i*s + o%s, j*s + o/s). Its reverse does the same with reverse=1's output
 * sizes, so the channels must divide by stride^4 there. */
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"

typedef struct {
    int stride, reverse;
    int out_dims; /* [reorg3d]: the kernel sees the output's sizes */
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

static int reorg_parse_dims(layer *l, cfg_reader *r, int out_dims)
{
    reorg_p *p = calloc(1, sizeof(reorg_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->out_dims = out_dims;
    p->stride = cfg_int(r, "stride", 1, 1, 64);
    p->reverse = cfg_int(r, "reverse", 0, 0, 1);
    if (!out_dims) {
        layer_reject_key(r, "flatten", "flatten is not supported");
        layer_reject_key(r, "extra", "extra is not supported");
    }
    if (r->failed) return -1;
    int s = p->stride, cdiv = out_dims ? s * s * s * s : s * s;
    if (p->reverse ? (l->c % cdiv) : (l->w % s || l->h % s)) {
        if (p->reverse)
            cfg_fail(r, "stride", "reverse=1 needs channels divisible by stride^%d (%d channels)",
                     out_dims ? 4 : 2, l->c);
        else
            cfg_fail(r, "stride", "width and height must be divisible by stride");
        return -1;
    }
    return reorg_shape(l);
}

static int reorg_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    return reorg_parse_dims(l, r, 0);
}

static int reorg3d_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    return reorg_parse_dims(l, r, 1);
}

/* The sizes the kernel is called with: the input's ([reorg]) or the output's ([reorg3d]). */
static void kernel_dims(const layer *l, int *w, int *h, int *c)
{
    const reorg_p *p = l->p;
    *w = p->out_dims ? l->out_w : l->w;
    *h = p->out_dims ? l->out_h : l->h;
    *c = p->out_dims ? l->out_c : l->c;
}

static int reorg_forward(layer *l, layer_ctx *x)
{
    reorg_p *p = l->p;
    int w, h, c;
    kernel_dims(l, &w, &h, &c);
    for (int b = 0; b < x->batch; ++b) {
        const float *in = x->in + (size_t)b * l->inputs;
        float *out = x->out + (size_t)b * l->outputs;
        x->be->reorg(in, w, h, c, p->stride, p->reverse, 0, out);
    }
    return 0;
}

static int reorg_backward(layer *l, layer_ctx *x)
{
    reorg_p *p = l->p;
    if (!x->delta_in) return 0;
    int w, h, c;
    kernel_dims(l, &w, &h, &c);
    for (int b = 0; b < x->batch; ++b) {
        const float *d = x->delta + (size_t)b * l->outputs;
        float *din = x->delta_in + (size_t)b * l->inputs;
        /* the adjoint of a permutation is its inverse */
        x->be->reorg(d, w, h, c, p->stride, !p->reverse, 1, din);
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

const layer_ops reorg3d_ops = {
    .name = "reorg3d", .type = LT_REORG3D, .parse = reorg3d_parse, .forward = reorg_forward,
    .backward = reorg_backward, .resize = reorg_resize, .destroy = reorg_destroy,
};
