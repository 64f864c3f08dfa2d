/* Setup shared by the classifier commands. */
#include "cli/cli.h"
#include "cli/classifier_common.h"

#include <stdio.h>
#include <string.h>

int classifier_setup_read(const char *datafile, classifier_setup *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (data_cfg_read(datafile, &s->d, err, errlen)) return -1;
    const char *lab = data_cfg_str(&s->d, "labels", data_cfg_str(&s->d, "names", "data/labels.list"));
    int n = 0, classes = 0;
    if (!(s->labels = list_read(lab, &n, err, errlen)) ||
        data_cfg_int(&s->d, "classes", n, &classes, err, errlen) ||
        data_cfg_int(&s->d, "top", 1, &s->top, err, errlen)) {
        classifier_setup_free(s);
        return -1;
    }
    if (classes != n) {
        snprintf(err, errlen, "%s: classes=%d but the label file %s has %d names; make them agree",
                 datafile, classes, lab, n);
        classifier_setup_free(s);
        return -1;
    }
    s->classes = n;
    if (s->top < 1) s->top = 1;
    return 0;
}

void classifier_setup_free(classifier_setup *s)
{
    list_free(s->labels);
    data_cfg_free(&s->d);
    memset(s, 0, sizeof(*s));
}

network *classifier_network(const char *cfg, const char *weights, int batch_override, int clear,
                            int classes, char *err, size_t errlen)
{
    network *net = parse_network_cfg_ex(cfg, batch_override, err, errlen);
    if (!net) return NULL;
    if (weights && weights[0] && load_weights_ex(net, weights, 0, net->n, err, errlen)) {
        free_network(net);
        return NULL;
    }
    if (clear) net->seen = 0;
    if (cli_place_network(net, err, errlen)) {
        free_network(net);
        return NULL;
    }
    if (net->outputs != classes) {
        snprintf(err, errlen, "%s: the network outputs %d values but the .data file has %d classes; "
                 "set the last layer's filters/output to %d", cfg, net->outputs, classes, classes);
        free_network(net);
        return NULL;
    }
    return net;
}

void classifier_top_k(const float *p, int n, int k, int *idx)
{
    /* k is small (1..5): repeated selection is simplest and keeps ties in index order. */
    for (int j = 0; j < k; ++j) {
        int best = -1;
        for (int i = 0; i < n; ++i) {
            int taken = 0;
            for (int q = 0; q < j; ++q) taken |= idx[q] == i;
            if (!taken && (best < 0 || p[i] > p[best])) best = i;
        }
        idx[j] = best;
    }
}
