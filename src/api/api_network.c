/* The public network façade (include/darknet.h): each public network owns the framework's
 * network (impl) and mirrors it in pjreddie's struct after every call that changes it. */
#include "darknet.h"

#include "api/bridge.h"

static const char *const type_names[] = {
    [CONVOLUTIONAL] = "convolutional", [DECONVOLUTIONAL] = "deconvolutional",
    [CONNECTED] = "connected", [MAXPOOL] = "maxpool", [SOFTMAX] = "softmax",
    [DETECTION] = "detection", [DROPOUT] = "dropout", [CROP] = "crop", [ROUTE] = "route",
    [COST] = "cost", [NORMALIZATION] = "normalization", [AVGPOOL] = "avgpool",
    [LOCAL] = "local", [SHORTCUT] = "shortcut", [ACTIVE] = "activation", [RNN] = "rnn",
    [GRU] = "gru", [LSTM] = "lstm", [CRNN] = "crnn", [BATCHNORM] = "batchnorm",
    [NETWORK] = "net", [XNOR] = "xnor", [REGION] = "region", [YOLO] = "yolo",
    [ISEG] = "iseg", [REORG] = "reorg", [UPSAMPLE] = "upsample", [LOGXENT] = "logxent",
    [L2NORM] = "l2norm", [BLANK] = "blank",
};

static const char *const act_names[] = {
    [LOGISTIC] = "logistic", [RELU] = "relu", [RELIE] = "relie", [LINEAR] = "linear",
    [RAMP] = "ramp", [TANH] = "tanh", [PLSE] = "plse", [LEAKY] = "leaky", [ELU] = "elu",
    [LOGGY] = "loggy", [STAIR] = "stair", [HARDTAN] = "hardtan", [LHTAN] = "lhtan",
    [SELU] = "selu",
};

static int name_index(const char *const *names, int n, const char *name, int def)
{
    for (int i = 0; i < n; ++i)
        if (names[i] && name && !strcmp(names[i], name)) return i;
    return def;
}

static void sync_layer(layer *l, const dn_layer_info *i)
{
    l->type = (LAYER_TYPE)name_index(type_names, BLANK + 1, i->type, BLANK);
    l->activation = (ACTIVATION)name_index(act_names, SELU + 1, i->activation, LINEAR);
    l->batch_normalize = i->batch_normalize;
    l->batch = i->batch;
    l->inputs = i->inputs;
    l->outputs = i->outputs;
    l->h = i->h;
    l->w = i->w;
    l->c = i->c;
    l->out_h = i->out_h;
    l->out_w = i->out_w;
    l->out_c = i->out_c;
    l->n = i->n;
    l->classes = i->classes;
    l->coords = i->coords;
    l->total = i->total;
    l->mask = i->mask;
    l->biases = i->biases;
    l->weights = i->weights;
    l->nbiases = i->nbiases;
    l->nweights = i->nweights;
    l->truths = i->truths;
    l->output = i->output;
    l->cost = i->cost;
}

static void sync_scalars(network *p, const dn_net_info *i)
{
    p->batch = i->batch;
    p->subdivisions = i->subdivisions;
    p->time_steps = i->time_steps;
    p->max_batches = i->max_batches;
    p->inputs = i->inputs;
    p->outputs = i->outputs;
    p->truths = i->truths;
    p->notruth = i->notruth;
    p->h = i->h;
    p->w = i->w;
    p->c = i->c;
    p->seen = i->seen;
    p->t = i->t;
    p->epoch = i->epoch;
    p->policy = (learning_rate_policy)i->policy;
    p->learning_rate = i->learning_rate;
    p->momentum = i->momentum;
    p->decay = i->decay;
    p->gamma = i->gamma;
    p->scale = i->scale;
    p->power = i->power;
    p->step = i->step;
    p->burn_in = i->burn_in;
    p->num_steps = i->num_steps;
    p->steps = i->steps;
    p->scales = i->scales;
    p->adam = i->adam;
    p->B1 = i->B1;
    p->B2 = i->B2;
    p->eps = i->eps;
}

static void sync_augment(network *p, const dn_net_info *i)
{
    p->max_crop = i->max_crop;
    p->min_crop = i->min_crop;
    p->max_ratio = i->max_ratio;
    p->min_ratio = i->min_ratio;
    p->center = i->center;
    p->angle = i->angle;
    p->aspect = i->aspect;
    p->exposure = i->exposure;
    p->saturation = i->saturation;
    p->hue = i->hue;
    p->random = i->random;
    p->clip = i->clip;
}

/* Refreshes the public struct from the framework's network. */
static void sync(network *p)
{
    dn_net_info i;
    dn_bridge_net_info(p->impl, &i);
    sync_scalars(p, &i);
    sync_augment(p, &i);
    p->gpu_index = gpu_index;
    p->input = i.input;
    p->truth = i.truth;
    p->output = i.output;
    p->cost = i.cost;
    p->train = i.train;
    for (int k = 0; k < p->n; ++k) {
        dn_layer_info li;
        dn_bridge_layer_info(p->impl, k, &li);
        sync_layer(&p->layers[k], &li);
    }
}

static network *wrap(struct dn_network *impl)
{
    network *p = calloc(1, sizeof(*p));
    dn_net_info i;
    dn_bridge_net_info(impl, &i);
    if (p) p->layers = calloc((size_t)i.n + 1, sizeof(layer));
    if (!p || !p->layers) {
        fprintf(stderr, "darknet: out of memory for the network\n");
        exit(1);
    }
    p->impl = impl;
    p->n = i.n;
    sync(p);
    return p;
}

network *parse_network_cfg(char *filename) { return wrap(dn_parse_network_cfg(filename)); }

network *load_network(char *cfg, char *weights, int clear)
{
    return wrap(dn_load_network(cfg, weights, clear));
}

void load_weights_upto(network *net, char *filename, int start, int cutoff)
{
    dn_load_weights_upto(net->impl, filename, start, cutoff);
    sync(net);
}

void load_weights(network *net, char *filename) { load_weights_upto(net, filename, 0, net->n); }

void save_weights_upto(network *net, char *filename, int cutoff)
{
    dn_save_weights_upto(net->impl, filename, cutoff);
}

void save_weights(network *net, char *filename) { save_weights_upto(net, filename, net->n); }

void set_batch_network(network *net, int b)
{
    dn_set_batch_network(net->impl, b);
    sync(net);
}

int resize_network(network *net, int w, int h)
{
    int rc = dn_resize_network(net->impl, w, h);
    sync(net);
    return rc;
}

float *network_predict(network *net, float *input)
{
    float *out = dn_network_predict(net->impl, input);
    sync(net);
    return out;
}

void reset_rnn(network *net) { (void)net; /* no recurrent layers here (darknet.h) */ }

int network_width(network *net) { return net->w; }
int network_height(network *net) { return net->h; }
int network_inputs(network *net) { return net->inputs; }
int network_outputs(network *net) { return net->outputs; }
size_t get_current_batch(network *net) { return dn_get_current_batch(net->impl); }
float get_current_rate(network *net) { return dn_get_current_rate(net->impl); }

/* pjreddie's: the last layer that is not [cost]. */
layer get_network_output_layer(network *net)
{
    int i = net->n - 1;
    while (i > 0 && net->layers[i].type == COST) --i;
    return net->layers[i];
}

void top_predictions(network *net, int n, int *index) { top_k(net->output, net->outputs, n, index); }


float train_network(network *net, data d)
{
    int batch = net->batch, n = d.X.rows / batch;
    if (d.X.cols != net->inputs || d.y.cols != net->truths) {
        fprintf(stderr, "train_network: data has %d inputs and %d truths per row, the network "
                "takes %d and %d\n", d.X.cols, d.y.cols, net->inputs, net->truths);
        exit(1);
    }
    float *x = malloc(sizeof(float) * (size_t)batch * d.X.cols);
    float *y = malloc(sizeof(float) * ((size_t)batch * d.y.cols + 1));
    if (!x || !y) {
        fprintf(stderr, "train_network: out of memory\n");
        exit(1);
    }
    float sum = 0;
    for (int i = 0; i < n; ++i) {
        get_next_batch(d, batch, i * batch, x, y);
        sum += dn_bridge_train_datum(net->impl, x, y);
    }
    free(x);
    free(y);
    sync(net);
    return n ? sum / ((float)n * batch) : 0;
}

void free_network(network *net)
{
    if (!net) return;
    dn_free_network(net->impl);
    free(net->layers);
    free(net);
}
