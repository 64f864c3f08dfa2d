/* Device placement (core/place.h) through the simulated device (backend/cpu/devsim.c).
 *
 * devsim hands out tagged pointers that fault when anything outside the backend
 * dereferences them, and computes with the CPU backend's ops. The oracle is the same
 * network on the CPU backend: for the same cfg, weights, input, truth and seed, a network
 * placed on devsim must give bit-identical costs, outputs, saved weights and training
 * state after several SGD/adam steps. A crash (SIGSEGV) means some code reached device
 * memory directly; a difference means a copy between host and device is missing or stale.
 * The cfgs cover every layer type (conv with and without batch norm, connected with batch
 * norm, [batchnorm], [activation], maxpool, avgpool, dropout, route with a zero-copy
 * concat and with groups, shortcut, upsample, reorg, reorg3d, scale_channels, sam, crop,
 * softmax, cost, yolo, region)
 * at 32 bits, 2 bits, actnn_auto (whole-batch and streamed) and with streamed segments
 * forced on, and a conv borrowing part of its saved input from another layer's save.
 *
 * On a machine with a GPU (scripts/gpu_check.sh, GPU build): DN_TEST_DEVICE=cuda places
 * the second network on CUDA device 0 instead, and DN_TEST_TOL=1e-4 compares costs,
 * outputs and weights within that relative error (a different summation order) instead
 * of bit for bit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/finite_check.h"
#include "core/network.h"
#include "core/place.h"
#include "core/train_state.h"
#include "memory/memreport.h"
#include "memory/saved.h"
#include "memory/saved_internal.h"
#include "common/testutil.h"

#define BATCH 4
#define STEPS 3

static const char *cfg_yolo =
    "[net]\nbatch=4\nwidth=32\nheight=32\nchannels=3\nlearning_rate=0.01\nmomentum=0.9\n"
    "decay=0.0005\nburn_in=0\nmax_batches=10\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=1\nstride=1\npad=0\nactivation=leaky\n"
    "[shortcut]\nfrom=-2\nactivation=linear\n"
    "[route]\nlayers=-1,-3\n"
    "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=24\nsize=1\nstride=1\npad=0\nactivation=linear\n"
    "[yolo]\nmask=3,4,5\nanchors=4,5, 8,9, 12,10, 16,20, 24,18, 30,30\nclasses=3\nnum=6\n"
    "jitter=0\nrandom=0\nignore_thresh=.7\n"
    "[route]\nlayers=-3\n"
    "[upsample]\nstride=2\n"
    "[route]\nlayers=-1,-9\n"
    "[convolutional]\nfilters=24\nsize=1\nstride=1\npad=0\nactivation=linear\n"
    "[yolo]\nmask=0,1,2\nanchors=4,5, 8,9, 12,10, 16,20, 24,18, 30,30\nclasses=3\nnum=6\n"
    "jitter=0\nrandom=0\nignore_thresh=.7\n";

static const char *cfg_region =
    "[net]\nbatch=4\nwidth=32\nheight=32\nchannels=3\nlearning_rate=0.01\nmomentum=0.9\n"
    "decay=0.0005\nburn_in=0\nmax_batches=10\n%s\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "[reorg]\nstride=2\n"
    "[route]\nlayers=-2\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[route]\nlayers=-1,-3\n"
    "[convolutional]\nfilters=40\nsize=1\nstride=1\npad=0\nactivation=linear\n"
    "[region]\nanchors=1,1, 2,2, 3,1, 1,3, 2,3\nbias_match=1\nclasses=3\ncoords=4\nnum=5\n"
    "softmax=1\njitter=0\nrescore=1\nobject_scale=5\nnoobject_scale=1\nclass_scale=1\n"
    "coord_scale=1\nthresh=.6\nrandom=0\n";

static const char *cfg_classify =
    "[net]\nbatch=4\nwidth=20\nheight=20\nchannels=3\nlearning_rate=0.05\nmomentum=0.9\n"
    "decay=0.0005\nmax_batches=10\n%s\n"
    "[crop]\ncrop_width=16\ncrop_height=16\nflip=0\nangle=0\nsaturation=1\nexposure=1\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "[maxpool]\nsize=2\nstride=2\n" /* a pair that streams (actnn_stream=1) */
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[batchnorm]\n"
    "[activation]\nactivation=logistic\n"
    "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=swish\n"
    "[avgpool]\n" /* squeeze-and-excitation, spatial attention, space-to-depth */
    "[convolutional]\nfilters=8\nsize=1\nstride=1\npad=0\nactivation=logistic\n"
    "[scale_channels]\nfrom=-3\n"
    "[convolutional]\nfilters=8\nsize=1\nstride=1\npad=0\nactivation=logistic\n"
    "[sam]\nfrom=-2\nactivation=leaky\n"
    "[reorg3d]\nstride=2\n"
    "[dropout]\nprobability=0.3\n"
    "[avgpool]\n"
    "[connected]\noutput=12\nbatch_normalize=1\nactivation=leaky\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\ngroups=1\n"
    "[cost]\ntype=sse\n";

/* yolov4-tiny's CSP pattern: convs 3 and 5 read routes holding layer 0's output, which
 * layer 1 saved whole, so they store only their own half (src/memory/saved_share.c);
 * LENDER: keys of layer 1 (at 32 bits it lends its kept input, a pointer into the arena). */
#define CFG_BORROW(LENDER)                                                                     \
    "[net]\nbatch=4\nwidth=16\nheight=16\nchannels=3\nlearning_rate=0.01\nmomentum=0.9\n"       \
    "decay=0.0005\nmax_batches=10\n%s\n"                                                        \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n" \
    LENDER "[route]\nlayers=-1,-2\n"                                                            \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=leaky\n" \
    "[route]\nlayers=0,-1\n"                                                                    \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n" \
    "[connected]\noutput=5\nactivation=linear\n"                                                \
    "[softmax]\n"
static const char *cfg_borrow = CFG_BORROW("");
static const char *cfg_borrow_kept = CFG_BORROW("actnn_bits=32\n");

static double tol; /* DN_TEST_TOL: 0 = bit for bit */

static const dn_backend *device_backend(void)
{
    const char *d = getenv("DN_TEST_DEVICE");
    if (!d || strcmp(d, "cuda")) return dn_backend_devsim();
    char why[160];
    const dn_backend *be = dn_backend_cuda(0, why, sizeof(why));
    if (!be) fail_msg("DN_TEST_DEVICE=cuda: %s", why);
    return be;
}

/* The network of cfg text; with actnn_stream=1, in chunks of 2 samples: these layers are
 * far below the size at which segments form by themselves, so without it no segment forms
 * and the streamed cases would test whole-batch saves again. (The plan is made at the
 * first step or reservation, after this.) */
static network *parse(const char *text)
{
    network *net = tu_net_from_text(text, BATCH);
    if (strstr(text, "actnn_stream=1")) net->stream_chunk = 2;
    return net;
}

/* The first member of a streamed segment of net, or -1. */
static int segment_member(const network *net)
{
    for (int i = 0; i < net->n; ++i)
        if (net->plan.seg_end[i] > i) return i;
    return -1;
}

static network *make(const char *fmt, const char *netkeys, int device)
{
    char text[8192];
    snprintf(text, sizeof(text), fmt, netkeys);
    network *net = parse(text);
    char err[256];
    if (device && network_place(net, device_backend(), err, sizeof(err))) fail_msg("%s", err);
    return net;
}

/* Equal bits, or within DN_TEST_TOL relative to the larger magnitude of the pair's array. */
static int differ(const float *a, const float *b, size_t n)
{
    if (tol == 0) return memcmp(a, b, n * sizeof(float)) != 0;
    return tu_rel_err(b, a, n, 1e-3) > tol;
}

/* Inputs and one truth box per sample ([yolo]/[region]) or a one-hot class. */
static void fill_batch(network *net, int step)
{
    tu_fill_uniform(net->input, (size_t)net->batch * net->inputs, 0, 1, 100 + (uint64_t)step);
    memset(net->truth, 0, sizeof(float) * (size_t)net->batch * net->truths);
    for (int b = 0; b < net->batch; ++b) {
        float *t = net->truth + (size_t)b * net->truths;
        if (net->truths == net->outputs) { /* a classifier: one-hot */
            t[(b + step) % net->outputs] = 1;
            continue;
        }
        t[0] = .3f + .1f * b;
        t[1] = .6f - .1f * step;
        t[2] = .2f + .05f * b;
        t[3] = .3f;
        t[4] = (float)((b + step) % 3);
    }
}

static void expect_same(const float *a, const float *b, size_t n, const char *what, int layer)
{
    if (!differ(a, b, n)) return;
    if (tol > 0) fail_msg("%s of layer %d: relative error %.3g > %.3g", what, layer,
                          tu_rel_err(b, a, n, 1e-3), tol);
    size_t i = 0;
    while (i < n && !memcmp(a + i, b + i, sizeof(float))) ++i;
    fail_msg("%s of layer %d differ at %zu of %zu: cpu %.9g, devsim %.9g", what, layer, i, n,
             (double)a[i], (double)b[i]);
}

static void step_both(network *a, network *b, int s, const char *what)
{
    char err[256];
    fill_batch(a, s);
    fill_batch(b, s);
    float ca = 0, cb = 0;
    if (network_train_batch(a, a->input, &ca, err, sizeof(err))) fail_msg("cpu: %s", err);
    if (network_train_batch(b, b->input, &cb, err, sizeof(err))) fail_msg("devsim: %s", err);
    if (differ(&ca, &cb, 1)) fail_msg("%s: step %d cost cpu %.9g device %.9g", what, s, ca, cb);
}

static void same_weights(network *a, network *b, const char *what)
{
    char pa[512], pb[512], err[256];
    snprintf(pa, sizeof(pa), "%s/devsim_a.weights", tu_tmpdir());
    snprintf(pb, sizeof(pb), "%s/devsim_b.weights", tu_tmpdir());
    assert_int_equal(save_weights_ex(a, pa, -1, err, sizeof(err)), 0);
    assert_int_equal(save_weights_ex(b, pb, -1, err, sizeof(err)), 0); /* pulls from the device */
    for (int i = 0; i < a->n; ++i)
        for (int k = 0; k < a->layers[i].nwf; ++k)
            expect_same(a->layers[i].wf[k].data, b->layers[i].wf[k].data, a->layers[i].wf[k].n, what, i);
}

/* Which path the device run's saves took (saved_get_paths): masks, maxpool codes, dropout
 * and tensors (1-8 bits, actnn_auto's per-sample bits, 16 bits) in device memory through
 * the backend's act_* ops, actnn_auto's costs and gradient sums computed there
 * (act_sample_stats), and nothing at all staged through the host. */
static void expect_paths(const saved_store *st, const char *fmt, const char *netkeys)
{
    saved_paths p;
    saved_get_paths(st, &p);
    int autob = strstr(netkeys, "actnn_auto=1") != NULL;
    if (p.staged != 0) fail_msg("%s: %zu copies staged through the host", netkeys, p.staged);
    if (!p.device[SAVED_MASK]) fail_msg("%s: no mask saved in device memory", netkeys);
    if (strstr(fmt, "[maxpool]") && !p.device[SAVED_CODES])
        fail_msg("%s: no maxpool codes saved in device memory", netkeys);
    if (strstr(fmt, "[dropout]") && !p.device[SAVED_DROPOUT])
        fail_msg("%s: no dropout applied in device memory", netkeys);
    if (!strstr(netkeys, "actnn_bits=32") && !p.device[SAVED_TENSOR])
        fail_msg("%s: no tensor saved in device memory", netkeys);
    if (autob && !p.stats) fail_msg("%s: actnn_auto's statistics not computed by the device", netkeys);
    if (!strstr(netkeys, "actnn_swap=1")) {
        if (p.swap_outs || p.swap_ins) fail_msg("%s: swapped without actnn_swap", netkeys);
        return;
    }
    /* every block written went to the host and came back for its backward, once */
    if (!p.swap_outs) fail_msg("%s: nothing swapped to the host", netkeys);
    if (p.swap_ins != p.swap_outs)
        fail_msg("%s: %zu blocks swapped out, %zu back", netkeys, p.swap_outs, p.swap_ins);
    /* they come back ahead of their backward (saved_prefetch), not at their first read */
    if (p.swap_prefetches == 0)
        fail_msg("%s: %zu of %zu blocks prefetched", netkeys, p.swap_prefetches, p.swap_ins);
}

/* Trains both for STEPS steps and compares costs, outputs and weights; then both load the
 * weights and optimizer state written after step 1 (pushed to the device) and take one
 * more step, which differs unless every array was sent back. */
static void compare(const char *fmt, const char *netkeys)
{
    network *a = make(fmt, netkeys, 0), *b = make(fmt, netkeys, 1);
    assert_true(b->be->device);
    char err[256], w1[512], s1[512];
    snprintf(w1, sizeof(w1), "%s/devsim_1.weights", tu_tmpdir());
    snprintf(s1, sizeof(s1), "%s/devsim_1.state", tu_tmpdir());
    for (int s = 0; s < STEPS; ++s) {
        step_both(a, b, s, netkeys);
        if (s == 0 && strstr(netkeys, "actnn_stream=1") &&
            (segment_member(a) < 0 || segment_member(b) < 0))
            fail_msg("%s: no streamed segment formed", netkeys);
        if (s == 0) { /* written from the device: the same bytes as the CPU's */
            assert_int_equal(save_weights_ex(b, w1, -1, err, sizeof(err)), 0);
            assert_int_equal(train_state_save(b, s1, err, sizeof(err)), 0);
        }
    }
    /* an inference forward: the output read back from the device */
    assert_int_equal(network_forward(a, a->input, 0), 0);
    assert_int_equal(network_forward(b, b->input, 0), 0);
    expect_same(a->output, b->output, (size_t)a->batch * a->outputs, "inference outputs", a->out_index);
    same_weights(a, b, "weights");
    for (int k = 0; k < 2; ++k) {
        network *n = k ? b : a;
        if (load_weights_ex(n, w1, 0, n->n, err, sizeof(err))) fail_msg("%s", err);
    }
    /* the loaded weights alone (pushed by load_weights_ex) give the same outputs */
    assert_int_equal(network_forward(a, a->input, 0), 0);
    assert_int_equal(network_forward(b, b->input, 0), 0);
    expect_same(a->output, b->output, (size_t)a->batch * a->outputs, "outputs after a load", a->out_index);
    for (int k = 0; k < 2; ++k) {
        network *n = k ? b : a;
        if (train_state_load(n, s1, err, sizeof(err))) fail_msg("%s", err);
    }
    step_both(a, b, STEPS, "after reloading step 1");
    same_weights(a, b, "weights after reloading step 1");
    expect_paths(b->store, fmt, netkeys);
    /* actnn_auto (L3 at 2 bits too) without streaming: the CPU took its x-hat ranges from
     * the statistics pass (bn_stats_add_minmax), the simulated device measured x-hat
     * written out, and the bytes and weights above are the same */
    saved_paths pa, pb;
    saved_get_paths(a->store, &pa);
    saved_get_paths(b->store, &pb);
    if (a->actnn_auto && !strstr(netkeys, "actnn_stream=1") && !strstr(netkeys, "actnn_bits=32") &&
        !strstr(netkeys, "actnn_bits=16") && (pa.xhat_ranges == 0 || pb.xhat_ranges != 0))
        fail_msg("%s: x-hat ranges from the statistics pass: cpu %zu, device %zu", netkeys,
                 pa.xhat_ranges, pb.xhat_ranges);
    free_network(a);
    free_network(b);
}

static void yolo_fp32(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=32"); }
static void yolo_2bit(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=2"); }
static void yolo_stream(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=2\nactnn_stream=1"); }
static void yolo_auto(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=2\nactnn_auto=1"); }
static void classify_auto_stream(void **st)
{
    (void)st;
    compare(cfg_classify, "actnn_bits=2\nactnn_auto=1\nactnn_stream=1");
}
/* Borrowed parts restored on the device: the same training as the CPU's, and the device
 * store really borrowed (layers 3 and 5 hold half of their input). */
static void borrow_on_device(void **st)
{
    (void)st;
    const char *keys[] = {"actnn_bits=2", "actnn_bits=2\nactnn_auto=1\nactnn_stream=1", "actnn_bits=2"};
    const char *cfgs[] = {cfg_borrow, cfg_borrow, cfg_borrow_kept};
    for (int k = 0; k < 3; ++k) {
        compare(cfgs[k], keys[k]);
        network *b = make(cfgs[k], keys[k], 1);
        fill_batch(b, 0);
        assert_int_equal(network_forward(b, b->input, 1), 0);
        for (int i = 3; i <= 5; i += 2) {
            saved_desc d;
            assert_int_equal(saved_describe(b->store, i, 0, &d), 0);
            if (d.shared != (size_t)b->layers[0].outputs || d.share_layer != 1)
                fail_msg("%s: layer %d borrows %zu values from %d", keys[k], i, d.shared, d.share_layer);
        }
        assert_int_equal(network_backward(b), 0);
        free_network(b);
    }
}
static void yolo_adam(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=4\nadam=1"); }
static void region_2bit(void **st) { (void)st; compare(cfg_region, "actnn_bits=2"); }
static void region_fp32(void **st) { (void)st; compare(cfg_region, "actnn_bits=32\nactnn_stream=1"); }
static void classify_fp32(void **st) { (void)st; compare(cfg_classify, "actnn_bits=32"); }
static void classify_2bit(void **st) { (void)st; compare(cfg_classify, "actnn_bits=2\nactnn_stream=1"); }
static void classify_16bit(void **st) { (void)st; compare(cfg_classify, "actnn_bits=16"); }
static void yolo_16bit(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=16\nactnn_stream=1"); }
/* actnn_swap=1: saves move to host memory once written and come back for backward; the
 * CPU's numbers, whole-batch, streamed, actnn_auto's mixed widths and 16 bits */
static void yolo_swap(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=2\nactnn_swap=1"); }
static void classify_swap_stream(void **st)
{
    (void)st;
    compare(cfg_classify, "actnn_bits=2\nactnn_stream=1\nactnn_swap=1");
}
static void yolo_swap_auto(void **st) { (void)st; compare(cfg_yolo, "actnn_bits=2\nactnn_auto=1\nactnn_swap=1"); }
static void region_swap_16(void **st) { (void)st; compare(cfg_region, "actnn_bits=16\nactnn_stream=1\nactnn_swap=1"); }

/* A network whose output layer runs on the device: its output is read back by the forward
 * (the host-only layers' outputs are on the host already). */
static void device_output_layer(void **st)
{
    (void)st;
    const char *cfg = "[net]\nbatch=4\nwidth=12\nheight=12\nchannels=3\n%s\n"
                      "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
                      "[connected]\noutput=7\nactivation=linear\n";
    network *a = make(cfg, "actnn_bits=2", 0), *b = make(cfg, "actnn_bits=2", 1);
    fill_batch(a, 0);
    fill_batch(b, 0);
    for (int train = 0; train < 2; ++train) {
        assert_int_equal(network_forward(a, a->input, train), 0);
        assert_int_equal(network_forward(b, b->input, train), 0);
        expect_same(a->output, b->output, (size_t)a->batch * a->outputs, "outputs", a->out_index);
        if (train) saved_release_all(a->store), saved_release_all(b->store);
    }
    free_network(a);
    free_network(b);
}

/* The simulated device really traps host access: a tagged pointer is not host memory. */
static void devsim_pointers_are_not_host(void **st)
{
    (void)st;
    const dn_backend *d = dn_backend_devsim();
    float host[4] = {1, 2, 3, 4}, back[4] = {0};
    float *p = d->alloc(sizeof(host), "test");
    assert_non_null(p);
    assert_true((uintptr_t)p >= ((uintptr_t)1 << 47)); /* non-canonical: a dereference faults */
    assert_int_equal(d->push(p, host, sizeof(host)), 0);
    d->scal(p, 4, 2);
    assert_int_equal(d->pull(back, p, sizeof(back)), 0);
    for (int i = 0; i < 4; ++i) assert_true(back[i] == 2 * host[i]);
    d->release(p, sizeof(host));
}

/* Placing and returning leaves the host network as it was (free_network returns it). */
static void place_and_return(void **st)
{
    (void)st;
    network *a = make(cfg_classify, "actnn_bits=2", 0), *b = make(cfg_classify, "actnn_bits=2", 1);
    char err[256];
    assert_true(b->nplaced > 0);
    assert_int_equal(network_place(b, dn_backend_cpu(), err, sizeof(err)), 0);
    assert_int_equal(b->nplaced, 0);
    assert_false(b->be->device);
    fill_batch(a, 0);
    fill_batch(b, 0);
    float ca = 0, cb = 0;
    assert_int_equal(network_train_batch(a, a->input, &ca, err, sizeof(err)), 0);
    assert_int_equal(network_train_batch(b, b->input, &cb, err, sizeof(err)), 0);
    assert_memory_equal(&ca, &cb, sizeof(ca));
    free_network(a);
    free_network(b);
}

/* A host-only layer with 17 sources (a [route] marked host-only, concat off so it copies):
 * every source's output must reach the host mirror before the call and every source's
 * delta must go back after it. A source left out (the 17th is the first conv, whose
 * output feeds only the route) would leave a zero or stale slice in the route's output and
 * no delta to its conv: the costs or the weights would differ from the CPU's. */
static void many_sources_host_only(void **st)
{
    (void)st;
    char text[8192], srcs[128] = "";
    int len = snprintf(text, sizeof(text), "[net]\nbatch=4\nwidth=4\nheight=4\nchannels=2\n"
                       "learning_rate=0.1\nmomentum=0.9\nactnn_concat=0\n%%s\n");
    for (int k = 0; k < 17; ++k) {
        len += snprintf(text + len, sizeof(text) - (size_t)len,
                        "[convolutional]\nfilters=2\nsize=1\nstride=1\npad=0\nactivation=leaky\n");
        snprintf(srcs + strlen(srcs), sizeof(srcs) - strlen(srcs), "%s%d", k ? "," : "", -1 - k);
    }
    snprintf(text + len, sizeof(text) - (size_t)len,
             "[route]\nlayers=%s\n[connected]\noutput=5\nactivation=linear\n[softmax]\n", srcs);
    network *a = make(text, "actnn_bits=32", 0), *b = make(text, "actnn_bits=32", 1);
    static layer_ops host_route;
    int r = 17;
    assert_int_equal(a->layers[r].nsrc, 17);
    host_route = *a->layers[r].ops;
    host_route.host_only = 1;
    a->layers[r].ops = b->layers[r].ops = &host_route;
    for (int s = 0; s < STEPS; ++s) step_both(a, b, s, "17 sources");
    same_weights(a, b, "weights (17 sources)");
    free_network(a);
    free_network(b);
}

/* The per-iteration NaN check on a device (finite_check.h): the weights are scanned there
 * and only the marks come back. A NaN written into the device copy of a layer's weights is
 * found in that layer while its host mirror still holds the old, finite value (nothing was
 * pulled); the NaN watch, fed a NaN input, names the same layer and phase as the CPU's
 * hooks do. The oracle for both is the CPU network. */
static void nan_check_on_device(void **st)
{
    (void)st;
    /* 32 bits: a NaN to quantize would stop the forward before the watch sees it */
    network *a = make(cfg_classify, "actnn_bits=32", 0), *b = make(cfg_classify, "actnn_bits=32", 1);
    step_both(a, b, 0, "before the NaN check");
    assert_int_equal(finite_check_weights(b), -1);
    int L = 0; /* the first [connected]: output=12 with batch norm */
    while (L < b->n && b->layers[L].type != LT_CONNECTED) ++L;
    assert_int_equal(b->layers[L].type, LT_CONNECTED);
    const wfile_entry *e = &b->layers[L].wf[b->layers[L].nwf - 1];
    float *d = place_dev_of(b, e->data + 3);
    assert_non_null(d);
    float nan = NAN, before = e->data[3];
    assert_int_equal(b->be->push(d, &nan, sizeof(nan)), 0);
    assert_int_equal(finite_check_weights(b), L);
    assert_memory_equal(&e->data[3], &before, sizeof(before)); /* the mirror was not pulled */
    assert_int_equal(b->be->push(d, &before, sizeof(before)), 0);
    assert_int_equal(finite_check_weights(b), -1); /* the marks were cleared */
    finite_watch wa, wb;
    finite_watch_attach(a, &wa);
    finite_watch_attach(b, &wb);
    char err[256];
    float ca = 0, cb = 0;
    for (int k = 0; k < 2; ++k) {
        network *n = k ? b : a;
        fill_batch(n, 1);
        n->input[210] = NAN; /* sample 0, inside the crop window */
        assert_int_equal(network_train_batch(n, n->input, k ? &cb : &ca, err, sizeof(err)), 0);
    }
    assert_int_equal(finite_check_iteration(a, &wa), finite_check_iteration(b, &wb));
    assert_true(wa.layer >= 0);
    assert_int_equal(wb.layer, wa.layer);
    assert_string_equal(wb.phase, wa.phase);
    free_network(a);
    free_network(b);
}

/* Saved activations in device memory (backend act_save, act_mask_save, act_codes_save;
 * saved.c): after a training forward, every quantized tensor (1, 2, 4 and 16 bits, and
 * actnn_auto's per-sample bits), 1-bit mask and maxpool codes of the devsim network lives
 * in device memory and holds exactly the bytes the CPU network's host library stored
 * (actnn_tensor_raw, actnn_mask_raw, actnn_codes_raw: the oracle), payload and group
 * metadata; whole-batch saves (yolo) and streamed, chunked ones (actnn_stream=1). The
 * actnn_auto runs (a fixed seed: weights are drawn from it) take one training step first,
 * so the per-layer allocation has given the slots fractional averages (a streamed save
 * splits them between samples); the CPU oracle must hold a tensor whose samples have
 * different widths, or the case proves nothing. The backward that follows restores from them, and the costs and weights of
 * compare() show it restores the CPU's values. */
static int mixed_widths(const saved_store *s)
{
    int mixed = 0;
    for (int i = 0; i < s->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k) {
            const actnn_tensor *t = s->st[i].e[k].t;
            int b0 = 0, bn = 0;
            if (!t || actnn_tensor_sample_bits(t, 0, &b0)) continue;
            for (size_t n = 1; n < (size_t)BATCH && !actnn_tensor_sample_bits(t, n, &bn); ++n)
                if (bn != b0) {
                    ++mixed;
                    break;
                }
        }
    return mixed;
}

static void saved_bytes_match_cpu(void **st)
{
    (void)st;
    const char *cfgs[] = {cfg_yolo, cfg_classify, cfg_region, cfg_yolo, cfg_yolo, cfg_classify};
    const char *keys[] = {"actnn_bits=2", "actnn_bits=4\nactnn_stream=1", "actnn_bits=1",
                          "actnn_bits=16\nactnn_stream=1", "actnn_bits=2\nactnn_auto=1",
                          "actnn_bits=4\nactnn_auto=1\nactnn_stream=1"};
    for (int c = 0; c < 6; ++c) {
        int autob = strstr(keys[c], "actnn_auto=1") != NULL;
        uint64_t seed = darknet_get_seed(); /* the process's (time-based unless set) */
        if (autob) darknet_set_seed(7); /* weights whose allocation mixes widths (checked) */
        network *a = make(cfgs[c], keys[c], 0), *b = make(cfgs[c], keys[c], 1);
        darknet_set_seed(seed);
        if (autob) step_both(a, b, 0, keys[c]);
        fill_batch(a, autob);
        fill_batch(b, autob);
        assert_int_equal(network_forward(a, a->input, 1), 0);
        assert_int_equal(network_forward(b, b->input, 1), 0);
        int ndev = 0, nkind[SAVED_DROPOUT + 1] = {0};
        for (int i = 0; i < a->n; ++i)
            for (int k = 0; k < SV_SLOTS; ++k) {
                saved_raw_bytes ra, rb;
                int ha = saved_raw(a->store, i, k, &ra), hb = saved_raw(b->store, i, k, &rb);
                assert_int_equal(ha, hb);
                if (ha) continue;
                assert_false(ra.on_device);
                assert_true(rb.on_device);
                assert_int_equal(ra.payload_bytes, rb.payload_bytes);
                assert_int_equal(ra.meta_bytes, rb.meta_bytes);
                char *hp = malloc(rb.payload_bytes + 1), *hm = malloc(rb.meta_bytes + 1);
                assert_int_equal(b->be->pull(hp, rb.payload, rb.payload_bytes), 0);
                assert_int_equal(b->be->pull(hm, rb.meta, rb.meta_bytes), 0);
                /* masks, codes and 16-bit tensors have no metadata (meta may be NULL) */
                if (memcmp(hp, ra.payload, ra.payload_bytes) ||
                    (ra.meta_bytes && memcmp(hm, ra.meta, ra.meta_bytes)))
                    fail_msg("%s: layer %d slot %d: device bytes differ from the CPU's", keys[c], i, k);
                free(hp);
                free(hm);
                saved_desc de;
                assert_int_equal(saved_describe(b->store, i, k, &de), 0);
                ++nkind[de.kind];
                ++ndev;
            }
        if (nkind[SAVED_TENSOR] < 3 || !nkind[SAVED_MASK] ||
            (!nkind[SAVED_CODES] && strstr(cfgs[c], "[maxpool]")))
            fail_msg("%s: %d tensors, %d masks, %d codes compared in device memory", keys[c],
                     nkind[SAVED_TENSOR], nkind[SAVED_MASK], nkind[SAVED_CODES]);
        if (autob && mixed_widths(a->store) < 1)
            fail_msg("%s: %d tensors with per-sample widths compared", keys[c], mixed_widths(a->store));
        saved_release_all(a->store);
        saved_release_all(b->store);
        free_network(a);
        free_network(b);
    }
}

/* actnn_auto's inputs on a device (act_sample_stats, saved_sample_stats): the per-sample
 * costs (sum of squared group ranges) of every slot and the layers' gradient factors
 * (sums of squared deltas) are computed where the data is, and only these doubles come
 * back. The oracle: the CPU network's store, computed by the host library from host
 * memory; every cost and factor must be the same double, whole-batch and streamed. */
static void auto_stats_match_cpu(void **st)
{
    (void)st;
    const char *cfgs[] = {cfg_yolo, cfg_classify};
    const char *keys[] = {"actnn_bits=2\nactnn_auto=1", "actnn_bits=4\nactnn_auto=1\nactnn_stream=1"};
    for (int c = 0; c < 2; ++c) {
        network *a = make(cfgs[c], keys[c], 0), *b = make(cfgs[c], keys[c], 1);
        step_both(a, b, 0, keys[c]);
        int ncost = 0, nsens = 0;
        for (int i = 0; i < a->n; ++i)
            for (int k = 0; k < SV_SLOTS; ++k) {
                const sv_auto *x = &a->store->st[i].a[k], *y = &b->store->st[i].a[k];
                assert_int_equal(x->n, y->n);
                if (x->n && memcmp(x->cost, y->cost, x->n * sizeof(double)))
                    fail_msg("%s: layer %d slot %d: device costs differ from the CPU's", keys[c], i, k);
                if (memcmp(&x->sens, &y->sens, sizeof(double)))
                    fail_msg("%s: layer %d slot %d: factor cpu %.17g device %.17g", keys[c], i, k,
                             x->sens, y->sens);
                ncost += x->n > 0;
                nsens += x->sens >= 0;
            }
        saved_paths p;
        saved_get_paths(b->store, &p);
        if (ncost < 3 || nsens < 2 || !p.stats)
            fail_msg("%s: %d costs, %d factors compared, %zu device statistics", keys[c], ncost,
                     nsens, p.stats);
        /* the gradient sums stayed on the device until the backward ended: one pull for
         * all of them, not a wait for the device per layer (saved_stats_flush) */
        if (b->store->grad_pulls != 1 || b->store->grad_noted < (size_t)nsens)
            fail_msg("%s: %zu pulls of gradient sums for %zu queued, %d factors", keys[c],
                     b->store->grad_pulls, b->store->grad_noted, nsens);
        /* and the saves' costs too, recorded from one pull (saved_stats_flush) */
        if (b->store->cost_pulls != 1 || b->store->cost_noted < (size_t)ncost)
            fail_msg("%s: %zu pulls of costs for %zu queued, %d costs", keys[c],
                     b->store->cost_pulls, b->store->cost_noted, ncost);
        free_network(a);
        free_network(b);
    }
}

/* actnn_auto on a device waits for it no more than uniform bits do, but for the two
 * pulls at the end of the backward: the saves' costs stay on the device, where the
 * widths are chosen from them (act_auto_bits), instead of a pull of the costs and a push
 * of the widths per save. The oracle: devsim's count of synchronous copies (each a wait
 * on a GPU) of the same network at uniform bits, whole-batch and streamed. The widths
 * themselves are the CPU's (saved_bytes_match_cpu compares the bytes). */
static void auto_adds_no_wait(void **st)
{
    (void)st;
    const char *cfgs[] = {cfg_yolo, cfg_classify};
    const char *keys[][2] = {{"actnn_bits=2\nactnn_auto=0", "actnn_bits=2\nactnn_auto=1"},
                             {"actnn_bits=4\nactnn_auto=0\nactnn_stream=1",
                              "actnn_bits=4\nactnn_auto=1\nactnn_stream=1"}};
    for (int c = 0; c < 2; ++c) {
        size_t fwd[2][2], step[2][2], noted = 0, saves = 0, pulls = 0; /* [auto][push, pull] */
        for (int au = 0; au < 2; ++au) {
            network *b = make(cfgs[c], keys[c][au], 1);
            char err[256];
            float cost = 0;
            size_t p0, q0, p1, q1;
            for (int s = 0; s < 3; ++s) { /* the last step after an allocation moved bits */
                fill_batch(b, s);
                dn_devsim_copies(&p0, &q0);
                if (network_train_batch(b, b->input, &cost, err, sizeof(err))) fail_msg("%s", err);
                dn_devsim_copies(&p1, &q1);
                step[au][0] = p1 - p0;
                step[au][1] = q1 - q0;
            }
            fill_batch(b, 3);
            dn_devsim_copies(&p0, &q0);
            assert_int_equal(network_forward(b, b->input, 1), 0);
            dn_devsim_copies(&p1, &q1);
            fwd[au][0] = p1 - p0;
            fwd[au][1] = q1 - q0;
            if (au) {
                noted = b->store->cost_noted;
                saves = b->store->dev_kind[SK_TENSOR];
                pulls = b->store->cost_pulls;
            }
            free_network(b);
        }
        if (fwd[1][0] != fwd[0][0] || fwd[1][1] != fwd[0][1])
            fail_msg("%s: a training forward pushes %zu and pulls %zu times, at uniform bits %zu and %zu",
                     keys[c][1], fwd[1][0], fwd[1][1], fwd[0][0], fwd[0][1]);
        if (step[1][0] != step[0][0] || step[1][1] != step[0][1] + 2)
            fail_msg("%s: a step pushes %zu and pulls %zu times, at uniform bits %zu and %zu (+2)",
                     keys[c][1], step[1][0], step[1][1], step[0][0], step[0][1]);
        if (noted < 6 || saves < 6 || pulls != 3)
            fail_msg("%s: %zu costs noted in %zu device saves, %zu pulls of them in 3 steps",
                     keys[c][1], noted, saves, pulls);
    }
}

/* Whether actnn_auto moved any layer's bits away from `bits` (else a test of its moving
 * bits tested nothing). */
static int auto_moved(const network *net, double bits)
{
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < SV_SLOTS; ++k) {
            double v = saved_auto_bits(net->store, i, k);
            if (v > 0 && v != bits) return 1;
        }
    return 0;
}

/* The device pool of saved tensors is made once: the first iteration's tensors take
 * blocks of their own and size the pool; later iterations of the same mini-batch take
 * every tensor from it (no new block) and the device memory in use stays the same.
 * Also under actnn_auto (L3) reallocating its bits after every step, for AUTO_STEPS
 * steps: the pool grows to the first iteration's bound (saved.c dpool_take), not to
 * what it asked, so bits moving to other layers later find room. */
#define AUTO_STEPS 12
static void device_pool_once(void **st)
{
    (void)st;
    const char *keys[] = {"actnn_bits=2\nactnn_auto=0", "actnn_bits=2\nactnn_auto_interval=1"};
    for (int c = 0; c < 2; ++c) {
        network *a = make(cfg_yolo, keys[c], 0), *b = make(cfg_yolo, keys[c], 1);
        size_t own[AUTO_STEPS], used[AUTO_STEPS], peak;
        int steps = c ? AUTO_STEPS : STEPS;
        for (int s = 0; s < steps; ++s) {
            step_both(a, b, s, keys[c]);
            own[s] = b->store->dev_own_blocks;
            b->be->mem_info(&peak, &used[s]);
        }
        assert_true(own[0] > 0);
        assert_non_null(b->store->dpool);
        assert_true(b->store->dpool_bytes > 0);
        for (int s = 1; s < steps; ++s)
            if (own[s] != own[0] || used[s] != used[1])
                fail_msg("%s: step %d: %zu own blocks (step 0: %zu), %zu bytes in use (step 1: "
                         "%zu)", keys[c], s, own[s], own[0], used[s], used[1]);
        if (c && !auto_moved(b, 2.0)) fail_msg("%s: no layer's bits moved", keys[c]);
        free_network(a);
        free_network(b);
    }
}

/* The simulated device with every allocation counted (the oracle for "allocates nothing"). */
static size_t n_allocs, stat_bytes;
static void *counted_alloc(size_t bytes, const char *what)
{
    ++n_allocs;
    if (strstr(what, "actnn_auto's")) stat_bytes += bytes; /* saved_devstats.c's vectors */
    return dn_backend_devsim()->alloc(bytes, what);
}

/* The device pool is made at plan time (memreport_reserve_saved, as the train commands do
 * before the first batch) from the plan's saved bytes: after it, training steps make no
 * device allocation at all (no pool growth, no block of its own, no pool made again at
 * every iteration) and train as the CPU does. The pool is exactly what an iteration takes
 * (the plan equals what was asked) at uniform bits: whole-batch, streamed and 16-bit runs.
 * actnn_auto (L3, whole-batch and streamed) reallocates its bits after every step
 * (actnn_auto_interval=1), moving them between layers, for AUTO_STEPS steps: its pool
 * holds the bound of saved.c's auto_slack, so it never grows either. Its statistics
 * vectors are reserved then too, the bytes the device plan counts (stats_mib). */
static void device_pool_from_plan(void **st)
{
    (void)st;
    static dn_backend counted;
    counted = *dn_backend_devsim();
    counted.alloc = counted_alloc;
    const char *cfgs[] = {cfg_yolo, cfg_classify, cfg_region, cfg_yolo, cfg_classify};
    const char *keys[] = {"actnn_bits=2\nactnn_auto=0", "actnn_bits=4\nactnn_stream=1", "actnn_bits=16",
                          "actnn_bits=2\nactnn_auto=1\nactnn_auto_interval=1",
                          "actnn_bits=2\nactnn_auto_interval=1\nactnn_stream=1"};
    for (int c = 0; c < 5; ++c) {
        int autob = c >= 3, steps = autob ? AUTO_STEPS : STEPS;
        char text[8192], err[256];
        snprintf(text, sizeof(text), cfgs[c], keys[c]);
        network *a = parse(text), *b = parse(text);
        if (network_place(b, &counted, err, sizeof(err))) fail_msg("%s", err);
        /* actnn_auto's statistics vectors: reserved here, as `memory -gpu` plans them (the
         * plan first: its dry run is not part of what training allocates) */
        mem_summary ms;
        assert_int_equal(memreport_plan(b, &ms, NULL, err, sizeof(err)), 0);
        stat_bytes = 0;
        if (memreport_reserve_saved(b, err, sizeof(err))) fail_msg("%s", err);
        if (stat_bytes != ms.stats || (c == 3 && ms.stats == 0))
            fail_msg("%s: statistics reserved %zu bytes, planned %zu", keys[c], stat_bytes, ms.stats);
        size_t planned = b->store->dpool_bytes, before = n_allocs, own = b->store->dev_own_blocks;
        assert_true(planned > 0);
        for (int s = 0; s < steps; ++s) {
            step_both(a, b, s, keys[c]);
            if (n_allocs != before)
                fail_msg("%s: %zu device allocations in training step %d (pool %zu bytes, "
                         "asked %zu)", keys[c], n_allocs - before, s, planned, b->store->dpool_want);
            assert_int_equal(b->store->dev_own_blocks, own);
        }
        assert_int_equal(b->store->dpool_bytes, planned);
        if (autob) {
            /* the allocation did move bits (else nothing above was tested) */
            if (!auto_moved(b, 2.0)) fail_msg("%s: no layer's bits moved in %d steps", keys[c], steps);
            free_network(a);
            free_network(b);
            continue;
        }
        /* a training forward takes the whole pool: the plan is what an iteration asks */
        assert_int_equal(network_forward(b, b->input, 1), 0);
        if (b->store->dpool_top != planned) fail_msg("%s: the forward took %zu of the %zu planned", keys[c], b->store->dpool_top, planned);
        saved_release_all(b->store);
        free_network(a);
        free_network(b);
    }
}

/* actnn_swap=1 holds in device memory only the window of blocks being written or read
 * back. The window is made at plan time (memreport_reserve_saved: the largest two
 * neighbouring units' device bytes) and never grows: no device allocation in any step,
 * which needs the window's two sides (swap_window.h; one-sided first fit fragmented it
 * here, and the first backward took a block of its own). The window is smaller than the
 * pool the same run takes without swap (the sum of every saved block), and the device's
 * bytes in use lower by the difference, while the host holds what the pool held.
 * Whole-batch and streamed, uniform bits and actnn_auto's per-sample bits (whose widths
 * keep each tensor within its bound) reallocated every step. */
static void swap_window_steady(void **st)
{
    (void)st;
    static dn_backend counted;
    counted = *dn_backend_devsim();
    counted.alloc = counted_alloc;
    const char *cfgs[] = {cfg_yolo, cfg_classify, cfg_yolo, cfg_classify};
    const char *keys[] = {"actnn_bits=2\nactnn_auto=0", "actnn_bits=2\nactnn_auto=0\nactnn_stream=1",
                          "actnn_bits=2\nactnn_auto_layers=0\nactnn_auto_interval=1",
                          "actnn_bits=2\nactnn_auto_layers=0\nactnn_auto_interval=1\nactnn_stream=1"};
    for (int c = 0; c < 4; ++c) {
        int autob = c >= 2, steps = autob ? AUTO_STEPS : STEPS;
        char text[8192], err[256], swapkeys[256];
        snprintf(swapkeys, sizeof(swapkeys), "%s\nactnn_swap=1", keys[c]);
        network *net[2];
        size_t peak;
        for (int k = 0; k < 2; ++k) {
            snprintf(text, sizeof(text), cfgs[c], k ? swapkeys : keys[c]);
            net[k] = parse(text);
            if (network_place(net[k], &counted, err, sizeof(err))) fail_msg("%s", err);
            if (memreport_reserve_saved(net[k], err, sizeof(err))) fail_msg("%s", err);
        }
        size_t planned = net[1]->store->swin.bytes;
        assert_true(planned > 0);
        network *cpu = make(cfgs[c], swapkeys, 0);
        for (int s = 0; s < steps; ++s) {
            size_t before = n_allocs;
            step_both(cpu, net[1], s, swapkeys);
            if (n_allocs != before)
                fail_msg("%s: %zu device allocations in step %d (window planned %zu, now %zu)",
                         swapkeys, n_allocs - before, s, planned, net[1]->store->swin.bytes);
        }
        network *cpu0 = make(cfgs[c], keys[c], 0);
        step_both(cpu0, net[0], 0, keys[c]); /* the pool run, for its sizes */
        free_network(cpu0);
        saved_paths p;
        saved_get_paths(net[1]->store, &p);
        size_t pool = net[0]->store->dpool_bytes;
        assert_true(pool > 0);
        assert_null(net[1]->store->dpool);
        assert_int_equal(p.swap_window, planned);
        if (autob && !p.stats) fail_msg("%s: no per-sample statistics: the widths were not mixed", swapkeys);
        if (!(p.swap_window > 0 && p.swap_window < pool))
            fail_msg("%s: window %zu bytes, pool %zu", swapkeys, p.swap_window, pool);
        assert_true(p.swap_window_peak <= p.swap_window);
        print_message("%s: device window %zu bytes (live peak %zu), pool without swap %zu, "
                      "host %zu\n", swapkeys, p.swap_window, p.swap_window_peak, pool,
                      p.swap_host_peak);
        /* the same blocks, laid out alike (auto: the pool is the plan's bound) */
        if (!autob) assert_int_equal(p.swap_host_peak, pool);
        free_network(cpu);
        /* what each network holds: freeing the pool run releases pool - window more */
        size_t u0, u1;
        counted.mem_info(&peak, &u0);
        free_network(net[0]);
        counted.mem_info(&peak, &u1);
        size_t freed_pool_run = u0 - u1;
        counted.mem_info(&peak, &u0);
        free_network(net[1]);
        counted.mem_info(&peak, &u1);
        size_t freed_swap_run = u0 - u1;
        if (freed_pool_run - freed_swap_run != pool - p.swap_window)
            fail_msg("%s: device bytes held %zu (pool run) and %zu (swap run), pool %zu window %zu",
                     swapkeys, freed_pool_run, freed_swap_run, pool, p.swap_window);
    }
}

/* backend.h sync_check, the hook a device backend checks its asynchronous work in
 * (CUDA: DN_CUDA_SYNC_CHECK=1): the network calls it after every layer's forward and
 * backward, whole-batch and inside streamed segments (stream.c), with the layer's index
 * and type; a failure it reports stops the pass at once with that layer in the error.
 * NULL, as on the CPU and devsim, changes nothing (every other test). */
enum { SYNC_MAX = 64 };
static int sync_calls[2][SYNC_MAX]; /* [backward][layer] */
static int sync_fail_at = -1, sync_fail_bwd;
static const network *sync_net;

static int sync_record(int index, const char *type, int backward)
{
    assert_true(index >= 0 && index < SYNC_MAX && index < sync_net->n);
    assert_string_equal(type, sync_net->layers[index].ops->name);
    ++sync_calls[backward != 0][index];
    return index == sync_fail_at && (backward != 0) == sync_fail_bwd ? -1 : 0;
}

/* A step of cfg_yolo with `keys` on devsim with sync_record, in chunks of `chunk` samples
 * where it streams (0: whole-batch); its rc, the error in err. */
static int sync_step(const dn_backend *be, const char *keys, int chunk, int fail_at,
                     int fail_bwd, network **out, char *err, size_t errlen)
{
    char text[8192];
    snprintf(text, sizeof(text), cfg_yolo, keys);
    network *net = parse(text);
    net->stream_chunk = chunk; /* these layers are too small to stream otherwise */
    if (network_place(net, be, err, errlen)) fail_msg("%s", err);
    memset(sync_calls, 0, sizeof(sync_calls));
    sync_fail_at = fail_at;
    sync_fail_bwd = fail_bwd;
    sync_net = net;
    fill_batch(net, 0);
    float cost = 0;
    int rc = network_train_batch(net, net->input, &cost, err, errlen);
    *out = net;
    return rc;
}

static void sync_check_after_every_layer(void **st)
{
    (void)st;
    static dn_backend checked;
    checked = *dn_backend_devsim();
    assert_null(checked.sync_check);
    assert_null(dn_backend_cpu()->sync_check);
    checked.sync_check = sync_record;
    const char *keys[] = {"actnn_bits=2", "actnn_bits=2\nactnn_stream=1"};
    for (int c = 0; c < 2; ++c) {
        char err[256], want[128];
        network *net;
        if (sync_step(&checked, keys[c], 2 * c, -1, 0, &net, err, sizeof(err)))
            fail_msg("%s", err);
        for (int i = 0; i < net->n; ++i) {
            if (!sync_calls[0][i]) fail_msg("%s: no check after layer %d's forward", keys[c], i);
            if (i > net->plan.stop && !net->layers[i].onlyforward && !sync_calls[1][i])
                fail_msg("%s: no check after layer %d's backward", keys[c], i);
        }
        /* the failing layer: one inside a segment when streamed (stream.c's calls) */
        int k = c ? segment_member(net) : net->n / 2;
        if (k <= net->plan.stop || net->layers[k].onlyforward)
            fail_msg("%s: layer %d (stop %d, onlyforward %d) has no backward to fail", keys[c], k,
                     net->plan.stop, k >= 0 ? net->layers[k].onlyforward : -1);
        free_network(net);
        for (int bwd = 0; bwd < 2; ++bwd) {
            assert_int_equal(sync_step(&checked, keys[c], 2 * c, k, bwd, &net, err, sizeof(err)),
                             -1);
            snprintf(want, sizeof(want), "layer %d (%s) %s failed", k, net->layers[k].ops->name,
                     bwd ? "backward" : "forward");
            if (!strstr(err, want)) fail_msg("%s: error \"%s\", want \"%s\"", keys[c], err, want);
            for (int i = k + 1; !bwd && i < net->n; ++i) /* the forward stopped at k */
                assert_int_equal(sync_calls[0][i], 0);
            free_network(net);
        }
    }
}

/* Two mapping passes at once on one network (place.h place_ctx): each keeps its own
 * direction and failure flag, so one pass returning arrays or failing leaves the other
 * as it was. */
static void place_ctx_explicit(void **st)
{
    (void)st;
    network *b = make(cfg_classify, "actnn_bits=2", 1);
    int before = b->nplaced;
    assert_true(before > 1);
    place_pair q = b->placed[1];
    place_ctx to = place_ctx_to_device(b), back = {.net = b, .returning = 1};
    float *g = q.dev, *f = q.host, *h = q.host;
    assert_int_equal(place_array(&back, &g, q.n), 0); /* device -> host */
    assert_ptr_equal(g, q.host);
    assert_int_equal(place_array(&to, &f, q.n), 0); /* host -> its device copy, not a new one */
    assert_ptr_equal(f, q.dev);
    assert_int_equal(place_array(&to, &h, q.n + 1), -1); /* reaching past its array */
    assert_true(to.failed);
    assert_false(back.failed);
    g = q.dev;
    assert_int_equal(place_array(&back, &g, q.n), 0); /* still returning after the failure */
    assert_ptr_equal(g, q.host);
    assert_int_equal(b->nplaced, before);
    free_network(b);
}

int main(void)
{
    const char *t = getenv("DN_TEST_TOL");
    tol = t ? atof(t) : 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(devsim_pointers_are_not_host),
        cmocka_unit_test(yolo_fp32),
        cmocka_unit_test(yolo_2bit),
        cmocka_unit_test(yolo_stream),
        cmocka_unit_test(yolo_auto),
        cmocka_unit_test(borrow_on_device),
        cmocka_unit_test(classify_auto_stream),
        cmocka_unit_test(yolo_adam),
        cmocka_unit_test(region_2bit),
        cmocka_unit_test(region_fp32),
        cmocka_unit_test(classify_fp32),
        cmocka_unit_test(classify_2bit),
        cmocka_unit_test(classify_16bit),
        cmocka_unit_test(yolo_16bit),
        cmocka_unit_test(yolo_swap),
        cmocka_unit_test(classify_swap_stream),
        cmocka_unit_test(yolo_swap_auto),
        cmocka_unit_test(region_swap_16),
        cmocka_unit_test(swap_window_steady),
        cmocka_unit_test(place_and_return),
        cmocka_unit_test(place_ctx_explicit),
        cmocka_unit_test(sync_check_after_every_layer),
        cmocka_unit_test(many_sources_host_only),
        cmocka_unit_test(nan_check_on_device),
        cmocka_unit_test(saved_bytes_match_cpu),
        cmocka_unit_test(auto_stats_match_cpu),
        cmocka_unit_test(auto_adds_no_wait),
        cmocka_unit_test(device_pool_once),
        cmocka_unit_test(device_pool_from_plan),
        cmocka_unit_test(device_output_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
