/* [connected]: out = in * W^T + b (W is [outputs][inputs]), optional batch norm, activation.
 * Saved: the input (slot 0), x-hat with batch norm (slot 1), activation mask or input
 * (slot 2). Weights file: biases, weights, then scales/rolling mean/rolling variance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/layer_common.h"
#include "core/network.h"
#include "core/rng.h"
#include "memory/saved.h"
#include "core/place.h"

enum { SV_IN, SV_XHAT, SV_ACT };

typedef struct {
    int bn;
    float *weights, *biases, *scales, *rolling_mean, *rolling_variance;
    bn_state bnst;
    param *pw, *pb, *ps;
} connected_p;

static int connected_params(layer *l, network *net, connected_p *p)
{
    size_t nw = (size_t)l->inputs * l->outputs;
    p->biases = layer_alloc_param(l, (size_t)l->outputs, 0);
    p->pb = &l->params[l->nparams - 1];
    p->weights = layer_alloc_param(l, nw, 1);
    p->pw = &l->params[l->nparams - 1];
    if (!p->biases || !p->weights) return -1;
    layer_add_wfile(l, p->biases, (size_t)l->outputs, 0);
    layer_add_wfile(l, p->weights, nw, WF_TRANSPOSE);
    l->wf[l->nwf - 1].rows = l->outputs;
    l->wf[l->nwf - 1].cols = l->inputs;
    if (p->bn) {
        p->scales = layer_alloc_param(l, (size_t)l->outputs, 0);
        p->ps = &l->params[l->nparams - 1];
        p->rolling_mean = calloc((size_t)l->outputs, sizeof(float));
        p->rolling_variance = calloc((size_t)l->outputs, sizeof(float));
        if (!p->scales || !p->rolling_mean || !p->rolling_variance || bn_alloc(&p->bnst, l->outputs))
            return -1;
        for (int i = 0; i < l->outputs; ++i) p->scales[i] = 1;
        p->bnst.scales = p->scales;
        p->bnst.biases = p->biases;
        p->bnst.rolling_mean = p->rolling_mean;
        p->bnst.rolling_variance = p->rolling_variance;
        layer_add_wfile(l, p->scales, (size_t)l->outputs, WF_BN_STATS);
        layer_add_wfile(l, p->rolling_mean, (size_t)l->outputs, WF_BN_STATS);
        layer_add_wfile(l, p->rolling_variance, (size_t)l->outputs, WF_BN_STATS);
    }
    rng_t g;
    rng_seed(&g, net->seed, 0x1000 + (uint64_t)l->index);
    float scale = sqrtf(2.f / l->inputs);
    for (size_t i = 0; i < nw; ++i) p->weights[i] = scale * rng_uniform(&g, -1, 1);
    return 0;
}

static int connected_parse(layer *l, cfg_reader *r, network *net)
{
    connected_p *p = calloc(1, sizeof(connected_p));
    if (!p) return layer_oom(r);
    l->p = p;
    int outputs = cfg_int(r, "output", 1, 1, 1 << 26);
    l->act = layer_read_activation(r, ACT_LOGISTIC);
    p->bn = cfg_int(r, "batch_normalize", 0, 0, 1);
    if (r->failed) return -1;
    l->inputs = l->w * l->h * l->c;
    l->outputs = outputs;
    l->out_w = l->out_h = 1;
    l->out_c = outputs;
    l->flops = 2.0 * l->inputs * (double)l->outputs;
    l->keeps_input = 1;
    l->restore_floats = (size_t)(l->inputs > l->outputs ? l->inputs : l->outputs);
    if (connected_params(l, net, p)) return layer_oom(r);
    return 0;
}

static int connected_forward(layer *l, layer_ctx *x)
{
    connected_p *p = l->p;
    if (x->train && sv_save(x, SV_IN, x->in, (size_t)l->inputs, 1)) return -1;
    x->be->gemm(0, 1, x->batch, l->outputs, l->inputs, 1, x->in, l->inputs, p->weights, l->inputs, 0,
            x->out, l->outputs);
    if (p->bn) {
        if (x->train) {
            x->be->bn_forward_train(&p->bnst, x->out, x->batch, 1);
            if (sv_save(x, SV_XHAT, x->out, (size_t)l->outputs, 0)) return -1;
        } else {
            x->be->bn_forward_infer(&p->bnst, x->out, x->batch, 1);
        }
        x->be->bn_scale_shift(&p->bnst, x->out, x->batch, 1);
    } else {
        x->be->add_bias(x->out, p->biases, x->batch, l->outputs, 1);
    }
    return layer_activate_and_save(l, x, SV_ACT, x->out, p->bn);
}

static int connected_backward(layer *l, layer_ctx *x)
{
    connected_p *p = l->p;
    size_t outs = (size_t)l->outputs;
    layer_activation_backward(l, x, SV_ACT, p->bn ? SV_XHAT : -1, p->bn ? &p->bnst : NULL, 1);
    if (p->bn) {
        x->be->bn_backward_reset(&p->bnst);
        for (int b = 0; b < x->batch; ++b)
            x->be->bn_backward_sums(&p->bnst, x->delta + b * outs, sv_restore(x, SV_XHAT, b, x->scratch[0]), 1);
        x->be->bn_backward_params(&p->bnst, p->pb->grad, p->ps->grad);
        for (int b = 0; b < x->batch; ++b)
            x->be->bn_backward_delta(&p->bnst, x->delta + b * outs, sv_restore(x, SV_XHAT, b, x->scratch[0]),
                              x->batch, 1);
    } else {
        x->be->backward_bias(p->pb->grad, x->delta, x->batch, l->outputs, 1);
    }
    /* actnn_auto: ActNN's weight for a linear layer's input, K = I = 1 */
    sv_note_grad(x, SV_IN, 0.25, x->delta, outs, outs);
    if (p->bn) sv_follow(x, SV_XHAT, SV_IN);
    /* dW += delta_b^T in_b per sample (the input is restored one sample at a time). */
    for (int b = 0; b < x->batch; ++b) {
        const float *in = sv_restore(x, SV_IN, b, x->scratch[0]);
        x->be->gemm(1, 0, l->outputs, l->inputs, 1, 1, x->delta + b * outs, l->outputs, in, l->inputs, 1,
                p->pw->grad, l->inputs);
    }
    if (x->delta_in)
        x->be->gemm(0, 0, x->batch, l->inputs, l->outputs, 1, x->delta, l->outputs, p->weights, l->inputs, 1,
                x->delta_in, l->inputs);
    return 0;
}

static void connected_destroy(layer *l)
{
    connected_p *p = l->p;
    if (!p) return;
    free(p->rolling_mean);
    free(p->rolling_variance);
    bn_free(&p->bnst);
    free(p);
    l->p = NULL;
}

/* Device placement (place.h): every array the ops read or write. */
static void connected_place(layer *l, place_ctx *pc)
{
    connected_p *p = l->p;
    size_t o = (size_t)l->outputs;
    place_array(pc, &p->weights, (size_t)l->inputs * o);
    place_array(pc, &p->biases, o);
    place_array(pc, &p->scales, o);
    place_array(pc, &p->rolling_mean, o);
    place_array(pc, &p->rolling_variance, o);
    if (p->bn) place_bn(pc, &p->bnst);
}

const layer_ops connected_ops = {
    .name = "connected", .type = LT_CONNECTED, .parse = connected_parse,
    .forward = connected_forward, .backward = connected_backward, .destroy = connected_destroy,
    .place = connected_place,
};
