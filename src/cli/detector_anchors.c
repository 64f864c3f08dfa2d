/* ./darknet detector calc_anchors <data> -num_of_clusters N -width W -height H
 * k-means over the (w, h) of every training box in network pixels, with 1 - IoU (boxes
 * centred together) as the distance, as the YOLOv2 paper proposes. Seeds are chosen by
 * k-means++ from a fixed seed, so the result repeats. Prints the anchors sorted by area and
 * the mean IoU of each box with its best anchor, and writes anchors.txt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/detector_cli.h"
#include "core/rng.h"

typedef struct {
    float w, h;
} wh;

static float wh_iou(wh a, wh b) { return box_shape_iou(a.w, a.h, b.w, b.h); }

static int nearest(const wh *c, int k, wh p, float *best_iou)
{
    int best = 0;
    float bi = -1;
    for (int j = 0; j < k; ++j) {
        float iou = wh_iou(c[j], p);
        if (iou > bi) { bi = iou; best = j; }
    }
    if (best_iou) *best_iou = bi;
    return best;
}

static void seed_centres(const wh *p, int n, wh *c, int k, rng_t *r)
{
    c[0] = p[rng_int(r, n)];
    float *d = malloc(sizeof(float) * (size_t)n);
    for (int j = 1; j < k; ++j) {
        double sum = 0;
        for (int i = 0; i < n; ++i) {
            float iou;
            nearest(c, j, p[i], &iou);
            d[i] = (1 - iou) * (1 - iou);
            sum += d[i];
        }
        double u = rng_float(r) * sum;
        int pick = n - 1;
        for (int i = 0; i < n; ++i) {
            u -= d[i];
            if (u <= 0) { pick = i; break; }
        }
        c[j] = p[pick];
    }
    free(d);
}

static void kmeans(const wh *p, int n, wh *c, int k)
{
    int *as = calloc((size_t)n, sizeof(int));
    for (int iter = 0; iter < 1000; ++iter) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            int a = nearest(c, k, p[i], NULL);
            changed += a != as[i] || iter == 0;
            as[i] = a;
        }
        if (!changed) break;
        for (int j = 0; j < k; ++j) {
            double sw = 0, sh = 0;
            int cnt = 0;
            for (int i = 0; i < n; ++i)
                if (as[i] == j) { sw += p[i].w; sh += p[i].h; cnt++; }
            if (cnt) c[j] = (wh){(float)(sw / cnt), (float)(sh / cnt)};
        }
    }
    free(as);
}

/* AlexeyAB's line for [yolo] counters_per_class, printed and written to
 * counters_per_class.txt: the number of label boxes of each class. */
static void write_counters(const int *per_class, int classes)
{
    FILE *f = fopen("counters_per_class.txt", "w");
    printf("counters_per_class = ");
    if (f) fprintf(f, "counters_per_class = ");
    for (int i = 0; i < classes; ++i) {
        printf("%d%s", per_class[i], i + 1 < classes ? ", " : "\n");
        if (f) fprintf(f, "%d%s", per_class[i], i + 1 < classes ? ", " : "\n");
    }
    if (!f || fclose(f)) fprintf(stderr, "cannot write counters_per_class.txt\n");
}

static int by_area(const void *a, const void *b)
{
    const wh *x = a, *y = b;
    float d = x->w * x->h - y->w * y->h;
    return d < 0 ? -1 : d > 0;
}

/* Boxes of the labels of paths, in pixels of w x h; per-class counts added to per_class. */
static wh *collect_boxes(char **paths, int np, int classes, int w, int h, int *n, int *per_class)
{
    int cap = 1024;
    wh *p = malloc(sizeof(wh) * (size_t)cap);
    *n = 0;
    for (int i = 0; p && i < np; ++i) {
        char lp[4096];
        label_box *b = NULL;
        int nb = detector_label_path(paths[i], lp, sizeof(lp)) ? detector_read_labels(lp, classes, &b, NULL, 1) : 0;
        for (int k = 0; k < nb; ++k) {
            if (*n == cap) p = realloc(p, sizeof(wh) * (size_t)(cap *= 2));
            if (!p) break;
            p[(*n)++] = (wh){b[k].w * w, b[k].h * h};
            per_class[b[k].id]++;
        }
        free(b);
    }
    return p;
}

int detector_calc_anchors(const char *datafile, int clusters, int w, int h)
{
    char err[1024];
    det_setup s;
    int np = 0, n = 0, rc = 1;
    char **paths = NULL;
    wh *p = NULL;
    int *per_class = NULL;
    if (det_setup_read(datafile, &s, err, sizeof(err))) fprintf(stderr, "%s\n", err);
    else if (!(per_class = calloc((size_t)s.classes, sizeof(int)))) fprintf(stderr, "out of memory\n");
    else if (!(paths = list_read(data_cfg_str(&s.d, "train", "data/train.txt"), &np, err, sizeof(err))))
        fprintf(stderr, "%s: %s\n", datafile, err);
    else if (clusters < 1 || !(p = collect_boxes(paths, np, s.classes, w, h, &n, per_class)) || n < clusters)
        fprintf(stderr, "%s: %d boxes found, need at least -num_of_clusters %d\n", datafile, n, clusters);
    else {
        wh *c = malloc(sizeof(wh) * (size_t)clusters);
        rng_t r;
        rng_seed(&r, 12345, 0);
        seed_centres(p, n, c, clusters, &r);
        kmeans(p, n, c, clusters);
        qsort(c, (size_t)clusters, sizeof(wh), by_area);
        double sum = 0;
        for (int i = 0; i < n; ++i) {
            float iou;
            nearest(c, clusters, p[i], &iou);
            sum += iou;
        }
        FILE *f = fopen("anchors.txt", "w");
        printf("num_of_clusters = %d, width = %d, height = %d, boxes = %d\nanchors = ", clusters, w, h, n);
        for (int j = 0; j < clusters; ++j) {
            printf("%s%3.0f,%3.0f", j ? ", " : "", c[j].w, c[j].h);
            if (f) fprintf(f, "%s%.0f,%.0f", j ? ", " : "", c[j].w, c[j].h);
        }
        printf("\nmean IoU = %.2f%%\n", sum / n * 100);
        if (f) { fprintf(f, "\n"); fclose(f); }
        write_counters(per_class, s.classes);
        free(c);
        rc = 0;
    }
    free(p);
    free(per_class);
    list_free(paths);
    det_setup_free(&s);
    return rc;
}
