/* Per-layer wall time (layer_times.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/layer_times.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/network.h"

#define SKIP_ITERS 2

int layer_times_enable(network *net)
{
    free(net->ltimes);
    net->ltimes = calloc(2 * (size_t)net->n, sizeof(double));
    net->ltimes_passes = net->ltimes_on = net->ltimes_train = 0;
    return net->ltimes ? 0 : -1;
}

void layer_times_disable(network *net)
{
    free(net->ltimes);
    net->ltimes = NULL;
    net->ltimes_passes = net->ltimes_on = 0;
}

double layer_times_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void layer_times_begin_pass(network *net, int train)
{
    net->ltimes_on = net->ltimes && (!train || net->iteration > SKIP_ITERS);
    if (!net->ltimes_on) return;
    net->ltimes_passes++;
    net->ltimes_train = train;
}

void layer_times_add(network *net, int i, int bwd, double s)
{
    if (!net->ltimes || !net->ltimes_on) return;
    net->ltimes[2 * (size_t)i + bwd] += s;
}

/* Sums per layer type, in the order types first appear. */
static void print_types(const network *net, FILE *f, double iters, double total)
{
    const char *seen[64];
    int ns = 0;
    for (int i = 0; i < net->n && ns < 64; ++i) {
        const char *t = net->layers[i].ops->name;
        int dup = 0;
        for (int k = 0; k < ns; ++k) dup |= !strcmp(seen[k], t);
        if (dup) continue;
        seen[ns++] = t;
        double fw = 0, bw = 0;
        for (int j = i; j < net->n; ++j)
            if (!strcmp(net->layers[j].ops->name, t)) {
                fw += net->ltimes[2 * j];
                bw += net->ltimes[2 * j + 1];
            }
        fprintf(f, "  %-14s forward %9.2f ms  backward %9.2f ms  %5.1f%%\n", t, 1e3 * fw / iters,
                1e3 * bw / iters, 100 * (fw + bw) / total);
    }
}

void layer_times_print(const network *net, FILE *f)
{
    if (!net->ltimes || net->ltimes_passes < 1) return;
    double iters = net->ltimes_passes, total = 0;
    for (int i = 0; i < 2 * net->n; ++i) total += net->ltimes[i];
    if (total <= 0) return;
    if (net->ltimes_train)
        fprintf(f, "layer times: wall ms per training pass, mean of %.0f passes (the first %d not "
                "counted)\n", iters, SKIP_ITERS);
    else
        fprintf(f, "layer times: wall ms per inference pass (mini-batch %d), mean of %.0f passes\n",
                net->batch, iters);
    fprintf(f, "  layer type            forward   backward  share\n");
    for (int i = 0; i < net->n; ++i) {
        double fw = net->ltimes[2 * i], bw = net->ltimes[2 * i + 1];
        int end = net->plan.seg_end ? net->plan.seg_end[i] : 0;
        char what[48];
        if (end > i) snprintf(what, sizeof what, "%s (streamed %d..%d)", net->layers[i].ops->name, i, end);
        else snprintf(what, sizeof what, "%s", net->layers[i].ops->name);
        if (fw == 0 && bw == 0) continue;
        fprintf(f, "  %3d %-28s %9.2f %9.2f  %5.1f%%\n", i, what, 1e3 * fw / iters, 1e3 * bw / iters,
                100 * (fw + bw) / total);
    }
    fprintf(f, "  total %.2f ms per pass; by type:\n", 1e3 * total / iters);
    print_types(net, f, iters, total);
}
