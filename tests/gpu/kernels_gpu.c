/* kernels_gpu.c: activations, gemm, batch norm, pooling, route/shortcut/upsample, the
 * [scale_channels]/[sam] products and the out-of-memory path, each against the CPU code or a CPU loop copied from the layer. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/activations.h"
#include "backend/cpu/blas.h"
#include "backend/cpu/bn_ops.h"
#include "backend/backend.h"
#include "backend/cuda/dn_cuda.h"
#include "backend/math/move_math.h"
#include "gpu/gpu_test.h"

#define NB(n) (sizeof(float) * (size_t)(n))

/* libm differences (CUDA expf/tanhf/log1pf vs glibc) stay within a few ulps. */
#define TOL_LIBM 4e-6f

static void check_activations(void)
{
    enum { n = 4096 };
    float *x = malloc(NB(n)), *y = malloc(NB(n)), *g = malloc(NB(n)), *d = malloc(NB(n));
    float *c = malloc(NB(n));
    uint8_t *mc = malloc(n), *mg = malloc(n);
    gt_fill(x, n, 5, -8, 8);
    static const float special[] = {0, -0.0f, 1, -1, 6, -2, 20.5f, -20.5f, 0.5f, 2, 4, -4};
    memcpy(x, special, sizeof special);
    gt_fill(d, n, 6, -1, 1);
    float *dx = gt_dev(x, NB(n)), *dy = gt_dev_zero(NB(n)), *dd = gt_dev_zero(NB(n));
    uint8_t *dm = gt_dev_zero(n);
    for (int a = 0; a < ACT_COUNT; ++a) {
        char what[80];
        float tol = (a == ACT_RELU || a == ACT_LEAKY || a == ACT_LINEAR || a == ACT_RELU6 ||
                     a == ACT_HARDTAN) ? 0 : TOL_LIBM;
        memcpy(y, x, NB(n));
        activate_array(y, n, (activation)a);
        dn_cuda_copy(dy, dx, NB(n));
        dn_gpu_activate(dy, n, (activation)a);
        gt_pull(g, dy, NB(n));
        snprintf(what, sizeof what, "activate %s", activation_names[a]);
        gt_cmp(what, g, y, n, tol);

        /* gradient from the CPU's y (so only the gradient formula is compared) */
        dn_cuda_push(dy, y, NB(n));
        memcpy(c, d, NB(n));
        gradient_array(y, x, n, (activation)a, c);
        dn_cuda_push(dd, d, NB(n));
        dn_gpu_gradient(dy, dx, n, (activation)a, dd);
        gt_pull(g, dd, NB(n));
        snprintf(what, sizeof what, "gradient %s", activation_names[a]);
        gt_cmp(what, g, c, n, tol);

        memcpy(c, d, NB(n));
        gradient_from_input(x, n, (activation)a, c);
        dn_cuda_push(dd, d, NB(n));
        dn_gpu_gradient_from_input(dx, n, (activation)a, dd);
        gt_pull(g, dd, NB(n));
        snprintf(what, sizeof what, "gradient_from_input %s", activation_names[a]);
        gt_cmp(what, g, c, n, tol);

        if (activation_is_masked((activation)a, NULL, NULL)) {
            activation_mask(y, n, (activation)a, mc);
            dn_gpu_activation_mask(dy, n, (activation)a, dm);
            gt_pull(mg, dm, n);
            snprintf(what, sizeof what, "activation mask %s", activation_names[a]);
            gt_cmp_bytes(what, mg, mc, n);
        }
    }
    gt_free(dx, NB(n)); gt_free(dy, NB(n)); gt_free(dd, NB(n)); gt_free(dm, n);
    free(x); free(y); free(g); free(d); free(c); free(mc); free(mg);
}

static void check_gemm(void)
{
    enum { M = 37, N = 29, K = 53 };
    float *a = malloc(NB(M * K)), *b = malloc(NB(K * N)), *c = malloc(NB(M * N)), *g = malloc(NB(M * N));
    gt_fill(a, M * K, 1, -1, 1);
    gt_fill(b, K * N, 2, -1, 1);
    float *da = gt_dev(a, NB(M * K)), *db = gt_dev(b, NB(K * N)), *dc = gt_dev_zero(NB(M * N));
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            int lda = ta ? M : K, ldb = tb ? K : N;
            gt_fill(c, M * N, 3, -1, 1);
            dn_cuda_push(dc, c, NB(M * N));
            dn_gemm(ta, tb, M, N, K, 0.5f, a, lda, b, ldb, 1.0f, c, N);
            dn_gpu_gemm(ta, tb, M, N, K, 0.5f, da, lda, db, ldb, 1.0f, dc, N);
            gt_pull(g, dc, NB(M * N));
            char what[48];
            snprintf(what, sizeof what, "cublas gemm TA=%d TB=%d", ta, tb);
            gt_cmp(what, g, c, M * N, 1e-4f);
        }
    gt_free(da, NB(M * K)); gt_free(db, NB(K * N)); gt_free(dc, NB(M * N));
    free(a); free(b); free(c); free(g);
}

static void check_batchnorm(void)
{
    enum { B = 4, C = 5, S = 49, T = B * C * S };
    bn_state cb;
    bn_alloc(&cb, C);
    float sc[C], bi[C], rm[C], rv[C], bu[C] = {0}, su[C] = {0};
    gt_fill(sc, C, 20, 0.5f, 1.5f);
    gt_fill(bi, C, 21, -0.5f, 0.5f);
    gt_fill(rm, C, 22, -0.1f, 0.1f);
    gt_fill(rv, C, 23, 0.9f, 1.1f);
    cb.scales = sc; cb.biases = bi; cb.rolling_mean = rm; cb.rolling_variance = rv;
    float *x = malloc(NB(T)), *d = malloc(NB(T)), *g = malloc(NB(T)), h[C];
    gt_fill(x, T, 24, -2, 3);
    gt_fill(d, T, 25, -1, 1);
    dn_gpu_bn gb = {.n = C, .scales = gt_dev(sc, NB(C)), .biases = gt_dev(bi, NB(C)),
                    .rolling_mean = gt_dev(rm, NB(C)), .rolling_variance = gt_dev(rv, NB(C)),
                    .mean = gt_dev_zero(NB(C)), .variance = gt_dev_zero(NB(C)),
                    .sum_d = gt_dev_zero(NB(C)), .sum_dx = gt_dev_zero(NB(C))};
    float *dx = gt_dev(x, NB(T)), *dd = gt_dev(d, NB(T));
    float *dbu = gt_dev_zero(NB(C)), *dsu = gt_dev_zero(NB(C));

    bn_forward_train(&cb, x, B, S);
    /* the CUDA backend's training forward: bn_stats_begin/add/end, then normalize */
    double *dacc = gt_dev_zero(2 * C * sizeof(double));
    dn_gpu_bn_stats_add(dacc, dx, C, B, S);
    dn_gpu_bn_stats_end(dacc, C, (double)B * S, gb.mean, gb.variance, gb.rolling_mean,
                        gb.rolling_variance);
    dn_gpu_bn_normalize(gb.mean, gb.variance, C, dx, B, S);
    gt_pull(g, dx, NB(T));
    gt_cmp("batchnorm forward x-hat", g, x, T, 1e-6f);
    gt_pull(h, gb.mean, NB(C));
    gt_cmp("batchnorm mean", h, cb.mean, C, 1e-6f);
    gt_pull(h, gb.variance, NB(C));
    gt_cmp("batchnorm variance", h, cb.variance, C, 1e-6f);
    gt_pull(h, gb.rolling_variance, NB(C));
    gt_cmp("batchnorm rolling variance", h, rv, C, 1e-6f);

    /* backward: both passes on the same x-hat (the CPU's, so only backward is compared) */
    dn_cuda_push(dx, x, NB(T));
    bn_backward_reset(&cb);
    for (int b = 0; b < B; ++b) bn_backward_sums(&cb, d + b * C * S, x + b * C * S, S);
    bn_backward_params(&cb, bu, su);
    for (int b = 0; b < B; ++b) bn_backward_delta(&cb, d + b * C * S, x + b * C * S, B, S);
    dn_gpu_bn_backward_reset(&gb);
    dn_gpu_bn_backward_sums(&gb, dd, dx, B, S);
    dn_gpu_bn_backward_params(&gb, dbu, dsu);
    dn_gpu_bn_backward_delta(&gb, dd, dx, B, B, S);
    gt_pull(h, dbu, NB(C));
    gt_cmp("batchnorm bias gradient", h, bu, C, 1e-5f);
    gt_pull(h, dsu, NB(C));
    gt_cmp("batchnorm scale gradient", h, su, C, 1e-5f);
    gt_pull(g, dd, NB(T));
    gt_cmp("batchnorm backward delta", g, d, T, 1e-5f);

    float *ptrs[] = {gb.scales, gb.biases, gb.rolling_mean, gb.rolling_variance, gb.mean,
                     gb.variance, gb.sum_d, gb.sum_dx, dbu, dsu};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; ++i) gt_free(ptrs[i], NB(C));
    gt_free(dx, NB(T)); gt_free(dd, NB(T)); gt_free(dacc, 2 * C * sizeof(double));
    cb.scales = cb.biases = cb.rolling_mean = cb.rolling_variance = NULL;
    bn_free(&cb);
    free(x); free(d); free(g);
}

/* k_bn_stats_add (one block per channel, a fixed tree) against bn_stats_add's double
 * sums, added in two calls as the conv layer adds a mini-batch sample by sample: within
 * double rounding (relative 1e-13; integer values would be exact), on maps smaller than,
 * as large as and larger than a block, and 1x1. */
static void check_bn_stats_shape(int B, int C, int S)
{
    size_t T = (size_t)B * C * S;
    bn_state cb;
    bn_alloc(&cb, C);
    float *x = malloc(NB(T));
    double *g = malloc(2 * C * sizeof(double)), worst = 0;
    gt_fill(x, T, 26 + T, -2, 3);
    bn_stats_begin(&cb);
    bn_stats_add(&cb, x, B, S);
    float *dx = gt_dev(x, NB(T));
    double *dacc = gt_dev_zero(2 * C * sizeof(double));
    int h = B / 2, err = dn_gpu_bn_stats_add(dacc, dx, C, h, S);
    err |= dn_gpu_bn_stats_add(dacc, dx + (size_t)h * C * S, C, B - h, S);
    gt_pull(g, dacc, 2 * C * sizeof(double));
    for (int i = 0; i < 2 * C; ++i) {
        double d = fabs(g[i] - cb.acc[i]) / (fabs(cb.acc[i]) + 1);
        if (!(d <= worst)) worst = d;
    }
    char what[96], detail[64];
    snprintf(what, sizeof what, "batchnorm statistics sums %dx%dx%d", B, C, S);
    snprintf(detail, sizeof detail, "max relative difference %.3g", worst);
    gt_result(what, !err && worst <= 1e-13, detail);
    gt_free(dx, NB(T));
    gt_free(dacc, 2 * C * sizeof(double));
    bn_free(&cb);
    free(x);
    free(g);
}

static void check_bn_stats(void)
{
    check_bn_stats_shape(4, 5, 49);
    check_bn_stats_shape(3, 2, 4099);
    check_bn_stats_shape(6, 3, 1);
    check_bn_stats_shape(2, 16, 256);
}

/* The CPU maxpool of src/layers/maxpool.c (forward and backward), on one batch. */
static void cpu_maxpool(const float *in, int bc, int h, int w, int size, int stride, int pad,
                        float *out, uint8_t *codes, const float *delta, float *din)
{
    int off = -pad / 2, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    for (int q = 0; q < bc; ++q)
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                float best = -FLT_MAX;
                int arg = 0;
                for (int n = 0; n < size; ++n)
                    for (int m = 0; m < size; ++m) {
                        int y = off + i * stride + n, x = off + j * stride + m;
                        float v = (y >= 0 && y < h && x >= 0 && x < w) ? in[(size_t)q * h * w + y * w + x] : -FLT_MAX;
                        if (v > best) { best = v; arg = n * size + m; }
                    }
                size_t o = ((size_t)q * oh + i) * ow + j;
                out[o] = best;
                codes[o] = (uint8_t)arg;
                int y = off + i * stride + arg / size, x = off + j * stride + arg % size;
                if (y >= 0 && y < h && x >= 0 && x < w) din[(size_t)q * h * w + y * w + x] += delta[o];
            }
}

static void check_maxpool(int h, int w, int size, int stride, int pad)
{
    int bc = 2 * 3, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    size_t ni = (size_t)bc * h * w, no = (size_t)bc * oh * ow;
    float *in = malloc(NB(ni)), *out = malloc(NB(no)), *go = malloc(NB(no)), *del = malloc(NB(no));
    float *din = malloc(NB(ni)), *gdin = malloc(NB(ni));
    uint8_t *cd = malloc(no), *gcd = malloc(no);
    gt_fill(in, ni, 31, -1, 1);
    for (size_t i = 0; i < ni; i += 7) in[i] = in[i / 2]; /* ties */
    gt_fill(del, no, 32, -1, 1);
    gt_fill(din, ni, 33, -1, 1);
    float *dIn = gt_dev(in, NB(ni)), *dOut = gt_dev_zero(NB(no)), *dDel = gt_dev(del, NB(no));
    float *dDin = gt_dev(din, NB(ni));
    uint8_t *dCd = gt_dev_zero(no);
    cpu_maxpool(in, bc, h, w, size, stride, pad, out, cd, del, din);
    dn_gpu_maxpool_forward(dIn, 2, 3, h, w, size, stride, pad, dOut, dCd);
    dn_gpu_maxpool_backward(dDel, dCd, 2, 3, h, w, size, stride, pad, dDin);
    gt_pull(go, dOut, NB(no));
    gt_pull(gcd, dCd, no);
    gt_pull(gdin, dDin, NB(ni));
    char what[80];
    snprintf(what, sizeof what, "maxpool forward %dx%d size %d stride %d pad %d", h, w, size, stride, pad);
    gt_cmp(what, go, out, no, 0);
    snprintf(what, sizeof what, "maxpool codes %dx%d size %d stride %d", h, w, size, stride);
    gt_cmp_bytes(what, gcd, cd, no);
    snprintf(what, sizeof what, "maxpool backward %dx%d size %d stride %d", h, w, size, stride);
    gt_cmp(what, gdin, din, ni, 0);
    gt_free(dIn, NB(ni)); gt_free(dOut, NB(no)); gt_free(dDel, NB(no)); gt_free(dDin, NB(ni));
    gt_free(dCd, no);
    free(in); free(out); free(go); free(del); free(din); free(gdin); free(cd); free(gcd);
}

static void check_avgpool_upsample(void)
{
    enum { B = 2, C = 3, H = 5, W = 7, S = 2, HW = H * W, NI = B * C * HW, NO = NI * S * S };
    float in[NI], out[B * C], g[NO], del[NO], din[NI], gdin[NI], up[NO];
    gt_fill(in, NI, 41, -1, 1);
    for (int q = 0; q < B * C; ++q) {
        float s = 0;
        for (int i = 0; i < HW; ++i) s += in[q * HW + i];
        out[q] = s / HW;
    }
    float *dIn = gt_dev(in, sizeof in), *dOut = gt_dev_zero(sizeof out);
    dn_gpu_avgpool_forward(dIn, B, C, H, W, dOut);
    gt_pull(g, dOut, sizeof out);
    gt_cmp("avgpool forward", g, out, B * C, 0);
    gt_fill(din, NI, 42, -1, 1);
    float *dDin = gt_dev(din, sizeof din);
    for (int q = 0; q < B * C; ++q)
        for (int i = 0; i < HW; ++i) din[q * HW + i] += out[q] / HW;
    dn_gpu_avgpool_backward(dOut, B, C, H, W, dDin);
    gt_pull(gdin, dDin, sizeof gdin);
    gt_cmp("avgpool backward", gdin, din, NI, 0);

    float scale = 0.5f;
    for (int q = 0; q < B * C; ++q)
        for (int j = 0; j < H * S; ++j)
            for (int i = 0; i < W * S; ++i)
                up[(q * H * S + j) * W * S + i] = scale * in[q * HW + (j / S) * W + i / S];
    float *dUp = gt_dev_zero(sizeof up);
    dn_gpu_upsample_forward(dIn, B, C, H, W, S, scale, dUp);
    gt_pull(g, dUp, sizeof up);
    gt_cmp("upsample forward", g, up, NO, 0);
    gt_fill(del, NO, 43, -1, 1);
    gt_fill(din, NI, 44, -1, 1);
    dn_cuda_push(dDin, din, sizeof din);
    float *dDel = gt_dev(del, sizeof del);
    for (int q = 0; q < B * C; ++q)
        for (int j = 0; j < H * S; ++j)
            for (int i = 0; i < W * S; ++i)
                din[q * HW + (j / S) * W + i / S] += scale * del[(q * H * S + j) * W * S + i];
    dn_gpu_upsample_backward(dDel, B, C, H, W, S, scale, dDin);
    gt_pull(gdin, dDin, sizeof gdin);
    gt_cmp("upsample backward", gdin, din, NI, 0);
    gt_free(dIn, sizeof in); gt_free(dOut, sizeof out); gt_free(dDin, sizeof din);
    gt_free(dUp, sizeof up); gt_free(dDel, sizeof del);
}

static void check_route_shortcut(void)
{
    enum { B = 2, N1 = 50, N2 = 30, NT = N1 + N2 };
    float a[B * N1], b[B * N2], out[B * NT], g[B * NT], da[B * N1];
    gt_fill(a, B * N1, 51, -1, 1);
    gt_fill(b, B * N2, 52, -1, 1);
    for (int s = 0; s < B; ++s) {
        memcpy(out + s * NT, a + s * N1, sizeof(float) * N1);
        memcpy(out + s * NT + N1, b + s * N2, sizeof(float) * N2);
    }
    float *dA = gt_dev(a, sizeof a), *dB = gt_dev(b, sizeof b), *dO = gt_dev_zero(sizeof out);
    dn_gpu_route_copy(dA, N1, dO, NT, 0, N1, B, 0);
    dn_gpu_route_copy(dB, N2, dO, NT, N1, N2, B, 0);
    gt_pull(g, dO, sizeof out);
    gt_cmp("route forward", g, out, B * NT, 0);
    /* backward: delta of input b += its slice of the output delta */
    float db[B * N2];
    memcpy(db, b, sizeof db);
    for (int s = 0; s < B; ++s)
        for (int k = 0; k < N2; ++k) db[s * N2 + k] += out[s * NT + N1 + k];
    dn_gpu_route_copy(dO, NT, dB, N2, N1, N2, B, 1);
    gt_pull(g, dB, sizeof db);
    gt_cmp("route backward", g, db, B * N2, 0);

    /* shortcut 8x8x4 += 4x4x6 sampled, then the same grid */
    enum { W1 = 4, C1 = 6, W2 = 8, C2 = 4, NA = B * W1 * W1 * C1, NO2 = B * W2 * W2 * C2 };
    float add[NA], o2[NO2], g2[NO2];
    gt_fill(add, NA, 53, -1, 1);
    gt_fill(o2, NO2, 54, -1, 1);
    float *dAdd = gt_dev(add, sizeof add), *dO2 = gt_dev(o2, sizeof o2);
    int stride = 1, sample = W2 / W1;
    for (int s = 0; s < B; ++s)
        for (int k = 0; k < C2; ++k)
            for (int j = 0; j < W1; ++j)
                for (int i = 0; i < W1; ++i) {
                    size_t oi = (size_t)i * sample + W2 * (j * sample + (size_t)W2 * (k + (size_t)C2 * s));
                    size_t ai = (size_t)i * stride + W1 * (j * stride + (size_t)W1 * (k + (size_t)C1 * s));
                    o2[oi] = 0.75f * o2[oi] + 1.25f * add[ai];
                }
    dn_gpu_shortcut_add(B, W1, W1, C1, dAdd, W2, W2, C2, 0.75f, 1.25f, dO2);
    gt_pull(g2, dO2, sizeof o2);
    gt_cmp("shortcut add (sampled grid)", g2, o2, NO2, 0);
    memcpy(da, a, sizeof da);
    for (int i = 0; i < B * N1; ++i) da[i] += 0.5f * a[i];
    dn_gpu_axpy(dA, dA, B * N1, 0.5f);
    gt_pull(g, dA, sizeof da);
    gt_cmp("axpy", g, da, B * N1, 0);
    gt_free(dA, sizeof a); gt_free(dB, sizeof b); gt_free(dO, sizeof out);
    gt_free(dAdd, sizeof add); gt_free(dO2, sizeof o2);
}

/* Products in each mode: forward, and backward into both factors, bit for bit against
 * the CPU backend (the s gradients sum in its order). */
static void check_products(void)
{
    const dn_backend *cpu = dn_backend_cpu();
    enum { B = 2, C = 5, S = 12, N = B * C * S };
    static const char *const names[] = {"channel", "spatial", "elementwise"};
    for (int mode = DN_MUL_CHANNEL; mode <= DN_MUL_ELEM; ++mode) {
        size_t sn = (size_t)B * dn_mul_sn(C, S, mode);
        float x[N], d[N], dx[N], out[N], g[N], sv[N], ds[N];
        gt_fill(x, N, 61, -1, 1), gt_fill(d, N, 62, -1, 1), gt_fill(dx, N, 63, -1, 1);
        gt_fill(sv, sn, 64, -1, 1), gt_fill(ds, sn, 65, -1, 1);
        float *dX = gt_dev(x, NB(N)), *dD = gt_dev(d, NB(N)), *dDX = gt_dev(dx, NB(N));
        float *dS = gt_dev(sv, NB(sn)), *dDS = gt_dev(ds, NB(sn)), *dOut = gt_dev_zero(NB(N));
        char what[64];
        cpu->mul_forward(sv, x, B, C, S, mode, out);
        dn_gpu_mul_forward(dS, dX, B, C, S, mode, dOut);
        gt_pull(g, dOut, NB(N));
        snprintf(what, sizeof what, "product forward (%s)", names[mode]);
        gt_cmp(what, g, out, N, 0);
        cpu->mul_backward(d, sv, x, B, C, S, mode, ds, dx);
        dn_gpu_mul_backward(dD, dS, dX, B, C, S, mode, dDS, dDX);
        gt_pull(g, dDX, NB(N));
        snprintf(what, sizeof what, "product backward x (%s)", names[mode]);
        gt_cmp(what, g, dx, N, 0);
        gt_pull(g, dDS, NB(sn));
        snprintf(what, sizeof what, "product backward s (%s)", names[mode]);
        gt_cmp(what, g, ds, sn, 0);
        gt_free(dX, NB(N)); gt_free(dD, NB(N)); gt_free(dDX, NB(N));
        gt_free(dS, NB(sn)); gt_free(dDS, NB(sn)); gt_free(dOut, NB(N));
    }
}

static void check_oom(void)
{
    size_t before = dn_cuda_bytes_in_use();
    printf("     (an out-of-memory message is expected next)\n");
    void *p = dn_cuda_malloc((size_t)1 << 50, "test: a 1 PiB buffer");
    gt_result("oom returns NULL with a message", p == NULL && dn_cuda_bytes_in_use() == before, NULL);
    if (p) dn_cuda_free(p, (size_t)1 << 50);
    gt_result("cuda usable after oom", dn_cuda_sync("after oom") == 0, NULL);
}

int gt_kernels(void)
{
    check_activations();
    check_gemm();
    check_batchnorm();
    check_bn_stats();
    check_maxpool(13, 13, 2, 2, 1);
    check_maxpool(13, 13, 2, 1, 1);
    check_maxpool(9, 7, 3, 2, 2);
    check_maxpool(6, 6, 5, 1, 4);
    check_avgpool_upsample();
    check_route_shortcut();
    check_products();
    check_oom();
    return 0;
}
