/* Training through actnn_plugin (src/saved.c):
 *  - at 32 bits the gradients are bitwise those of the cfg without actnn keys;
 *  - at 2 bits one backward differs from the exact one, but the mean of many backward
 *    passes with fresh rounding noise converges to it (stochastic rounding is unbiased);
 *  - also where a layer borrows part of its saved input from another layer's save;
 *  - the store's byte accounting equals what the plugin context holds;
 *  - so does it with actnn_auto's bits mixed per sample and per layer;
 *  - actnn_auto=1 gives wide-range samples more bits at the same bytes, lowering the error;
 *  - every actnn cfg key error names the file, the line, the key and what is allowed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/net_internal.h"
#include "core/network.h"
#include "memory/saved.h"
#include "common/testutil.h"

#define BATCH 4

/* Exercises every kind of save: kept input, BN x-hat copy, leaky mask, logistic
 * pre-activation, maxpool codes, connected input, dropout seed. */
static const char *cfg_all =
    "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=logistic\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[dropout]\nprobability=0.25\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

/* Only layers whose backward is linear in each saved tensor (no BN, masks exact), so the
 * expected 2-bit gradient is exactly the fp32 one. */
static const char *cfg_linear =
    "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\n%s\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=linear\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static network *make_net(const char *fmt, const char *netkeys)
{
    char text[2048];
    snprintf(text, sizeof(text), fmt, netkeys);
    darknet_set_seed(1234); /* same weights for every variant */
    return tu_net_from_text(text, BATCH);
}

static size_t grad_count(const network *net)
{
    size_t n = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) n += net->layers[i].params[k].n;
    return n;
}

static void fill_batch(network *net)
{
    tu_fill_uniform(net->input, (size_t)BATCH * net->inputs, -1, 1, 99);
    memset(net->truth, 0, sizeof(float) * (size_t)BATCH * net->truths);
    for (int b = 0; b < BATCH; ++b) net->truth[b * net->truths + b % net->truths] = 1;
}

/* One forward+backward from zeroed gradients; copies every gradient into g. */
static void grads(network *net, float *g)
{
    size_t o = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            if (p->grad) memset(p->grad, 0, p->n * sizeof(float));
        }
    assert_int_equal(network_forward(net, net->input, 1), 0);
    assert_int_equal(network_backward(net), 0);
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            memcpy(g + o, p->grad, p->n * sizeof(float));
            o += p->n;
        }
}

static void bits32_bitwise(void **state)
{
    (void)state;
    network *a = make_net(cfg_all, "");
    network *b = make_net(cfg_all, "actnn=1\nactnn_bits=32");
    fill_batch(a);
    fill_batch(b);
    size_t n = grad_count(a);
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    for (int it = 0; it < 3; ++it) { /* dropout draws differ per iteration: check several */
        grads(a, ga);
        grads(b, gb);
        assert_memory_equal(ga, gb, n * sizeof(float));
    }
    free(ga);
    free(gb);
    free_network(a);
    free_network(b);
}

/* Saved bytes as the store accounts them equal the plugin's own payload + metadata
 * (run the forward only, so everything is still saved). */
static void accounting_matches_plugin(void **state)
{
    (void)state;
    const char *keys[] = {"actnn=1\nactnn_bits=2", "actnn=1\nactnn_bits=16", "actnn_bits=8\nactnn_group=64"};
    for (int k = 0; k < 3; ++k) {
        network *net = make_net(cfg_all, keys[k]);
        fill_batch(net);
        assert_int_equal(network_forward(net, net->input, 1), 0);
        saved_stats st;
        size_t pay = 0, meta = 0;
        saved_get_stats(net->store, &st);
        assert_int_equal(saved_plugin_stats(net->store, &pay, &meta), 0);
        assert_true(st.cur_bytes > 0);
        assert_int_equal(st.cur_bytes, pay + meta);
        assert_true(st.cur_bytes < st.cur_fp32_bytes);
        assert_int_equal(network_backward(net), 0);
        saved_get_stats(net->store, &st);
        assert_int_equal(st.cur_bytes, 0);
        free_network(net);
    }
}

/* Unbiasedness at 2 bits. Each gradient element g_j of K independent passes (fresh seed
 * and tensor ids) has mean m_j and sample sd s_j. If E = exact, z_j = |m_j - g_j| / (s_j /
 * sqrt K) is close to |N(0,1)| (K = 256, CLT); the Chernoff bound P(|z| > t) <= 2 e^{-t^2/2}
 * with a union bound over M elements gives a family false-alarm rate alpha at
 * t = sqrt(2 ln(2M / alpha)). s_j itself is off by about 1/sqrt(2K) = 4.4% (one sd), so
 * t is widened by 15% (over 3 sd of that error). A bias of more than t standard errors
 * (here about 0.4 of one pass's sd) in any element fails the test: making the second conv
 * batch_normalize=1 with a logistic activation (x-hat enters BN's backward twice, the
 * activation gradient is nonlinear in the restored pre-activation) gives max z = 9.4. */
static void check_unbiased(const char *cfg, const char *keys)
{
    enum { K = 256 };
    network *ex = make_net(cfg, "");
    network *q = make_net(cfg, keys);
    fill_batch(ex);
    fill_batch(q);
    size_t M = grad_count(ex);
    float *g = malloc(M * sizeof(float)), *gq = malloc(M * sizeof(float));
    double *sum = calloc(M, sizeof(double)), *sq = calloc(M, sizeof(double));
    grads(ex, g);
    double single_err = 0, scale = 0;
    for (int k = 0; k < K; ++k) {
        if (k) saved_set_seed(q->store, 1000 + (uint64_t)k);
        grads(q, gq);
        for (size_t j = 0; j < M; ++j) {
            double d = (double)gq[j] - g[j];
            sum[j] += d;
            sq[j] += d * d;
            if (k == 0 && fabs(d) > single_err) single_err = fabs(d);
            if (k == 0 && fabs(g[j]) > scale) scale = fabs(g[j]);
        }
    }
    /* The quantization noise is really there: one pass is visibly off. */
    assert_true(single_err > 1e-3 * scale);
    double alpha = 1e-3, t = 1.15 * sqrt(2 * log(2.0 * (double)M / alpha)), zmax = 0;
    for (size_t j = 0; j < M; ++j) {
        double m = sum[j] / K, var = (sq[j] - K * m * m) / (K - 1);
        if (var <= 0) { /* deterministic element: must be exact up to float rounding */
            assert_true(fabs(m) <= 1e-6 * (scale + 1));
            continue;
        }
        double z = fabs(m) / sqrt(var / K);
        if (z > zmax) zmax = z;
    }
    print_message("unbiasedness (%s): M=%zu K=%d max z=%.2f bound t=%.2f\n", keys, M, K, zmax, t);
    assert_true(zmax < t);
    free(g); free(gq); free(sum); free(sq);
    free_network(ex);
    free_network(q);
}

static void bits2_unbiased(void **state)
{
    (void)state;
    check_unbiased(cfg_linear, "actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_group=32");
}

/* The shipped cfgs' stacks: conv + batch norm + leaky, conv + batch norm + linear. The leaky
 * mask is exact (1 bit from the fp32 forward) and every other backward term is linear in one
 * restored tensor, except batch norm's, which restores x-hat (eps_i its rounding noise, zero
 * mean, variance s_i^2 <= (range/3)^2/4 at 2 bits) and uses it twice:
 *   dx_i = gamma/sd (d_i - mean(d) - xhat_i mean(d xhat)),
 * so E[dx_i] is off by gamma/sd d_i s_i^2 / N (the product eps_i eps_i in xhat_i mean(d xhat),
 * N = batch x positions). With the x-hat of 4 x 8 x 8 and 4 x 4 x 4 inputs in groups of 32
 * (range <= 2 x 3 sd, s^2 <= 1) that bias is at most 1/N <= 1/64 of d_i's own term, while one
 * pass's 2-bit noise sd is of the order of the term itself: K = 256 passes give a standard
 * error of about 1/16 of it, so the bias moves z by at most 16/64 = 0.25, inside the 15 %
 * widening of t (0.8 here). A biased quantizer (floor rounding: +range/6 on average, every
 * value) or a gradient term dropped gives z of 20 and more. */
static const char *cfg_bn =
    "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=linear\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static void bits2_unbiased_bn(void **state)
{
    (void)state;
    check_unbiased(cfg_bn, "actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_group=32");
}

/* [scale_channels] and [sam] save both factors of their product at 2 bits. Each factor's
 * gradient is linear in the other's restored value, and the weights feeding both factors
 * get products of two restored tensors whose rounding noises are independent, so the
 * expectation is still the fp32 gradient (check_unbiased's bound). */
static const char *cfg_products =
    "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\n%s\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[avgpool]\n"
    "[convolutional]\nfilters=4\nsize=1\nstride=1\nactivation=linear\n"
    "[scale_channels]\nfrom=-3\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=linear\n"
    "[convolutional]\nfilters=4\nsize=1\nstride=1\nactivation=linear\n"
    "[sam]\nfrom=-2\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static void bits2_unbiased_products(void **state)
{
    (void)state;
    const char *keys = "actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_group=32";
    network *q = make_net(cfg_products, keys);
    fill_batch(q);
    assert_int_equal(network_forward(q, q->input, 1), 0);
    static const struct { int layer, slot; size_t d; } saves[] = {
        {3, 1, 4}, {3, 2, 8 * 8 * 4}, {6, 1, 4 * 4 * 4}, {6, 2, 4 * 4 * 4}};
    for (size_t k = 0; k < sizeof saves / sizeof saves[0]; ++k) { /* both factors, at 2 bits */
        saved_desc d;
        assert_int_equal(saved_describe(q->store, saves[k].layer, saves[k].slot, &d), 0);
        if (d.kind != SAVED_TENSOR || d.bits != 2 || d.d + d.shared != saves[k].d)
            fail_msg("layer %d slot %d: kind %d, %d bits, %zu values (want a 2-bit tensor of %zu)",
                     saves[k].layer, saves[k].slot, (int)d.kind, d.bits, d.d + d.shared, saves[k].d);
    }
    free_network(q);
    check_unbiased(cfg_products, keys);
}

/* Mixed bits per sample and per layer (re-allocated every pass from the previous pass's
 * gradients): each pass is unbiased given its bits, so the mean still converges. */
static void auto_layers_unbiased(void **state)
{
    (void)state;
    check_unbiased(cfg_linear, "actnn=1\nactnn_bits=2\nactnn_group=32\nactnn_auto=1\nactnn_auto_interval=1");
}

/* Borrowing (src/memory/saved_share.c): route 2 = [1, 0] and route 4 = [0, 3] hold layer
 * 0's output, which layer 1 saves whole as its input, so convs 3 (a suffix) and 5 (a
 * prefix) store only their own half and restore the other from layer 1's save. Every
 * backward term stays linear in one restored tensor (no batch norm, exact leaky masks), so
 * the mean gradient must still be the fp32 one (check_unbiased's bound): restoring the lent
 * half at the wrong offset (the halves swapped) gives max z = 224. A restore of part of a
 * sample (sv_restore_part) equals the same values of the whole sample's restore. */
static const char *cfg_borrow =
    "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\n%s\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-2\n"
    "[convolutional]\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=0,-1\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=linear\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";

static void expect_borrow(network *q, int i, int lender, size_t own, size_t shared)
{
    saved_desc d;
    assert_int_equal(saved_describe(q->store, i, 0, &d), 0);
    if (d.kind != SAVED_TENSOR || d.d != own || d.shared != shared || d.share_layer != lender)
        fail_msg("layer %d's input: kind %d, %zu own + %zu borrowed from %d (want %zu + %zu from %d)",
                 i, (int)d.kind, d.d, d.shared, d.share_layer, own, shared, lender);
}

static void bits2_unbiased_borrowed(void **state)
{
    (void)state;
    network *q = make_net(cfg_borrow, "actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_group=32");
    fill_batch(q);
    assert_int_equal(network_forward(q, q->input, 1), 0);
    size_t half = 4 * 8 * 8;
    expect_borrow(q, 3, 1, half, half);
    expect_borrow(q, 5, 1, half, half);
    for (int i = 3; i <= 5; i += 2) {
        layer_ctx x;
        network_make_ctx(q, i, q->input, 1, &x);
        float whole[2 * 4 * 8 * 8], part[16];
        for (int b = 0; b < BATCH; ++b) {
            memcpy(whole, sv_restore(&x, 0, b, x.scratch[0]), sizeof(whole));
            size_t from[] = {0, half - 7, half, 2 * half - 16};
            for (int k = 0; k < 4; ++k) {
                const float *p = sv_restore_part(&x, 0, b, from[k], 16, part);
                assert_non_null(p);
                assert_memory_equal(p, whole + from[k], sizeof(part));
            }
        }
    }
    assert_int_equal(network_backward(q), 0);
    free_network(q);
    q = make_net(cfg_borrow, "actnn=1\nactnn_bits=2\nactnn_group=32\nactnn_auto=1");
    fill_batch(q);
    assert_int_equal(network_forward(q, q->input, 1), 0);
    expect_borrow(q, 3, 1, half, half);
    expect_borrow(q, 5, 1, half, half);
    assert_int_equal(network_backward(q), 0);
    free_network(q);
    check_unbiased(cfg_borrow, "actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_group=32");
    /* and with actnn_auto's bits: the borrowed half at the lender's, the own half at the
     * borrower's own allocation */
    check_unbiased(cfg_borrow, "actnn=1\nactnn_bits=2\nactnn_group=32\nactnn_auto=1\nactnn_auto_interval=1");
}

/* A borrower whose lender's save is gone stops the backward with a message (not a
 * gradient computed from garbage). */
static void borrowed_lender_gone(void **state)
{
    (void)state;
    network *q = make_net(cfg_borrow, "actnn=1\nactnn_bits=2\nactnn_group=32");
    fill_batch(q);
    assert_int_equal(network_forward(q, q->input, 1), 0);
    saved_release_layer(q->store, 1);
    assert_int_equal(network_backward(q), -1);
    if (!strstr(q->err, "layer 5") || !strstr(q->err, "borrowed from layer 1"))
        fail_msg("got: %s", q->err);
    free_network(q);
}

/* Mean over K passes of the squared gradient error against the exact gradient g. */
static double mean_sq_err(network *q, const float *g, float *gq, size_t M, int K)
{
    double e = 0;
    for (int k = 0; k < K; ++k) {
        saved_set_seed(q->store, 5000 + (uint64_t)k);
        grads(q, gq);
        for (size_t j = 0; j < M; ++j) e += ((double)gq[j] - g[j]) * ((double)gq[j] - g[j]);
    }
    return e / K;
}

/* actnn_auto=1 on a batch whose first sample has a 100x wider range: the per-sample
 * allocation keeps the same bytes (budget met exactly) and cuts the gradient error. The
 * quantization variance is sum_n R_n^2/(2^b_n - 1)^2 per group: fixed 2 bits gives
 * (100^2 + 3)/9 ~ 1100 units, the allocation about (100^2/31^2 + 3) ~ 14 on the input
 * layer, so an error ratio below 1/2 leaves a wide margin over the spread of K = 32
 * passes (the sum of many squared errors: relative sd well under 1/2). */
static void auto_bits_per_sample(void **state)
{
    (void)state;
    network *ex = make_net(cfg_linear, "");
    network *fx = make_net(cfg_linear, "actnn=1\nactnn_bits=2\nactnn_auto=0\nactnn_group=32");
    network *au = make_net(cfg_linear, "actnn=1\nactnn_bits=2\nactnn_group=32\nactnn_auto=1");
    network *nets[3] = {ex, fx, au};
    for (int i = 0; i < 3; ++i) {
        fill_batch(nets[i]);
        for (int j = 0; j < nets[i]->inputs; ++j) nets[i]->input[j] *= 100;
    }
    size_t M = grad_count(ex);
    float *g = malloc(M * sizeof(float)), *gq = malloc(M * sizeof(float));
    grads(ex, g);
    saved_stats sf, sa;
    assert_int_equal(network_forward(fx, fx->input, 1), 0);
    assert_int_equal(network_forward(au, au->input, 1), 0);
    saved_get_stats(fx->store, &sf);
    saved_get_stats(au->store, &sa);
    assert_int_equal(sf.cur_bytes, sa.cur_bytes);
    assert_int_equal(network_backward(fx), 0);
    assert_int_equal(network_backward(au), 0);
    double ef = mean_sq_err(fx, g, gq, M, 32), ea = mean_sq_err(au, g, gq, M, 32);
    print_message("squared gradient error: fixed 2 bits %.4g, auto %.4g (ratio %.3f)\n", ef, ea, ea / ef);
    assert_true(ea < 0.5 * ef);
    free(g);
    free(gq);
    for (int i = 0; i < 3; ++i) free_network(nets[i]);
}

/* actnn_bits=2 (or actnn=1 alone) means ActNN's L3, per-sample and per-layer bits at a
 * 2-bit average; actnn_auto=0 asks for uniform bits; other widths and a budget are
 * uniform unless actnn_auto=1 says otherwise. */
static void default_2bits_is_l3(void **state)
{
    (void)state;
    const struct {
        const char *keys;
        int want;
    } c[] = {
        {"actnn=1", 1},
        {"actnn_bits=2", 1},
        {"actnn=1\nactnn_bits=2\nactnn_auto=0", 0},
        {"actnn=1\nactnn_bits=4", 0},
        {"actnn=1\nactnn_bits=8\nactnn_auto=1", 1},
        {"actnn=1\nactnn_budget_mb=64", 0},
        {"", 0},
    };
    for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); ++k) {
        network *net = make_net(cfg_linear, c[k].keys);
        if (net->actnn_auto != c[k].want)
            fail_msg("keys \"%s\": actnn_auto %d, want %d", c[k].keys, net->actnn_auto, c[k].want);
        free_network(net);
    }
}

/* A cfg with one bad actnn key must fail with file:line, the key and the allowed values. */
static void check_error(const char *netkeys, const char *layerkeys, const char *key,
                        const char *allowed, int line)
{
    char text[1024], want[128];
    snprintf(text, sizeof(text),
             "[net]\nbatch=1\nwidth=8\nheight=8\nchannels=1\n%s\n"
             "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=leaky\n%s\n",
             netkeys, layerkeys);
    const char *err = tu_net_error(text);
    snprintf(want, sizeof(want), "bad.cfg:%d:", line);
    if (!strstr(err, want) || !strstr(err, key) || !strstr(err, allowed))
        fail_msg("for %s%s got: %s (want %s, %s, %s)", netkeys, layerkeys, err, want, key, allowed);
}

static void cfg_key_errors(void **state)
{
    (void)state;
    /* [net] keys sit on line 6, the layer's extra key on line 13. */
    check_error("actnn=2", "", "actnn=2", "0..1", 6);
    check_error("actnn=yes", "", "actnn=yes", "expected an integer in [0, 1]", 6);
    check_error("actnn_bits=3", "", "actnn_bits=3", "1, 2, 4, 8, 16, 32", 6);
    check_error("actnn_bits=64", "", "actnn_bits=64", "1, 2, 4, 8, 16, 32", 6);
    check_error("actnn_bits=0", "", "actnn_bits=0", "1, 2, 4, 8, 16, 32", 6);
    check_error("", "actnn_bits=5", "actnn_bits=5", "1, 2, 4, 8, 16, 32", 13);
    check_error("actnn_group=48", "", "actnn_group=48", "multiple of 32", 6);
    check_error("actnn_group=0", "", "actnn_group=0", "1..", 6);
    check_error("actnn_auto=2", "", "actnn_auto=2", "0..1", 6);
    check_error("actnn_bits=32\nactnn_auto=1", "", "actnn_auto=1", "between 1 and 8", 7);
    check_error("actnn_auto_interval=0", "", "actnn_auto_interval=0", "1..", 6);
    check_error("actnn_auto_layers=2", "", "actnn_auto_layers=2", "0..1", 6);
    check_error("actnn_swap=3", "", "actnn_swap=3", "0..1", 6);
    check_error("actnn_stream=2", "", "actnn_stream=2", "0..1", 6);
    check_error("actnn_stream=-1", "", "actnn_stream=-1", "0..1", 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bits32_bitwise),
        cmocka_unit_test(accounting_matches_plugin),
        cmocka_unit_test(bits2_unbiased),
        cmocka_unit_test(bits2_unbiased_bn),
        cmocka_unit_test(bits2_unbiased_products),
        cmocka_unit_test(bits2_unbiased_borrowed),
        cmocka_unit_test(borrowed_lender_gone),
        cmocka_unit_test(auto_layers_unbiased),
        cmocka_unit_test(auto_bits_per_sample),
        cmocka_unit_test(default_2bits_is_l3),
        cmocka_unit_test(cfg_key_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
