/* startup.cu: the start-up line of a GPU build that says where each part runs.
 *
 * The detector and classifier commands place their network on the CUDA backend after the
 * weights are loaded (cli/device.c, core/place.h): parameters, layer state, the activation
 * arena and every layer's forward and backward run on the device; [yolo], [region],
 * softmax and cost run on the host with copies, as in Darknet; ActNN saves (tensors, masks,
 * codes) are made on the device by actnn_plugin's CUDA kernels through the backend's act_*
 * ops, into one device pool, with nothing staged through the host. Other commands (memory,
 * partial, the C API) stay on the CPU. main() calls this before any command so the user
 * sees it first. */
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
            "gpu: detector/classifier commands place the network on this GPU (convolution by "
            "%s; cuBLAS gemm, batch norm, activations, pooling, route/shortcut/upsample, the "
            "optimizer);\n"
            "gpu: [yolo], [region], softmax and cost run on the host with copies; ActNN saves "
            "are quantized into a device pool; other commands run on the CPU\n",
            dev, dn_gpu_have_cudnn() ? "cuDNN" : "im2col + cuBLAS (no cuDNN: CUDNN=0)");
    return 0;
}
