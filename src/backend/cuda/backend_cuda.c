/* The CUDA backend's entry points (GPU=1 builds only; backend.h). */
#include <stdio.h>

#include "backend/backend.h"
#include "backend/cuda/dn_cuda.h"

const dn_backend *dn_backend_cuda(int index, char *why, size_t whylen)
{
    (void)index;
    if (why && whylen) snprintf(why, whylen, "the CUDA backend's ops table is not wired yet");
    return NULL;
}

int dn_backend_startup_report(int index) { return dn_cuda_startup_report(index); }
