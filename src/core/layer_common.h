/* Helpers shared by layer implementations: cfg reading idioms and the activation
 * save/backward logic (mask for two-valued gradients, pre-activation otherwise). */
#ifndef DN_LAYER_COMMON_H
#define DN_LAYER_COMMON_H

#include "backend/bn_state.h"
#include "core/layer.h"

/* activation=name; an unknown name is an error listing the allowed ones. */
activation layer_read_activation(cfg_reader *r, activation def);
/* Errors when `key` is present and non-zero (features we do not implement). */
void layer_reject_key(cfg_reader *r, const char *key, const char *why);
/* A key that only training would use, not implemented here: inference ignores it (its
 * forward is the same with or without it) and training refuses to start, naming it
 * (net->train_refusal, network_prepare). Values "0" and absent are fine. */
void layer_refuse_training_key(cfg_reader *r, network *net, const char *key, const char *why);
/* A key Darknet defines that this build does not implement: a value other than def is
 * reported once per parse as `file:line: [section] key=value: not supported, ignored (why)`
 * on stderr; the cfg still loads (Darknet's own CPU code ignores most of these too, and
 * shipped cfgs set them). A malformed number is an error. */
void layer_ignore_key(cfg_reader *r, const char *key, float def, const char *why);
/* anchors= of a [yolo]/[region] with num=total: a malloc'd array of 2*total floats (pairs
 * not given stay .5). More numbers than that: the first 2*total are used and the rest
 * reported, as AlexeyAB's parser reads them (his cspx-p7-mish.cfg lists 20 pairs for
 * num=16); an odd count is an error. NULL with the error recorded in r. */
float *layer_read_anchors(cfg_reader *r, int total);
/* from= of [shortcut], [scale_channels] and [sam]: one layer index (negative: relative to
 * this layer), which becomes l->src[1] (l->nsrc = 2). `role` ends the message when it is
 * missing: "is required: the index of the layer to <role>". 0, or -1 with the error
 * recorded in r. */
int layer_parse_from(layer *l, cfg_reader *r, const char *role);
/* Records "out of memory" and returns -1. */
int layer_oom(cfg_reader *r);

/* Applies l->act to out (batch x l->outputs) and, when training, saves what the gradient
 * needs in `slot`: a mask, or the pre-activation (skipped when has_bn: it is recomputed
 * from x-hat). */
int layer_activate_and_save(layer *l, layer_ctx *x, int slot, float *out, int has_bn);
/* Multiplies x->delta by the activation gradient. With bn, the pre-activation is rebuilt as
 * xhat*scale+bias from xhat_slot (channels bn->n, `spatial` values each). */
void layer_activation_backward(layer *l, layer_ctx *x, int slot, int xhat_slot,
                               const bn_state *bn, int spatial);

#endif
