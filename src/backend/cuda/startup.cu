/* startup.cu: the start-up line of a GPU build that says where each part runs.
 *
 * The layers call every kernel through the backend interface (backend.h) and the CUDA
 * backend's ops table (backend_cuda.c) exists, but the network does not yet place its
 * parameters, saved store and loss layers' copies for a device run, so it always runs the
 * CPU backend. A GPU build must never let a user believe training ran on the GPU, so main()
 * calls this before any command and it states plainly that every layer runs on the CPU. */
#include <stdio.h>

#include "backend/cuda/dn_cuda.h"

extern "C" int dn_cuda_startup_report(int index)
{
    if (index < 0) {
        fprintf(stderr, "gpu: disabled by -nogpu: every layer runs on the CPU\n");
        return 0;
    }
    if (dn_cuda_device_count() == 0) {
        fprintf(stderr, "gpu: GPU build but no CUDA device found: every layer runs on the CPU\n");
        return 0;
    }
    if (dn_cuda_init(index)) return -1;
    char dev[256];
    dn_cuda_describe(dev, sizeof dev);
    fprintf(stderr,
            "gpu: %s\n"
            "gpu: CUDA backend built (cuBLAS gemm, im2col, %s, batch norm, activations, "
            "pooling, route/shortcut/upsample, ActNN quantizer) but the network does not yet\n"
            "gpu: place its parameters and saved activations on the device:\n"
            "gpu: every layer's forward and backward runs on the CPU; the GPU computes nothing "
            "in this run\n",
            dev, dn_gpu_have_cudnn() ? "cuDNN convolution" : "no cuDNN (CUDNN=0)");
    return 0;
}
