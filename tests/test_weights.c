/* .weights files (darknet-facts.md section 2): round trip, header versions (0.2+ with a
 * 64-bit seen, older with 32-bit, transposed connected weights when major or minor > 1000),
 * truncated and oversized files (the message states the sizes), .conv.N partial files, and
 * atomic saving (a failed save leaves the previous file intact). Expected file contents are
 * written byte by byte here from the format description, not by our saver. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"

/* conv+BN (4 arrays + weights), plain conv, maxpool (nothing), connected (biases, weights),
 * batchnorm (scales, rolling mean, rolling variance). */
static const char *CFG =
    "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[batchnorm]\n";

/* Floats per layer in file order, from darknet-facts.md section 2. */
static const size_t LAYER_FLOATS[] = {3 + 3 + 3 + 3 + 3 * 2 * 9, 2 + 2 * 3, 0, 5 + 5 * 8, 3 * 5};
#define NL 5

static size_t body_floats(int upto)
{
    size_t n = 0;
    for (int i = 0; i < upto; ++i) n += LAYER_FLOATS[i];
    return n;
}

static network *fresh(uint64_t seed)
{
    darknet_set_seed(seed);
    return tu_net_from_text(CFG, 0);
}

/* Every weights-file array of layer i, concatenated in file order. */
static size_t gather(const network *net, int i, float *out)
{
    size_t k = 0;
    const layer *l = &net->layers[i];
    for (int e = 0; e < l->nwf; ++e) {
        memcpy(out + k, l->wf[e].data, l->wf[e].n * sizeof(float));
        k += l->wf[e].n;
    }
    return k;
}

static void fill_all(network *net, uint64_t seed)
{
    for (int i = 0; i < net->n; ++i)
        for (int e = 0; e < net->layers[i].nwf; ++e)
            tu_fill_uniform(net->layers[i].wf[e].data, net->layers[i].wf[e].n, 0.1f, 2, seed + 31 * i + e);
}

static void write_file(const char *path, const int32_t ver[3], int seen64, uint64_t seen, const float *body,
                       size_t nfloat, size_t extra_bytes)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(ver, 4, 3, f);
    if (seen64) fwrite(&seen, 8, 1, f);
    else { uint32_t s = (uint32_t)seen; fwrite(&s, 4, 1, f); }
    fwrite(body, 4, nfloat, f);
    for (size_t i = 0; i < extra_bytes; ++i) fputc(0x5a, f);
    fclose(f);
}

/* A body with value = 1000*layer + index, so any misplacement is visible. */
static float *make_body(void)
{
    float *b = malloc(body_floats(NL) * sizeof(float));
    size_t k = 0;
    for (int i = 0; i < NL; ++i)
        for (size_t j = 0; j < LAYER_FLOATS[i]; ++j) b[k++] = 1000.0f * i + (float)j;
    return b;
}

static void expect_layers_equal(const network *net, const float *body, int from, int upto)
{
    float got[512];
    size_t off = body_floats(from);
    for (int i = from; i < upto; ++i) {
        size_t n = gather(net, i, got);
        assert_int_equal(n, LAYER_FLOATS[i]);
        assert_memory_equal(got, body + off, n * sizeof(float));
        off += n;
    }
}

static void layout_matches_format(void **st)
{
    (void)st;
    network *net = fresh(1);
    float *body = make_body();
    const char *p = tu_write_temp("w.weights", "");
    int32_t ver[3] = {0, 2, 0};
    write_file(p, ver, 1, 77, body, body_floats(NL), 0);
    char err[1024];
    if (load_weights_ex(net, p, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    expect_layers_equal(net, body, 0, NL);
    assert_int_equal(net->seen, 77);
    /* the conv+BN order: biases, scales, rolling mean, rolling variance, weights */
    const layer *c = &net->layers[0];
    assert_true(c->wf[0].data[0] == 0 && c->wf[1].data[0] == 3 && c->wf[4].data[0] == 12);
    free(body);
    free_network(net);
}

static void round_trip(void **st)
{
    (void)st;
    network *a = fresh(1), *b = fresh(2);
    fill_all(a, 100);
    a->seen = (1ull << 40) + 12345;
    const char *p = tu_write_temp("rt.weights", "");
    char err[1024];
    if (save_weights_ex(a, p, -1, err, sizeof(err))) fail_msg("%s", err);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal((size_t)sb.st_size, 20 + 4 * body_floats(NL));
    if (load_weights_ex(b, p, 0, b->n, err, sizeof(err))) fail_msg("%s", err);
    float x[512], y[512];
    for (int i = 0; i < NL; ++i) {
        size_t n = gather(a, i, x);
        assert_int_equal(gather(b, i, y), n);
        assert_memory_equal(x, y, n * sizeof(float));
    }
    assert_true(b->seen == a->seen);
    free_network(a);
    free_network(b);
}

static void old_header_32bit_seen(void **st)
{
    (void)st;
    network *net = fresh(1);
    float *body = make_body();
    const char *p = tu_write_temp("old.weights", "");
    int32_t ver[3] = {0, 1, 0};
    write_file(p, ver, 0, 4000000000u, body, body_floats(NL), 0);
    char err[1024];
    if (load_weights_ex(net, p, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    expect_layers_equal(net, body, 0, NL);
    assert_true(net->seen == 4000000000u);
    free(body);
    free_network(net);
}

static void transposed_connected(void **st)
{
    (void)st;
    /* major > 1000: 32-bit seen, and connected weights stored [inputs][outputs] */
    network *net = fresh(1);
    float *body = make_body();
    size_t wo = body_floats(3) + 5; /* connected weights start after its 5 biases */
    float *stored = malloc(40 * sizeof(float));
    for (int o = 0; o < 5; ++o)
        for (int in = 0; in < 8; ++in) stored[in * 5 + o] = body[wo + o * 8 + in];
    memcpy(body + wo, stored, 40 * sizeof(float));
    const char *p = tu_write_temp("tr.weights", "");
    int32_t ver[3] = {1001, 0, 0};
    write_file(p, ver, 0, 9, body, body_floats(NL), 0);
    char err[1024];
    if (load_weights_ex(net, p, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    const layer *l = &net->layers[3];
    for (int o = 0; o < 5; ++o)
        for (int in = 0; in < 8; ++in)
            assert_true(l->wf[1].data[o * 8 + in] == 3000.0f + 5 + (float)(o * 8 + in));
    assert_int_equal(net->seen, 9);
    free(stored);
    free(body);
    free_network(net);
}

static void truncated_states_sizes(void **st)
{
    (void)st;
    network *net = fresh(1);
    float *body = make_body();
    const char *p = tu_write_temp("trunc.weights", "");
    int32_t ver[3] = {0, 2, 5};
    size_t want = 20 + 4 * body_floats(NL);
    write_file(p, ver, 1, 1, body, body_floats(NL) - 1, 0);
    char err[1024], num[64];
    assert_int_equal(load_weights_ex(net, p, 0, net->n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    snprintf(num, sizeof(num), "%zu", want);
    if (!strstr(err, num)) fail_msg("no expected size %s in: %s", num, err);
    snprintf(num, sizeof(num), "%zu", want - 4);
    if (!strstr(err, num)) fail_msg("no actual size %s in: %s", num, err);
    /* a file cut inside the header */
    FILE *f = fopen(p, "wb");
    fwrite(ver, 4, 2, f);
    fclose(f);
    assert_int_equal(load_weights_ex(net, p, 0, net->n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "header"));
    free(body);
    free_network(net);
}

static void oversized_states_sizes(void **st)
{
    (void)st;
    network *net = fresh(1);
    float *body = make_body();
    const char *p = tu_write_temp("big.weights", "");
    int32_t ver[3] = {0, 2, 0};
    size_t want = 20 + 4 * body_floats(NL);
    write_file(p, ver, 1, 1, body, body_floats(NL), 8);
    char err[1024], num[64];
    assert_int_equal(load_weights_ex(net, p, 0, net->n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "larger than expected"));
    snprintf(num, sizeof(num), "%zu", want);
    if (!strstr(err, num)) fail_msg("no expected size in: %s", err);
    snprintf(num, sizeof(num), "%zu", want + 8);
    if (!strstr(err, num)) fail_msg("no actual size in: %s", err);
    free(body);
    free_network(net);
}

static void partial_conv_n(void **st)
{
    (void)st;
    /* A .conv.2 file (what `partial` writes): header + the first two layers only. */
    network *net = fresh(1);
    float before[512];
    size_t nb = gather(net, 3, before);
    float *body = make_body();
    const char *p = tu_write_temp("w.conv.2", "");
    int32_t ver[3] = {0, 2, 0};
    write_file(p, ver, 1, 5, body, body_floats(2), 0);
    char err[1024];
    if (load_weights_ex(net, p, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    expect_layers_equal(net, body, 0, 2);
    float after[512];
    gather(net, 3, after);
    assert_memory_equal(before, after, nb * sizeof(float)); /* untouched */

    /* our own saver with a cutoff writes the same bytes */
    network *b = fresh(3);
    if (load_weights_ex(b, p, 0, b->n, err, sizeof(err))) fail_msg("%s", err);
    b->seen = 5;
    const char *q = tu_write_temp("mine.conv.2", "");
    if (save_weights_ex(b, q, 2, err, sizeof(err))) fail_msg("%s", err);
    FILE *f1 = fopen(p, "rb"), *f2 = fopen(q, "rb");
    static char x[8192], y[8192];
    size_t n1 = fread(x, 1, sizeof(x), f1), n2 = fread(y, 1, sizeof(y), f2);
    fclose(f1);
    fclose(f2);
    assert_int_equal(n1, n2);
    assert_memory_equal(x, y, n1);

    /* a full file loaded with a cutoff stops there */
    network *c = fresh(4);
    write_file(p, ver, 1, 5, body, body_floats(NL), 0);
    float keep[512];
    size_t nk = gather(c, 3, keep);
    if (load_weights_ex(c, p, 0, 2, err, sizeof(err))) fail_msg("%s", err);
    expect_layers_equal(c, body, 0, 2);
    gather(c, 3, after);
    assert_memory_equal(keep, after, nk * sizeof(float));
    free(body);
    free_network(net);
    free_network(b);
    free_network(c);
}

static void missing_file(void **st)
{
    (void)st;
    network *net = fresh(1);
    char err[1024];
    assert_int_equal(load_weights_ex(net, "/nonexistent/x.weights", 0, net->n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.weights"));
    free_network(net);
}

/* Writing fails half way (RLIMIT_FSIZE works even for root, unlike a read-only directory). */
static void failed_save_keeps_old_file(void **st)
{
    (void)st;
    network *a = fresh(1);
    fill_all(a, 5);
    const char *p = tu_write_temp("atomic.weights", "");
    char err[1024];
    if (save_weights_ex(a, p, -1, err, sizeof(err))) fail_msg("%s", err);
    static char old[8192], now[8192];
    FILE *f = fopen(p, "rb");
    size_t nold = fread(old, 1, sizeof(old), f);
    fclose(f);

    fill_all(a, 6); /* different content that must not reach the file */
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 64;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = save_weights_ex(a, p, -1, err, sizeof(err));
    setrlimit(RLIMIT_FSIZE, &saved);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "untouched"));
    f = fopen(p, "rb");
    size_t nnow = fread(now, 1, sizeof(now), f);
    fclose(f);
    assert_int_equal(nold, nnow);
    assert_memory_equal(old, now, nold);
    /* no temporary left behind */
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", p, (int)getpid());
    assert_int_equal(access(tmp, F_OK), -1);

    /* an unwritable place: a directory that does not exist */
    assert_int_equal(save_weights_ex(a, "/nonexistent-dir/x.weights", -1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nonexistent-dir"));
    free_network(a);
}

/* A diverged run's file: one NaN in layer 3's weights (and separately an inf in layer 0's
 * rolling variance) is an error naming the file, the layer and the count, not a network
 * whose every output is NaN. Finite files load (round_trip above). */
static void nonfinite_weights_named(void **st)
{
    (void)st;
    static const int32_t ver[3] = {0, 2, 0};
    size_t nb = body_floats(NL);
    float *body = malloc(nb * sizeof(float));
    for (size_t i = 0; i < nb; ++i) body[i] = .01f * (float)(i % 50);
    body[body_floats(3) + 7] = NAN;
    const char *p = tu_write_temp("nan.weights", "");
    write_file(p, ver, 1, 0, body, nb, 0);
    network *net = fresh(1);
    char err[1024];
    assert_int_equal(load_weights_ex(net, p, 0, net->n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nan.weights: layer 3 (connected) holds 1 NaN/inf values"));
    body[body_floats(3) + 7] = 0;
    body[3 + 3 + 3 + 1] = INFINITY; /* layer 0: biases, scales, mean, variance[1] */
    body[3 + 3 + 3 + 2] = -INFINITY;
    write_file(p, ver, 1, 0, body, nb, 0);
    assert_int_equal(load_weights_ex(net, p, 0, net->n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "layer 0 (convolutional) holds 2 NaN/inf values"));
    body[3 + 3 + 3 + 1] = body[3 + 3 + 3 + 2] = 1;
    write_file(p, ver, 1, 0, body, nb, 0);
    if (load_weights_ex(net, p, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    free_network(net);
    free(body);
}

/* A save killed before its rename leaves <file>.tmp.<pid>. The next save of that file
 * removes the temporaries of processes that are gone, and only those: a live process's
 * (our parent's pid), another file's, and a name that is not a pid stay. */
static void stale_temporaries_removed(void **st)
{
    (void)st;
    network *a = fresh(1);
    const char *p = tu_write_temp("stale.weights", "");
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    assert_true(dead > 0);
    waitpid(dead, NULL, 0);
    char gone[600], live[600], other[600], notpid[600];
    snprintf(gone, sizeof(gone), "%s.tmp.%d", p, (int)dead);
    snprintf(live, sizeof(live), "%s.tmp.%d", p, (int)getppid());
    snprintf(other, sizeof(other), "%s.x.tmp.%d", p, (int)dead);
    snprintf(notpid, sizeof(notpid), "%s.tmp.12ab", p);
    const char *all[] = {gone, live, other, notpid};
    for (int i = 0; i < 4; ++i) {
        FILE *f = fopen(all[i], "wb");
        assert_non_null(f);
        fputs("half a file", f);
        fclose(f);
    }
    char err[1024];
    if (save_weights_ex(a, p, -1, err, sizeof(err))) fail_msg("%s", err);
    assert_int_equal(access(gone, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(notpid, F_OK), 0);
    for (int i = 1; i < 4; ++i) unlink(all[i]);
    free_network(a);
}

/* Regression (found by tests/fuzz/reliability.sh): `detect` with a header-only weights file
 * runs an untrained net whose batch norms have rolling variance 0, giving NaN objectness;
 * yolo_get_boxes counted NaN as a box while yolo_count_boxes did not, and wrote past the
 * detections it had allocated (segfault). A NaN input gives NaN everywhere: no boxes. */
static void nan_outputs_give_no_boxes(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=1\n"
                                    "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n"
                                    "[yolo]\nmask=0,1\nanchors=1,1,2,2\nclasses=2\nnum=2\n", 1);
    for (int i = 0; i < net->inputs; ++i) net->input[i] = NAN;
    if (network_forward(net, net->input, 0)) fail_msg("%s", net->err);
    int num = -1;
    detection *d = get_network_boxes(net, 8, 8, .5f, .5f, NULL, 1, &num);
    assert_int_equal(num, 0);
    free_detections(d, num);
    free_network(net);
}

/* A size logit of 100 overflows exp() to inf: anchor 0's boxes would be printed as
 * "width: inf" and written into JSON as inf (not JSON). They score 0 with a zeroed box;
 * anchor 1's finite boxes are all there. */
static void inf_boxes_score_zero(void **st)
{
    (void)st;
    network *net = tu_net_from_text("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=1\n"
                                    "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n"
                                    "[yolo]\nmask=0,1\nanchors=1,1,2,2\nclasses=2\nnum=2\n", 1);
    layer *c = &net->layers[0];
    float *bias = c->wf[0].data, *w = c->wf[1].data;
    assert_int_equal(c->wf[0].n, 14);
    memset(w, 0, c->wf[1].n * sizeof(float));
    memset(bias, 0, 14 * sizeof(float));
    bias[2] = 100;                          /* anchor 0: w = exp(100) */
    bias[4] = bias[5] = 10;                 /* anchor 0: objectness, class 0 */
    bias[7 + 4] = bias[7 + 5] = 10;         /* anchor 1: the same, finite size */
    memset(net->input, 0, (size_t)net->inputs * sizeof(float));
    if (network_forward(net, net->input, 0)) fail_msg("%s", net->err);
    int num = -1, scored = 0;
    detection *d = get_network_boxes(net, 640, 480, .5f, .5f, NULL, 0, &num);
    for (int i = 0; i < num; ++i) {
        assert_true(isfinite(d[i].bbox.x) && isfinite(d[i].bbox.y) && isfinite(d[i].bbox.w) &&
                    isfinite(d[i].bbox.h));
        scored += d[i].prob[0] > .5f;
    }
    assert_int_equal(scored, 64); /* anchor 1 in every cell */
    free_detections(d, num);
    free_network(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_format),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(old_header_32bit_seen),
        cmocka_unit_test(transposed_connected),
        cmocka_unit_test(truncated_states_sizes),
        cmocka_unit_test(oversized_states_sizes),
        cmocka_unit_test(partial_conv_n),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(failed_save_keeps_old_file),
        cmocka_unit_test(nonfinite_weights_named),
        cmocka_unit_test(stale_temporaries_removed),
        cmocka_unit_test(nan_outputs_give_no_boxes),
        cmocka_unit_test(inf_boxes_score_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
