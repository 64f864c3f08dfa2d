/* train_mem: trains a cfg for a few mini-batches on synthetic data and prints the
 * planned figures, seconds per iteration and the `memory:` line. It measures what the
 * framework itself needs (no data loader, no image decoding), so peak RSS from
 * /usr/bin/time -v compares fp32 and ActNN runs of the same cfg fairly.
 *
 *   build/bin/train_mem <cfg> [-batch N] [-iters K] [-seed S]
 *
 * Input: uniform noise; truth: for detectors one box per image, for classifiers a
 * one-hot label (the truth layout is whatever net->truths says; both fit it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dn_api.h"
#include "memory/memreport.h"
#include "core/network.h"
#include "core/rng.h"

static int arg_int(int argc, char **argv, const char *name, int def)
{
    for (int i = 2; i + 1 < argc; ++i)
        if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return def;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Detector truth is x y w h class per box (5 floats); a classifier's is one-hot. */
static void fill(network *net, rng_t *g)
{
    size_t n = (size_t)net->batch;
    for (size_t i = 0; i < n * (size_t)net->inputs; ++i) net->input[i] = rng_uniform(g, 0, 1);
    if (!net->truths) return;
    memset(net->truth, 0, n * (size_t)net->truths * sizeof(float));
    for (size_t b = 0; b < n; ++b) {
        float *t = net->truth + b * (size_t)net->truths;
        if (net->truths % 5 == 0 && net->truths >= 5 * 10) {
            t[0] = rng_uniform(g, .3f, .7f);
            t[1] = rng_uniform(g, .3f, .7f);
            t[2] = rng_uniform(g, .1f, .4f);
            t[3] = rng_uniform(g, .1f, .4f);
            t[4] = (float)(b % 3);
        } else {
            t[b % (size_t)net->truths] = 1;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <cfg> [-batch N] [-iters K] [-seed S]\n", argv[0]);
        return 1;
    }
    int iters = arg_int(argc, argv, "-iters", 3);
    darknet_set_seed((uint64_t)arg_int(argc, argv, "-seed", 1));
    char err[1024];
    network *net = parse_network_cfg_ex(argv[1], arg_int(argc, argv, "-batch", 0), err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    net->subdivisions = 1;
    memreport_print_planned(net, stdout);
    rng_t g;
    rng_seed(&g, 7, 1);
    double t0 = 0;
    for (int i = 0; i < iters; ++i) {
        if (i == 1) t0 = now_s(); /* the first iteration faults pages in */
        float cost;
        fill(net, &g);
        if (network_train_datum(net, &cost, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            free_network(net);
            return 1;
        }
        fprintf(stdout, "iter %d loss %.4f\n", i, cost);
    }
    if (iters > 1) printf("s_per_iter=%.3f\n", (now_s() - t0) / (iters - 1));
    memreport_print_line(net, stdout);
    free_network(net);
    return 0;
}
