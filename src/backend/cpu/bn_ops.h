/* Batch normalisation arithmetic shared by [convolutional], [connected] and [batchnorm].
 * pjreddie's semantics: unbiased batch variance; forward normalises with
 * (x - mean) / (sqrt(var) + 1e-6); backward uses sqrt(var + 1e-5); rolling statistics move
 * by 0.01. Backward runs per sample from the saved x-hat (two passes: channel sums, then
 * the input delta), so it never needs a batch-sized copy of x. */
#ifndef DN_BN_OPS_H
#define DN_BN_OPS_H

#include <stddef.h>

#include "backend/activation_kind.h"
#include "backend/backend.h"
#include "backend/bn_state.h"

/* Training forward on x (batch x n x spatial): batch stats, rolling update, x <- x-hat.
 * Equal, bit for bit, to stats_begin + stats_add over the samples in order + stats_end +
 * normalize, which streamed layers use on chunks of samples. */
void bn_forward_train(bn_state *b, float *x, int batch, int spatial);
void bn_stats_begin(bn_state *b);
void bn_stats_add(bn_state *b, const float *x, int batch, int spatial);
/* actnn_auto's x-hat ranges without x-hat (backend.h bn_stats_add_minmax): one sample's
 * bn_stats_add (the same sums) that also keeps the extremes of every piece of a channel
 * inside a group of `group` values (ws: dn_bn_range_ws_floats floats); after bn_stats_end,
 * bn_xhat_group_ranges gives each group's x-hat minimum and maximum (ceil(n*spatial/group)
 * of each), exactly those of bn_normalize's values. */
void bn_stats_add_minmax(bn_state *b, const float *x, int spatial, size_t group, float *ws);
void bn_xhat_group_ranges(const bn_state *b, const float *ws, int spatial, size_t group,
                          float *lo, float *hi);
/* count = batch * spatial values per channel; sets mean/variance, moves the rolling ones. */
void bn_stats_end(bn_state *b, double count);
/* x <- (x - mean) / (sqrt(variance) + 1e-6) with the statistics of the last stats_end. */
void bn_normalize(const bn_state *b, float *x, int batch, int spatial);
/* Inference forward: x <- (x - rolling_mean) / (sqrt(rolling_var) + 1e-6). */
void bn_forward_infer(const bn_state *b, float *x, int batch, int spatial);
/* x <- x * scales + biases. */
void bn_scale_shift(const bn_state *b, float *x, int batch, int spatial);
void add_bias(float *x, const float *bias, int batch, int n, int spatial);
/* bias_updates[f] += sum of delta over the batch and spatial positions. */
void backward_bias(float *bias_updates, const float *delta, int batch, int n, int spatial);

/* Backward pass 1 for one sample: accumulates channel sums of delta and delta*xhat. */
void bn_backward_sums(bn_state *b, const float *delta, const float *xhat, int spatial);
/* After pass 1: adds the sums to the bias and scale gradients. */
void bn_backward_params(bn_state *b, float *bias_updates, float *scale_updates);
/* Backward pass 2 for one sample: delta <- d loss / d x (Darknet sign). */
void bn_backward_delta(const bn_state *b, float *delta, const float *xhat, int batch, int spatial);
/* The same two with x-hat fetched block by block (backend.h bn_backward_*_src). */
void bn_backward_sums_src(bn_state *b, const float *delta, int spatial, dn_block_src src,
                          void *ud);
void bn_backward_delta_src(const bn_state *b, float *delta, int batch, int spatial,
                           dn_block_src src, void *ud);
void bn_backward_reset(bn_state *b);
/* One sample's activation input after batch norm: pre = xhat * scales + biases. */
void bn_preact(const bn_state *b, const float *xhat, int spatial, float *pre);
/* One sample's training forward in one pass (backend.h bn_train_fused), and the same
 * from x-hat (bn_xhat_fused). */
void bn_xhat_fused(const bn_state *b, float *x, int spatial, activation a, size_t block,
                   dn_block_sink sink, void *ud);
void bn_train_fused(const bn_state *b, float *x, int spatial, activation a, size_t block,
                    dn_block_sink sink, void *ud);
/* One sample: x <- act(x * scale + bias) (backend.h bn_scale_shift_act). */
void bn_scale_shift_act(const bn_state *b, float *x, int spatial, activation a);

#endif
