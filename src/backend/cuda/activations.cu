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

/* maybe_unused: the host compilation pass sees the kernels only as launch stubs, so some
 * helpers are unused there. */
#define DN_ACT_FN [[maybe_unused]] __host__ __device__ static

DN_ACT_FN float stair_act(float x)
{
    int n = (int)floorf(x);
    if (n % 2 == 0) return (float)floor(x / 2.);
    return (float)((x - n) + floor(x / 2.));
}

DN_ACT_FN float hardtan_act(float x) { return x < -1 ? -1 : x > 1 ? 1 : x; }

DN_ACT_FN float lhtan_act(float x)
{
    if (x < 0) return (float)(.001 * x);
    if (x > 1) return (float)(.001 * (x - 1) + 1);
    return x;
}

DN_ACT_FN float plse_act(float x)
{
    if (x < -4) return (float)(.01 * (x + 4));
    if (x > 4) return (float)(.01 * (x - 4) + 1);
    return (float)(.125 * x + .5);
}

DN_ACT_FN float softplus(float x)
{
    if (x > 20.f) return x;
    if (x < -20.f) return expf(x);
    return log1pf(expf(x));
}

DN_ACT_FN float gelu_act(float x)
{
    float t = tanhf(0.7978845608f * (x + 0.044715f * x * x * x));
    return 0.5f * x * (1.f + t);
}

DN_ACT_FN float activate1(float x, activation a)
{
    switch (a) {
    case ACT_LOGISTIC: return (float)(1. / (1. + exp((double)-x)));
    case ACT_LOGGY: return (float)(2. / (1. + exp((double)-x)) - 1);
    case ACT_RELU: return x * (x > 0);
    case ACT_ELU: return (float)((x >= 0) * x + (x < 0) * (exp((double)x) - 1));
    case ACT_SELU: return (float)((x >= 0) * 1.0507 * x + (x < 0) * 1.0507 * 1.6732 * (exp((double)x) - 1));
    case ACT_RELIE: return x > 0 ? x : (float)(.01 * x);
    case ACT_RAMP: return (float)(x * (x > 0) + .1 * x);
    case ACT_LEAKY: return x > 0 ? x : (float)(.1 * x);
    case ACT_TANH: return (float)((exp((double)(2 * x)) - 1) / (exp((double)(2 * x)) + 1));
    case ACT_PLSE: return plse_act(x);
    case ACT_STAIR: return stair_act(x);
    case ACT_HARDTAN: return hardtan_act(x);
    case ACT_LHTAN: return lhtan_act(x);
    case ACT_LINEAR: return x;
    case ACT_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    case ACT_SWISH: return x / (1.f + expf(-x));
    case ACT_MISH: return x * tanhf(softplus(x));
    case ACT_HARD_MISH: return x > 0 ? x : x > -2 ? x * x / 2 + x : 0;
    case ACT_GELU: return gelu_act(x);
    default: return x;
    }
}

DN_ACT_FN float grad_y(float y, activation a)
{
    switch (a) {
    case ACT_LOGISTIC: return (1 - y) * y;
    case ACT_LOGGY: { float t = (float)((y + 1.) / 2.); return 2 * (1 - t) * t; }
    case ACT_RELU: return (float)(y > 0);
    case ACT_ELU: return (float)((y >= 0) + (y < 0) * (y + 1));
    case ACT_SELU: return (float)((y >= 0) * 1.0507 + (y < 0) * (y + 1.0507 * 1.6732));
    case ACT_RELIE: return y > 0 ? 1 : .01f;
    case ACT_RAMP: return (float)((y > 0) + .1);
    case ACT_LEAKY: return y > 0 ? 1 : .1f;
    case ACT_TANH: return 1 - y * y;
    case ACT_PLSE: return (y < 0 || y > 1) ? .01f : .125f;
    case ACT_STAIR: return floorf(y) == y ? 0 : 1;
    case ACT_HARDTAN: return (y > -1 && y < 1) ? 1 : 0;
    case ACT_LHTAN: return (y > 0 && y < 1) ? 1 : .001f;
    case ACT_RELU6: return (y > 0 && y < 6) ? 1 : 0;
    default: return 1;
    }
}

DN_ACT_FN float grad_x(float x, activation a)
{
    switch (a) {
    case ACT_SWISH: {
        float s = 1.f / (1.f + expf(-x));
        float y = x * s;
        return y + s * (1.f - y);
    }
    case ACT_MISH: {
        float sp = softplus(x);
        float gsp = 1.f - expf(-sp);
        float t = tanhf(sp);
        return x * (1.f - t * t) * gsp + t;
    }
    case ACT_HARD_MISH: return x > 0 ? 1 : x > -2 ? x + 1 : 0;
    case ACT_GELU: {
        const float k = 0.7978845608f, c = 0.044715f;
        float u = k * (x + c * x * x * x);
        float t = tanhf(u);
        float du = k * (1.f + 3.f * c * x * x);
        return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du;
    }
    default: return grad_y(activate1(x, a), a);
    }
}

DN_ACT_FN bool needs_input(activation a)
{
    return a == ACT_SWISH || a == ACT_MISH || a == ACT_HARD_MISH || a == ACT_GELU;
}

/* The "g1" value of a masked activation (activation_is_masked in activations.c). */
static float mask_g1(activation a)
{
    if (a == ACT_RAMP) return (float)(1 + .1);
    if (a == ACT_PLSE) return .125f;
    return 1;
}

__global__ void k_activate(float *x, size_t n, activation a)
{
    DN_GRID_LOOP(i, n) x[i] = activate1(x[i], a);
}

__global__ void k_gradient(const float *y, const float *x, size_t n, activation a, float *delta)
{
    bool in = needs_input(a);
    DN_GRID_LOOP(i, n) delta[i] *= in ? grad_x(x[i], a) : grad_y(y[i], a);
}

__global__ void k_gradient_from_input(const float *x, size_t n, activation a, float *delta)
{
    bool in = needs_input(a);
    DN_GRID_LOOP(i, n) delta[i] *= in ? grad_x(x[i], a) : grad_y(activate1(x[i], a), a);
}

__global__ void k_mask(const float *y, size_t n, activation a, float g1, uint8_t *bits)
{
    DN_GRID_LOOP(i, n) bits[i] = grad_y(y[i], a) == g1;
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
