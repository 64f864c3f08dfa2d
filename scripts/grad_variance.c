/* grad_variance: which saved tensors make 2-bit gradients noisy (issue 15, item 5).
 *
 *   build/bin/grad_variance <cfg> [-batch N] [-reps R] [-seed S] [-weights W]
 *                           [-list train.txt -classes C] [-low B] [-high B]
 *
 * On one fixed mini-batch (images of -list without augmentation, else uniform noise with
 * one box or label per image) and fixed weights (-weights, else the cfg's seeded start):
 *   1. the fp32 gradient g of every parameter (every layer at 32 bits; deterministic);
 *   2. R backward passes with every layer at -low bits (default 2), each with fresh
 *      rounding noise: per layer, the relative variance E||g_q - g||^2 / ||g||^2 over its
 *      weights, and the relative bias ||mean(g_q) - g||^2 / ||g||^2, which for an
 *      unbiased quantizer is the variance over R (so bias*R/variance is about 1);
 *   3. for each layer j that saves tensors, R passes with j alone at -high bits (default
 *      8) and the rest at -low: the network's total variance (the sum over layers of
 *      E||g_q - g||^2, absolute) and its drop against step 2, the share of the total that
 *      j's saved tensors cause (ActNN's variance adds over layers to first order, so the
 *      shares sum to about 100%).
 * Forward is exact at any bits (ActNN compresses only what backward reads), so the loss
 * and the fp32 gradient do not depend on the bits; only backward's noise does.
 * Prints one table on stderr (stdout gets the loss layers' training lines);
 * `scripts/grad_variance.sh` runs it on the shipped cfgs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dn_api.h"
#include "core/list.h"
#include "core/network.h"
#include "core/rng.h"
#include "data/data_detector.h"

static const char *arg_str(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; ++i)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static int arg_int(int argc, char **argv, const char *name, int def)
{
    const char *s = arg_str(argc, argv, name, NULL);
    return s ? atoi(s) : def;
}

/* Noise input; detectors get one box per image, classifiers a one-hot label. */
static void fill_noise(network *net)
{
    rng_t g;
    rng_seed(&g, 7, 1);
    size_t n = (size_t)net->batch;
    for (size_t i = 0; i < n * (size_t)net->inputs; ++i) net->input[i] = rng_uniform(&g, 0, 1);
    memset(net->truth, 0, n * (size_t)net->truths * sizeof(float));
    for (size_t b = 0; b < n; ++b) {
        float *t = net->truth + b * (size_t)net->truths;
        if (net->truths % 5 == 0 && net->truths >= 50) {
            t[0] = rng_uniform(&g, .3f, .7f);
            t[1] = rng_uniform(&g, .3f, .7f);
            t[2] = rng_uniform(&g, .1f, .4f);
            t[3] = rng_uniform(&g, .1f, .4f);
        } else {
            t[b % (size_t)net->truths] = 1;
        }
    }
}

/* The first `batch` images of a detector list, unaugmented. */
static int fill_list(network *net, const char *list, int classes, char *err, size_t errlen)
{
    int n = 0;
    char **paths = list_read(list, &n, err, errlen);
    if (!paths) return -1;
    detector_data dd = {0};
    dd.classes = classes;
    dd.w = net->w, dd.h = net->h, dd.c = net->c;
    dd.max_boxes = net->truths / 5;
    rng_t r;
    rng_seed(&r, 11, 1);
    int rc = 0;
    for (int b = 0; b < net->batch && !rc; ++b) {
        dd.paths = paths + b % n; /* detector_fill draws from its list: give it one image */
        dd.n = 1;
        if (detector_fill(&dd, &r, net->input + (size_t)b * net->inputs,
                          net->truth + (size_t)b * net->truths)) {
            snprintf(err, errlen, "%s: cannot load image %d", list, b);
            rc = -1;
        }
    }
    list_free(paths);
    return rc;
}

static void set_bits(network *net, int bits, int j, int jbits)
{
    for (int i = 0; i < net->n; ++i) net->layers[i].bits = i == j ? jbits : bits;
    net->actnn = bits < 32 || jbits < 32;
    plan_free(&net->plan); /* kept inputs and saved slots depend on the bits */
}

/* One forward and backward; the gradients of every parameter into g (in layer order). */
static int grads(network *net, float *g, char *err, size_t errlen)
{
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            if (p->grad) memset(p->grad, 0, p->n * sizeof(float));
        }
    if (network_forward(net, net->input, 1) || network_backward(net)) {
        snprintf(err, errlen, "%s", net->err);
        return -1;
    }
    size_t o = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            if (p->grad) memcpy(g + o, p->grad, p->n * sizeof(float));
            o += p->n;
        }
    return 0;
}

typedef struct {
    size_t n, *off, *len; /* per layer: its parameters' range in g */
    double *var, *mean_sq; /* per layer */
} stats;

/* R passes at the current bits: per layer mean ||g_q - g||^2 and ||mean g_q - g||^2. */
static int run_reps(network *net, const float *g32, float *gq, double *sum, int reps, stats *s,
                    char *err, size_t errlen)
{
    memset(s->var, 0, net->n * sizeof(double));
    for (size_t i = 0; i < s->n; ++i) sum[i] = 0;
    for (int r = 0; r < reps; ++r) {
        if (grads(net, gq, err, errlen)) return -1;
        for (int l = 0; l < net->n; ++l)
            for (size_t i = s->off[l]; i < s->off[l] + s->len[l]; ++i) {
                double d = (double)gq[i] - g32[i];
                s->var[l] += d * d / reps;
                sum[i] += gq[i];
            }
    }
    for (int l = 0; l < net->n; ++l) {
        s->mean_sq[l] = 0;
        for (size_t i = s->off[l]; i < s->off[l] + s->len[l]; ++i) {
            double d = sum[i] / reps - g32[i];
            s->mean_sq[l] += d * d;
        }
    }
    return 0;
}

static double total(const network *net, const stats *s)
{
    double t = 0;
    for (int l = 0; l < net->n; ++l) t += s->var[l];
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <cfg> [-batch N] [-reps R] [-seed S] [-weights W] "
                "[-list train.txt -classes C] [-low B] [-high B]\n", argv[0]);
        return 1;
    }
    int reps = arg_int(argc, argv, "-reps", 8), low = arg_int(argc, argv, "-low", 2);
    int high = arg_int(argc, argv, "-high", 8);
    darknet_set_seed((uint64_t)arg_int(argc, argv, "-seed", 1));
    char err[1024];
    network *net = parse_network_cfg_ex(argv[1], arg_int(argc, argv, "-batch", 0), err, sizeof err);
    if (!net) return fprintf(stderr, "%s\n", err), 1;
    const char *w = arg_str(argc, argv, "-weights", NULL), *list = arg_str(argc, argv, "-list", NULL);
    if (w && load_weights_ex(net, w, 0, net->n, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
    net->subdivisions = 1;
    if (list ? fill_list(net, list, arg_int(argc, argv, "-classes", 1), err, sizeof err) : (fill_noise(net), 0))
        return fprintf(stderr, "%s\n", err), 1;
    stats s = {0};
    s.off = calloc(net->n, sizeof(size_t));
    s.len = calloc(net->n, sizeof(size_t));
    s.var = calloc(net->n, sizeof(double));
    s.mean_sq = calloc(net->n, sizeof(double));
    for (int l = 0; l < net->n; ++l) {
        s.off[l] = s.n;
        for (int k = 0; k < net->layers[l].nparams; ++k) s.len[l] += net->layers[l].params[k].n;
        s.n += s.len[l];
    }
    float *g32 = malloc(s.n * sizeof(float)), *gq = malloc(s.n * sizeof(float));
    double *sum = malloc(s.n * sizeof(double)), *var_low = calloc(net->n, sizeof(double));
    if (!g32 || !gq || !sum || !var_low || !s.off || !s.len || !s.var || !s.mean_sq)
        return fprintf(stderr, "out of memory\n"), 1;
    set_bits(net, 32, -1, 32);
    if (grads(net, g32, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
    set_bits(net, low, -1, low);
    if (run_reps(net, g32, gq, sum, reps, &s, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
    memcpy(var_low, s.var, net->n * sizeof(double));
    double tot_low = total(net, &s);
    fprintf(stderr, "grad_variance: %s, mini-batch %d, %d passes per setting, %s input, all layers at %d bits "
           "unless named; total variance %.4g\n", argv[1], net->batch, reps, list ? "image" : "noise",
           low, tot_low);
    fprintf(stderr, "%5s %-14s %12s %14s %12s %16s %14s\n", "layer", "type", "|g|^2", "var/|g|^2", "bias*R/var",
           "total, j at high", "share of total");
    for (int l = 0; l < net->n; ++l) {
        if (!s.len[l]) continue;
        double g2 = 0;
        for (size_t i = s.off[l]; i < s.off[l] + s.len[l]; ++i) g2 += (double)g32[i] * g32[i];
        double bias_ratio = var_low[l] > 0 ? s.mean_sq[l] * reps / var_low[l] : 0;
        set_bits(net, low, l, high);
        stats t = s;
        double *v = calloc(net->n, sizeof(double)), *m = calloc(net->n, sizeof(double));
        t.var = v, t.mean_sq = m;
        if (!v || !m || run_reps(net, g32, gq, sum, reps, &t, err, sizeof err))
            return fprintf(stderr, "%s\n", v && m ? err : "out of memory"), 1;
        double tj = total(net, &t);
        fprintf(stderr, "%5d %-14s %12.4g %14.4g %12.2f %16.4g %13.1f%%\n", l, net->layers[l].ops->name, g2,
               g2 > 0 ? var_low[l] / g2 : 0, bias_ratio, tj, tot_low > 0 ? 100 * (tot_low - tj) / tot_low : 0);
        free(v);
        free(m);
    }
    free(g32), free(gq), free(sum), free(var_low);
    free(s.off), free(s.len), free(s.var), free(s.mean_sq);
    free_network(net);
    return 0;
}
