#include "testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rng.h"

const char *tu_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/actnn-dn-test-XXXXXX");
        if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
    }
    return dir;
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
