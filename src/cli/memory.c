/* ./darknet memory <cfg> [-batch N] [-budget 2G] [-ranks N] [-gpu]: the memory plan per
 * layer and totals, without training; with -budget, the largest mini-batch per bit width
 * (memory/budget.h). -ranks N shows one rank's plan when N MPI ranks split the mini-batch
 * (docs/mpi.md): activations and saved bytes scale with the rank's share, parameters (and
 * the all-reduce buffer, one float per parameter) do not. With -gpu, what a GPU run would
 * place on the device (no device needed). */
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "memory/budget.h"
#include "memory/memreport.h"
#include "core/network.h"

/* Gives the net one rank's share of the mini-batch and says so. 0, or -1 (printed). */
static int split_over_ranks(network *net, const char *cfg, int ranks, int budget)
{
    if (net->batch % ranks) {
        fprintf(stderr, "%s: the mini-batch %d does not divide over %d ranks: make "
                "batch/subdivisions (or -batch) a multiple of %d\n", cfg, net->batch, ranks, ranks);
        return -1;
    }
    size_t grads = 0; /* src/dist packs every gradient into one flat buffer */
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) grads += net->layers[i].params[k].n;
    printf("ranks: %d, mini-batch %d split as %d per rank; the plan below is one rank's, plus "
           "all_reduce_mib=%.1f (one float per parameter)\n", ranks, net->batch, net->batch / ranks,
           grads * sizeof(float) / (1024.0 * 1024.0));
    if (budget)
        printf("ranks: with -budget, each mini-batch below is one rank's; the global one is %d times it\n",
               ranks);
    set_batch_network(net, net->batch / ranks);
    budget_resolve_streaming(net); /* one rank's mini-batch under the cap */
    return 0;
}

#define MIB (1024.0 * 1024.0)

/* Loss layers run on the host with explicit copies (backend.h): their input and delta. */
static size_t host_staging(const network *net)
{
    size_t b = 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->loss || l->type == LT_SOFTMAX) b += 2 * (size_t)l->inputs * net->batch * sizeof(float);
    }
    return b;
}

/* The device side of a GPU run's plan: one arena allocation, the saved pool, parameters
 * with gradients and optimizer state, the convolution workspace and the input. */
static int print_device_plan(network *net, FILE *f, char *err, size_t errlen)
{
    mem_summary s;
    if (memreport_plan(net, &s, NULL, err, errlen)) return -1;
    size_t ws = s.workspace; /* allocated whole: the generic path needs every layer's columns */
    size_t saved_dev = net->actnn_swap ? s.swap_window : s.saved;
    /* the per-sample restore scratch counts: two buffers on the device too (dscratch) */
    size_t dev = memreport_device_total(net, &s), host = host_staging(net);
    fprintf(f, "device plan (-gpu, mini-batch %d): arena_mib=%.1f (one allocation) saved_mib=%.1f "
            "params_mib=%.1f (weights, gradients, optimizer state) cudnn_workspace_mib=%.1f "
            "(the largest layer's im2col size; cuDNN's algorithms are chosen within it and within "
            "workspace_size_limit_MB=%d) scratch_mib=%.1f (two per-sample restore buffers) "
            "input_mib=%.1f stats_mib=%.2f (actnn_auto's per-sample statistics) "
            "total_device_mib=%.1f\n",
            s.batch, s.arena / MIB, saved_dev / MIB, s.params / MIB, ws / MIB, net->workspace_limit_mb,
            s.scratch / MIB, s.input / MIB, s.stats / MIB, dev / MIB);
    if (net->actnn_swap)
        fprintf(f, "actnn_swap=1: saved_mib is the device window (the saves of the two neighbouring "
                "layers or streamed segments that a backward holds while it brings the next "
                "back; aligned blocks add a little); the other %.1f MiB of saves wait in "
                "host memory between their forward and backward\n",
                (s.saved - s.swap_window) / MIB);
    fprintf(f, "host side of a GPU run: loss layers (yolo, region, softmax, cost) on the host with "
            "copies %.1f MiB, restore scratch %.1f MiB, loader %.1f MiB\n",
            host / MIB, s.scratch / MIB, s.loader / MIB);
    char why[256];
    long long budget = dn_budget_bytes(why, sizeof why);
    if (budget < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (budget)
        fprintf(f, "DN_GPU_BUDGET_MB=%lld: the device plan %s\n", budget / (1024 * 1024),
                (size_t)budget >= dev ? "fits" : "does not fit (raise subdivisions or lower actnn_bits)");
    return 0;
}

int run_memory(int argc, char **argv)
{
    int batch = cli_int("-batch", 0);
    const char *budget_s = cli_str("-budget", NULL);
    int ranks = cli_int("-ranks", 1);
    int gpu = cli_flag("-gpu");
    if (argc < 3) {
        fprintf(stderr, "usage: %s memory <cfg> [-batch N] [-budget 2G] [-ranks N] [-gpu]\n", argv[0]);
        return 1;
    }
    size_t budget = budget_s ? budget_parse(budget_s) : 0;
    if (budget_s && !budget) {
        fprintf(stderr, "-budget: '%s' is not a size (e.g. 2G, 1536M, 512 = MiB)\n", budget_s);
        return 1;
    }
    if (cli_flag("-batch") && batch < 1) { /* 0 would quietly mean the cfg's mini-batch */
        fprintf(stderr, "-batch expects a positive mini-batch, got %d\n", batch);
        return 1;
    }
    if (ranks < 1) {
        fprintf(stderr, "-ranks expects a positive number of MPI ranks, got %d\n", ranks);
        return 1;
    }
    char err[1024];
    network *net = parse_network_cfg_ex(argv[2], batch, err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (ranks > 1 && split_over_ranks(net, argv[2], ranks, budget != 0)) {
        free_network(net);
        return 1;
    }
    int rc = budget ? budget_print(net, budget, gpu, stdout, err, sizeof(err))
                    : memreport_print_plan(net, stdout, err, sizeof(err));
    if (!rc && gpu) rc = print_device_plan(net, stdout, err, sizeof(err));
    if (rc) fprintf(stderr, "%s\n", err);
    free_network(net);
    return rc ? 1 : 0;
}
