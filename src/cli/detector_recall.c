/* ./darknet detector recall <data> <cfg> <weights>: pjreddie's validate_detector_recall
 * over the .data file's valid list (train when there is none, as AlexeyAB). Each image is
 * resized to the network, boxes above .001 objectness go through do_nms_obj(.4); a truth box
 * is found when some box overlaps it with IoU > .5. One line per image (on stderr, as
 * Darknet):
 *   <i> <correct> <total>\tRPs/Img: <proposals per image>\tIOU: <mean best IoU>%\tRecall:<r>% */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/layer_times.h"
#include "cli/detector_cli.h"

#define RECALL_THRESH .001f
#define RECALL_NMS .4f
#define RECALL_IOU .5f

typedef struct {
    int correct, total, proposals;
    float iou_sum;
} recall_sums;

/* Boxes of one image, relative to it (stretched input: no letterbox correction). */
static detection *image_boxes(network *net, const char *path, int *n)
{
    char err[1024];
    *n = 0;
    image im = image_load_ex(path, net->c, err, sizeof(err));
    if (!im.data) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    image sized = resize_image(im, net->w, net->h);
    free_image(im);
    if (!sized.data || network_forward(net, sized.data, 0)) {
        fprintf(stderr, "%s: %s\n", path, sized.data ? net->err : "out of memory");
        free_image(sized);
        return NULL;
    }
    free_image(sized);
    detection *d = get_network_boxes(net, net->w, net->h, RECALL_THRESH, .5f, NULL, 1, n);
    if (d) do_nms_obj(d, *n, det_last_params(net)->classes, RECALL_NMS);
    return d;
}

static void score(const detection *d, int n, const label_box *t, int nt, recall_sums *s)
{
    for (int k = 0; k < n; ++k) s->proposals += d[k].objectness > RECALL_THRESH;
    for (int j = 0; j < nt; ++j) {
        box tb = {t[j].x, t[j].y, t[j].w, t[j].h};
        float best = 0;
        for (int k = 0; k < n; ++k) {
            float iou = box_iou(d[k].bbox, tb);
            if (d[k].objectness > RECALL_THRESH && iou > best) best = iou;
        }
        s->iou_sum += best;
        s->correct += best > RECALL_IOU;
        ++s->total;
    }
}

static int recall_image(network *net, const char *path, int classes, recall_sums *s)
{
    char lp[4096];
    unsigned long bad = 0;
    label_box *t = NULL;
    detector_label_path(path, lp, sizeof(lp));
    int nt = detector_read_labels(lp, classes, &t, &bad, 1);
    if (nt < 0) {
        fprintf(stderr, "%s: cannot read the label file %s\n", path, lp);
        nt = 0;
    }
    int n = 0;
    detection *d = image_boxes(net, path, &n);
    if (d) score(d, n, t, nt, s);
    free_detections(d, n);
    free(t);
    return d ? 0 : -1;
}

int detector_recall(const char *datafile, const char *cfg, const char *weights)
{
    char err[1024];
    det_setup s;
    if (det_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        det_setup_free(&s);
        return 1;
    }
    int n = 0, rc = 1;
    const char *list = data_cfg_str(&s.d, "valid", data_cfg_str(&s.d, "train", "data/train.txt"));
    char **paths = list_read(list, &n, err, sizeof(err));
    network *net = NULL;
    if (!paths) fprintf(stderr, "%s: valid=%s: %s\n", datafile, list, err);
    else if (!(net = det_network(cfg, weights, 1, 0, s.classes, err, sizeof(err))))
        fprintf(stderr, "%s\n", err);
    else {
        rc = 0;
        recall_sums r = {0, 0, 0, 0};
        for (int i = 0; i < n; ++i) {
            if (recall_image(net, paths[i], s.classes, &r)) rc = 1;
            fprintf(stderr, "%5d %5d %5d\tRPs/Img: %.2f\tIOU: %.2f%%\tRecall:%.2f%%\n", i, r.correct,
                    r.total, (float)r.proposals / (i + 1), r.total ? r.iou_sum * 100 / r.total : 0,
                    r.total ? 100. * r.correct / r.total : 0);
        }
    }
    if (net) layer_times_print(net, stderr);
    free_network(net);
    list_free(paths);
    det_setup_free(&s);
    return rc;
}
