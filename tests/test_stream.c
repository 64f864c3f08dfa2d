/* Streamed segments (src/memory/stream.h): a run of layers whose intermediate outputs
 * nobody outside reads runs in chunks of samples (a pair is the shortest).
 * The oracle is the same network run unstreamed (actnn_stream=0): for the same weights,
 * input and seed, streaming must give bit-identical outputs, cost and gradients, at
 * uniform 2 bits (identical stochastic rounding: the noise of a sample depends on its
 * index) and at 32 bits (kept-alive inputs). Not under actnn_auto, 2 bits' default: there a
 * streamed save splits its bits evenly by sample and the whole batch per sample, by design
 * (test_actnn_auto checks that case), so the comparisons say actnn_auto=0. Also: the plan really streams (chunk-sized buffers, a
 * smaller arena, no two live buffers overlapping), a partial last chunk works, segments
 * hold yolov4's CSP blocks (mish, a view, a shortcut, a zero-copy route, a view of a layer
 * before the segment), and no segment ends where a later layer reads a member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/finite_check.h"
#include "core/network.h"
#include "memory/budget.h"
#include "memory/cap.h"
#include "memory/memreport.h"
#include "memory/stream.h"
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

/* Layer 0's output is also read by the route: 0..3 stream as one segment (a zero-copy
 * route of two batch-norm members inside). */
static const char *cfg_shared =
    "[net]\nbatch=7\nwidth=16\nheight=16\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-2\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

/* Two CSP blocks as in yolov4 (0..11 and 12..16: views, shortcut, zero-copy routes, mish,
 * the view 13 of layer 11 before its segment). 12 has no batch norm, so 0..11 cannot grow
 * past it; route 17 holds 11 as a zero-copy slice, so 12..16 cannot take 17 in. */
static const char *cfg_csp =
    "[net]\nbatch=7\nwidth=16\nheight=16\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=mish\n"
    "[route]\nlayers=-2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=mish\n"
    "[shortcut]\nfrom=-3\nactivation=linear\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=mish\n"
    "[route]\nlayers=-1,-7\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=1\nstride=1\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,11\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

/* The network of a cfg text, seeded, with uniform input and one-hot truth. */
static network *make_net_text(const char *text, int chunk)
{
    darknet_set_seed(4321);
    network *net = tu_net_from_text(text, BATCH);
    net->stream_chunk = chunk;
    tu_fill_uniform(net->input, (size_t)BATCH * net->inputs, -1, 1, 7);
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + b % net->truths] = 1;
    return net;
}

static network *make_net(const char *fmt, const char *netkeys, int chunk)
{
    char text[2048];
    snprintf(text, sizeof(text), fmt, netkeys);
    return make_net_text(text, chunk);
}

/* A segment's member buffers all live while it runs (they do not share memory with each
 * other), so at 3 samples of 7 a deep segment of a tiny net may not pay; at 1 it must. */
static int check_arena = 1;

/* want_members: layers whose buffers are chunk-sized; want_segs: segments. */
/* `iters` training steps of a and b side by side: the same outputs, cost and gradients
 * bit for bit at every step. */
static void train_same(network *a, network *b, int iters)
{
    size_t n = tu_grad_count(a), no = (size_t)BATCH * a->outputs;
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    float *oa = malloc(no * sizeof(float)), *ob = malloc(no * sizeof(float));
    assert_true(ga && gb && oa && ob);
    for (int it = 0; it < iters; ++it) { /* fresh rounding noise each iteration */
        float ca = tu_train_step(a, ga, oa), cb = tu_train_step(b, gb, ob);
        assert_memory_equal(oa, ob, no * sizeof(float));
        assert_memory_equal(&ca, &cb, sizeof(float));
        assert_memory_equal(ga, gb, n * sizeof(float));
        network_update(a);
        network_update(b);
    }
    free(ga); free(gb); free(oa); free(ob);
}

static void compare(const char *fmt, const char *keys_plain, const char *keys_stream, int chunk,
                    int want_members, int want_segs)
{
    network *a = make_net(fmt, keys_plain, 0), *b = make_net(fmt, keys_stream, chunk);
    train_same(a, b, 3);
    int members = 0, segs = 0;
    for (int i = 0; i < b->n; ++i) {
        segs += b->plan.seg_end[i] > i;
        if (!b->plan.chunk[i]) continue;
        ++members;
        assert_int_equal(b->plan.chunk[i], chunk);
        assert_true(b->plan.out[i].bytes < a->plan.out[i].bytes || b->plan.out[i].alias);
    }
    assert_int_equal(members, want_members);
    assert_int_equal(segs, want_segs);
    for (int i = 0; i < a->n; ++i) assert_int_equal(a->plan.chunk[i], 0);
    assert_int_equal(plan_verify(&b->plan), 0);
    if (want_segs && check_arena && b->plan.arena_bytes >= a->plan.arena_bytes)
        fail_msg("arena %zu streamed, %zu not (chunk %d)", b->plan.arena_bytes, a->plan.arena_bytes, chunk);
    free_network(a);
    free_network(b);
}

/* At a production size (416 px, where chunk_for streams), the plan grows the first pair into
 * a longer segment when that lowers the arena (plan.c grow_streams: yolov3-tiny's peak sits
 * in the backward of the second pair, which writes the first pair's whole-batch exit
 * delta; actnn_stream_grow=1). Oracles: the unstreamed network (outputs, cost, gradients
 * bit for bit over 2 steps) and the plan without growth: fewer segments, a further exit,
 * and an arena at least 1/16 smaller. */
static const char *cfg_v3_head =
    "[net]\nbatch=7\nwidth=416\nheight=416\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=4\nstride=4\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static int segments(const network *net, int *first_exit)
{
    int segs = 0;
    *first_exit = -1;
    for (int i = 0; i < net->n; ++i)
        if (net->plan.seg_end[i] > i) {
            if (*first_exit < 0) *first_exit = net->plan.seg_end[i];
            ++segs;
        }
    return segs;
}

/* The last-reader table grow_streams computes once per plan build (stream.h), against a
 * brute force over every (reader, source) pair: route 2 reads 0 and 1, so 0's last reader
 * is 2, not 1. */
static void last_readers(void **state)
{
    (void)state;
    network *net = make_net(cfg_shared, "actnn_bits=2", 0);
    int *last = stream_last_readers(net);
    assert_non_null(last);
    for (int j = 0; j < net->n; ++j) {
        int want = -1;
        for (int k = net->n - 1; k >= 0 && want < 0; --k)
            for (int s = 0; s < net->layers[k].nsrc; ++s)
                if (net->layers[k].src[s] == j) want = k;
        if (last[j] != want) fail_msg("layer %d: last reader %d, brute force %d", j, last[j], want);
    }
    assert_int_equal(last[0], 2);
    free(last);
    free_network(net);
}

static void grown_at_production_size(void **state)
{
    (void)state;
    network *a = make_net(cfg_v3_head, "actnn_bits=2\nactnn_auto=0\nactnn_stream=0", 0);
    network *b = make_net(cfg_v3_head, "actnn_bits=2\nactnn_auto=0\nactnn_stream=1\nactnn_stream_grow=1", 0);
    network *c = make_net(cfg_v3_head, "actnn_bits=2\nactnn_auto=0\nactnn_stream=1\nactnn_stream_grow=0", 0);
    char err[256];
    assert_int_equal(network_prepare(c, 1, err, sizeof(err)), 0);
    train_same(a, b, 2);
    int eb, ec, sb = segments(b, &eb), sc = segments(c, &ec);
    if (!(sb >= 1 && sb < sc && eb > ec))
        fail_msg("grown plan: %d segments (first exit %d); pairs: %d (first exit %d)", sb, eb, sc, ec);
    if (b->plan.arena_bytes + c->plan.arena_bytes / 16 > c->plan.arena_bytes)
        fail_msg("grown arena %zu, pairs %zu", b->plan.arena_bytes, c->plan.arena_bytes);
    assert_int_equal(plan_verify(&b->plan), 0);
    free_network(a);
    free_network(b);
    free_network(c);
}

static void bits2_equal(void **state)
{
    (void)state;
    /* chunk 3 of 7: two full chunks and one of 1; pairs (0,1), (2,3), (4,5): each exit is
     * at most a quarter of its producer, so no segment grows longer */
    compare(cfg_pairs, "actnn=1\nactnn_auto=0\nactnn_stream=0", "actnn=1\nactnn_auto=0\nactnn_stream=1", 3, 3, 3);
    compare(cfg_pairs, "actnn=1\nactnn_auto=0\nactnn_stream=0", "actnn=1\nactnn_auto=0\nactnn_stream=1", 1, 3, 3);
}

static void bits32_equal(void **state)
{
    (void)state;
    /* at 32 bits a member may not keep a chunk alive: pairs (0,1), (2,3), (4,5) */
    compare(cfg_pairs, "", "actnn_stream=1", 2, 3, 3);
}

static void route_inside_segment(void **state)
{
    (void)state;
    compare(cfg_shared, "actnn=1\nactnn_auto=0\nactnn_stream=0", "actnn=1\nactnn_auto=0\nactnn_stream=1", 3, 3, 1);
}

/* 0..11 (members 0..10, the view 3 aliasing member 1) and 12..16 (the view 13 of layer
 * 11 is not chunked): 11 + 3 members. */
static void csp_blocks_equal(void **state)
{
    (void)state;
    compare(cfg_csp, "actnn=1\nactnn_auto=0\nactnn_stream=0", "actnn=1\nactnn_auto=0\nactnn_stream=1", 1, 14, 2);
    check_arena = 0;
    compare(cfg_csp, "actnn=1\nactnn_auto=0\nactnn_stream=0", "actnn=1\nactnn_auto=0\nactnn_stream=1", 3, 14, 2);
    check_arena = 1;
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

/* actnn_stream unset: streamed segments cost recomputation, so they are on only when a
 * cap needs them (budget.h budget_resolve_streaming): off with no cap, on under a budget
 * that the plan without them exceeds, off under one it fits. */
static int streams(network *net)
{
    float cost;
    char err[256];
    assert_int_equal(network_train_datum(net, &cost, err, sizeof(err)), 0);
    int any = 0;
    for (int i = 0; i < net->n; ++i) any |= net->plan.chunk[i] != 0;
    return any;
}

static void auto_only_under_a_cap(void **state)
{
    (void)state;
    if (mem_resident_cap(NULL, 0)) skip(); /* this process runs under a cgroup cap */
    /* cfg_pairs at 128x128, so the plan is a few MiB (actnn_budget_mb counts MiB) */
    char text[2048], big[2048];
    snprintf(text, sizeof text, cfg_pairs, "actnn=1\nactnn_bits=2");
    const char *at16 = strstr(text, "width=16\nheight=16");
    assert_non_null(at16);
    snprintf(big, sizeof big, "%.*swidth=128\nheight=128%s", (int)(at16 - text), text,
             at16 + strlen("width=16\nheight=16"));
    network *net = make_net_text(big, 3);
    assert_int_equal(streams(net), 0);
    mem_summary s;
    char err[256];
    assert_int_equal(memreport_plan(net, &s, NULL, err, sizeof(err)), 0);
    size_t total = memreport_total(&s);
    net->actnn_budget_mb = (int)(total >> 20); /* just below the unstreamed plan */
    assert_true(((size_t)net->actnn_budget_mb << 20) < total);
    budget_resolve_streaming(net);
    assert_int_equal(net->stream_auto_on, 1);
    if (!strstr(net->stream_why, "on:")) fail_msg("why: %s", net->stream_why);
    plan_free(&net->plan);
    assert_int_equal(streams(net), 1);
    net->actnn_budget_mb = (int)(total >> 20) + 2;
    budget_resolve_streaming(net);
    assert_int_equal(net->stream_auto_on, 0);
    plan_free(&net->plan);
    assert_int_equal(streams(net), 0);
    free_network(net);
}

/* The NaN watch (a hook that takes any slice) keeps streaming on; a NaN reaching a
 * streamed layer stops the forward with an error naming that layer. */
static void nan_watch_keeps_streaming(void **state)
{
    (void)state;
    network *net = make_net(cfg_pairs, "actnn=1\nactnn_auto=0\nactnn_stream=1", 3);
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
        cmocka_unit_test(route_inside_segment), cmocka_unit_test(csp_blocks_equal),
        cmocka_unit_test(off_by_default_at_32_bits),
        cmocka_unit_test(nan_watch_keeps_streaming),
        cmocka_unit_test(auto_only_under_a_cap),
        cmocka_unit_test(grown_at_production_size),
        cmocka_unit_test(last_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
