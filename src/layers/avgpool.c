/* [avgpool]: global average to 1x1xC. Backward needs only the shape. */
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"

static void avgpool_shape(layer *l)
{
    l->out_w = l->out_h = 1;
    l->out_c = l->c;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->c;
}

static int avgpool_parse(layer *l, cfg_reader *r, network *net)
{
    (void)r; (void)net;
    avgpool_shape(l);
    return 0;
}

static int avgpool_forward(layer *l, layer_ctx *x)
{
    x->be->avgpool_forward(x->in, x->batch, l->c, l->h, l->w, x->out);
    return 0;
}

static int avgpool_backward(layer *l, layer_ctx *x)
{
    if (!x->delta_in) return 0;
    x->be->avgpool_backward(x->delta, x->batch, l->c, l->h, l->w, x->delta_in);
    return 0;
}

static int avgpool_resize(layer *l, network *net)
{
    (void)net;
    avgpool_shape(l);
    return 0;
}

const layer_ops avgpool_ops = {
    .name = "avgpool", .type = LT_AVGPOOL, .parse = avgpool_parse, .forward = avgpool_forward,
    .backward = avgpool_backward, .resize = avgpool_resize,
};
