/* cuda_mem.cu: device selection, checked allocation with byte counters, copies.
 *
 * The counters give the gpu_peak_mib figure of the `memory:` line: the network's device
 * buffers (parameters, arena, workspace, compressed activations) all come from
 * dn_cuda_malloc, so its peak is what training needed, independent of what the CUDA
 * runtime and cuDNN keep for themselves (cudaMemGetInfo would include those). The
 * training loop is single-threaded on the host side, so plain counters suffice. */
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

extern "C" {
#include "backend/backend.h"
}

static size_t g_in_use, g_peak, g_planned;
static int g_device = -1;

extern "C" int dn_cuda_report(const char *what, const char *reason, const char *file, int line)
{
    fprintf(stderr, "cuda: %s failed (%s:%d): %s\n", what, file, line, reason);
    return -1;
}

extern "C" int dn_cuda_device_count(void)
{
    int n = 0;
    /* No driver or no device both mean "no GPU here"; clear the sticky error state. */
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" int dn_cuda_init(int index)
{
    int n = dn_cuda_device_count();
    if (n == 0) {
        fprintf(stderr, "cuda: no CUDA device (driver missing or no GPU); run without -i/-gpus "
                        "on a CPU build, or use -nogpu\n");
        return -1;
    }
    if (index < 0 || index >= n) {
        fprintf(stderr, "cuda: -i/-gpus %d: only %d device(s) (0..%d)\n", index, n, n - 1);
        return -1;
    }
    DN_CU(cudaSetDevice(index), "cudaSetDevice");
    g_device = index;
    return 0;
}

extern "C" void dn_cuda_describe(char *buf, size_t len)
{
    cudaDeviceProp p;
    size_t free_b = 0, total_b = 0;
    if (g_device < 0 || cudaGetDeviceProperties(&p, g_device) != cudaSuccess ||
        cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        snprintf(buf, len, "none");
        return;
    }
    snprintf(buf, len, "GPU %d: %s, sm_%d%d, %.0f MiB free of %.0f MiB", g_device, p.name, p.major,
             p.minor, free_b / 1048576.0, total_b / 1048576.0);
}

/* The out-of-memory message: what, how much, how much is free, and what to change. */
static void report_oom(size_t bytes, const char *what, cudaError_t e)
{
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
    fprintf(stderr,
            "cuda: out of GPU memory allocating %s: asked %zu bytes (%.1f MiB), free %.1f MiB of "
            "%.1f MiB, already held by this network %.1f MiB, the plan needs %.1f MiB (%s).\n"
            "      Lower actnn_bits (e.g. actnn_bits=2 in [net]), raise subdivisions, or lower "
            "workspace_size_limit_MB.\n",
            what ? what : "a buffer", bytes, bytes / 1048576.0, free_b / 1048576.0,
            total_b / 1048576.0, g_in_use / 1048576.0, g_planned / 1048576.0,
            cudaGetErrorString(e));
}

extern "C" void dn_cuda_set_planned(size_t bytes) { g_planned = bytes; }

/* DN_GPU_BUDGET_MB (backend/budget.c): refused like a real out-of-memory, same advice. */
static int over_budget(size_t bytes, const char *what)
{
    char why[256], msg[768];
    long long budget = dn_budget_bytes(why, sizeof why);
    if (budget < 0) {
        fprintf(stderr, "cuda: %s\n", why);
        return 1;
    }
    if (!dn_budget_refuses(bytes, g_in_use, (size_t)budget, "DN_GPU_BUDGET_MB", g_planned, what,
                           msg, sizeof msg))
        return 0;
    fprintf(stderr, "cuda: %s\n", msg);
    return 1;
}

extern "C" void *dn_cuda_malloc(size_t bytes, const char *what)
{
    void *p = NULL;
    if (bytes == 0) return NULL;
    if (over_budget(bytes, what)) return NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky; clear it */
        if (e == cudaErrorMemoryAllocation) report_oom(bytes, what, e);
        else dn_cuda_report(what ? what : "cudaMalloc", cudaGetErrorString(e), __FILE__, __LINE__);
        return NULL;
    }
    g_in_use += bytes;
    if (g_in_use > g_peak) g_peak = g_in_use;
    return p;
}

extern "C" void dn_cuda_free(void *d_ptr, size_t bytes)
{
    if (!d_ptr) return;
    cudaError_t e = cudaFree(d_ptr);
    if (e != cudaSuccess) dn_cuda_report("cudaFree", cudaGetErrorString(e), __FILE__, __LINE__);
    g_in_use = bytes <= g_in_use ? g_in_use - bytes : 0;
}

extern "C" size_t dn_cuda_bytes_in_use(void) { return g_in_use; }
extern "C" size_t dn_cuda_peak_bytes(void) { return g_peak; }
extern "C" void dn_cuda_reset_peak(void) { g_peak = g_in_use; }

extern "C" void dn_cuda_mem_avail(size_t *free_b, size_t *total_b)
{
    *free_b = *total_b = 0;
    if (g_device < 0 || cudaMemGetInfo(free_b, total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        *free_b = *total_b = 0;
    }
}

extern "C" size_t dn_cuda_used_bytes(void)
{
    size_t free_b, total_b;
    dn_cuda_mem_avail(&free_b, &total_b);
    return total_b - free_b;
}

extern "C" int dn_cuda_push(void *d_dst, const void *h_src, size_t bytes)
{
    DN_CU(cudaMemcpy(d_dst, h_src, bytes, cudaMemcpyHostToDevice), "copy host to device");
    return 0;
}

extern "C" int dn_cuda_pull(void *h_dst, const void *d_src, size_t bytes)
{
    DN_CU(cudaMemcpy(h_dst, d_src, bytes, cudaMemcpyDeviceToHost), "copy device to host");
    return 0;
}

extern "C" int dn_cuda_copy(void *d_dst, const void *d_src, size_t bytes)
{
    DN_CU(cudaMemcpyAsync(d_dst, d_src, bytes, cudaMemcpyDeviceToDevice, 0), "copy device to device");
    return 0;
}

extern "C" int dn_cuda_zero(void *d_dst, size_t bytes)
{
    DN_CU(cudaMemsetAsync(d_dst, 0, bytes, 0), "cudaMemsetAsync");
    return 0;
}

extern "C" int dn_cuda_sync(const char *what)
{
    DN_CU(cudaDeviceSynchronize(), what ? what : "cudaDeviceSynchronize");
    return 0;
}

/* The runtime's pending error (cudaPeekAtLastError) is a kernel fault it has already seen
 * or a launch error no check took. Taken once with cudaGetLastError: a launch error is
 * then cleared, while a fault stays (sticky) and every later call fails anyway. */
extern "C" int dn_cuda_pending(const char *what, int wait)
{
    cudaError_t e = wait ? cudaDeviceSynchronize() : cudaSuccess;
    if (e == cudaSuccess) e = cudaPeekAtLastError();
    if (e == cudaSuccess) return 0;
    (void)cudaGetLastError();
    return dn_cuda_report(what, cudaGetErrorString(e), __FILE__, __LINE__);
}

extern "C" int dn_cuda_check_launch(const char *what)
{
    DN_LAUNCHED(what ? what : "kernel launch");
    return 0;
}
