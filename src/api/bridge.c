/* The framework side of the façade seam (bridge.h): reads the network and its layers into
 * plain info structs. */
#include "api/bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/network.h"
#include "detect/detect_layers.h"

void dn_bridge_net_info(network *net, dn_net_info *o)
{
    memset(o, 0, sizeof(*o));
    o->n = net->n;
    o->batch = net->batch;
    o->subdivisions = net->subdivisions;
    o->time_steps = net->time_steps;
    o->max_batches = net->max_batches;
    o->inputs = net->inputs;
    o->outputs = net->outputs;
    o->truths = net->truths;
    o->h = net->h;
    o->w = net->w;
    o->c = net->c;
    o->seen = &net->seen;
    o->t = &net->t;
    o->epoch = net->epoch;
    o->policy = net->policy <= POLICY_RANDOM ? (int)net->policy : 0;
    o->learning_rate = net->learning_rate;
    o->momentum = net->momentum;
    o->decay = net->decay;
    o->gamma = net->gamma;
    o->scale = net->scale;
    o->power = net->power;
    o->step = net->step;
    o->burn_in = net->burn_in;
    o->num_steps = net->num_steps;
    o->steps = net->steps;
    o->scales = net->scales;
    o->adam = net->adam;
    o->B1 = net->B1;
    o->B2 = net->B2;
    o->eps = net->eps;
    o->max_crop = net->max_crop;
    o->min_crop = net->min_crop;
    o->center = net->center;
    o->random = net->random;
    o->notruth = net->notruth;
    o->max_ratio = net->max_ratio;
    o->min_ratio = net->min_ratio;
    o->angle = net->angle;
    o->aspect = net->aspect;
    o->exposure = net->exposure;
    o->saturation = net->saturation;
    o->hue = net->hue;
    o->input = net->input;
    o->truth = net->truth;
    o->output = net->output;
    o->cost = &net->cost;
    o->train = net->train;
}

/* The output of layer i after a forward, when the plan keeps it to the end. */
static float *kept_output(network *net, int i)
{
    const layer *l = &net->layers[i];
    if (!net->plan.valid || !net->plan.out[i].bytes) return NULL;
    if (!l->persist_output && i != net->out_index) return NULL;
    return (float *)network_layer_output(net, i); /* host memory, also after a device run */
}

/* Biases and weights in the terms of pjreddie's layer: the first and the last array of the
 * weights file for convolutional and connected layers. */
static void params_info(const layer *l, dn_layer_info *o)
{
    if (l->type != LT_CONVOLUTIONAL && l->type != LT_CONNECTED) return;
    if (l->nwf < 2) return;
    int wi = l->type == LT_CONVOLUTIONAL ? l->nwf - 1 : 1;
    o->biases = l->wf[0].data;
    o->nbiases = (int)l->wf[0].n;
    o->weights = l->wf[wi].data;
    o->nweights = (int)l->wf[wi].n;
    o->batch_normalize = l->nwf >= 5;
}

void dn_bridge_layer_info(network *net, int i, dn_layer_info *o)
{
    memset(o, 0, sizeof(*o));
    const layer *l = &net->layers[i];
    o->type = layer_type_name(l->type);
    o->activation = activation_names[l->act];
    o->batch = l->batch;
    o->inputs = l->inputs;
    o->outputs = l->outputs;
    o->h = l->h;
    o->w = l->w;
    o->c = l->c;
    o->out_h = l->out_h;
    o->out_w = l->out_w;
    o->out_c = l->out_c;
    o->n = l->type == LT_CONVOLUTIONAL ? l->out_c : 0;
    o->truths = l->truths;
    o->cost = &net->layers[i].cost;
    o->output = kept_output(net, i);
    params_info(l, o);
    if (l->type == LT_YOLO || l->type == LT_REGION) {
        const det_params *p = l->p;
        o->n = p->n;
        o->classes = p->classes;
        o->coords = p->coords;
        o->total = p->total;
        o->mask = p->mask;
        o->biases = p->biases;
        o->nbiases = 2 * p->total;
    }
}

float dn_bridge_train_datum(network *net, const float *x, const float *y)
{
    char err[512];
    float cost = 0;
    if (net->truth && y) memcpy(net->truth, y, sizeof(float) * (size_t)net->truths * net->batch);
    if (network_train_batch(net, x, &cost, err, sizeof(err))) {
        fprintf(stderr, "train_network: %s\n", err);
        exit(1);
    }
    return cost;
}
