/* [scale_channels] and [sam] (AlexeyAB's): out = act(s * f). f is the output of the layer
 * named by `from` (the feature map: it sets the output shape) and s the previous layer's
 * output, which holds per sample
 *   - one value per channel: [scale_channels] (s is 1x1xC; squeeze-and-excitation blocks,
 *     where s comes from [avgpool] and a logistic 1x1 convolution);
 *   - one value per position: [scale_channels] scale_wh=1 (s is WxHx1);
 *   - one value per value: [sam] (s has f's shape; spatial attention).
 * Backward is the exact gradient of the product, as AlexeyAB's CPU code computes it (his
 * [sam] CPU backward assigns from's delta instead of adding to it, which drops the other
 * consumers' deltas; not followed). Unlike his, swish and mish work here.
 * Saved: s (slot 1), f (slot 2) and the activation's mask or pre-activation (slot 0); s and
 * f at the layer's bits, or at 32 bits kept alive by the plan (no copy). */
#include <stdio.h>
#include <stdlib.h>

#include "backend/math/move_math.h"
#include "core/layer_common.h"
#include "core/network.h"
#include "memory/saved.h"

enum { SV_ACT, SV_S, SV_F };

typedef struct {
    int mode;  /* DN_MUL_CHANNEL, DN_MUL_SPATIAL or DN_MUL_ELEM */
    size_t sn; /* values of s per sample */
} mul_p;

static int mul_shape(layer *l, network *net, cfg_reader *r)
{
    mul_p *p = l->p;
    const layer *f = &net->layers[l->src[1]];
    int ok = p->mode == DN_MUL_CHANNEL   ? l->w == 1 && l->h == 1 && l->c == f->out_c
             : p->mode == DN_MUL_SPATIAL ? l->c == 1 && l->w == f->out_w && l->h == f->out_h
                                         : l->w == f->out_w && l->h == f->out_h && l->c == f->out_c;
    if (!ok) {
        static const char *const want[] = {"1 x 1 x C, C being from's channels",
                                           "W x H x 1, W x H being from's size", "from's shape"};
        char msg[256];
        snprintf(msg, sizeof msg, "the previous layer's output is %d x %d x %d and from= (layer %d) "
                 "is %d x %d x %d: the previous layer must be %s", l->w, l->h, l->c, l->src[1],
                 f->out_w, f->out_h, f->out_c, want[p->mode]);
        if (r) cfg_fail(r, "from", "%s", msg);
        else fprintf(stderr, "[%s] (layer %d) after resizing: %s\n", l->ops->name, l->index, msg);
        return -1;
    }
    l->out_w = f->out_w;
    l->out_h = f->out_h;
    l->out_c = f->out_c;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    p->sn = (size_t)l->inputs;
    l->restore_floats = (size_t)l->outputs;
    l->flops = l->outputs;
    return 0;
}

static int mul_parse(layer *l, cfg_reader *r, network *net, int mode)
{
    mul_p *p = calloc(1, sizeof(mul_p));
    if (!p) return layer_oom(r);
    l->p = p;
    if (layer_parse_from(l, r, "multiply")) return -1;
    p->mode = mode == DN_MUL_ELEM ? mode
              : cfg_int(r, "scale_wh", 0, 0, 1) ? DN_MUL_SPATIAL
                                                : DN_MUL_CHANNEL;
    l->act = layer_read_activation(r, ACT_LINEAR);
    l->keeps_input = 3; /* both factors */
    if (r->failed) return -1;
    return mul_shape(l, net, r);
}

static int scale_channels_parse(layer *l, cfg_reader *r, network *net)
{
    return mul_parse(l, r, net, DN_MUL_CHANNEL);
}

static int sam_parse(layer *l, cfg_reader *r, network *net) { return mul_parse(l, r, net, DN_MUL_ELEM); }

static int mul_forward(layer *l, layer_ctx *x)
{
    mul_p *p = l->p;
    int spatial = l->out_w * l->out_h;
    x->be->mul_forward(x->ins[0], x->ins[1], x->batch, l->out_c, spatial, p->mode, x->out);
    if (x->train) {
        if (sv_save(x, SV_S, x->ins[0], p->sn, 1)) return -1;
        if (sv_save(x, SV_F, x->ins[1], (size_t)l->outputs, 1)) return -1;
    }
    return layer_activate_and_save(l, x, SV_ACT, x->out, 0);
}

/* Per sample: s's gradient needs f, f's gradient needs s. */
static int mul_backward(layer *l, layer_ctx *x)
{
    mul_p *p = l->p;
    int spatial = l->out_w * l->out_h;
    float *ds = x->delta_ins[0], *df = x->delta_ins[1];
    layer_activation_backward(l, x, SV_ACT, -1, NULL, 0);
    if (!ds && !df) return 0;
    for (int b = 0; b < x->batch; ++b) {
        const float *s = df ? sv_restore(x, SV_S, b, x->scratch[0]) : NULL;
        const float *f = ds ? sv_restore(x, SV_F, b, x->scratch[1]) : NULL;
        if ((df && !s) || (ds && !f)) return -1;
        x->be->mul_backward(x->delta + (size_t)b * l->outputs, s, f, 1, l->out_c, spatial, p->mode,
                            ds ? ds + b * p->sn : NULL, df ? df + (size_t)b * l->outputs : NULL);
    }
    return 0;
}

static int mul_resize(layer *l, network *net) { return mul_shape(l, net, NULL); }

static void mul_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops scale_channels_ops = {
    .name = "scale_channels", .type = LT_SCALE_CHANNELS, .parse = scale_channels_parse,
    .forward = mul_forward, .backward = mul_backward, .resize = mul_resize, .destroy = mul_destroy,
};

const layer_ops sam_ops = {
    .name = "sam", .type = LT_SAM, .parse = sam_parse, .forward = mul_forward,
    .backward = mul_backward, .resize = mul_resize, .destroy = mul_destroy,
};
