/* The optimizer state side file (train_state.h) and the non-finite scan (finite_check.h):
 * round trip of SGD momentum and adam moments, and every way a state file can fail to match
 * (missing, truncated, other seen, other cfg, not a state file), each leaving zero momentum;
 * the best mAP of `detector train -map` travels with the state, and a version 1 file (no
 * best mAP: 40-byte header, then the arrays) still loads. And where the gradients live
 * (params.h): one zeroed block in backward order, which the MPI all-reduce sums in place. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/finite_check.h"
#include "core/network.h"
#include "core/train_state.h"

static const char *CFG =
    "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\n"
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=3\npad=1\nactivation=leaky\n"
    "[connected]\noutput=3\nactivation=linear\n";
static const char *CFG_ADAM =
    "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\nadam=1\n"
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=3\npad=1\nactivation=leaky\n"
    "[connected]\noutput=3\nactivation=linear\n";

/* Gives every optimizer array distinct values (v = base + running index). */
static void fill_state(network *net, float base)
{
    float v = base;
    assert_int_equal(network_alloc_grads(net), 0);
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            for (size_t j = 0; j < p->n; ++j) {
                p->grad[j] = v++;
                if (p->m) p->m[j] = -v;
                if (p->v) p->v[j] = v * 2;
            }
        }
}

/* 1 when every optimizer array of a equals b's. */
static int same_state(const network *a, const network *b)
{
    for (int i = 0; i < a->n; ++i)
        for (int k = 0; k < a->layers[i].nparams; ++k) {
            const param *p = &a->layers[i].params[k], *q = &b->layers[i].params[k];
            size_t s = p->n * sizeof(float);
            if (memcmp(p->grad, q->grad, s)) return 0;
            if (p->m && (memcmp(p->m, q->m, s) || memcmp(p->v, q->v, s))) return 0;
        }
    return 1;
}

static int all_zero(const network *net)
{
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            const param *p = &net->layers[i].params[k];
            for (size_t j = 0; j < p->n; ++j)
                if (p->grad[j] != 0 || (p->m && (p->m[j] != 0 || p->v[j] != 0))) return 0;
        }
    return 1;
}

static const char *state_path(const char *name)
{
    static char path[4][512];
    static int slot;
    char *p = path[slot++ & 3];
    snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
    return p;
}

static void round_trip(const char *cfg)
{
    network *a = tu_net_from_text(cfg, 0), *b = tu_net_from_text(cfg, 0);
    fill_state(a, 1.5f);
    a->seen = b->seen = 48;
    a->iteration = 12;
    a->t = 6;
    a->best_map = .375f;
    const char *path = state_path("rt.state");
    char err[512];
    assert_int_equal(train_state_save(a, path, err, sizeof(err)), 0);
    assert_int_equal(train_state_load(b, path, err, sizeof(err)), 0);
    assert_true(same_state(a, b));
    assert_float_equal(b->best_map, .375f, 0);
    assert_int_equal(b->iteration, 12);
    assert_int_equal(b->t, 6);
    free_network(a);
    free_network(b);
}

static void test_round_trip_sgd(void **s) { (void)s; round_trip(CFG); }
static void test_round_trip_adam(void **s) { (void)s; round_trip(CFG_ADAM); }

/* Saves a's state, damages the file with `damage`, loads into a fresh network with `seen`:
 * expects -1, an error containing `want`, and zero momentum. */
static void expect_rejected(const char *cfg_load, uint64_t seen, void (*damage)(const char *),
                            const char *want)
{
    network *a = tu_net_from_text(CFG, 0), *b = tu_net_from_text(cfg_load, 0);
    fill_state(a, 3.f);
    a->seen = 40;
    b->seen = seen;
    fill_state(b, 7.f); /* must end zeroed, not half read */
    const char *path = state_path("bad.state");
    char err[512] = "";
    assert_int_equal(train_state_save(a, path, err, sizeof(err)), 0);
    if (damage) damage(path);
    assert_int_equal(train_state_load(b, path, err, sizeof(err)), -1);
    if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
    assert_true(all_zero(b));
    free_network(a);
    free_network(b);
}

static void truncate_file(const char *path) { assert_int_equal(truncate(path, 100), 0); }
static void short_header(const char *path) { assert_int_equal(truncate(path, 10), 0); }
static void bad_magic(const char *path)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fputc('X', f);
    fclose(f);
}

static void test_truncated(void **s) { (void)s; expect_rejected(CFG, 40, truncate_file, "(truncated?)"); }
static void test_short_header(void **s) { (void)s; expect_rejected(CFG, 40, short_header, "no complete header"); }
static void test_other_seen(void **s) { (void)s; expect_rejected(CFG, 44, NULL, "belongs to another checkpoint (seen=40"); }
static void test_other_cfg(void **s) { (void)s; expect_rejected(CFG_ADAM, 40, NULL, "written for another cfg"); }
static void test_bad_magic(void **s) { (void)s; expect_rejected(CFG, 40, bad_magic, "not an optimizer state file"); }

static void test_missing_is_silent(void **s)
{
    (void)s;
    network *b = tu_net_from_text(CFG, 0);
    char err[64] = "";
    assert_int_equal(train_state_load(b, state_path("none.state"), err, sizeof(err)), 1);
    free_network(b);
}

/* A version 2 file rewritten as version 1: the 8 bytes after the 40-byte header go. */
static void test_version1_loads(void **s)
{
    (void)s;
    network *a = tu_net_from_text(CFG, 0), *b = tu_net_from_text(CFG, 0);
    fill_state(a, 2.f);
    a->seen = b->seen = 8;
    a->best_map = .5f;
    b->best_map = .25f;
    const char *path = state_path("v1.state");
    char err[512] = "";
    assert_int_equal(train_state_save(a, path, err, sizeof(err)), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(n > 48 && n < sizeof(buf));
    uint32_t v;
    memcpy(&v, buf + 4, 4);
    assert_int_equal(v, 2);
    v = 1;
    memcpy(buf + 4, &v, 4);
    memmove(buf + 40, buf + 48, n - 48);
    f = fopen(path, "wb");
    assert_int_equal(fwrite(buf, 1, n - 8, f), n - 8);
    fclose(f);
    assert_int_equal(train_state_load(b, path, err, sizeof(err)), 0);
    assert_true(same_state(a, b));
    assert_float_equal(b->best_map, 0, 0);
    free_network(a);
    free_network(b);
}

static void test_finite_scan(void **s)
{
    (void)s;
    float a[37];
    for (int i = 0; i < 37; ++i) a[i] = (float)i - 18.f;
    a[5] = 3.4e38f; /* large but finite */
    assert_int_equal(finite_first_bad(a, 37), 37);
    a[20] = INFINITY;
    a[30] = NAN;
    assert_int_equal(finite_first_bad(a, 37), 20);
    a[20] = -INFINITY;
    assert_int_equal(finite_first_bad(a, 20), 20);
    assert_int_equal(finite_first_bad(a, 21), 20);
    network *net = tu_net_from_text(CFG, 0);
    assert_int_equal(finite_check_weights(net), -1);
    net->layers[1].wf[net->layers[1].nwf - 1].data[2] = NAN;
    assert_int_equal(finite_check_weights(net), 1);
    free_network(net);
}

/* Brute force over the layers: the gradient of layer n-1's param 0 opens the block, each
 * next param (then the next lower layer) starts where the previous one ends, the block
 * holds exactly the params' floats and starts zeroed; adam's moments lie apart. */
static void test_grad_block_backward_order(void **s)
{
    (void)s;
    for (int adam = 0; adam < 2; ++adam) {
        network *net = tu_net_from_text(adam ? CFG_ADAM : CFG, 0);
        assert_int_equal(network_alloc_grads(net), 0);
        const float *at = net->grad_block;
        size_t total = 0;
        for (int i = net->n - 1; i >= 0; --i)
            for (int k = 0; k < net->layers[i].nparams; ++k) {
                const param *p = &net->layers[i].params[k];
                if (p->grad != at) fail_msg("layer %d param %d: grad at offset %td, want %td", i, k,
                                            p->grad - net->grad_block, at - net->grad_block);
                for (size_t j = 0; j < p->n; ++j) assert_true(p->grad[j] == 0);
                assert_true(!adam || (p->m && p->v && (p->m + p->n <= at || p->m >= at + p->n)));
                at += p->n;
                total += p->n;
            }
        assert_true(total > 0);
        assert_int_equal(net->grad_floats, total);
        free_network(net);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sgd),   cmocka_unit_test(test_round_trip_adam),
        cmocka_unit_test(test_truncated),        cmocka_unit_test(test_short_header),
        cmocka_unit_test(test_other_seen),       cmocka_unit_test(test_other_cfg),
        cmocka_unit_test(test_bad_magic),        cmocka_unit_test(test_missing_is_silent),
        cmocka_unit_test(test_finite_scan),      cmocka_unit_test(test_version1_loads),
        cmocka_unit_test(test_grad_block_backward_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
