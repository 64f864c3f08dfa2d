/* activations.cu: every activation of activations.h on the GPU.
 *
 * The device functions transcribe activations.c expression by expression, keeping its
 * float/double mix (pjreddie computes `.1*x` and exp() in double), because that mix is
 * what makes outputs match Debian's libdarknet. With --fmad=false nvcc keeps each
 * multiply and add separately rounded, like gcc's -ffp-contract=off under -std=c11.
 * Remaining differences come only from CUDA's libm (expf, tanhf, log1pf: a few ulps).
 * C++ overloads exp(float) as expf, while C promotes to double: every exp() of the C code
 * gets an explicit (double) here, or results would differ from the CPU by float-exp ulps.
 * The helpers are __host__ __device__ so tests/gpu/mirror_host.cu can run them on the CPU
 * against activations.c and catch a transcription error without a GPU. */
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dn_cuda.h"

#include "backend/math/act_math.h"

__global__ void k_activate(float *x, size_t n, activation a)
{
    DN_GRID_LOOP(i, n) x[i] = activate1(x[i], a);
}

__global__ void k_gradient(const float *y, const float *x, size_t n, activation a, float *delta)
{
    int in = needs_input(a);
    DN_GRID_LOOP(i, n) delta[i] *= in ? grad_x(x[i], a) : grad_y(y[i], a);
}

__global__ void k_gradient_from_input(const float *x, size_t n, activation a, float *delta)
{
    int in = needs_input(a);
    DN_GRID_LOOP(i, n) delta[i] *= in ? grad_x(x[i], a) : grad_y(activate1(x[i], a), a);
}

__global__ void k_mask(const float *y, size_t n, activation a, float g1, uint8_t *bits)
{
    DN_GRID_LOOP(i, n) bits[i] = grad_y(y[i], a) == g1;
}

/* One thread per 32-bit word of a sample: bit j%32 of word j/32 as k_mask's byte j. */
__global__ void k_mask_words(const float *y, size_t count, size_t D, size_t stride, activation a,
                             float g1, uint32_t *words)
{
    size_t nw = (D + 31) / 32;
    DN_GRID_LOOP(t, count * nw) {
        size_t k = t / nw, j0 = (t % nw) * 32;
        uint32_t w = 0;
        for (size_t j = j0; j < j0 + 32 && j < D; ++j)
            w |= (uint32_t)(grad_y(y[k * stride + j], a) == g1) << (j - j0);
        words[t] = w;
    }
}

static int check_act(activation a)
{
    if ((int)a < 0 || a >= ACT_COUNT) {
        fprintf(stderr, "cuda: activation %d out of range\n", (int)a);
        return -1;
    }
    return 0;
}

extern "C" int dn_gpu_activate(float *d_x, size_t n, activation a)
{
    if (check_act(a)) return -1;
    if (a == ACT_LINEAR || n == 0) return 0;
    k_activate<<<dn_blocks(n), DN_THREADS>>>(d_x, n, a);
    DN_LAUNCHED("activation kernel");
    return 0;
}

extern "C" int dn_gpu_gradient(const float *d_y, const float *d_x, size_t n, activation a,
                               float *d_delta)
{
    if (check_act(a)) return -1;
    if (a == ACT_LINEAR || n == 0) return 0;
    if (needs_input(a) && !d_x) {
        fprintf(stderr, "cuda: gradient of %s needs the layer input\n", activation_names[a]);
        return -1;
    }
    k_gradient<<<dn_blocks(n), DN_THREADS>>>(d_y, d_x, n, a, d_delta);
    DN_LAUNCHED("activation gradient kernel");
    return 0;
}

extern "C" int dn_gpu_gradient_from_input(const float *d_x, size_t n, activation a, float *d_delta)
{
    if (check_act(a)) return -1;
    if (a == ACT_LINEAR || n == 0) return 0;
    k_gradient_from_input<<<dn_blocks(n), DN_THREADS>>>(d_x, n, a, d_delta);
    DN_LAUNCHED("activation gradient (from input) kernel");
    return 0;
}

extern "C" int dn_gpu_activation_mask(const float *d_y, size_t n, activation a, uint8_t *d_bytes)
{
    if (check_act(a)) return -1;
    if (n == 0) return 0;
    k_mask<<<dn_blocks(n), DN_THREADS>>>(d_y, n, a, mask_g1(a), d_bytes);
    DN_LAUNCHED("activation mask kernel");
    return 0;
}

extern "C" int dn_gpu_activation_mask_words(const float *d_y, size_t count, size_t D, size_t stride,
                                            activation a, uint32_t *d_words)
{
    if (check_act(a)) return -1;
    if (count == 0 || D == 0) return 0;
    k_mask_words<<<dn_blocks(count * ((D + 31) / 32)), DN_THREADS>>>(d_y, count, D, stride, a,
                                                                    mask_g1(a), d_words);
    DN_LAUNCHED("activation mask words kernel");
    return 0;
}
