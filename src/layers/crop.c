/* [crop] (pjreddie): a random crop of crop_width x crop_height (the same offset and flip for
 * the whole mini-batch) in training, the centre crop otherwise; values become 2x-1 unless
 * noadjust=1. No backward (it sits on the input). */
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"
#include "core/rng.h"

typedef struct {
    int flip, noadjust;
    float scale_h, scale_w; /* crop size relative to the input, kept on resize */
} crop_p;

static int crop_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    crop_p *p = calloc(1, sizeof(crop_p));
    if (!p) return layer_oom(r);
    l->p = p;
    int ch = cfg_int(r, "crop_height", 1, 1, 1 << 16);
    int cw = cfg_int(r, "crop_width", 1, 1, 1 << 16);
    p->flip = cfg_int(r, "flip", 0, 0, 1);
    p->noadjust = cfg_int(r, "noadjust", 0, 0, 1);
    /* pjreddie applies these only in GPU training (forward_crop_layer_gpu). */
    layer_ignore_key(r, "angle", 0, "random rotation in [crop] is not implemented");
    layer_ignore_key(r, "saturation", 1, "random saturation in [crop] is not implemented");
    layer_ignore_key(r, "exposure", 1, "random exposure in [crop] is not implemented");
    layer_ignore_key(r, "shift", 0, "random shift in [crop] is not implemented");
    if (r->failed) return -1;
    if (ch > l->h || cw > l->w) {
        cfg_fail(r, "crop_width", "the crop %dx%d is larger than the input %dx%d", cw, ch, l->w, l->h);
        return -1;
    }
    l->out_w = cw;
    l->out_h = ch;
    l->out_c = l->c;
    p->scale_w = (float)cw / l->w;
    p->scale_h = (float)ch / l->h;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    return 0;
}

static int crop_forward(layer *l, layer_ctx *x)
{
    crop_p *p = l->p;
    int flip = 0, dh = (l->h - l->out_h) / 2, dw = (l->w - l->out_w) / 2;
    if (x->train) {
        rng_t g;
        rng_seed(&g, x->net->seed, (x->net->iteration << 16) ^ (uint64_t)(0xC0000 + l->index));
        flip = p->flip && (rng_u64(&g) & 1);
        dh = rng_int(&g, l->h - l->out_h + 1);
        dw = rng_int(&g, l->w - l->out_w + 1);
    }
    float scale = p->noadjust ? 1 : 2, trans = p->noadjust ? 0 : -1;
    x->be->crop(x->in, x->batch, l->c, l->h, l->w, l->out_h, l->out_w, dh, dw, flip, scale, trans,
                x->out);
    return 0;
}

static int crop_resize(layer *l, network *net)
{
    (void)net;
    crop_p *p = l->p;
    l->out_w = (int)(p->scale_w * l->w);
    l->out_h = (int)(p->scale_h * l->h);
    l->out_c = l->c;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    return l->out_w > 0 && l->out_h > 0 ? 0 : -1;
}

static void crop_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops crop_ops = {
    .name = "crop", .type = LT_CROP, .parse = crop_parse, .forward = crop_forward, .backward = NULL,
    .resize = crop_resize, .destroy = crop_destroy,
};
