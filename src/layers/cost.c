/* [cost]: sse (also masked, smooth, L1). The output holds each value's error; delta =
 * truth - input (sign of Darknet's deltas); backward adds scale*delta to the input delta. */
#include <math.h>
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"

enum { COST_SSE, COST_MASKED, COST_L1, COST_SEG, COST_SMOOTH, COST_WGAN, COST_N };
static const char *const cost_names[COST_N] = {"sse", "masked", "L1", "seg", "smooth", "wgan"};
#define SECRET_NUM -1234

typedef struct {
    int type;
    float scale;
} cost_p;

static int cost_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    cost_p *p = calloc(1, sizeof(cost_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->type = cfg_enum(r, "type", cost_names, COST_N, COST_SSE);
    p->scale = cfg_float(r, "scale", 1, -1e6f, 1e6f);
    /* pjreddie uses these only in the GPU cost layer. */
    layer_ignore_key(r, "ratio", 0, "keeping the largest deltas is not implemented");
    layer_ignore_key(r, "noobj", 1, "not implemented");
    layer_ignore_key(r, "thresh", 0, "delta suppression is not implemented");
    if (!r->failed && (p->type == COST_SEG || p->type == COST_WGAN))
        cfg_fail(r, "type", "seg and wgan costs are not supported; use sse, masked, smooth or L1");
    if (r->failed) return -1;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->inputs;
    l->out_w = l->w;
    l->out_h = l->h;
    l->out_c = l->c;
    l->truths = l->inputs;
    l->loss = 1;
    return 0;
}

static int cost_forward(layer *l, layer_ctx *x)
{
    cost_p *p = l->p;
    if (!x->train || !x->truth || !x->delta) {
        for (size_t i = 0; i < (size_t)x->batch * l->outputs; ++i) x->out[i] = 0;
        return 0;
    }
    double cost = 0;
    size_t tstride = (size_t)x->net->truths;
    for (int b = 0; b < x->batch; ++b)
        for (int i = 0; i < l->inputs; ++i) {
            size_t k = (size_t)b * l->inputs + i;
            float t = x->truth[b * tstride + i], in = x->in[k];
            if (p->type == COST_MASKED && t == SECRET_NUM) in = SECRET_NUM;
            float diff = t - in, err, d;
            if (p->type == COST_SMOOTH && fabsf(diff) >= 1) {
                err = 2 * fabsf(diff) - 1;
                d = diff > 0 ? 1 : -1;
            } else if (p->type == COST_L1) {
                err = fabsf(diff);
                d = diff > 0 ? 1 : -1;
            } else {
                err = diff * diff;
                d = diff;
            }
            x->out[k] = err;
            x->delta[k] = d;
            cost += err;
        }
    l->cost = (float)cost;
    return 0;
}

static int cost_backward(layer *l, layer_ctx *x)
{
    cost_p *p = l->p;
    if (x->delta_in) {
        size_t n = (size_t)x->batch * l->inputs;
        for (size_t i = 0; i < n; ++i) x->delta_in[i] += p->scale * x->delta[i];
    }
    return 0;
}

static int cost_resize(layer *l, network *net)
{
    (void)net;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->out_w = l->w; l->out_h = l->h; l->out_c = l->c;
    l->truths = l->inputs;
    return 0;
}

static void cost_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops cost_ops = {
    .name = "cost", .type = LT_COST, .parse = cost_parse, .forward = cost_forward,
    .backward = cost_backward, .resize = cost_resize, .destroy = cost_destroy,
    .host_only = 1, /* a loss layer: computes on the host, as in Darknet */
};
