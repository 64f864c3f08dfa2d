/* [shortcut] (pjreddie): out = act(alpha * prev + beta * from), where `from` is resampled
 * (stride or repeat) when sizes differ and only min(c1, c2) channels are added. Saved: the
 * activation's mask or input (slot 0). */
#include <stdlib.h>
#include <string.h>

#include "core/layer_common.h"
#include "core/network.h"
#include "memory/saved.h"

typedef struct {
    float alpha, beta;
    int fw, fh, fc; /* shape of the `from` layer */
} shortcut_p;

static int shortcut_shape(layer *l, network *net)
{
    shortcut_p *p = l->p;
    const layer *f = &net->layers[l->src[1]];
    p->fw = f->out_w;
    p->fh = f->out_h;
    p->fc = f->out_c;
    l->out_w = l->w;
    l->out_h = l->h;
    l->out_c = l->c;
    l->inputs = l->outputs = l->w * l->h * l->c;
    l->restore_floats = (size_t)l->outputs;
    return 0;
}

static int shortcut_parse(layer *l, cfg_reader *r, network *net)
{
    shortcut_p *p = calloc(1, sizeof(shortcut_p));
    if (!p) return layer_oom(r);
    l->p = p;
    if (layer_parse_from(l, r, "add")) return -1;
    l->act = layer_read_activation(r, ACT_LINEAR);
    p->alpha = cfg_float(r, "alpha", 1, -1e6f, 1e6f);
    p->beta = cfg_float(r, "beta", 1, -1e6f, 1e6f);
    layer_reject_key(r, "weights_type", "weighted shortcut is not supported");
    if (r->failed) return -1;
    return shortcut_shape(l, net);
}

static int shortcut_forward(layer *l, layer_ctx *x)
{
    shortcut_p *p = l->p;
    x->be->copy(x->out, x->ins[0], (size_t)x->batch * l->outputs);
    x->be->shortcut_add(x->batch, p->fw, p->fh, p->fc, x->ins[1], l->out_w, l->out_h, l->out_c,
                        p->alpha, p->beta, x->out);
    return layer_activate_and_save(l, x, 0, x->out, 0);
}

static int shortcut_backward(layer *l, layer_ctx *x)
{
    shortcut_p *p = l->p;
    layer_activation_backward(l, x, 0, -1, NULL, 0);
    size_t n = (size_t)x->batch * l->outputs;
    if (x->delta_ins[0]) x->be->axpy(x->delta_ins[0], x->delta, n, p->alpha);
    if (x->delta_ins[1])
        x->be->shortcut_add(x->batch, l->out_w, l->out_h, l->out_c, x->delta, p->fw, p->fh, p->fc, 1,
                            p->beta, x->delta_ins[1]);
    return 0;
}

static int shortcut_resize(layer *l, network *net) { return shortcut_shape(l, net); }

static void shortcut_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops shortcut_ops = {
    .name = "shortcut", .type = LT_SHORTCUT, .parse = shortcut_parse, .forward = shortcut_forward,
    .backward = shortcut_backward, .resize = shortcut_resize, .destroy = shortcut_destroy,
};
