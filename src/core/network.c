/* The network runtime: memory preparation, forward, backward, update. */
#include "core/network.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/layer_times.h"
#include "core/net_internal.h"
#include "core/params.h"
#include "core/place.h"
#include "memory/saved.h"
#include "memory/stream.h"

network *network_alloc(int max_layers, const char *cfgfile)
{
    network *net = calloc(1, sizeof(network));
    if (!net) return NULL;
    net->layers = calloc((size_t)max_layers + 1, sizeof(layer));
    net->cfgfile = strdup(cfgfile ? cfgfile : "");
    net->ranks = 1;
    if (!net->layers || !net->cfgfile) {
        free(net->layers);
        free(net->cfgfile);
        free(net);
        return NULL;
    }
    net->be = dn_backend_cpu();
    return net;
}

int network_alloc_io(network *net, char *err, size_t errlen)
{
    free(net->input);
    free(net->truth);
    net->fwd_input = NULL; /* may have pointed at the freed input */
    net->input = calloc((size_t)net->batch * net->inputs + 1, sizeof(float));
    net->truth = calloc((size_t)net->batch * net->truths + 1, sizeof(float));
    int max_src = 1;
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].nsrc > max_src) max_src = net->layers[i].nsrc;
    free(net->tmp_ins);
    free(net->tmp_dins);
    net->tmp_ins = calloc((size_t)max_src, sizeof(float *));
    net->tmp_dins = calloc((size_t)max_src, sizeof(float *));
    net->max_src = max_src;
    if (!net->input || !net->truth || !net->tmp_ins || !net->tmp_dins) {
        snprintf(err, errlen, "out of memory allocating the input (%d x %d floats)", net->batch,
                 net->inputs);
        return -1;
    }
    net->plan.valid = 0;
    return 0;
}

static void free_arena(network *net)
{
    if (net->arena) net->be->release(net->arena, net->arena_bytes ? net->arena_bytes : 64);
    net->arena = NULL;
    net->arena_bytes = 0;
}

void free_network(network *net)
{
    if (!net) return;
    char perr[128];
    if (net->be->device) network_place(net, dn_backend_cpu(), perr, sizeof(perr));
    free(net->host_arena);
    free(net->hook_stage);
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->ops && l->ops->destroy) l->ops->destroy(l);
        for (int k = 0; k < l->nparams; ++k) param_free(&l->params[k]);
        free(l->src);
    }
    free(net->grad_block);
    saved_store_free(net->store);
    plan_free(&net->plan);
    free_arena(net);
    if (net->workspace) net->be->release(net->workspace, net->workspace_bytes);
    free(net->scratch[0]);
    free(net->scratch[1]);
    free(net->layers);
    free(net->cfgfile);
    free(net->ltimes);
    free(net->input);
    free(net->truth);
    free(net->steps);
    free(net->scales);
    free(net->tmp_ins);
    free(net->tmp_dins);
    free(net);
}

int network_alloc_grads(network *net)
{
    if (net->grads_ready) return 0;
    /* one block in backward order: src/dist all-reduces ranges of it in place (params.h) */
    net->grad_block = params_alloc_grads(net->layers, net->n, net->adam, &net->grad_floats);
    if (!net->grad_block) return -1;
    if (net->be->device) { /* made on the host, moved like the weights (place.h): the block
                            * first, so the gradients stay slices of one device block */
        place_ctx pc = place_ctx_to_device(net);
        if (place_array(&pc, &net->grad_block, net->grad_floats)) return -1;
        for (int i = 0; i < net->n; ++i)
            for (int k = 0; k < net->layers[i].nparams; ++k) {
                param *p = &net->layers[i].params[k];
                if (place_array(&pc, &p->grad, p->n) || place_array(&pc, &p->m, p->n) ||
                    place_array(&pc, &p->v, p->n))
                    return -1;
            }
    }
    net->grads_ready = 1;
    return 0;
}

/* Workspace and per-sample scratch sized to the largest layer. */
static int prepare_scratch(network *net, char *err, size_t errlen)
{
    size_t ws = 0, sc = 1;
    for (int i = 0; i < net->n; ++i) {
        if (net->layers[i].workspace > ws) ws = net->layers[i].workspace;
        if (net->layers[i].restore_floats > sc) sc = net->layers[i].restore_floats;
    }
    if (ws > net->workspace_bytes) {
        if (net->workspace) net->be->release(net->workspace, net->workspace_bytes);
        net->workspace = net->be->alloc(ws, "the convolution workspace");
        net->workspace_bytes = net->workspace ? ws : 0;
    }
    if (sc > net->scratch_floats) {
        for (int k = 0; k < 2; ++k) {
            if (net->dscratch[k]) net->be->release(net->dscratch[k], net->scratch_floats * sizeof(float));
            net->dscratch[k] = NULL;
            free(net->scratch[k]);
            net->scratch[k] = malloc(sc * sizeof(float));
        }
        net->scratch_floats = (net->scratch[0] && net->scratch[1]) ? sc : 0;
    }
    for (int k = 0; net->be->device && k < 2; ++k)
        if (!net->dscratch[k] && net->scratch_floats)
            net->dscratch[k] = net->be->alloc(net->scratch_floats * sizeof(float), "scratch");
    if ((ws && !net->workspace) || !net->scratch_floats ||
        (net->be->device && (!net->dscratch[0] || !net->dscratch[1]))) {
        snprintf(err, errlen, "out of memory: workspace %.1f MiB, scratch %.1f MiB", ws / 1048576.0,
                 2.0 * sc * sizeof(float) / 1048576.0);
        return -1;
    }
    return 0;
}

/* A device run's input batch in backend memory and the host mirror of the arena (host-only
 * layers and output reads work there, as Darknet keeps host copies of its buffers). */
static int prepare_device_io(network *net, char *err, size_t errlen)
{
    size_t in = (size_t)net->batch * net->inputs;
    if (in > net->dev_input_floats) {
        if (net->dev_input) net->be->release(net->dev_input, net->dev_input_floats * sizeof(float));
        net->dev_input = net->be->alloc(in * sizeof(float), "the input batch");
        net->dev_input_floats = net->dev_input ? in : 0;
    }
    if (net->arena_bytes > net->host_arena_bytes) {
        free(net->host_arena);
        net->host_arena = malloc(net->arena_bytes);
        net->host_arena_bytes = net->host_arena ? net->arena_bytes : 0;
    }
    if (!net->dev_input || !net->host_arena) {
        snprintf(err, errlen, "out of memory: the input batch (%.1f MiB, %s) or the host mirror "
                 "of the arena (%.1f MiB)", in * 4 / 1048576.0, net->be->name,
                 net->arena_bytes / 1048576.0);
        return -1;
    }
    return 0;
}

int network_prepare(network *net, int train, char *err, size_t errlen)
{
    mem_plan *p = &net->plan;
    if (train && net->train_refusal[0]) {
        snprintf(err, errlen, "%s", net->train_refusal);
        return -1;
    }
    int hooked = plan_hooked(net);
    if (p->valid && p->train == train && p->batch == net->batch && p->w == net->w && p->h == net->h &&
        p->hooked == hooked)
        return 0;
    if (train && network_alloc_grads(net)) {
        snprintf(err, errlen, "out of memory allocating parameter gradients");
        return -1;
    }
    if (plan_build(p, net, train)) {
        snprintf(err, errlen, "out of memory building the memory plan");
        return -1;
    }
    if (p->arena_bytes != net->arena_bytes) {
        free_arena(net);
        net->arena = net->be->alloc(p->arena_bytes ? p->arena_bytes : 64, "the activation arena");
        if (!net->arena) {
            snprintf(err, errlen,
                     "out of memory: the activation arena needs %.1f MiB for mini-batch %d; "
                     "raise subdivisions, lower -batch, or set actnn_bits=2 in [net]",
                     p->arena_bytes / 1048576.0, net->batch);
            p->valid = 0;
            return -1;
        }
        net->arena_bytes = p->arena_bytes;
    }
    if (prepare_scratch(net, err, errlen)) return -1;
    if (net->be->device && prepare_device_io(net, err, errlen)) return -1;
    if (!net->store && !(net->store = saved_store_create(net, err, errlen))) return -1;
    return 0;
}

static float *buf_at(network *net, const mem_buf *b)
{
    return b->bytes ? (float *)((char *)net->arena + b->off) : NULL;
}

static const float *src_output(network *net, int j, const float *input)
{
    if (j < 0) return net->be->device ? net->dev_input : input; /* pushed by the forward */
    return buf_at(net, &net->plan.out[j]);
}

void network_make_ctx(network *net, int i, const float *input, int train, layer_ctx *x)
{
    layer *l = &net->layers[i];
    memset(x, 0, sizeof(*x));
    x->net = net;
    x->l = l;
    x->be = net->be;
    x->batch = x->total = net->batch;
    x->pass = PASS_FULL;
    x->param_grads = 1;
    x->train = train;
    x->in = src_output(net, l->src[0], input);
    x->out = buf_at(net, &net->plan.out[i]);
    /* strides differ from the packed sizes only around zero-copy routes (concat.h) */
    int j = l->src[0];
    if (j >= 0 && net->plan.stride[j] != (size_t)net->layers[j].outputs) x->in_stride = net->plan.stride[j];
    if (net->plan.stride[i] != (size_t)l->outputs) x->out_stride = net->plan.stride[i];
    x->delta = train ? buf_at(net, &net->plan.delta[i]) : NULL;
    x->ins = net->tmp_ins;
    x->delta_ins = net->tmp_dins;
    for (int s = 0; s < l->nsrc; ++s) {
        int j = l->src[s];
        x->ins[s] = src_output(net, j, input);
        x->delta_ins[s] = (train && j >= 0) ? buf_at(net, &net->plan.delta[j]) : NULL;
    }
    x->delta_in = l->nsrc ? x->delta_ins[0] : NULL;
    x->truth = net->truths ? net->truth : NULL;
    x->ws = net->workspace;
    x->ws_bytes = net->workspace_bytes;
    x->scratch[0] = net->be->device ? net->dscratch[0] : net->scratch[0];
    x->scratch[1] = net->be->device ? net->dscratch[1] : net->scratch[1];
    saved_bind(net->store, x);
}

/* ---- host-only layers on a device backend (layer_ops.host_only) ----
 * The layer runs on the CPU backend with host copies of its buffers: the parts of the
 * arena it reads are pulled into the host mirror at the same offsets, the parts it writes
 * are pushed back. Outputs, deltas and inputs are all copied both ways (loss layers are
 * small next to the convolutions). */

/* Floats spanned by `batch` samples of `n` floats `stride` apart. */
static size_t span(int batch, size_t stride, int n) { return (size_t)(batch - 1) * stride + (size_t)n; }

static float *mirror_of(network *net, const float *dev)
{
    if (!dev || dev == net->dev_input) return NULL; /* the input: the host batch itself */
    return (float *)(net->host_arena + ((const char *)dev - (const char *)net->arena));
}

/* One buffer of n floats between the device arena and its host mirror (none for the input,
 * which the host holds). */
static int sync_buf(network *net, const float *dev, size_t n, int to_host)
{
    float *h = mirror_of(net, dev);
    if (!h) return 0;
    return to_host ? net->be->pull(h, dev, n * sizeof(float))
                   : net->be->push((float *)dev, h, n * sizeof(float));
}

/* Copies the buffers of layer i's call between the device arena and its host mirror: its
 * output and delta, and every source's output and delta, however many sources it has. */
static int host_sync(network *net, const layer_ctx *d, int to_host)
{
    const mem_plan *p = &net->plan;
    const layer *l = d->l;
    size_t own = span(d->batch, p->stride[l->index], l->outputs);
    if (sync_buf(net, d->out, own, to_host) || sync_buf(net, d->delta, own, to_host)) return -1;
    for (int s = 0; s < l->nsrc; ++s) {
        int j = l->src[s];
        if (j < 0) continue;
        size_t n = span(d->batch, p->stride[j], net->layers[j].outputs);
        if (sync_buf(net, d->ins[s], n, to_host) || sync_buf(net, d->delta_ins[s], n, to_host))
            return -1;
    }
    return 0;
}

/* Runs layer i's forward (fwd) or backward on the host around the device call context d. */
static int host_call(network *net, layer_ctx *d, const float *host_input, int fwd)
{
    layer *l = d->l;
    size_t ns = l->nsrc > 0 ? (size_t)l->nsrc : 1;
    const float **hins = malloc(ns * sizeof(*hins)); /* as many as the layer has sources */
    float **hdins = malloc(ns * sizeof(*hdins));
    int rc = hins && hdins ? host_sync(net, d, 1) : -1;
    if (!rc) {
        layer_ctx h = *d;
        h.be = dn_backend_cpu();
        h.in = d->in == net->dev_input ? host_input : mirror_of(net, d->in);
        h.out = mirror_of(net, d->out);
        h.delta = mirror_of(net, d->delta);
        h.delta_in = mirror_of(net, d->delta_in);
        for (int s = 0; s < l->nsrc; ++s) {
            hins[s] = d->ins[s] == net->dev_input ? host_input : mirror_of(net, d->ins[s]);
            hdins[s] = mirror_of(net, d->delta_ins[s]);
        }
        h.ins = hins;
        h.delta_ins = hdins;
        h.ws = NULL; /* the host-only layers (loss layers) take no workspace */
        h.ws_bytes = 0;
        h.scratch[0] = net->scratch[0];
        h.scratch[1] = net->scratch[1];
        rc = fwd ? l->ops->forward(l, &h) : (l->ops->backward ? l->ops->backward(l, &h) : 0);
        if (!rc && host_sync(net, d, 0)) rc = -1;
    }
    free(hins);
    free(hdins);
    return rc;
}

/* One layer call: on the backend, or on the host for a host-only layer of a device run. */
static int layer_call(network *net, layer_ctx *x, const float *host_input, int fwd)
{
    layer *l = x->l;
    if (net->be->device && l->ops->host_only) return host_call(net, x, host_input, fwd);
    if (fwd) return l->ops->forward(l, x);
    return l->ops->backward ? l->ops->backward(l, x) : 0;
}

int network_sync_check(network *net, int i, int fwd)
{
    const dn_backend *be = net->be;
    const char *type = net->layers[i].ops->name;
    if (!be->sync_check || !be->sync_check(i, type, !fwd)) return 0;
    snprintf(net->err, sizeof(net->err), "layer %d (%s) %s failed on the %s device (see above)", i,
             type, fwd ? "forward" : "backward", be->name);
    return -1;
}

const float *network_layer_output(const network *cnet, int i)
{
    network *net = (network *)cnet; /* writes only the host mirror */
    const mem_buf *b = &net->plan.out[i];
    if (!net->plan.valid || !b->bytes) return NULL;
    const float *o = buf_at(net, b);
    if (!net->be->device) return o;
    float *h = mirror_of(net, o);
    size_t n = span(net->batch, net->plan.stride[i], net->layers[i].outputs);
    return net->be->pull(h, o, n * sizeof(float)) ? NULL : h;
}

float *network_nan_flags(network *net)
{
    if (!net->nan_flags && net->be->nonfinite_mark)
        net->nan_flags = net->be->alloc(3 * (size_t)net->n * sizeof(float), "the NaN marks");
    return net->nan_flags;
}

/* A NaN watch on a device: flags 3i (output) or 3i+1 (delta, the backward hook) of layer
 * l, set on the device; finite_check.c pulls them once an iteration. 0 when marked. */
static int mark_nonfinite(network *net, forward_hook h, const layer *l, const float *d,
                          size_t stride, int batch)
{
    float *flags = network_nan_flags(net);
    if (!flags) return -1; /* the hooks get the values the slow way */
    float *f = flags + 3 * (size_t)l->index + (h == net->bhook && h != net->hook);
    size_t n = (size_t)l->outputs;
    if (stride == n) net->be->nonfinite_mark(d, n * (size_t)batch, f);
    else /* samples inside a wider buffer: the values between them are other layers' */
        for (int b = 0; b < batch; ++b) net->be->nonfinite_mark(d + (size_t)b * stride, n, f);
    return 0;
}

void network_run_hook(network *net, forward_hook h, const layer *l, const float *d, size_t stride,
                      int batch)
{
    if (!h || !d) return;
    if (net->be->device && net->nan_marks && !mark_nonfinite(net, h, l, d, stride, batch)) return;
    size_t n = (size_t)l->outputs;
    if (net->be->device) { /* hooks read host memory: one sample at a time through a copy */
        if (n > net->hook_stage_floats) {
            free(net->hook_stage);
            net->hook_stage = malloc(n * sizeof(float));
            net->hook_stage_floats = net->hook_stage ? n : 0;
        }
        for (int b = 0; b < batch && net->hook_stage; ++b)
            if (!net->be->pull(net->hook_stage, d + (size_t)b * stride, n * sizeof(float)))
                h(net->hook_ud, l, net->hook_stage, n);
        return;
    }
    if (stride == n) {
        h(net->hook_ud, l, d, n * (size_t)batch);
        return;
    }
    for (int b = 0; b < batch; ++b) h(net->hook_ud, l, d + (size_t)b * stride, n);
}

/* Zeroes the deltas whose first writer runs at `step`. */
static void zero_born_deltas(network *net, int step)
{
    for (int j = 0; j < net->n; ++j) {
        mem_buf *b = &net->plan.delta[j];
        if (b->bytes && !b->alias && b->start == step)
            net->be->fill(buf_at(net, b), b->bytes / sizeof(float), 0);
    }
}

/* The layer after whose forward the input is no longer read (input_done), or -1. */
static int input_drop_index(const network *net, int train)
{
    if (!train || !net->input_done || !network_input_dead(net)) return -1;
    int last = -1;
    for (int i = 0; i < net->n; ++i)
        for (int s = 0; s < net->layers[i].nsrc; ++s)
            if (net->layers[i].src[s] < 0) last = i;
    return last;
}

int network_forward(network *net, const float *input, int train)
{
    if (network_prepare(net, train, net->err, sizeof(net->err))) return -1;
    int drop = input_drop_index(net, train);
    net->train = train;
    net->fwd_input = input;
    if (net->be->device &&
        net->be->push(net->dev_input, input, (size_t)net->batch * net->inputs * sizeof(float))) {
        snprintf(net->err, sizeof(net->err), "copying the input batch to the %s device", net->be->name);
        return -1;
    }
    if (train) saved_next_iteration(net->store, ++net->iteration);
    if (net->ltimes) layer_times_begin_pass(net, train);
    net->cost = 0;
    int ncost = 0;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        layer_ctx x;
        if (train) zero_born_deltas(net, i);
        if (train && net->plan.seg_end[i] > i) { /* a streamed segment i..end, no cost in it */
            int end = net->plan.seg_end[i];
            for (int k = i + 1; k <= end; ++k) zero_born_deltas(net, k);
            double t0 = net->ltimes ? layer_times_now() : 0;
            if (stream_forward(net, i, input, drop >= i && drop <= end)) {
                saved_release_all(net->store);
                return -1;
            }
            if (net->ltimes) layer_times_add(net, i, 0, layer_times_now() - t0);
            i = end;
            if (i >= drop && drop >= 0) {
                net->input_done(net->input_done_ud, net->batch);
                drop = -1;
            }
            continue;
        }
        network_make_ctx(net, i, input, train, &x);
        l->cost = 0;
        double t0 = net->ltimes ? layer_times_now() : 0;
        if (layer_call(net, &x, input, 1)) {
            snprintf(net->err, sizeof(net->err), "layer %d (%s): %s", i, l->ops->name,
                     saved_error(net->store));
            saved_release_all(net->store);
            return -1;
        }
        if (network_sync_check(net, i, 1)) {
            saved_release_all(net->store);
            return -1;
        }
        if (net->ltimes) layer_times_add(net, i, 0, layer_times_now() - t0);
        if (l->loss) {
            net->cost += l->cost;
            ++ncost;
        }
        network_run_hook(net, net->hook, l, x.out, net->plan.stride[i], net->batch);
        if (i >= drop && drop >= 0) { /* the input's last reader is done (network.h) */
            net->input_done(net->input_done_ud, net->batch);
            drop = -1;
        }
    }
    /* Darknet reports the mean over the layers that have a cost. */
    if (ncost) net->cost /= ncost;
    net->output = (float *)network_layer_output(net, net->out_index);
    if (net->be->device && net->be->error()) {
        snprintf(net->err, sizeof(net->err), "the %s backend failed (see above)", net->be->name);
        return -1;
    }
    return 0;
}

/* actnn_swap: the saves of the unit whose backward follows the one starting at `first`
 * (a layer, or a streamed segment) start coming back from host memory now. */
static void prefetch_next(network *net, int first)
{
    int j = first - 1;
    if (!net->actnn_swap || j <= net->plan.stop) return;
    int lo = net->plan.seg_start[j] > net->plan.stop ? net->plan.seg_start[j] : j;
    saved_prefetch(net->store, net->be, lo, j, plan_unit_parity(&net->plan, lo));
}

int network_backward(network *net)
{
    mem_plan *p = &net->plan;
    int rc = 0;
    for (int i = net->n - 1; i > p->stop; --i) {
        layer *l = &net->layers[i];
        zero_born_deltas(net, plan_bwd_step(p, i));
        int a = p->seg_start[i];
        prefetch_next(net, a > p->stop ? a : i);
        if (a > p->stop) { /* the streamed segment a..i */
            for (int k = i - 1; k >= a; --k) zero_born_deltas(net, plan_bwd_step(p, k));
            double t0 = net->ltimes ? layer_times_now() : 0;
            if (stream_backward(net, a)) { rc = -1; break; }
            if (saved_take_failure(net->store)) {
                snprintf(net->err, sizeof(net->err), "%s", saved_error(net->store));
                rc = -1;
                break;
            }
            if (net->ltimes) layer_times_add(net, a, 1, layer_times_now() - t0);
            int end = i;
            for (; i >= a; --i) saved_release_layer(net->store, i);
            i = a;
            for (int k = end; k >= a && net->grad_sync; --k)
                if (net->grad_sync(net, k)) { rc = -1; break; }
            if (rc) break;
            continue;
        }
        if (l->onlyforward) continue;
        layer_ctx x;
        network_make_ctx(net, i, net->fwd_input ? net->fwd_input : net->input, 1, &x);
        double t0 = net->ltimes ? layer_times_now() : 0;
        if (layer_call(net, &x, net->fwd_input ? net->fwd_input : net->input, 0)) {
            snprintf(net->err, sizeof(net->err), "layer %d (%s) backward failed", i, l->ops->name);
            rc = -1;
            break;
        }
        if (network_sync_check(net, i, 0)) {
            rc = -1;
            break;
        }
        if (saved_take_failure(net->store)) { /* actnn_swap: a block did not come back */
            snprintf(net->err, sizeof(net->err), "%s", saved_error(net->store));
            rc = -1;
            break;
        }
        if (net->ltimes) layer_times_add(net, i, 1, layer_times_now() - t0);
        saved_release_layer(net->store, i);
        network_run_hook(net, net->bhook, l, x.delta, net->plan.stride[i], net->batch);
        if (net->grad_sync && net->grad_sync(net, i)) { rc = -1; break; }
    }
    saved_stats_flush(net->store); /* a device's costs and gradient sums: a pull each */
    saved_release_all(net->store);
    /* A device op of this pass that failed (its wrapper printed why) stops it here, not at
     * the next forward's check, which would blame the wrong pass. */
    if (!rc && net->be->device && net->be->error()) {
        snprintf(net->err, sizeof(net->err), "the %s backend failed in backward (see above)",
                 net->be->name);
        rc = -1;
    }
    /* actnn_auto: new per-layer bits from this pass's statistics, first after iteration 1 */
    if (!rc && net->actnn_auto && (net->iteration - 1) % (uint64_t)net->actnn_auto_interval == 0 &&
        saved_auto_allocate(net->store, (size_t)net->batch)) {
        snprintf(net->err, sizeof(net->err), "%s", saved_error(net->store));
        rc = -1;
    }
    return rc;
}

size_t network_current_batch(const network *net)
{
    size_t per = (size_t)net->batch * (size_t)net->subdivisions * (size_t)net->ranks;
    return per ? net->seen / per : 0;
}

float network_current_rate(const network *net)
{
    size_t b = network_current_batch(net);
    if (b < (size_t)net->burn_in)
        return (float)(net->learning_rate * pow((float)b / net->burn_in, net->power));
    switch (net->policy) {
    case POLICY_CONSTANT: return net->learning_rate;
    case POLICY_STEP: return (float)(net->learning_rate * pow(net->scale, (double)(b / (size_t)net->step)));
    case POLICY_STEPS: {
        float rate = net->learning_rate;
        for (int i = 0; i < net->num_steps; ++i) {
            if ((size_t)net->steps[i] > b) return rate;
            rate *= net->scales[i];
        }
        return rate;
    }
    case POLICY_EXP: return (float)(net->learning_rate * pow(net->gamma, (double)b));
    case POLICY_POLY:
        if (!net->max_batches) return net->learning_rate;
        return (float)(net->learning_rate * pow(1 - (float)b / net->max_batches, net->power));
    case POLICY_RANDOM: {
        /* Deterministic per batch number, so resumed runs see the same rates. */
        uint64_t z = (uint64_t)b * 0x9E3779B97F4A7C15ull ^ net->seed;
        z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
        double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
        return (float)(net->learning_rate * pow(u, net->power));
    }
    case POLICY_SIG:
        return (float)(net->learning_rate * (1. / (1. + exp(net->gamma * ((double)b - net->step)))));
    case POLICY_SGDR: {
        /* AlexeyAB's: a cycle includes its last batch (minimum there, restart one later) */
        size_t cycle = (size_t)net->sgdr_cycle, pos = b;
        while (pos > cycle) { pos -= cycle; cycle *= (size_t)net->sgdr_mult; }
        double r = net->learning_rate_min +
                   0.5 * (net->learning_rate - net->learning_rate_min) * (1 + cos(M_PI * pos / cycle));
        return (float)r;
    }
    default: return net->learning_rate;
    }
}

void network_update(network *net)
{
    update_args a = {0};
    a.be = net->be;
    a.batch = net->batch * net->subdivisions * net->ranks;
    float rate = network_current_rate(net);
    a.momentum = net->momentum;
    a.decay = net->decay;
    a.adam = net->adam;
    a.B1 = net->B1;
    a.B2 = net->B2;
    a.eps = net->eps;
    a.t = ++net->t;
    int stop = net->plan.valid ? net->plan.stop : -1;
    for (int i = stop + 1; i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (l->onlyforward || l->dont_update) continue;
        a.learning_rate = rate * l->lr_scale;
        for (int k = 0; k < l->nparams; ++k) param_update(&l->params[k], &a);
    }
}

int network_train_datum(network *net, float *cost, char *err, size_t errlen)
{
    return network_train_batch(net, net->input, cost, err, errlen);
}

int network_input_dead(const network *net)
{
    int stop = net->plan.valid ? net->plan.stop : -1;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        int reads = 0;
        for (int s = 0; s < l->nsrc; ++s) reads |= l->src[s] < 0;
        if (!reads || i <= stop || l->onlyforward) continue;
        if ((l->type != LT_CONVOLUTIONAL && l->type != LT_CONNECTED) || l->bits >= 32) return 0;
    }
    return 1;
}

int network_train_batch(network *net, const float *x, float *cost, char *err, size_t errlen)
{
    size_t global = (size_t)net->batch * (size_t)net->ranks;
    net->seen += global;
    /* The forward hands the input back after its last reader (input_done) when nothing
     * reads it in backward; the saved activations' pool (kept between iterations
     * otherwise) goes back after the backward: the input and a full pool of saved
     * activations are never resident at once (memreport.h counts the larger). */
    int dead = net->input_done && network_input_dead(net);
    /* What parsing, weight init and the plan's dry runs freed stays resident until a trim:
     * without this one, the first step's peak holds it too (yolov3-tiny-shapes 256 px,
     * mini-batch 40: 9 MiB). */
    if (!net->heap_trimmed) saved_trim(net->store);
    net->heap_trimmed = 1;
    if (network_forward(net, x, 1) || network_backward(net)) {
        snprintf(err, errlen, "%s", net->err);
        return -1;
    }
    if (dead) saved_trim(net->store);
    *cost = net->cost;
    if ((net->seen / global) % (size_t)net->subdivisions == 0) {
        if (net->grad_sync && net->grad_sync(net, -1)) {
            snprintf(err, errlen, "%s", net->err);
            return -1;
        }
        network_update(net);
    }
    return 0;
}

layer *network_output_layer(network *net) { return &net->layers[net->out_index]; }

/* ---- pjreddie-compatible API ---- */

float *network_predict(network *net, float *input)
{
    if (network_forward(net, input, 0)) {
        fprintf(stderr, "network_predict: %s\n", net->err);
        exit(1);
    }
    return net->output;
}

int network_width(network *net) { return net->w; }
int network_height(network *net) { return net->h; }
int network_inputs(network *net) { return net->inputs; }
int network_outputs(network *net) { return net->outputs; }
size_t get_current_batch(network *net) { return network_current_batch(net); }
float get_current_rate(network *net) { return network_current_rate(net); }

void set_batch_network(network *net, int b)
{
    if (b < 1) b = 1;
    net->batch = b;
    for (int i = 0; i < net->n; ++i) net->layers[i].batch = b;
    char err[256];
    if (network_alloc_io(net, err, sizeof(err))) {
        fprintf(stderr, "set_batch_network: %s\n", err);
        exit(1);
    }
}

int resize_network(network *net, int w, int h)
{
    net->w = w;
    net->h = h;
    net->inputs = w * h * net->c;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        const layer *prev = i ? &net->layers[i - 1] : NULL;
        l->w = prev ? prev->out_w : w;
        l->h = prev ? prev->out_h : h;
        l->c = prev ? prev->out_c : net->c;
        l->inputs = l->w * l->h * l->c;
        if (!l->ops->resize || l->ops->resize(l, net)) {
            fprintf(stderr, "resize_network: layer %d (%s) cannot take %dx%d\n", i, l->ops->name, w, h);
            return 1;
        }
    }
    net->outputs = net->layers[net->out_index].outputs;
    char err[256];
    if (network_alloc_io(net, err, sizeof(err))) {
        fprintf(stderr, "resize_network: %s\n", err);
        return 1;
    }
    return 0;
}

void network_print(const network *net, FILE *f)
{
    double total = 0;
    fprintf(f, "   layer   type            input                output          bits  BFLOPs\n");
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        fprintf(f, "%5d %-16s %4d x%4d x%5d -> %4d x%4d x%5d   %2d", i, l->ops->name, l->w, l->h,
                l->c, l->out_w, l->out_h, l->out_c, l->bits);
        if (l->flops > 0) fprintf(f, "  %7.3f", l->flops * 1e-9);
        fputc('\n', f);
        total += l->flops;
    }
    /* per sample, forward only, like Darknet's line (scripts/bench_peak.sh reads it) */
    fprintf(f, "Total BFLOPS %.3f\n", total * 1e-9);
}
