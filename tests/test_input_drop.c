/* The input batch dropped after the training forward (network.h input_done,
 * network_input_dead; the CLI trainers hand it to loader_discard):
 *  - at 2 bits the first conv saves a compressed copy, so the input is dead after the
 *    forward: a hook that overwrites it with NaN right then changes nothing: costs and
 *    weights after three training steps equal, bit for bit, those of a run without the
 *    hook (the oracle), whole batches and streamed pairs alike; a streamed first layer
 *    hands the input back chunk by chunk in its last sweep (each finished chunk is
 *    poisoned at once, so a later read of it would show);
 *  - at 32 bits the conv keeps the input itself for its weight gradient: the input is not
 *    dead and the hook is never called. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"

#define BATCH 5

static const char *cfg =
    "[net]\nbatch=5\nwidth=16\nheight=16\nchannels=3\nlearning_rate=0.01\n%s\n"
    "[convolutional]\n%s\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

typedef struct {
    float *x;
    size_t per;   /* floats per sample */
    int calls;    /* calls with the whole batch */
    int partial;  /* calls for a part of it (a streamed reader's finished chunks) */
    int last;     /* upto of the previous call in this forward */
} poison;

/* Overwrites samples [0, upto) with NaN: whatever reads them later goes wrong. */
static void poison_input(void *ud, int upto)
{
    poison *p = ud;
    assert_true(upto > 0 && upto <= BATCH);
    if (p->last == BATCH) p->last = 0; /* a new forward */
    assert_true(upto > p->last);       /* growing within a forward */
    for (size_t i = 0; i < (size_t)upto * p->per; ++i) p->x[i] = NAN;
    p->calls += upto == BATCH;
    p->partial += upto < BATCH;
    p->last = upto;
}

static network *make_net(const char *keys, const char *first, int chunk)
{
    char text[2048];
    snprintf(text, sizeof(text), cfg, keys, first);
    darknet_set_seed(31);
    network *net = tu_net_from_text(text, BATCH);
    net->stream_chunk = chunk;
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + b % net->truths] = 1;
    return net;
}

/* Three steps of a (no hook) and b (poisoning hook); returns the hook's calls with the
 * whole batch, *partial those with a part of it. */
static int run_pair(const char *keys, const char *first, int chunk, int *partial)
{
    network *a = make_net(keys, first, 0), *b = make_net(keys, first, chunk);
    size_t n = (size_t)BATCH * a->inputs;
    float *xa = malloc(n * sizeof(float)), *xb = malloc(n * sizeof(float));
    poison p = {xb, a->inputs, 0, 0, 0};
    b->input_done = poison_input;
    b->input_done_ud = &p;
    char err[256];
    for (int it = 0; it < 3; ++it) {
        tu_fill_uniform(xa, n, -1, 1, 40 + it);
        memcpy(xb, xa, n * sizeof(float));
        float ca, cb;
        assert_int_equal(network_train_batch(a, xa, &ca, err, sizeof(err)), 0);
        assert_int_equal(network_train_batch(b, xb, &cb, err, sizeof(err)), 0);
        assert_memory_equal(&ca, &cb, sizeof(float));
    }
    for (int i = 0; i < a->n; ++i)
        for (int k = 0; k < a->layers[i].nparams; ++k)
            assert_memory_equal(a->layers[i].params[k].w, b->layers[i].params[k].w,
                                a->layers[i].params[k].n * sizeof(float));
    assert_int_equal(network_input_dead(b), p.calls > 0);
    if (partial) *partial = p.partial;
    free(xa);
    free(xb);
    free_network(a);
    free_network(b);
    return p.calls;
}

static void dead_at_2_bits(void **state)
{
    (void)state;
    int partial = -1;
    assert_int_equal(run_pair("actnn=1\nactnn_bits=2", "", 0, &partial), 3);
    assert_int_equal(partial, 0);
    /* streamed in chunks of 2 of 5: samples 0-1 and 0-3 go in the last sweep, each
     * iteration, before the whole batch after the segment */
    /* uniform bits: under actnn_auto (2 bits' default) a streamed save splits its bits
     * evenly by sample, the whole-batch oracle per sample, so their bytes differ by design */
    assert_int_equal(run_pair("actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_stream=1", "", 2, &partial), 3);
    assert_int_equal(partial, 6);
}

static void alive_at_32_bits(void **state)
{
    (void)state;
    assert_int_equal(run_pair("", "", 0, NULL), 0);
    /* the first layer alone at 32 bits keeps it too */
    assert_int_equal(run_pair("actnn=1\nactnn_bits=2", "actnn_bits=32", 0, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dead_at_2_bits),
        cmocka_unit_test(alive_at_32_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
