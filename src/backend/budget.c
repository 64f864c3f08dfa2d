/* The device memory budget (DN_GPU_BUDGET_MB): parsing and the refusal message, plain C so
 * that tests check them on any machine; the CUDA allocator (cuda_mem.cu) asks them before
 * every cudaMalloc. A budget makes "the largest mini-batch under N MiB" measurable on any
 * card, and the message is the one a real out-of-memory gives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"

#define MIB (1024.0 * 1024.0)

long long dn_env_mib(const char *name, char *why, size_t whylen)
{
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end = NULL;
    errno = 0;
    long long mb = strtoll(s, &end, 10);
    if (errno || *end || mb < 1 || mb > (1LL << 30)) {
        if (why && whylen)
            snprintf(why, whylen, "%s='%s': expected a whole number of MiB, 1..%lld", name, s,
                     1LL << 30);
        return -1;
    }
    return mb * 1024 * 1024;
}

long long dn_budget_bytes(char *why, size_t whylen)
{
    return dn_env_mib("DN_GPU_BUDGET_MB", why, whylen);
}

int dn_budget_refuses(size_t asked, size_t in_use, size_t budget, const char *limit,
                      size_t planned, const char *what, char *msg, size_t len)
{
    if (!budget || (in_use <= budget && asked <= budget - in_use)) return 0;
    size_t left = in_use < budget ? budget - in_use : 0;
    snprintf(msg, len,
             "out of GPU memory allocating %s: asked %.1f MiB, free %.1f MiB of the "
             "%s=%.0f budget (%.1f MiB already held; the plan needs %.1f MiB).\n"
             "  Lower actnn_bits (e.g. actnn_bits=2 in [net]) or raise subdivisions; "
             "./darknet memory <cfg> -batch N -gpu shows the device plan.",
             what ? what : "a buffer", asked / MIB, left / MIB, limit, budget / MIB, in_use / MIB,
             planned / MIB);
    return 1;
}
