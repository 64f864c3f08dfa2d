/* Shared detector CLI pieces (detector_cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/detector_cli.h"

int det_setup_names(det_setup *s, const char *names_file, int classes)
{
    char err[1024];
    int n = 0;
    s->classes = classes;
    s->names = names_file ? list_read(names_file, &n, err, sizeof(err)) : NULL;
    if (s->names && n >= classes) return 0;
    if (names_file)
        fprintf(stderr, "warning: %s; class numbers are printed instead of names\n",
                s->names ? "the names file has fewer names than classes" : err);
    list_free(s->names);
    s->names = calloc((size_t)classes + 1, sizeof(char *));
    if (!s->names) return -1;
    for (int i = 0; i < classes; ++i) {
        char b[32];
        snprintf(b, sizeof(b), "%d", i);
        s->names[i] = strdup(b);
    }
    return 0;
}

int det_setup_read(const char *datafile, det_setup *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (data_cfg_read(datafile, &s->d, err, errlen)) return -1;
    s->has_d = 1;
    int classes = 0;
    const char *names = data_cfg_str(&s->d, "names", data_cfg_str(&s->d, "labels", "data/names.list"));
    if (!data_cfg_str(&s->d, "classes", NULL)) {
        /* no classes= (Darknet would take 20): the names file's count, said once */
        char e2[512];
        char **l = list_read(names, &classes, e2, sizeof(e2));
        list_free(l);
        if (!l) classes = 20;
        fprintf(stderr, "%s has no classes=; using %d (%s)\n", datafile, classes,
                l ? "the number of names in its names file" : "Darknet's default");
    } else if (data_cfg_int(&s->d, "classes", 20, &classes, err, errlen)) {
        return -1;
    }
    if (classes < 1) {
        snprintf(err, errlen, "%s: classes=%d; set classes= to the number of object classes", datafile,
                 classes);
        return -1;
    }
    if (det_setup_names(s, names, classes)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void det_setup_free(det_setup *s)
{
    if (s->has_d) data_cfg_free(&s->d);
    list_free(s->names);
    memset(s, 0, sizeof(*s));
}

const det_params *det_last_params(const network *net)
{
    for (int i = net->n - 1; i >= 0; --i)
        if (net->layers[i].type == LT_YOLO || net->layers[i].type == LT_REGION) return net->layers[i].p;
    return NULL;
}

network *det_network(const char *cfg, const char *weights, int batch_override, int clear,
                     int classes, char *err, size_t errlen)
{
    network *net = parse_network_cfg_ex(cfg, batch_override, err, errlen);
    if (!net) return NULL;
    const det_params *p = det_last_params(net);
    if (!p) {
        snprintf(err, errlen, "%s: no [yolo] or [region] layer; this is not a detection cfg", cfg);
        free_network(net);
        return NULL;
    }
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->type != LT_YOLO && l->type != LT_REGION) continue;
        const det_params *q = l->p;
        if (q->classes == p->classes) continue;
        snprintf(err, errlen, "%s: detection layer %d has classes=%d but the last one has classes=%d; "
                 "every [yolo]/[region] needs the same classes= (and filters=(classes+5)*len(mask) "
                 "before each [yolo])", cfg, i, q->classes, p->classes);
        free_network(net);
        return NULL;
    }
    if (classes > 0 && p->classes != classes) {
        snprintf(err, errlen, "%s: the detection layers have classes=%d but the .data file says "
                 "classes=%d; make them equal (and filters=(classes+5)*len(mask) before each [yolo])",
                 cfg, p->classes, classes);
        free_network(net);
        return NULL;
    }
    if (weights && weights[0] && load_weights_ex(net, weights, 0, net->n, err, errlen)) {
        free_network(net);
        return NULL;
    }
    if (clear) net->seen = 0;
    if (cli_place_network(net, err, errlen)) {
        free_network(net);
        return NULL;
    }
    return net;
}

void det_data_init(detector_data *dd, const network *net, char **paths, int n, int classes)
{
    memset(dd, 0, sizeof(*dd));
    const det_params *p = det_last_params(net);
    dd->paths = paths;
    dd->n = n;
    dd->classes = classes;
    dd->w = net->w;
    dd->h = net->h;
    dd->c = net->c;
    dd->max_boxes = net->truths / 5;
    dd->jitter = p ? p->jitter : .2f;
    dd->hue = net->hue;
    dd->saturation = net->saturation;
    dd->exposure = net->exposure;
    dd->flip = net->flip;
    dd->letter_box = net->letter_box;
    dd->mixup = net->mixup;
    dd->mosaic_bound = net->mosaic_bound;
    dd->blur = net->blur;
    dd->gaussian_noise = net->gaussian_noise;
    dd->resize = p ? p->resize : 1;
}

detection *det_run(network *net, float *x, int iw, int ih, float thresh, float hier, int *n)
{
    *n = 0;
    if (network_forward(net, x, 0)) {
        fprintf(stderr, "%s\n", net->err);
        return NULL;
    }
    detection *d = get_network_boxes(net, iw, ih, thresh, hier, NULL, 1, n);
    const det_params *p = det_last_params(net);
    /* AlexeyAB's diounms_sort: greedynms (stock yolov4 cfgs) drops by IoU - (d^2/c^2)^0.6
     * whatever beta_nms says, diounms by IoU - (d^2/c^2)^beta_nms; cornersnms and default
     * by IoU. */
    if (d && p && p->nms == NMS_GREEDY) do_nms_diou(d, *n, p->classes, .45f, .6f);
    else if (d && p && p->nms == NMS_DIOU) do_nms_diou(d, *n, p->classes, .45f, p->beta_nms);
    else if (d && p) do_nms_sort(d, *n, p->classes, .45f);
    return d;
}
