/* Average precision (see map.h). */
#include "detect/map.h"

#include <stdlib.h>

static int by_score_desc(const void *pa, const void *pb)
{
    const map_det *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return a->image - b->image; /* ties: a fixed order, so results repeat */
}

/* True positive flags in score order; each truth matches at most once. */
static int match(const map_det *d, int nd, const map_truth *t, int nt, float thresh, char *tp)
{
    char *used = calloc((size_t)nt + 1, 1);
    if (!used) return -1;
    for (int i = 0; i < nd; ++i) {
        float best = 0;
        int bj = -1;
        for (int j = 0; j < nt; ++j) {
            if (t[j].image != d[i].image) continue;
            float iou = box_iou(d[i].b, t[j].b);
            if (iou > best) { best = iou; bj = j; }
        }
        tp[i] = bj >= 0 && best >= thresh && !used[bj];
        if (tp[i]) used[bj] = 1;
    }
    free(used);
    return 0;
}

/* Area under the curve from the precision envelope (max precision at any higher recall). */
static double ap_all_points(const double *prec, const double *rec, int n)
{
    double ap = 0, prev_rec = 0;
    for (int i = 0; i < n; ++i) {
        double p = 0;
        for (int j = i; j < n; ++j) if (prec[j] > p) p = prec[j];
        ap += (rec[i] - prev_rec) * p;
        prev_rec = rec[i];
    }
    return ap;
}

static double ap_sampled(const double *prec, const double *rec, int n, int points)
{
    double sum = 0;
    for (int k = 0; k < points; ++k) {
        double r = (double)k / (points - 1), p = 0;
        for (int i = 0; i < n; ++i)
            if (rec[i] >= r - 1e-12 && prec[i] > p) p = prec[i];
        sum += p;
    }
    return sum / points;
}

int map_class_ap(map_det *dets, int nd, const map_truth *truth, int nt, float iou_thresh,
                 int points, map_result *out)
{
    out->tp = out->fp = 0;
    out->ap = 0;
    if (nd > 0) qsort(dets, (size_t)nd, sizeof(map_det), by_score_desc); /* dets may be NULL */
    char *tp = malloc((size_t)nd + 1);
    double *prec = malloc(sizeof(double) * ((size_t)nd + 1));
    double *rec = malloc(sizeof(double) * ((size_t)nd + 1));
    if (!tp || !prec || !rec || match(dets, nd, truth, nt, iou_thresh, tp)) {
        free(tp); free(prec); free(rec);
        return -1;
    }
    for (int i = 0; i < nd; ++i) {
        out->tp += tp[i];
        out->fp += !tp[i];
        prec[i] = (double)out->tp / (i + 1);
        rec[i] = nt ? (double)out->tp / nt : 0;
    }
    if (nt) out->ap = points > 1 ? ap_sampled(prec, rec, nd, points) : ap_all_points(prec, rec, nd);
    free(tp); free(prec); free(rec);
    return 0;
}

int map_count_conf(map_conf_counts *cc, const detection *d, int n, int classes, const map_label *t,
                   int nt, float iou_thresh, float conf)
{
    char *claimed = calloc((size_t)nt + 1, 1);
    if (!claimed) return -1;
    for (int j = 0; j < n; ++j)
        for (int c = 0; c < classes && c < d[j].classes; ++c) {
            float p = d[j].prob[c];
            if (p <= 0) continue;
            int best = -1;
            float best_iou = 0;
            for (int k = 0; k < nt; ++k) {
                float iou = box_iou(d[j].bbox, t[k].b);
                if (t[k].id == c && iou > iou_thresh && iou > best_iou) {
                    best = k;
                    best_iou = iou;
                }
            }
            if (p > conf) {
                if (best >= 0 && !claimed[best]) {
                    cc->tp[c]++;
                    cc->tp_all++;
                    cc->iou_sum += best_iou;
                } else {
                    cc->fp[c]++;
                    cc->fp_all++;
                }
            }
            if (best >= 0) claimed[best] = 1;
        }
    cc->truths += nt;
    free(claimed);
    return 0;
}

/* Whether b overlaps a box of class c among t[0..n) by more than iou_thresh. */
static int overlaps(box b, int c, const map_label *t, int n, float iou_thresh)
{
    for (int k = 0; k < n; ++k)
        if (t[k].id == c && box_iou(b, t[k].b) > iou_thresh) return 1;
    return 0;
}

int map_is_difficult(box b, int c, const map_label *t, int nt, const map_label *dif, int ndif,
                     float iou_thresh)
{
    return !overlaps(b, c, t, nt, iou_thresh) && overlaps(b, c, dif, ndif, iou_thresh);
}
