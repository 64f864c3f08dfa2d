/* mirror_host.cu: runs the GPU's per-value code on the CPU (its helpers are __host__
 * __device__) against the C code, value for value: the activations of
 * src/backend/cuda/activations.cu against activations.c, and the batch-norm formulas of
 * src/backend/math/bn_math.h against bn_ops.c. With the host's libm on both sides the results
 * must be bit-identical, so any difference is a transcription error. Needs no GPU: built
 * by `make gpu-tests`, run by scripts/gpu_check.sh and on any build machine. */
#include <stdio.h>
#include <string.h>

#include "backend/cuda/activations.cu"
#include "backend/math/bn_math.h"

extern "C" {
#include "backend/cpu/bn_ops.h"
}

/* activations.cu's launch wrappers report through this; nothing here launches kernels. */
extern "C" int dn_cuda_report(const char *what, const char *reason, const char *file, int line)
{
    fprintf(stderr, "%s: %s (%s:%d)\n", what, reason, file, line);
    return -1;
}

static float value(int i)
{
    /* -10 .. 10 in steps that hit integers, halves and the thresholds of every activation */
    return (float)(i - 4000) / 400.0f;
}

/* bn_forward_infer, the rolling update and bn_backward_delta against bn_math.h. */
static int check_bn(void)
{
    enum { C = 3, S = 700, B = 2 };
    static float x[B * C * S], y[B * C * S], d[B * C * S];
    float scales[C] = {0.7f, 1.3f, -0.4f}, biases[C] = {0}, rmean[C] = {0.1f, -2.0f, 5.0f};
    float rvar[C] = {0.5f, 3.0f, 1e-4f}, sum_d[C] = {3.5f, -1.25f, 0.01f};
    float sum_dx[C] = {-0.75f, 2.5f, 100.0f};
    bn_state b;
    if (bn_alloc(&b, C)) return 1;
    b.scales = scales; b.biases = biases; b.rolling_mean = rmean; b.rolling_variance = rvar;
    for (int f = 0; f < C; ++f) {
        b.variance[f] = rvar[f];
        b.sum_d[f] = sum_d[f];
        b.sum_dx[f] = sum_dx[f];
    }
    for (int i = 0; i < B * C * S; ++i) x[i] = value(i % 8001) * (1 + i % 3);
    int e_norm = 0, e_delta = 0, e_roll = 0;
    memcpy(y, x, sizeof y);
    bn_forward_infer(&b, y, B, S);
    memcpy(d, x, sizeof d);
    for (int j = 0; j < B; ++j) bn_backward_delta(&b, d + j * C * S, y + j * C * S, B, S);
    for (int i = 0; i < B * C * S; ++i) {
        int f = (i / S) % C;
        float g = dn_bn_norm1(x[i], rmean[f], rvar[f]);
        e_norm += memcmp(&g, &y[i], sizeof g) != 0;
        float h = dn_bn_delta1(x[i], y[i], (double)B * S, rvar[f], scales[f], sum_d[f], sum_dx[f]);
        e_delta += memcmp(&h, &d[i], sizeof h) != 0;
    }
    /* the rolling update, as bn_forward_train writes it */
    for (int f = 0; f < C; ++f) {
        float r = .99f * rmean[f] + .01f * sum_d[f], g = dn_bn_roll(rmean[f], sum_d[f]);
        e_roll += memcmp(&r, &g, sizeof r) != 0;
    }
    b.scales = b.biases = b.rolling_mean = b.rolling_variance = NULL;
    bn_free(&b);
    int bad = e_norm || e_delta || e_roll;
    printf("%-4s batchnorm  normalise %d  backward delta %d  rolling %d mismatches\n",
           bad ? "FAIL" : "PASS", e_norm, e_delta, e_roll);
    return bad;
}

/* The statistics' terms (bn_math.h dn_bn_stats_part, k_bn_stats_add's per-thread code)
 * with one thread walk the values in bn_stats_add's order: its double sums bit for bit. */
static int check_bn_stats(void)
{
    enum { C = 3, S = 300, B = 2 };
    static float x[B * C * S];
    for (int i = 0; i < B * C * S; ++i) x[i] = value((i * 37) % 8001) * (1 + i % 3);
    bn_state b;
    if (bn_alloc(&b, C)) return 1;
    bn_stats_begin(&b);
    bn_stats_add(&b, x, B, S);
    int e = 0;
    for (int f = 0; f < C; ++f) {
        double s = 0, q = 0;
        dn_bn_stats_part(x, B, C, S, f, 0, 1, &s, &q);
        e += memcmp(&s, &b.acc[2 * f], sizeof s) != 0 || memcmp(&q, &b.acc[2 * f + 1], sizeof q) != 0;
    }
    bn_free(&b);
    printf("%-4s batchnorm  statistics sums %d mismatches\n", e ? "FAIL" : "PASS", e);
    return e != 0;
}

int main(void)
{
    enum { n = 8001 };
    static float x[n], y[n], d[n], d2[n];
    static uint8_t bits[n];
    int bad = 0;
    for (int i = 0; i < n; ++i) x[i] = value(i);
    for (int a = 0; a < ACT_COUNT; ++a) {
        activation act = (activation)a;
        int e_act = 0, e_grad = 0, e_in = 0, e_mask = 0;
        memcpy(y, x, sizeof y);
        activate_array(y, n, act);
        float g1 = mask_g1(act);
        if (act != ACT_LINEAR) activation_mask(y, n, act, bits);
        for (int i = 0; i < n; ++i) {
            float gy = activate1(x[i], act);
            e_act += memcmp(&gy, &y[i], sizeof gy) != 0;
            d[i] = d2[i] = 0.5f;
        }
        gradient_array(y, x, n, act, d);
        for (int i = 0; i < n && act != ACT_LINEAR; ++i) {
            float g = d2[i] * (needs_input(act) ? grad_x(x[i], act) : grad_y(y[i], act));
            e_grad += memcmp(&g, &d[i], sizeof g) != 0;
        }
        for (int i = 0; i < n; ++i) d[i] = 0.5f;
        gradient_from_input(x, n, act, d);
        for (int i = 0; i < n && act != ACT_LINEAR; ++i) {
            float g = d2[i] * (needs_input(act) ? grad_x(x[i], act) : grad_y(activate1(x[i], act), act));
            e_in += memcmp(&g, &d[i], sizeof g) != 0;
        }
        if (activation_is_masked(act, NULL, NULL))
            for (int i = 0; i < n; ++i) e_mask += (uint8_t)(grad_y(y[i], act) == g1) != bits[i];
        int ok = !e_act && !e_grad && !e_in && !e_mask;
        bad += !ok;
        printf("%-4s %-10s activate %d  gradient %d  from_input %d  mask %d mismatches\n",
               ok ? "PASS" : "FAIL", activation_names[a], e_act, e_grad, e_in, e_mask);
    }
    bad += check_bn();
    bad += check_bn_stats();
    printf("%s: GPU per-value code %s the C code on the host\n", bad ? "FAIL" : "PASS",
           bad ? "differs from" : "matches");
    return bad != 0;
}
