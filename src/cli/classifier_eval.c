/* classifier valid (top-1 / top-k accuracy over the valid list) and predict (top-k labels
 * of one image). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/layer_times.h"
#include "cli/classifier_common.h"
#include "data/data_classifier.h"

#define VALID_BATCH 50

/* Forward of the first `n` samples already in net->input; counts top-1 / top-k hits and
 * prints pjreddie's two lines per image (validate_classifier_single): path, class and the
 * first two scores, then the running accuracies. */
static int score_batch(network *net, const classifier_data *cd, int first, int n, int k,
                       int *hit1, int *hitk)
{
    if (network_forward(net, net->input, 0)) {
        fprintf(stderr, "valid: %s\n", net->err);
        return -1;
    }
    int idx[64];
    for (int b = 0; b < n; ++b) {
        const float *pr = net->output + (size_t)b * net->outputs;
        classifier_top_k(pr, net->outputs, k, idx);
        int truth = cd->label_of[first + b], i = first + b;
        *hit1 += idx[0] == truth;
        for (int j = 0; j < k; ++j) *hitk += idx[j] == truth;
        printf("%s, %d, %f, %f, \n", cd->paths[i], truth, pr[0], net->outputs > 1 ? pr[1] : 0);
        printf("%d: top 1: %f, top %d: %f\n", i, (double)*hit1 / (i + 1), k, (double)*hitk / (i + 1));
    }
    return 0;
}

static int valid_loop(network *net, classifier_data *cd, int k)
{
    int hit1 = 0, hitk = 0;
    char err[1024];
    for (int i = 0; i < cd->n; i += net->batch) {
        int n = cd->n - i < net->batch ? cd->n - i : net->batch;
        for (int b = 0; b < n; ++b)
            if (classifier_load(cd, i + b, net->input + (size_t)b * net->inputs, err, sizeof(err))) {
                fprintf(stderr, "valid: %s\n", err);
                return -1;
            }
        if (score_batch(net, cd, i, n, k, &hit1, &hitk)) return -1;
    }
    printf("valid: top-1 %.4f, top-%d %.4f over %d images\n", (double)hit1 / cd->n, k,
           (double)hitk / cd->n, cd->n);
    return 0;
}

int classifier_valid(const char *datafile, const char *cfg, const char *weights, int topk)
{
    char err[1024];
    classifier_setup s;
    if (classifier_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int k = topk > 0 ? topk : s.top, n = 0, rc = 1;
    if (k > s.classes) k = s.classes;
    if (k > 64) k = 64;
    const char *vl = data_cfg_str(&s.d, "valid", "data/valid.list");
    char **paths = list_read(vl, &n, err, sizeof(err));
    network *net = paths ? classifier_network(cfg, weights, VALID_BATCH, 0, s.classes, err, sizeof(err)) : NULL;
    classifier_data cd;
    if (!net) fprintf(stderr, "%s\n", err);
    else if (classifier_data_init(&cd, paths, n, s.labels, s.classes, err, sizeof(err)))
        fprintf(stderr, "%s: %s\n", vl, err);
    else {
        cd.w = net->w;
        cd.h = net->h;
        cd.c = net->c;
        rc = valid_loop(net, &cd, k) ? 1 : 0;
        classifier_data_free(&cd);
    }
    if (net) layer_times_print(net, stderr);
    free_network(net);
    list_free(paths);
    classifier_setup_free(&s);
    return rc;
}

int classifier_forward_image(network *net, const char *path, double *seconds)
{
    char err[1024];
    image im = image_load_ex(path, net->c, err, sizeof(err));
    if (!im.data) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    image lb = letterbox_image(im, net->w, net->h);
    free_image(im);
    if (!lb.data) {
        fprintf(stderr, "out of memory letterboxing %s\n", path);
        return -1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = network_forward(net, lb.data, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free_image(lb);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, net->err);
        return -1;
    }
    if (seconds) *seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return 0;
}

static int predict_one(network *net, const classifier_setup *s, const char *path, int k)
{
    double sec = 0;
    if (classifier_forward_image(net, path, &sec)) return -1;
    printf("%s: Predicted in %f seconds.\n", path, sec);
    int idx[64];
    classifier_top_k(net->output, net->outputs, k, idx);
    for (int j = 0; j < k; ++j) printf("%5.2f%%: %s\n", net->output[idx[j]] * 100, s->labels[idx[j]]);
    return 0;
}

/* Without an image argument, paths are read from stdin as Darknet does. */
static int predict_stdin(network *net, const classifier_setup *s, int k)
{
    char line[4096];
    int rc = 0;
    for (;;) {
        printf("Enter Image Path: ");
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin)) break;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && predict_one(net, s, line, k)) rc = -1;
    }
    return rc;
}

int classifier_predict(const char *datafile, const char *cfg, const char *weights,
                       const char *imgpath, int topk)
{
    char err[1024];
    classifier_setup s;
    if (classifier_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int k = topk > 0 ? topk : s.top;
    if (k > s.classes) k = s.classes;
    if (k > 64) k = 64;
    network *net = classifier_network(cfg, weights, 1, 0, s.classes, err, sizeof(err));
    int rc = 1;
    if (!net) fprintf(stderr, "%s\n", err);
    else rc = (imgpath ? predict_one(net, &s, imgpath, k) : predict_stdin(net, &s, k)) ? 1 : 0;
    if (net) layer_times_print(net, stderr);
    free_network(net);
    classifier_setup_free(&s);
    return rc;
}
