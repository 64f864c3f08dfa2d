/* Gradient checks: every differentiable layer's backward against central finite differences.
 *
 * Each case is a tiny network built from cfg text:
 *     [net] ...  [activation] linear (layer 0, the identity)  <layers under test>  loss
 * The loss is either a final [cost] type=sse, L = 1/2 sum (t - y)^2 over the output y of the
 * layer before it, or a [softmax] with truth, L = -sum t log p. Darknet's convention is
 * delta = -dL/dout and param grads accumulate -dL/dw summed over the batch, so:
 *   - layer 0's final delta (captured by the backward hook) must equal -dL/dx, and as layer 0
 *     is the identity, x is the network input we perturb;
 *   - every registered param's grad must equal -dL/dw.
 * L is recomputed in double precision from the float32 output of the network (forward hook),
 * so the only float32 error is in the forward pass itself.
 *
 * Tolerance. With eps = 1e-2 on O(1) values the truncation error of the central difference is
 * eps^2/6 * |f'''| ~ 2e-5 for these smooth activations. The forward pass rounds each output
 * to ~1e-7 relative after short float32 sums; those errors change between the two perturbed
 * evaluations and enter dL as sum r_i dy_i ~ sqrt(n) * 3e-7 for n ~ 100 outputs, i.e. ~ 3e-6,
 * divided by 2 eps = 2e-2 gives ~ 1.5e-4 absolute on the gradient. We allow
 * |analytic - fd| <= 1e-3 * max(1, gmax) + 1e-2 * |fd| (gmax = largest |fd| of the tensor):
 * ~7x the estimated noise, while a wrong factor (leaky 0.1 vs 1, a missing term, a sign) is
 * off by O(gmax).
 *
 * Kinks (leaky/relu at 0, maxpool ties) break finite differences. Instead of hand-picking
 * inputs we detect them: each coordinate is differentiated with eps and eps/2, and if the two
 * estimates disagree beyond the tolerance the coordinate straddles a kink and is skipped.
 * At most 10% of a tensor's coordinates may be skipped, so a backward that is simply wrong
 * (which makes no coordinates inconsistent) cannot hide behind the skip rule. */
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
#include "core/rng.h"
#include "memory/saved.h"

#define EPS 1e-2
#define ATOL 1e-3
#define RTOL 1e-2
#define MAX_SKIP_FRAC 0.10

enum { LOSS_SSE, LOSS_XENT };

typedef struct {
    int tap;      /* layer whose output defines L */
    int loss;     /* LOSS_SSE or LOSS_XENT */
    double L;     /* loss of the last forward */
    const float *truth;
    int tstride;  /* truth floats per sample */
    float *delta0; /* layer 0's final delta */
    size_t n0, total0;
    size_t seen;   /* floats of the tap's output seen in this pass */
    uint64_t iteration; /* every forward runs as this iteration: same dropout masks and crops */
} gc_state;

/* The hooks take any layout (hook_any_layout), so the plan keeps its streamed pairs and
 * zero-copy routes: values arrive in chunks of whole samples, in sample order. */
static void gc_fwd_hook(void *ud, const layer *l, const float *out, size_t n)
{
    gc_state *s = ud;
    if (l->index != s->tap) return;
    size_t per = (size_t)l->outputs, total = per * (size_t)l->batch;
    if (s->seen >= total) s->seen = 0;
    if (!s->seen) s->L = 0;
    for (size_t k = 0; k < n; ++k) {
        size_t g = s->seen + k, b = g / per, i = g % per;
        double t = s->truth[b * (size_t)s->tstride + i], y = out[k];
        s->L += s->loss == LOSS_SSE ? 0.5 * (t - y) * (t - y) : (t > 0 ? -t * log(y) : 0);
    }
    s->seen += n;
}

static void gc_bwd_hook(void *ud, const layer *l, const float *d, size_t n)
{
    gc_state *s = ud;
    if (l->index != 0 || !d) return;
    size_t total = (size_t)l->outputs * (size_t)l->batch;
    if (!s->delta0) s->delta0 = malloc(total * sizeof(float));
    if (s->n0 >= total) s->n0 = 0;
    memcpy(s->delta0 + s->n0, d, n * sizeof(float));
    s->n0 += n;
}

static void gc_hooks(network *net, gc_state *s)
{
    net->hook = gc_fwd_hook;
    net->bhook = gc_bwd_hook;
    net->hook_ud = s;
    net->hook_any_layout = 1;
}

/* The plan `detector train` runs on large inputs (streamed pairs in 1-sample chunks,
 * zero-copy routes), forced onto the tiny net; a case may require some of each. */
static void gc_plan(network *net, int want_pairs, int want_views)
{
    int views = 0, pairs = tu_production_plan(net, 1, 1, &views);
    print_message("plan: %d streamed pairs, %d zero-copy layers\n", pairs, views);
    if (pairs < want_pairs) fail_msg("the plan under test has %d streamed pairs, want %d", pairs, want_pairs);
    if (views < want_views) fail_msg("the plan under test has %d zero-copy layers, want %d", views, want_views);
}

/* L at the current input and parameters (a training forward: batch-norm uses batch stats). */
static double eval_loss(network *net, gc_state *s)
{
    net->iteration = s->iteration;
    if (network_forward(net, net->input, 1)) fail_msg("forward failed: %s", net->err);
    saved_release_all(net->store); /* no backward follows; drop what forward saved */
    return s->L;
}

static double central(network *net, gc_state *s, float *v, double eps)
{
    float keep = *v;
    *v = (float)(keep + eps);
    double hi = eval_loss(net, s);
    *v = (float)(keep - eps);
    double lo = eval_loss(net, s);
    *v = keep;
    /* The step actually taken in float32 may differ slightly from eps. */
    double h = ((double)(float)(keep + eps) - (double)(float)(keep - eps)) / 2;
    return (hi - lo) / (2 * h);
}

/* Compares analytic (= -dL/dv) with finite differences for every element of v. */
static void check_tensor(network *net, gc_state *s, float *v, const float *analytic, size_t n,
                         const char *what, int bn_n)
{
    double *fd = malloc(n * sizeof(double));
    assert_non_null(fd);
    double gmax = 0;
    for (size_t i = 0; i < n; ++i) {
        fd[i] = -central(net, s, &v[i], EPS); /* minus: Darknet stores -dL/dv */
        if (fabs(fd[i]) > gmax) gmax = fabs(fd[i]);
    }
    double atol = ATOL * (gmax > 1 ? gmax : 1);
    /* Darknet's batch-norm backward differentiates the biased variance (sum/N) while its
     * forward divides by N-1 (see bn_ops.c), so it is the true gradient only up to
     * (1/s) xhat_i sum_j d_j xhat_j / (N (N-1)) per value. With |sum_j d_j xhat_j|/(N-1) <= max|d|
     * and |xhat_i| <= ~3 that is at most ~3 gmax / N: allowed on top of the noise. A wrong BN
     * backward (a dropped mean or variance term) is off by O(gmax) instead. */
    if (bn_n) atol += 3 * gmax / bn_n; /* input deltas only; weight grads: bn_case below */
    size_t skipped = 0, bad = 0;
    for (size_t i = 0; i < n; ++i) {
        double half = -central(net, s, &v[i], EPS / 2);
        if (fabs(half - fd[i]) > atol + RTOL * fabs(half)) {
            ++skipped;
            continue;
        }
        double err = fabs(analytic[i] - half);
        if (err > atol + RTOL * fabs(half)) {
            if (bad++ < 5)
                print_message("%s[%zu]: analytic %.6g, finite difference %.6g (err %.3g)\n", what, i,
                              (double)analytic[i], half, err);
        }
    }
    if (bad) fail_msg("%s: %zu of %zu gradients wrong (gmax %.3g)", what, bad, n, gmax);
    if (skipped > MAX_SKIP_FRAC * n + 1) /* +1: a 4-element bias may hit one kink */
        fail_msg("%s: %zu of %zu coordinates straddle a kink; choose other inputs", what, skipped, n);
    if (gmax == 0 && n > 0) fail_msg("%s: loss does not depend on it at all", what);
    free(fd);
}

/* A random permutation of n evenly spaced values in (-1, 1): inputs then differ by at least
 * 2/n, so for n <= 90 no two are within 2*EPS of each other and maxpool windows hold no
 * near-ties that finite differences would straddle. */
static void fill_spaced(float *x, size_t n, uint64_t seed)
{
    rng_t g;
    rng_seed(&g, seed, 5);
    for (size_t i = 0; i < n; ++i) x[i] = (float)(-1 + 2 * (i + 0.5) / n);
    for (size_t i = n - 1; i > 0; --i) { /* Fisher-Yates */
        size_t j = (size_t)rng_uniform(&g, 0, (float)(i + 1));
        if (j > i) j = i;
        float t = x[i]; x[i] = x[j]; x[j] = t;
    }
}

/* Builds the network, runs one forward+backward and checks the input delta and all params
 * (check_params 2: only those of layers without batch norm, see bn_reference). */
static void gradcheck_plan(const char *cfg, int loss, int check_params, int bn_n, int want_pairs,
                           int want_views)
{
    network *net = tu_net_from_text(cfg, 0);
    gc_state s = {0};
    s.loss = loss;
    s.tap = loss == LOSS_SSE ? net->n - 2 : net->n - 1;
    s.tstride = net->truths;
    gc_hooks(net, &s);
    gc_plan(net, want_pairs, want_views);
    s.iteration = net->iteration;
    size_t nin = (size_t)net->batch * net->inputs;
    fill_spaced(net->input, nin, 11);
    size_t nt = (size_t)net->batch * net->truths;
    if (loss == LOSS_SSE) {
        tu_fill_uniform(net->truth, nt, -1, 1, 12);
    } else { /* a distribution per sample (groups=1 here) */
        tu_fill_uniform(net->truth, nt, 0.05f, 1, 12);
        for (int b = 0; b < net->batch; ++b) {
            float *t = net->truth + (size_t)b * net->truths, sum = 0;
            for (int i = 0; i < net->truths; ++i) sum += t[i];
            for (int i = 0; i < net->truths; ++i) t[i] /= sum;
        }
    }
    s.truth = net->truth;

    net->iteration = s.iteration;
    if (network_forward(net, net->input, 1)) fail_msg("forward: %s", net->err);
    if (network_backward(net)) fail_msg("backward: %s", net->err);
    assert_int_equal(s.n0, nin);
    float *d0 = malloc(nin * sizeof(float));
    memcpy(d0, s.delta0, nin * sizeof(float));
    check_tensor(net, &s, net->input, d0, nin, "input delta", bn_n);
    free(d0);

    for (int i = 1; check_params && i < net->n; ++i) {
        layer *l = &net->layers[i];
        if (check_params == 2 && l->batch_stats) continue;
        for (int k = 0; k < l->nparams; ++k) {
            param *p = &l->params[k];
            float *g = malloc(p->n * sizeof(float));
            memcpy(g, p->grad, p->n * sizeof(float));
            char what[64];
            snprintf(what, sizeof(what), "layer %d (%s) param %d", i, l->ops->name, k);
            check_tensor(net, &s, p->w, g, p->n, what, bn_n);
            free(g);
        }
    }
    free(s.delta0);
    free_network(net);
}


/* ---- batch norm: a float64 reference of Darknet's backward formula ----
 *
 * Darknet's BN backward (pjreddie's normalize_delta_cpu, our bn_ops.c) is not the exact
 * gradient of its forward: the forward divides the variance by N-1, the backward
 * differentiates it as if divided by N. For input deltas the difference per value is
 * O(1/N), but for the weights feeding a BN it adds up coherently over N positions and does
 * not shrink with N (true weight grads of a BN'd layer are orthogonal to the weights; the
 * formula's are not). So for [1x1 conv | connected] + BN + activation + sse we check in two
 * steps, both in float64:
 *   1. the reference with the true (N-1) variance term agrees with finite differences of the
 *      float32 network: this validates the reference's chain rule and parameter mapping;
 *   2. the reference with Darknet's (N) term agrees with the network's analytic deltas and
 *      grads to 1e-4 relative. */
typedef struct {
    int batch, c, f, sp;       /* input channels, filters, spatial positions */
    int k, wd;                 /* kernel size (odd, stride 1, pad k/2: sp = wd x (sp/wd)); 0: 1 */
    const float *x, *w, *beta, *gamma, *t; /* w NULL: identity ([batchnorm] layer) */
    activation act;
    double *dx, *dw, *dbeta, *dgamma;    /* outputs: -dL/d. */
} bn_ref;

static double ref_act(activation a, double v, double *deriv)
{
    if (a == ACT_LOGISTIC) {
        double y = 1 / (1 + exp(-v));
        *deriv = y * (1 - y);
        return y;
    }
    if (a == ACT_SWISH) {
        double sg = 1 / (1 + exp(-v));
        *deriv = sg + v * sg * (1 - sg);
        return v * sg;
    }
    *deriv = 1;
    return v;
}

static void bn_reference(bn_ref *r, int darknet_formula)
{
    int B = r->batch, C = r->c, F = r->f, P = r->sp;
    double N = (double)B * P;
    double *z = calloc((size_t)B * F * P, sizeof(double)), *dz = calloc((size_t)B * F * P, sizeof(double));
#define IX(b, ch, k, nch) (((size_t)(b) * (nch) + (ch)) * P + (k))
    int K = r->k ? r->k : 1, Wd = r->wd ? r->wd : 1, Hd = P / Wd, pad = K / 2;
    /* input position of output position k seen through kernel tap t, or -1 (padding) */
#define TAP(k, t) (((k) / Wd + (t) / K - pad) < 0 || ((k) / Wd + (t) / K - pad) >= Hd ||        \
                   ((k) % Wd + (t) % K - pad) < 0 || ((k) % Wd + (t) % K - pad) >= Wd           \
                       ? -1                                                                  \
                       : ((k) / Wd + (t) / K - pad) * Wd + (k) % Wd + (t) % K - pad)
#define WT(f, ci, t) (r->w ? (double)r->w[((size_t)(f) * C + (ci)) * K * K + (t)] : (double)((ci) == (f)))
    for (int b = 0; b < B; ++b)
        for (int f = 0; f < F; ++f)
            for (int k = 0; k < P; ++k) {
                double v = 0;
                for (int ci = 0; ci < C; ++ci)
                    for (int t = 0; t < K * K; ++t)
                        if (TAP(k, t) >= 0) v += WT(f, ci, t) * (double)r->x[IX(b, ci, TAP(k, t), C)];
                z[IX(b, f, k, F)] = v;
            }
    for (int f = 0; f < F; ++f) {
        double m = 0, var = 0, sd = 0, sdx = 0;
        for (int b = 0; b < B; ++b) for (int k = 0; k < P; ++k) m += z[IX(b, f, k, F)];
        m /= N;
        for (int b = 0; b < B; ++b) for (int k = 0; k < P; ++k) var += pow(z[IX(b, f, k, F)] - m, 2);
        var /= N - 1;
        double s = sqrt(var) + 1e-6; /* forward's normalisation */
        for (int b = 0; b < B; ++b)
            for (int k = 0; k < P; ++k) {
                size_t i = IX(b, f, k, F);
                double xh = (z[i] - m) / s, der;
                double y = ref_act(r->act, r->gamma[f] * xh + r->beta[f], &der);
                double d = ((double)r->t[b * F * P + f * P + k] - y) * der; /* delta at BN out */
                dz[i] = d; /* temporarily */
                sd += d;
                sdx += d * xh;
            }
        r->dbeta[f] = sd;
        r->dgamma[f] = sdx;
        /* delta of the normalized value is gamma*d; then through the normalisation */
        double g = r->gamma[f];
        double inv = darknet_formula ? 1 / sqrt(var + 1e-5) : 1 / s;
        double vden = darknet_formula ? N : N - 1;
        for (int b = 0; b < B; ++b)
            for (int k = 0; k < P; ++k) {
                size_t i = IX(b, f, k, F);
                double xh = (z[i] - m) / s;
                /* Darknet's variance term carries inv^3 (z-m)^2 = inv^3 s^2 xh^2 */
                dz[i] = g * inv * (dz[i] - sd / N) - g * inv * inv * inv * s * s * xh * sdx / vden;
            }
    }
    for (size_t i = 0; i < (size_t)B * C * P; ++i) r->dx[i] = 0;
    for (int b = 0; b < B; ++b)
        for (int f = 0; f < F; ++f)
            for (int k = 0; k < P; ++k)
                for (int ci = 0; ci < C; ++ci)
                    for (int t = 0; t < K * K; ++t)
                        if (TAP(k, t) >= 0) r->dx[IX(b, ci, TAP(k, t), C)] += WT(f, ci, t) * dz[IX(b, f, k, F)];
    for (int f = 0; r->w && f < F; ++f)
        for (int ci = 0; ci < C; ++ci)
            for (int t = 0; t < K * K; ++t) {
                double v = 0;
                for (int b = 0; b < B; ++b)
                    for (int k = 0; k < P; ++k)
                        if (TAP(k, t) >= 0) v += dz[IX(b, f, k, F)] * r->x[IX(b, ci, TAP(k, t), C)];
                r->dw[((size_t)f * C + ci) * K * K + t] = v;
            }
#undef WT
#undef TAP
#undef IX
    free(z);
    free(dz);
}

/* max |a - ref| <= tol * max(|ref|) */
static void expect_close(const float *a, const double *ref, size_t n, double tol, const char *what)
{
    double mx = 0, md = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
        double d = fabs(a[i] - ref[i]);
        if (!(d <= md)) { md = d; at = i; }
    }
    if (!(md <= tol * (mx > 1e-3 ? mx : 1e-3)))
        fail_msg("%s[%zu]: %.6g vs reference %.6g (max err %.3g, scale %.3g)", what, at, (double)a[at],
                 ref[at], md, mx);
}

/* which: 0 [batchnorm], 1 1x1 conv, 2 connected. Parameter index of beta, gamma, weights. */
static void bn_case(const char *cfg, int which, activation act)
{
    network *net = tu_net_from_text(cfg, 0);
    layer *l = &net->layers[1];
    int ib = which == 0 ? -1 : 0, ig = which == 0 ? 0 : which == 1 ? 1 : 2;
    int iw = which == 0 ? -1 : which == 1 ? 2 : 1;
    gc_state s = {0};
    s.tap = 1;
    s.loss = LOSS_SSE;
    s.tstride = net->truths;
    gc_hooks(net, &s);
    gc_plan(net, 0, 0);
    s.iteration = net->iteration;
    size_t nin = (size_t)net->batch * net->inputs, nt = (size_t)net->batch * net->truths;
    tu_fill_uniform(net->input, nin, -1, 1, 21);
    tu_fill_uniform(net->truth, nt, -1, 1, 22);
    s.truth = net->truth;
    /* non-trivial BN parameters */
    tu_fill_uniform(l->params[ig].w, l->params[ig].n, 0.5f, 1.5f, 23);
    if (ib >= 0) tu_fill_uniform(l->params[ib].w, l->params[ib].n, -0.5f, 0.5f, 24);
    if (network_forward(net, net->input, 1) || network_backward(net)) fail_msg("%s", net->err);

    int F = l->out_c, C = l->c, P = l->out_w * l->out_h;
    int K = which == 1 && l->nparams > 2 ? (int)lround(sqrt((double)l->params[iw].n / ((double)F * C))) : 1;
    static const float zero[64];
    bn_ref r = {net->batch, C, F, P, K, l->out_w, net->input, iw >= 0 ? l->params[iw].w : NULL,
                ib >= 0 ? l->params[ib].w : zero, l->params[ig].w, net->truth, act,
                calloc(nin, sizeof(double)), calloc((size_t)F * C * K * K, sizeof(double)),
                calloc((size_t)F, sizeof(double)), calloc((size_t)F, sizeof(double))};
    float *d0 = malloc(nin * sizeof(float)), *gw = NULL, *gg = malloc(F * sizeof(float));
    memcpy(d0, s.delta0, nin * sizeof(float));
    memcpy(gg, l->params[ig].grad, F * sizeof(float));
    if (iw >= 0) {
        gw = malloc((size_t)F * C * K * K * sizeof(float));
        memcpy(gw, l->params[iw].grad, (size_t)F * C * K * K * sizeof(float));
    }

    /* step 1: the true-gradient reference against finite differences of the network */
    bn_reference(&r, 0);
    float *tmp = calloc(nin, sizeof(float));
    assert_non_null(tmp);
    for (size_t i = 0; i < nin; ++i) tmp[i] = (float)r.dx[i];
    check_tensor(net, &s, net->input, tmp, nin, "reference input delta", 0);
    if (iw >= 0) {
        size_t nw = (size_t)F * C * K * K;
        float *tw = calloc(nw, sizeof(float));
        assert_non_null(tw);
        for (size_t i = 0; i < nw; ++i) tw[i] = (float)r.dw[i];
        check_tensor(net, &s, l->params[iw].w, tw, nw, "reference weight grads", 0);
        free(tw);
    }
    free(tmp);

    /* step 2: Darknet's formula against the network's analytic values */
    bn_reference(&r, 1);
    expect_close(d0, r.dx, nin, 1e-4, "input delta");
    expect_close(gg, r.dgamma, (size_t)F, 1e-4, "scale grads");
    if (ib >= 0) expect_close(l->params[ib].grad, r.dbeta, (size_t)F, 1e-4, "bias grads");
    if (iw >= 0) expect_close(gw, r.dw, (size_t)F * C * K * K, 1e-4, "weight grads");
    free(r.dx); free(r.dw); free(r.dbeta); free(r.dgamma);
    free(d0); free(gw); free(gg); free(s.delta0);
    free_network(net);
}

static void gradcheck_bn(const char *cfg, int loss, int check_params, int bn_n)
{
    gradcheck_plan(cfg, loss, check_params, bn_n, 0, 0);
}

static void gradcheck(const char *cfg, int loss, int check_params)
{
    gradcheck_plan(cfg, loss, check_params, 0, 0, 0);
}

#define NET(w, h, c, b) "[net]\nbatch=" #b "\nwidth=" #w "\nheight=" #h "\nchannels=" #c "\n" \
                        "[activation]\nactivation=linear\n"
#define SSE "[cost]\ntype=sse\n"

static void conv_leaky(void **st)
{
    (void)st;
    gradcheck(NET(4, 4, 3, 1) "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n" SSE,
              LOSS_SSE, 1);
}

static void conv_bn_logistic_stride2(void **st)
{
    (void)st;
    /* Input delta only: through BN the formula's weight grads are not the true gradient
     * (see bn_reference); conv_bn_swish_1x1 and connected_bn_logistic check those. */
    gradcheck_bn(NET(16, 16, 2, 2) "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\nstride=2\n"
                 "pad=1\nactivation=logistic\n" SSE, LOSS_SSE, 0, 2 * 8 * 8);
}

static void conv_groups_mish(void **st)
{
    (void)st;
    gradcheck(NET(4, 4, 4, 2) "[convolutional]\nfilters=4\ngroups=2\nsize=3\npad=1\nactivation=mish\n" SSE,
              LOSS_SSE, 1);
}

static void conv_bn_swish_1x1(void **st)
{
    (void)st;
    bn_case(NET(4, 4, 3, 3) "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=1\nactivation=swish\n" SSE,
            1, ACT_SWISH);
}

static void conv_linear_size2_stride2_nopad(void **st)
{
    (void)st;
    gradcheck(NET(6, 4, 2, 1) "[convolutional]\nfilters=3\nsize=2\nstride=2\nactivation=linear\n" SSE,
              LOSS_SSE, 1);
}

static void conv_padding_key_tanh(void **st)
{
    (void)st;
    gradcheck(NET(5, 4, 2, 2) "[convolutional]\nfilters=2\nsize=3\npadding=2\nstride=2\nactivation=tanh\n" SSE,
              LOSS_SSE, 1);
}

static void conv_bn_swish_3x3(void **st)
{
    (void)st;
    /* 3x3 kernels, padding 1: the weight gradients of a conv+BN (bn_case's two steps). */
    bn_case(NET(5, 4, 2, 2) "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=swish\n" SSE,
            1, ACT_SWISH);
}

/* A streamed pair (conv, maxpool) run in 1-sample chunks: every gradient, exact (no BN). */
static void stream_conv_leaky_maxpool(void **st)
{
    (void)st;
    gradcheck_plan(NET(4, 4, 2, 2) "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
                   "[maxpool]\nsize=2\nstride=2\n" SSE, LOSS_SSE, 1, 0, 1, 0);
}

/* A streamed pair (conv+BN, conv) in 1-sample chunks: BN's statistics pass over the chunks;
 * input delta and the second conv's gradients (the BN'd weights: conv_bn_swish_3x3). */
static void stream_conv_bn_conv(void **st)
{
    (void)st;
    gradcheck_plan(NET(6, 6, 2, 3) "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\n"
                   "activation=logistic\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n" SSE,
                   LOSS_SSE, 2, 3 * 6 * 6, 1, 0);
}

/* [dropout] in training: every forward runs as the same iteration, so the same mask. */
static void dropout(void **st)
{
    (void)st;
    gradcheck(NET(3, 3, 2, 2) "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
              "[dropout]\nprobability=0.5\n" SSE, LOSS_SSE, 1);
}

/* [crop] in training (pjreddie's): out = 2 in - 1 over a random crop, flipped or not, the
 * same for every sample and channel; no backward (it sits on the input). Checked by finite
 * differences of the forward: each input moves at most one output, by exactly 2x, every
 * output is moved by one input, and the map is one translation (and flip) of the window. */
static void crop(void **st)
{
    (void)st;
    network *net = tu_net_from_text(NET(5, 4, 2, 2) "[crop]\ncrop_width=3\ncrop_height=2\nflip=1\n" SSE, 0);
    tu_capture c;
    tu_capture_on(&c, net);
    tu_production_plan(net, 1, 1, NULL);
    const layer *l = &net->layers[1];
    size_t nin = (size_t)net->batch * net->inputs, nout = (size_t)net->batch * l->outputs;
    fill_spaced(net->input, nin, 31);
    uint64_t it = net->iteration + 3; /* a window off the corner, flipped */
    net->iteration = it;
    if (network_forward(net, net->input, 1) || network_backward(net)) fail_msg("%s", net->err);
    for (size_t i = 0; i < nin; ++i) assert_true(c.delta[0][i] == 0); /* no backward */
    float *y0 = malloc(nout * sizeof(float));
    long *src = malloc(nout * sizeof(long));
    memcpy(y0, c.out[1], nout * sizeof(float));
    for (size_t k = 0; k < nout; ++k) src[k] = -1;
    for (size_t i = 0; i < nin; ++i) {
        float keep = net->input[i];
        net->input[i] = keep + 0.25f;
        net->iteration = it;
        if (network_forward(net, net->input, 1)) fail_msg("%s", net->err);
        saved_release_all(net->store);
        net->input[i] = keep;
        int moved = 0;
        for (size_t k = 0; k < nout; ++k) {
            if (c.out[1][k] == y0[k]) continue;
            if (fabsf(c.out[1][k] - y0[k] - 0.5f) > 1e-6f) fail_msg("output %zu moved by %g, not 2 x 0.25", k, c.out[1][k] - y0[k]);
            if (src[k] >= 0 || moved++) fail_msg("input %zu: output %zu moved twice or by two inputs", i, k);
            src[k] = (long)i;
        }
    }
    /* one window: output (b, ch, r, q) reads input (b, ch, r + dh, flip ? W-1-dw-q : q + dw) */
    int W = l->w, H = l->h, ow = l->out_w, oh = l->out_h, C = l->c;
    long s0 = src[0], s1 = src[1];
    assert_true(s0 >= 0 && s1 >= 0);
    int flip = s1 < s0, dh = (int)(s0 / W % H), dw = flip ? W - 1 - (int)(s0 % W) : (int)(s0 % W);
    for (int b = 0; b < net->batch; ++b)
        for (int ch = 0; ch < C; ++ch)
            for (int r = 0; r < oh; ++r)
                for (int q = 0; q < ow; ++q) {
                    size_t k = (((size_t)b * C + ch) * oh + r) * ow + q;
                    int col = flip ? W - 1 - dw - q : q + dw;
                    long want = (long)((((size_t)b * C + ch) * H + r + dh) * W + col);
                    if (src[k] != want) fail_msg("output %zu reads input %ld, want %ld", k, src[k], want);
                }
    print_message("crop: offset (%d, %d), flip %d\n", dh, dw, flip);
    free(y0);
    free(src);
    tu_capture_free(&c);
    free_network(net);
}

static void connected_leaky(void **st)
{
    (void)st;
    gradcheck(NET(3, 2, 2, 2) "[connected]\noutput=5\nactivation=leaky\n" SSE, LOSS_SSE, 1);
}

static void connected_bn_logistic(void **st)
{
    (void)st;
    bn_case(NET(1, 1, 4, 6) "[connected]\noutput=3\nbatch_normalize=1\nactivation=logistic\n" SSE, 2,
            ACT_LOGISTIC);
}

static void maxpool_2x2(void **st)
{
    (void)st;
    gradcheck(NET(4, 4, 2, 2) "[maxpool]\nsize=2\nstride=2\n" SSE, LOSS_SSE, 0);
}

static void maxpool_size2_stride1(void **st)
{
    (void)st;
    gradcheck(NET(4, 3, 2, 2) "[maxpool]\nsize=2\nstride=1\n" SSE, LOSS_SSE, 0);
}

static void maxpool_size3_stride2_padding(void **st)
{
    (void)st;
    gradcheck(NET(5, 5, 1, 2) "[maxpool]\nsize=3\nstride=2\npadding=2\n" SSE, LOSS_SSE, 0);
}

static void avgpool(void **st)
{
    (void)st;
    gradcheck(NET(3, 2, 3, 2) "[avgpool]\n" SSE, LOSS_SSE, 0);
}

static void softmax_truth(void **st)
{
    (void)st;
    gradcheck(NET(1, 1, 6, 2) "[connected]\noutput=5\nactivation=linear\n[softmax]\n", LOSS_XENT, 1);
}

static void softmax_direct(void **st)
{
    (void)st;
    /* Softmax on the network input itself: delta = t - p is -dL/dz only for T=1. */
    gradcheck(NET(1, 1, 7, 3) "[softmax]\ngroups=1\n", LOSS_XENT, 0);
}

static void cost_sse(void **st)
{
    (void)st;
    gradcheck(NET(2, 2, 3, 2) SSE, LOSS_SSE, 0);
}

static void route_concat(void **st)
{
    (void)st;
    gradcheck_plan(NET(3, 3, 2, 2) "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
              "[route]\nlayers=-1,-2\n"
              "[convolutional]\nfilters=2\nsize=1\nactivation=logistic\n" SSE, LOSS_SSE, 1, 0, 0, 1);
}

static void route_groups(void **st)
{
    (void)st;
    gradcheck_plan(NET(3, 3, 4, 2) "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
              "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"
              "[route]\nlayers=-1,-3\n" SSE, LOSS_SSE, 1, 0, 0, 1);
}

static void shortcut_leaky_alpha_beta(void **st)
{
    (void)st;
    gradcheck(NET(3, 3, 2, 2) "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
              "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=logistic\n"
              "[shortcut]\nfrom=-2\nactivation=leaky\nalpha=0.5\nbeta=2\n" SSE, LOSS_SSE, 1);
}

static void shortcut_resample(void **st)
{
    (void)st;
    /* from= is 4x4x3, the previous layer 2x2x2: stride sampling and min(c) channels. */
    gradcheck(NET(4, 4, 3, 2) "[convolutional]\nfilters=2\nsize=2\nstride=2\nactivation=linear\n"
              "[shortcut]\nfrom=0\nactivation=linear\n" SSE, LOSS_SSE, 1);
}

/* Squeeze-and-excitation: [avgpool] and a logistic 1x1 conv give one scale per channel of
 * layer 1's map. Both factors get gradients (from= and the previous layer). */
static void scale_channels_se(void **st)
{
    (void)st;
    gradcheck(NET(3, 3, 3, 2) "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
              "[avgpool]\n"
              "[convolutional]\nfilters=3\nsize=1\nactivation=logistic\n"
              "[scale_channels]\nfrom=-3\nactivation=leaky\n" SSE, LOSS_SSE, 1);
}

/* scale_wh=1: one scale per position, from a one-channel map. */
static void scale_channels_wh(void **st)
{
    (void)st;
    gradcheck(NET(3, 2, 2, 2) "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
              "[convolutional]\nfilters=1\nsize=3\npad=1\nactivation=tanh\n"
              "[scale_channels]\nfrom=-2\nscale_wh=1\n" SSE, LOSS_SSE, 1);
}

/* [sam]: a value per value, here with swish on the product (AlexeyAB's lacks it). */
static void sam_swish(void **st)
{
    (void)st;
    gradcheck(NET(3, 3, 2, 2) "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
              "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=logistic\n"
              "[sam]\nfrom=-2\nactivation=swish\n" SSE, LOSS_SSE, 1);
}

static void upsample(void **st)
{
    (void)st;
    gradcheck(NET(2, 3, 2, 2) "[upsample]\nstride=2\n" SSE, LOSS_SSE, 0);
}

static void upsample_scale(void **st)
{
    (void)st;
    gradcheck(NET(2, 2, 2, 1) "[upsample]\nstride=3\nscale=0.5\n" SSE, LOSS_SSE, 0);
}

static void reorg(void **st)
{
    (void)st;
    gradcheck(NET(4, 4, 4, 2) "[reorg]\nstride=2\n" SSE, LOSS_SSE, 0);
}

static void reorg3d(void **st)
{
    (void)st;
    gradcheck(NET(4, 4, 2, 2) "[reorg3d]\nstride=2\n" SSE, LOSS_SSE, 0);
    gradcheck(NET(2, 2, 16, 1) "[reorg3d]\nstride=2\nreverse=1\n" SSE, LOSS_SSE, 0);
}

/* [reorg3d] is space-to-depth: output channel o*C + c of cell (i, j) is input channel c at
 * (i*s + o%s, j*s + o/s), written out here with explicit loops (AlexeyAB's kernel called
 * with the output's sizes; [reorg] is pjreddie's other mapping). */
static void reorg3d_space_to_depth(void **st)
{
    (void)st;
    enum { W = 6, H = 4, C = 3, S = 2, B = 2 };
    network *net = tu_net_from_text(NET(6, 4, 3, 2) "[reorg3d]\nstride=2\n", 0);
    float in[B * W * H * C];
    for (int i = 0; i < B * W * H * C; ++i) in[i] = (float)i;
    if (network_forward(net, in, 0)) fail_msg("forward: %s", net->err);
    const float *out = network_layer_output(net, 1);
    assert_non_null(out);
    for (int b = 0; b < B; ++b)
        for (int o = 0; o < S * S; ++o)
            for (int c = 0; c < C; ++c)
                for (int j = 0; j < H / S; ++j)
                    for (int i = 0; i < W / S; ++i) {
                        int x = i * S + o % S, y = j * S + o / S;
                        float want = in[((b * C + c) * H + y) * W + x];
                        float got = out[((b * C * S * S + o * C + c) * (H / S) + j) * (W / S) + i];
                        if (got != want)
                            fail_msg("sample %d channel %d cell (%d, %d): %g, want input %g", b,
                                     o * C + c, i, j, (double)got, (double)want);
                    }
    free_network(net);
}

static void batchnorm_layer(void **st)
{
    (void)st;
    bn_case(NET(3, 3, 3, 2) "[batchnorm]\n" SSE, 0, ACT_LINEAR);
}

static void activation_layers(void **st)
{
    (void)st;
    static const char *acts[] = {"logistic", "leaky", "relu", "tanh", "elu", "mish", "swish",
                                 "linear", "selu", "relie", "ramp", "loggy", "plse", "lhtan", "stair",
                                 "hardtan", "relu6", "hard_mish", "gelu"};
    char cfg[512];
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); ++i) {
        snprintf(cfg, sizeof(cfg), NET(3, 3, 2, 2) "[activation]\nactivation=%s\n" SSE, acts[i]);
        print_message("activation=%s\n", acts[i]);
        gradcheck(cfg, LOSS_SSE, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_leaky),
        cmocka_unit_test(conv_bn_logistic_stride2),
        cmocka_unit_test(conv_groups_mish),
        cmocka_unit_test(conv_bn_swish_1x1),
        cmocka_unit_test(conv_linear_size2_stride2_nopad),
        cmocka_unit_test(conv_padding_key_tanh),
        cmocka_unit_test(conv_bn_swish_3x3),
        cmocka_unit_test(stream_conv_leaky_maxpool),
        cmocka_unit_test(stream_conv_bn_conv),
        cmocka_unit_test(dropout),
        cmocka_unit_test(crop),
        cmocka_unit_test(connected_leaky),
        cmocka_unit_test(connected_bn_logistic),
        cmocka_unit_test(maxpool_2x2),
        cmocka_unit_test(maxpool_size2_stride1),
        cmocka_unit_test(maxpool_size3_stride2_padding),
        cmocka_unit_test(avgpool),
        cmocka_unit_test(softmax_truth),
        cmocka_unit_test(softmax_direct),
        cmocka_unit_test(cost_sse),
        cmocka_unit_test(route_concat),
        cmocka_unit_test(route_groups),
        cmocka_unit_test(shortcut_leaky_alpha_beta),
        cmocka_unit_test(shortcut_resample),
        cmocka_unit_test(scale_channels_se),
        cmocka_unit_test(scale_channels_wh),
        cmocka_unit_test(sam_swish),
        cmocka_unit_test(upsample),
        cmocka_unit_test(upsample_scale),
        cmocka_unit_test(reorg),
        cmocka_unit_test(reorg3d),
        cmocka_unit_test(reorg3d_space_to_depth),
        cmocka_unit_test(batchnorm_layer),
        cmocka_unit_test(activation_layers),
    };
    darknet_set_seed(1); /* fixed weight init: failures reproduce */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
