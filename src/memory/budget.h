/* Budget mode (DESIGN.md "Scale"): which mini-batch fits a memory budget at each bit
 * width (`./darknet memory <cfg> -budget 2G`), and `actnn_budget_mb=` in [net], which
 * picks every layer's bits so the training plan fits.
 *
 * Owns only these questions: it reads plans (memreport.h) and may change the layers'
 * `bits` (and net->actnn, net->actnn_bits); it never trains, loads data or allocates the
 * arena it plans. A plan's total is what memreport_total() counts: saved activations,
 * arena, parameters with their updates, workspace, scratch, the input batch and the
 * loader's next one. */
#ifndef DN_BUDGET_H
#define DN_BUDGET_H

#include <stdio.h>

#include "core/network.h"
#include "memory/memreport.h"

/* Parses "2G", "1536M", "512" (MiB), "3.5G", "100K" into bytes; 0 when malformed. */
size_t budget_parse(const char *s);
/* The largest mini-batch (0 if not even 1) whose plan with every layer at `bits` (0: the
 * layers' own) fits `budget` bytes; *at gets that plan (or mini-batch 1's when none fits).
 * The plan's total grows with the mini-batch, so doubling then bisection finds it; a
 * brute force in tests/test_budget.c checks it at the answer and one more sample. */
int budget_max_batch(network *net, const saved_desc *desc, int bits, size_t budget,
                     mem_summary *at);
/* The same for host memory (device 0) or for a GPU run's device memory
 * (memreport_device_total: no loader, actnn_swap's window for the saves). */
int budget_max_batch_on(network *net, const saved_desc *desc, int bits, size_t budget,
                        int device, mem_summary *at);
/* The `-budget` table: per bit width, the largest mini-batch, its planned total and per
 * sample cost, and the cfg's batch/subdivisions that train within it; of host memory, or
 * of device memory (device: `memory -gpu`). 0 or -1 with err. */
int budget_print(network *net, size_t budget, int device, FILE *f, char *err, size_t errlen);
/* actnn_budget_mb: sets every layer's bits so the plan at the net's mini-batch fits
 * `budget` bytes: all at 32 if that fits, else ActNN's allocator (actnn_alloc_bits) over
 * the layers' saved values at the highest average in [1, 8] that fits. Every value counts
 * as equally sensitive here (no gradients exist before training; actnn_auto refines the
 * split per sample later). Says what it chose on `log` (may be NULL). -1 with err when
 * even 1 bit per value does not fit. */
int budget_pick_bits(network *net, size_t budget, FILE *log, char *err, size_t errlen);
/* actnn_stream unset (-1): whether streamed segments (stream.h) are on for the net's
 * mini-batch. They trade recomputation for memory, so they are on only under a cap that
 * needs them: actnn_budget_mb, else the process's resident cap (cap.h, a cgroup limit);
 * on when the plan without them exceeds the cap (RESIDENT_SHARE of a cgroup's, leaving room
 * for code, libraries and the allocator). Sets net->stream_auto_on and net->stream_why;
 * call again after the mini-batch changes. */
void budget_resolve_streaming(network *net);
/* The same for a GPU run: turns streamed segments on when the device plan without them
 * (memreport_device_total) exceeds `cap` bytes, which `src` names for the start-up line
 * ("DN_GPU_BUDGET_MB=N", or the share of the card's free memory). Only ever turns them on
 * (a host cap may have already), and not when the cfg sets actnn_stream. Call before the
 * network is placed. */
void budget_resolve_streaming_device(network *net, size_t cap, const char *src);
/* Share of a card's free memory a GPU run plans to use when no DN_GPU_BUDGET_MB is given:
 * the rest is for cuBLAS's and cuDNN's own buffers and the plan's few % of error. */
#define DEVICE_SHARE 0.9
/* The device plan's total (memreport_device_total) at the net's mini-batch as it will run
 * (streamed segments as decided), for the out-of-memory message; 0 if it cannot be made. */
size_t budget_device_plan(network *net);

#endif
