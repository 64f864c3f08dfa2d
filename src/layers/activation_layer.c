/* [activation]: applies `activation` to its input; [empty]/[silence]: passes it through
 * (also used for sections we do not recognise, so layer indices stay as in the cfg). */
#include <stdlib.h>
#include <string.h>

#include "core/layer_common.h"
#include "core/network.h"

static int same_shape(layer *l, network *net)
{
    (void)net;
    l->out_w = l->w; l->out_h = l->h; l->out_c = l->c;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->restore_floats = (size_t)l->outputs;
    return 0;
}

static int activation_parse(layer *l, cfg_reader *r, network *net)
{
    l->act = layer_read_activation(r, ACT_LINEAR);
    if (r->failed) return -1;
    return same_shape(l, net);
}

static int activation_forward(layer *l, layer_ctx *x)
{
    x->be->copy(x->out, x->in, (size_t)x->batch * l->outputs);
    return layer_activate_and_save(l, x, 0, x->out, 0);
}

static int pass_delta(layer *l, layer_ctx *x)
{
    if (x->delta_in) x->be->axpy(x->delta_in, x->delta, (size_t)x->batch * l->outputs, 1);
    return 0;
}

static int activation_backward(layer *l, layer_ctx *x)
{
    layer_activation_backward(l, x, 0, -1, NULL, 0);
    return pass_delta(l, x);
}

static int empty_parse(layer *l, cfg_reader *r, network *net)
{
    (void)r;
    return same_shape(l, net);
}

static int empty_forward(layer *l, layer_ctx *x)
{
    x->be->copy(x->out, x->in, (size_t)x->batch * l->outputs);
    return 0;
}

const layer_ops activation_ops = {
    .name = "activation", .type = LT_ACTIVE, .parse = activation_parse,
    .forward = activation_forward, .backward = activation_backward, .resize = same_shape,
};

const layer_ops empty_ops = {
    .name = "empty", .type = LT_ACTIVE, .parse = empty_parse, .forward = empty_forward,
    .backward = pass_delta, .resize = same_shape,
};
