/* ./darknet detector valid|map <data> <cfg> <weights>
 * valid: pjreddie's VOC output, <results>/comp4_det_test_<class>.txt with lines
 *        `<image id> <prob> <xmin> <ymin> <xmax> <ymax>` (pixels, 1-based like VOC).
 * map:   AlexeyAB's per-class AP and mAP over the valid list (map.c), thresh .005, NMS .45. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/detector_cli.h"
#include "detect/map.h"

typedef struct {
    map_det *d;
    int n, cap;
} det_list;

typedef struct {
    det_setup s;
    network *net;
    char **paths;
    int n;
    detector_data dd;
    float *x;
} eval_run;

static void eval_free(eval_run *e)
{
    free(e->x);
    list_free(e->paths);
    free_network(e->net);
    det_setup_free(&e->s);
}

static int eval_open(eval_run *e, const char *datafile, const char *cfg, const char *weights)
{
    char err[1024];
    memset(e, 0, sizeof(*e));
    if (det_setup_read(datafile, &e->s, err, sizeof(err))) goto fail;
    if (!(e->net = det_network(cfg, weights, 1, 0, e->s.classes, err, sizeof(err)))) goto fail;
    const char *list = data_cfg_str(&e->s.d, "valid", data_cfg_str(&e->s.d, "train", "data/train.txt"));
    if (!(e->paths = list_read(list, &e->n, err, sizeof(err)))) {
        fprintf(stderr, "%s: valid=%s: ", datafile, list);
        goto fail;
    }
    det_data_init(&e->dd, e->net, e->paths, e->n, e->s.classes);
    e->x = malloc(sizeof(float) * (size_t)e->net->inputs);
    if (!e->x) { snprintf(err, sizeof(err), "out of memory"); goto fail; }
    return 0;
fail:
    fprintf(stderr, "%s\n", err);
    eval_free(e);
    return -1;
}

/* Detections of image i (relative coordinates), NULL when it cannot be read. */
static detection *eval_image(eval_run *e, int i, float thresh, int *n, int *iw, int *ih)
{
    char err[1024];
    *n = 0;
    if (detector_load_letterbox(&e->dd, i, e->x, iw, ih, err, sizeof(err))) {
        fprintf(stderr, "warning: %s; skipped\n", err);
        return NULL;
    }
    return det_run(e->net, e->x, *iw, *ih, thresh, .5f, n);
}

static int push(det_list *l, map_det d)
{
    if (l->n == l->cap) {
        int cap = l->cap * 2 + 64;
        map_det *nd = realloc(l->d, sizeof(map_det) * (size_t)cap);
        if (!nd) return -1;
        l->d = nd;
        l->cap = cap;
    }
    l->d[l->n++] = d;
    return 0;
}

/* Ground truth of image i appended to per-class lists. */
static void add_truth(eval_run *e, int i, det_list *truth)
{
    char lp[4096];
    label_box *b = NULL;
    int n = detector_label_path(e->paths[i], lp, sizeof(lp))
                ? detector_read_labels(lp, e->s.classes, &b, NULL, 1) : -1;
    if (n < 0) fprintf(stderr, "warning: no label file %s for %s; counted without objects\n", lp, e->paths[i]);
    for (int k = 0; k < n; ++k) {
        map_det d = {0, i, {b[k].x, b[k].y, b[k].w, b[k].h}};
        push(&truth[b[k].id], d);
    }
    free(b);
}

static double report_ap(eval_run *e, det_list *dets, det_list *truth, float iou, int points)
{
    double sum = 0;
    for (int c = 0; c < e->s.classes; ++c) {
        map_truth *t = malloc(sizeof(map_truth) * ((size_t)truth[c].n + 1));
        for (int k = 0; t && k < truth[c].n; ++k) {
            t[k].image = truth[c].d[k].image;
            t[k].b = truth[c].d[k].b;
        }
        map_result r = {0, 0, 0};
        if (t) map_class_ap(dets[c].d, dets[c].n, t, truth[c].n, iou, points, &r);
        free(t);
        printf("class_id = %d, name = %s, ap = %.2f%%   \t (TP = %d, FP = %d, truth = %d)\n", c,
               e->s.names[c], r.ap * 100, r.tp, r.fp, truth[c].n);
        sum += r.ap;
    }
    return sum / e->s.classes;
}

int detector_map(const char *datafile, const char *cfg, const char *weights, float iou_thresh,
                 int points, float *map_out)
{
    eval_run e;
    if (eval_open(&e, datafile, cfg, weights)) return -1;
    det_list *dets = calloc((size_t)e.s.classes, sizeof(det_list));
    det_list *truth = calloc((size_t)e.s.classes, sizeof(det_list));
    for (int i = 0; dets && truth && i < e.n; ++i) {
        int n, iw, ih;
        detection *d = eval_image(&e, i, .005f, &n, &iw, &ih);
        for (int j = 0; j < n; ++j)
            for (int c = 0; c < e.s.classes && c < d[j].classes; ++c)
                if (d[j].prob[c] > 0) push(&dets[c], (map_det){d[j].prob[c], i, d[j].bbox});
        free_detections(d, n);
        add_truth(&e, i, truth);
    }
    double m = (dets && truth) ? report_ap(&e, dets, truth, iou_thresh, points) : 0;
    const char *kind = points == 11 ? "VOC2007 11-point" : points == 101 ? "101-point" : "area under curve";
    printf(" for %d images, IoU threshold = %.0f %%, %s\n mean average precision (mAP@%.2f) = %f, or %.2f %%\n",
           e.n, iou_thresh * 100, kind, iou_thresh, m, m * 100);
    if (map_out) *map_out = (float)m;
    for (int c = 0; dets && truth && c < e.s.classes; ++c) { free(dets[c].d); free(truth[c].d); }
    free(dets);
    free(truth);
    eval_free(&e);
    return 0;
}

/* VOC image id: the file name without folder and extension. */
static void image_id(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot) *dot = 0;
}

static FILE **open_outputs(eval_run *e, const char *dir)
{
    if (mkdir(dir, 0775) && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s (set results= in the .data file)\n", dir, strerror(errno));
        return NULL;
    }
    FILE **fps = calloc((size_t)e->s.classes, sizeof(FILE *));
    for (int c = 0; fps && c < e->s.classes; ++c) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/comp4_det_test_%s.txt", dir, e->s.names[c]);
        if (!(fps[c] = fopen(path, "w"))) {
            fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
            for (int k = 0; k < c; ++k) fclose(fps[k]);
            free(fps);
            return NULL;
        }
    }
    return fps;
}

int detector_valid(const char *datafile, const char *cfg, const char *weights, const char *prefix)
{
    eval_run e;
    if (eval_open(&e, datafile, cfg, weights)) return 1;
    const char *dir = prefix ? prefix : data_cfg_str(&e.s.d, "results", "results");
    FILE **fps = open_outputs(&e, dir);
    for (int i = 0; fps && i < e.n; ++i) {
        int n, iw, ih;
        char id[1024];
        image_id(e.paths[i], id, sizeof(id));
        detection *d = eval_image(&e, i, .005f, &n, &iw, &ih);
        for (int j = 0; j < n; ++j)
            for (int c = 0; c < e.s.classes && c < d[j].classes; ++c) {
                if (d[j].prob[c] <= 0) continue;
                box b = d[j].bbox;
                fprintf(fps[c], "%s %f %f %f %f %f\n", id, d[j].prob[c], (b.x - b.w / 2) * iw + 1,
                        (b.y - b.h / 2) * ih + 1, (b.x + b.w / 2) * iw + 1, (b.y + b.h / 2) * ih + 1);
            }
        free_detections(d, n);
    }
    if (fps) {
        for (int c = 0; c < e.s.classes; ++c) fclose(fps[c]);
        fprintf(stderr, "wrote %s/comp4_det_test_<class>.txt for %d images\n", dir, e.n);
    }
    int rc = fps ? 0 : 1;
    free(fps);
    eval_free(&e);
    return rc;
}
