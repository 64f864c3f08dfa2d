/* [convolutional]: the backend's convolution over the call's samples (conv_forward/
 * conv_backward: im2col + GEMM per group and sample on the CPU, one cuDNN call over the
 * batch on CUDA), optional batch norm, activation.
 *
 * Saved for backward (DESIGN.md table):
 *   slot 0: the input (kept alive at 32 bits, quantized otherwise)
 *   slot 1: x-hat when batch_normalize, unless it is rebuilt from slot 0 (xhat_rebuilt)
 *   slot 2: the activation's 1-bit mask, or its input when the activation is not
 *           two-valued and there is no batch norm to recompute it from. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/conv_gemm.h"
#include "core/layer_common.h"
#include "core/network.h"
#include "core/rng.h"
#include "memory/saved.h"
#include "core/place.h"

enum { SV_IN, SV_XHAT, SV_ACT };

typedef struct {
    int n, size, stride, pad, groups, bn;
    size_t nweights;
    float *weights, *biases, *scales;
    float *rolling_mean, *rolling_variance;
    bn_state bnst;
    param *pw, *pb, *ps;
} conv_p;

/* The backend's view of one sample's convolution (the batch is dn_conv_batch's). */
static dn_conv_shape conv_dims(const layer *l)
{
    const conv_p *p = l->p;
    dn_conv_shape s = {l->c, l->h, l->w, p->n, p->size, p->stride, p->pad, p->groups,
                       l->out_h, l->out_w};
    return s;
}

static void conv_shape(layer *l)
{
    conv_p *p = l->p;
    l->out_w = dn_conv_out_side(l->w, p->size, p->stride, p->pad);
    l->out_h = dn_conv_out_side(l->h, p->size, p->stride, p->pad);
    l->out_c = p->n;
    l->inputs = l->w * l->h * l->c;
    l->outputs = l->out_w * l->out_h * l->out_c;
    l->flops = 2.0 * p->n * p->size * p->size * (l->c / p->groups) * (double)l->out_w * l->out_h;
    dn_conv_shape s = conv_dims(l);
    l->workspace = dn_conv_ws_bytes(&s);
    l->restore_floats = (size_t)(l->inputs > l->outputs ? l->inputs : l->outputs);
}

static int conv_read(layer *l, cfg_reader *r, conv_p *p)
{
    p->n = cfg_int(r, "filters", 1, 1, 1 << 20);
    p->size = cfg_int(r, "size", 1, 1, 4096);
    p->stride = cfg_int(r, "stride", 1, 1, 4096);
    int sx = cfg_int(r, "stride_x", p->stride, 1, 4096), sy = cfg_int(r, "stride_y", p->stride, 1, 4096);
    if (sx != p->stride || sy != p->stride)
        cfg_fail(r, "stride_x", "different stride_x/stride_y are not supported; use stride");
    int pad = cfg_int(r, "pad", 0, 0, 1);
    p->pad = cfg_int(r, "padding", 0, 0, 4096);
    if (pad) p->pad = p->size / 2;
    p->groups = cfg_int(r, "groups", 1, 1, 1 << 20);
    p->bn = cfg_int(r, "batch_normalize", 0, 0, 1);
    l->act = layer_read_activation(r, ACT_LOGISTIC);
    layer_reject_key(r, "binary", "binary weights are not supported");
    layer_reject_key(r, "xnor", "xnor is not supported");
    if (cfg_int(r, "dilation", 1, 1, 1) != 1) return -1;
    layer_reject_key(r, "antialiasing", "antialiasing is not supported");
    layer_reject_key(r, "share_index", "share_index is not supported");
    if (r->failed) return -1;
    if (l->c % p->groups || p->n % p->groups) {
        cfg_fail(r, "groups", "must divide the input channels (%d) and filters (%d)", l->c, p->n);
        return -1;
    }
    if (l->w + 2 * p->pad < p->size || l->h + 2 * p->pad < p->size) {
        cfg_fail(r, "size", "kernel %d is larger than the padded input %dx%d", p->size, l->w, l->h);
        return -1;
    }
    return 0;
}

static int conv_params(layer *l, network *net, conv_p *p)
{
    p->nweights = (size_t)(l->c / p->groups) * p->n * p->size * p->size;
    p->biases = layer_alloc_param(l, (size_t)p->n, 0);
    p->pb = &l->params[l->nparams - 1];
    if (p->bn) {
        p->scales = layer_alloc_param(l, (size_t)p->n, 0);
        p->ps = &l->params[l->nparams - 1];
    }
    p->weights = layer_alloc_param(l, p->nweights, 1);
    p->pw = &l->params[l->nparams - 1];
    if (!p->biases || !p->weights || (p->bn && !p->scales)) return -1;
    layer_add_wfile(l, p->biases, (size_t)p->n, 0);
    if (p->bn) {
        p->rolling_mean = calloc((size_t)p->n, sizeof(float));
        p->rolling_variance = calloc((size_t)p->n, sizeof(float));
        if (!p->rolling_mean || !p->rolling_variance || bn_alloc(&p->bnst, p->n)) return -1;
        for (int i = 0; i < p->n; ++i) p->scales[i] = 1;
        p->bnst.scales = p->scales;
        p->bnst.biases = p->biases;
        p->bnst.rolling_mean = p->rolling_mean;
        p->bnst.rolling_variance = p->rolling_variance;
        layer_add_wfile(l, p->scales, (size_t)p->n, WF_BN_STATS);
        layer_add_wfile(l, p->rolling_mean, (size_t)p->n, WF_BN_STATS);
        layer_add_wfile(l, p->rolling_variance, (size_t)p->n, WF_BN_STATS);
    }
    layer_add_wfile(l, p->weights, p->nweights, 0);
    rng_t g;
    rng_seed(&g, net->seed, 0x1000 + (uint64_t)l->index);
    float scale = sqrtf(2.f / (p->size * p->size * l->c / p->groups));
    for (size_t i = 0; i < p->nweights; ++i) p->weights[i] = scale * rng_normal(&g);
    return 0;
}

static int conv_parse(layer *l, cfg_reader *r, network *net)
{
    conv_p *p = calloc(1, sizeof(conv_p));
    if (!p) return layer_oom(r);
    l->p = p;
    if (conv_read(l, r, p)) return -1;
    conv_shape(l);
    if (l->out_w < 1 || l->out_h < 1) {
        cfg_fail(r, "size", "output would be empty for a %dx%d input", l->w, l->h);
        return -1;
    }
    l->keeps_input = 1;
    l->batch_stats = p->bn;
    l->streams = 1;
    l->strided = 1;
    if (conv_params(l, net, p)) return layer_oom(r);
    return 0;
}

/* Floats between samples of in/delta_in and of out/delta (layer.h: zero-copy routes). */
static size_t in_st(const layer *l, const layer_ctx *x)
{
    return x->in_stride ? x->in_stride : (size_t)l->inputs;
}

static size_t out_st(const layer *l, const layer_ctx *x)
{
    return x->out_stride ? x->out_stride : (size_t)l->outputs;
}

/* Workspace bytes the backend's convolution may use: the network's workspace, capped by
 * workspace_size_limit_MB (AlexeyAB's cap on cuDNN's algorithms) but never below this
 * layer's own columns (what im2col + gemm needs; always allocated). */
static size_t conv_ws_avail(const layer_ctx *x, const dn_conv_shape *s)
{
    size_t cap = (size_t)x->net->workspace_limit_mb << 20, own = dn_conv_ws_bytes(s);
    size_t avail = x->ws_bytes < cap ? x->ws_bytes : cap;
    return avail > own ? avail : own;
}

/* out = conv(in, W) for one packed sample (the x-hat rebuild). */
static void conv_sample(layer *l, layer_ctx *x, const float *in, float *out)
{
    dn_conv_shape s = conv_dims(l);
    dn_conv_batch one = dn_conv_packed(&s, 1);
    x->be->conv_forward(&s, &one, in, ((conv_p *)l->p)->weights, out, x->ws,
                        conv_ws_avail(x, &s));
}

/* out(b) = conv(in(b), W) for every sample, in one backend call. */
static void conv_gemm_forward(layer *l, layer_ctx *x)
{
    dn_conv_shape s = conv_dims(l);
    dn_conv_batch bt = {x->batch, in_st(l, x), out_st(l, x)};
    x->be->conv_forward(&s, &bt, x->in, ((conv_p *)l->p)->weights, x->out, x->ws,
                        conv_ws_avail(x, &s));
}

/* Multiply-adds per output value up to which x-hat is rebuilt rather than saved: each
 * backward pass that reads x-hat then runs one more forward GEMM of the sample (two per
 * iteration), so only cheap layers qualify (yolov3-tiny: layers 0 and 2, k = 27 and 144,
 * 1.07 of the 3.25 MiB saved per 416x416 image at 2 bits; about 6% more arithmetic). */
#define XHAT_REBUILD_MAX_K 160

/* x-hat is not saved but rebuilt in backward from the saved input: conv and normalization
 * with the mini-batch's statistics are affine, so from the unbiased restored input the
 * rebuilt x-hat is unbiased as well, and with an exact (32-bit) input it is the forward's
 * x-hat bit for bit on the CPU (the same GEMM on the same sample, the same normalization;
 * cuDNN may pick another algorithm for one sample than for the batch, so on CUDA it is
 * the same within float rounding).
 * Batch norm's backward multiplies x-hat by sums over x-hat, so its gradient has a
 * second-order bias that grows with the covariance of x-hat's noise; a rebuilt x-hat's
 * noise is correlated (the conv mixes each restored input value into many outputs), and
 * test_actnn_train's 2-bit conv+BN stack went past its bound with it (max z 6.28 > 6.08).
 * So it is off by default until that is understood.
 * actnn_xhat_rebuild in [net]: 0 (default) never; -1 for compressed layers with batch
 * norm, a masked or identity activation (no x-hat needed to rebuild the activation's
 * input) and k <= XHAT_REBUILD_MAX_K; 1 for every such layer whatever its bits and k. */
static int xhat_rebuilt(const layer *l, const network *net)
{
    const conv_p *p = l->p;
    int k = p->size * p->size * l->c / p->groups, mode = net->actnn_xhat_rebuild;
    if (!p->bn || mode == 0) return 0;
    if (!activation_is_identity(l->act) && !activation_is_masked(l->act, NULL, NULL)) return 0;
    return mode > 0 || (l->bits < 32 && k <= XHAT_REBUILD_MAX_K);
}

/* Sample b's x-hat in backward: restored, or rebuilt into scratch[1]. */
static const float *conv_xhat(layer *l, layer_ctx *x, int b)
{
    conv_p *p = l->p;
    if (!xhat_rebuilt(l, x->net)) return sv_restore(x, SV_XHAT, b, x->scratch[0]);
    conv_sample(l, x, sv_restore(x, SV_IN, b, x->scratch[0]), x->scratch[1]);
    x->be->bn_normalize(&p->bnst, x->scratch[1], 1, l->out_w * l->out_h);
    return x->scratch[1];
}

static int conv_xslot(layer *l, layer_ctx *x) { return xhat_rebuilt(l, x->net) ? -1 : SV_XHAT; }

/* actnn_auto's x-hat ranges taken in the statistics pass (the backend's
 * bn_stats_add_minmax), so the bits are known before x-hat is ever written: ws holds
 * `per` floats per sample, then the groups' x-hat minima and maxima (ng per sample each),
 * in one allocation; NULL when not wanted or not possible. */
typedef struct {
    float *ws, *lo, *hi;
    size_t group, per, ng;
} conv_ranges;

static conv_ranges conv_ranges_make(layer *l, layer_ctx *x)
{
    conv_ranges rg = {0};
    if (!x->be->bn_stats_add_minmax || !x->be->bn_train_fused || !x->be->bn_xhat_fused) return rg;
    rg.group = sv_fused_range_group(x, conv_xslot(l, x));
    if (!rg.group) return rg;
    size_t B = (size_t)x->batch;
    rg.per = dn_bn_range_ws_floats(l->out_c, l->out_w * l->out_h, rg.group);
    rg.ng = ((size_t)l->outputs + rg.group - 1) / rg.group;
    rg.ws = malloc(B * (rg.per + 2 * rg.ng) * sizeof(float)); /* NULL: x-hat is measured */
    rg.lo = rg.ws ? rg.ws + B * rg.per : NULL;
    rg.hi = rg.ws ? rg.lo + B * rg.ng : NULL;
    return rg;
}

/* The call's group ranges of x-hat from the statistics pass's extremes, and the entries
 * they choose the bits of (sv_fused_ranges). */
static int conv_ranges_save(layer *l, layer_ctx *x, const conv_ranges *rg, sv_fused *f)
{
    conv_p *p = l->p;
    for (size_t b = 0; b < (size_t)x->batch; ++b)
        x->be->bn_xhat_group_ranges(&p->bnst, rg->ws + b * rg->per, l->out_w * l->out_h,
                                    rg->group, rg->lo + b * rg->ng, rg->hi + b * rg->ng);
    return sv_fused_ranges(f, rg->lo, rg->hi);
}

/* Training forward after the statistics, in one pass over each sample's output: x-hat,
 * its save, scale, shift, activation and its mask (bn_train_fused, sv_fused_sink). Under
 * actnn_auto the bits come from the whole x-hat: a pass writes x-hat, its ranges choose
 * the bits, then one pass does the rest (bn_xhat_fused). Returns 1 when the store needs
 * the separate passes (sv_fused_begin), else 0 or -1. */
static int conv_post_fused(layer *l, layer_ctx *x, const conv_ranges *rg)
{
    conv_p *p = l->p;
    int xslot = conv_xslot(l, x);
    int mslot = activation_is_masked(l->act, NULL, NULL) ? SV_ACT : -1;
    int spatial = l->out_w * l->out_h;
    size_t os = out_st(l, x);
    sv_fused f;
    int r = sv_fused_begin(x, xslot, mslot, (size_t)l->outputs, l->act, x->be->bn_xhat_fused != NULL, &f);
    if (r <= 0) return r < 0 ? -1 : 1;
    if (f.from_xhat && rg->ws && conv_ranges_save(l, x, rg, &f)) return -1;
    if (f.from_xhat) {
        for (int b = 0; b < x->batch; ++b) x->be->bn_normalize(&p->bnst, x->out + b * os, 1, spatial);
        if (sv_fused_xhat(&f, x->out, os)) return -1;
    }
    for (int b = 0; b < x->batch; ++b) {
        sv_fused_sample(&f, b);
        (f.from_xhat ? x->be->bn_xhat_fused : x->be->bn_train_fused)(
            &p->bnst, x->out + b * os, spatial, l->act, f.block, sv_fused_sink, &f);
    }
    return sv_fused_end(&f);
}

/* Batch norm (with the batch's statistics, or those of a finished statistics pass when
 * `known`), bias, activation, and what backward needs, for the samples of the call. */
static int conv_post(layer *l, layer_ctx *x, int known)
{
    conv_p *p = l->p;
    int spatial = l->out_w * l->out_h, B = x->batch;
    size_t os = out_st(l, x);
    float *o = x->out;
    if (!p->bn) {
        for (int b = 0; b < B; ++b) x->be->add_bias(o + b * os, p->biases, 1, p->n, spatial);
        return layer_activate_and_save(l, x, SV_ACT, x->out, 0);
    }
    /* Sample by sample (the buffer may be strided); the sums run in the same order as
     * bn_forward_train's, so the numbers are the same. */
    conv_ranges rg = {0};
    if (x->train && !known) {
        rg = conv_ranges_make(l, x);
        x->be->bn_stats_begin(&p->bnst);
        for (int b = 0; b < B; ++b)
            if (rg.ws) x->be->bn_stats_add_minmax(&p->bnst, o + b * os, spatial, rg.group, rg.ws + b * rg.per);
            else x->be->bn_stats_add(&p->bnst, o + b * os, 1, spatial);
        x->be->bn_stats_end(&p->bnst, (double)B * spatial);
    }
    if (x->train && x->be->bn_train_fused) {
        int r = conv_post_fused(l, x, &rg);
        free(rg.ws);
        if (r <= 0) return r;
    } else {
        free(rg.ws);
    }
    for (int b = 0; b < B; ++b) {
        if (x->train) x->be->bn_normalize(&p->bnst, o + b * os, 1, spatial);
        else x->be->bn_forward_infer(&p->bnst, o + b * os, 1, spatial);
    }
    if (x->train && !xhat_rebuilt(l, x->net) && sv_save_strided(x, SV_XHAT, o, (size_t)l->outputs, os, 0))
        return -1;
    if (x->be->bn_scale_shift_act) {
        /* One pass for scale, shift and activation; with batch norm only a two-valued
         * activation saves anything (its mask; others are rebuilt from x-hat), as in
         * layer_activate_and_save. */
        for (int b = 0; b < B; ++b) x->be->bn_scale_shift_act(&p->bnst, o + b * os, spatial, l->act);
        if (!x->train || !activation_is_masked(l->act, NULL, NULL)) return 0;
        return sv_save_mask_strided(x, SV_ACT, o, (size_t)l->outputs, os, l->act);
    }
    for (int b = 0; b < B; ++b) x->be->bn_scale_shift(&p->bnst, o + b * os, 1, spatial);
    return layer_activate_and_save(l, x, SV_ACT, x->out, 1);
}

/* Passes: layer.h layer_pass. A streamed consumer's input is a chunk buffer that is gone
 * by backward, so it is never kept alive, only saved. */
static int conv_forward(layer *l, layer_ctx *x)
{
    conv_p *p = l->p;
    int spatial = l->out_w * l->out_h;
    switch (x->pass) {
    case PASS_STATS:
        if (!p->bn) return 0;
        if (x->b0 == 0) x->be->bn_stats_begin(&p->bnst);
        conv_gemm_forward(l, x);
        /* sample by sample: a streamed member may be a zero-copy route slice (strided) */
        for (int b = 0; b < x->batch; ++b) x->be->bn_stats_add(&p->bnst, x->out + b * out_st(l, x), 1, spatial);
        if (x->b0 + x->batch == x->total) x->be->bn_stats_end(&p->bnst, (double)x->total * spatial);
        return 0;
    case PASS_POST:
        return conv_post(l, x, 0);
    default: break;
    }
    int alive = x->pass != PASS_CHUNK;
    if (x->train && sv_save_strided(x, SV_IN, x->in, (size_t)l->inputs, in_st(l, x), alive)) return -1;
    conv_gemm_forward(l, x);
    if (x->pass == PASS_CHUNK) return 0;
    return conv_post(l, x, x->pass == PASS_APPLY);
}

/* The input gradient of every sample, in one backend call: it needs only the delta and
 * the weights, not the saved input. */
static void conv_backward_data(layer *l, layer_ctx *x)
{
    dn_conv_shape s = conv_dims(l);
    dn_conv_batch bt = {x->batch, in_st(l, x), out_st(l, x)};
    x->be->conv_backward(&s, &bt, NULL, x->delta, ((conv_p *)l->p)->weights, NULL, x->delta_in,
                         x->ws, conv_ws_avail(x, &s));
}

/* The weight gradient, sample by sample in sample order: each sample's input is restored
 * (dequantized) into the one-sample scratch first. -1 when a restore failed. */
static int conv_backward_filter(layer *l, layer_ctx *x)
{
    conv_p *p = l->p;
    dn_conv_shape s = conv_dims(l);
    dn_conv_batch one = dn_conv_packed(&s, 1);
    size_t outs = out_st(l, x);
    for (int b = 0; b < x->batch; ++b) {
        const float *in = sv_restore(x, SV_IN, b, x->scratch[0]);
        if (!in) return -1;
        x->be->conv_backward(&s, &one, in, x->delta + b * outs, p->weights, p->pw->grad, NULL,
                             x->ws, conv_ws_avail(x, &s));
    }
    return 0;
}

/* Activation backward, then the bias gradient (no batch norm) or the batch-norm passes
 * asked for, over the call's samples: `sums` accumulates the channel sums (reset at the
 * mini-batch's first sample, parameter gradients after its last), `delta` turns x->delta
 * into the input delta. A whole batch does both; a streamed producer's chunk (layer.h)
 * does one per pass, its delta rebuilt for each, so the mask applies again. */
static void conv_backward_norm(layer *l, layer_ctx *x, int sums, int delta)
{
    conv_p *p = l->p;
    int spatial = l->out_w * l->out_h;
    size_t outs = out_st(l, x);
    layer_activation_backward(l, x, SV_ACT, p->bn ? SV_XHAT : -1, p->bn ? &p->bnst : NULL, spatial);
    if (!p->bn) {
        for (int b = 0; b < x->batch; ++b)
            x->be->backward_bias(p->pb->grad, x->delta + b * outs, 1, p->n, spatial);
        return;
    }
    /* a restored x-hat is fetched block by block inside the batch-norm passes */
    int part = !xhat_rebuilt(l, x->net) && x->be->bn_backward_sums_src &&
               x->be->bn_backward_delta_src;
    if (sums) {
        if (x->b0 == 0) x->be->bn_backward_reset(&p->bnst);
        for (int b = 0; b < x->batch; ++b) {
            sv_src src = {x, SV_XHAT, b};
            float *d = x->delta + b * outs;
            if (part) x->be->bn_backward_sums_src(&p->bnst, d, spatial, sv_src_block, &src);
            else x->be->bn_backward_sums(&p->bnst, d, conv_xhat(l, x, b), spatial);
        }
        if (x->b0 + x->batch == x->total) x->be->bn_backward_params(&p->bnst, p->pb->grad, p->ps->grad);
    }
    if (delta)
        for (int b = 0; b < x->batch; ++b) {
            sv_src src = {x, SV_XHAT, b};
            float *d = x->delta + b * outs;
            if (part) x->be->bn_backward_delta_src(&p->bnst, d, x->total, spatial, sv_src_block, &src);
            else x->be->bn_backward_delta(&p->bnst, d, conv_xhat(l, x, b), x->total, spatial);
        }
}

static int conv_backward(layer *l, layer_ctx *x)
{
    size_t outs = out_st(l, x);
    if (x->pass == PASS_FULL || x->pass == PASS_PRE) conv_backward_norm(l, x, 1, 1);
    else if (x->pass == PASS_SUMS) conv_backward_norm(l, x, 1, 0);
    else if (x->pass == PASS_APPLY) conv_backward_norm(l, x, 0, 1);
    if (x->pass == PASS_PRE || x->pass == PASS_SUMS) return 0;
    conv_p *p = l->p;
    /* actnn_auto: ActNN's weight K/(4 groups) * G/I for this input's quantization noise */
    double k = (double)p->size * p->size / (4.0 * p->groups * l->w * l->h);
    sv_note_grad(x, SV_IN, k, x->delta, (size_t)l->outputs, outs);
    if (p->bn && !xhat_rebuilt(l, x->net)) sv_follow(x, SV_XHAT, SV_IN);
    if (x->delta_in) conv_backward_data(l, x);
    return x->param_grads ? conv_backward_filter(l, x) : 0;
}

static int conv_resize(layer *l, network *net)
{
    (void)net;
    conv_shape(l);
    return l->out_w >= 1 && l->out_h >= 1 ? 0 : -1;
}

static void conv_destroy(layer *l)
{
    conv_p *p = l->p;
    if (!p) return;
    free(p->rolling_mean);
    free(p->rolling_variance);
    bn_free(&p->bnst);
    free(p);
    l->p = NULL;
}

/* Device placement (place.h): every array the ops read or write. */
static void conv_place(layer *l, place_ctx *pc)
{
    conv_p *p = l->p;
    place_array(pc, &p->weights, p->nweights);
    place_array(pc, &p->biases, (size_t)p->n);
    place_array(pc, &p->scales, (size_t)p->n);
    place_array(pc, &p->rolling_mean, (size_t)p->n);
    place_array(pc, &p->rolling_variance, (size_t)p->n);
    if (p->bn) place_bn(pc, &p->bnst);
}

const layer_ops convolutional_ops = {
    .name = "convolutional",
    .type = LT_CONVOLUTIONAL,
    .parse = conv_parse,
    .forward = conv_forward,
    .backward = conv_backward,
    .resize = conv_resize,
    .destroy = conv_destroy,
    .place = conv_place,
};
