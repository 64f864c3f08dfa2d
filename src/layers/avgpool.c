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
    int hw = l->w * l->h;
    for (int b = 0; b < x->batch; ++b)
        for (int k = 0; k < l->c; ++k) {
            const float *in = x->in + ((size_t)b * l->c + k) * hw;
            float s = 0;
            for (int i = 0; i < hw; ++i) s += in[i];
            x->out[b * l->c + k] = s / hw;
        }
    return 0;
}

static int avgpool_backward(layer *l, layer_ctx *x)
{
    if (!x->delta_in) return 0;
    int hw = l->w * l->h;
    for (int b = 0; b < x->batch; ++b)
        for (int k = 0; k < l->c; ++k) {
            float *d = x->delta_in + ((size_t)b * l->c + k) * hw;
            float g = x->delta[b * l->c + k] / hw;
            for (int i = 0; i < hw; ++i) d[i] += g;
        }
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
