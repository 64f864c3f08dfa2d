/* [upsample]: nearest neighbour by `stride`, output multiplied by `scale`. */
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"

typedef struct {
    int stride;
    float scale;
} upsample_p;

static int upsample_shape(layer *l)
{
    upsample_p *p = l->p;
    l->out_w = l->w * p->stride;
    l->out_h = l->h * p->stride;
    l->out_c = l->c;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    return 0;
}

static int upsample_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    upsample_p *p = calloc(1, sizeof(upsample_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->stride = cfg_int(r, "stride", 2, -64, 64);
    p->scale = cfg_float(r, "scale", 1, -1e6f, 1e6f);
    if (!r->failed && p->stride < 1)
        cfg_fail(r, "stride", "must be 1..64 (negative strides, Darknet's downsampling, are not supported)");
    if (r->failed) return -1;
    return upsample_shape(l);
}

static int upsample_forward(layer *l, layer_ctx *x)
{
    upsample_p *p = l->p;
    x->be->upsample_forward(x->in, x->batch * l->c, l->h, l->w, p->stride, p->scale, x->out);
    return 0;
}

static int upsample_backward(layer *l, layer_ctx *x)
{
    upsample_p *p = l->p;
    if (!x->delta_in) return 0;
    x->be->upsample_backward(x->delta, x->batch * l->c, l->h, l->w, p->stride, p->scale, x->delta_in);
    return 0;
}

static int upsample_resize(layer *l, network *net)
{
    (void)net;
    return upsample_shape(l);
}

static void upsample_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops upsample_ops = {
    .name = "upsample", .type = LT_UPSAMPLE, .parse = upsample_parse, .forward = upsample_forward,
    .backward = upsample_backward, .resize = upsample_resize, .destroy = upsample_destroy,
};
