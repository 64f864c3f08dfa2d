/* [maxpool] (pjreddie): window starts at -padding/2, cells outside count as -FLT_MAX,
 * out = (w + padding - size)/stride + 1. Backward needs only where the maximum was: the
 * position inside the window, ceil(log2(size*size)) bits per output, saved as codes. */
#include <stdint.h>
#include <stdlib.h>

#include "core/layer_common.h"
#include "core/network.h"
#include "memory/saved.h"

typedef struct {
    int size, stride, pad, code_bits;
} maxpool_p;

static int code_width(int cells)
{
    int b = 1;
    while ((1 << b) < cells) ++b;
    return b;
}

static void maxpool_shape(layer *l)
{
    maxpool_p *p = l->p;
    l->out_w = (l->w + p->pad - p->size) / p->stride + 1;
    l->out_h = (l->h + p->pad - p->size) / p->stride + 1;
    l->out_c = l->c;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    /* one sample's codes are built in the workspace, then saved */
    l->workspace = (size_t)l->outputs;
    l->restore_floats = (size_t)l->outputs / sizeof(float) + 1;
}

static int maxpool_parse(layer *l, cfg_reader *r, network *net)
{
    (void)net;
    maxpool_p *p = calloc(1, sizeof(maxpool_p));
    if (!p) return layer_oom(r);
    l->p = p;
    p->stride = cfg_int(r, "stride", 1, 1, 4096);
    /* the argmax inside a window is saved for backward in at most 8 bits: 16 x 16 windows */
    p->size = cfg_int(r, "size", p->stride, 1, 16);
    p->pad = cfg_int(r, "padding", p->size - 1, 0, 4096);
    if (cfg_int(r, "stride_x", p->stride, 1, 4096) != p->stride ||
        cfg_int(r, "stride_y", p->stride, 1, 4096) != p->stride)
        cfg_fail(r, "stride_x", "different stride_x/stride_y are not supported; use stride");
    layer_reject_key(r, "maxpool_depth", "maxpool_depth is not supported");
    layer_reject_key(r, "antialiasing", "antialiasing is not supported");
    if (r->failed) return -1;
    p->code_bits = code_width(p->size * p->size);
    l->streams = 1;
    maxpool_shape(l);
    if (l->out_w < 1 || l->out_h < 1) {
        cfg_fail(r, "size", "output would be empty for a %dx%d input", l->w, l->h);
        return -1;
    }
    return 0;
}

/* Per sample, so it also serves the chunks of a streamed pair (nothing for PASS_POST). */
static int maxpool_forward(layer *l, layer_ctx *x)
{
    maxpool_p *p = l->p;
    if (x->pass == PASS_POST) return 0;
    for (int b = 0; b < x->batch; ++b) {
        x->be->maxpool_forward(x->in + (size_t)b * l->inputs, 1, l->c, l->h, l->w, p->size, p->stride,
                               p->pad, x->out + (size_t)b * l->outputs, x->ws);
        if (x->train && sv_save_codes(x, 0, b, x->ws, (size_t)l->outputs, p->code_bits)) return -1;
    }
    return 0;
}

static int maxpool_backward(layer *l, layer_ctx *x)
{
    if (!x->delta_in || x->pass == PASS_PRE) return 0;
    maxpool_p *p = l->p;
    for (int b = 0; b < x->batch; ++b) {
        const uint8_t *cd = sv_codes(x, 0, b, (uint8_t *)x->scratch[0]);
        x->be->maxpool_backward(x->delta + (size_t)b * l->outputs, cd, 1, l->c, l->h, l->w, p->size,
                                p->stride, p->pad, x->delta_in + (size_t)b * l->inputs);
    }
    return 0;
}

static int maxpool_resize(layer *l, network *net)
{
    (void)net;
    maxpool_shape(l);
    return l->out_w >= 1 && l->out_h >= 1 ? 0 : -1;
}

static void maxpool_destroy(layer *l) { free(l->p); l->p = NULL; }

const layer_ops maxpool_ops = {
    .name = "maxpool", .type = LT_MAXPOOL, .parse = maxpool_parse, .forward = maxpool_forward,
    .backward = maxpool_backward, .resize = maxpool_resize, .destroy = maxpool_destroy,
};
