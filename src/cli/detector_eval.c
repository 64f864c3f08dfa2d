/* ./darknet detector valid|map <data> <cfg> <weights>
 * The images are stretched to the network size, or letterboxed with -letter_box or the
 * cfg's letter_box=1 (AlexeyAB's valid and map; `detector test` does the same).
 * valid: pjreddie's VOC output, <results>/<-out, default comp4_det_test_><class>.txt with
 *        lines `<image id> <prob> <xmin> <ymin> <xmax> <ymax>` (pixels, 1-based like VOC,
 *        clamped to the image); with eval=coco in the .data file, <results>/<-out, default
 *        coco_results>.json as pjreddie's print_cocos writes it.
 * map:   AlexeyAB's per-class AP and mAP over the valid list (map.c), thresh .005, NMS .45,
 *        and his counts at -thresh (default .25): per class TP and FP, then precision,
 *        recall, F1, TP, FP, FN and the average IoU of the detections above it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/detector_cli.h"
#include "core/layer_times.h"
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
    char **dif;  /* difficult=: a list parallel to paths whose labels are difficult boxes */
    int ndif;
    detector_data dd;
    float *x;
} eval_run;

static void eval_free(eval_run *e)
{
    free(e->x);
    list_free(e->paths);
    list_free(e->dif);
    if (e->net) layer_times_print(e->net, stderr);
    free_network(e->net);
    det_setup_free(&e->s);
}

void det_eval_opts_default(det_eval_opts *o)
{
    *o = (det_eval_opts){.iou_thresh = .5f, .conf_thresh = .25f};
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

/* Detections of image i (relative to the image) in *d, their number in *n, its size in *iw,
 * *ih; -1 when it cannot be read (warned: the image is left out, truth included).
 * Letterboxed (boxes corrected for the bars) or stretched (already relative). */
static int eval_image(eval_run *e, int i, int letter, float thresh, detection **d, int *n, int *iw,
                      int *ih)
{
    char err[1024];
    *n = 0;
    *d = NULL;
    letter = letter || e->net->letter_box;
    if (detector_load_eval(&e->dd, i, letter, e->x, iw, ih, err, sizeof(err))) {
        fprintf(stderr, "warning: %s; skipped\n", err);
        return -1;
    }
    *d = det_run(e->net, e->x, letter ? *iw : e->net->w, letter ? *ih : e->net->h, thresh, .5f, n);
    return 0;
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

/* The labels of image `path` as map_labels in *t (freed by the caller; NULL when none),
 * their number returned: -1 without a label file, -2 out of memory. */
static int image_labels(const eval_run *e, const char *path, map_label **t, char *lp, size_t lplen)
{
    label_box *b = NULL;
    *t = NULL;
    int n = detector_label_path(path, lp, lplen) ? detector_read_labels(lp, e->s.classes, &b, NULL, 1) : -1;
    if (n < 0) return -1;
    *t = malloc(sizeof(map_label) * ((size_t)n + 1));
    for (int k = 0; *t && k < n; ++k) (*t)[k] = (map_label){{b[k].x, b[k].y, b[k].w, b[k].h}, b[k].id};
    free(b);
    return *t ? n : -2;
}

/* Ground truth of image i appended to per-class lists; its boxes in *t (freed by the
 * caller), their number returned (0 without a label file, warned; -1 out of memory). */
static int add_truth(eval_run *e, int i, det_list *truth, map_label **t)
{
    char lp[4096];
    int n = image_labels(e, e->paths[i], t, lp, sizeof(lp));
    if (n == -2) return -1;
    if (n < 0) fprintf(stderr, "warning: no label file %s for %s; counted without objects\n", lp, e->paths[i]);
    for (int k = 0; k < n; ++k) push(&truth[(*t)[k].id], (map_det){0, i, (*t)[k].b});
    return n < 0 ? 0 : n;
}

/* difficult= of the .data file: a list with a line per valid image (0: none, -1: error). */
static int open_difficult(eval_run *e, const char *datafile, int quiet)
{
    const char *list = data_cfg_str(&e->s.d, "difficult", NULL);
    char err[1024];
    if (!list) return 0;
    if (!(e->dif = list_read(list, &e->ndif, err, sizeof(err)))) {
        fprintf(stderr, "%s: difficult=%s: %s\n", datafile, list, err);
        return -1;
    }
    if (e->ndif < e->n) {
        fprintf(stderr, "%s: difficult=%s has %d lines and valid= %d: it needs one per valid image, in "
                "the same order (its label files hold the difficult boxes)\n", datafile, list, e->ndif, e->n);
        return -1;
    }
    if (!quiet)
        printf("difficult=%s: detections that match only a difficult box are left out\n", list);
    return 0;
}

/* The difficult boxes of image i (0 without difficult=, -1 out of memory). */
static int difficult_labels(const eval_run *e, int i, map_label **t)
{
    char lp[4096];
    *t = NULL;
    if (!e->dif) return 0;
    int n = image_labels(e, e->dif[i], t, lp, sizeof(lp));
    return n == -2 ? -1 : n < 0 ? 0 : n;
}

static double report_ap(eval_run *e, det_list *dets, det_list *truth, const map_conf_counts *cc,
                        const det_eval_opts *o)
{
    double sum = 0;
    for (int c = 0; c < e->s.classes; ++c) {
        map_truth *t = malloc(sizeof(map_truth) * ((size_t)truth[c].n + 1));
        for (int k = 0; t && k < truth[c].n; ++k) {
            t[k].image = truth[c].d[k].image;
            t[k].b = truth[c].d[k].b;
        }
        map_result r = {0, 0, 0};
        if (t) map_class_ap(dets[c].d, dets[c].n, t, truth[c].n, o->iou_thresh, o->points, &r);
        free(t);
        printf("class_id = %d, name = %s, ap = %2.2f%%   \t (TP = %d, FP = %d) \n", c, e->s.names[c],
               r.ap * 100, cc->tp[c], cc->fp[c]);
        sum += r.ap;
    }
    return sum / e->s.classes;
}

/* AlexeyAB's summary at the confidence threshold (0/0 prints as he does: nan). */
static void report_conf(const map_conf_counts *cc, float conf)
{
    float tp = (float)cc->tp_all, fp = (float)cc->fp_all, fn = (float)(cc->truths - cc->tp_all);
    float prec = tp / (tp + fp), rec = tp / (tp + fn), f1 = 2.f * prec * rec / (prec + rec);
    double iou = cc->tp_all + cc->fp_all > 0 ? cc->iou_sum / (cc->tp_all + cc->fp_all) : 0;
    printf("\n for conf_thresh = %1.2f, precision = %1.2f, recall = %1.2f, F1-score = %1.2f \n", conf,
           prec, rec, f1);
    printf(" for conf_thresh = %0.2f, TP = %d, FP = %d, FN = %d, average IoU = %2.2f %% \n", conf,
           cc->tp_all, cc->fp_all, cc->truths - cc->tp_all, iou * 100);
}

int detector_map(const char *datafile, const char *cfg, const char *weights, const det_eval_opts *o,
                 float *map_out)
{
    eval_run e;
    if (eval_open(&e, datafile, cfg, weights)) return -1;
    if (map_out) layer_times_disable(e.net); /* training's -map: its table is training's */
    if (open_difficult(&e, datafile, map_out != NULL)) {
        eval_free(&e);
        return -1;
    }
    det_list *dets = calloc((size_t)e.s.classes, sizeof(det_list));
    det_list *truth = calloc((size_t)e.s.classes, sizeof(det_list));
    map_conf_counts cc = {calloc((size_t)e.s.classes, sizeof(int)), calloc((size_t)e.s.classes, sizeof(int)), 0, 0, 0, 0};
    int ok = dets && truth && cc.tp && cc.fp;
    int skipped = 0;
    for (int i = 0; ok && i < e.n; ++i) {
        int n, iw, ih;
        detection *d;
        if (eval_image(&e, i, o->letter_box, .005f, &d, &n, &iw, &ih)) {
            skipped++;
            continue;
        }
        map_label *lb, *dif;
        int nt = add_truth(&e, i, truth, &lb), ndif = difficult_labels(&e, i, &dif);
        ok = nt >= 0 && ndif >= 0;
        for (int j = 0; ok && j < n; ++j)
            for (int c = 0; c < e.s.classes && c < d[j].classes; ++c)
                if (d[j].prob[c] > 0 &&
                    !map_is_difficult(d[j].bbox, c, lb, nt, dif, ndif, o->iou_thresh))
                    push(&dets[c], (map_det){d[j].prob[c], i, d[j].bbox});
        /* as AlexeyAB's, a detection left out for a difficult box still counts at -thresh */
        ok = ok && map_count_conf(&cc, d, n, e.s.classes, lb, nt, o->iou_thresh, o->conf_thresh) == 0;
        free(lb);
        free(dif);
        free_detections(d, n);
    }
    int ndet = 0;
    for (int c = 0; ok && c < e.s.classes; ++c) ndet += dets[c].n;
    if (skipped) fprintf(stderr, "warning: %d of %d images could not be read; left out with their truth\n", skipped, e.n);
    if (ok) printf("\n detections_count = %d, unique_truth_count = %d  \n", ndet, cc.truths);
    double m = ok ? report_ap(&e, dets, truth, &cc, o) : 0;
    report_conf(&cc, o->conf_thresh);
    printf("\n IoU threshold = %2.0f %%, ", o->iou_thresh * 100);
    if (o->points) printf("used %d Recall-points \n", o->points);
    else printf("used Area-Under-Curve for each unique Recall \n");
    printf(" mean average precision (mAP@%0.2f) = %f, or %2.2f %% \n", o->iou_thresh, m, m * 100);
    if (map_out) *map_out = (float)m;
    for (int c = 0; dets && truth && c < e.s.classes; ++c) { free(dets[c].d); free(truth[c].d); }
    free(dets);
    free(truth);
    free(cc.tp);
    free(cc.fp);
    if (!ok) fprintf(stderr, "out of memory for the detections of %d classes\n", e.s.classes);
    eval_free(&e);
    return ok ? 0 : -1;
}

/* VOC image id: the file name without folder and extension. */
static void image_id(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot) *dot = 0;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0775) && errno != EEXIST) {
        fprintf(stderr, "cannot create %s: %s (set results= in the .data file, or -prefix)\n", dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* VOC: one file per class, <dir>/<prefix><class>.txt. */
static FILE **open_voc(eval_run *e, const char *dir, const char *prefix)
{
    FILE **fps = calloc((size_t)e->s.classes, sizeof(FILE *));
    for (int c = 0; fps && c < e->s.classes; ++c) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s%s.txt", dir, prefix, e->s.names[c]);
        if (!(fps[c] = fopen(path, "w"))) {
            fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
            for (int k = 0; k < c; ++k) fclose(fps[k]);
            free(fps);
            return NULL;
        }
    }
    return fps;
}

/* A box's corners in pixels, clamped to the image: VOC's 1-based (pjreddie's
 * print_detector_detections) or COCO's 0-based (print_cocos). */
static void corners(box b, int iw, int ih, float base, float *x0, float *y0, float *x1, float *y1)
{
    *x0 = (b.x - b.w / 2) * iw + base;
    *y0 = (b.y - b.h / 2) * ih + base;
    *x1 = (b.x + b.w / 2) * iw + base;
    *y1 = (b.y + b.h / 2) * ih + base;
    if (*x0 < base) *x0 = base;
    if (*y0 < base) *y0 = base;
    if (*x1 > iw) *x1 = (float)iw;
    if (*y1 > ih) *y1 = (float)ih;
}

static void write_voc(FILE **fps, const char *id, const detection *d, int n, int classes, int iw, int ih)
{
    for (int j = 0; j < n; ++j)
        for (int c = 0; c < classes && c < d[j].classes; ++c) {
            if (d[j].prob[c] <= 0) continue;
            float x0, y0, x1, y1;
            corners(d[j].bbox, iw, ih, 1, &x0, &y0, &x1, &y1);
            fprintf(fps[c], "%s %f %f %f %f %f\n", id, d[j].prob[c], x0, y0, x1, y1);
        }
}

/* COCO's category ids of its 80 classes (the 91-id numbering with gaps). */
static const int coco_category[80] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65,
    67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90};

/* pjreddie's COCO image id: the number after the file name's last '_' (or the name's own
 * number, e.g. 000000000139.jpg and COCO_val2014_000000000139.jpg both give 139). */
static int coco_image_id(const char *path)
{
    const char *p = strrchr(path, '/'), *u = strrchr(path, '_');
    p = p ? p + 1 : path;
    if (u && u >= p) p = u + 1;
    return atoi(p);
}

/* pjreddie's print_cocos: one JSON object per (box, class) with a score, bbox = [x, y, w, h]
 * in pixels clamped to the image; category_id is COCO's id for 80 classes, else the class
 * number. `first` tracks the separating commas. */
static void write_coco(FILE *f, int *first, const char *path, const detection *d, int n, int classes,
                       int iw, int ih)
{
    int id = coco_image_id(path);
    for (int j = 0; j < n; ++j)
        for (int c = 0; c < classes && c < d[j].classes; ++c) {
            if (d[j].prob[c] <= 0) continue;
            float x0, y0, x1, y1;
            corners(d[j].bbox, iw, ih, 0, &x0, &y0, &x1, &y1);
            fprintf(f, "%s{\"image_id\":%d, \"category_id\":%d, \"bbox\":[%f, %f, %f, %f], \"score\":%f}",
                    *first ? "" : ",\n", id, classes == 80 ? coco_category[c] : c, x0, y0, x1 - x0, y1 - y0,
                    d[j].prob[c]);
            *first = 0;
        }
}

int detector_valid(const char *datafile, const char *cfg, const char *weights, const det_eval_opts *o)
{
    eval_run e;
    if (eval_open(&e, datafile, cfg, weights)) return 1;
    const char *dir = o->dir ? o->dir : data_cfg_str(&e.s.d, "results", "results");
    const char *kind = data_cfg_str(&e.s.d, "eval", "voc");
    int coco = !strcmp(kind, "coco");
    if (!coco && strcmp(kind, "voc")) {
        fprintf(stderr, "%s: eval=%s is not supported (voc: VOC files per class, coco: a COCO JSON file)\n",
                datafile, kind);
        eval_free(&e);
        return 1;
    }
    char json[4096];
    snprintf(json, sizeof(json), "%s/%s.json", dir, o->out ? o->out : "coco_results");
    FILE **fps = NULL, *jf = NULL;
    int rc = make_dir(dir);
    if (!rc && coco && !(jf = fopen(json, "w"))) fprintf(stderr, "cannot write %s: %s\n", json, strerror(errno));
    if (!rc && !coco) fps = open_voc(&e, dir, o->out ? o->out : "comp4_det_test_");
    rc = rc || !(fps || jf);
    int first = 1;
    if (jf) fputs("[\n", jf);
    for (int i = 0; !rc && i < e.n; ++i) {
        int n, iw, ih;
        char id[1024];
        image_id(e.paths[i], id, sizeof(id));
        detection *d;
        if (eval_image(&e, i, o->letter_box, .005f, &d, &n, &iw, &ih)) continue;
        if (fps) write_voc(fps, id, d, n, e.s.classes, iw, ih);
        else write_coco(jf, &first, e.paths[i], d, n, e.s.classes, iw, ih);
        free_detections(d, n);
    }
    if (fps) {
        for (int c = 0; c < e.s.classes; ++c) rc |= fclose(fps[c]) != 0;
        fprintf(stderr, "wrote %s/%s<class>.txt for %d images\n", dir, o->out ? o->out : "comp4_det_test_", e.n);
    }
    if (jf) {
        fputs("\n]\n", jf);
        rc |= fclose(jf) != 0;
        fprintf(stderr, "wrote %s for %d images\n", json, e.n);
    }
    free(fps);
    eval_free(&e);
    return rc ? 1 : 0;
}
