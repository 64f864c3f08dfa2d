#include "core/layer_common.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/network.h"
#include "memory/saved.h"

activation layer_read_activation(cfg_reader *r, activation def)
{
    int a = cfg_enum(r, "activation", activation_names, ACT_COUNT, (int)def);
    return (activation)a;
}

void layer_reject_key(cfg_reader *r, const char *key, const char *why)
{
    cfg_kv *kv = cfg_find(r, key);
    if (kv && strcmp(kv->val, "0") != 0) cfg_fail(r, key, "%s", why);
}

void layer_refuse_training_key(cfg_reader *r, network *net, const char *key, const char *why)
{
    cfg_kv *kv = cfg_find(r, key);
    if (!kv || strcmp(kv->val, "0") == 0 || net->train_refusal[0]) return;
    snprintf(net->train_refusal, sizeof(net->train_refusal),
             "%s:%d: [%s] %s=%s: not supported in training (%s); detection and evaluation work",
             r->path, kv->line, r->sec ? r->sec->type : "?", key, kv->val, why);
}

void layer_ignore_key(cfg_reader *r, const char *key, float def, const char *why)
{
    cfg_kv *kv = cfg_find(r, key);
    if (!kv) return;
    float v = cfg_float(r, key, def, -1e30f, 1e30f);
    if (!r->failed && v != def)
        fprintf(stderr, "%s:%d: [%s] %s=%s: not supported, ignored (%s)\n", r->path, kv->line,
                r->sec ? r->sec->type : "?", key, kv->val, why);
}

float *layer_read_anchors(cfg_reader *r, int total)
{
    float *a = NULL;
    int na = cfg_float_list(r, "anchors", &a);
    float *biases = r->failed ? NULL : malloc(sizeof(float) * 2 * (size_t)total);
    if (!biases) {
        free(a);
        if (!r->failed) layer_oom(r);
        return NULL;
    }
    for (int i = 0; i < 2 * total; ++i) biases[i] = i < na ? a[i] : .5f;
    free(a);
    if (na % 2 && na < 2 * total) {
        cfg_fail(r, "anchors", "has %d numbers, not w,h pairs (num=%d needs %d)", na, total, 2 * total);
        free(biases);
        return NULL;
    }
    if (na > 2 * total)
        fprintf(stderr, "%s:%d: [%s] anchors= has %d numbers; num=%d uses the first %d, the other %d "
                        "are ignored (as AlexeyAB's Darknet)\n",
                r->path, cfg_find(r, "anchors")->line, r->sec ? r->sec->type : "?", na, total,
                2 * total, na - 2 * total);
    return biases;
}

int layer_parse_from(layer *l, cfg_reader *r, const char *role)
{
    int *from = NULL;
    int n = cfg_int_list(r, "from", &from);
    if (n != 1) {
        if (!r->failed) {
            if (n == 0) cfg_fail(r, "from", "is required: the index of the layer to %s", role);
            else cfg_fail(r, "from", "must be a single layer index (lists are not supported)");
        }
        free(from);
        return -1;
    }
    int j = from[0] < 0 ? l->index + from[0] : from[0];
    free(from);
    if (j < 0 || j >= l->index) {
        cfg_fail(r, "from", "index out of range: layer %d can use layers 0..%d (or -1..-%d)", l->index,
                 l->index - 1, l->index);
        return -1;
    }
    int *src = realloc(l->src, 2 * sizeof(int));
    if (!src) return layer_oom(r);
    l->src = src;
    l->src[1] = j;
    l->nsrc = 2;
    return 0;
}

int layer_oom(cfg_reader *r)
{
    cfg_fail(r, NULL, "out of memory allocating the layer's parameters");
    return -1;
}

static size_t out_stride(const layer *l, const layer_ctx *x)
{
    return x->out_stride ? x->out_stride : (size_t)l->outputs;
}

static void activate_rows(const layer *l, const layer_ctx *x, float *out)
{
    size_t d = (size_t)l->outputs, st = out_stride(l, x);
    if (st == d) {
        x->be->activate(out, d * (size_t)x->batch, l->act);
        return;
    }
    for (int b = 0; b < x->batch; ++b) x->be->activate(out + (size_t)b * st, d, l->act);
}

int layer_activate_and_save(layer *l, layer_ctx *x, int slot, float *out, int has_bn)
{
    size_t d = (size_t)l->outputs, st = out_stride(l, x);
    if (!x->train || activation_is_identity(l->act)) {
        activate_rows(l, x, out);
        return 0;
    }
    if (activation_is_masked(l->act, NULL, NULL)) {
        activate_rows(l, x, out);
        return sv_save_mask_strided(x, slot, out, d, st, l->act);
    }
    if (!has_bn && sv_save_strided(x, slot, out, d, st, 0)) return -1;
    activate_rows(l, x, out);
    return 0;
}

void layer_activation_backward(layer *l, layer_ctx *x, int slot, int xhat_slot,
                               const bn_state *bn, int spatial)
{
    size_t outs = out_stride(l, x);
    if (activation_is_identity(l->act)) return;
    float g1, g0;
    if (activation_is_masked(l->act, &g1, &g0)) {
        for (int b = 0; b < x->batch; ++b) sv_mask_apply(x, slot, b, x->delta + b * outs, g1, g0);
        return;
    }
    for (int b = 0; b < x->batch; ++b) {
        const float *pre;
        if (bn) {
            x->be->bn_preact(bn, sv_restore(x, xhat_slot, b, x->scratch[0]), spatial, x->scratch[1]);
            pre = x->scratch[1];
        } else {
            pre = sv_restore(x, slot, b, x->scratch[0]);
        }
        x->be->gradient_from_input(pre, (size_t)l->outputs, l->act, x->delta + b * outs);
    }
}
