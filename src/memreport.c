#include "memreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saved.h"

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

int memreport_print_plan(network *net, FILE *f, char *err, size_t errlen)
{
    if (network_prepare(net, 1, err, errlen)) return -1;
    const mem_plan *p = &net->plan;
    fprintf(f, "%5s %-14s %-18s %10s %10s %10s\n", "layer", "type", "output", "out_MiB", "delta_MiB",
            "arena_off");
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        char shape[64];
        snprintf(shape, sizeof(shape), "%dx%dx%d", l->out_w, l->out_h, l->out_c);
        fprintf(f, "%5d %-14s %-18s %10.2f %10.2f %10.2f\n", i, l->ops->name, shape,
                p->out[i].bytes / MIB, p->delta[i].bytes / MIB, p->out[i].off / MIB);
    }
    fprintf(f, "total: mini-batch=%d arena_mib=%.1f (%.1f without reuse) params_mib=%.1f "
            "workspace_mib=%.1f\n",
            net->batch, p->arena_bytes / MIB, p->total_bytes / MIB, memreport_param_bytes(net) / MIB,
            net->workspace_bytes / MIB);
    return 0;
}

void memreport_print_line(const network *net, FILE *f)
{
    saved_stats st = {0};
    if (net->store) saved_get_stats(net->store, &st);
    fprintf(f, "memory: params_mib=%.1f saved_mib=%.1f saved_fp32_mib=%.1f arena_mib=%.1f "
            "workspace_mib=%.1f peak_rss_mib=%.1f\n",
            memreport_param_bytes(net) / MIB, st.peak_bytes / MIB, st.peak_fp32_bytes / MIB,
            net->arena_bytes / MIB, net->workspace_bytes / MIB, memreport_peak_rss() / MIB);
}
