/* [region] (YOLOv2's loss layer) against float64 finite differences of the loss its deltas
 * are the negative gradient of.
 *
 * The network is [activation] linear (the identity, so the raw input z is what [region]
 * reads and layer 0's final delta is what [region] passed down) then [region]. Per anchor
 * and cell z holds x, y, w, h, objectness and the class logits; the forward applies the
 * logistic s() to x, y, objectness and a softmax to the classes.
 *
 * Which loss. pjreddie's forward_region_layer writes, with t the targets below:
 *   x, y:  scale (t - s(z)),   w, h: scale (t - z),   objectness: k (t - s(z)),
 *   classes: class_scale (onehot - softmax(z)),
 * and [region]'s own delta (what Debian's libdarknet writes: compared with it at the end
 * of each case, and on yolov2-tiny in test_diff_darknet) is exactly
 * -dL/dz of the float64 loss region_loss() below with the cross-entropy form of the logistic
 * terms (d/dz of -t log s - (1-t) log(1-s) is s - t). What Darknet trains with is different:
 * its GPU backward (backward_region_layer_gpu) multiplies the x, y and objectness deltas by
 * s'(z) = s (1 - s) before passing them on, as AlexeyAB's loss does, i.e. the squared
 * error 1/2 (t - s(z))^2 on the logistic outputs (pjreddie's CPU backward is empty). So the
 * delta passed to layer 0 is compared with the squared-error form of the same loss.
 *
 * The decisions the loss takes are not differentiated (Darknet has no gradient for them):
 * which anchor a truth trains (best shape IoU; with bias_match the anchors' shapes), whether
 * an anchor's best IoU with any truth exceeds thresh (then no push of its objectness to 0),
 * and with rescore the objectness target, the IoU of the trained box (held at its value at
 * z). region_decide() takes them in float64 at z, independently of the layer, and the
 * finite differences keep them fixed, so L is smooth where it is differentiated. The layer
 * decides in float32: all elements of an anchor are masked, and counted, when one of its
 * decisions lies within MARGIN of its boundary (the two may then decide differently); one
 * case puts an anchor's IoU on the thresh edge so that this path runs.
 *
 * Tolerance. L is float64 with O(10) values, H = 1e-4: rounding ~1e-16 * 10 / 1e-4 ~ 1e-11,
 * truncation H^2/6 |L'''| ~ 1e-8 * scale. The layer computes its deltas in float32 from
 * float32 logistic/softmax outputs (~1e-7 relative) times scales up to ~10: ~1e-6. We allow
 * 1e-5 (1 + |fd|); a dropped scale, a sign, a missing s' or a wrong target is off by O(1). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"

#define MB 2  /* samples */
#define MN 2  /* anchors */
#define MHW 25 /* cells */
#define MT 4  /* truth boxes per sample used here (of max=30) */
#define H 1e-4
#define TOL 1e-5
#define MARGIN 1e-3
#define MIN_COMPARED 0.9

typedef struct {
    int w, h, n, classes, batch, rescore, bias_match;
    float anchors[2 * MN]; /* in grid cells */
    float coord, object, noobject, cls, thresh;
    size_t seen;           /* < 12800: every anchor is also pulled to its prior */
    float truth[MB][MT][5];
} rcase;

typedef struct {
    int resp[MB][MN][MHW];       /* the truth this anchor trains on (last one wins), -1: none */
    int above[MB][MN][MHW];      /* best IoU with a truth > thresh */
    double margin[MB][MN][MHW];  /* distance of this anchor's decisions from their boundary */
    double iou[MB][MT];          /* rescore target: IoU of the trained box with its truth */
} decisions;

enum { FORM_XENT, FORM_SSE };

static int hw_of(const rcase *rc) { return rc->w * rc->h; }
static int chans(const rcase *rc) { return 5 + rc->classes; }
static size_t per_sample(const rcase *rc) { return (size_t)rc->n * chans(rc) * hw_of(rc); }

static size_t at(const rcase *rc, int b, int n, int e, int loc)
{
    return (size_t)b * per_sample(rc) + ((size_t)n * chans(rc) + e) * hw_of(rc) + loc;
}

static double sig(double z) { return 1 / (1 + exp(-z)); }

typedef struct { double x, y, w, h; } dbx;

static double overlap(double x1, double w1, double x2, double w2)
{
    double l = fmax(x1 - w1 / 2, x2 - w2 / 2), r = fmin(x1 + w1 / 2, x2 + w2 / 2);
    return r > l ? r - l : 0;
}

static double iou(dbx a, dbx b)
{
    double i = overlap(a.x, a.w, b.x, b.w) * overlap(a.y, a.h, b.y, b.h);
    return i / (a.w * a.h + b.w * b.h - i);
}

static dbx pred(const rcase *rc, const double *z, int b, int n, int loc)
{
    dbx p = {(loc % rc->w + sig(z[at(rc, b, n, 0, loc)])) / rc->w,
             (loc / rc->w + sig(z[at(rc, b, n, 1, loc)])) / rc->h,
             exp(z[at(rc, b, n, 2, loc)]) * rc->anchors[2 * n] / rc->w,
             exp(z[at(rc, b, n, 3, loc)]) * rc->anchors[2 * n + 1] / rc->h};
    return p;
}

static dbx tbox(const rcase *rc, int b, int t)
{
    const float *v = rc->truth[b][t];
    return (dbx){v[0], v[1], v[2], v[3]};
}

/* Truths of sample b Darknet reads: up to the first with x == 0. */
static int ntruth(const rcase *rc, int b)
{
    int t = 0;
    while (t < MT && rc->truth[b][t][0]) ++t;
    return t;
}

static double best_iou(const rcase *rc, const double *z, int b, int n, int loc)
{
    double best = 0;
    for (int t = 0; t < ntruth(rc, b); ++t) best = fmax(best, iou(pred(rc, z, b, n, loc), tbox(rc, b, t)));
    return best;
}

static int truth_cell(const rcase *rc, int b, int t)
{
    int i = (int)(rc->truth[b][t][0] * rc->w), j = (int)(rc->truth[b][t][1] * rc->h);
    return (j < rc->h ? j : rc->h - 1) * rc->w + (i < rc->w ? i : rc->w - 1);
}

static void region_decide(const rcase *rc, const double *z, decisions *d)
{
    memset(d, 0, sizeof(*d));
    for (int b = 0; b < rc->batch; ++b) {
        int nt = ntruth(rc, b);
        for (int n = 0; n < rc->n; ++n)
            for (int loc = 0; loc < hw_of(rc); ++loc) {
                double best = best_iou(rc, z, b, n, loc);
                d->above[b][n][loc] = best > rc->thresh;
                d->margin[b][n][loc] = fabs(best - rc->thresh);
                d->resp[b][n][loc] = -1;
            }
        for (int t = 0; t < nt; ++t) {
            int loc = truth_cell(rc, b, t), best_n = 0;
            double best = 0, second = 0;
            dbx shape = {0, 0, rc->truth[b][t][2], rc->truth[b][t][3]};
            for (int n = 0; n < rc->n; ++n) {
                dbx p = pred(rc, z, b, n, loc);
                if (rc->bias_match) {
                    p.w = rc->anchors[2 * n] / rc->w;
                    p.h = rc->anchors[2 * n + 1] / rc->h;
                }
                p.x = p.y = 0;
                double v = iou(p, shape);
                if (v > best) {
                    second = best;
                    best = v;
                    best_n = n;
                } else if (v > second) {
                    second = v;
                }
            }
            d->resp[b][best_n][loc] = t;
            d->iou[b][t] = iou(pred(rc, z, b, best_n, loc), tbox(rc, b, t));
            if (rc->n > 1)
                for (int n = 0; n < rc->n; ++n)
                    d->margin[b][n][loc] = fmin(d->margin[b][n][loc], best - second);
        }
    }
}

/* A logistic term towards target t: cross-entropy or squared error on s(z). */
static double logi(int form, double t, double z)
{
    double s = sig(z);
    return form == FORM_XENT ? -t * log(s) - (1 - t) * log(1 - s) : .5 * (t - s) * (t - s);
}

/* x, y, w, h of one anchor towards box t (w, h in log space over the anchor). */
static double box_terms(const rcase *rc, const double *z, int b, int n, int loc, dbx t, int form)
{
    double tx = t.x * rc->w - loc % rc->w, ty = t.y * rc->h - loc / rc->w;
    double tw = log(t.w * rc->w / rc->anchors[2 * n]), th = log(t.h * rc->h / rc->anchors[2 * n + 1]);
    double zw = z[at(rc, b, n, 2, loc)], zh = z[at(rc, b, n, 3, loc)];
    return logi(form, tx, z[at(rc, b, n, 0, loc)]) + logi(form, ty, z[at(rc, b, n, 1, loc)]) +
           .5 * (tw - zw) * (tw - zw) + .5 * (th - zh) * (th - zh);
}

/* -log softmax(z)[cls] over the classes of one anchor and cell. */
static double class_xent(const rcase *rc, const double *z, int b, int n, int loc, int cls)
{
    double m = -INFINITY, s = 0;
    for (int k = 0; k < rc->classes; ++k) m = fmax(m, z[at(rc, b, n, 5 + k, loc)]);
    for (int k = 0; k < rc->classes; ++k) s += exp(z[at(rc, b, n, 5 + k, loc)] - m);
    return -(z[at(rc, b, n, 5 + cls, loc)] - m - log(s));
}

static double region_loss(const rcase *rc, const double *z, const decisions *d, int form)
{
    double L = 0;
    for (int b = 0; b < rc->batch; ++b)
        for (int n = 0; n < rc->n; ++n)
            for (int loc = 0; loc < hw_of(rc); ++loc) {
                double zo = z[at(rc, b, n, 4, loc)];
                int t = d->resp[b][n][loc];
                if (t >= 0) {
                    dbx tb = tbox(rc, b, t);
                    L += rc->coord * (2 - tb.w * tb.h) * box_terms(rc, z, b, n, loc, tb, form);
                    L += rc->object * logi(form, rc->rescore ? d->iou[b][t] : 1, zo);
                    L += rc->cls * class_xent(rc, z, b, n, loc, (int)rc->truth[b][t][4]);
                    continue;
                }
                if (rc->seen < 12800) {
                    dbx prior = {(loc % rc->w + .5) / rc->w, (loc / rc->w + .5) / rc->h,
                                 rc->anchors[2 * n] / rc->w, rc->anchors[2 * n + 1] / rc->h};
                    L += .01 * box_terms(rc, z, b, n, loc, prior, form);
                }
                if (!d->above[b][n][loc]) L += rc->noobject * logi(form, 0, zo);
            }
    return L;
}

/* Sets anchor n of cell (i + di, j + dj) to predict truth t as closely as its cell allows,
 * so that some anchors other than the trained one overlap a truth beyond thresh. */
static int plant(const rcase *rc, float *z, int b, int t, int n, int di, int dj)
{
    const float *v = rc->truth[b][t];
    int i = (int)(v[0] * rc->w) + di, j = (int)(v[1] * rc->h) + dj, loc = j * rc->w + i;
    assert_true(i >= 0 && i < rc->w && j >= 0 && j < rc->h);
    double fx = fmin(fmax(v[0] * rc->w - i, .05), .95), fy = fmin(fmax(v[1] * rc->h - j, .05), .95);
    z[at(rc, b, n, 0, loc)] = (float)log(fx / (1 - fx));
    z[at(rc, b, n, 1, loc)] = (float)log(fy / (1 - fy));
    z[at(rc, b, n, 2, loc)] = (float)log(v[2] * rc->w / rc->anchors[2 * n]);
    z[at(rc, b, n, 3, loc)] = (float)log(v[3] * rc->h / rc->anchors[2 * n + 1]);
    return loc;
}

/* identity: the [activation] linear layer 0 (ours); without it, for the oracle: pjreddie's
 * activation backward copies into the network's NULL input delta and crashes. */
/* Moves the w of anchor n at loc until its best IoU with a truth lies just above thresh,
 * where float32 and float64 may decide differently: the masking is exercised, not only
 * written. At hi the IoU exceeds thresh (planted there). */
static void put_on_edge(const rcase *rc, float *zf, double *z, int b, int n, int loc)
{
    size_t k = at(rc, b, n, 2, loc);
    double hi = z[k], lo = hi - 4;
    assert_true(best_iou(rc, z, b, n, loc) > rc->thresh);
    for (int it = 0; it < 60; ++it) {
        z[k] = (float)((hi + lo) / 2);
        if (best_iou(rc, z, b, n, loc) > rc->thresh) hi = z[k];
        else lo = z[k];
    }
    z[k] = zf[k] = (float)hi;
    print_message("anchor on the thresh edge: best IoU - thresh = %.2g\n", best_iou(rc, z, b, n, loc) - rc->thresh);
}

static void region_cfg(const rcase *rc, int identity, char *cfg, size_t size)
{
    snprintf(cfg, size,
             "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n"
             "%s[region]\nanchors=%g,%g,%g,%g\nclasses=%d\nnum=%d\ncoords=4\nsoftmax=1\n"
             "rescore=%d\nbias_match=%d\nthresh=%g\ncoord_scale=%g\nobject_scale=%g\n"
             "noobject_scale=%g\nclass_scale=%g\n",
             rc->batch, rc->w, rc->h, rc->n * chans(rc), identity ? "[activation]\nactivation=linear\n" : "",
             rc->anchors[0], rc->anchors[1], rc->anchors[2],
             rc->anchors[3], rc->classes, rc->n, rc->rescore, rc->bias_match, (double)rc->thresh,
             (double)rc->coord, (double)rc->object, (double)rc->noobject, (double)rc->cls);
}

static network *region_net(const rcase *rc)
{
    char cfg[1024];
    region_cfg(rc, 1, cfg, sizeof(cfg));
    network *net = tu_net_from_text(cfg, rc->batch);
    assert_int_equal(net->n, 2);
    assert_int_equal(net->layers[1].type, LT_REGION);
    assert_int_equal((size_t)net->layers[1].outputs, per_sample(rc));
    assert_int_equal(net->truths, 30 * 5); /* max=30: pjreddie's fixed truth size */
    return net;
}

/* The forward output: logistic x, y, objectness, raw w, h, softmax classes. */
static void check_forward(const rcase *rc, const double *z, const float *out)
{
    for (int b = 0; b < rc->batch; ++b)
        for (int n = 0; n < rc->n; ++n)
            for (int loc = 0; loc < hw_of(rc); ++loc) {
                double m = -INFINITY, s = 0;
                for (int k = 0; k < rc->classes; ++k) m = fmax(m, z[at(rc, b, n, 5 + k, loc)]);
                for (int k = 0; k < rc->classes; ++k) s += exp(z[at(rc, b, n, 5 + k, loc)] - m);
                for (int e = 0; e < chans(rc); ++e) {
                    size_t k = at(rc, b, n, e, loc);
                    double want = e == 2 || e == 3 ? z[k] : e < 5 ? sig(z[k]) : exp(z[k] - m) / s;
                    if (fabs(out[k] - want) > 1e-6)
                        fail_msg("output[%zu] (sample %d anchor %d entry %d cell %d): %.8g, want %.8g", k, b,
                                 n, e, loc, (double)out[k], want);
                }
            }
}

typedef struct {
    size_t compared, masked;
    double worst, gmax, sumsq; /* sum of squares of the compared fd and masked deltas */
} fd_stats;

static int near_decision(const rcase *rc, const decisions *d, size_t k)
{
    size_t ps = per_sample(rc), r = k % ps;
    int b = (int)(k / ps), n = (int)(r / ((size_t)chans(rc) * hw_of(rc))), loc = (int)(r % hw_of(rc));
    return d->margin[b][n][loc] < MARGIN;
}

/* Every element of delta against -dL/dz by central differences of region_loss in form. */
static fd_stats compare_delta(const rcase *rc, double *z, const decisions *d, int form, const float *delta,
                              const char *what)
{
    size_t total = (size_t)rc->batch * per_sample(rc);
    fd_stats st = {0};
    int bad = 0;
    for (size_t k = 0; k < total; ++k) {
        double keep = z[k];
        z[k] = keep + H;
        double hi = region_loss(rc, z, d, form);
        z[k] = keep - H;
        double lo = region_loss(rc, z, d, form);
        z[k] = keep;
        if (near_decision(rc, d, k)) {
            ++st.masked;
            st.sumsq += (double)delta[k] * delta[k];
            continue;
        }
        double fd = -(hi - lo) / (2 * H), err = fabs(fd - delta[k]);
        ++st.compared;
        st.sumsq += fd * fd;
        st.gmax = fmax(st.gmax, fabs(fd));
        st.worst = fmax(st.worst, err);
        if (err > TOL * (1 + fabs(fd)) && bad++ < 8) {
            size_t ps = per_sample(rc), r = k % ps, plane = (size_t)hw_of(rc);
            print_message("%s[%zu] (sample %zu anchor %zu entry %zu cell %zu): %.7g, -dL/dz %.7g\n", what, k,
                          k / ps, r / (chans(rc) * plane), r / plane % chans(rc), r % plane,
                          (double)delta[k], fd);
        }
    }
    print_message("%s: %zu compared, %zu masked near a decision; max error %.2g (largest %.3g)\n", what,
                  st.compared, st.masked, st.worst, st.gmax);
    if (bad) fail_msg("%s: %d elements differ from -dL/dz", what, bad);
    if (st.compared < MIN_COMPARED * total) fail_msg("%s: only %zu of %zu compared", what, st.compared, total);
    assert_true(st.gmax > .5);
    return st;
}

/* What the case covers: trained anchors, anchors above thresh that are not trained (their
 * objectness has no term at all), and anchors pushed to 0. */
static void coverage(const rcase *rc, const decisions *d)
{
    int resp = 0, quiet = 0, pushed = 0;
    for (int b = 0; b < rc->batch; ++b)
        for (int n = 0; n < rc->n; ++n)
            for (int loc = 0; loc < hw_of(rc); ++loc) {
                if (d->resp[b][n][loc] >= 0) ++resp;
                else if (d->above[b][n][loc]) ++quiet;
                else ++pushed;
            }
    print_message("anchors: %d trained, %d above thresh, %d pushed to no object\n", resp, quiet, pushed);
    assert_true(resp >= 2 && quiet >= 1 && pushed >= 10);
}

/* ---- Debian's libdarknet (pjreddie 2018) on the same cfg, input and truth ----
 * build/oracle/dn_oracle runs one train_network_datum step; its [region] forward writes the
 * layer's own delta (its CPU backward is empty, so nothing reaches layer 0 there). Compared:
 * the region output, the region delta and the cost, element by element. */
#define ORACLE "build/oracle/dn_oracle"

static void write_f32(const char *path, const float *x, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    int32_t cnt = (int32_t)n;
    if (fwrite(&cnt, 4, 1, f) != 1 || fwrite(x, 4, n, f) != n) fail_msg("write error on %s", path);
    fclose(f);
}

static float *read_f32(const char *path, size_t want)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("%s missing (the oracle failed?)", path);
    int32_t cnt = 0;
    float *x = malloc(sizeof(float) * (want + 1));
    assert_non_null(x);
    if (fread(&cnt, 4, 1, f) != 1 || (size_t)cnt != want || fread(x, 4, want, f) != want)
        fail_msg("%s: %d floats, want %zu", path, cnt, want);
    fclose(f);
    return x;
}

static double read_key(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s missing", path);
    char k[64];
    double v = NAN, x;
    while (fscanf(f, "%63s %lf", k, &x) == 2)
        if (!strcmp(k, key)) v = x;
    fclose(f);
    return v;
}

static void expect_same(const float *ours, const float *ref, size_t n, const char *what)
{
    double worst = 0;
    for (size_t k = 0; k < n; ++k) {
        double e = fabs((double)ours[k] - ref[k]);
        worst = fmax(worst, e);
        if (e > 1e-5 * (1 + fabs(ref[k])))
            fail_msg("%s[%zu]: ours %.8g, libdarknet %.8g", what, k, (double)ours[k], (double)ref[k]);
    }
    print_message("%s vs libdarknet: %zu elements, max difference %.2g\n", what, n, worst);
}

static void oracle_compare(const rcase *rc, const network *net, const float *out, const float *delta)
{
    if (access(ORACLE, X_OK) != 0) /* a missing oracle fails, with the reason */
        fail_msg("%s missing: `make oracle` builds it against Debian's libdarknet (/usr/lib/darknet, "
                 "installed by scripts/setup.sh)", ORACLE);
    char dir[512], path[600], cfg[1024];
    snprintf(dir, sizeof(dir), "%s/region_%dx%d_b%d", tu_tmpdir(), rc->w, rc->h, rc->batch);
    if (mkdir(dir, 0700) && errno != EEXIST) fail_msg("mkdir %s: %s", dir, strerror(errno));
    region_cfg(rc, 0, cfg, sizeof(cfg));
    snprintf(path, sizeof(path), "%s/net.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(cfg, f);
    fclose(f);
    /* no parameters: the weights file is the header; its seen + batch is the seen the
     * region layer sees (train_network_datum adds the batch first) */
    snprintf(path, sizeof(path), "%s/w.weights", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    int32_t hdr[3] = {0, 2, 0};
    uint64_t seen = rc->seen >= (size_t)rc->batch ? rc->seen - (size_t)rc->batch : 0;
    assert_int_equal(fwrite(hdr, 4, 3, f), 3);
    assert_int_equal(fwrite(&seen, 8, 1, f), 1);
    fclose(f);
    size_t total = (size_t)rc->batch * per_sample(rc);
    snprintf(path, sizeof(path), "%s/in.f32", dir);
    write_f32(path, net->input, total);
    snprintf(path, sizeof(path), "%s/truth.f32", dir);
    write_f32(path, net->truth, (size_t)net->batch * net->truths);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), ORACLE " train %s/net.cfg %s/w.weights %s/in.f32 %s/truth.f32 %s/trn > %s/log 2>&1",
             dir, dir, dir, dir, dir, dir);
    if (system(cmd) != 0) fail_msg("the oracle failed (log: %s/log): %s", dir, cmd);
    snprintf(path, sizeof(path), "%s/trn/cost.txt", dir);
    assert_int_equal((size_t)read_key(path, "seen"), rc->seen >= (size_t)rc->batch ? rc->seen : (size_t)rc->batch);
    double cost = read_key(path, "cost");
    print_message("cost: ours %.8g, libdarknet %.8g\n", (double)net->layers[1].cost, cost);
    assert_true(fabs(net->layers[1].cost - cost) <= 1e-5 * cost);
    snprintf(path, sizeof(path), "%s/trn/out_0.f32", dir);
    float *ref = read_f32(path, total);
    expect_same(out, ref, total, "region output");
    free(ref);
    snprintf(path, sizeof(path), "%s/trn/delta_0.f32", dir);
    ref = read_f32(path, total);
    expect_same(delta, ref, total, "region delta");
    free(ref);
}

/* plants: {sample, truth, anchor, cell offset x, y}; the one numbered edge (-1: none) is
 * then put on the thresh edge. */
static void run_case(const rcase *rc, uint64_t seed, const int (*plants)[5], int nplants, int edge)
{
    assert_true(rc->batch <= MB && rc->n <= MN && hw_of(rc) <= MHW);
    network *net = region_net(rc);
    size_t total = (size_t)rc->batch * per_sample(rc);
    tu_fill_uniform(net->input, total, -2, 2, seed);
    int edge_loc = -1;
    for (int p = 0; p < nplants; ++p) {
        int loc = plant(rc, net->input, plants[p][0], plants[p][1], plants[p][2], plants[p][3], plants[p][4]);
        if (p == edge) edge_loc = loc;
    }
    double *z = malloc(total * sizeof(double));
    assert_non_null(z);
    for (size_t k = 0; k < total; ++k) z[k] = net->input[k];
    if (edge >= 0) put_on_edge(rc, net->input, z, plants[edge][0], plants[edge][2], edge_loc);
    memset(net->truth, 0, sizeof(float) * (size_t)net->batch * net->truths);
    for (int b = 0; b < rc->batch; ++b) memcpy(net->truth + (size_t)b * net->truths, rc->truth[b], sizeof(rc->truth[b]));
    net->seen = rc->seen;
    tu_capture c;
    tu_capture_on(&c, net);
    assert_int_equal(network_forward(net, net->input, 1), 0);
    assert_int_equal(network_backward(net), 0);
    assert_int_equal(c.nout[1], total);
    assert_int_equal(c.ndelta[1], total);
    assert_int_equal(c.ndelta[0], total);

    check_forward(rc, z, c.out[1]);
    decisions d;
    region_decide(rc, z, &d);
    coverage(rc, &d);
    /* [region]'s own delta: the cross-entropy form; its cost is the sum of its squares */
    fd_stats own = compare_delta(rc, z, &d, FORM_XENT, c.delta[1], "region delta");
    if (edge >= 0) assert_true(own.masked >= 5); /* its x, y, w, h and objectness at least */
    print_message("cost %.6g, sum of squared -dL/dz %.6g\n", (double)net->layers[1].cost, own.sumsq);
    assert_true(fabs(net->layers[1].cost - own.sumsq) <= 1e-5 * own.sumsq);
    /* what it passes down: the squared-error form Darknet trains with */
    compare_delta(rc, z, &d, FORM_SSE, c.delta[0], "delta passed down");
    oracle_compare(rc, net, c.out[1], c.delta[1]);
    free(z);
    tu_capture_free(&c);
    free_network(net);
}

/* 5x5 grid, 2 anchors, 3 classes, 2 samples, first 12800 images (the prior pull is on), the
 * anchor picked by predicted shape; sample 1 has two truths in one cell. Scales all differ
 * so that a dropped or swapped scale shows. */
/* focal_loss=1 (AlexeyAB's delta_region_class): the responsible anchor's class deltas are
 * the plain ones times .5 g, g = -(1 - pt)(2 pt ln pt + pt - 1) from its truth class's
 * output pt (written here in double); every other entry is the plain layer's. */
static network *focal_net(const char *extra)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg, "[net]\nwidth=4\nheight=4\nchannels=16\n[region]\nanchors=1,1,2,2\n"
             "classes=3\nnum=2\ncoords=4\nsoftmax=1\n%s\n", extra);
    network *net = tu_net_from_text(cfg, 1);
    tu_fill_uniform(net->input, (size_t)net->inputs, -1, 1, 7);
    memset(net->truth, 0, sizeof(float) * (size_t)net->truths);
    const float t[5] = {.40f, .60f, .30f, .40f, 0};
    memcpy(net->truth, t, sizeof t);
    assert_int_equal(network_forward(net, net->input, 1), 0);
    return net;
}

static void region_focal_loss(void **s)
{
    (void)s;
    network *a = focal_net(""), *f = focal_net("focal_loss=1");
    const float *da = (const float *)((char *)a->arena + a->plan.delta[0].off);
    const float *df = (const float *)((char *)f->arena + f->plan.delta[0].off);
    const float *o = (const float *)((char *)f->arena + f->plan.out[0].off);
    int scaled = 0;
    for (int n = 0; n < 2; ++n)
        for (int loc = 0; loc < 16; ++loc) {
            size_t c0 = (size_t)(n * 8 + 5) * 16 + loc;
            int resp = da[c0] != 0 || da[c0 + 16] != 0 || da[c0 + 32] != 0;
            double pt = o[c0] + 1e-15, g = -(1 - pt) * (2 * pt * log(pt) + pt - 1);
            for (int e = 0; e < 8; ++e) {
                size_t k = (size_t)(n * 8 + e) * 16 + loc;
                double want = resp && e >= 5 ? da[k] * .5 * g : da[k];
                assert_float_equal(df[k], want, 1e-6 + 1e-5 * fabs(want));
            }
            scaled += resp;
        }
    assert_int_equal(scaled, 1);
    free_network(a), free_network(f);
}

static void region_prior_pull(void **s)
{
    (void)s;
    static const rcase rc = {
        .w = 5, .h = 5, .n = 2, .classes = 3, .batch = 2, .rescore = 0, .bias_match = 0,
        .anchors = {1.2f, 1.5f, 3.0f, 2.2f}, .coord = 1.5f, .object = 5, .noobject = .5f, .cls = 2,
        .thresh = .5f, .seen = 0,
        .truth = {{{.36f, .44f, .40f, .30f, 1}, {.74f, .70f, .16f, .22f, 2}},
                  {{.52f, .48f, .30f, .20f, 2}, {.56f, .46f, .24f, .26f, 0}, {.18f, .86f, .50f, .24f, 1}}},
    };
    static const int plants[][5] = {{0, 0, 1, 1, 0}, {1, 2, 0, 0, -1}, {1, 0, 1, 0, 1}};
    run_case(&rc, 11, plants, 3, 1);
}

/* yolov2-voc's settings: rescore (objectness target = IoU of the trained box), bias_match
 * (anchor picked by its own shape), thresh .6, object_scale 5; past 12800 images (no prior
 * pull); 4x4 grid, 2 classes, 1 sample. */
static void region_rescore_bias_match(void **s)
{
    (void)s;
    static const rcase rc = {
        .w = 4, .h = 4, .n = 2, .classes = 2, .batch = 1, .rescore = 1, .bias_match = 1,
        .anchors = {1.1f, 0.8f, 2.4f, 3.1f}, .coord = 1, .object = 5, .noobject = 1, .cls = 1,
        .thresh = .6f, .seen = 20000,
        .truth = {{{.30f, .35f, .20f, .18f, 0}, {.64f, .70f, .55f, .70f, 1}, {.86f, .12f, .22f, .30f, 1}}},
    };
    static const int plants[][5] = {{0, 0, 0, 0, 0}, {0, 1, 0, 0, 1}, {0, 1, 1, -1, 0}};
    run_case(&rc, 29, plants, 3, -1);
}

int main(void)
{
    darknet_set_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(region_focal_loss),
        cmocka_unit_test(region_prior_pull),
        cmocka_unit_test(region_rescore_bias_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
