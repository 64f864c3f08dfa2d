/* Saved activations: what a layer's backward needs, stored in forward and restored in
 * backward (DESIGN.md memory kind 3). Each layer has SV_SLOTS slots. Layers call these
 * functions only; how a slot is stored (kept fp32 buffer, fp32 copy, ActNN-quantized tensor,
 * bit mask, codes, dropout seed) is decided here from the layer's bits.
 *
 * Restores are per sample so backward scratch stays one sample large. */
#ifndef DN_SAVED_H
#define DN_SAVED_H

#include <stddef.h>
#include <stdint.h>

#include "backend/activation_kind.h"
#include "core/layer.h"

#define SV_SLOTS 4

typedef struct {
    size_t cur_bytes, peak_bytes;        /* stored (payload + metadata) */
    size_t cur_fp32_bytes, peak_fp32_bytes; /* what the same tensors take as fp32 */
    size_t alive_bytes;                  /* fp32 buffers kept alive instead of copied */
} saved_stats;

saved_store *saved_store_create(const network *net, char *err, size_t errlen);
void saved_store_free(saved_store *s);
/* Binds x->sv for layer x->l (called by the network before each forward/backward). */
void saved_bind(saved_store *s, layer_ctx *x);
/* Drops everything layer i saved. */
void saved_release_layer(saved_store *s, int i);
void saved_release_all(saved_store *s);
/* Returns the plugin pool's free blocks (and the C heap's free pages) to the system. */
void saved_trim(saved_store *s);
void saved_get_stats(const saved_store *s, saved_stats *st);
void saved_reset_peak(saved_store *s);
/* Starts a new iteration: changes the random stream of stochastic rounding and dropout. */
void saved_next_iteration(saved_store *s, uint64_t iteration);
/* Re-keys the plugin's random streams (tests average gradients over many seeds). */
void saved_set_seed(saved_store *s, uint64_t seed);
/* What the plugin context holds now (payload, metadata): cross-checks the accounting. */
int saved_plugin_stats(const saved_store *s, size_t *payload, size_t *meta);
/* Bytes sv_save stores for n samples of d floats at `bits` (0 when alive at 32 bits:
 * the plan keeps the buffer instead); lets reports plan without training. */
size_t saved_tensor_bytes(size_t n, size_t d, int bits, int alive, size_t group);

/* ---- used by layers in forward (only when x->train) ----
 * Sample indices are relative to the call: a streamed call (layer.h) covers samples
 * x->b0 .. x->b0 + x->batch - 1 of a mini-batch of x->total; its first chunk creates the
 * entry for the whole mini-batch and later chunks fill it. */
/* Saves batch x d floats at the layer's bits. alive=1 means data is a network buffer that
 * the plan keeps alive until this layer's backward (l->keeps_input): at 32 bits it is
 * referenced, not copied. Returns 0 or -1 (out of memory, message via saved_error). */
int sv_save(layer_ctx *x, int slot, const float *data, size_t d, int alive);
/* The same for samples `stride` floats apart (slices of a zero-copy route's buffer). */
int sv_save_strided(layer_ctx *x, int slot, const float *data, size_t d, size_t stride, int alive);
/* Saves the 1-bit gradient mask of a masked activation from its output y (batch x d). */
int sv_save_mask(layer_ctx *x, int slot, const float *y, size_t d, activation a);
int sv_save_mask_strided(layer_ctx *x, int slot, const float *y, size_t d, size_t stride,
                         activation a);
/* Saves one sample's d small integer codes of `width` bits (1..8); the first sample of
 * the mini-batch creates the entry, so call it for samples in order. */
int sv_save_codes(layer_ctx *x, int slot, int sample, const uint8_t *codes, size_t d, int width);
/* Dropout: stores only a seed; apply() zeroes with probability p and scales the rest by
 * 1/(1-p), the same way in forward and backward. */
int sv_dropout_begin(layer_ctx *x, int slot, size_t d, float p);
void sv_dropout_apply(layer_ctx *x, int slot, int sample, float *v);

/* Fused saving: a backend's bn_train_fused hands each block of a sample to sv_fused_sink
 * while it is in cache, which stores x-hat into slot `xslot` (at the layer's bits; -1:
 * not saved) and the activation's 1-bit mask into `mslot` (-1: none). The bytes are those
 * sv_save_strided and sv_save_mask_strided store for the same values. sv_fused_begin
 * returns 1 when the fused path applies (f is then set up and block is the block size to
 * use), 0 when the caller must save the usual way (a group larger than a block; actnn_auto
 * without xhat_op), -1 on error (saved_error). Per sample: sv_fused_sample, then the
 * backend op with sink and f; at the end sv_fused_end (0 or -1).
 * actnn_auto chooses each sample's bits from the whole x-hat's ranges, so f->from_xhat
 * is then set: the caller writes x-hat into the output first (bn_normalize), calls
 * sv_fused_xhat on it, and runs the backend's bn_xhat_fused (xhat_op: the backend has it)
 * instead of bn_train_fused. */
typedef struct {
    layer_ctx *x;
    void *t, *m;     /* the plugin's tensor and mask, or NULL */
    activation a;
    size_t sample;   /* index in the mini-batch */
    size_t block;
    int rc;          /* first plugin error of a sink call */
    int from_xhat;   /* actnn_auto: sv_fused_xhat, then bn_xhat_fused */
    int xslot, mslot;
    size_t d;
} sv_fused;
int sv_fused_begin(layer_ctx *x, int xslot, int mslot, size_t d, activation a, int xhat_op,
                   sv_fused *f);
/* f->from_xhat: the call's samples' x-hat (every sample's d values `stride` floats apart)
 * choose their bits; the entries are made. 0 or -1 (saved_error). */
int sv_fused_xhat(sv_fused *f, const float *xhat, size_t stride);
/* The same from the groups' x-hat extremes of the call's samples (lo, hi: x->batch times
 * ceil(d / group) floats, the backend's bn_xhat_group_ranges), so x-hat need not be
 * written first: the costs are those sv_fused_xhat computes from x-hat, and f->from_xhat
 * is cleared (bn_train_fused saves at the chosen bits). 0 or -1 (saved_error). */
int sv_fused_ranges(sv_fused *f, const float *lo, const float *hi);
/* The group size whose x-hat ranges sv_fused_ranges would take for a save into xslot (0:
 * none, the layer's bits are known without them). */
size_t sv_fused_range_group(const layer_ctx *x, int xslot);
void sv_fused_sample(sv_fused *f, int sample);
void sv_fused_sink(void *f, size_t j0, size_t len, const float *xhat, const float *y);
int sv_fused_end(sv_fused *f);

/* ---- used by layers in backward ---- */
/* Pointer to sample `sample`'s d floats: into the kept buffer, or restored into scratch. */
const float *sv_restore(layer_ctx *x, int slot, int sample, float *scratch);
/* Values [j0, j0 + len) of that sample: a pointer into the kept buffer or the exact
 * store, or restored into buf (len floats). Host buffers only (not on a device: NULL);
 * may be called from several threads at once. */
const float *sv_restore_part(layer_ctx *x, int slot, int sample, size_t j0, size_t len,
                             float *buf);
/* A dn_block_src (backend.h) over one sample of one slot: ud is an sv_src. */
typedef struct {
    layer_ctx *x;
    int slot, sample;
} sv_src;
const float *sv_src_block(void *ud, size_t j0, size_t len, float *buf);
/* delta[j] *= mask ? g1 : g0 for sample `sample`. */
void sv_mask_apply(layer_ctx *x, int slot, int sample, float *delta, float g1, float g0);
/* The codes of one sample (d bytes), into scratch when needed. */
const uint8_t *sv_codes(layer_ctx *x, int slot, int sample, uint8_t *scratch);

/* actnn_auto (saved_auto.c). In backward, a layer whose slot holds the input of its weight
 * gradient reports factor * mean over samples of ||delta||^2 (delta: d floats per sample,
 * `stride` apart), factor being its constant part of ActNN's variance weight, e.g.
 * K/(4 groups I) for a conv; the store multiplies in the group size. sv_follow ties a
 * slot to another's bits (batch-norm x-hat to its conv's input). No-ops unless the
 * per-layer allocation is on. */
void sv_note_grad(layer_ctx *x, int slot, double factor, const float *delta, size_t d,
                  size_t stride);
void sv_follow(layer_ctx *x, int slot, int lead);
/* Splits the budget (the configured bits, averaged over the values) between the slots
 * that reported, for a mini-batch of N; their later saves average the bits found.
 * Returns 0 or -1 (message via saved_error). */
int saved_auto_allocate(saved_store *s, size_t N);
/* The average bits the last allocation gave layer `layer`'s slot (0: none). */
double saved_auto_bits(const saved_store *s, int layer, int slot);

const char *saved_error(const saved_store *s);

/* ---- describing what a forward saved (memory reports plan from a batch-1 forward) ---- */
typedef enum { SAVED_NONE, SAVED_ALIVE, SAVED_TENSOR, SAVED_MASK, SAVED_CODES, SAVED_DROPOUT } saved_kind;
typedef struct {
    saved_kind kind;
    size_t d;    /* values per sample */
    int bits;    /* tensors: the layer's bits; codes: their width */
    int keep;    /* a tensor the plan keeps alive instead of copying at 32 bits */
    size_t shared;   /* values per sample borrowed from layer share_layer's save (d: the
                      * rest, what this slot stores; saved_internal.h "borrowing") */
    int share_layer;
} saved_desc;
/* Fills *out with what layer i's slot holds now; returns 0, or -1 when it holds nothing. */
int saved_describe(const saved_store *s, int i, int slot, saved_desc *out);
/* The stored bytes of a quantized tensor in layer i's slot (actnn_tensor_raw's layout), or
 * the words of a mask or codes (meta_bytes 0), in backend memory when on_device (a device
 * run whose backend has the act_* ops): tests compare them with the CPU's. 0, or -1 when
 * the slot holds none of those. */
typedef struct {
    const void *payload, *meta;
    size_t payload_bytes, meta_bytes;
    int on_device;
} saved_raw_bytes;
int saved_raw(const saved_store *s, int i, int slot, saved_raw_bytes *out);
/* Saves made in backend memory so far (act_save, act_mask_save, act_codes_save calls). */
size_t saved_device_saves(const saved_store *s);
/* Which path a device run took, per kind of saved_kind: backend calls that saved (dropout:
 * act_dropout calls), the copies staged through the host (any kind, both directions), and
 * act_sample_stats calls (actnn_auto's costs and gradient sums). */
typedef struct {
    size_t device[SAVED_DROPOUT + 1];
    size_t staged;
    size_t stats; /* actnn_auto's per-sample statistics computed by the backend */
    /* actnn_swap=1: blocks moved to the host and back, the host bytes' peak, the device
     * window's size, the peak of its live blocks and its backend allocations */
    size_t swap_outs, swap_ins, swap_host_peak, swap_window, swap_window_peak, swap_allocs;
    size_t swap_prefetches; /* blocks read that saved_prefetch had started bringing back */
    size_t xhat_ranges;     /* actnn_auto's x-hat costs from the statistics pass (sv_fused_ranges) */
} saved_paths;
void saved_get_paths(const saved_store *s, saved_paths *out);
/* 1 once after a restore could not bring a swapped block back (out of device memory; the
 * message via saved_error): the layer computed on garbage and backward must stop. */
int saved_take_failure(saved_store *s);
/* actnn_swap=1 on a device: starts bringing the blocks of layers lo..hi back from host
 * memory (the unit whose backward comes next, on window side `side`: plan_unit_parity of
 * lo), so the copies overlap the current unit's compute. No room in the window: they come
 * back at their first read instead. */
int saved_prefetch(saved_store *s, const dn_backend *be, int lo, int hi, int side);
/* Device pool (device runs): the bytes one training iteration of n samples takes in
 * backend memory, from the descriptors of a dry run (memreport_describe: s->n * SV_SLOTS
 * entries), each entry aligned as the pool hands it out; 0 on the host. With actnn_auto,
 * the most any per-layer allocation of the bits can make it (saved.c auto_slack). */
size_t saved_device_pool_bytes(const saved_store *s, const dn_backend *be, const saved_desc *desc,
                               size_t n);
/* The same for one layer's SV_SLOTS descriptors (the units of actnn_swap's window). */
size_t saved_device_layer_bytes(const saved_store *s, const dn_backend *be, const saved_desc *d,
                                size_t n);
/* Makes the pool `bytes` large now (when smaller), so the first iteration allocates
 * nothing either. 0, or -1 (message via saved_error) when out of device memory. */
int saved_pool_reserve(saved_store *s, const dn_backend *be, size_t bytes);
/* actnn_swap=1 on a device: makes the device window (swap_window.h) `bytes` large now, as
 * saved_pool_reserve does the pool (nothing without actnn_swap). 0, or -1 (message via
 * saved_error) when out of device memory. */
int saved_window_reserve(saved_store *s, const dn_backend *be, size_t bytes);
/* The device pool's size now (0: none), and back to `had` bytes after a planning dry run
 * (memreport), whose saves, one sample at the bits it plans, made or grew the pool to
 * their own bound when they were dropped: not what training asks, and on a device real
 * memory (a 32-bit dry run's pool was kept by the reservation that followed, which only
 * ever grows it). 0, or -1 (saved_error) when the pool cannot be made again. */
size_t saved_pool_bytes(const saved_store *s);
int saved_pool_restore(saved_store *s, size_t had);
/* actnn_auto on a device: makes the vector of per-sample statistics (act_sample_stats)
 * room for n samples now, and that of the gradient sums (one per layer and sample), so no
 * training step allocates them. 0 (also without actnn_auto), or -1 (message via
 * saved_error) when out of device memory. */
int saved_stats_reserve(saved_store *s, const dn_backend *be, size_t n);
/* actnn_auto on a device: the iteration's statistics, computed on the device as the
 * saves and the backward noted them (the saves' costs, sv_note_grad's gradient sums),
 * pulled at once (one pull each) and given to their slots in the order noted. The network
 * calls it when a backward ends, before the allocation reads them; nothing to do on the
 * CPU (its statistics are recorded as they come). */
void saved_stats_flush(saved_store *s);
/* The device bytes saved_stats_reserve takes for a mini-batch of n on a backend with
 * act_sample_stats and act_auto_bits (the CUDA one): 0 without actnn_auto. For the
 * device plan (memreport), which has no device to ask. */
size_t saved_stats_plan_bytes(const saved_store *s, size_t n);
/* Exact bytes (payload + metadata, plugin size functions) the entry takes for n samples;
 * bits > 0 overrides a tensor's bits (bits = 32 on an alive entry gives 0: kept, not
 * copied). */
size_t saved_desc_bytes(const saved_desc *e, size_t n, int bits, size_t group);

#endif
