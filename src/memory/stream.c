/* Streamed pairs; see stream.h. */
#include "memory/stream.h"

#include <stdio.h>
#include <string.h>

#include "core/net_internal.h"
#include "core/network.h"
#include "memory/saved.h"

#define STREAM_MIN_BYTES ((size_t)32 << 20)
#define STREAM_CHUNK_BYTES ((size_t)8 << 20)

/* Nobody but layer i+1 reads layer i's output, and i+1 reads only it. */
static int sole_consumer(const network *net, int i)
{
    const layer *c = &net->layers[i + 1];
    if (c->nsrc != 1 || c->src[0] != i) return 0;
    for (int k = 0; k < net->n; ++k)
        for (int s = 0; k != i + 1 && s < net->layers[k].nsrc; ++s)
            if (net->layers[k].src[s] == i) return 0;
    return 1;
}

static int pair_ok(const network *net, const mem_plan *p, int i)
{
    const layer *P = &net->layers[i], *C = &net->layers[i + 1];
    int on = net->actnn_stream > 0 || (net->actnn_stream < 0 && P->bits < 32);
    int j = P->src[0];
    if (p->parent[i] >= 0 || p->parent[i + 1] >= 0 || (j >= 0 && p->parent[j] >= 0)) return 0;
    return on && P->type == LT_CONVOLUTIONAL && C->streams && i > p->stop && !P->onlyforward &&
           !C->onlyforward && !P->loss && !P->persist_output && i != net->out_index &&
           sole_consumer(net, i);
}

void stream_select(const network *net, const mem_plan *p, int *chunk)
{
    for (int i = 0; i < net->n; ++i) chunk[i] = 0;
    if (!p->train || plan_hooked(net)) return;
    for (int i = 0; i + 1 < net->n; ++i) {
        if ((i && chunk[i - 1]) || !pair_ok(net, p, i)) continue;
        size_t per = (size_t)net->layers[i].outputs * sizeof(float);
        size_t c = net->stream_chunk > 0 ? (size_t)net->stream_chunk : STREAM_CHUNK_BYTES / per;
        if (c < 1) c = 1;
        if (net->stream_chunk <= 0 && per * (size_t)p->batch < STREAM_MIN_BYTES) continue;
        if (c < (size_t)p->batch) chunk[i] = (int)c;
    }
}

static void set_chunk(layer_ctx *x, int b0, int nb, layer_pass pass)
{
    x->b0 = b0;
    x->batch = nb;
    x->pass = pass;
}

static int failed(network *net, int i, const char *what)
{
    snprintf(net->err, sizeof(net->err), "layer %d (%s) %s: %s", i, net->layers[i].ops->name, what,
             saved_error(net->store));
    return -1;
}

int stream_forward(network *net, int i, const float *input)
{
    layer *P = &net->layers[i], *C = &net->layers[i + 1];
    int B = net->batch, c = net->plan.chunk[i];
    layer_ctx xp, xc;
    network_make_ctx(net, i, input, 1, &xp);
    network_make_ctx(net, i + 1, input, 1, &xc);
    const float *pin = xp.in;
    float *cout = xc.out;
    for (int pass = P->batch_stats ? 0 : 1; pass < 2; ++pass)
        for (int b0 = 0; b0 < B; b0 += c) {
            int nb = B - b0 < c ? B - b0 : c;
            set_chunk(&xp, b0, nb, pass ? PASS_APPLY : PASS_STATS);
            xp.in = pin + (size_t)b0 * P->inputs;
            if (P->ops->forward(P, &xp)) return failed(net, i, "streamed forward");
            if (!pass) continue;
            network_run_hook(net, net->hook, P, xp.out, (size_t)P->outputs, nb);
            set_chunk(&xc, b0, nb, PASS_CHUNK);
            xc.in = xp.out;
            xc.out = cout + (size_t)b0 * C->outputs;
            if (C->ops->forward(C, &xc)) return failed(net, i + 1, "streamed forward");
        }
    set_chunk(&xc, 0, B, PASS_POST);
    xc.in = NULL;
    xc.out = cout;
    if (C->ops->forward(C, &xc)) return failed(net, i + 1, "streamed forward");
    network_run_hook(net, net->hook, C, cout, (size_t)C->outputs, B);
    return 0;
}

int stream_backward(network *net, int i)
{
    layer *P = &net->layers[i], *C = &net->layers[i + 1];
    int B = net->batch, c = net->plan.chunk[i];
    const float *input = net->fwd_input ? net->fwd_input : net->input;
    layer_ctx xp, xc;
    network_make_ctx(net, i, input, 1, &xp);
    network_make_ctx(net, i + 1, input, 1, &xc);
    float *pdelta = xp.delta, *pdin = xp.delta_in, *cdelta = xc.delta;
    xc.pass = PASS_PRE;
    if (C->ops->backward(C, &xc)) return failed(net, i + 1, "streamed backward");
    network_run_hook(net, net->bhook, C, cdelta, (size_t)C->outputs, B); /* final after PRE */
    int first = P->batch_stats ? 0 : 1;
    for (int pass = first; pass < 2; ++pass)
        for (int b0 = 0; b0 < B; b0 += c) {
            int nb = B - b0 < c ? B - b0 : c;
            memset(pdelta, 0, (size_t)nb * P->outputs * sizeof(float));
            set_chunk(&xc, b0, nb, PASS_CHUNK);
            xc.param_grads = pass == first;
            xc.delta = cdelta + (size_t)b0 * C->outputs;
            xc.delta_in = pdelta;
            if (C->ops->backward(C, &xc)) return failed(net, i + 1, "streamed backward");
            set_chunk(&xp, b0, nb, pass ? PASS_APPLY : PASS_SUMS);
            xp.delta_in = pdin ? pdin + (size_t)b0 * P->inputs : NULL;
            if (P->ops->backward(P, &xp)) return failed(net, i, "streamed backward");
            if (pass) network_run_hook(net, net->bhook, P, pdelta, (size_t)P->outputs, nb);
        }
    return 0;
}
