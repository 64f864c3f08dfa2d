/* [softmax]: per group softmax with temperature; with truth it is its own loss:
 * cross-entropy, delta = truth - p (so backward just passes delta on). */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"

typedef struct {
    int groups, spatial, noloss;
    float temperature;
} softmax_p;

static int softmax_shape(layer *l)
{
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->inputs;
    l->out_w = l->w;
    l->out_h = l->h;
    l->out_c = l->c;
    l->truths = l->inputs;
    return 0;
}

static int softmax_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    softmax_p *p = calloc(1, sizeof(softmax_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->groups = cfg_int(r, "groups", 1, 1, 1 << 20);
    p->temperature = cfg_float(r, "temperature", 1, 1e-6f, 1e6f);
    p->spatial = cfg_int(r, "spatial", 0, 0, 1);
    p->noloss = cfg_int(r, "noloss", 0, 0, 1);
    layer_reject_key(r, "tree", "hierarchical softmax (tree=) is not supported");
    if (r->failed) return -1;
    softmax_shape(l);
    if (l->inputs % p->groups) {
        cfg_fail(r, "groups", "must divide the input size %d", l->inputs);
        return -1;
    }
    l->loss = !p->noloss;
    return 0;
}

static void softmax1(const float *in, int n, float temp, int stride, float *out)
{
    float largest = -FLT_MAX, sum = 0;
    for (int i = 0; i < n; ++i)
        if (in[i * stride] > largest) largest = in[i * stride];
    for (int i = 0; i < n; ++i) {
        float e = (float)exp(in[i * stride] / temp - largest / temp);
        sum += e;
        out[i * stride] = e;
    }
    for (int i = 0; i < n; ++i) out[i * stride] /= sum;
}

static int softmax_forward(layer *l, layer_ctx *x)
{
    softmax_p *p = l->p;
    for (int b = 0; b < x->batch; ++b) {
        const float *in = x->in + (size_t)b * l->inputs;
        float *out = x->out + (size_t)b * l->outputs;
        if (p->spatial) {
            int hw = l->w * l->h;
            for (int s = 0; s < hw; ++s) softmax1(in + s, l->c, p->temperature, hw, out + s);
        } else {
            int gs = l->inputs / p->groups;
            for (int g = 0; g < p->groups; ++g)
                softmax1(in + g * gs, gs, p->temperature, 1, out + g * gs);
        }
    }
    if (!x->train || !x->truth || p->noloss || !x->delta) return 0;
    double cost = 0;
    size_t n = (size_t)x->batch * l->outputs;
    size_t tstride = (size_t)x->net->truths;
    for (int b = 0; b < x->batch; ++b)
        for (int i = 0; i < l->outputs; ++i) {
            size_t k = (size_t)b * l->outputs + i;
            float t = x->truth[b * tstride + i], pr = x->out[k];
            if (t) cost += -log(pr);
            x->delta[k] = t - pr;
        }
    (void)n;
    l->cost = (float)cost;
    return 0;
}

static int softmax_backward(layer *l, layer_ctx *x)
{
    if (x->delta_in) {
        size_t n = (size_t)x->batch * l->outputs;
        for (size_t i = 0; i < n; ++i) x->delta_in[i] += x->delta[i];
    }
    return 0;
}

static int softmax_resize(layer *l, network *net)
{
    (void)net;
    return softmax_shape(l);
}

static void softmax_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops softmax_ops = {
    .name = "softmax", .type = LT_SOFTMAX, .parse = softmax_parse, .forward = softmax_forward,
    .backward = softmax_backward, .resize = softmax_resize, .destroy = softmax_destroy,
    .host_only = 1, /* a loss layer: computes on the host, as in Darknet */
};
