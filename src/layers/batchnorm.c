/* [batchnorm]: batch normalisation on its own. Weights file (pjreddie order): scales,
 * rolling mean, rolling variance. As in pjreddie the beta stays 0 and is not trained (it is
 * not in the file); the scales are trained. Saved: x-hat (slot 0). */
#include <stdlib.h>
#include <string.h>

#include "core/layer_common.h"
#include "core/network.h"
#include "memory/saved.h"
#include "core/place.h"

typedef struct {
    float *scales, *biases, *rolling_mean, *rolling_variance, *bias_grad;
    bn_state bnst;
    param *ps;
} batchnorm_p;

static int batchnorm_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    batchnorm_p *p = calloc(1, sizeof(batchnorm_p));
    if (!p) return layer_oom(r);
    l->p = p;
    l->out_w = l->w; l->out_h = l->h; l->out_c = l->c;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->restore_floats = (size_t)l->outputs;
    p->scales = layer_alloc_param(l, (size_t)l->c, 0);
    p->ps = &l->params[l->nparams - 1];
    p->biases = calloc((size_t)l->c, sizeof(float));
    p->bias_grad = calloc((size_t)l->c, sizeof(float));
    p->rolling_mean = calloc((size_t)l->c, sizeof(float));
    p->rolling_variance = calloc((size_t)l->c, sizeof(float));
    if (!p->scales || !p->biases || !p->bias_grad || !p->rolling_mean || !p->rolling_variance ||
        bn_alloc(&p->bnst, l->c))
        return layer_oom(r);
    for (int i = 0; i < l->c; ++i) p->scales[i] = 1;
    p->bnst.scales = p->scales;
    p->bnst.biases = p->biases;
    p->bnst.rolling_mean = p->rolling_mean;
    p->bnst.rolling_variance = p->rolling_variance;
    layer_add_wfile(l, p->scales, (size_t)l->c, WF_BN_STATS);
    layer_add_wfile(l, p->rolling_mean, (size_t)l->c, WF_BN_STATS);
    layer_add_wfile(l, p->rolling_variance, (size_t)l->c, WF_BN_STATS);
    return 0;
}

static int batchnorm_forward(layer *l, layer_ctx *x)
{
    batchnorm_p *p = l->p;
    int spatial = l->w * l->h;
    x->be->copy(x->out, x->in, (size_t)x->batch * l->outputs);
    if (x->train) {
        x->be->bn_forward_train(&p->bnst, x->out, x->batch, spatial);
        if (sv_save(x, 0, x->out, (size_t)l->outputs, 0)) return -1;
    } else {
        x->be->bn_forward_infer(&p->bnst, x->out, x->batch, spatial);
    }
    x->be->bn_scale_shift(&p->bnst, x->out, x->batch, spatial);
    return 0;
}

static int batchnorm_backward(layer *l, layer_ctx *x)
{
    batchnorm_p *p = l->p;
    int spatial = l->w * l->h;
    size_t outs = (size_t)l->outputs;
    x->be->bn_backward_reset(&p->bnst);
    for (int b = 0; b < x->batch; ++b)
        x->be->bn_backward_sums(&p->bnst, x->delta + b * outs, sv_restore(x, 0, b, x->scratch[0]), spatial);
    x->be->bn_backward_params(&p->bnst, p->bias_grad, p->ps->grad);
    x->be->fill(p->bias_grad, (size_t)l->c, 0);
    for (int b = 0; b < x->batch; ++b)
        x->be->bn_backward_delta(&p->bnst, x->delta + b * outs, sv_restore(x, 0, b, x->scratch[0]), x->batch,
                          spatial);
    if (x->delta_in) x->be->axpy(x->delta_in, x->delta, outs * x->batch, 1);
    return 0;
}

static int batchnorm_resize(layer *l, network *net)
{
    (void)net;
    l->out_w = l->w; l->out_h = l->h; l->out_c = l->c;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->restore_floats = (size_t)l->outputs;
    return 0;
}

static void batchnorm_destroy(layer *l)
{
    batchnorm_p *p = l->p;
    if (!p) return;
    free(p->biases); free(p->bias_grad); free(p->rolling_mean); free(p->rolling_variance);
    bn_free(&p->bnst);
    free(p);
    l->p = NULL;
}

/* Device placement (place.h): every array the ops read or write. */
static void batchnorm_place(layer *l, place_ctx *pc)
{
    batchnorm_p *p = l->p;
    size_t c = (size_t)l->c;
    place_array(pc, &p->scales, c);
    place_array(pc, &p->biases, c);
    place_array(pc, &p->rolling_mean, c);
    place_array(pc, &p->rolling_variance, c);
    place_array(pc, &p->bias_grad, c);
    place_bn(pc, &p->bnst);
}

const layer_ops batchnorm_ops = {
    .name = "batchnorm", .type = LT_BATCHNORM, .parse = batchnorm_parse,
    .forward = batchnorm_forward, .backward = batchnorm_backward, .resize = batchnorm_resize,
    .destroy = batchnorm_destroy,
    .place = batchnorm_place,
};
