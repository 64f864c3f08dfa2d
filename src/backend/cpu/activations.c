/* Activations. The pjreddie functions keep his mix of float and double arithmetic (e.g.
 * `.1*x` is computed in double) so outputs match Debian's libdarknet bit for bit. */
#include "backend/cpu/activations.h"

#include <math.h>
#include <string.h>

/* The per-value functions (activate1, grad_y, grad_x, needs_input) are the CUDA kernels'
 * too: written once in act_math.h, so both backends compute the same expressions. */
#include "backend/math/act_math.h"

const char *const activation_names[ACT_COUNT] = {
    "logistic", "relu", "relie", "linear", "ramp", "tanh", "plse", "leaky",
    "elu", "loggy", "stair", "hardtan", "lhtan", "selu",
    "relu6", "swish", "mish", "hard_mish", "gelu",
};

int activation_from_name(const char *name)
{
    for (int i = 0; i < ACT_COUNT; ++i)
        if (strcmp(name, activation_names[i]) == 0) return i;
    return -1;
}

void activate_array(float *x, size_t n, activation a)
{
    if (a == ACT_LINEAR) return;
    if (a == ACT_LEAKY) { /* the hot case: keep it vectorisable */
        for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0 ? x[i] : (float)(.1 * x[i]);
        return;
    }
    for (size_t i = 0; i < n; ++i) x[i] = activate1(x[i], a);
}

void gradient_array(const float *y, const float *x, size_t n, activation a, float *delta)
{
    if (a == ACT_LINEAR) return;
    if (needs_input(a)) {
        for (size_t i = 0; i < n; ++i) delta[i] *= grad_x(x[i], a);
        return;
    }
    for (size_t i = 0; i < n; ++i) delta[i] *= grad_y(y[i], a);
}

void gradient_from_input(const float *x, size_t n, activation a, float *delta)
{
    if (a == ACT_LINEAR) return;
    if (needs_input(a)) {
        for (size_t i = 0; i < n; ++i) delta[i] *= grad_x(x[i], a);
        return;
    }
    for (size_t i = 0; i < n; ++i) delta[i] *= grad_y(activate1(x[i], a), a);
}

int activation_is_identity(activation a) { return a == ACT_LINEAR; }

int activation_is_masked(activation a, float *g1, float *g0)
{
    float hi = 1, lo = 0;
    switch (a) {
    case ACT_RELU: case ACT_STAIR: case ACT_HARDTAN: case ACT_RELU6: break;
    case ACT_LEAKY: lo = .1f; break;
    case ACT_RELIE: lo = .01f; break;
    case ACT_RAMP: hi = (float)(1 + .1); lo = (float)(0 + .1); break;
    case ACT_LHTAN: lo = .001f; break;
    case ACT_PLSE: hi = .125f; lo = .01f; break;
    default: return 0;
    }
    if (g1) *g1 = hi;
    if (g0) *g0 = lo;
    return 1;
}

void activation_mask(const float *y, size_t n, activation a, unsigned char *bits)
{
    float g1 = 1;
    activation_is_masked(a, &g1, NULL);
    if (a == ACT_LEAKY || a == ACT_RELU || a == ACT_RELIE) {
        /* grad_y is g1 (1) exactly where y > 0 for these: the same bytes, vectorized */
        for (size_t i = 0; i < n; ++i) bits[i] = y[i] > 0;
        return;
    }
    for (size_t i = 0; i < n; ++i) bits[i] = grad_y(y[i], a) == g1;
}
