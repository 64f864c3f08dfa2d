#include "memory/memreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/place.h"
#include "data/loader.h"
#include "memory/saved.h"

#define MIB (1024.0 * 1024.0)

size_t memreport_param_bytes(const network *net)
{
    size_t b = 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        for (int k = 0; k < l->nparams; ++k) {
            const param *p = &l->params[k];
            size_t mult = 1 + (p->grad != NULL) + (p->m != NULL) + (p->v != NULL);
            b += p->n * sizeof(float) * mult;
        }
        for (int k = 0; k < l->nwf; ++k)
            if (l->wf[k].flags & WF_BN_STATS) b += l->wf[k].n * sizeof(float);
    }
    return b;
}

size_t memreport_peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = (size_t)strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}

/* BN rolling statistics change in a training forward; the dry run must leave none of
 * its traces, so they are copied out and back. */
static float *bn_snapshot(const network *net, int restore, float *buf)
{
    size_t n = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nwf; ++k) {
            const wfile_entry *w = &net->layers[i].wf[k];
            if (!(w->flags & WF_BN_STATS)) continue;
            if (buf && restore) memcpy(w->data, buf + n, w->n * sizeof(float));
            else if (buf) memcpy(buf + n, w->data, w->n * sizeof(float));
            n += w->n;
        }
    if (buf) return buf;
    buf = malloc((n + 1) * sizeof(float));
    return buf ? bn_snapshot(net, 0, buf) : NULL;
}

/* Runs a batch-1 training forward on zeros and records what every layer saved. */
static int dry_run(network *net, saved_desc *desc, char *err, size_t errlen)
{
    int batch = net->batch;
    uint64_t iter = net->iteration;
    if (net->train_refusal[0]) { /* no training pass, so nothing it would save */
        snprintf(err, errlen, "%s", net->train_refusal);
        return -1;
    }
    /* on a device the host arrays are mirrors: made current first, sent back after */
    if (net->be->device && place_pull_all(net)) {
        snprintf(err, errlen, "copying the parameters from the %s device", net->be->name);
        return -1;
    }
    float *bn = bn_snapshot(net, 0, NULL);
    if (!bn) {
        snprintf(err, errlen, "out of memory planning");
        return -1;
    }
    size_t had = saved_pool_bytes(net->store);
    set_batch_network(net, 1);
    /* Loss layers report on stdout in training forwards; this one is not training. */
    fflush(stdout);
    int saved_fd = dup(1), null_fd = open("/dev/null", O_WRONLY);
    if (saved_fd >= 0 && null_fd >= 0) dup2(null_fd, 1);
    int rc = network_forward(net, net->input, 1);
    fflush(stdout);
    if (saved_fd >= 0 && null_fd >= 0) dup2(saved_fd, 1);
    if (saved_fd >= 0) close(saved_fd);
    if (null_fd >= 0) close(null_fd);
    if (rc) snprintf(err, errlen, "%s", net->err);
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k)
            if (rc || saved_describe(net->store, i, k, &desc[i * SV_SLOTS + k]))
                desc[i * SV_SLOTS + k].kind = SAVED_NONE;
    saved_release_all(net->store);
    if (saved_pool_restore(net->store, had) && !rc) {
        snprintf(err, errlen, "%s", saved_error(net->store));
        rc = -1;
    }
    saved_reset_peak(net->store); /* a dry run at other bits may have saved more */
    bn_snapshot(net, 1, bn);
    free(bn);
    if (net->be->device && place_push_all(net) && !rc) {
        snprintf(err, errlen, "copying the parameters to the %s device", net->be->name);
        rc = -1;
    }
    net->iteration = iter;
    set_batch_network(net, batch);
    return rc;
}

/* "q2+mask": how each slot of a layer is stored. */
static void describe(const saved_desc *d, char *s, size_t len)
{
    s[0] = 0;
    for (int k = 0; k < SV_SLOTS; ++k) {
        char one[16];
        switch (d[k].kind) {
        case SAVED_ALIVE: snprintf(one, sizeof(one), "kept"); break;
        case SAVED_TENSOR:
            if (d[k].shared) /* part of the input borrowed from another layer's save */
                snprintf(one, sizeof(one), d[k].bits >= 16 ? "f%d<%d" : "q%d<%d", d[k].bits,
                         d[k].share_layer);
            else
                snprintf(one, sizeof(one), d[k].bits >= 16 ? "f%d" : "q%d", d[k].bits);
            break;
        case SAVED_MASK: snprintf(one, sizeof(one), "mask"); break;
        case SAVED_CODES: snprintf(one, sizeof(one), "code%d", d[k].bits); break;
        case SAVED_DROPOUT: snprintf(one, sizeof(one), "seed"); break;
        default: continue;
        }
        size_t used = strlen(s);
        snprintf(s + used, len - used, "%s%s", used ? "+" : "", one);
    }
    if (!s[0]) snprintf(s, len, "-");
}

/* Which saved activations are resident together with the whole input batch (network_
 * forward's input_done): those of the layers up to `hold` (the input's last reader, or the
 * layer before the streamed segment holding it), and the first chunk of that segment
 * (seg..end, `chunk` samples a chunk): its last sweep saves a chunk before dropping the
 * chunk's input (stream_forward), so the input shrinks while those saves grow. */
typedef struct {
    int hold, seg, end, chunk;
} input_hold;

static input_hold input_hold_of(const network *net, const mem_plan *p)
{
    input_hold h = {-1, -1, -1, 0};
    for (int i = 0; i < net->n; ++i)
        for (int s = 0; s < net->layers[i].nsrc; ++s)
            if (net->layers[i].src[s] < 0) h.hold = i;
    for (int a = 0; h.hold >= 0 && a <= h.hold; ++a)
        if (p->seg_end[a] > a && p->seg_end[a] >= h.hold) {
            h = (input_hold){a - 1, a, p->seg_end[a], p->chunk[a] ? p->chunk[a] : 1};
            break;
        }
    return h;
}

/* The part of layer i's saved bytes (for the whole mini-batch) resident with the input. */
static size_t with_input(const input_hold *h, size_t bytes, int i, size_t batch)
{
    if (i <= h->hold) return bytes;
    if (i < h->seg || i > h->end || !batch) return 0;
    return (bytes * (size_t)h->chunk + batch - 1) / batch;
}

/* Arena of the same graph for mini-batch `batch` with every layer at `bits` (0: the layers'
 * own bits); only the plan is built, nothing is allocated. *hold gets input_hold_of. */
static size_t swap_window_of(const network *net, const mem_plan *p, const saved_desc *desc,
                             size_t n, int dev);

/* The arena of mini-batch `batch` with every layer at `bits` (0: their own); with desc,
 * *window gets actnn_swap's device window of that plan. */
static size_t arena_at(network *net, int bits, int batch, input_hold *hold,
                       const saved_desc *desc, size_t *window)
{
    int *own = malloc(sizeof(int) * (size_t)net->n + 1);
    int nb = net->batch;
    mem_plan p = {0};
    size_t bytes = 0;
    if (!own) return 0;
    for (int i = 0; i < net->n; ++i) {
        own[i] = net->layers[i].bits;
        if (bits) net->layers[i].bits = bits;
    }
    net->batch = batch;
    if (plan_build(&p, net, 1) == 0) bytes = p.arena_bytes;
    if (desc && window) *window = swap_window_of(net, &p, desc, (size_t)batch, 0);
    /* without a plan, everything counts with the input (an upper bound) */
    if (hold) *hold = p.valid ? input_hold_of(net, &p) : (input_hold){net->n - 1, -1, -1, 0};
    plan_free(&p);
    net->batch = nb;
    for (int i = 0; i < net->n; ++i) net->layers[i].bits = own[i];
    free(own);
    return bytes;
}

static void print_row(FILE *f, const network *net, int i, const saved_desc *d, size_t fp32,
                      size_t saved)
{
    const layer *l = &net->layers[i];
    const mem_plan *p = &net->plan;
    char shape[64], what[96];
    snprintf(shape, sizeof(shape), "%dx%dx%d", l->out_w, l->out_h, l->out_c);
    describe(d, what, sizeof(what));
    fprintf(f, "%5d %-14s %-14s %4d %-18s %10.2f %10.2f %9.2f %9.2f", i, l->ops->name, shape,
            l->bits, what, fp32 / MIB, saved / MIB, p->out[i].bytes / MIB, p->delta[i].bytes / MIB);
    if (p->chunk[i]) fprintf(f, " streamed (chunk of %d)", p->chunk[i]);
    else if (p->seg_start[i] >= 0) fprintf(f, " streamed (exit)");
    fprintf(f, "\n");
}

/* Which layers run in chunks of samples (stream.h), so a user sees what the arena gains. */
static void print_segments(FILE *f, const network *net, const mem_plan *p)
{
    if (net->stream_why[0]) fprintf(f, "streamed segments: %s\n", net->stream_why);
    fprintf(f, "streamed segments (first..exit, samples per chunk):");
    int any = 0;
    for (int a = 0; a < p->n; ++a)
        if (p->seg_end[a] > a) {
            fprintf(f, " %d..%d:%d", a, p->seg_end[a], p->chunk[a]);
            any = 1;
        }
    fprintf(f, "%s\n", any ? "" : " none");
}

saved_desc *memreport_describe(network *net, int bits, char *err, size_t errlen)
{
    saved_desc *desc = calloc((size_t)net->n * SV_SLOTS + 1, sizeof(saved_desc));
    int *own = malloc(sizeof(int) * (size_t)net->n + 1);
    if (!desc || !own) {
        free(desc);
        free(own);
        snprintf(err, errlen, "out of memory planning");
        return NULL;
    }
    for (int i = 0; i < net->n; ++i) {
        own[i] = net->layers[i].bits;
        if (bits) net->layers[i].bits = bits;
    }
    /* No plan at the full mini-batch here: dry_run plans for one sample, and an arena for
     * the other bits' full mini-batch would be allocated for nothing (on a device, real
     * memory that shows as gpu_peak_mib). */
    int rc = dry_run(net, desc, err, errlen);
    for (int i = 0; i < net->n; ++i) net->layers[i].bits = own[i];
    free(own);
    if (bits) plan_free(&net->plan); /* made for the other bits */
    if (!rc) rc = network_prepare(net, 1, err, errlen);
    if (rc) {
        free(desc);
        return NULL;
    }
    return desc;
}

/* Bytes layer i's slots take for n samples, tensors at `bits` (0: the layer's own). */
static size_t layer_saved(const network *net, const saved_desc *d, int i, size_t n, int bits)
{
    size_t b = 0;
    int lb = bits ? bits : net->layers[i].bits;
    for (int k = 0; k < SV_SLOTS; ++k)
        if (d[k].kind != SAVED_NONE) b += saved_desc_bytes(&d[k], n, lb, (size_t)net->actnn_group);
    return b;
}

/* actnn_swap=1: the saves live on the device only while written (a layer's forward, or a
 * streamed segment's, whose members write chunk by chunk) or read back, and the backward
 * brings the next unit's back while it computes one (saved_prefetch), so the device holds
 * at most two neighbouring units' saves (saved_swap.c). dev: each layer's bytes as the
 * device store takes them (aligned blocks, actnn_auto's widths and slack), for the
 * reservation; else the plugin's sizes, as the report's other columns. */
static size_t swap_window_of(const network *net, const mem_plan *p, const saved_desc *desc,
                             size_t n, int dev)
{
    size_t most = 0, later = 0; /* `later`: the unit computed just before in backward */
    for (int i = net->n - 1; i >= 0; --i) {
        int a = p->seg_start ? p->seg_start[i] : -1;
        if (a < 0 || a > i) a = i;
        size_t unit = 0;
        for (int k = a; k <= i; ++k)
            unit += dev ? saved_device_layer_bytes(net->store, net->be, &desc[k * SV_SLOTS], n)
                        : layer_saved(net, &desc[k * SV_SLOTS], k, n, 0);
        if (unit + later > most) most = unit + later;
        later = unit;
        i = a;
    }
    return most;
}

/* network_input_dead with every layer at `bits` (0: their own). */
static int input_dead_at(network *net, int bits)
{
    if (!bits) return network_input_dead(net);
    int *own = malloc(sizeof(int) * (size_t)net->n + 1), dead = 0;
    if (!own) return 0;
    for (int i = 0; i < net->n; ++i) {
        own[i] = net->layers[i].bits;
        net->layers[i].bits = bits;
    }
    dead = network_input_dead(net);
    for (int i = 0; i < net->n; ++i) net->layers[i].bits = own[i];
    free(own);
    return dead;
}

static void fixed_parts(const network *net, mem_summary *s, size_t n)
{
    s->params = memreport_param_bytes(net);
    s->workspace = net->workspace_bytes;
    s->scratch = 2 * net->scratch_floats * sizeof(float);
    s->input = n * ((size_t)net->inputs + (size_t)net->truths) * sizeof(float);
    /* The loader fills the next mini-batch's first samples while this one trains (loader.h). */
    size_t per = (size_t)net->inputs + (size_t)net->truths;
    s->loader = (size_t)loader_prefetch((int)n, per) * per * sizeof(float);
    /* and its decoded-image cache at its bound (image_cache.h; what it holds depends on the
     * data set, which the plan does not see) */
    s->loader += (size_t)net->image_cache_mb << 20;
}

int memreport_plan_at(network *net, const saved_desc *desc, int bits, int batch, mem_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->batch = batch;
    size_t n = (size_t)batch;
    input_hold hold = {-1, -1, -1, 0};
    s->arena = arena_at(net, bits, batch, &hold, desc, &s->swap_window);
    for (int i = 0; i < net->n; ++i) {
        const saved_desc *d = &desc[i * SV_SLOTS];
        size_t b = layer_saved(net, d, i, n, bits);
        s->saved += b;
        s->saved_with_input += with_input(&hold, b, i, n);
        for (int k = 0; k < SV_SLOTS; ++k)
            if (d[k].kind != SAVED_NONE) s->saved_fp32 += n * (d[k].d + d[k].shared) * sizeof(float);
    }
    fixed_parts(net, s, n);
    s->input_transient = input_dead_at(net, bits);
    return s->arena ? 0 : -1;
}

size_t memreport_device_total(const network *net, const mem_summary *s)
{
    return s->arena + (net->actnn_swap ? s->swap_window : s->saved) + s->params + s->workspace +
           s->scratch + s->input + s->stats;
}

size_t memreport_total(const mem_summary *s)
{
    size_t rest = s->arena + s->params + s->workspace + s->scratch + s->loader;
    if (!s->input_transient) return rest + s->saved + s->input;
    /* The trainer drops the input's pages after its last reader and the saved pool's after
     * the backward (network.h input_done): the input overlaps only what is saved before it
     * goes, and the saved activations only grow in the forward. */
    size_t with = s->input + s->saved_with_input;
    return rest + (s->saved > with ? s->saved : with);
}

int memreport_plan(network *net, mem_summary *s, FILE *f, char *err, size_t errlen)
{
    /* What is saved at 32 bits may differ from the cfg's bits (x-hat rebuilt only when
     * compressed), so the fp32 figures come from a dry run at 32 bits. */
    saved_desc *desc32 = memreport_describe(net, 32, err, errlen);
    saved_desc *desc = desc32 ? memreport_describe(net, 0, err, errlen) : NULL;
    if (!desc) {
        free(desc32);
        return -1;
    }
    memset(s, 0, sizeof(*s));
    s->batch = net->batch;
    size_t n = (size_t)net->batch;
    input_hold hold = input_hold_of(net, &net->plan);
    if (f)
        fprintf(f, "%5s %-14s %-14s %4s %-18s %10s %10s %9s %9s\n", "layer", "type", "output", "bits",
                "saves", "fp32_MiB", "saved_MiB", "out_MiB", "delta_MiB");
    for (int i = 0; i < net->n; ++i) {
        const saved_desc *d = &desc[i * SV_SLOTS];
        size_t fp32 = 0, saved = layer_saved(net, d, i, n, 0);
        for (int k = 0; k < SV_SLOTS; ++k)
            if (d[k].kind != SAVED_NONE) fp32 += n * (d[k].d + d[k].shared) * sizeof(float);
        s->saved += saved;
        s->saved_with_input += with_input(&hold, saved, i, n);
        s->saved_fp32 += fp32;
        s->saved_at32 += layer_saved(net, &desc32[i * SV_SLOTS], i, n, 32);
        if (f) print_row(f, net, i, d, fp32, saved);
    }
    free(desc32);
    s->arena = net->plan.arena_bytes;
    s->arena_fp32 = arena_at(net, 32, net->batch, NULL, NULL, NULL);
    fixed_parts(net, s, n);
    s->input_transient = input_dead_at(net, 0);
    s->swap_window = swap_window_of(net, &net->plan, desc, n, 0);
    s->stats = saved_stats_plan_bytes(net->store, n);
    free(desc);
    return 0;
}

/* How the bits are chosen when it is not one width for everything: actnn_auto (2 bits'
 * default, ActNN's L3) moves bits between samples and layers at the same average; the
 * plan is made at the layers' own bits (saved_auto.c keeps the bytes within them). */
static void print_bits_mode(const network *net, FILE *f)
{
    if (!net->actnn || !net->actnn_auto) return;
    fprintf(f, "bits: %d on average, mixed per sample%s (actnn_auto=1, ActNN's L3%s; actnn_auto=0 "
               "for uniform bits)\n",
            net->actnn_bits, net->actnn_auto_layers ? " and per layer" : "",
            net->actnn_bits == 2 ? ", the default at 2 bits" : "");
}

static double ratio(size_t a, size_t b) { return b ? (double)a / (double)b : 0; }

int memreport_print_plan(network *net, FILE *f, char *err, size_t errlen)
{
    mem_summary s;
    if (memreport_plan(net, &s, f, err, errlen)) return -1;
    size_t rest = s.params + s.workspace + s.scratch + s.input + s.loader;
    print_segments(f, net, &net->plan);
    fprintf(f, "saves: kept = fp32 input kept alive in the arena (no copy); qB = quantized at B bits; "
               "qB<K = the part of the input layer K saved too is borrowed from K's save; "
               "f16/f32 = copies; mask = 1 bit; codeW = W-bit argmax; seed = dropout seed only\n");
    print_bits_mode(net, f);
    fprintf(f, "total: mini-batch=%d bits=%d saved_mib=%.1f saved_fp32_mib=%.1f (%.1fx smaller) "
               "arena_mib=%.1f arena_fp32_mib=%.1f params_mib=%.1f workspace_mib=%.1f "
               "scratch_mib=%.1f input_mib=%.1f loader_mib=%.1f\n",
            s.batch, net->actnn_bits, s.saved / MIB, s.saved_fp32 / MIB, ratio(s.saved_fp32, s.saved),
            s.arena / MIB, s.arena_fp32 / MIB, s.params / MIB, s.workspace / MIB, s.scratch / MIB,
            s.input / MIB, s.loader / MIB);
    size_t now = memreport_total(&s), fp32 = s.saved_at32 + s.arena_fp32 + rest;
    fprintf(f, "planned training memory (saved + arena + params + workspace + scratch + input + loader; "
               "max(saved, input + %.1f MiB saved before it goes) where the input is dropped after its "
               "last reader): "
               "%.1f MiB at the cfg's bits, %.1f MiB with every layer at 32 bits (%.2fx)\n",
            s.saved_with_input / MIB, now / MIB, fp32 / MIB, ratio(fp32, now));
    return 0;
}

int memreport_reserve_saved(network *net, char *err, size_t errlen)
{
    if (!net->be->device) return 0;
    saved_desc *desc = memreport_describe(net, 0, err, errlen);
    if (!desc) return -1;
    /* actnn_swap=1: no pool (saves live on the host) but the device window of the plan */
    size_t n = (size_t)net->batch, bytes = 0, window = 0;
    if (net->actnn_swap) window = swap_window_of(net, &net->plan, desc, n, 1);
    else bytes = saved_device_pool_bytes(net->store, net->be, desc, n);
    free(desc);
    if (saved_pool_reserve(net->store, net->be, bytes) ||
        saved_window_reserve(net->store, net->be, window) ||
        saved_stats_reserve(net->store, net->be, n)) {
        snprintf(err, errlen, "%s", saved_error(net->store));
        return -1;
    }
    return 0;
}

int memreport_print_planned(network *net, FILE *f)
{
    mem_summary s;
    char err[512];
    if (memreport_plan(net, &s, NULL, err, sizeof(err))) {
        fprintf(f, "planned: (not available: %s)\n", err);
        return -1;
    }
    fprintf(f, "planned: mini-batch=%d bits=%d saved_mib=%.1f saved_fp32_mib=%.1f arena_mib=%.1f "
               "arena_fp32_mib=%.1f params_mib=%.1f workspace_mib=%.1f\n",
            s.batch, net->actnn_bits, s.saved / MIB, s.saved_fp32 / MIB, s.arena / MIB,
            s.arena_fp32 / MIB, s.params / MIB, s.workspace / MIB);
    print_bits_mode(net, f);
    if (net->actnn && net->stream_why[0]) fprintf(f, "streamed segments: %s\n", net->stream_why);
    return 0;
}

void memreport_print_line(const network *net, FILE *f)
{
    saved_stats st = {0};
    if (net->store) saved_get_stats(net->store, &st);
    fprintf(f, "memory: params_mib=%.1f saved_mib=%.1f saved_fp32_mib=%.1f arena_mib=%.1f "
            "workspace_mib=%.1f peak_rss_mib=%.1f",
            memreport_param_bytes(net) / MIB, st.peak_bytes / MIB, st.peak_fp32_bytes / MIB,
            net->arena_bytes / MIB, net->workspace_bytes / MIB, memreport_peak_rss() / MIB);
    /* a device run: the allocator's own peak and the device's used memory (every process) */
    size_t peak = 0, used = 0;
    if (net->be && net->be->device) net->be->mem_info(&peak, &used);
    if (net->be && net->be->device)
        fprintf(f, " gpu_peak_mib=%.1f gpu_used_mib=%.1f", peak / MIB, used / MIB);
    if (net->be && net->be->device && net->actnn_swap && net->store) {
        saved_paths p;
        saved_get_paths(net->store, &p); /* the device window and what the host held */
        fprintf(f, " swap_window_mib=%.1f swap_window_live_mib=%.1f swap_host_mib=%.1f",
                p.swap_window / MIB, p.swap_window_peak / MIB, p.swap_host_peak / MIB);
    }
    fputc('\n', f);
}

/* actnn_auto: the average bits the last per-layer allocation gave each saved tensor,
 * "layer.slot:bits", so a user sees where the budget went. */
void memreport_print_auto(const network *net, FILE *f)
{
    if (!net->actnn_auto || !net->actnn_auto_layers || !net->store) return;
    fprintf(f, "actnn_auto: average %d bits split as layer.slot:bits", net->actnn_bits);
    int any = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k) {
            double b = saved_auto_bits(net->store, i, k);
            if (b > 0) fprintf(f, " %d.%d:%.2f", i, k, b);
            any |= b > 0;
        }
    fprintf(f, "%s\n", any ? "" : " (no allocation yet)");
}
