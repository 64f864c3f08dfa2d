/* Activations. The pjreddie functions keep his mix of float and double arithmetic (e.g.
 * `.1*x` is computed in double) so outputs match Debian's libdarknet bit for bit. */
#include "backend/cpu/activations.h"

#include <math.h>
#include <string.h>

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

static inline float stair_act(float x)
{
    int n = (int)floorf(x);
    if (n % 2 == 0) return (float)floor(x / 2.);
    return (float)((x - n) + floor(x / 2.));
}

static inline float hardtan_act(float x) { return x < -1 ? -1 : x > 1 ? 1 : x; }
static inline float lhtan_act(float x)
{
    if (x < 0) return (float)(.001 * x);
    if (x > 1) return (float)(.001 * (x - 1) + 1);
    return x;
}
static inline float plse_act(float x)
{
    if (x < -4) return (float)(.01 * (x + 4));
    if (x > 4) return (float)(.01 * (x - 4) + 1);
    return (float)(.125 * x + .5);
}

/* softplus with AlexeyAB's threshold for mish */
static inline float softplus(float x)
{
    if (x > 20.f) return x;
    if (x < -20.f) return expf(x);
    return log1pf(expf(x));
}

static inline float gelu_act(float x)
{
    float t = tanhf(0.7978845608f * (x + 0.044715f * x * x * x));
    return 0.5f * x * (1.f + t);
}

static inline float activate1(float x, activation a)
{
    switch (a) {
    case ACT_LOGISTIC: return (float)(1. / (1. + exp(-x)));
    case ACT_LOGGY: return (float)(2. / (1. + exp(-x)) - 1);
    case ACT_RELU: return x * (x > 0);
    case ACT_ELU: return (float)((x >= 0) * x + (x < 0) * (exp(x) - 1));
    case ACT_SELU: return (float)((x >= 0) * 1.0507 * x + (x < 0) * 1.0507 * 1.6732 * (exp(x) - 1));
    case ACT_RELIE: return x > 0 ? x : (float)(.01 * x);
    case ACT_RAMP: return (float)(x * (x > 0) + .1 * x);
    case ACT_LEAKY: return x > 0 ? x : (float)(.1 * x);
    case ACT_TANH: return (float)((exp(2 * x) - 1) / (exp(2 * x) + 1));
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

void activate_array(float *x, size_t n, activation a)
{
    if (a == ACT_LINEAR) return;
    if (a == ACT_LEAKY) { /* the hot case: keep it vectorisable */
        for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0 ? x[i] : (float)(.1 * x[i]);
        return;
    }
    for (size_t i = 0; i < n; ++i) x[i] = activate1(x[i], a);
}

/* pjreddie gradients, as functions of the output y. */
static inline float grad_y(float y, activation a)
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
    case ACT_LINEAR: return 1;
    default: return 1;
    }
}

/* AlexeyAB gradients, as functions of the input x. */
static inline float grad_x(float x, activation a)
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

static int needs_input(activation a)
{
    return a == ACT_SWISH || a == ACT_MISH || a == ACT_HARD_MISH || a == ACT_GELU;
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
    for (size_t i = 0; i < n; ++i) bits[i] = grad_y(y[i], a) == g1;
}
