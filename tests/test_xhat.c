/* Conv batch-norm x-hat rebuilt in backward from the saved input instead of saved
 * (src/layers/convolutional.c, actnn_xhat_rebuild):
 *  - exact: at 32 bits (input kept alive) forcing the rebuild gives the same outputs, cost
 *    and gradients bit for bit as saving x-hat (the oracle is the unoptimized path), whole
 *    batches and streamed pairs alike, over iterations with updates;
 *  - what is saved: at 2 bits the default rebuilds the cheap layers (no x-hat slot, fewer
 *    bytes), keeps x-hat where the activation needs it (logistic);
 *  - unbiased: at 2 bits the mean gradient over R independent roundings approaches the
 *    fp32 gradient (relative error of the mean < single-run error / 2.5; an unbiased
 *    estimate shrinks by sqrt(R) = 6.9, a biased one stalls at its bias). */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"
#include "memory/memreport.h"

#define BATCH 6
#define R 48

/* conv(BN, leaky, k=27) -> maxpool; conv(BN, linear, k=36); conv(BN, logistic: needs
 * x-hat for its activation, never rebuilt); head. */
static const char *cfg =
    "[net]\nbatch=6\nwidth=16\nheight=16\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=linear\n"
    "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=3\nstride=2\npad=1\nactivation=logistic\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static network *make_net(const char *keys, int chunk)
{
    char text[2048];
    snprintf(text, sizeof(text), cfg, keys);
    darknet_set_seed(99);
    network *net = tu_net_from_text(text, BATCH);
    net->stream_chunk = chunk;
    tu_fill_uniform(net->input, (size_t)BATCH * net->inputs, -1, 1, 5);
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + b % net->truths] = 1;
    return net;
}

static void same_training(const char *keys_a, const char *keys_b, int chunk)
{
    network *a = make_net(keys_a, 0), *b = make_net(keys_b, chunk);
    size_t n = tu_grad_count(a), no = (size_t)BATCH * a->outputs;
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    float *oa = malloc(no * sizeof(float)), *ob = malloc(no * sizeof(float));
    for (int it = 0; it < 3; ++it) {
        float ca = tu_train_step(a, ga, oa), cb = tu_train_step(b, gb, ob);
        assert_memory_equal(oa, ob, no * sizeof(float));
        assert_memory_equal(&ca, &cb, sizeof(float));
        assert_memory_equal(ga, gb, n * sizeof(float));
        network_update(a);
        network_update(b);
    }
    free(ga); free(gb); free(oa); free(ob);
    free_network(a);
    free_network(b);
}

static void exact_at_32_bits(void **state)
{
    (void)state;
    same_training("actnn_xhat_rebuild=0", "actnn_xhat_rebuild=1", 0);
    /* streamed pairs at 32 bits, chunks of 4 then 2 samples */
    same_training("actnn_xhat_rebuild=0", "actnn_stream=1\nactnn_xhat_rebuild=1", 4);
}

static int slot_kind(network *net, int layer, int slot)
{
    char err[256];
    saved_desc *d = memreport_describe(net, 0, err, sizeof(err));
    assert_non_null(d);
    int k = d[layer * SV_SLOTS + slot].kind;
    free(d);
    return k;
}

static void saves_less_at_2_bits(void **state)
{
    (void)state;
    network *a = make_net("actnn=1\nactnn_xhat_rebuild=0", 0), *b = make_net("actnn=1\nactnn_xhat_rebuild=-1", 0);
    assert_int_equal(slot_kind(a, 0, 1), SAVED_TENSOR);
    assert_int_equal(slot_kind(b, 0, 1), SAVED_NONE);  /* leaky, k = 27: rebuilt */
    assert_int_equal(slot_kind(b, 2, 1), SAVED_NONE);  /* linear, k = 36: rebuilt */
    assert_int_equal(slot_kind(b, 3, 1), SAVED_TENSOR); /* logistic: needs x-hat */
    char err[256];
    mem_summary sa, sb;
    assert_int_equal(memreport_plan(a, &sa, NULL, err, sizeof(err)), 0);
    assert_int_equal(memreport_plan(b, &sb, NULL, err, sizeof(err)), 0);
    assert_true(sb.saved < sa.saved);
    free_network(a);
    free_network(b);
}

static double rel_err(const double *m, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
        num += (m[i] - ref[i]) * (m[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void unbiased_at_2_bits(void **state)
{
    (void)state;
    network *f = make_net("", 0), *q = make_net("actnn=1\nactnn_bits=2", 0);
    size_t n = tu_grad_count(f);
    float *g32 = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    double *mean = calloc(n, sizeof(double)), *one = calloc(n, sizeof(double));
    tu_train_step(f, g32, NULL);
    double e1 = 0;
    for (int r = 0; r < R; ++r) { /* each step draws fresh rounding noise */
        tu_train_step(q, g, NULL);
        for (size_t i = 0; i < n; ++i) {
            mean[i] += g[i] / (double)R;
            one[i] = g[i];
        }
        e1 += rel_err(one, g32, n) / R;
    }
    double eR = rel_err(mean, g32, n);
    print_message("2 bits, x-hat rebuilt: single-run relative error %.4f, mean of %d %.4f\n", e1, R, eR);
    assert_true(e1 > 0);
    assert_true(eR < e1 / 2.5);
    free(g32); free(g); free(mean); free(one);
    free_network(f);
    free_network(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_at_32_bits),
        cmocka_unit_test(saves_less_at_2_bits),
        cmocka_unit_test(unbiased_at_2_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
