/* cfg_probe: what a cfg does, in a few lines that change when any key changes the network:
 * the layer table, the planned memory, a forward of a fixed input and the weights after two
 * training steps on fixed synthetic data (tests/sh/cfg_keys.sh compares these between a cfg
 * with and without one key).
 *
 *   build/bin/cfg_probe <cfg> [-seed S] [-load W] [-save W]
 *
 * -load reads weights W after parsing (dontload= and dontloadscales= show there); -save
 * writes the trained weights to W and prints the file's size and hash (dontsave= shows).
 * Input: uniform noise; truth: one box per image for detectors (truths a multiple of 5, at
 * least 50), a one-hot label otherwise. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dn_api.h"
#include "core/network.h"
#include "core/rng.h"
#include "memory/memreport.h"

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
        } else {
            t[b % (size_t)net->truths] = 1;
        }
    }
}

/* FNV-1a over the bytes: any bit of difference shows. */
static uint64_t hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t hash_params(const network *net)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k)
            h = hash(h, net->layers[i].params[k].w, net->layers[i].params[k].n * sizeof(float));
    return h;
}

static const char *arg(int argc, char **argv, const char *name)
{
    for (int i = 2; i + 1 < argc; ++i)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

/* Size and hash of a file, or -1 when it cannot be read. */
static long hash_file(const char *path, uint64_t *h)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char buf[4096];
    size_t n;
    long total = 0;
    *h = 14695981039346656037ull;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        *h = hash(*h, buf, n);
        total += (long)n;
    }
    fclose(f);
    return total;
}

static int save(network *net, const char *path, char *err, size_t errlen)
{
    if (save_weights_ex(net, path, net->n, err, errlen)) return -1;
    uint64_t h = 0;
    long size = hash_file(path, &h);
    printf("saved %ld bytes %016llx\n", size, (unsigned long long)h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <cfg> [-seed S] [-load W] [-save W]\n", argv[0]);
        return 1;
    }
    const char *seed = arg(argc, argv, "-seed"), *wload = arg(argc, argv, "-load");
    const char *wsave = arg(argc, argv, "-save");
    darknet_set_seed(seed ? strtoull(seed, NULL, 10) : 1);
    char err[1024];
    network *net = parse_network_cfg_ex(argv[1], 0, err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (wload && load_weights_ex(net, wload, 0, net->n, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        free_network(net);
        return 1;
    }
    network_print(net, stdout);
    memreport_print_planned(net, stdout);
    printf("init weights %016llx\n", (unsigned long long)hash_params(net));
    rng_t g;
    rng_seed(&g, 7, 1);
    int rc = 0;
    for (int i = 0; i < 2 && !rc; ++i) {
        float cost;
        fill(net, &g);
        rc = network_train_datum(net, &cost, err, sizeof(err));
        if (!rc) printf("step %d cost %.9g weights %016llx\n", i, cost, (unsigned long long)hash_params(net));
    }
    if (!rc) {
        fill(net, &g);
        rc = network_forward(net, net->input, 0);
        if (!rc && net->output)
            printf("forward %016llx\n",
                   (unsigned long long)hash(14695981039346656037ull, net->output,
                                            (size_t)net->outputs * (size_t)net->batch * sizeof(float)));
    }
    if (!rc && wsave) rc = save(net, wsave, err, sizeof(err));
    if (rc) fprintf(stderr, "%s\n", err);
    free_network(net);
    return rc ? 1 : 0;
}
