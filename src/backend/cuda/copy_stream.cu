/* copy_stream.cu: copies that overlap compute, for actnn_swap (backend.h pull_async,
 * push_async, copy_wait, host_alloc): page-locked host memory and one second stream.
 *
 * Every op of this backend runs on the legacy default stream. A copy first makes the copy
 * stream wait for an event recorded there (so a pull sees the kernels that wrote its
 * source), then copies, then records its ticket's event. The copy stream is created
 * non-blocking, or the legacy stream's implicit synchronisation would serialise it with
 * every kernel. Tickets index a ring of events: a ticket whose slot was recorded again
 * waits for a later copy, which on one in-order stream implies its own (never too early).
 * copy_wait of a pull blocks the host (its host bytes are read and its device block is
 * reused after it); of a push, only the default stream waits (the host keeps issuing).
 * Never run on a GPU (docs/gpu.md). */
#include <stdint.h>
#include <stdio.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

enum { RING = 1024 };
static cudaStream_t g_copy;
static cudaEvent_t g_ready, g_ev[RING];
static unsigned char g_pull[RING];
static uint64_t g_issued;

/* A failure of copy_init: destroys what it made (the stream s, the event ready, the first
 * n ring events) and reports e, taking it from the runtime so that no later check blames
 * another call for it. */
static int init_failed(cudaError_t e, const char *what, cudaStream_t s, cudaEvent_t ready, int n)
{
    while (n > 0) (void)cudaEventDestroy(g_ev[--n]);
    if (ready) (void)cudaEventDestroy(ready);
    if (s) (void)cudaStreamDestroy(s);
    (void)cudaGetLastError();
    return dn_cuda_report(what, cudaGetErrorString(e), __FILE__, __LINE__);
}

/* The copy stream and its events, made on the first copy. g_copy says "made", so it is
 * set last: after a failure part-way nothing is published and the next copy tries again,
 * instead of recording events that were never created. */
static int copy_init(void)
{
    if (g_copy) return 0;
    cudaStream_t s = NULL;
    cudaEvent_t ready = NULL;
    cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    if (e != cudaSuccess) return init_failed(e, "cudaStreamCreateWithFlags (copy stream)", NULL, NULL, 0);
    e = cudaEventCreateWithFlags(&ready, cudaEventDisableTiming);
    if (e != cudaSuccess) return init_failed(e, "cudaEventCreate (copy stream)", s, NULL, 0);
    for (int i = 0; i < RING; ++i) {
        e = cudaEventCreateWithFlags(&g_ev[i], cudaEventDisableTiming);
        if (e != cudaSuccess) return init_failed(e, "cudaEventCreate (copy ring)", s, ready, i);
    }
    g_ready = ready;
    g_copy = s;
    return 0;
}

extern "C" void *dn_cuda_host_alloc(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        dn_cuda_report("cudaMallocHost (page-locked host memory for actnn_swap)",
                       cudaGetErrorString(e), __FILE__, __LINE__);
        (void)cudaGetLastError();
        return NULL;
    }
    return p;
}

extern "C" void dn_cuda_host_free(void *p)
{
    if (p && cudaFreeHost(p) != cudaSuccess) (void)cudaGetLastError(); /* freeing: nothing to do */
}

extern "C" int dn_cuda_copy_async(void *dst, const void *src, size_t bytes, int to_device,
                                  uint64_t *ticket)
{
    if (copy_init()) return -1;
    uint64_t t = g_issued + 1;
    DN_CU(cudaEventRecord(g_ready, 0), "cudaEventRecord (before a copy)");
    DN_CU(cudaStreamWaitEvent(g_copy, g_ready, 0), "cudaStreamWaitEvent (copy stream)");
    DN_CU(cudaMemcpyAsync(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost,
                          g_copy),
          to_device ? "copy host to device (actnn_swap)" : "copy device to host (actnn_swap)");
    DN_CU(cudaEventRecord(g_ev[t % RING], g_copy), "cudaEventRecord (after a copy)");
    g_pull[t % RING] = !to_device;
    g_issued = t;
    *ticket = t;
    return 0;
}

extern "C" int dn_cuda_copy_wait(uint64_t ticket)
{
    if (!g_copy) return 0; /* no copy was ever started */
    if (ticket == UINT64_MAX || ticket > g_issued || g_issued - ticket >= RING) {
        DN_CU(cudaStreamSynchronize(g_copy), "cudaStreamSynchronize (copy stream)");
        return 0;
    }
    cudaEvent_t ev = g_ev[ticket % RING];
    if (g_pull[ticket % RING]) DN_CU(cudaEventSynchronize(ev), "cudaEventSynchronize (a pull)");
    else DN_CU(cudaStreamWaitEvent(0, ev, 0), "cudaStreamWaitEvent (a push)");
    return 0;
}
