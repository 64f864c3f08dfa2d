/* Zero-copy [route] (src/concat.h): concatenated sources write into the route's buffer,
 * single-source routes (groups/group_id halves) are views of their source. The oracle is
 * the same network with copying routes (actnn_concat=0): for the same weights, input and
 * seed the outputs and cost must be bit-identical, at 2 bits and at 32 bits (where
 * readers that keep their input alive block the zero-copy placement), and so must the
 * gradients up to float summation order: a view's delta receives its writers' sums in
 * place instead of through a separate zeroed buffer, one rounding per element apart
 * (tolerance 1e-5 of the largest gradient of each parameter). The plan must really alias
 * (and so shrink the arena at 2 bits) and keep live buffers apart. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/network.h"
#include "common/testutil.h"

#define BATCH 5

/* yolov4-tiny's CSP block: route groups=2 group_id=1 (a view of layer 1), concat of two
 * convs (6 = [3, 2]) and of the block input with the last conv (8 = [1, 7]), then maxpool,
 * and a second block whose concat feeds a conv directly. */
static const char *cfg_csp =
    "[net]\nbatch=5\nwidth=16\nheight=16\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=mish\n"
    "[route]\nlayers=-1,-2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-6,-1\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=logistic\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static network *make_net(const char *netkeys)
{
    char text[4096];
    snprintf(text, sizeof(text), cfg_csp, netkeys);
    darknet_set_seed(777);
    network *net = tu_net_from_text(text, BATCH);
    tu_fill_uniform(net->input, (size_t)BATCH * net->inputs, -1, 1, 3);
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + (b * 3) % net->truths] = 1;
    return net;
}

static int count_aliased(const network *net)
{
    int n = 0;
    for (int i = 0; i < net->n; ++i) n += net->plan.parent[i] >= 0;
    return n;
}

/* Returns how many layers the zero-copy plan aliased. */
static int compare(const char *keys_copy, const char *keys_zero)
{
    network *a = make_net(keys_copy), *b = make_net(keys_zero);
    size_t n = tu_grad_count(a), no = (size_t)BATCH * a->outputs;
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    float *oa = malloc(no * sizeof(float)), *ob = malloc(no * sizeof(float));
    for (int it = 0; it < 3; ++it) { /* same weights, fresh rounding noise each time */
        float ca = tu_train_step(a, ga, oa), cb = tu_train_step(b, gb, ob);
        assert_memory_equal(oa, ob, no * sizeof(float));
        assert_memory_equal(&ca, &cb, sizeof(float));
        size_t o = 0;
        for (int i = 0; i < a->n; ++i)
            for (int k = 0; k < a->layers[i].nparams; ++k) {
                size_t m = a->layers[i].params[k].n;
                float big = 0;
                for (size_t j = 0; j < m; ++j) big = fabsf(ga[o + j]) > big ? fabsf(ga[o + j]) : big;
                for (size_t j = 0; j < m; ++j)
                    if (fabsf(ga[o + j] - gb[o + j]) > 1e-5f * big)
                        fail_msg("layer %d param %d [%zu]: %g vs %g", i, k, j, ga[o + j], gb[o + j]);
                o += m;
            }
    }
    /* inference through views and slices too */
    assert_int_equal(network_forward(a, a->input, 0), 0);
    assert_int_equal(network_forward(b, b->input, 0), 0);
    assert_memory_equal(a->output, b->output, no * sizeof(float));
    assert_int_equal(network_prepare(b, 1, b->err, sizeof(b->err)), 0);
    assert_int_equal(network_prepare(a, 1, a->err, sizeof(a->err)), 0);
    assert_int_equal(count_aliased(a), 0);
    int aliased = count_aliased(b); /* in the training plan */
    assert_int_equal(plan_verify(&b->plan), 0);
    if (aliased) assert_true(b->plan.arena_bytes < a->plan.arena_bytes);
    free(ga); free(gb); free(oa); free(ob);
    free_network(a);
    free_network(b);
    return aliased;
}

static void bits2_equal(void **state)
{
    (void)state;
    /* 2 (a view of 1), 3 and 4 (in 5), 1 and 6 (in 7), 9 and 10 (in 11) */
    assert_int_equal(compare("actnn=1\nactnn_concat=0", "actnn=1"), 7);
}

static void bits32_equal(void **state)
{
    (void)state;
    /* at 32 bits readers keep their inputs: only sources read by their route alone move */
    int k = compare("actnn_concat=0", "");
    if (k < 2 || k >= 7) fail_msg("aliased %d layers, want 2..6", k);
}

static void bits2_streamed_too(void **state)
{
    (void)state;
    /* streaming and zero-copy routes together (layer 0 streams into layer 1) */
    assert_true(compare("actnn=1\nactnn_concat=0\nactnn_stream=0", "actnn=1\nactnn_stream=1") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bits2_equal),
        cmocka_unit_test(bits32_equal),
        cmocka_unit_test(bits2_streamed_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
