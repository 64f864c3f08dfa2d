/* Streamed pairs (src/stream.h): a layer and its sole consumer run in chunks of samples.
 * The oracle is the same network run unstreamed (actnn_stream=0): for the same weights,
 * input and seed, streaming must give bit-identical outputs, cost and gradients, at
 * 2 bits (identical stochastic rounding: the noise of a sample depends on its index) and
 * at 32 bits (kept-alive inputs). Also: the plan really streams (chunk-sized buffers, a
 * smaller arena, no two live buffers overlapping), a partial last chunk works, and pairs
 * are not chosen when another layer reads the producer's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/finite_check.h"
#include "core/network.h"
#include "common/testutil.h"

#define BATCH 7

/* conv(BN, leaky) -> maxpool; conv(BN, logistic: x-hat rebuild) -> conv(BN, leaky: a
 * consumer with its own batch norm); conv(no BN, logistic: saved pre-activation) ->
 * maxpool; then a head that is not streamed. */
static const char *cfg_pairs =
    "[net]\nbatch=7\nwidth=16\nheight=16\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=logistic\n"
    "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=logistic\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

/* Layer 0's output is also read by the route: it must not be streamed. */
static const char *cfg_shared =
    "[net]\nbatch=7\nwidth=16\nheight=16\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-2\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static network *make_net(const char *fmt, const char *netkeys, int chunk)
{
    char text[2048];
    snprintf(text, sizeof(text), fmt, netkeys);
    darknet_set_seed(4321);
    network *net = tu_net_from_text(text, BATCH);
    net->stream_chunk = chunk;
    tu_fill_uniform(net->input, (size_t)BATCH * net->inputs, -1, 1, 7);
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + b % net->truths] = 1;
    return net;
}

static void compare(const char *fmt, const char *keys_plain, const char *keys_stream, int chunk,
                    int want_pairs)
{
    network *a = make_net(fmt, keys_plain, 0), *b = make_net(fmt, keys_stream, chunk);
    size_t n = tu_grad_count(a), no = (size_t)BATCH * a->outputs;
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    float *oa = malloc(no * sizeof(float)), *ob = malloc(no * sizeof(float));
    for (int it = 0; it < 3; ++it) { /* fresh rounding noise each iteration */
        float ca = tu_train_step(a, ga, oa), cb = tu_train_step(b, gb, ob);
        assert_memory_equal(oa, ob, no * sizeof(float));
        assert_memory_equal(&ca, &cb, sizeof(float));
        assert_memory_equal(ga, gb, n * sizeof(float));
        network_update(a);
        network_update(b);
    }
    int pairs = 0;
    for (int i = 0; i < b->n; ++i) {
        if (!b->plan.chunk[i]) continue;
        ++pairs;
        assert_int_equal(b->plan.chunk[i], chunk);
        assert_true(b->plan.out[i].bytes < a->plan.out[i].bytes);
    }
    assert_int_equal(pairs, want_pairs);
    for (int i = 0; i < a->n; ++i) assert_int_equal(a->plan.chunk[i], 0);
    assert_int_equal(plan_verify(&b->plan), 0);
    if (want_pairs) assert_true(b->plan.arena_bytes < a->plan.arena_bytes);
    free(ga); free(gb); free(oa); free(ob);
    free_network(a);
    free_network(b);
}

static void bits2_equal(void **state)
{
    (void)state;
    /* chunk 3 of 7: two full chunks and one of 1; pairs (0,1), (2,3), (4,5) */
    compare(cfg_pairs, "actnn=1\nactnn_stream=0", "actnn=1", 3, 3);
    compare(cfg_pairs, "actnn=1\nactnn_stream=0", "actnn=1", 1, 3);
}

static void bits32_equal(void **state)
{
    (void)state;
    compare(cfg_pairs, "", "actnn_stream=1", 2, 3);
}

static void shared_output_not_streamed(void **state)
{
    (void)state;
    /* only (1, 2)? no: 2 is a route reading two layers; nothing qualifies */
    compare(cfg_shared, "actnn=1\nactnn_stream=0", "actnn=1", 3, 0);
}

static void off_by_default_at_32_bits(void **state)
{
    (void)state;
    network *net = make_net(cfg_pairs, "", 3);
    float cost;
    char err[256];
    assert_int_equal(network_train_datum(net, &cost, err, sizeof(err)), 0);
    for (int i = 0; i < net->n; ++i) assert_int_equal(net->plan.chunk[i], 0);
    free_network(net);
}

/* The NaN watch (a hook that takes any slice) keeps streaming on; a NaN reaching a
 * streamed layer stops the forward with an error naming that layer. */
static void nan_watch_keeps_streaming(void **state)
{
    (void)state;
    network *net = make_net(cfg_pairs, "actnn=1", 3);
    finite_watch w;
    finite_watch_attach(net, &w);
    float *g = malloc(tu_grad_count(net) * sizeof(float)), *o = malloc(sizeof(float) * BATCH * net->outputs);
    tu_train_step(net, g, o);
    assert_int_equal(w.layer, -1);
    assert_int_equal(net->plan.chunk[0], 3);
    /* a NaN in the last chunk's sample: the 2-bit save of layer 0 refuses it and the error
     * names the streamed layer */
    net->input[(size_t)(BATCH - 1) * net->inputs] = 0.f / 0.f;
    assert_int_equal(network_forward(net, net->input, 1), -1);
    if (!strstr(net->err, "layer 0") || !strstr(net->err, "streamed")) fail_msg("got: %s", net->err);
    free(g);
    free(o);
    free_network(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bits2_equal),
        cmocka_unit_test(bits32_equal),
        cmocka_unit_test(shared_output_not_streamed),
        cmocka_unit_test(off_by_default_at_32_bits),
        cmocka_unit_test(nan_watch_keeps_streaming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
