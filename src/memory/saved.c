/* Saved-activation store on top of actnn_plugin. The network owns one actnn context; every
 * layer slot holds one plugin handle (quantized tensor, 1-bit mask, small codes or a
 * dropout seed), except an exact save of a buffer the plan keeps alive, which is only a
 * pointer (DESIGN.md: "at b=32 a layer keeps the fp32 tensor alive instead of copying").
 *
 * Byte accounting uses the plugin's size functions, which equal what the plugin holds
 * (payload + metadata), so the `memory:` line reports real bytes, not estimates.
 *
 * A device run whose backend has the act_* ops keeps tensors of one width (1-8, 16 or 32
 * bits), 1-bit masks and argmax codes in backend memory (a pool, see saved_internal.h),
 * accounted at their raw bytes (no handle), and applies dropout there from its key;
 * actnn_auto's per-sample bits too, chosen by the backend from per-sample costs it
 * computes (act_sample_stats, act_auto_bits; saved_devstats.c keeps the costs there until
 * the backward ends), or on the host from pulled costs when it cannot. A backend without
 * these ops has its samples pulled to the host, stored by the plugin there, and pushed
 * back as restored samples (saved_host_view, to_backend). */
#include "memory/saved.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actnn.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include "core/network.h"
#include "memory/saved_internal.h"

saved_store *saved_store_create(const network *net, char *err, size_t errlen)
{
    saved_store *s = calloc(1, sizeof(*s));
    if (s) s->st = calloc((size_t)net->n + 1, sizeof(saved_state));
    actnn_config cfg;
    actnn_config_init(&cfg);
    /* Group size only matters when some layer quantizes; the parser checked it then. */
    if (net->actnn_group >= 32 && net->actnn_group % 32 == 0) cfg.group_size = (size_t)net->actnn_group;
    cfg.seed = net->seed;
    int rc = s && s->st ? actnn_ctx_create(&cfg, &s->ctx) : ACTNN_E_NOMEM;
    if (rc != ACTNN_OK) {
        if (s) free(s->st);
        free(s);
        snprintf(err, errlen, "creating the saved-activation store: %s", actnn_strerror(rc));
        return NULL;
    }
    s->n = net->n;
    s->group = cfg.group_size;
    s->auto_on = net->actnn_auto;
    s->auto_layers = net->actnn_auto && net->actnn_auto_layers;
    s->swap = net->actnn_swap;
    s->swap_unit = -1;
    for (int i = 0; i < net->n; ++i) {
        s->st[i].store = s;
        s->st[i].layer = i;
        for (int k = 0; k < SV_SLOTS; ++k) {
            s->st[i].a[k].sens = -1;
            s->st[i].a[k].lead = -1;
        }
    }
    return s;
}

/* ---- the device pool of a device run's tensors (saved_internal.h) ---- */

static size_t dalign(size_t v) { return sv_dalign(v); }

void sv_point_block(sv_entry *e, char *blk)
{
    e->dmem = blk;
    if (e->kind != SK_TENSOR) return;
    e->dt.payload = blk;
    e->dt.meta = blk && e->dmeta ? (uint16_t *)(blk + dalign(e->dpay)) : NULL;
    e->dt.sample_bits =
        blk && e->dbits ? (const uint8_t *)(blk + dalign(e->dpay) + dalign(e->dmeta)) : NULL;
}

/* bytes for one tensor: from the pool while it has room, else a block of its own (the
 * first iteration, or one that saves more). NULL when the backend has no memory left.
 * `bound` is the most the same save can take in any iteration (saved_device_pool_bytes'
 * term for it): the pool, when it grows, grows to the iteration's bound, so actnn_auto's
 * moving bits do not make it grow again. */
static char *dpool_take(saved_store *s, const dn_backend *be, size_t bytes, size_t bound, int *own)
{
    s->dbe = be;
    ++s->dpool_live;
    s->dpool_want += bytes;
    s->dpool_bound += bound > bytes ? bound : bytes;
    *own = !(s->dpool && s->dpool_top + bytes <= s->dpool_bytes);
    if (!*own) {
        char *p = s->dpool + s->dpool_top;
        s->dpool_top += bytes;
        return p;
    }
    char *p = be->alloc(bytes, "a saved activation");
    if (!p) --s->dpool_live;
    else ++s->dev_own_blocks;
    return p;
}

/* Once every tensor is back, the pool restarts at 0, made as large as the iteration's
 * bound when it asked more (once: later iterations fit, whatever bits actnn_auto moves). */
static void dpool_give(saved_store *s, sv_entry *e)
{
    if (e->dev_own) s->dbe->release(e->dmem, e->dev_bytes);
    if (--s->dpool_live > 0) return;
    if (s->dpool_want > s->dpool_bytes) {
        if (s->dpool) s->dbe->release(s->dpool, s->dpool_bytes);
        s->dpool = s->dbe->alloc(s->dpool_bound, "the saved-activation pool");
        s->dpool_bytes = s->dpool ? s->dpool_bound : 0; /* none: own blocks, as before */
        s->dpool_allocs += s->dpool != NULL;
    }
    s->dpool_top = s->dpool_want = s->dpool_bound = 0;
}

static int fail(layer_ctx *x, const char *what, size_t d, int rc);

/* ---- actnn_swap=1 (saved_swap.c): device blocks through the swap window ---- */

/* The unit of x's layer and its window side (plan.h). */
static sv_unit unit_of(const layer_ctx *x)
{
    const mem_plan *p = &x->net->plan;
    return (sv_unit){plan_unit(p, x->sv->layer), plan_unit_parity(p, x->sv->layer)};
}

static char *dmem_take(layer_ctx *x, size_t bytes, size_t bound, int *own)
{
    saved_store *s = x->sv->store;
    if (!s->swap) return dpool_take(s, x->be, bytes, bound, own);
    return swap_dev_take(s, x->be, bytes, unit_of(x), own);
}

static void dmem_give(saved_store *s, sv_entry *e)
{
    if (!s->swap) dpool_give(s, e);
    else swap_dev_give(s, e->dmem, e->dev_bytes, e->dev_own);
}

/* After the entry's last sample is written: its block to the host. */
static int swap_out(layer_ctx *x, sv_entry *e)
{
    saved_store *s = x->sv->store;
    if (!s->swap || !e->dmem) return 0;
    int rc = swap_block_out(s, x->be, e, unit_of(x).side);
    return rc == ACTNN_OK ? 0 : fail(x, "a swapped activation in host memory", e->d, rc);
}

/* Before the entry's first read in backward: its bytes back on the device. 0, or -1
 * (the store's message; saved_take_failure then stops the backward). */
static int swap_in(layer_ctx *x, sv_entry *e)
{
    saved_store *s = x->sv->store;
    if (!e->host && !e->fetching) return 0;
    if (swap_block_in(s, x->be, e, unit_of(x)) == ACTNN_OK) return 0;
    snprintf(s->err, sizeof(s->err), "layer %d: bringing a swapped activation back to the "
             "device (%.1f MiB): out of device memory (lower actnn_bits or raise "
             "subdivisions)", x->l->index, e->dev_bytes / 1048576.0);
    s->pending = 1;
    return -1;
}

static void drop(saved_store *s, sv_entry *e)
{
    if (e->kind == SK_NONE) return;
    s->stats.cur_bytes -= e->bytes;
    s->stats.cur_fp32_bytes -= e->fp32_bytes;
    if (e->kind == SK_ALIVE) s->stats.alive_bytes -= e->fp32_bytes;
    if (s->swap) swap_drop(s, e); /* its host block; a pending copy waited for */
    if (e->dmem) dmem_give(s, e);
    actnn_tensor_free(s->ctx, e->t);
    if (e->m) actnn_mask_free(s->ctx, e->m);
    if (e->c) actnn_codes_free(s->ctx, e->c);
    if (e->dr) actnn_dropout_free(s->ctx, e->dr);
    memset(e, 0, sizeof(*e));
}

void saved_release_layer(saved_store *s, int i)
{
    if (!s || i < 0 || i >= s->n) return;
    for (int k = 0; k < SV_SLOTS; ++k) drop(s, &s->st[i].e[k]);
}

void saved_release_all(saved_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; ++i) saved_release_layer(s, i);
    if (s->swap) swap_retire_all(s); /* the forward's last blocks: the window may regrow */
}

void saved_trim(saved_store *s)
{
    if (!s) return;
    actnn_trim(s->ctx);
#ifdef __GLIBC__
    malloc_trim(0); /* pool blocks below the mmap threshold came from the heap */
#endif
}

void saved_store_free(saved_store *s)
{
    if (!s) return;
    saved_release_all(s);
    for (int i = 0; i < s->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k) free(s->st[i].a[k].cost);
    if (s->dpool) s->dbe->release(s->dpool, s->dpool_bytes);
    swap_free(s);
    saved_devstats_free(s);
    actnn_ctx_free(s->ctx);
    free(s->st);
    free(s->stage);
    free(s);
}

void saved_bind(saved_store *s, layer_ctx *x) { x->sv = &s->st[x->l->index]; }

void saved_get_stats(const saved_store *s, saved_stats *st) { *st = s->stats; }

void saved_reset_peak(saved_store *s)
{
    s->stats.peak_bytes = s->stats.cur_bytes;
    s->stats.peak_fp32_bytes = s->stats.cur_fp32_bytes;
    actnn_reset_peak(s->ctx);
}

void saved_next_iteration(saved_store *s, uint64_t iteration) { s->iter = iteration; }

void saved_set_seed(saved_store *s, uint64_t seed) { actnn_set_seed(s->ctx, seed); }

const char *saved_error(const saved_store *s) { return s->err; }

int saved_plugin_stats(const saved_store *s, size_t *payload, size_t *meta)
{
    actnn_stats st;
    if (actnn_get_stats(s->ctx, &st) != ACTNN_OK) return -1;
    *payload = st.payload_bytes;
    *meta = st.meta_bytes;
    return 0;
}

/* Noise key of one saved tensor: distinct for every (iteration, layer, slot), so each
 * forward draws fresh rounding noise and the same seed replays the same bytes. */
static uint64_t tensor_id(const layer_ctx *x, int slot)
{
    return (x->sv->store->iter << 24) ^ ((uint64_t)x->l->index << 4) ^ (uint64_t)slot;
}

/* Samples of the whole mini-batch; a streamed call sees a chunk of them (layer.h). */
static size_t total_of(const layer_ctx *x) { return (size_t)(x->total ? x->total : x->batch); }
static int chunked(const layer_ctx *x) { return x->b0 != 0 || total_of(x) != (size_t)x->batch; }

/* Says what was asked, so an out-of-memory report can be acted on. */
static int fail(layer_ctx *x, const char *what, size_t d, int rc)
{
    saved_store *s = x->sv->store;
    snprintf(s->err, sizeof(s->err),
             "saving %s of layer %d (%d samples x %zu values at %d bits, %.1f MiB as fp32; "
             "%.1f MiB saved before it): %s", what, x->l->index, (int)total_of(x), d, x->l->bits,
             (double)d * total_of(x) * sizeof(float) / 1048576.0,
             s->stats.cur_bytes / 1048576.0, actnn_strerror(rc));
    return -1;
}

/* Drops what the slot held and accounts the new entry. */
/* ---- device runs: the plugin works on host memory, so samples cross here ---- */

static float *stage(saved_store *s, size_t floats)
{
    ++s->staged; /* only device runs stage: tests require none where the act_* ops apply */
    if (floats > s->stage_floats) {
        float *a = realloc(s->stage, floats * sizeof(float));
        if (!a) return NULL;
        s->stage = a;
        s->stage_floats = floats;
    }
    return s->stage;
}

const float *saved_host_view(layer_ctx *x, const float *data, size_t n, size_t d, size_t stride)
{
    if (!SV_ON_DEVICE(x)) return data;
    float *h = stage(x->sv->store, n * d > 0 ? n * d : 1);
    if (!h) return NULL;
    for (size_t i = 0; i < n; ++i)
        if (x->be->pull(h + i * d, data + i * stride, d * sizeof(float))) return NULL;
    return h;
}

/* A host sample of d floats into backend memory at dst (returned). */
static const float *to_backend(layer_ctx *x, const float *host, size_t d, float *dst)
{
    if (!SV_ON_DEVICE(x) || host == dst) return host;
    x->be->push(dst, host, d * sizeof(float));
    return dst;
}

static sv_entry *begin(layer_ctx *x, int slot, sv_kind kind, size_t d, size_t bytes)
{
    saved_store *s = x->sv->store;
    sv_entry *e = &x->sv->e[slot];
    drop(s, e);
    e->kind = kind;
    e->d = d;
    e->bytes = bytes;
    e->fp32_bytes = d * total_of(x) * sizeof(float);
    saved_stats *st = &s->stats;
    st->cur_bytes += bytes;
    st->cur_fp32_bytes += e->fp32_bytes;
    if (st->cur_bytes > st->peak_bytes) st->peak_bytes = st->cur_bytes;
    if (st->cur_fp32_bytes > st->peak_fp32_bytes) st->peak_fp32_bytes = st->cur_fp32_bytes;
    return e;
}

size_t saved_tensor_bytes(size_t n, size_t d, int bits, int alive, size_t group)
{
    size_t pay = 0, meta = 0;
    if (alive && bits >= 32) return 0;
    if (actnn_tensor_size(n, d, bits, group, &pay, &meta) != ACTNN_OK) return 0;
    return pay + meta;
}

/* actnn_auto=1 (DESIGN.md "Mixed precision"). Costs C_n (sum of squared group ranges) of
 * the call's samples go to the per-layer allocation (saved_auto.c), which sets the slot's
 * average `avg`. At the mini-batch's first call, *sb gets every sample's bits, 1..8
 * averaging `avg`: when the call holds the whole batch, chosen to minimise
 * sum_n C_n / (2^b_n - 1)^2 (wide-range samples get more bits); for the first chunk of a
 * streamed save, an even split by sample index, since the later chunks' ranges are not
 * known yet. Either way the bytes are those of a save at `avg`. */
static double slot_avg(const layer_ctx *x, int slot)
{
    return x->sv->a[slot].bits > 0 ? x->sv->a[slot].bits : x->l->bits;
}

static int auto_bits(layer_ctx *x, int slot, const double *cost, size_t d, uint8_t **sb)
{
    saved_store *s = x->sv->store;
    size_t n = (size_t)x->batch, total = total_of(x);
    double avg = slot_avg(x, slot);
    int rc = ACTNN_OK;
    if (x->b0 == 0) {
        *sb = malloc(total);
        if (!*sb) rc = ACTNN_E_NOMEM;
        else if (!chunked(x)) rc = actnn_alloc_bits(cost, NULL, n, avg, *sb);
        else rc = actnn_split_bits(total, avg, *sb);
    }
    if (rc == ACTNN_OK && s->auto_layers)
        rc = saved_auto_record(x->sv, slot, cost, (size_t)x->b0, n, total, d, x->l->bits);
    return rc;
}

/* The call's samples' costs for actnn_auto (NULL when the save has none: 16/32 bits, or no
 * actnn_auto), computed where the data lives: *rc gets the failure. */
static double *auto_costs(layer_ctx *x, const float *data, size_t d, size_t stride, int *rc)
{
    *rc = ACTNN_OK;
    if (!x->sv->store->auto_on || x->l->bits > 8) return NULL;
    double *cost = malloc((size_t)x->batch * sizeof(double));
    *rc = cost ? saved_sample_stats(x, ACTNN_STAT_RANGE, data, (size_t)x->batch, d, stride, cost)
               : ACTNN_E_NOMEM;
    if (*rc == ACTNN_OK) return cost;
    free(cost);
    return NULL;
}

/* The entry of a tensor that the mini-batch's first call reserves (with actnn_auto's
 * sample bits sb, else the layer's bits) and every call fills sample by sample. */
static int tensor_entry(layer_ctx *x, int slot, size_t d, const uint8_t *sb)
{
    if (x->b0) return 0;
    saved_store *s = x->sv->store;
    actnn_tensor *t = NULL;
    int rc = actnn_tensor_create(s->ctx, total_of(x), d, x->l->bits, sb, tensor_id(x, slot), &t);
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    actnn_tensor_info info;
    actnn_tensor_get_info(t, &info);
    sv_entry *e = begin(x, slot, SK_TENSOR, d, info.payload_bytes + info.meta_bytes);
    e->t = t;
    e->bits = x->l->bits;
    return 0;
}

/* actnn_auto's bits of the call's samples from their costs, and the entry (tensor_entry). */
static int auto_entry(layer_ctx *x, int slot, size_t d, const double *cost)
{
    uint8_t *sb = NULL;
    int rc = cost ? auto_bits(x, slot, cost, d, &sb) : ACTNN_OK;
    if (rc != ACTNN_OK) {
        free(sb);
        return fail(x, "a tensor", d, rc);
    }
    rc = tensor_entry(x, slot, d, sb);
    free(sb);
    return rc;
}

/* A streamed or strided call: the tensor for the whole mini-batch is reserved by the
 * first chunk and each sample is saved into it; the noise of a sample depends only on its
 * index, so the bytes equal those of one whole-batch save. */
static int save_chunk(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                      const double *cost)
{
    saved_store *s = x->sv->store;
    if (auto_entry(x, slot, d, cost)) return -1;
    int rc = ACTNN_OK;
    sv_entry *e = &x->sv->e[slot];
    for (int i = 0; rc == ACTNN_OK && i < x->batch; ++i)
        rc = actnn_save_sample(s->ctx, e->t, (size_t)(x->b0 + i), data + (size_t)i * stride);
    return rc == ACTNN_OK ? 0 : fail(x, "a tensor", d, rc);
}

/* A device run whose backend quantizes in its own memory (act_save): the tensor's bytes
 * go to the device pool, never through the host. With actnn_auto (bits <= 8) the widths
 * differ per sample (actnn_raw_tensor's sample_bits) and the costs they come from need
 * the backend's act_sample_stats. The first call of the mini-batch makes the entry; every
 * call saves its samples by index, so a streamed save's bytes equal a whole-batch save's. */
static int device_bits(const dn_backend *be, int auto_on, int b)
{
    if (!be->act_save || !be->act_restore) return 0;
    return b >= 1 && b <= 8 ? !auto_on || be->act_sample_stats : b == 16 || b == 32;
}

static int device_tensor(layer_ctx *x)
{
    return SV_ON_DEVICE(x) && device_bits(x->be, x->sv->store->auto_on, x->l->bits);
}

/* Masks, codes and dropout in backend memory (the act_mask_save... ops, all or none). */
static int device_planes(const layer_ctx *x) { return SV_ON_DEVICE(x) && x->be->act_mask_save; }

/* Words per sample of a mask (width 1) or codes: the plugin owns the layout, so ask it
 * (d and width were checked when the layer was made; 0 only for arguments it rejects). */
static size_t plane_words(size_t d, int width)
{
    size_t pay = 0, meta = 0;
    return actnn_codes_size(1, d, width, &pay, &meta) == ACTNN_OK ? pay / sizeof(uint32_t) : 0;
}

/* What an actnn_auto tensor of n samples of d values may take beyond its size at the
 * layer's configured bits, whatever the per-layer allocation (saved_auto.c) does, so the
 * pool made from the plan never grows. The allocation keeps sum_t d_t * avg_t at most
 * sum_t d_t * cfg_t over the tensors that take part, and each save's widths sum to at
 * most avg_t * n; but a sample's payload is 4 * ceil(d/32) bytes per bit, i.e. (d + r)/8
 * with r = 32 ceil(d/32) - d padding values, so moving bits between tensors can add up to
 * r/8 bytes per bit and sample, at most 8 bits: n * r bytes. dalign rounds the new
 * payload up by less than the alignment. (A few KiB per tensor; without it the pool
 * grew by such amounts whenever the allocation reached a new maximum.) */
static size_t auto_slack(size_t n, size_t d)
{
    size_t r = (32 - d % 32) % 32;
    return n * r + sv_dalign(1);
}

/* The most a tensor of n samples of d values at the layer's `bits` takes on the device in
 * any iteration: its size at those bits, plus actnn_auto's widths and auto_slack when the
 * bits are mixed. 0 when the plugin rejects the sizes (the save itself then fails). */
static size_t tensor_bound(const saved_store *s, size_t n, size_t d, int bits)
{
    size_t pay = 0, meta = 0;
    if (actnn_raw_size(n, d, bits, s->group, &pay, &meta) != ACTNN_OK) return 0;
    return dalign(pay) + dalign(meta) +
           (s->auto_on && bits <= 8 ? dalign(n) + auto_slack(n, d) : 0);
}

/* The mini-batch's entry of a device tensor: payload, metadata and, with actnn_auto's
 * per-sample bits sb (host, total_of(x) widths; NULL: the layer's bits), the widths
 * pushed next to them, from the pool. */
static int device_entry(layer_ctx *x, int slot, size_t d, int alive, const uint8_t *sb,
                        size_t sum)
{
    saved_store *s = x->sv->store;
    size_t n = total_of(x), pay = 0, meta = 0;
    uint64_t seed = 0;
    int mixed = sb || sum;
    int rc = sb    ? actnn_raw_size_mixed(n, d, sb, s->group, &pay, &meta)
             : sum ? actnn_raw_size_sum(n, d, sum, s->group, &pay, &meta)
                   : actnn_raw_size(n, d, x->l->bits, s->group, &pay, &meta);
    if (rc == ACTNN_OK) rc = actnn_get_seed(s->ctx, &seed);
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    int own = 0;
    size_t bytes = dalign(pay) + dalign(meta) + (mixed ? dalign(n) : 0);
    char *blk = dmem_take(x, bytes, mixed ? tensor_bound(s, n, d, x->l->bits) : bytes, &own);
    if (!blk) return fail(x, "a tensor in device memory", d, ACTNN_E_NOMEM);
    sv_entry *e = begin(x, slot, SK_TENSOR, d, pay + meta);
    e->bits = x->l->bits;
    e->keep = alive;
    e->dt = (actnn_raw_tensor){.N = n, .D = d, .G = s->group, .bits = x->l->bits,
                               .seed = seed, .tensor_id = tensor_id(x, slot)};
    e->dpay = pay;
    e->dmeta = meta;
    e->dev_bytes = bytes;
    e->dev_own = own;
    e->dbits = mixed;
    sv_point_block(e, blk);
    /* the widths were chosen on the host from the pulled costs: n bytes go over */
    if (sb && x->be->push((void *)e->dt.sample_bits, sb, n))
        return fail(x, "per-sample bits", d, ACTNN_E_NOMEM);
    return 0;
}

/* actnn_auto where the backend writes the widths (act_auto_bits): the call's costs stay in
 * backend memory (sv_cost_defer; a streamed save's later chunks only note theirs), and the
 * mini-batch's first call sizes the entry from the widths' sum, which does not depend on
 * them, then has them written next to the tensor, from the costs or, for a streamed save,
 * by the even split. Nothing crosses to the host and nothing waits for the device. */
static int device_auto_entry(layer_ctx *x, int slot, const float *data, size_t d,
                             size_t stride, int alive)
{
    saved_store *s = x->sv->store;
    size_t total = total_of(x), sum = 0;
    const double *cost = NULL;
    int split = chunked(x);
    int rc = !split || s->auto_layers ? sv_cost_defer(x, slot, data, d, stride, &cost) : ACTNN_OK;
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    if (x->b0) return 0;
    double avg = slot_avg(x, slot);
    rc = split ? actnn_split_bits_sum(total, avg, &sum) : actnn_alloc_bits_sum(total, avg, &sum);
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    if (device_entry(x, slot, d, alive, NULL, sum)) return -1;
    uint8_t *widths = (uint8_t *)x->sv->e[slot].dt.sample_bits;
    rc = x->be->act_auto_bits(s->ctx, split ? NULL : cost, total, avg, widths);
    return rc == ACTNN_OK ? 0 : fail(x, "per-sample bits", d, rc);
}

/* The entry of a save on a backend without act_auto_bits: actnn_auto's costs are pulled
 * (act_sample_stats: only the doubles cross) and its widths chosen on the host, pushed
 * with the tensor; or the layer's bits. */
static int device_host_entry(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                             int alive)
{
    int rc = ACTNN_OK;
    uint8_t *sb = NULL;
    double *cost = auto_costs(x, data, d, stride, &rc);
    if (rc == ACTNN_OK && cost) rc = auto_bits(x, slot, cost, d, &sb);
    free(cost);
    if (rc != ACTNN_OK) {
        free(sb);
        return fail(x, "a tensor", d, rc);
    }
    int r = x->b0 == 0 ? device_entry(x, slot, d, alive, sb, 0) : 0;
    free(sb);
    return r;
}

/* A device tensor's save: its entry (actnn_auto's widths chosen on the device when the
 * backend can, else on the host), then its samples quantized where they are. */
static int save_device(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                       int alive)
{
    saved_store *s = x->sv->store;
    int widths_there = s->auto_on && x->l->bits <= 8 && x->be->act_auto_bits;
    if (widths_there ? device_auto_entry(x, slot, data, d, stride, alive)
                     : device_host_entry(x, slot, data, d, stride, alive))
        return -1;
    int rc = ACTNN_OK;
    const actnn_raw_tensor *t = &x->sv->e[slot].dt;
    if (stride == d) rc = x->be->act_save(s->ctx, t, (size_t)x->b0, (size_t)x->batch, data);
    for (int i = 0; stride != d && rc == ACTNN_OK && i < x->batch; ++i)
        rc = x->be->act_save(s->ctx, t, (size_t)(x->b0 + i), 1, data + (size_t)i * stride);
    ++s->dev_saves;
    ++s->dev_kind[SK_TENSOR];
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    return x->b0 + x->batch == (int)total_of(x) ? swap_out(x, &x->sv->e[slot]) : 0;
}

/* The entry of a mask or codes in backend memory for the whole mini-batch (its first
 * call): `words` words per sample from the pool, accounted at the raw payload. */
static sv_entry *device_words(layer_ctx *x, int slot, sv_kind kind, size_t d, int width)
{
    size_t bytes = total_of(x) * plane_words(d, width) * sizeof(uint32_t);
    int own = 0;
    char *blk = dmem_take(x, dalign(bytes), dalign(bytes), &own);
    if (!blk) return NULL;
    sv_entry *e = begin(x, slot, kind, d, bytes);
    e->bits = width;
    e->dmem = blk;
    e->dev_bytes = dalign(bytes);
    e->dev_own = own;
    return e;
}

static uint32_t *words_of(const sv_entry *e, size_t sample)
{
    return (uint32_t *)e->dmem + sample * plane_words(e->d, e->bits);
}

size_t saved_device_layer_bytes(const saved_store *s, const dn_backend *be, const saved_desc *d,
                                size_t n)
{
    size_t total = 0;
    for (int k = 0; be && be->device && k < SV_SLOTS; ++k) {
        const saved_desc *e = &d[k];
        if (e->kind == SAVED_TENSOR && device_bits(be, s->auto_on, e->bits))
            total += tensor_bound(s, n, e->d, e->bits); /* as device_entry takes it */
        else if ((e->kind == SAVED_MASK || e->kind == SAVED_CODES) && be->act_mask_save)
            total += dalign(n * plane_words(e->d, e->kind == SAVED_MASK ? 1 : e->bits) * 4);
    }
    return total;
}

size_t saved_device_pool_bytes(const saved_store *s, const dn_backend *be, const saved_desc *desc,
                               size_t n)
{
    size_t total = 0;
    for (int i = 0; i < s->n; ++i) total += saved_device_layer_bytes(s, be, &desc[i * SV_SLOTS], n);
    return total;
}

int saved_pool_reserve(saved_store *s, const dn_backend *be, size_t bytes)
{
    if (bytes <= s->dpool_bytes) return 0;
    if (s->dpool_live) {
        snprintf(s->err, sizeof(s->err), "reserving the saved-activation pool: %d saved tensors "
                 "still live", s->dpool_live);
        return -1;
    }
    if (s->dpool) s->dbe->release(s->dpool, s->dpool_bytes);
    s->dbe = be;
    s->dpool = be->alloc(bytes, "the saved-activation pool");
    s->dpool_bytes = s->dpool ? bytes : 0;
    s->dpool_top = s->dpool_want = s->dpool_bound = 0;
    if (!s->dpool) {
        snprintf(s->err, sizeof(s->err), "out of device memory reserving the saved-activation "
                 "pool (%.1f MiB planned): lower actnn_bits or raise subdivisions",
                 bytes / 1048576.0);
        return -1;
    }
    ++s->dpool_allocs;
    return 0;
}

size_t saved_pool_bytes(const saved_store *s) { return s ? s->dpool_bytes : 0; }

int saved_pool_restore(saved_store *s, size_t had)
{
    if (!s || s->dpool_bytes == had || s->dpool_live) return 0;
    const dn_backend *be = s->dbe;
    if (s->dpool) be->release(s->dpool, s->dpool_bytes);
    s->dpool = NULL;
    s->dpool_bytes = 0;
    s->dpool_top = s->dpool_want = s->dpool_bound = 0;
    return had ? saved_pool_reserve(s, be, had) : 0;
}

int sv_save(layer_ctx *x, int slot, const float *data, size_t d, int alive)
{
    return sv_save_strided(x, slot, data, d, d, alive);
}

static int save_whole(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                      int alive);

/* A save that borrows (saved_share.c) stores only its own values, at the layer's bits. */
int sv_save_strided(layer_ctx *x, int slot, const float *data, size_t d, size_t stride, int alive)
{
    if (x->recompute) return 0; /* a streamed recomputation: saved by the last sweep */
    sv_share sh;
    if (!(alive && x->l->bits >= 32) && share_find(x, slot, data, d, &sh)) {
        int rc = save_whole(x, slot, data + sh.own_off, d - sh.len, stride, alive);
        if (!rc && x->b0 == 0) share_set(&x->sv->e[slot], &sh);
        return rc;
    }
    int rc = save_whole(x, slot, data, d, stride, alive);
    if (!rc && x->b0 == 0) x->sv->e[slot].from1 = share_input_of(x, data, d);
    return rc;
}

static int save_whole(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                      int alive)
{
    saved_store *s = x->sv->store;
    size_t n = (size_t)x->batch;
    int bits = x->l->bits;
    if (alive && bits >= 32) {
        if (x->b0) return 0; /* the first chunk recorded the whole buffer */
        sv_entry *e = begin(x, slot, SK_ALIVE, d, 0);
        e->bits = 32;
        e->keep = 1;
        e->alive = data;
        e->stride = stride;
        s->stats.alive_bytes += e->fp32_bytes;
        return 0;
    }
    if (device_tensor(x)) return save_device(x, slot, data, d, stride, alive);
    int rc = ACTNN_OK;
    double *cost = auto_costs(x, data, d, stride, &rc); /* where the data is */
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    if (SV_ON_DEVICE(x)) { /* the plugin quantizes on the host: the same bytes */
        data = saved_host_view(x, data, n, d, stride);
        if (!data) {
            free(cost);
            return fail(x, "a host copy of a tensor", d, ACTNN_E_NOMEM);
        }
        stride = d;
    }
    if (chunked(x) || stride != d) {
        rc = save_chunk(x, slot, data, d, stride, cost);
        free(cost);
        return rc;
    }
    actnn_tensor *t = NULL;
    int keep = alive;
    uint8_t *sample_bits = NULL;
    if (cost) rc = auto_bits(x, slot, cost, d, &sample_bits);
    free(cost);
    if (rc == ACTNN_OK) rc = actnn_save(s->ctx, data, n, d, bits, sample_bits, tensor_id(x, slot), &t);
    free(sample_bits);
    if (rc != ACTNN_OK) return fail(x, "a tensor", d, rc);
    actnn_tensor_info info;
    actnn_tensor_get_info(t, &info);
    sv_entry *e = begin(x, slot, SK_TENSOR, d, info.payload_bytes + info.meta_bytes);
    e->t = t;
    e->bits = bits;
    e->keep = keep;
    return 0;
}

/* Byte masks of each sample, packed to bits by the plugin; one d-byte buffer per thread
 * keeps the temporary small. */
static int fill_mask(actnn_ctx *ctx, actnn_mask *m, const float *y, size_t first, size_t n,
                     size_t d, size_t stride, activation a)
{
    int rc = ACTNN_OK;
#pragma omp parallel reduction(min : rc)
    {
        uint8_t *tmp = malloc(d ? d : 1);
        if (!tmp) rc = ACTNN_E_NOMEM;
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; ++i) {
            if (!tmp) continue;
            dn_backend_cpu()->activation_mask(y + i * stride, d, a, tmp); /* host store */
            int r = actnn_mask_set_bytes(ctx, m, first + i, tmp);
            if (r < rc) rc = r;
        }
        free(tmp);
    }
    return rc;
}

int sv_save_mask(layer_ctx *x, int slot, const float *y, size_t d, activation a)
{
    return sv_save_mask_strided(x, slot, y, d, d, a);
}

int sv_save_mask_strided(layer_ctx *x, int slot, const float *y, size_t d, size_t stride,
                         activation a)
{
    if (x->recompute) return 0;
    saved_store *s = x->sv->store;
    size_t n = total_of(x), pay = 0, meta = 0;
    if (device_planes(x)) {
        if (x->b0 == 0 && !device_words(x, slot, SK_MASK, d, 1))
            return fail(x, "an activation mask in device memory", d, ACTNN_E_NOMEM);
        int rc = x->be->act_mask_save(s->ctx, y, (size_t)x->batch, d, stride, a,
                                      words_of(&x->sv->e[slot], (size_t)x->b0));
        ++s->dev_saves;
        ++s->dev_kind[SK_MASK];
        if (rc != ACTNN_OK) return fail(x, "an activation mask", d, rc);
        return x->b0 + x->batch == (int)n ? swap_out(x, &x->sv->e[slot]) : 0;
    }
    if (SV_ON_DEVICE(x)) {
        y = saved_host_view(x, y, (size_t)x->batch, d, stride);
        if (!y) return fail(x, "a host copy of an activation", d, ACTNN_E_NOMEM);
        stride = d;
    }
    if (x->b0) { /* later chunk of a streamed call: the first one created the mask */
        int rc = fill_mask(s->ctx, x->sv->e[slot].m, y, (size_t)x->b0, (size_t)x->batch, d, stride, a);
        return rc == ACTNN_OK ? 0 : fail(x, "an activation mask", d, rc);
    }
    actnn_mask *m = NULL;
    int rc = actnn_mask_create(s->ctx, n, d, &m);
    if (rc == ACTNN_OK) rc = fill_mask(s->ctx, m, y, 0, (size_t)x->batch, d, stride, a);
    if (rc == ACTNN_OK) rc = actnn_mask_size(n, d, &pay, &meta);
    if (rc != ACTNN_OK) {
        if (m) actnn_mask_free(s->ctx, m);
        return fail(x, "an activation mask", d, rc);
    }
    sv_entry *e = begin(x, slot, SK_MASK, d, pay + meta);
    e->m = m;
    return 0;
}

/* The entry of a mask that the mini-batch's first call reserves and every call fills
 * sample by sample, as sv_save_mask does. */
static int fused_mask(layer_ctx *x, int slot, size_t d, void **out)
{
    saved_store *s = x->sv->store;
    if (x->b0 == 0) {
        size_t pay = 0, meta = 0, n = total_of(x);
        actnn_mask *m = NULL;
        int rc = actnn_mask_create(s->ctx, n, d, &m);
        if (rc == ACTNN_OK) rc = actnn_mask_size(n, d, &pay, &meta);
        if (rc != ACTNN_OK) {
            if (m) actnn_mask_free(s->ctx, m);
            return fail(x, "an activation mask", d, rc);
        }
        begin(x, slot, SK_MASK, d, pay + meta)->m = m;
    }
    *out = x->sv->e[slot].m;
    return 0;
}

int sv_fused_begin(layer_ctx *x, int xslot, int mslot, size_t d, activation a, int xhat_op,
                   sv_fused *f)
{
    saved_store *s = x->sv->store;
    *f = (sv_fused){.x = x, .a = a, .xslot = xslot, .mslot = mslot, .d = d};
    /* a block holds whole groups: the largest multiple of the group size up to 2048 */
    f->block = s->group * (s->group < 2048 ? 2048 / s->group : 1);
    if (xslot >= 0 && f->block > DN_FUSE_BLOCK_MAX) return 0;
    f->from_xhat = xslot >= 0 && s->auto_on && x->l->bits <= 8;
    if (f->from_xhat && !xhat_op) return 0;
    /* a streamed recomputation: saved by the last sweep; actnn_auto: sv_fused_xhat */
    if (x->recompute || f->from_xhat) return 1;
    if (xslot >= 0 && tensor_entry(x, xslot, d, NULL)) return -1;
    if (xslot >= 0) f->t = x->sv->e[xslot].t;
    if (mslot >= 0 && fused_mask(x, mslot, d, &f->m)) return -1;
    return 1;
}

/* The bits and entry from the call's costs as save_chunk makes them, then the mask's, in
 * the order sv_fused_begin makes them. */
static int fused_entries(sv_fused *f, const double *cost)
{
    layer_ctx *x = f->x;
    if (auto_entry(x, f->xslot, f->d, cost)) return -1;
    f->t = x->sv->e[f->xslot].t;
    if (f->mslot >= 0 && fused_mask(x, f->mslot, f->d, &f->m)) return -1;
    return 0;
}

int sv_fused_xhat(sv_fused *f, const float *xhat, size_t stride)
{
    layer_ctx *x = f->x;
    if (x->recompute) return 0;
    int rc = ACTNN_OK;
    double *cost = auto_costs(x, xhat, f->d, stride, &rc);
    if (rc != ACTNN_OK) return fail(x, "a tensor", f->d, rc);
    rc = fused_entries(f, cost);
    free(cost);
    return rc;
}

size_t sv_fused_range_group(const layer_ctx *x, int xslot)
{
    const saved_store *s = x->sv->store;
    int from_xhat = xslot >= 0 && s->auto_on && x->l->bits <= 8 && !x->recompute;
    return from_xhat ? s->group : 0;
}

int sv_fused_ranges(sv_fused *f, const float *lo, const float *hi)
{
    layer_ctx *x = f->x;
    size_t n = (size_t)x->batch, ng = (f->d + x->sv->store->group - 1) / x->sv->store->group;
    double *cost = malloc(n * sizeof(double));
    int rc = cost ? ACTNN_OK : ACTNN_E_NOMEM;
    for (size_t b = 0; rc == ACTNN_OK && b < n; ++b)
        rc = actnn_range_stat_minmax(lo + b * ng, hi + b * ng, ng, &cost[b]);
    if (rc != ACTNN_OK) {
        free(cost);
        return fail(x, "a tensor", f->d, rc);
    }
    rc = fused_entries(f, cost);
    free(cost);
    f->from_xhat = 0; /* the bits are known: the one pass saves at them */
    ++x->sv->store->xhat_ranges;
    return rc;
}

void sv_fused_sample(sv_fused *f, int sample) { f->sample = (size_t)(f->x->b0 + sample); }

void sv_fused_sink(void *ud, size_t j0, size_t len, const float *xhat, const float *y)
{
    sv_fused *f = ud;
    actnn_ctx *ctx = f->x->sv->store->ctx;
    int rc = ACTNN_OK;
    if (f->t) rc = actnn_save_part(ctx, f->t, f->sample, j0, len, xhat);
    if (f->m && rc == ACTNN_OK) {
        uint8_t bytes[DN_FUSE_BLOCK_MAX];
        dn_backend_cpu()->activation_mask(y, len, f->a, bytes); /* host store */
        rc = actnn_mask_set_bytes_part(ctx, f->m, f->sample, j0, len, bytes);
    }
    if (rc != ACTNN_OK) {
#pragma omp atomic write
        f->rc = rc;
    }
}

int sv_fused_end(sv_fused *f)
{
    if (f->rc == ACTNN_OK) return 0;
    return fail(f->x, f->t ? "a tensor" : "an activation mask", (size_t)f->x->l->outputs, f->rc);
}

int sv_save_codes(layer_ctx *x, int slot, int sample, const uint8_t *codes, size_t d, int width)
{
    if (x->recompute) return 0; /* a streamed recomputation: saved by the last sweep */
    saved_store *s = x->sv->store;
    size_t n = total_of(x), pay = 0, meta = 0;
    if (device_planes(x)) {
        if (x->b0 + sample == 0 && !device_words(x, slot, SK_CODES, d, width))
            return fail(x, "argmax codes in device memory", d, ACTNN_E_NOMEM);
        int rc = x->be->act_codes_save(s->ctx, codes, 1, d, width,
                                       words_of(&x->sv->e[slot], (size_t)(x->b0 + sample)));
        ++s->dev_saves;
        ++s->dev_kind[SK_CODES];
        if (rc != ACTNN_OK) return fail(x, "argmax codes", d, rc);
        return x->b0 + sample + 1 == (int)n ? swap_out(x, &x->sv->e[slot]) : 0;
    }
    if (SV_ON_DEVICE(x)) { /* codes are bytes: d of them fit in d floats of staging */
        float *h = stage(s, d);
        if (!h || x->be->pull(h, codes, d)) return fail(x, "a host copy of argmax codes", d, ACTNN_E_NOMEM);
        codes = (const uint8_t *)h;
    }
    if (x->b0 + sample) { /* the mini-batch's first sample created the entry */
        int rc = actnn_codes_set(s->ctx, x->sv->e[slot].c, (size_t)(x->b0 + sample), codes);
        return rc == ACTNN_OK ? 0 : fail(x, "argmax codes", d, rc);
    }
    actnn_codes *c = NULL;
    int rc = actnn_codes_create(s->ctx, n, d, width, &c);
    if (rc == ACTNN_OK) rc = actnn_codes_set(s->ctx, c, 0, codes);
    if (rc == ACTNN_OK) rc = actnn_codes_size(n, d, width, &pay, &meta);
    if (rc != ACTNN_OK) {
        if (c) actnn_codes_free(s->ctx, c);
        return fail(x, "argmax codes", d, rc);
    }
    sv_entry *e = begin(x, slot, SK_CODES, d, pay + meta);
    e->c = c;
    e->bits = width;
    return 0;
}

int sv_dropout_begin(layer_ctx *x, int slot, size_t d, float p)
{
    saved_store *s = x->sv->store;
    size_t pay = 0, meta = 0;
    actnn_dropout *dr = NULL;
    if (x->b0) return 0; /* one seed serves the whole mini-batch */
    if (device_planes(x)) { /* only the key, applied by the backend (act_dropout) */
        uint64_t seed = 0;
        int rc = actnn_get_seed(s->ctx, &seed);
        if (rc == ACTNN_OK) rc = actnn_dropout_size(&pay, &meta);
        if (rc != ACTNN_OK) return fail(x, "a dropout seed", d, rc);
        sv_entry *e = begin(x, slot, SK_DROPOUT, d, pay + meta);
        e->dr_seed = seed;
        e->dr_id = tensor_id(x, slot);
        e->dr_p = p;
        return 0;
    }
    int rc = actnn_dropout_create(s->ctx, total_of(x), d, p, tensor_id(x, slot), &dr);
    if (rc == ACTNN_OK) rc = actnn_dropout_size(&pay, &meta);
    if (rc != ACTNN_OK) {
        if (dr) actnn_dropout_free(s->ctx, dr);
        return fail(x, "a dropout seed", d, rc);
    }
    sv_entry *e = begin(x, slot, SK_DROPOUT, d, pay + meta);
    e->dr = dr;
    return 0;
}

void sv_dropout_apply(layer_ctx *x, int slot, int sample, float *v)
{
    sv_entry *e = &x->sv->e[slot];
    saved_store *s = x->sv->store;
    if (!e->dr) { /* a device dropout: a failure is the backend's error (network checks it) */
        (void)x->be->act_dropout(s->ctx, e->dr_seed, e->dr_id, e->dr_p, (size_t)(x->b0 + sample),
                                 e->d, v);
        ++s->dev_kind[SK_DROPOUT];
        return;
    }
    float *h = SV_ON_DEVICE(x) ? (float *)saved_host_view(x, v, 1, e->d, e->d) : v;
    if (!h) return; /* the device path has no memory left: the staging buffer failed */
    actnn_dropout_apply(e->dr, (size_t)(x->b0 + sample), h);
    to_backend(x, h, e->d, v);
}

const float *sv_restore(layer_ctx *x, int slot, int sample, float *scratch)
{
    sv_entry *e = &x->sv->e[slot];
    size_t i = (size_t)(x->b0 + sample);
    return e->share_len ? share_restore(x, e, i, scratch) : sv_entry_restore(x, e, i, scratch);
}

const float *sv_entry_restore(layer_ctx *x, sv_entry *e, size_t i, float *scratch)
{
    if (e->kind == SK_ALIVE) return e->alive + i * e->stride;
    if (swap_in(x, e)) return scratch; /* garbage; the network stops after this layer */
    if (e->dt.payload) /* a device tensor: restored where it lives */
        return x->be->act_restore(x->sv->store->ctx, &e->dt, i, 1, scratch) ? NULL : scratch;
    /* an exact (32-bit) sample is read in place: no copy into the scratch */
    const float *view;
    if (actnn_sample_view(e->t, i, &view) == ACTNN_OK) return to_backend(x, view, e->d, scratch);
    float *h = SV_ON_DEVICE(x) ? stage(x->sv->store, e->d) : scratch;
    if (!h) return NULL;
    actnn_restore_sample(x->sv->store->ctx, e->t, i, h);
    return to_backend(x, h, e->d, scratch);
}

const float *sv_restore_part(layer_ctx *x, int slot, int sample, size_t j0, size_t len,
                             float *buf)
{
    if (SV_ON_DEVICE(x)) return NULL;
    sv_entry *e = &x->sv->e[slot];
    size_t i = (size_t)(x->b0 + sample);
    return e->share_len ? share_part(x, e, i, j0, len, buf) : sv_entry_part(x, e, i, j0, len, buf);
}

const float *sv_entry_part(layer_ctx *x, sv_entry *e, size_t i, size_t j0, size_t len,
                           float *buf)
{
    if (e->kind == SK_ALIVE) return e->alive + i * e->stride + j0;
    const float *view;
    if (actnn_sample_view(e->t, i, &view) == ACTNN_OK) return view + j0;
    return actnn_restore_part(x->sv->store->ctx, e->t, i, j0, len, buf) == ACTNN_OK ? buf : NULL;
}

const float *sv_src_block(void *ud, size_t j0, size_t len, float *buf)
{
    const sv_src *s = ud;
    return sv_restore_part(s->x, s->slot, s->sample, j0, len, buf);
}

void sv_mask_apply(layer_ctx *x, int slot, int sample, float *delta, float g1, float g0)
{
    sv_entry *e = &x->sv->e[slot];
    if (swap_in(x, e)) return; /* the message is the store's; the layer sees no mask */
    if (e->dmem) { /* a device mask: a failure is the backend's error (network checks it) */
        (void)x->be->act_mask_apply(x->sv->store->ctx, words_of(e, (size_t)(x->b0 + sample)),
                                    e->d, delta, g1, g0);
        return;
    }
    float *h = SV_ON_DEVICE(x) ? (float *)saved_host_view(x, delta, 1, e->d, e->d) : delta;
    if (!h) return;
    actnn_mask_apply(x->sv->store->ctx, e->m, (size_t)(x->b0 + sample), h, g1, g0);
    to_backend(x, h, e->d, delta);
}

const uint8_t *sv_codes(layer_ctx *x, int slot, int sample, uint8_t *scratch)
{
    sv_entry *e = &x->sv->e[slot];
    if (swap_in(x, e)) return scratch; /* garbage; the network stops after this layer */
    if (e->dmem) /* device codes, unpacked into the layer's device scratch */
        return x->be->act_codes_restore(x->sv->store->ctx, words_of(e, (size_t)(x->b0 + sample)),
                                        1, e->d, e->bits, scratch) ? NULL : scratch;
    uint8_t *h = SV_ON_DEVICE(x) ? (uint8_t *)stage(x->sv->store, e->d) : scratch;
    if (!h) return NULL;
    actnn_codes_get(x->sv->store->ctx, e->c, (size_t)(x->b0 + sample), h);
    if (SV_ON_DEVICE(x)) x->be->push(scratch, h, e->d);
    return scratch;
}

/* The sv_kind values match saved_kind one to one. */
int saved_describe(const saved_store *s, int i, int slot, saved_desc *out)
{
    if (!s || i < 0 || i >= s->n || slot < 0 || slot >= SV_SLOTS) return -1;
    const sv_entry *e = &s->st[i].e[slot];
    if (e->kind == SK_NONE) return -1;
    out->kind = (saved_kind)e->kind;
    out->d = e->d;
    out->bits = e->bits;
    out->keep = e->keep;
    out->shared = e->share_len;
    out->share_layer = e->share_len ? e->share_layer : -1;
    return 0;
}

size_t saved_desc_bytes(const saved_desc *e, size_t n, int bits, size_t group)
{
    size_t pay = 0, meta = 0;
    int rc = ACTNN_OK;
    switch (e->kind) {
    case SAVED_ALIVE:
        return saved_tensor_bytes(n, e->d, bits > 0 ? bits : 32, 1, group);
    case SAVED_TENSOR:
        return saved_tensor_bytes(n, e->d, bits > 0 ? bits : e->bits, e->keep, group);
    case SAVED_MASK: rc = actnn_mask_size(n, e->d, &pay, &meta); break;
    case SAVED_CODES: rc = actnn_codes_size(n, e->d, e->bits, &pay, &meta); break;
    case SAVED_DROPOUT: rc = actnn_dropout_size(&pay, &meta); break;
    default: return 0;
    }
    return rc == ACTNN_OK ? pay + meta : 0;
}

int saved_raw(const saved_store *s, int i, int slot, saved_raw_bytes *out)
{
    if (!s || i < 0 || i >= s->n || slot < 0 || slot >= SV_SLOTS) return -1;
    const sv_entry *e = &s->st[i].e[slot];
    if (e->kind != SK_TENSOR && e->kind != SK_MASK && e->kind != SK_CODES) return -1;
    memset(out, 0, sizeof(*out));
    if (e->kind != SK_TENSOR) {
        if (e->host) { /* actnn_swap: on the host */
            out->payload = e->host;
            out->payload_bytes = e->bytes;
            return 0;
        }
        if (e->dmem) {
            out->on_device = 1;
            out->payload = e->dmem;
            out->payload_bytes = e->bytes;
            return 0;
        }
        int rc = e->m ? actnn_mask_raw(e->m, &out->payload, &out->payload_bytes)
                      : actnn_codes_raw(e->c, &out->payload, &out->payload_bytes);
        return rc == ACTNN_OK ? 0 : -1;
    }
    if (e->host) { /* actnn_swap: the block's bytes on the host, as device_entry laid it out */
        out->payload = e->host;
        out->meta = e->dmeta ? (const char *)e->host + dalign(e->dpay) : NULL;
        out->payload_bytes = e->dpay;
        out->meta_bytes = e->dmeta;
        return 0;
    }
    if (e->dt.payload) {
        out->on_device = 1;
        out->payload = e->dt.payload;
        out->meta = e->dt.meta;
        out->payload_bytes = e->dpay;
        out->meta_bytes = e->dmeta;
        return 0;
    }
    return actnn_tensor_raw(e->t, &out->payload, &out->payload_bytes, &out->meta,
                            &out->meta_bytes) == ACTNN_OK ? 0 : -1;
}

size_t saved_device_saves(const saved_store *s) { return s ? s->dev_saves : 0; }

int saved_take_failure(saved_store *s)
{
    int f = s && s->pending;
    if (s) s->pending = 0;
    return f;
}

void saved_get_paths(const saved_store *s, saved_paths *out)
{
    memset(out, 0, sizeof(*out));
    for (int k = 0; k <= SK_DROPOUT; ++k) out->device[k] = s->dev_kind[k]; /* same order */
    out->staged = s->staged;
    out->stats = s->dev_stats;
    out->swap_outs = s->swap_outs;
    out->swap_ins = s->swap_ins;
    out->swap_host_peak = s->swap_host_peak;
    out->swap_window = s->swin.bytes;
    out->swap_window_peak = s->swin.peak_bytes;
    out->swap_allocs = s->swin.allocs;
    out->swap_prefetches = s->swap_prefetches;
    out->xhat_ranges = s->xhat_ranges;
}
