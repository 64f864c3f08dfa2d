/* The memory plan (src/plan.h) over random layer graphs:
 *  - brute force: no two buffers whose live intervals intersect share a byte;
 *  - every read is covered by a lifetime: route/shortcut sources live until their last
 *    consumer's forward, deltas from their first writer's backward to their own backward,
 *    exact (32-bit) saves keep the producer's output until the consumer's backward;
 *  - end to end: a training step computes the same outputs, deltas and gradients with the
 *    shared arena as with every buffer in its own memory (a sharing bug corrupts values);
 *  - plan_verify accepts real plans and rejects a corrupted one. */
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
#include "memory/plan.h"
#include "core/rng.h"

static int rnd(rng_t *g, int n) { int v = (int)rng_uniform(g, 0, (float)n); return v < n ? v : n - 1; }

/* A random cfg of 3..16 layers on a 4x4 grid (all layers keep 4x4 so any route is legal). */
static void random_cfg(uint64_t seed, int exact_only, char *buf, size_t cap)
{
    rng_t g;
    rng_seed(&g, seed, 9);
    int n = 3 + rnd(&g, 14), k = 0;
    k += snprintf(buf + k, cap - k, "[net]\nbatch=%d\nwidth=4\nheight=4\nchannels=%d\n", 1 + rnd(&g, 3),
                  1 + rnd(&g, 3));
    for (int i = 0; i < n; ++i) {
        int kind = i == 0 ? 0 : rnd(&g, 7);
        int bits = exact_only ? 32 : (int[]){2, 4, 8, 32, 32}[rnd(&g, 5)];
        switch (kind) {
        case 0: case 1:
            k += snprintf(buf + k, cap - k, "[convolutional]\nfilters=%d\nsize=%d\npad=1\nactivation=%s\n"
                          "batch_normalize=%d\n", 1 + rnd(&g, 4), 1 + 2 * rnd(&g, 2),
                          rnd(&g, 2) ? "leaky" : "logistic", rnd(&g, 2));
            break;
        case 2: k += snprintf(buf + k, cap - k, "[maxpool]\nsize=2\nstride=1\n"); break;
        case 3: {
            int a = rnd(&g, i), b = rnd(&g, i);
            k += snprintf(buf + k, cap - k, "[route]\nlayers=%d%s", -1 - a, rnd(&g, 2) ? "" : ",");
            if (buf[k - 1] == ',') k += snprintf(buf + k, cap - k, "%d", b);
            k += snprintf(buf + k, cap - k, "\n");
            break;
        }
        case 4: k += snprintf(buf + k, cap - k, "[shortcut]\nfrom=%d\nactivation=%s\n", rnd(&g, i),
                              rnd(&g, 2) ? "linear" : "leaky"); break;
        case 5: k += snprintf(buf + k, cap - k, "[activation]\nactivation=mish\n"); break;
        default:
            k += snprintf(buf + k, cap - k, "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n%s",
                          !exact_only && rnd(&g, 6) == 0 ? "stopbackward=1\n" : "");
        }
        k += snprintf(buf + k, cap - k, "actnn_bits=%d\n", bits);
    }
    snprintf(buf + k, cap - k, "[cost]\ntype=sse\n");
}

static const mem_buf *buf_of(const mem_plan *p, int a) { return a < p->n ? &p->out[a] : &p->delta[a - p->n]; }

static int live_at(const mem_buf *b, int step) { return b->bytes && b->start <= step && step <= b->end; }

/* Pairwise over all buffers, independent of plan_verify. */
static void check_no_overlap(const mem_plan *p, const char *cfg)
{
    for (int a = 0; a < 2 * p->n; ++a)
        for (int b = a + 1; b < 2 * p->n; ++b) {
            const mem_buf *x = buf_of(p, a), *y = buf_of(p, b);
            /* a zero-copy slice lies inside its route's buffer on purpose (concat.h) */
            if (!x->bytes || !y->bytes || x->alias || y->alias) continue;
            int time = x->start <= y->end && y->start <= x->end;
            int space = x->off < y->off + y->bytes && y->off < x->off + x->bytes;
            if (time && space) fail_msg("buffers %d and %d share bytes while both alive\n%s", a, b, cfg);
        }
    for (int a = 0; a < 2 * p->n; ++a) {
        const mem_buf *x = buf_of(p, a);
        if (x->bytes && x->off + x->bytes > p->arena_bytes) fail_msg("buffer %d past the arena", a);
    }
    assert_true(p->arena_bytes <= p->total_bytes);
}

static void check_lifetimes(const network *net, const mem_plan *p, const char *cfg)
{
    for (int k = 0; k < net->n; ++k) {
        const layer *l = &net->layers[k];
        assert_true(live_at(&p->out[k], k));
        int bw = plan_bwd_step(p, k), runs_bwd = p->train && k > p->stop && !l->onlyforward;
        if (runs_bwd && !live_at(&p->delta[k], bw)) fail_msg("delta %d dead at its backward\n%s", k, cfg);
        if (runs_bwd && l->loss && !live_at(&p->delta[k], k))
            fail_msg("loss layer %d's delta dead at its forward\n%s", k, cfg);
        for (int s = 0; s < l->nsrc; ++s) {
            int j = l->src[s];
            if (j < 0) continue;
            if (!live_at(&p->out[j], k)) fail_msg("layer %d reads dead output %d\n%s", k, j, cfg);
            if (runs_bwd && j > p->stop && !live_at(&p->delta[j], bw))
                fail_msg("layer %d's backward writes dead delta %d\n%s", k, j, cfg);
            if (runs_bwd && s == 0 && l->keeps_input && l->bits >= 32 && !live_at(&p->out[j], bw))
                fail_msg("layer %d keeps input %d but it dies before its backward\n%s", k, j, cfg);
        }
    }
    int o = net->out_index;
    assert_true(live_at(&p->out[o], 2 * net->n)); /* read after the pass */
}

static void random_graphs(void **st)
{
    (void)st;
    static char cfg[8192];
    int trained = 0;
    for (uint64_t seed = 1; seed <= 300; ++seed) {
        random_cfg(seed, 0, cfg, sizeof(cfg));
        network *net = tu_net_from_text(cfg, 0);
        for (int train = 0; train < 2; ++train) {
            mem_plan p = {0};
            assert_int_equal(plan_build(&p, net, train), 0);
            check_no_overlap(&p, cfg);
            check_lifetimes(net, &p, cfg);
            assert_int_equal(plan_verify(&p), 0);
            trained += train && p.arena_bytes < p.total_bytes;
            plan_free(&p);
        }
        free_network(net);
    }
    assert_true(trained > 100); /* the generator really produces sharing */
}

/* ---- end to end: shared arena vs one buffer per tensor ---- */
typedef struct {
    float *v[2][64];
    size_t n[2][64];
} snap;

static void snap_put(snap *s, int kind, const layer *l, const float *d, size_t n)
{
    if (!d || l->index >= 64) return;
    free(s->v[kind][l->index]);
    s->v[kind][l->index] = malloc(n * sizeof(float));
    memcpy(s->v[kind][l->index], d, n * sizeof(float));
    s->n[kind][l->index] = n;
}
static void hook_f(void *ud, const layer *l, const float *d, size_t n) { snap_put(ud, 0, l, d, n); }
static void hook_b(void *ud, const layer *l, const float *d, size_t n) { snap_put(ud, 1, l, d, n); }

/* Rewrites the plan so every buffer has its own bytes (no reuse at all). */
static void unshare(network *net)
{
    mem_plan *p = &net->plan;
    size_t off = 0;
    for (int a = 0; a < 2 * p->n; ++a) {
        mem_buf *b = (mem_buf *)buf_of(p, a);
        if (!b->bytes) continue;
        b->off = off;
        off += b->bytes;
    }
    p->arena_bytes = off;
    free(net->arena);
    net->arena = calloc(off + 64, 1);
    net->arena_bytes = off;
}

static void train_step(network *net, snap *s, int separate)
{
    char err[512];
    tu_fill_uniform(net->input, (size_t)net->batch * net->inputs, -1, 1, 5);
    tu_fill_uniform(net->truth, (size_t)net->batch * net->truths, -1, 1, 6);
    /* hooks first: they turn zero-copy routes and streaming off (both need packed,
     * whole-batch buffers to compare), then the plan is made */
    net->hook = hook_f;
    net->bhook = hook_b;
    net->hook_ud = s;
    assert_int_equal(network_prepare(net, 1, err, sizeof(err)), 0);
    if (separate) unshare(net);
    if (network_forward(net, net->input, 1) || network_backward(net)) fail_msg("%s", net->err);
}

static void shared_equals_separate(void **st)
{
    (void)st;
    static char cfg[8192];
    for (uint64_t seed = 1000; seed < 1040; ++seed) {
        random_cfg(seed, 1, cfg, sizeof(cfg));
        darknet_set_seed(seed);
        network *a = tu_net_from_text(cfg, 0);
        darknet_set_seed(seed);
        network *b = tu_net_from_text(cfg, 0);
        snap *sa = calloc(1, sizeof(snap)), *sb = calloc(1, sizeof(snap));
        train_step(a, sa, 0);
        train_step(b, sb, 1);
        for (int k = 0; k < 2; ++k)
            for (int i = 0; i < a->n; ++i) {
                assert_int_equal(sa->n[k][i], sb->n[k][i]);
                if (sa->n[k][i] && memcmp(sa->v[k][i], sb->v[k][i], sa->n[k][i] * sizeof(float)))
                    fail_msg("layer %d %s differs between shared and separate buffers\n%s", i,
                             k ? "delta" : "output", cfg);
                free(sa->v[k][i]);
                free(sb->v[k][i]);
            }
        for (int i = 0; i < a->n; ++i)
            for (int q = 0; q < a->layers[i].nparams; ++q)
                assert_memory_equal(a->layers[i].params[q].grad, b->layers[i].params[q].grad,
                                    a->layers[i].params[q].n * sizeof(float));
        free(sa);
        free(sb);
        free_network(a);
        free_network(b);
    }
}

static void verify_rejects_overlap(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\nactnn_concat=0\n[conv]\nfilters=2\n"
                                    "[conv]\nfilters=2\n[route]\nlayers=0,1\n[cost]\n", 0);
    mem_plan p = {0};
    assert_int_equal(plan_build(&p, net, 1), 0);
    assert_int_equal(plan_verify(&p), 0);
    /* outputs 0 and 1 are both alive when the route runs: make them collide */
    assert_true(live_at(&p.out[0], 2) && live_at(&p.out[1], 2));
    p.out[1].off = p.out[0].off;
    assert_int_equal(plan_verify(&p), -1);
    plan_free(&p);
    free_network(net);
}

int main(void)
{
    darknet_set_seed(7);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_graphs),
        cmocka_unit_test(shared_equals_separate),
        cmocka_unit_test(verify_rejects_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
