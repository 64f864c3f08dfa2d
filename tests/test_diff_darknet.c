/* Differential tests against Debian's libdarknet (pjreddie's code) through build/oracle/dn_oracle:
 * the same cfg (stock cfgs from /usr/share/darknet/cfg at small sizes), the same random
 * weights file and the same input give the same per-layer outputs (relative error <= 1e-4,
 * relative to the layer's largest value); for the classifier cfgs one full training step with
 * truth gives the same outputs, deltas, cost and weights after the SGD update. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"

#define ORACLE "build/oracle/dn_oracle"
#define TOL 1e-4
#define MIN_COMPARED 0.9 /* of all elements of the files compared */

typedef struct {
    const char *stock;
    int size;
    int train;
    int zero_dropout;
    int boxes; /* detection cfg: truth is boxes [x,y,w,h,class] x 90 per sample */
    int views; /* the plan must have zero-copy routes */
} diff_case;

static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) fail_msg("command failed (%d): %s", rc, cmd);
}

static float *read_f32(const char *path, int *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t cnt = 0;
    if (fread(&cnt, 4, 1, f) != 1 || cnt < 0) { fclose(f); return NULL; }
    float *x = malloc(sizeof(float) * (size_t)(cnt + 1));
    if (fread(x, 4, (size_t)cnt, f) != (size_t)cnt) { fclose(f); free(x); return NULL; }
    fclose(f);
    *n = cnt;
    return x;
}

/* Rewrites every `probability=` line (dropout) to 0 so both sides train deterministically. */
static void zero_dropout(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20], out[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    size_t k = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        const char *w = strncmp(line, "probability", 11) == 0 ? "probability=0" : line;
        k += (size_t)snprintf(out + k, sizeof(out) - k, "%s\n", w);
    }
    f = fopen(path, "wb");
    fwrite(out, 1, k, f);
    fclose(f);
}

/* ---- Near-zero activation flips ----
 *
 * Float rounding differs between OpenBLAS and Darknet's naive gemm, so a pre-activation
 * within ~1e-6 of 0 can land on the other side of a leaky/relu kink; the gradient there
 * (1 vs 0.1) would then differ legitimately at that element and, through batch-norm sums
 * over its channel and the kernels below, at many elements under it. Such an element is
 * not wrong, only a tie broken the other way, so the oracle breaks it our way: we write our
 * outputs of every kinked layer, and dn_oracle's `train ... <signs_dir>` gives those
 * elements our (tiny) value before its backward, which takes its activation gradient from
 * the output. Then every element of every delta is compared. A sign that differs at a value
 * that is not tiny is a real bug and fails here (the oracle changes nothing there). */
static int kinked(const layer *l)
{
    return activation_is_masked(l->act, NULL, NULL) && l->type != LT_ACTIVE;
}

/* Writes our outputs of the kinked layers into dir/signs for the oracle. */
static void write_signs(const network *net, float **ours, const char *dir)
{
    char path[1024];
    sh("mkdir -p %s/signs", dir);
    for (int i = 0; i < net->n; ++i) {
        if (!kinked(&net->layers[i])) continue;
        snprintf(path, sizeof(path), "%s/signs/out_%d.f32", dir, i);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        int32_t cnt = net->layers[i].outputs * net->batch;
        assert_int_equal(fwrite(&cnt, 4, 1, f), 1);
        assert_int_equal(fwrite(ours[i], 4, (size_t)cnt, f), (size_t)cnt);
        fclose(f);
    }
}

/* Counts the elements whose branch differs from the oracle's forward (failing on one that
 * is not tiny) and checks that the oracle aligned exactly those (trn/aligned.txt). */
static void check_flips(network *net, float **ours, const char *trn)
{
    char path[1024];
    int flips = 0, aligned = 0, li, cnt;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (!kinked(l)) continue;
        snprintf(path, sizeof(path), "%s/out_%d.f32", trn, i);
        int n = 0;
        float *ref = read_f32(path, &n);
        if (!ref) fail_msg("%s: missing (the oracle writes every layer's output)", path);
        double mx = 0;
        for (int k = 0; k < n; ++k) if (fabs(ref[k]) > mx) mx = fabs(ref[k]);
        for (int k = 0; k < n; ++k)
            if ((ours[i][k] > 0) != (ref[k] > 0)) {
                if (fabs(ref[k]) > 1e-5 * mx || fabs(ours[i][k]) > 1e-5 * mx)
                    fail_msg("layer %d: activation branch differs at a value that is not tiny "
                             "(ours %g, oracle %g)", i, ours[i][k], ref[k]);
                flips++;
            }
        free(ref);
    }
    snprintf(path, sizeof(path), "%s/aligned.txt", trn);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s missing: dn_oracle too old (make oracle)", path);
    while (fscanf(f, "%d %d", &li, &cnt) == 2) aligned += cnt;
    fclose(f);
    fprintf(stderr, "%d pre-activations within rounding of 0 took the other branch; the oracle "
            "took ours there\n", flips);
    assert_int_equal(aligned, flips);
}

/* pjreddie's [dropout] has no buffers of its own: its output and delta are its input's, so
 * the oracle's delta_<i>.f32 of a dropout holds layer i-1's final delta (compared there). */
static const char *not_comparable(const layer *l, const char *prefix)
{
    if (strcmp(prefix, "delta") == 0 && l->type == LT_DROPOUT)
        return "pjreddie's dropout shares its input's delta buffer";
    return NULL;
}

/* Compares our buffers with the oracle's files <dir>/<prefix>_<i>.f32, every element of
 * every layer (relative to the layer's largest value); a missing file fails. */
static void compare_layers(network *net, float **ours, size_t *nours, const char *dir,
                           const char *prefix)
{
    char path[1024];
    int compared = 0, bad = 0;
    size_t elems = 0, total = 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        const char *why = not_comparable(l, prefix);
        if (why) {
            fprintf(stderr, "layer %d (%s) %s not compared: %s\n", i, l->ops->name, prefix, why);
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s_%d.f32", dir, prefix, i);
        int n = 0;
        float *ref = read_f32(path, &n);
        if (!ref) fail_msg("layer %d (%s): oracle file %s missing", i, l->ops->name, path);
        if (!ours[i]) fail_msg("layer %d (%s): no %s captured", i, l->ops->name, prefix);
        if ((size_t)n != nours[i])
            fail_msg("layer %d (%s): %s size %zu, oracle %d", i, l->ops->name, prefix, nours[i], n);
        if (getenv("DIFF_DUMP")) { /* debugging aid: our buffers next to the oracle's */
            char dp[1100];
            snprintf(dp, sizeof(dp), "%s/ours_%s_%d.f32", dir, prefix, i);
            FILE *df = fopen(dp, "wb");
            int32_t cnt = n;
            fwrite(&cnt, 4, 1, df);
            fwrite(ours[i], 4, (size_t)n, df);
            fclose(df);
        }
        double mx = 1e-6, md = 0;
        size_t used = 0, worst = 0;
        for (int k = 0; k < n; ++k) if (fabs(ref[k]) > mx) mx = fabs(ref[k]);
        for (int k = 0; k < n; ++k) {
            double d = fabs((double)ours[i][k] - ref[k]);
            if (!(d <= md)) { md = d; worst = (size_t)k; }
            used++;
        }
        elems += used;
        total += (size_t)n;
        if (!(md / mx <= TOL)) {
            fprintf(stderr, "layer %d (%s) %s: relative error %.3g > %g at [%zu]: ours %.7g oracle %.7g\n",
                    i, l->ops->name, prefix, md / mx, TOL, worst, ours[i][worst], ref[worst]);
            bad++;
        }
        if (used) compared++;
        free(ref);
    }
    fprintf(stderr, "%s: %d of %d layers, %zu of %zu elements compared\n", prefix, compared, net->n,
            elems, total);
    if (bad) fail_msg("%d of %d layers differ (%s)", bad, compared, prefix);
    if (!((double)elems >= MIN_COMPARED * (double)total))
        fail_msg("%s: only %zu of %zu elements compared", prefix, elems, total);
}

/* The plan of `detector train`, forced onto these small inputs: streamed pairs (1-sample
 * chunks) and zero-copy routes; the test fails if the plan under test has none. At 32 bits
 * a training plan has no zero-copy route in these cfgs (every route's reader keeps its
 * input as the exact save, concat.c readers_ok), so views are required in inference. */
static void production_plan(network *net, int train, int want_views)
{
    int views = 0, pairs = tu_production_plan(net, train, 1, &views);
    fprintf(stderr, "plan: %d streamed pairs, %d zero-copy layers\n", pairs, views);
    if (train && pairs < 1) fail_msg("no streamed pair in the plan under test");
    if (!train && want_views && views < 1) fail_msg("no zero-copy route in the plan under test");
}

static void prepare_case(const diff_case *dc, char *dir, size_t dn)
{
    const char *base = strrchr(dc->stock, '/') + 1;
    snprintf(dir, dn, "%s/%s", tu_tmpdir(), base);
    sh("mkdir -p %s", dir);
    sh(ORACLE " cfgset %s %s/net.cfg width=%d height=%d batch=2 subdivisions=1 burn_in=0 > /dev/null",
       dc->stock, dir, dc->size, dc->size);
    if (dc->zero_dropout) {
        char p[600];
        snprintf(p, sizeof(p), "%s/net.cfg", dir);
        zero_dropout(p);
    }
    sh(ORACLE " randweights %s/net.cfg 7 %s/w.weights > /dev/null 2>&1", dir, dir);
    sh(ORACLE " randinput %d 11 %s/in.f32 > /dev/null", 2 * dc->size * dc->size * 3, dir);
}

static network *load_ours(const char *dir)
{
    char cfg[600], w[600], err[1024];
    snprintf(cfg, sizeof(cfg), "%s/net.cfg", dir);
    snprintf(w, sizeof(w), "%s/w.weights", dir);
    network *net = parse_network_cfg_ex(cfg, 0, err, sizeof(err));
    if (!net) fail_msg("%s", err);
    if (load_weights_ex(net, w, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    return net;
}

static void check_forward(const diff_case *dc)
{
    char dir[512], path[600];
    prepare_case(dc, dir, sizeof(dir));
    sh(ORACLE " forward %s/net.cfg %s/w.weights %s/in.f32 %s/fwd > /dev/null 2>&1", dir, dir, dir, dir);
    network *net = load_ours(dir);
    snprintf(path, sizeof(path), "%s/in.f32", dir);
    int n = 0;
    float *in = read_f32(path, &n);
    assert_int_equal(n, net->batch * net->inputs);
    tu_capture c;
    tu_capture_on(&c, net);
    production_plan(net, 0, dc->views);
    snprintf(path, sizeof(path), "%s/fwd", dir);
    assert_int_equal(network_forward(net, in, 0), 0);
    compare_layers(net, c.out, c.nout, path, "out");
    tu_capture_free(&c);
    free(in);
    free_network(net);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* Per weights-file array, after one SGD step: relative error <= 1e-4 of the array's largest
 * value, every array. */
static void compare_updates(network *net, const float *ours, const float *ref)
{
    size_t off = 0;
    int bad = 0, arrays = 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        for (int k = 0; k < l->nwf; ++k, ++arrays) {
            size_t n = l->wf[k].n;
            double e = tu_rel_err(ours + off, ref + off, n, 1e-6);
            off += n;
            if (!(e <= TOL)) {
                fprintf(stderr, "layer %d array %d: weights after the step differ by %.3g\n", i, k, e);
                bad++;
            }
        }
    }
    fprintf(stderr, "weights: %d arrays compared\n", arrays);
    assert_true(arrays > 0);
    if (bad) fail_msg("%d weight arrays differ after one SGD step", bad);
}

/* [region]'s own delta, every element. */
static void compare_region_delta(network *net, const float *ours, size_t n, const char *dir)
{
    char path[1024];
    int nr = 0;
    snprintf(path, sizeof(path), "%s/delta_%d.f32", dir, net->n - 1);
    float *ref = read_f32(path, &nr);
    if (!ref) fail_msg("%s missing", path);
    assert_non_null(ours);
    assert_int_equal((size_t)nr, n);
    double e = tu_rel_err(ours, ref, n, 1e-6);
    if (!(e <= TOL)) fail_msg("region delta: relative error %.3g", e);
    free(ref);
}

static double read_cost(const char *dir, const char *key)
{
    char path[600], k[64];
    snprintf(path, sizeof(path), "%s/trn/cost.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    double v = NAN, x;
    while (fscanf(f, "%63s %lf", k, &x) == 2)
        if (!strcmp(k, key)) v = x;
    fclose(f);
    return v;
}

/* A few boxes per sample, of sizes that land on anchors of both yolov3-tiny scales; the
 * rest of the 90 slots stay 0 (Darknet stops at the first box with x == 0). */
static void write_box_truth(const char *dir, const network *net)
{
    static const float boxes[2][4][5] = {
        {{.30f, .40f, .20f, .30f, 1}, {.70f, .60f, .50f, .40f, 5}, {.52f, .18f, .09f, .12f, 79}, {0}},
        {{.50f, .50f, .80f, .70f, 79}, {.20f, .80f, .05f, .08f, 0}, {.81f, .33f, .30f, .25f, 3}, {0}},
    };
    int32_t n = net->batch * net->truths;
    float *t = calloc((size_t)n, sizeof(float));
    for (int b = 0; b < net->batch && b < 2; ++b)
        for (int k = 0; k < 4 && boxes[b][k][0]; ++k)
            memcpy(t + (size_t)b * net->truths + k * 5, boxes[b][k], 5 * sizeof(float));
    char path[600];
    snprintf(path, sizeof(path), "%s/truth.f32", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(&n, 4, 1, f);
    fwrite(t, 4, (size_t)n, f);
    fclose(f);
    free(t);
}

static void check_train(const diff_case *dc)
{
    char dir[512], path[600], err[1024];
    prepare_case(dc, dir, sizeof(dir));
    network *net = load_ours(dir);
    int classes = net->outputs;
    if (dc->boxes) write_box_truth(dir, net);
    else sh(ORACLE " onehot 2 %d 13 %s/truth.f32 > /dev/null", classes, dir);
    int n = 0;
    snprintf(path, sizeof(path), "%s/in.f32", dir);
    float *in = read_f32(path, &n);
    /* Detection cases train on the caller's buffer as `detector train` does (net->input
     * stays zero, so a backward reading net->input instead would fail the comparison). */
    if (!dc->boxes) memcpy(net->input, in, sizeof(float) * (size_t)n);
    snprintf(path, sizeof(path), "%s/truth.f32", dir);
    float *truth = read_f32(path, &n);
    assert_int_equal(n, net->batch * net->truths);
    memcpy(net->truth, truth, sizeof(float) * (size_t)n);
    tu_capture c;
    tu_capture_on(&c, net);
    production_plan(net, 1, dc->views);
    float cost = 0;
    if (dc->boxes) assert_int_equal(network_train_batch(net, in, &cost, err, sizeof(err)), 0);
    else assert_int_equal(network_train_datum(net, &cost, err, sizeof(err)), 0);
    write_signs(net, c.out, dir);
    sh(ORACLE " train %s/net.cfg %s/w.weights %s/in.f32 %s/truth.f32 %s/trn %s/signs > /dev/null 2>&1",
       dir, dir, dir, dir, dir, dir);
    snprintf(path, sizeof(path), "%s/trn", dir);
    compare_layers(net, c.out, c.nout, path, "out");
    check_flips(net, c.out, path);
    compare_layers(net, c.delta, c.ndelta, path, "delta");
    double ref_cost = read_cost(dir, "cost");
    assert_true(fabs(cost - ref_cost) <= TOL * fabs(ref_cost) + 1e-6);
    /* weights after the update, every array of the file */
    snprintf(path, sizeof(path), "%s/ours.weights", dir);
    assert_int_equal(save_weights_ex(net, path, -1, err, sizeof(err)), 0);
    size_t no = 0, nr = 0, nb = 0;
    char *ours = slurp(path, &no);
    snprintf(path, sizeof(path), "%s/trn/after.weights", dir);
    char *ref = slurp(path, &nr);
    snprintf(path, sizeof(path), "%s/w.weights", dir);
    char *before = slurp(path, &nb);
    assert_int_equal(no, nr);
    assert_int_equal(no, nb);
    assert_memory_equal(ours, ref, 20); /* version and seen */
    assert_memory_not_equal(ours + 20, before + 20, no - 20); /* the step changed something */
    compare_updates(net, (float *)(ours + 20), (float *)(ref + 20));
    free(ours); free(ref); free(before); free(in); free(truth);
    tu_capture_free(&c);
    free_network(net);
}

static const diff_case cifar = {"/usr/share/darknet/cfg/cifar.cfg", 28, 1, 1, 0, 0};
static const diff_case darknet19 = {"/usr/share/darknet/cfg/darknet19.cfg", 64, 1, 0, 0, 0};
static const diff_case resnet18 = {"/usr/share/darknet/cfg/resnet18.cfg", 64, 1, 0, 0, 0};
static const diff_case yolov2_tiny = {"/usr/share/darknet/cfg/yolov2-tiny.cfg", 96, 1, 0, 1, 0};
static const diff_case yolov3_tiny = {"/usr/share/darknet/cfg/yolov3-tiny.cfg", 96, 1, 0, 1, 1};

static void fwd_cifar(void **s) { (void)s; check_forward(&cifar); }
static void fwd_darknet19(void **s) { (void)s; check_forward(&darknet19); }
static void fwd_resnet18(void **s) { (void)s; check_forward(&resnet18); }
static void fwd_yolov3_tiny(void **s) { (void)s; check_forward(&yolov3_tiny); }
static void train_cifar(void **s) { (void)s; check_train(&cifar); }
static void train_darknet19(void **s) { (void)s; check_train(&darknet19); }
static void train_resnet18(void **s) { (void)s; check_train(&resnet18); }
static void train_yolov3_tiny(void **s) { (void)s; check_train(&yolov3_tiny); }
static void fwd_yolov2_tiny(void **s) { (void)s; check_forward(&yolov2_tiny); }

/* [region] loss: pjreddie's CPU backward_region_layer is empty (its body is commented out),
 * so only the forward outputs, the region layer's own delta and the cost are compared. */
static void train_yolov2_tiny_loss(void **s)
{
    (void)s;
    char dir[512], path[600], err[1024];
    prepare_case(&yolov2_tiny, dir, sizeof(dir));
    network *net = load_ours(dir);
    write_box_truth(dir, net);
    sh(ORACLE " train %s/net.cfg %s/w.weights %s/in.f32 %s/truth.f32 %s/trn > /dev/null 2>&1", dir, dir,
       dir, dir, dir);
    int n = 0;
    snprintf(path, sizeof(path), "%s/in.f32", dir);
    float *in = read_f32(path, &n);
    memcpy(net->input, in, sizeof(float) * (size_t)n);
    snprintf(path, sizeof(path), "%s/truth.f32", dir);
    float *truth = read_f32(path, &n);
    assert_int_equal(n, net->batch * net->truths);
    memcpy(net->truth, truth, sizeof(float) * (size_t)n);
    tu_capture c;
    tu_capture_on(&c, net);
    production_plan(net, 1, 0);
    float cost = 0;
    assert_int_equal(network_train_datum(net, &cost, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/trn", dir);
    compare_layers(net, c.out, c.nout, path, "out");
    assert_int_equal(net->layers[net->n - 1].type, LT_REGION);
    compare_region_delta(net, c.delta[net->n - 1], c.ndelta[net->n - 1], path);
    double ref_cost = read_cost(dir, "cost");
    assert_true(fabs(cost - ref_cost) <= TOL * fabs(ref_cost) + 1e-6);
    free(in); free(truth);
    tu_capture_free(&c);
    free_network(net);
}

static void env_case(void **s)
{
    (void)s;
    diff_case dc = {getenv("DIFF_CFG"), atoi(getenv("DIFF_SIZE") ? getenv("DIFF_SIZE") : "32"), 1, 0, 0, 0};
    check_forward(&dc);
    check_train(&dc);
}

int main(void)
{
    darknet_set_seed(1);
    if (access(ORACLE, X_OK) != 0) { /* a missing oracle fails, with the reason */
        fprintf(stderr, "FAIL: %s missing: `make oracle` builds it against Debian's libdarknet "
                "(/usr/lib/darknet, installed by scripts/setup.sh)\n", ORACLE);
        return 1;
    }
    if (getenv("DIFF_CFG")) { /* debugging aid: DIFF_CFG=x.cfg DIFF_SIZE=n */
        const struct CMUnitTest one[] = {cmocka_unit_test(env_case)};
        return cmocka_run_group_tests(one, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fwd_cifar),       cmocka_unit_test(fwd_darknet19),
        cmocka_unit_test(fwd_resnet18),    cmocka_unit_test(fwd_yolov3_tiny),
        cmocka_unit_test(train_cifar),     cmocka_unit_test(train_darknet19),
        cmocka_unit_test(train_resnet18),  cmocka_unit_test(train_yolov3_tiny),
        cmocka_unit_test(fwd_yolov2_tiny), cmocka_unit_test(train_yolov2_tiny_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
