/* [dropout]: in training, zero with probability p and scale the rest by 1/(1-p). Nothing is
 * stored: the mask is regenerated from a seed in backward. */
#include <stdlib.h>
#include <string.h>

#include "core/layer_common.h"
#include "core/network.h"
#include "memory/saved.h"

typedef struct {
    float p;
} dropout_p;

static int dropout_shape(layer *l)
{
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->out_w = l->w; l->out_h = l->h; l->out_c = l->c;
    l->restore_floats = (size_t)l->outputs;
    return 0;
}

static int dropout_parse(layer *l, cfg_reader *r, network *net)
{
    dropout_p *p = calloc(1, sizeof(dropout_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->p = cfg_float(r, "probability", .5f, 0, 0.999f);
    layer_refuse_training_key(r, net, "dropblock", "no DropBlock here; remove the key");
    if (r->failed) return -1;
    return dropout_shape(l);
}

static int dropout_forward(layer *l, layer_ctx *x)
{
    dropout_p *p = l->p;
    size_t n = (size_t)x->batch * l->outputs;
    x->be->copy(x->out, x->in, n);
    if (!x->train || p->p == 0) return 0;
    if (sv_dropout_begin(x, 0, (size_t)l->outputs, p->p)) return -1;
    for (int b = 0; b < x->batch; ++b) sv_dropout_apply(x, 0, b, x->out + (size_t)b * l->outputs);
    return 0;
}

static int dropout_backward(layer *l, layer_ctx *x)
{
    dropout_p *p = l->p;
    if (!x->delta_in) return 0;
    for (int b = 0; b < x->batch; ++b) {
        float *d = x->delta + (size_t)b * l->outputs;
        if (p->p != 0) sv_dropout_apply(x, 0, b, d);
        x->be->axpy(x->delta_in + (size_t)b * l->outputs, d, (size_t)l->outputs, 1);
    }
    return 0;
}

static int dropout_resize(layer *l, network *net)
{
    (void)net;
    return dropout_shape(l);
}

static void dropout_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops dropout_ops = {
    .name = "dropout", .type = LT_DROPOUT, .parse = dropout_parse, .forward = dropout_forward,
    .backward = dropout_backward, .resize = dropout_resize, .destroy = dropout_destroy,
};
