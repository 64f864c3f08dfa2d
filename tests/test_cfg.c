/* The .cfg format (darknet-facts.md section 1): syntax rules, [net] defaults, every
 * learning-rate policy against its closed form in float64, and error messages that name the
 * file, the line, the key and what is allowed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cfg.h"
#include "common/testutil.h"
#include "core/network.h"
#include "detect/detect_layers.h"

#define NETHDR "[net]\nbatch=4\nwidth=8\nheight=8\nchannels=3\n"

/* ---- stderr capture (warnings are printed, not returned) ---- */
static char captured[8192];

static network *parse_capturing(const char *text, char *err, size_t errlen)
{
    const char *path = tu_write_temp("cap.cfg", text);
    char logp[512];
    snprintf(logp, sizeof(logp), "%s/stderr.txt", tu_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    FILE *lf = fopen(logp, "w");
    assert_non_null(lf);
    dup2(fileno(lf), 2);
    network *net = parse_network_cfg_ex(path, 0, err, errlen);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(lf);
    FILE *f = fopen(logp, "r");
    size_t n = fread(captured, 1, sizeof(captured) - 1, f);
    captured[n] = 0;
    fclose(f);
    return net;
}

static void expect_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

/* ---- syntax ---- */

static void whitespace_is_removed(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\n batch = 4\n\twidth=\t8\nheight = 8 \nchan nels=3\r\n"
                                    "[convolutional]\nfil ters = 5\nsize=3\npad = 1\nactivation = le aky\n", 0);
    assert_int_equal(net->batch, 4);
    assert_int_equal(net->c, 3);
    assert_int_equal(net->layers[0].out_c, 5);
    assert_int_equal(net->layers[0].act, ACT_LEAKY);
    free_network(net);
}

static void comments_and_empty_lines(void **st)
{
    (void)st;
    network *net = tu_net_from_text("# leading comment\n\n[net]\n; semicolon comment\nbatch=2\n#batch=64\n"
                                    "width=4\nheight=4\nchannels=1\n\n\n[conv]\n#filters=9\nfilters=2\n", 0);
    assert_int_equal(net->batch, 2);
    assert_int_equal(net->layers[0].out_c, 2);
    free_network(net);
    /* a note after a value, as in AlexeyAB's efficientnet-lite3.cfg (`filters=40 #32`):
     * Darknet's atoi reads 40; a BOM before [net] (Windows editors) is not part of it */
    net = tu_net_from_text("\xEF\xBB\xBF[net]\nbatch=2 # two\nwidth=4\nheight=4\nchannels=1\n"
                           "[conv]\nfilters=40 #32\nactivation=leaky#note\n", 0);
    assert_int_equal(net->batch, 2);
    assert_int_equal(net->layers[0].out_c, 40);
    free_network(net);
}

static void not_key_value_is_an_error(void **st)
{
    (void)st;
    const char *e = tu_net_error(NETHDR "[convolutional]\nfilters\n");
    expect_contains(e, "Config file error line 7");
    expect_contains(e, ":7:");
    expect_contains(e, "bad.cfg");
}

static void bad_line_is_quoted_safely(void **st)
{
    (void)st;
    /* a binary file given as cfg: control bytes must not reach the terminal, and the echo of
     * the line is bounded */
    char cfg[400] = NETHDR "\x1b[31m\x01\x02";
    size_t k = strlen(cfg);
    memset(cfg + k, 'x', 200);
    cfg[k + 200] = 0;
    const char *e = tu_net_error(cfg);
    expect_contains(e, "Config file error line 6");
    for (const char *p = e; *p; ++p)
        if (*p < 32 || *p == 127) fail_msg("control byte 0x%02x in message: %s", *p, e);
    assert_true(strlen(e) < 200);
}

static void first_section_must_be_net(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[network]\nwidth=4\nheight=4\nchannels=1\n[conv]\nfilters=1\n", 0);
    free_network(net);
    const char *e = tu_net_error("[convolutional]\nfilters=1\n[net]\nwidth=4\nheight=4\nchannels=1\n");
    expect_contains(e, "first section must be [net] or [network]");
    expect_contains(e, "bad.cfg:1");
}

static void unused_field_warning(void **st)
{
    (void)st;
    char err[1024];
    network *net = parse_capturing(NETHDR "[convolutional]\nfilters=2\nflavour=vanilla\n", err, sizeof(err));
    assert_non_null(net);
    expect_contains(captured, "Unused field: 'flavour = vanilla'");
    expect_contains(captured, "cap.cfg:8");
    free_network(net);
}

static void unknown_section_warns(void **st)
{
    (void)st;
    char err[1024];
    network *net = parse_capturing(NETHDR "[conv]\nfilters=2\n[frobnicate]\n[conv]\nfilters=3\n", err,
                                   sizeof(err));
    assert_non_null(net);
    expect_contains(captured, "[frobnicate]");
    expect_contains(captured, "cap.cfg:8");
    assert_int_equal(net->n, 3); /* kept as a layer: indices in later sections stay valid */
    assert_int_equal(net->layers[2].c, 2);
    free_network(net);
    /* a Darknet layer type we lack is not an identity: that would be another network */
    const char *e = tu_net_error(NETHDR "[conv]\nfilters=2\n[local]\nfilters=2\n");
    expect_contains(e, "[local] is a Darknet layer type this build does not implement");
    e = tu_net_error(NETHDR "[conv]\nfilters=2\n[lstm]\noutput=4\n");
    expect_contains(e, ":8: [lstm] is a Darknet layer type");
}

/* [scale_channels] and [sam]: the output takes from='s shape; a previous layer of the wrong
 * shape for the mode, or a bad from=, is an error naming both shapes. */
static void products_shapes(void **st)
{
    (void)st;
    network *net = tu_net_from_text(NETHDR "[conv]\nfilters=4\n[avgpool]\n[conv]\nfilters=4\nsize=1\n"
                                    "[scale_channels]\nfrom=-3\n"
                                    "[conv]\nfilters=1\nsize=1\n[scale_channels]\nfrom=-2\nscale_wh=1\n"
                                    "[conv]\nfilters=4\nsize=1\n[sam]\nfrom=-2\nactivation=logistic\n", 0);
    assert_int_equal(net->layers[3].type, LT_SCALE_CHANNELS);
    assert_int_equal(net->layers[7].type, LT_SAM);
    for (int i = 3; i <= 7; i += 2) {
        assert_int_equal(net->layers[i].out_w, 8);
        assert_int_equal(net->layers[i].out_h, 8);
        assert_int_equal(net->layers[i].out_c, 4);
    }
    free_network(net);
    const char *e = tu_net_error(NETHDR "[conv]\nfilters=4\n[conv]\nfilters=4\n[scale_channels]\nfrom=-2\n");
    expect_contains(e, "the previous layer's output is 8 x 8 x 4 and from= (layer 0) is 8 x 8 x 4: "
                       "the previous layer must be 1 x 1 x C");
    e = tu_net_error(NETHDR "[conv]\nfilters=4\n[avgpool]\n[scale_channels]\nfrom=-2\nscale_wh=1\n");
    expect_contains(e, "must be W x H x 1");
    e = tu_net_error(NETHDR "[conv]\nfilters=4\n[conv]\nfilters=2\n[sam]\nfrom=-2\n");
    expect_contains(e, "must be from's shape");
    e = tu_net_error(NETHDR "[conv]\nfilters=4\n[sam]\nfrom=-2\n");
    expect_contains(e, "[sam] from=-2: index out of range");
    e = tu_net_error(NETHDR "[conv]\nfilters=4\n[sam]\n");
    expect_contains(e, "is required: the index of the layer to multiply");
}

/* More anchor numbers than num= pairs: the first are used and the rest reported, as
 * AlexeyAB's parser reads them; an odd count short of num's pairs is an error. */
static void anchors_beyond_num(void **st)
{
    (void)st;
    char err[1024];
    network *net = parse_capturing(NETHDR "[conv]\nfilters=14\nsize=1\n"
                                   "[yolo]\nmask=0,1\nanchors=1,2, 3,4, 5,6, 7,8\nclasses=2\nnum=3\n",
                                   err, sizeof(err));
    assert_non_null(net);
    expect_contains(captured, "anchors= has 8 numbers; num=3 uses the first 6, the other 2 are ignored");
    const det_params *p = net->layers[1].p;
    for (int i = 0; i < 6; ++i) assert_true(p->biases[i] == (float)(i + 1));
    free_network(net);
    net = parse_capturing(NETHDR "[conv]\nfilters=6\nsize=1\n[region]\nanchors=1,2,3,4,5,6\nclasses=1\nnum=1\n",
                          err, sizeof(err));
    assert_non_null(net);
    expect_contains(captured, "[region] anchors= has 6 numbers; num=1 uses the first 2");
    free_network(net);
    const char *e = tu_net_error(NETHDR "[conv]\nfilters=14\nsize=1\n[yolo]\nmask=0,1\nanchors=1,2,3\n"
                                 "classes=2\nnum=2\n");
    expect_contains(e, "anchors=1,2,3: has 3 numbers, not w,h pairs (num=2 needs 4)");
}

static void section_aliases(void **st)
{
    (void)st;
    network *net = tu_net_from_text(NETHDR "[conv]\nfilters=2\n[max]\nsize=2\nstride=2\n[avg]\n"
                                    "[conn]\noutput=3\n[soft]\n", 0);
    assert_int_equal(net->layers[0].type, LT_CONVOLUTIONAL);
    assert_int_equal(net->layers[1].type, LT_MAXPOOL);
    assert_int_equal(net->layers[2].type, LT_AVGPOOL);
    assert_int_equal(net->layers[3].type, LT_CONNECTED);
    assert_int_equal(net->layers[4].type, LT_SOFTMAX);
    free_network(net);
}

static void lists_and_hash_ends_list(void **st)
{
    (void)st;
    network *net = tu_net_from_text(NETHDR "policy=steps\nsteps=10, 20 ,30#,40\nscales=.1,.5,2#,7\n"
                                    "[conv]\nfilters=1\n", 0);
    assert_int_equal(net->num_steps, 3);
    assert_int_equal(net->steps[2], 30);
    assert_true(fabsf(net->scales[1] - 0.5f) < 1e-7f);
    free_network(net);
}

static void first_duplicate_wins(void **st)
{
    (void)st;
    network *net = tu_net_from_text(NETHDR "[conv]\nfilters=3\nfilters=7\n", 0);
    assert_int_equal(net->layers[0].out_c, 3);
    free_network(net);
}

static void negative_index_is_relative(void **st)
{
    (void)st;
    network *net = tu_net_from_text(NETHDR "[conv]\nfilters=2\n[conv]\nfilters=3\n[route]\nlayers=-2, 1\n"
                                    "[shortcut]\nfrom=-3\n", 0);
    assert_int_equal(net->layers[2].src[0], 0);
    assert_int_equal(net->layers[2].src[1], 1);
    assert_int_equal(net->layers[2].out_c, 5);
    assert_int_equal(net->layers[3].src[1], 0); /* layer 3 - 3 */
    free_network(net);
}

static void net_defaults(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\nwidth=4\nheight=4\nchannels=2\n[conv]\n", 0);
    assert_int_equal(net->batch, 1);
    assert_int_equal(net->subdivisions, 1);
    assert_true(fabsf(net->learning_rate - 0.001f) < 1e-9f);
    assert_true(fabsf(net->momentum - 0.9f) < 1e-7f);
    assert_true(fabsf(net->decay - 0.0001f) < 1e-10f);
    assert_int_equal(net->policy, POLICY_CONSTANT);
    assert_int_equal(net->burn_in, 0);
    assert_true(net->power == 4);
    assert_int_equal(net->max_crop, 8);
    assert_int_equal(net->min_crop, 4);
    /* [convolutional] defaults: filters=1 size=1 stride=1 pad=0 activation=logistic */
    const layer *l = &net->layers[0];
    assert_int_equal(l->out_c, 1);
    assert_int_equal(l->out_w, 4);
    assert_int_equal(l->act, ACT_LOGISTIC);
    assert_int_equal(l->nparams, 2); /* biases and weights only: no batch norm */
    free_network(net);
}

static void minibatch_is_batch_over_subdivisions(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\nbatch=64\nsubdivisions=16\ntime_steps=2\nwidth=4\nheight=4\n"
                                    "channels=1\n[conv]\n", 0);
    assert_int_equal(net->batch, 64 / 16 * 2);
    free_network(net);
}

static void pad_overrides_padding_and_sizes(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\nwidth=13\nheight=13\nchannels=1\n"
                                    "[conv]\nsize=3\npad=1\npadding=5\n"          /* pad wins: 13 */
                                    "[conv]\nsize=3\npadding=2\nstride=2\n"       /* (13+4-3)/2+1 = 8 */
                                    "[maxpool]\nsize=2\nstride=1\n"               /* keeps 8 */
                                    "[maxpool]\nsize=2\nstride=2\n"               /* (8+1-2)/2+1 = 4 */
                                    "[upsample]\nstride=2\n[reorg]\nstride=2\n", 0);
    assert_int_equal(net->layers[0].out_w, 13);
    assert_int_equal(net->layers[1].out_w, 8);
    assert_int_equal(net->layers[2].out_w, 8);
    assert_int_equal(net->layers[3].out_w, 4);
    assert_int_equal(net->layers[4].out_w, 8);
    assert_int_equal(net->layers[5].out_w, 4);
    assert_int_equal(net->layers[5].out_c, 4);
    free_network(net);
}

/* ---- learning-rate policies ---- */

static double rate_at(network *net, size_t b)
{
    net->seen = b * (size_t)net->batch * (size_t)net->subdivisions;
    return network_current_rate(net);
}

/* The rate is a float computed from float cfg values: 1e-6 relative, more where the closed form
 * amplifies rounding (poly near max_batches: d(1-b/m)^p relative = p * rel(b/m) * b/(m-b)). */
static void expect_rate_tol(network *net, size_t b, double want, double rtol)
{
    double got = rate_at(net, b);
    if (fabs(got - want) > rtol * fabs(want) + 1e-12)
        fail_msg("batch %zu: rate %.9g, expected %.9g", b, got, want);
}

static void expect_rate(network *net, size_t b, double want) { expect_rate_tol(net, b, want, 1e-6); }

static network *policy_net(const char *keys)
{
    char cfg[1024];
    snprintf(cfg, sizeof(cfg), "[net]\nbatch=8\nsubdivisions=2\nwidth=2\nheight=2\nchannels=1\n"
             "learning_rate=0.1\n%s[conv]\n", keys);
    return tu_net_from_text(cfg, 0);
}

static void policy_constant(void **st)
{
    (void)st;
    network *net = policy_net("policy=constant\n");
    for (size_t b = 0; b < 1000; b += 97) expect_rate(net, b, 0.1);
    free_network(net);
}

static void policy_step(void **st)
{
    (void)st;
    network *net = policy_net("policy=step\nstep=100\nscale=0.5\n");
    for (size_t b = 0; b < 1000; b += 37) expect_rate(net, b, 0.1 * pow(0.5, (double)(b / 100)));
    free_network(net);
}

static void policy_steps(void **st)
{
    (void)st;
    network *net = policy_net("policy=steps\nsteps=100,250,400\nscales=.1,3,.5\n");
    for (size_t b = 0; b < 600; b += 7) {
        double r = 0.1;
        if (b >= 100) r *= .1;
        if (b >= 250) r *= 3;
        if (b >= 400) r *= .5;
        expect_rate(net, b, r);
    }
    expect_rate(net, 99, 0.1);
    expect_rate(net, 100, 0.01);
    free_network(net);
}

static void policy_exp(void **st)
{
    (void)st;
    network *net = policy_net("policy=exp\ngamma=0.99\n");
    for (size_t b = 0; b < 500; b += 23) expect_rate(net, b, 0.1 * pow((double)0.99f, (double)b)); /* gamma is stored as float */
    free_network(net);
}

static void policy_poly(void **st)
{
    (void)st;
    network *net = policy_net("policy=poly\npower=2\nmax_batches=1000\n");
    for (size_t b = 0; b < 1000; b += 41)
        expect_rate_tol(net, b, 0.1 * pow(1 - b / 1000.0, 2), 1e-6 * (1 + 2.0 * b / (1000.0 - b)));
    expect_rate(net, 1000, 0);
    free_network(net);
}

static void policy_sigmoid(void **st)
{
    (void)st;
    network *net = policy_net("policy=sigmoid\ngamma=0.05\nstep=300\n");
    for (size_t b = 0; b < 700; b += 29) expect_rate(net, b, 0.1 / (1 + exp(0.05 * ((double)b - 300))));
    free_network(net);
}

static void policy_burn_in(void **st)
{
    (void)st;
    network *net = policy_net("policy=steps\nsteps=500\nscales=.1\nburn_in=200\npower=3\n");
    for (size_t b = 0; b < 200; b += 13) expect_rate(net, b, 0.1 * pow(b / 200.0, 3));
    expect_rate(net, 200, 0.1);
    expect_rate(net, 499, 0.1);
    expect_rate(net, 500, 0.01);
    free_network(net);
}

/* sgdr as AlexeyAB defines it (his get_current_rate and parser): cosine annealing from
 * learning_rate down to learning_rate_min over a cycle of sgdr_cycle batches (default
 * max_batches), each next cycle sgdr_mult times longer. A cycle includes its last batch: the
 * rate reaches the minimum at batch C and restarts at C + 1. Closed form for mult = 2: the
 * cycles end at C (2^k - 1), so batch b > 0 lies in cycle k = ceil(log2(b / C + 1)) - 1,
 * which started at C (2^k - 1) and lasts C 2^k. */
static double sgdr_rate(size_t b, double cyc, double lr, double lo)
{
    int k = b ? (int)ceil(log2((double)b / cyc + 1) - 1e-12) - 1 : 0;
    if (k < 0) k = 0;
    double start = cyc * (pow(2, k) - 1), len = cyc * pow(2, k);
    return lo + 0.5 * (lr - lo) * (1 + cos(M_PI * ((double)b - start) / len));
}

static void policy_sgdr(void **st)
{
    (void)st;
    network *net = policy_net("policy=sgdr\nsgdr_cycle=100\nsgdr_mult=2\nlearning_rate_min=0.001\n");
    for (size_t b = 0; b < 1600; b += 11) expect_rate(net, b, sgdr_rate(b, 100, 0.1, 0.001));
    expect_rate(net, 100, 0.001);                                  /* end of the first cycle */
    expect_rate(net, 101, 0.001 + 0.5 * 0.099 * (1 + cos(M_PI / 200))); /* restart, 2x longer */
    expect_rate(net, 300, 0.001);
    expect_rate(net, 301, sgdr_rate(301, 100, 0.1, 0.001));
    free_network(net);
    /* no sgdr_cycle: one cycle is max_batches long */
    net = policy_net("policy=sgdr\nmax_batches=300\nlearning_rate_min=0.002\n");
    for (size_t b = 0; b < 1000; b += 7) expect_rate(net, b, sgdr_rate(b, 300, 0.1, 0.002));
    expect_rate(net, 150, 0.002 + 0.5 * 0.098);
    expect_rate(net, 300, 0.002);
    free_network(net);
}

/* random: lr * u^power with u uniform in [0,1) (pjreddie). Closed form of the distribution:
 * with power=1, E[rate/lr] = 1/2 and Var = 1/12, so the mean of 4000 draws lies within
 * 4 sigma = 4*sqrt(1/12/4000) = 0.018 of 0.5; and P(rate/lr < 0.25) = 0.25 likewise. */
static void policy_random(void **st)
{
    (void)st;
    network *net = policy_net("policy=random\npower=1\n");
    double sum = 0;
    int low = 0, n = 4000;
    for (int b = 0; b < n; ++b) {
        double r = rate_at(net, (size_t)b) / 0.1;
        assert_true(r >= 0 && r <= 1);
        sum += r;
        low += r < 0.25;
        assert_true(rate_at(net, (size_t)b) / 0.1 == r); /* same batch, same rate (resumable) */
    }
    assert_true(fabs(sum / n - 0.5) < 0.018);
    assert_true(fabs((double)low / n - 0.25) < 4 * sqrt(0.25 * 0.75 / n));
    free_network(net);
}

/* ---- errors: file, line, key and what is allowed ---- */

static void expect_error(const char *cfg, const char *line, const char *key, const char *allowed)
{
    const char *e = tu_net_error(cfg);
    expect_contains(e, "bad.cfg");
    expect_contains(e, line);
    expect_contains(e, key);
    expect_contains(e, allowed);
}

static void error_negative_filters(void **st)
{
    (void)st;
    expect_error(NETHDR "[convolutional]\nsize=3\nfilters=-4\n", ":8:", "filters=-4", "allowed 1..");
}

static void error_size_zero(void **st)
{
    (void)st;
    expect_error(NETHDR "[convolutional]\nsize=0\n", ":7:", "size=0", "allowed 1..");
    expect_error(NETHDR "[maxpool]\nsize=0\n", ":7:", "size=0", "allowed 1..");
}

static void error_unknown_activation(void **st)
{
    (void)st;
    expect_error(NETHDR "[convolutional]\nactivation=sparkly\n", ":7:", "activation=sparkly", "leaky");
    expect_error(NETHDR "[convolutional]\nactivation=sparkly\n", ":7:", "activation", "mish");
}

static void error_route_out_of_range(void **st)
{
    (void)st;
    expect_error(NETHDR "[conv]\n[route]\nlayers=5\n", ":8:", "layers=5", "0..0");
    expect_error(NETHDR "[conv]\n[route]\nlayers=-3\n", ":8:", "layers=-3", "out of range");
    expect_error(NETHDR "[conv]\n[route]\nlayers=1\n", ":8:", "layers=1", "0..0"); /* itself */
}

static void error_shortcut_out_of_range(void **st)
{
    (void)st;
    expect_error(NETHDR "[conv]\n[conv]\n[shortcut]\nfrom=-5\n", ":9:", "from=-5", "0..1");
    expect_error(NETHDR "[conv]\n[shortcut]\nfrom=1\n", ":8:", "from=1", "out of range");
}

static void error_bad_actnn_bits(void **st)
{
    (void)st;
    expect_error(NETHDR "actnn_bits=3\n[conv]\n", ":6:", "actnn_bits=3", "1, 2, 4, 8, 16, 32");
    expect_error(NETHDR "[conv]\nactnn_bits=64\n", ":7:", "actnn_bits=64", "1, 2, 4, 8, 16, 32");
    expect_error(NETHDR "[conv]\nfilters=2\nactnn_bits=0\n", ":8:", "actnn_bits=0", "1, 2, 4, 8, 16, 32");
    expect_error(NETHDR "[conv]\nactnn_bits=two\n", ":7:", "actnn_bits=two", "integer");
}

static void error_bad_actnn_group(void **st)
{
    (void)st;
    expect_error(NETHDR "actnn=1\nactnn_group=48\n[conv]\n", ":7:", "actnn_group=48", "multiple of 32");
    expect_error(NETHDR "actnn=1\nactnn_group=16\n[conv]\n", ":7:", "actnn_group=16", "multiple of 32");
    network *net = tu_net_from_text(NETHDR "actnn=1\nactnn_group=96\n[conv]\n", 0);
    assert_int_equal(net->actnn_group, 96);
    assert_int_equal(net->actnn_bits, 2);
    free_network(net);
}

static void error_no_input_size(void **st)
{
    (void)st;
    const char *e = tu_net_error("[net]\nbatch=1\n[conv]\n");
    expect_contains(e, "No input parameters supplied");
    expect_contains(e, "bad.cfg");
}

static void error_steps_without_scales(void **st)
{
    (void)st;
    expect_error(NETHDR "policy=steps\nsteps=1,2\n[conv]\n", ":", "steps", "scales");
    expect_error(NETHDR "policy=steps\nsteps=1,2\nscales=.1\n[conv]\n", ":8:", "scales", "2");
    expect_error(NETHDR "policy=warp\n[conv]\n", ":6:", "policy=warp", "sigmoid");
}

static void error_not_a_number(void **st)
{
    (void)st;
    expect_error(NETHDR "[conv]\nfilters=3x\n", ":7:", "filters=3x", "integer");
    expect_error(NETHDR "learning_rate=fast\n[conv]\n", ":6:", "learning_rate=fast", "number");
    expect_error(NETHDR "[route]\nlayers=-1,a\n", ":7:", "layers", "'a'");
}

int main(void)
{
    darknet_set_seed(3);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whitespace_is_removed),
        cmocka_unit_test(comments_and_empty_lines),
        cmocka_unit_test(not_key_value_is_an_error),
        cmocka_unit_test(bad_line_is_quoted_safely),
        cmocka_unit_test(first_section_must_be_net),
        cmocka_unit_test(unused_field_warning),
        cmocka_unit_test(unknown_section_warns),
        cmocka_unit_test(products_shapes),
        cmocka_unit_test(anchors_beyond_num),
        cmocka_unit_test(section_aliases),
        cmocka_unit_test(lists_and_hash_ends_list),
        cmocka_unit_test(first_duplicate_wins),
        cmocka_unit_test(negative_index_is_relative),
        cmocka_unit_test(net_defaults),
        cmocka_unit_test(minibatch_is_batch_over_subdivisions),
        cmocka_unit_test(pad_overrides_padding_and_sizes),
        cmocka_unit_test(policy_constant),
        cmocka_unit_test(policy_step),
        cmocka_unit_test(policy_steps),
        cmocka_unit_test(policy_exp),
        cmocka_unit_test(policy_poly),
        cmocka_unit_test(policy_sigmoid),
        cmocka_unit_test(policy_burn_in),
        cmocka_unit_test(policy_sgdr),
        cmocka_unit_test(policy_random),
        cmocka_unit_test(error_negative_filters),
        cmocka_unit_test(error_size_zero),
        cmocka_unit_test(error_unknown_activation),
        cmocka_unit_test(error_route_out_of_range),
        cmocka_unit_test(error_shortcut_out_of_range),
        cmocka_unit_test(error_bad_actnn_bits),
        cmocka_unit_test(error_bad_actnn_group),
        cmocka_unit_test(error_no_input_size),
        cmocka_unit_test(error_steps_without_scales),
        cmocka_unit_test(error_not_a_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
