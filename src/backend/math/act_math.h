/* act_math.h: the per-value activation arithmetic of both backends (activations.c on the
 * CPU, activations.cu on the GPU), written once as `__host__ __device__` functions (plain
 * static inline in C). The CPU backend calls them, so the CUDA kernels compute exactly the
 * expressions that the differential tests check against Debian's libdarknet on the CPU;
 * tests/test_backend_mirror.c (C, `make test`) checks the arrays built from them.
 *
 * The expressions keep pjreddie's float/double mix (he computes `.1*x` and exp() in
 * double). C++ overloads exp(float) as expf while C promotes to double: every exp() gets an
 * explicit (double), so C and CUDA agree. The kernels are built with --fmad=false, so
 * products and sums stay separately rounded, as in C11 with -ffp-contract=off. Only CUDA's
 * libm (expf, tanhf, log1pf) may differ by ulps. */
#ifndef DN_ACT_MATH_H
#define DN_ACT_MATH_H

#include <math.h>

#include "backend/activation_kind.h"

#if defined(__CUDACC__)
#define DN_ACT_FN static __host__ __device__ inline
#else
#define DN_ACT_FN static inline
#endif


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

DN_ACT_FN int needs_input(activation a)
{
    return a == ACT_SWISH || a == ACT_MISH || a == ACT_HARD_MISH || a == ACT_GELU;
}

/* The "g1" value of a masked activation (activation_is_masked in activations.c). */
DN_ACT_FN float mask_g1(activation a)
{
    if (a == ACT_RAMP) return (float)(1 + .1);
    if (a == ACT_PLSE) return .125f;
    return 1;
}

#endif
