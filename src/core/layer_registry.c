/* Section name -> layer implementation. Aliases follow pjreddie's parser. */
#include <stdlib.h>
#include <string.h>

#include "core/layer.h"

extern const layer_ops convolutional_ops, connected_ops, maxpool_ops, avgpool_ops, softmax_ops,
    cost_ops, dropout_ops, route_ops, shortcut_ops, upsample_ops, reorg_ops, crop_ops,
    batchnorm_ops, activation_ops, empty_ops, yolo_ops, region_ops, scale_channels_ops, sam_ops,
    reorg3d_ops, gaussian_yolo_ops;

static const struct {
    const char *name;
    const layer_ops *ops;
} table[] = {
    {"convolutional", &convolutional_ops}, {"conv", &convolutional_ops},
    {"connected", &connected_ops},         {"conn", &connected_ops},
    {"maxpool", &maxpool_ops},             {"max", &maxpool_ops},
    {"avgpool", &avgpool_ops},             {"avg", &avgpool_ops},
    {"softmax", &softmax_ops},             {"soft", &softmax_ops},
    {"cost", &cost_ops},
    {"dropout", &dropout_ops},
    {"route", &route_ops},
    {"shortcut", &shortcut_ops},
    {"scale_channels", &scale_channels_ops},
    {"sam", &sam_ops},
    {"upsample", &upsample_ops},
    {"reorg", &reorg_ops},
    {"reorg3d", &reorg3d_ops},
    {"crop", &crop_ops},
    {"batchnorm", &batchnorm_ops},
    {"activation", &activation_ops},
    {"yolo", &yolo_ops},
    {"Gaussian_yolo", &gaussian_yolo_ops},
    {"region", &region_ops},
    {"empty", &empty_ops},                 {"silence", &empty_ops},
};

const layer_ops *layer_ops_find(const char *section)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); ++i)
        if (strcmp(table[i].name, section) == 0) return table[i].ops;
    return NULL;
}

const char *layer_type_name(layer_type t)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); ++i)
        if (table[i].ops->type == t) return table[i].ops->name;
    return "unknown";
}

float *layer_alloc_param(layer *l, size_t n, int decay)
{
    if (l->nparams >= LAYER_MAX_PARAMS) return NULL;
    param *p = &l->params[l->nparams];
    memset(p, 0, sizeof(*p));
    p->w = calloc(n ? n : 1, sizeof(float));
    if (!p->w) return NULL;
    p->n = n;
    p->decay = decay;
    l->nparams++;
    return p->w;
}

void layer_add_wfile(layer *l, float *data, size_t n, int flags)
{
    if (l->nwf >= LAYER_MAX_WFILE) return;
    wfile_entry *e = &l->wf[l->nwf++];
    e->data = data;
    e->n = n;
    e->flags = flags;
    e->rows = e->cols = 0;
}
