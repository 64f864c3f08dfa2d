/* Memory figures: the planned arena, parameters, workspace and saved activations, and the
 * `memory:` line every training run ends with (DESIGN.md "User interface"). */
#ifndef DN_MEMREPORT_H
#define DN_MEMREPORT_H

#include <stdio.h>

#include "core/network.h"
#include "memory/saved.h"

/* Planned training memory for the net's mini-batch, without training. Saved bytes come
 * from a batch-1 training forward (what every layer really saves, BN statistics and the
 * iteration counter restored afterwards) scaled to the mini-batch with the plugin's exact
 * size functions. */
typedef struct {
    int batch;
    size_t saved, saved_fp32;      /* stored bytes at the cfg's bits; the same items as fp32 */
    size_t saved_at32;             /* what the copies take with every layer at 32 bits (kept
                                      inputs live in arena_fp32 instead) */
    size_t arena, arena_fp32;      /* transient arena at the cfg's bits; with every layer at 32 */
    size_t params, workspace, scratch, input;
    size_t loader;                 /* the loader's prefetch of the next mini-batch (loader.h) */
    int input_transient;           /* nothing reads the input after the forward
                                      (network_input_dead): trainers drop it then */
    size_t saved_with_input;       /* saved bytes resident while the whole input still is:
                                      those of the layers up to the input's last reader,
                                      or before the streamed segment that holds it (whose
                                      last sweep drops it chunk by chunk) */
    size_t swap_window;            /* actnn_swap=1 on a device: the saves of the largest
                                      layer or streamed segment (what is written or read
                                      back at once; the rest waits in host memory) */
    size_t stats;                  /* a device run's actnn_auto statistics vectors
                                      (saved_stats_plan_bytes; none on the CPU) */
} mem_summary;

/* Bytes of all parameters, their gradients and optimizer state. */
size_t memreport_param_bytes(const network *net);
/* Fills s (and, when f is not NULL, prints the per-layer plan to f). 0 or -1 with err. */
int memreport_plan(network *net, mem_summary *s, FILE *f, char *err, size_t errlen);
/* What a batch-1 training forward saves with every layer at `bits` (0: each layer's own),
 * per layer and slot (net->n * SV_SLOTS entries; the caller frees it). NULL with err. */
saved_desc *memreport_describe(network *net, int bits, char *err, size_t errlen);
/* The plan for mini-batch `batch` with every layer at `bits` (0: each layer's own bits),
 * from desc, without allocating it (only the arena's layout is computed); saved_at32 and
 * arena_fp32 are left 0. desc must come from a dry run on the same side of 32 bits (what
 * is saved differs: conv x-hat is rebuilt only when compressed). 0 or -1. */
int memreport_plan_at(network *net, const saved_desc *desc, int bits, int batch, mem_summary *s);
/* arena + params + workspace + scratch + loader, plus saved + input; when the input is
 * transient, the larger of saved and input + saved_with_input instead (the CLI trainers
 * drop the input after its last reader and the saved pool after the backward, so the
 * input overlaps only what is saved before it goes). */
size_t memreport_total(const mem_summary *s);
/* What a GPU run of that plan holds in device memory (no loader; the saved pool, or
 * actnn_swap's window): arena + saved + params + workspace + scratch + input. */
size_t memreport_device_total(const network *net, const mem_summary *s);
/* `./darknet memory`: the per-layer plan and a total line. Returns 0 or -1 with err set. */
int memreport_print_plan(network *net, FILE *f, char *err, size_t errlen);
/* One `planned:` line for the start of training (CLIs call it before the first batch). */
int memreport_print_planned(network *net, FILE *f);
/* A training run on a device backend: makes the saved-activation pool as large as the plan
 * says one iteration of the mini-batch saves in device memory (a batch-1 dry run's
 * descriptors, saved_device_pool_bytes), before the first batch, so no iteration
 * allocates for its saves. A no-op on the host. 0, or -1 with err. */
int memreport_reserve_saved(network *net, char *err, size_t errlen);
/* Peak resident set size of this process in bytes (VmHWM). */
size_t memreport_peak_rss(void);
/* With actnn_auto, the per-layer bits of the last allocation (one line). */
void memreport_print_auto(const network *net, FILE *f);
/* The one-line summary every training run ends with:
 * memory: params_mib=.. saved_mib=.. saved_fp32_mib=.. arena_mib=.. workspace_mib=.. peak_rss_mib=.. */
void memreport_print_line(const network *net, FILE *f);

#endif
