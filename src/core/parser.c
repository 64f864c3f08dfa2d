/* cfg file -> network: [net] options, then one layer per section. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/layer_common.h"
#include "core/network.h"
#include "core/net_internal.h"
#include "memory/budget.h"

static const char *const policy_names[POLICY_COUNT] = {
    "constant", "step", "exp", "poly", "steps", "sigmoid", "random", "sgdr",
};

static uint64_t g_seed;
static int g_seed_set;

void darknet_set_seed(uint64_t seed)
{
    g_seed = seed;
    g_seed_set = 1;
}

uint64_t darknet_get_seed(void)
{
    if (!g_seed_set) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g_seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec;
        g_seed_set = 1;
        fprintf(stderr, "seed: %llu (repeat this run with -seed %llu)\n", (unsigned long long)g_seed,
                (unsigned long long)g_seed);
    }
    return g_seed;
}

static int parse_policy(network *net, cfg_reader *r)
{
    net->policy = (lr_policy)cfg_enum(r, "policy", policy_names, POLICY_COUNT, POLICY_CONSTANT);
    net->burn_in = cfg_int(r, "burn_in", 0, 0, 1 << 30);
    net->power = cfg_float(r, "power", 4, -1e6f, 1e6f);
    switch (net->policy) {
    case POLICY_STEP:
        net->step = cfg_int(r, "step", 1, 1, 1 << 30);
        net->scale = cfg_float(r, "scale", 1, -1e6f, 1e6f);
        break;
    case POLICY_STEPS: case POLICY_SGDR: {
        int ns = cfg_int_list(r, "steps", &net->steps);
        int nc = cfg_float_list(r, "scales", &net->scales);
        if (r->failed) return -1;
        if (net->policy == POLICY_STEPS && (ns <= 0 || nc <= 0)) {
            cfg_fail(r, "steps", "policy=steps needs both steps= and scales=");
            return -1;
        }
        if (ns != nc && net->policy == POLICY_STEPS) {
            cfg_fail(r, "scales", "has %d values but steps= has %d", nc, ns);
            return -1;
        }
        net->num_steps = ns < 0 ? 0 : ns;
        /* AlexeyAB's default: one cycle of max_batches */
        net->sgdr_cycle = cfg_int(r, "sgdr_cycle", net->max_batches > 0 ? net->max_batches : 1000, 1, 1 << 30);
        net->sgdr_mult = cfg_int(r, "sgdr_mult", 2, 1, 1000);
        break;
    }
    case POLICY_EXP: net->gamma = cfg_float(r, "gamma", 1, -1e6f, 1e6f); break;
    case POLICY_SIG:
        net->gamma = cfg_float(r, "gamma", 1, -1e6f, 1e6f);
        net->step = cfg_int(r, "step", 1, 1, 1 << 30);
        break;
    default: break;
    }
    return r->failed ? -1 : 0;
}

static void parse_augment(network *net, cfg_reader *r)
{
    net->max_crop = cfg_int(r, "max_crop", net->w * 2, 0, 1 << 20);
    net->min_crop = cfg_int(r, "min_crop", net->w, 0, 1 << 20);
    net->max_ratio = cfg_float(r, "max_ratio", net->w ? (float)net->max_crop / net->w : 1, 0, 1e6f);
    net->min_ratio = cfg_float(r, "min_ratio", net->w ? (float)net->min_crop / net->w : 1, 0, 1e6f);
    net->center = cfg_int(r, "center", 0, 0, 1);
    layer_ignore_key(r, "clip", 0, "weight clipping is not implemented");
    net->angle = cfg_float(r, "angle", 0, -360, 360);
    net->aspect = cfg_float(r, "aspect", 1, 0.01f, 100);
    net->saturation = cfg_float(r, "saturation", 1, 0.01f, 100);
    net->exposure = cfg_float(r, "exposure", 1, 0.01f, 100);
    net->hue = cfg_float(r, "hue", 0, 0, 1);
    net->flip = cfg_int(r, "flip", 1, 0, 1);
    net->letter_box = cfg_int(r, "letter_box", 0, 0, 1);
    net->notruth = cfg_int(r, "notruth", 0, 0, 1);
    net->resize_step = cfg_int(r, "resize_step", 32, 1, 4096);
    net->image_cache_mb = cfg_int(r, "image_cache_mb", 0, 0, 1 << 20);
    /* AlexeyAB's numbering: mosaic wins over mixup; cutmix with mosaic is mosaic for a
     * detector (4 in his code, treated as 3 by his detector loader). */
    net->mixup = cfg_int(r, "mixup", 0, 0, 1);
    int cutmix = cfg_int(r, "cutmix", 0, 0, 1), mosaic = cfg_int(r, "mosaic", 0, 0, 1);
    if (mosaic) net->mixup = cutmix ? 4 : 3;
    else if (cutmix) net->mixup = 2;
    net->mosaic_bound = cfg_int(r, "mosaic_bound", 0, 0, 1);
    net->blur = cfg_int(r, "blur", 0, 0, 1000);
    net->gaussian_noise = cfg_int(r, "gaussian_noise", 0, 0, 127);
}

static const int actnn_allowed_bits[] = {1, 2, 4, 8, 16, 32};

static int parse_actnn_bits(cfg_reader *r, int def)
{
    cfg_kv *kv = cfg_find(r, "actnn_bits");
    if (!kv || r->failed) return def;
    /* Wide range here so that every bad value gets the message listing the allowed set. */
    int v = cfg_int(r, "actnn_bits", def, -(1 << 30), 1 << 30);
    for (size_t i = 0; i < sizeof(actnn_allowed_bits) / sizeof(int); ++i)
        if (v == actnn_allowed_bits[i] && !r->failed) return v;
    cfg_fail(r, "actnn_bits", "allowed values: 1, 2, 4, 8, 16, 32");
    return def;
}

static void parse_actnn(network *net, cfg_reader *r)
{
    int on = cfg_int(r, "actnn", 0, 0, 1);
    int has_bits = cfg_has(r, "actnn_bits");
    net->actnn_bits = parse_actnn_bits(r, on ? 2 : 32);
    net->actnn = on || (has_bits && net->actnn_bits < 32);
    int g = cfg_int(r, "actnn_group", 256, 1, 1 << 20);
    /* actnn_plugin accepts groups of 32..65536 values in steps of 32. */
    if (!r->failed && (g < 32 || g > 65536 || g % 32))
        cfg_fail(r, "actnn_group", "must be a multiple of 32 in [32, 65536]");
    net->actnn_group = g;
    /* 2 bits means ActNN's default level, L3: per-sample and per-layer bits averaging 2
     * (actnn_auto=1). Uniform 2 bits lost 1.6 mAP points at convergence on yolov4-tiny,
     * L3 0.2 (docs/memory.md). actnn_auto=0 asks for uniform bits; a budget picks its own. */
    int auto_default = net->actnn && net->actnn_bits == 2 && !cfg_has(r, "actnn_budget_mb");
    net->actnn_auto = cfg_int(r, "actnn_auto", auto_default, 0, 1);
    net->actnn_auto_interval = cfg_int(r, "actnn_auto_interval", 10, 1, 1 << 30);
    /* per-layer averages on top of per-sample bits (ActNN's L3), on unless 0 */
    net->actnn_auto_layers = cfg_int(r, "actnn_auto_layers", 1, 0, 1);
    net->actnn_swap = cfg_int(r, "actnn_swap", 0, 0, 1);
    /* streamed pairs (stream.h): automatic (-1) unless the cfg says 0 or 1 */
    net->actnn_stream = cfg_has(r, "actnn_stream") ? cfg_int(r, "actnn_stream", 0, 0, 1) : -1;
    /* longer streamed segments where they lower the arena (plan.c grow_streams), on unless 0 */
    net->actnn_stream_grow = cfg_int(r, "actnn_stream_grow", 1, 0, 1);
    /* zero-copy [route] concatenation (concat.h), on unless 0 */
    net->actnn_concat = cfg_has(r, "actnn_concat") ? cfg_int(r, "actnn_concat", 1, 0, 1) : -1;
    /* conv x-hat rebuilt from the saved input (convolutional.c): -1 auto, 0 never, 1 always */
    net->actnn_xhat_rebuild =
        cfg_has(r, "actnn_xhat_rebuild") ? cfg_int(r, "actnn_xhat_rebuild", 0, -1, 1) : 0;
    /* bits per layer picked at the end of parsing so the plan fits (memory/budget.h) */
    cfg_kv *budget = cfg_find(r, "actnn_budget_mb");
    net->actnn_budget_line = budget ? budget->line : 0;
    net->actnn_budget_mb = cfg_int(r, "actnn_budget_mb", 0, 1, 1 << 30);
    if (net->actnn_auto && net->actnn_bits >= 16)
        cfg_fail(r, "actnn_auto", "needs actnn_bits between 1 and 8 as the average budget");
}

static int parse_net(network *net, cfg_reader *r, int batch_override)
{
    int batch = cfg_int(r, "batch", 1, 1, 1 << 20);
    net->learning_rate = cfg_float(r, "learning_rate", .001f, 0, 1e6f);
    net->learning_rate_min = cfg_float(r, "learning_rate_min", .00001f, 0, 1e6f);
    net->momentum = cfg_float(r, "momentum", .9f, 0, 1e6f);
    net->decay = cfg_float(r, "decay", .0001f, 0, 1e6f);
    net->subdivisions = cfg_int(r, "subdivisions", 1, 1, 1 << 20);
    net->time_steps = cfg_int(r, "time_steps", 1, 1, 1 << 20);
    net->adam = cfg_int(r, "adam", 0, 0, 1);
    if (net->adam) {
        net->B1 = cfg_float(r, "B1", .9f, 0, 1);
        net->B2 = cfg_float(r, "B2", .999f, 0, 1);
        net->eps = cfg_float(r, "eps", .0000001f, 0, 1);
    }
    net->h = cfg_int(r, "height", 0, 0, 1 << 16);
    net->w = cfg_int(r, "width", 0, 0, 1 << 16);
    net->c = cfg_int(r, "channels", 0, 0, 1 << 16);
    net->inputs = cfg_int(r, "inputs", net->h * net->w * net->c, 0, 1 << 30);
    net->max_batches = cfg_int(r, "max_batches", 0, 0, 1 << 30);
    net->workspace_limit_mb = cfg_int(r, "workspace_size_limit_MB", 1024, 0, 1 << 30);
    parse_augment(net, r);
    parse_actnn(net, r);
    net->sync_bn = cfg_int(r, "sync_bn", 0, 0, 1); /* used by MPI builds (src/dist) */
    if (r->failed) return -1;
    if (batch % net->subdivisions && batch_override <= 0)
        fprintf(stderr, "%s: warning: batch=%d is not a multiple of subdivisions=%d\n", r->path, batch,
                net->subdivisions);
    net->batch = batch / net->subdivisions;
    if (net->batch < 1) net->batch = 1;
    net->batch *= net->time_steps;
    if (batch_override > 0) net->batch = batch_override;
    if (!net->inputs && !(net->h && net->w && net->c)) {
        cfg_fail(r, NULL, "No input parameters supplied: set width, height and channels (or inputs)");
        return -1;
    }
    if (!net->h || !net->w || !net->c) { net->h = 1; net->w = 1; net->c = net->inputs; }
    if (net->inputs != net->h * net->w * net->c) {
        cfg_fail(r, "inputs", "must equal width*height*channels (%d)", net->h * net->w * net->c);
        return -1;
    }
    return parse_policy(net, r);
}

/* Keys every section may use. */
static void parse_common(layer *l, cfg_reader *r, const network *net)
{
    l->stopbackward = cfg_int(r, "stopbackward", 0, 0, 1 << 30) != 0;
    l->onlyforward = cfg_int(r, "onlyforward", 0, 0, 1);
    l->dontload = cfg_int(r, "dontload", 0, 0, 1);
    l->dontloadscales = cfg_int(r, "dontloadscales", 0, 0, 1);
    l->dontsave = cfg_int(r, "dontsave", 0, 0, 1);
    l->dont_update = cfg_int(r, "dont_update", 0, 0, 1 << 30) != 0;
    l->lr_scale = cfg_float(r, "learning_rate", 1, 0, 1e6f);
    l->bits = parse_actnn_bits(r, net->actnn_bits);
}

/* Section types of pjreddie's and AlexeyAB's Darknet that compute something and that
 * layer_ops_find does not know. Other unknown names stay warnings (identity layers). */
static int darknet_type_missing(const char *type)
{
    static const char *const names[] = {
        "deconvolutional", "deconv", "local", "normalization", "lrn", "rnn", "gru", "lstm", "crnn",
        "conv_lstm", "history", "xnor", "iseg", "detection", "l2norm", "logistic", "network",
        "contrastive", "implicit_add", "implicit_mul",
        "local_avgpool"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i)
        if (strcmp(type, names[i]) == 0) return 1;
    return 0;
}

static int parse_layer(network *net, cfg_file *f, int si, char *err, size_t errlen)
{
    cfg_section *s = &f->sec[si];
    int i = net->n;
    layer *l = &net->layers[i];
    memset(l, 0, sizeof(*l));
    l->index = i;
    l->line = s->line;
    l->batch = net->batch;
    const layer *prev = i ? &net->layers[i - 1] : NULL;
    l->w = prev ? prev->out_w : net->w;
    l->h = prev ? prev->out_h : net->h;
    l->c = prev ? prev->out_c : net->c;
    l->inputs = prev ? prev->outputs : net->inputs;
    l->nsrc = 1;
    l->src = malloc(sizeof(int) * 1);
    if (!l->src) { snprintf(err, errlen, "out of memory"); return -1; }
    l->src[0] = i - 1;
    l->ops = layer_ops_find(s->type);
    if (!l->ops && darknet_type_missing(s->type)) {
        /* an identity in its place would compute another network, without a word */
        snprintf(err, errlen, "%s:%d: [%s] is a Darknet layer type this build does not implement; "
                 "this cfg cannot run here", f->path, s->line, s->type);
        free(l->src); /* not counted in net->n: free_network does not see this layer */
        l->src = NULL;
        return -1;
    }
    if (!l->ops) {
        fprintf(stderr, "%s:%d: Type not recognized: [%s]; treated as an identity layer\n", f->path,
                s->line, s->type);
        l->ops = layer_ops_find("empty");
    }
    l->type = l->ops->type;
    cfg_reader r;
    cfg_reader_init(&r, f->path, s, err, errlen);
    parse_common(l, &r, net);
    if (!r.failed && l->ops->parse(l, &r, net) == 0 && !r.failed) {
        net->n++;
        return 0;
    }
    if (!r.failed) cfg_fail(&r, NULL, "invalid layer");
    net->n++; /* so free_network releases what parse allocated */
    return -1;
}

static int finish_network(network *net, char *err, size_t errlen)
{
    net->out_index = net->n - 1;
    while (net->out_index > 0 && net->layers[net->out_index].type == LT_COST) net->out_index--;
    net->outputs = net->layers[net->out_index].outputs;
    net->truths = 0;
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].truths > net->truths) net->truths = net->layers[i].truths;
    if (!net->truths) net->truths = net->outputs;
    for (int i = 0; i < net->n; ++i) net->layers[i].batch = net->batch;
    return network_alloc_io(net, err, errlen);
}

network *parse_network_cfg_ex(const char *filename, int batch_override, char *err, size_t errlen)
{
    cfg_file f;
    if (cfg_read_file(filename, &f, err, errlen)) return NULL;
    network *net = NULL;
    if (f.n == 0 || (strcmp(f.sec[0].type, "net") && strcmp(f.sec[0].type, "network"))) {
        snprintf(err, errlen, "%s:%d: the first section must be [net] or [network]", filename,
                 f.n ? f.sec[0].line : 1);
        goto fail;
    }
    if (f.n < 2) {
        snprintf(err, errlen, "%s: the network has no layers", filename);
        goto fail;
    }
    net = network_alloc(f.n - 1, filename);
    if (!net) { snprintf(err, errlen, "out of memory"); goto fail; }
    net->seed = darknet_get_seed();
    cfg_reader r;
    cfg_reader_init(&r, filename, &f.sec[0], err, errlen);
    if (parse_net(net, &r, batch_override)) goto fail;
    for (int si = 1; si < f.n; ++si)
        if (parse_layer(net, &f, si, err, errlen)) goto fail;
    if (finish_network(net, err, errlen)) goto fail;
    if (net->actnn_budget_mb > 0 &&
        budget_pick_bits(net, (size_t)net->actnn_budget_mb << 20, stderr, err, errlen))
        goto fail;
    budget_resolve_streaming(net);
    cfg_warn_unused(&f);
    cfg_free(&f);
    return net;
fail:
    cfg_free(&f);
    free_network(net);
    return NULL;
}

network *parse_network_cfg(char *filename)
{
    char err[1024];
    network *net = parse_network_cfg_ex(filename, 0, err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return net;
}
