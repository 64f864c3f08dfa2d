/* startup.cu: the start-up line of a GPU build that says where each part runs.
 *
 * The kernels of src/backend/cuda and actnn_plugin/src/quantize.cu exist and compile, but the
 * layers' GPU paths (device arena, forward/backward through these kernels) are not wired
 * yet. A GPU build must never let a user believe training ran on the GPU, so main()
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
            "gpu: kernels built (cuBLAS gemm, %s, batch norm, activations, pooling, "
            "route/shortcut/upsample, ActNN quantizer) but not yet wired into the layers:\n"
            "gpu: every layer's forward and backward runs on the CPU; the GPU computes nothing "
            "in this run\n",
            dev, dn_gpu_have_cudnn() ? "cuDNN convolution" : "no cuDNN (CUDNN=0)");
    return 0;
}
