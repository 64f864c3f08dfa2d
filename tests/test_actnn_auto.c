/* actnn_auto's per-layer mixed precision (src/saved_auto.c):
 *  - the bits found average the budget over the saved values (weighted by their count),
 *    every bit width lies in 1..8, a batch-norm x-hat takes its conv's bits, and the
 *    next forward stores no more bytes than uniform bits would;
 *  - the gradient statistic steers the bits: a layer whose weight gradient is far more
 *    sensitive gets the maximum, one with no sensitivity the minimum;
 *  - actnn_auto_layers=0 keeps per-sample allocation only (no per-layer averages);
 *  - streamed pairs and zero-copy routes stay on and their saves join the allocation.
 * Unbiasedness with mixed bits is checked in test_actnn_train.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/network.h"
#include "memory/saved.h"
#include "memory/saved_internal.h"
#include "common/testutil.h"

#define BATCH 4

/* Layers 0 and 2: conv + batch norm (input and x-hat saved), 3: conv without batch norm,
 * 4: connected; 1 is a maxpool (codes, not part of the allocation). */
static const char *cfg_mix =
    "[net]\nbatch=4\nwidth=16\nheight=16\nchannels=3\nactnn=1\nactnn_bits=2\nactnn_group=32\n"
    /* x-hat saved (not rebuilt, convolutional.c) so that it takes part in the allocation */
    "actnn_xhat_rebuild=0\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=8\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

/* The cfg with keys in [net], fixed weights, input and truth; chunk > 0 forces streamed
 * pairs of that many samples. */
static network *make_from(const char *fmt, const char *keys, int chunk)
{
    char text[2048];
    snprintf(text, sizeof(text), fmt, keys);
    darknet_set_seed(77);
    network *net = tu_net_from_text(text, BATCH);
    net->stream_chunk = chunk;
    tu_fill_uniform(net->input, (size_t)BATCH * net->inputs, -1, 1, 5);
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + (b + 1) % net->truths] = 1;
    return net;
}

static network *make_net(const char *keys) { return make_from(cfg_mix, keys, 0); }

/* A forward of au (after an allocation) stores at most the bytes of fx's uniform bits
 * plus the payload's rounding to whole words per sample (well under 1/32 here). */
static void check_bytes(network *fx, network *au)
{
    saved_stats sf, sa;
    assert_int_equal(network_forward(fx, fx->input, 1), 0);
    assert_int_equal(network_forward(au, au->input, 1), 0);
    saved_get_stats(fx->store, &sf);
    saved_get_stats(au->store, &sa);
    print_message("saved bytes: uniform %zu, per-layer %zu\n", sf.cur_bytes, sa.cur_bytes);
    assert_true(sa.cur_bytes <= sf.cur_bytes + sf.cur_bytes / 32);
    assert_int_equal(network_backward(fx), 0);
    assert_int_equal(network_backward(au), 0);
}

/* (layer, slot) pairs: slot 0 a conv/connected input, slot 1 its batch-norm x-hat. */
typedef struct { int layer, slot; } slot_ref;
static const slot_ref items[] = {{0, 0}, {0, 1}, {2, 0}, {2, 1}, {3, 0}, {4, 0}};
enum { NITEMS = sizeof(items) / sizeof(items[0]) };

/* Weighted (by values per sample) average bits over the slots; checks each is in 1..8. */
static double average_bits_of(const network *net, const slot_ref *it, int n)
{
    double sum = 0, elems = 0;
    for (int k = 0; k < n; ++k) {
        const layer *l = &net->layers[it[k].layer];
        double b = saved_auto_bits(net->store, it[k].layer, it[k].slot);
        double d = it[k].slot == 0 ? l->inputs : l->outputs;
        assert_true(b >= 1.0 && b <= 8.0);
        sum += b * d;
        elems += d;
    }
    return sum / elems;
}

static double average_bits(const network *net) { return average_bits_of(net, items, NITEMS); }

static void budget_and_ties(void **state)
{
    (void)state;
    network *fx = make_net("");
    network *au = make_net("actnn_auto=1\nactnn_auto_interval=1");
    float *g = malloc(tu_grad_count(au) * sizeof(float));
    tu_train_step(au, g, NULL);
    double avg = average_bits(au);
    print_message("per-layer bits: %.2f %.2f %.2f %.2f, average %.4f\n",
                  saved_auto_bits(au->store, 0, 0), saved_auto_bits(au->store, 2, 0),
                  saved_auto_bits(au->store, 3, 0), saved_auto_bits(au->store, 4, 0), avg);
    assert_true(avg <= 2.0 + 1e-9);
    assert_true(avg > 1.75); /* the greedy stops within one step of the budget */
    /* not every layer got the same: the allocation did something */
    assert_true(saved_auto_bits(au->store, 0, 0) != saved_auto_bits(au->store, 4, 0) ||
                saved_auto_bits(au->store, 2, 0) != saved_auto_bits(au->store, 3, 0));
    for (int i = 0; i <= 2; i += 2)
        assert_true(saved_auto_bits(au->store, i, 1) == saved_auto_bits(au->store, i, 0));
    assert_true(saved_auto_bits(au->store, 3, 1) == 0); /* no batch norm, nothing to tie */
    assert_true(saved_auto_bits(au->store, 1, 0) == 0); /* maxpool codes are not quantized */
    check_bytes(fx, au); /* the next forward stores the mixed bits */
    free(g);
    free_network(fx);
    free_network(au);
}

/* One layer made far more sensitive takes the maximum; a layer with no sensitivity (and
 * its tied x-hat) the minimum; the budget still holds. */
static void sensitivity_steers_bits(void **state)
{
    (void)state;
    network *au = make_net("actnn_auto=1\nactnn_auto_interval=1000");
    float *g = malloc(tu_grad_count(au) * sizeof(float));
    tu_train_step(au, g, NULL);
    /* layer 4's 512 values at 8 bits leave the other 5376 per sample >= 1 bit within the
     * budget of 2 x 5888, so the maximum is feasible */
    double before = saved_auto_bits(au->store, 4, 0);
    sv_auto *a4 = &au->store->st[4].a[0], *a0 = &au->store->st[0].a[0];
    assert_true(a4->sens > 0 && a0->sens > 0);
    a4->sens *= 1e12;
    assert_int_equal(saved_auto_allocate(au->store, BATCH), 0);
    print_message("connected input: %.2f bits, %.2f with 1e12 x the sensitivity\n", before,
                  saved_auto_bits(au->store, 4, 0));
    assert_true(saved_auto_bits(au->store, 4, 0) == 8.0);
    assert_true(average_bits(au) <= 2.0 + 1e-9);
    a0->sens = 0;
    assert_int_equal(saved_auto_allocate(au->store, BATCH), 0);
    assert_true(saved_auto_bits(au->store, 0, 0) == 1.0);
    assert_true(saved_auto_bits(au->store, 0, 1) == 1.0);
    assert_true(average_bits(au) <= 2.0 + 1e-9);
    free(g);
    free_network(au);
}

/* actnn_auto_layers=0: per-sample bits only, the layers keep the configured average. */
static void layers_off(void **state)
{
    (void)state;
    network *au = make_net("actnn_auto=1\nactnn_auto_interval=1\nactnn_auto_layers=0");
    float *g = malloc(tu_grad_count(au) * sizeof(float));
    tu_train_step(au, g, NULL);
    tu_train_step(au, g, NULL);
    for (int k = 0; k < NITEMS; ++k) assert_true(saved_auto_bits(au->store, items[k].layer, items[k].slot) == 0);
    free(g);
    free_network(au);
}

/* A streamed pair (conv 0 -> maxpool 1, two samples a chunk) and a zero-copy concat
 * (convs 2 and 3 write into route 4; conv 3 reads conv 2's slice with a stride): their
 * saves take part in the allocation like whole-batch ones (costs gathered chunk by
 * chunk, the gradient statistic summed over chunks), within the budget and the bytes. */
static const char *cfg_paths =
    "[net]\nbatch=4\nwidth=16\nheight=16\nchannels=3\nactnn=1\nactnn_bits=2\nactnn_group=32\n"
    /* x-hat saved (not rebuilt, convolutional.c) so that it takes part in the allocation */
    "actnn_xhat_rebuild=0\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static void streamed_and_strided(void **state)
{
    (void)state;
    static const slot_ref all[] = {{0, 0}, {0, 1}, {2, 0}, {2, 1}, {3, 0}, {3, 1}, {5, 0}, {5, 1}, {6, 0}};
    enum { N = sizeof(all) / sizeof(all[0]) };
    network *fx = make_from(cfg_paths, "actnn_stream=1", 2);
    network *au = make_from(cfg_paths, "actnn_stream=1\nactnn_auto=1\nactnn_auto_interval=1", 2);
    network *pl = make_from(cfg_paths, "actnn_stream=0\nactnn_concat=0\nactnn_auto=1\nactnn_auto_interval=1", 2);
    float *g = malloc(tu_grad_count(au) * sizeof(float));
    tu_train_step(au, g, NULL);
    tu_train_step(pl, g, NULL);
    assert_true(au->plan.chunk[0] == 2);  /* the pair is streamed */
    assert_true(au->plan.parent[2] == 4); /* conv 2 writes into the route */
    assert_true(pl->plan.chunk[0] == 0 && pl->plan.parent[2] < 0);
    double a = average_bits_of(au, all, N), b = average_bits_of(pl, all, N);
    print_message("average bits: streamed/strided %.4f, plain %.4f; layer 0 input %.2f / %.2f\n", a, b,
                  saved_auto_bits(au->store, 0, 0), saved_auto_bits(pl->store, 0, 0));
    assert_true(a <= 2.0 + 1e-9 && a > 1.75);
    assert_true(saved_auto_bits(au->store, 5, 0) != saved_auto_bits(au->store, 6, 0));
    check_bytes(fx, au);
    free(g);
    free_network(fx);
    free_network(au);
    free_network(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budget_and_ties),
        cmocka_unit_test(sensitivity_steers_bits),
        cmocka_unit_test(layers_off),
        cmocka_unit_test(streamed_and_strided),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
