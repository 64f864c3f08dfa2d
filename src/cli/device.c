/* Where a command's network computes: the CUDA backend on the GPU chosen by -i/-gpus in a
 * GPU build (unless -nogpu), the simulated device of the tests (DN_BACKEND=devsim), else
 * the CPU. Placement happens once, after the weights are loaded (core/place.h). */
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include "core/layer_times.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/network.h"
#include "core/place.h"
#include "memory/budget.h"
#include "dist/dist.h"

/* "yolo x2, softmax": the host-only layer types of the network, for the start-up line. */
static void host_layers(const network *net, char *s, size_t len)
{
    s[0] = 0;
    size_t at = 0;
    for (int i = 0; i < net->n && at < len; ++i) {
        const layer_ops *o = net->layers[i].ops;
        int seen = 0, count = 0;
        for (int j = 0; j < net->n; ++j) {
            if (net->layers[j].ops != o) continue;
            if (j < i) seen = 1;
            ++count;
        }
        if (!o->host_only || seen) continue;
        at += (size_t)snprintf(s + at, len - at, count > 1 ? "%s[%s] x%d" : "%s[%s]", at ? ", " : "",
                               o->name, count);
    }
}

/* MPI rank r's GPU: the r-th entry of -gpus "a,b,..." (in turn when fewer), else -i/-gpus
 * plus r (one rank per GPU, the NCCL layout of docs/mpi.md). One process: -i/-gpus. */
static int rank_gpu(void)
{
    int r = dist_rank(), n = 0;
    if (dist_size() == 1 || cli_gpu_index < 0) return cli_gpu_index;
    long ids[64];
    for (const char *s = cli_gpus_list; s && *s && n < 64;) {
        char *end;
        ids[n++] = strtol(s, &end, 10);
        s = *end == ',' ? end + 1 : end + (*end != 0);
    }
    return n > 1 ? (int)ids[r % n] : cli_gpu_index + r;
}

/* Streamed segments as the CPU gets them under its cap: the device's cap is DN_GPU_BUDGET_MB,
 * else DEVICE_SHARE of the memory the card has free. The backend learns the plan's total,
 * which its out-of-memory message quotes. */
static int size_to_device(network *net, const dn_backend *be, char *err, size_t errlen)
{
    char why[160], src[128];
    long long cap = dn_budget_bytes(why, sizeof why);
    if (cap >= 0 && !strcmp(be->name, "devsim") && dn_env_mib("DN_DEVSIM_MEM_MB", why, sizeof why) < 0)
        cap = -1;
    if (cap < 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    if (cap > 0) {
        snprintf(src, sizeof src, "DN_GPU_BUDGET_MB=%lld", cap >> 20);
    } else {
        size_t free_b, total_b;
        be->mem_avail(&free_b, &total_b);
        cap = (long long)(DEVICE_SHARE * (double)free_b);
        snprintf(src, sizeof src, "%.0f%% of the %.0f MiB free on %s", 100 * DEVICE_SHARE,
                 free_b / 1048576.0, be->name);
    }
    if (cap > 0) budget_resolve_streaming_device(net, (size_t)cap, src);
    size_t plan = budget_device_plan(net);
    be->set_planned(plan);
    if (cap > 0 && plan > (size_t)cap)
        fprintf(stderr, "device: the plan needs %.1f MiB of device memory, more than %.0f MiB (%s): "
                "expect an out-of-memory stop; lower actnn_bits or raise subdivisions "
                "(./darknet memory <cfg> -budget N -gpu finds a mini-batch that fits)\n",
                plan / 1048576.0, cap / 1048576.0, src);
    return 0;
}

int cli_place_network(network *net, char *err, size_t errlen)
{
    /* every command's network passes here: -benchmark_layers for train, test, map, valid */
    if (cli_flag("-benchmark_layers") && layer_times_enable(net))
        fprintf(stderr, "-benchmark_layers: out of memory; layer times not measured\n");
    const dn_backend *be = place_env_backend();
    char why[160] = "";
    int gpu = rank_gpu();
    if (!be && gpu >= 0) be = dn_backend_cuda(gpu, why, sizeof(why));
    if (!be || !be->device) { /* the CPU (the start-up report said why) */
        if (net->actnn_swap)
            fprintf(stderr, "actnn_swap=1: no effect on the CPU (saved activations are in host "
                    "memory already); it moves them out of device memory in a GPU run\n");
        return 0;
    }
    if (size_to_device(net, be, err, errlen)) return -1;
    if (network_place(net, be, err, errlen)) return -1;
    char hl[256];
    host_layers(net, hl, sizeof(hl));
    size_t bytes = 0;
    for (int i = 0; i < net->nplaced; ++i) bytes += net->placed[i].n * sizeof(float);
    fprintf(stderr, "device: %s: parameters and layer state (%.1f MiB), the activation arena and "
            "the layers' forward and backward%s%s; saved activations quantized on the device%s\n",
            be->name, bytes / 1048576.0, hl[0] ? "; on the host with copies: " : "", hl,
            net->actnn_swap ? ", then moved to host memory until their backward (actnn_swap=1)"
                            : ", kept in a device pool");
    return 0;
}
