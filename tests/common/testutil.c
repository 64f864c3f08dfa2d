#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rng.h"

static char tmp_dir[256];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Every test program used to leave its directory behind (700 MB for some): /tmp filled
 * up over a day of runs. DN_KEEP_TMP=1 keeps it for a look after a failure. */
static void remove_tmpdir(void)
{
    const char *keep = getenv("DN_KEEP_TMP");
    if (tmp_dir[0] && !(keep && *keep == '1')) nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_tmpdir(void)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/actnn-dn-test-XXXXXX");
        if (!mkdtemp(tmp_dir)) fail_msg("mkdtemp failed");
        atexit(remove_tmpdir);
    }
    return tmp_dir;
}

const char *tu_write_temp(const char *name, const char *text)
{
    static char paths[8][512];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) fail_msg("cannot write %s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

network *tu_net_from_text(const char *cfg_text, int batch)
{
    char err[1024];
    const char *path = tu_write_temp("net.cfg", cfg_text);
    network *net = parse_network_cfg_ex(path, batch, err, sizeof(err));
    if (!net) fail_msg("cfg did not parse: %s", err);
    return net;
}

const char *tu_net_error(const char *cfg_text)
{
    static char err[1024];
    const char *path = tu_write_temp("bad.cfg", cfg_text);
    err[0] = 0;
    network *net = parse_network_cfg_ex(path, 0, err, sizeof(err));
    if (net) {
        free_network(net);
        fail_msg("cfg parsed but should have failed:\n%s", cfg_text);
    }
    return err;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    rng_t g;
    rng_seed(&g, seed, 77);
    for (size_t i = 0; i < n; ++i) x[i] = rng_uniform(&g, lo, hi);
}

double tu_rel_err(const float *a, const float *b, size_t n, double floor)
{
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d; /* NaN propagates as "worse" */
        if (fabs(b[i]) > mx) mx = fabs(b[i]);
    }
    return md / (mx > floor ? mx : floor);
}

size_t tu_grad_count(const network *net)
{
    size_t n = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) n += net->layers[i].params[k].n;
    return n;
}

float tu_train_step(network *net, float *g, float *out)
{
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            if (p->grad) memset(p->grad, 0, p->n * sizeof(float));
        }
    if (network_forward(net, net->input, 1)) fail_msg("forward: %s", net->err);
    if (out) memcpy(out, net->output, sizeof(float) * (size_t)net->batch * net->outputs);
    if (network_backward(net)) fail_msg("backward: %s", net->err);
    size_t o = 0;
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            memcpy(g + o, p->grad, p->n * sizeof(float));
            o += p->n;
        }
    return net->cost;
}

/* Appends n floats of layer i to its buffer; a full buffer means a new pass has begun. */
static void cap_append(tu_capture *c, float **buf, size_t *cnt, int i, const float *d, size_t n)
{
    if (!d) return;
    if (!buf[i]) buf[i] = malloc(c->cap[i] * sizeof(float));
    if (!buf[i]) fail_msg("out of memory capturing layer %d", i);
    if (cnt[i] >= c->cap[i]) cnt[i] = 0;
    if (cnt[i] + n > c->cap[i])
        fail_msg("layer %d: hook delivered %zu floats after %zu of %zu", i, n, cnt[i], c->cap[i]);
    memcpy(buf[i] + cnt[i], d, n * sizeof(float));
    cnt[i] += n;
}

static void cap_fwd(void *ud, const layer *l, const float *out, size_t n)
{
    tu_capture *c = ud;
    cap_append(c, c->out, c->nout, l->index, out, n);
}

static void cap_bwd(void *ud, const layer *l, const float *d, size_t n)
{
    tu_capture *c = ud;
    cap_append(c, c->delta, c->ndelta, l->index, d, n);
}

void tu_capture_on(tu_capture *c, network *net)
{
    size_t n = (size_t)net->n;
    c->n = net->n;
    c->out = calloc(n, sizeof(float *));
    c->delta = calloc(n, sizeof(float *));
    c->nout = calloc(n, sizeof(size_t));
    c->ndelta = calloc(n, sizeof(size_t));
    c->cap = calloc(n, sizeof(size_t));
    if (!c->out || !c->delta || !c->nout || !c->ndelta || !c->cap) fail_msg("out of memory");
    for (int i = 0; i < net->n; ++i) c->cap[i] = (size_t)net->layers[i].outputs * (size_t)net->batch;
    net->hook = cap_fwd;
    net->bhook = cap_bwd;
    net->hook_ud = c;
    net->hook_any_layout = 1;
}

void tu_capture_free(tu_capture *c)
{
    for (int i = 0; i < c->n; ++i) {
        free(c->out[i]);
        free(c->delta[i]);
    }
    free(c->out);
    free(c->delta);
    free(c->nout);
    free(c->ndelta);
    free(c->cap);
    memset(c, 0, sizeof(*c));
}

int tu_production_plan(network *net, int train, int chunk, int *views)
{
    char err[512];
    net->actnn_stream = 1;
    net->stream_chunk = chunk;
    net->actnn_concat = -1;
    net->plan.valid = 0;
    if (network_prepare(net, train, err, sizeof(err))) fail_msg("prepare: %s", err);
    if (net->plan.hooked) fail_msg("the plan was made for hooks that need packed buffers");
    int pairs = 0, v = 0;
    for (int i = 0; i < net->n; ++i) {
        pairs += net->plan.chunk[i] > 0;
        v += net->plan.parent[i] >= 0;
    }
    if (views) *views = v;
    return pairs;
}
