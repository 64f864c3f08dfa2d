/* Budget mode: largest mini-batch per bit width, and per-layer bits for a budget. */
#include "memory/budget.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actnn.h"
#include "memory/cap.h"
#include "memory/plan.h"

#define MIB (1024.0 * 1024.0)
#define MAX_BATCH (1 << 20)

size_t budget_parse(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    double mult = MIB; /* a bare number is MiB, as in actnn_budget_mb */
    if (end == s || !(v > 0) || !isfinite(v)) return 0;
    if (*end == 'K' || *end == 'k') mult = 1024.0, ++end;
    else if (*end == 'M' || *end == 'm') mult = MIB, ++end;
    else if (*end == 'G' || *end == 'g') mult = 1024.0 * MIB, ++end;
    else if (*end == 'T' || *end == 't') mult = 1024.0 * 1024.0 * MIB, ++end;
    if (*end == 'i') ++end;
    if (*end == 'B' || *end == 'b') ++end;
    if (*end || v * mult > 9e18) return 0;
    return (size_t)(v * mult);
}

/* The total a budget caps: host memory, or a GPU run's device memory (device). */
static size_t total_of(const network *net, const mem_summary *s, int device)
{
    return device ? memreport_device_total(net, s) : memreport_total(s);
}

/* Total of mini-batch b at `bits`, or SIZE_MAX when the plan cannot be made. */
static size_t total_at(network *net, const saved_desc *desc, int bits, int b, int device,
                       mem_summary *s)
{
    if (memreport_plan_at(net, desc, bits, b, s)) return SIZE_MAX;
    return total_of(net, s, device);
}

/* What fits a budget may stream (a budget is the cap that turns them on). */
static int max_batch(network *net, const saved_desc *desc, int bits, size_t budget, int device,
                     mem_summary *at);

int budget_max_batch_on(network *net, const saved_desc *desc, int bits, size_t budget,
                        int device, mem_summary *at)
{
    int on = net->stream_auto_on;
    net->stream_auto_on = 1;
    int m = max_batch(net, desc, bits, budget, device, at);
    net->stream_auto_on = on;
    return m;
}

int budget_max_batch(network *net, const saved_desc *desc, int bits, size_t budget,
                     mem_summary *at)
{
    return budget_max_batch_on(net, desc, bits, budget, 0, at);
}

static int max_batch(network *net, const saved_desc *desc, int bits, size_t budget, int device,
                     mem_summary *at)
{
    mem_summary s;
    if (total_at(net, desc, bits, 1, device, at) > budget) return 0;
    int lo = 1, hi = 2; /* lo fits; hi is not known to */
    while (hi <= MAX_BATCH && total_at(net, desc, bits, hi, device, &s) <= budget) {
        lo = hi;
        *at = s;
        hi *= 2;
    }
    if (hi > MAX_BATCH) return lo;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (total_at(net, desc, bits, mid, device, &s) <= budget) {
            lo = mid;
            *at = s;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Subdivisions for the cfg's batch so that the mini-batch (batch / subdivisions, a whole
 * number as Darknet expects) is at most m. */
static int subdivisions_for(int batch, int m)
{
    for (int s = 1; s <= batch; ++s)
        if (batch % s == 0 && batch / s <= m) return s;
    return batch;
}

/* 1 when mini-batch m fits the budget only with streamed segments. A GPU run turns them on
 * by itself when its plan exceeds DN_GPU_BUDGET_MB or DEVICE_SHARE of the card's free memory
 * (budget_resolve_streaming_device); the advice names actnn_stream=1 all the same, so that
 * the cfg trains the planned way whatever else holds memory on the card. */
static int needs_streaming(network *net, const saved_desc *desc, int bits, int m, size_t budget)
{
    if (net->actnn_stream >= 0) return 0; /* the cfg decides either way */
    mem_summary s;
    int on = net->stream_auto_on;
    net->stream_auto_on = 0;
    size_t t = total_at(net, desc, bits, m, 1, &s);
    net->stream_auto_on = on;
    return t > budget;
}

static void print_row(FILE *f, const network *net, int device, const char *what, int m,
                      const mem_summary *at, const mem_summary *one, int cfg_batch, int stream)
{
    double t1 = total_of(net, one, device) / MIB, tm = total_of(net, at, device) / MIB;
    if (!m) {
        fprintf(f, "%-6s %9s %12.1f %14s   does not fit at mini-batch 1\n", what, "0", t1, "-");
        return;
    }
    double per = m > 1 ? (tm - t1) / (m - 1) : 0;
    int s = subdivisions_for(cfg_batch, m);
    fprintf(f, "%-6s %9d %12.1f %14.2f   batch=%d subdivisions=%d (mini-batch %d)", what, m, tm,
            per, cfg_batch, s, cfg_batch / s);
    if (m > cfg_batch) fprintf(f, "; or batch=%d subdivisions=1", m);
    if (stream) fprintf(f, "; and actnn_stream=1 (which a GPU run also turns on when the card needs it)");
    fprintf(f, "\n");
}

int budget_print(network *net, size_t budget, int device, FILE *f, char *err, size_t errlen)
{
    int cfg_batch = net->batch * net->subdivisions;
    /* the cfg's own bits get a row unless they are one of the uniform widths */
    int own = 0;
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].bits != net->layers[0].bits) own = 1;
    own |= net->layers[0].bits != 32 && net->layers[0].bits != 8 && net->layers[0].bits != 4 &&
           net->layers[0].bits != 2;
    if (device)
        fprintf(f, "budget: %.1f MiB of device memory (-gpu) for arena + %s + params + workspace + "
                   "scratch + input (cfg batch=%d subdivisions=%d)\n", budget / MIB,
                net->actnn_swap ? "actnn_swap's window" : "saved", cfg_batch, net->subdivisions);
    else
        fprintf(f, "budget: %.1f MiB for saved + arena + params + workspace + scratch + input + loader "
                   "(cfg batch=%d subdivisions=%d)\n", budget / MIB, cfg_batch, net->subdivisions);
    fprintf(f, "%-6s %9s %12s %14s   %s\n", "bits", "max_mini", "planned_MiB", "MiB_per_image",
            "write in [net]");
    static const int widths[] = {32, 8, 4, 2, 0};
    for (size_t k = 0; k < sizeof(widths) / sizeof(widths[0]); ++k) {
        int bits = widths[k];
        if (!bits && !own) continue;
        mem_summary at, one;
        saved_desc *desc = memreport_describe(net, bits, err, errlen);
        if (!desc) return -1;
        int m = budget_max_batch_on(net, desc, bits, budget, device, &at);
        memreport_plan_at(net, desc, bits, 1, &one);
        int stream = device && m > 0 && needs_streaming(net, desc, bits, m, budget);
        free(desc);
        char what[16];
        snprintf(what, sizeof(what), bits ? "%d" : "cfg", bits);
        print_row(f, net, device, what, m, &at, &one, cfg_batch, stream);
    }
    return 0;
}

/* Values per sample layer i saves as tensors (the part its bits decide). */
static size_t tensor_values(const saved_desc *d)
{
    size_t v = 0;
    for (int k = 0; k < SV_SLOTS; ++k)
        if (d[k].kind == SAVED_TENSOR || d[k].kind == SAVED_ALIVE) v += d[k].d;
    return v;
}

/* Every tensor layer gets ActNN's allocation at average `avg`; the others (whose bits
 * only say "compressed": streaming, no kept inputs) get the rounded average. */
static int apply_avg(network *net, const saved_desc *desc, double avg, double *w, uint8_t *bits,
                     int *idx, int L)
{
    int rc = actnn_alloc_bits(w, w, (size_t)L, avg, bits);
    if (rc != ACTNN_OK) return -1;
    int rest = (int)lround(avg);
    for (int i = 0; i < net->n; ++i)
        if (!tensor_values(&desc[i * SV_SLOTS])) net->layers[i].bits = rest < 1 ? 1 : rest;
    for (int k = 0; k < L; ++k) net->layers[idx[k]].bits = bits[k];
    return 0;
}

static void set_all(network *net, int bits)
{
    for (int i = 0; i < net->n; ++i) net->layers[i].bits = bits;
}

static void report(const network *net, const saved_desc *desc, size_t budget, const mem_summary *s,
                   double avg, FILE *log)
{
    if (!log) return;
    fprintf(log, "actnn_budget_mb=%.0f: mini-batch %d plans %.1f MiB; ", budget / MIB, net->batch,
            memreport_total(s) / MIB);
    if (avg >= 32) {
        fprintf(log, "every layer at 32 bits (fp32 fits)\n");
        return;
    }
    fprintf(log, "%.2f bits per saved value on average; layer:bits", avg);
    for (int i = 0; i < net->n; ++i)
        if (tensor_values(&desc[i * SV_SLOTS])) fprintf(log, " %d:%d", i, net->layers[i].bits);
    fprintf(log, "\n");
}

/* The weighted average of the tensor layers' bits. */
static double mean_bits(const network *net, const saved_desc *desc)
{
    double vb = 0, v = 0;
    for (int i = 0; i < net->n; ++i) {
        size_t t = tensor_values(&desc[i * SV_SLOTS]);
        vb += (double)t * net->layers[i].bits;
        v += (double)t;
    }
    return v > 0 ? vb / v : 32;
}

static int pick(network *net, const saved_desc *desc32, const saved_desc *desc, size_t budget,
                FILE *log, char *err, size_t errlen, double *w, uint8_t *bits, int *idx, int L)
{
    mem_summary s;
    int B = net->batch;
    if (total_at(net, desc32, 32, B, 0, &s) <= budget) {
        set_all(net, 32);
        report(net, desc, budget, &s, 32, log);
        return 0;
    }
    if (apply_avg(net, desc, 1.0, w, bits, idx, L) || total_at(net, desc, 0, B, 0, &s) > budget) {
        snprintf(err, errlen, "%s:%d: actnn_budget_mb: %.0f MiB is too small: mini-batch %d plans "
                 "%.1f MiB even at 1 bit per saved value; raise subdivisions or the budget",
                 net->cfgfile ? net->cfgfile : "cfg", net->actnn_budget_line, budget / MIB, B,
                 memreport_total(&s) / MIB);
        return -1;
    }
    /* The highest average that fits: bisection on [1, 8] to 1/64 bit. */
    double lo = 1.0, hi = 8.0;
    if (apply_avg(net, desc, hi, w, bits, idx, L) == 0 && total_at(net, desc, 0, B, 0, &s) <= budget) lo = hi;
    while (hi - lo > 1.0 / 64) {
        double mid = 0.5 * (lo + hi);
        if (apply_avg(net, desc, mid, w, bits, idx, L) == 0 && total_at(net, desc, 0, B, 0, &s) <= budget)
            lo = mid;
        else
            hi = mid;
    }
    apply_avg(net, desc, lo, w, bits, idx, L);
    total_at(net, desc, 0, B, 0, &s);
    report(net, desc, budget, &s, mean_bits(net, desc), log);
    return 0;
}

int budget_pick_bits(network *net, size_t budget, FILE *log, char *err, size_t errlen)
{
    /* 32 bits and the compressed widths save different things (memreport.h) */
    saved_desc *desc32 = memreport_describe(net, 32, err, errlen);
    saved_desc *desc = desc32 ? memreport_describe(net, 8, err, errlen) : NULL;
    if (!desc) {
        free(desc32);
        return -1;
    }
    size_t n = (size_t)net->n + 1;
    double *w = malloc(n * sizeof(double));
    uint8_t *bits = malloc(n);
    int *idx = malloc(n * sizeof(int));
    int L = 0, rc = -1;
    if (w && bits && idx) {
        for (int i = 0; i < net->n; ++i) {
            size_t t = tensor_values(&desc[i * SV_SLOTS]);
            if (!t) continue;
            w[L] = (double)t;
            idx[L++] = i;
        }
        net->stream_auto_on = 1; /* a budget may need streamed segments; resolved below */
        rc = pick(net, desc32, desc, budget, log, err, errlen, w, bits, idx, L);
    } else {
        snprintf(err, errlen, "out of memory planning actnn_budget_mb");
    }
    if (rc == 0) {
        net->actnn_bits = (int)lround(fmin(32, mean_bits(net, desc)));
        if (net->actnn_bits < 1) net->actnn_bits = 1;
        net->actnn = net->actnn_bits < 32;
        /* the plan depends on the bits (kept inputs, streamed pairs): make it again */
        plan_free(&net->plan);
    }
    free(w);
    free(bits);
    free(idx);
    free(desc);
    free(desc32);
    return rc;
}

/* Share of a cgroup's limit the plan may take: the rest is code, libraries, thread stacks
 * and the allocator's slack (a 2-bit yolov3-tiny at 416 measures ~40 MiB beyond its plan). */
#define RESIDENT_SHARE 0.9

/* Streamed segments on when the plan at the net's mini-batch without them (host memory,
 * or a GPU run's device memory) exceeds cap; net->stream_why says why (src: the cap's). */
/* The plan's total at the net's mini-batch and layers' bits as they are (SIZE_MAX when it
 * cannot be made). */
static size_t plan_now(network *net, int device)
{
    char err[256];
    saved_desc *desc = memreport_describe(net, 0, err, sizeof err);
    mem_summary s;
    size_t t = desc ? total_at(net, desc, 0, net->batch, device, &s) : SIZE_MAX;
    free(desc);
    return t;
}

static void decide_streaming(network *net, size_t cap, int device, const char *src)
{
    size_t t = plan_now(net, device);
    net->stream_auto_on = t > cap;
    snprintf(net->stream_why, sizeof net->stream_why,
             "%s: %.0f MiB %splanned without them, cap %.0f MiB (%.120s)",
             net->stream_auto_on ? "on" : "off", t == SIZE_MAX ? -1.0 : t / MIB,
             device ? "of device memory " : "", cap / MIB, src);
}

void budget_resolve_streaming_device(network *net, size_t cap, const char *src)
{
    if (net->actnn_stream >= 0 || net->stream_auto_on || !cap) return; /* decided already */
    decide_streaming(net, cap, 1, src);
}

size_t budget_device_plan(network *net)
{
    size_t t = plan_now(net, 1);
    return t == SIZE_MAX ? 0 : t;
}

void budget_resolve_streaming(network *net)
{
    net->stream_auto_on = 0;
    if (net->actnn_stream >= 0) {
        snprintf(net->stream_why, sizeof net->stream_why, "actnn_stream=%d", net->actnn_stream);
        return;
    }
    char src[160];
    size_t cap = net->actnn_budget_mb > 0 ? (size_t)net->actnn_budget_mb << 20 : 0;
    if (cap) snprintf(src, sizeof src, "actnn_budget_mb");
    else cap = (size_t)(RESIDENT_SHARE * (double)mem_resident_cap(src, sizeof src));
    if (!cap) {
        snprintf(net->stream_why, sizeof net->stream_why, "off: no memory cap (actnn_budget_mb, cgroup)");
        return;
    }
    decide_streaming(net, cap, 0, src);
}
