/* Pieces shared by `classifier train` (classifier.c) and `valid`/`predict`
 * (classifier_eval.c): the .data file, the label list and the network. */
#ifndef DN_CLI_CLASSIFIER_COMMON_H
#define DN_CLI_CLASSIFIER_COMMON_H

#include <stddef.h>

#include "core/list.h"
#include "core/network.h"

typedef struct {
    data_cfg d;
    char **labels;   /* `labels` (Darknet's key for the classifier), else `names` */
    int classes;     /* number of labels */
    int top;         /* `top` key, or -t/-topk on the command line */
} classifier_setup;

/* Reads the .data file and its label list, and checks `classes` against the list. */
int classifier_setup_read(const char *datafile, classifier_setup *s, char *err, size_t errlen);
void classifier_setup_free(classifier_setup *s);

/* Parses cfg (batch_override > 0 replaces the mini-batch), loads weights when given (a
 * NULL or empty name skips), -clear resets seen, and checks that the network outputs one
 * value per class. Returns NULL with err set. */
network *classifier_network(const char *cfg, const char *weights, int batch_override, int clear,
                            int classes, char *err, size_t errlen);

/* Indices of the k largest of p[0..n) in descending order (k <= n). */
void classifier_top_k(const float *p, int n, int k, int *idx);

/* Letterboxes the image at path to the network input and runs a forward pass (net->output
 * holds the result); the forward time in *seconds when not NULL. Returns 0 or -1 after
 * printing why. */
int classifier_forward_image(network *net, const char *path, double *seconds);

int classifier_valid(const char *datafile, const char *cfg, const char *weights, int topk);
int classifier_predict(const char *datafile, const char *cfg, const char *weights,
                       const char *imgpath, int topk);
/* pjreddie's `classifier test`: every image of the .data file's `test` list, one line each:
 * the path, then the network's outputs separated by tabs. */
int classifier_test(const char *datafile, const char *cfg, const char *weights);

#endif
