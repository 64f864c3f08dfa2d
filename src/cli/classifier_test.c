/* ./darknet classifier test <data> <cfg> <weights> (classifier_common.h). */
#include <stdio.h>
#include <stdlib.h>

#include "core/layer_times.h"
#include "cli/classifier_common.h"

static void print_row(const network *net, const char *path)
{
    printf("%s", path);
    for (int j = 0; j < net->outputs; ++j) printf("\t%g", net->output[j]);
    printf("\n");
}

int classifier_test(const char *datafile, const char *cfg, const char *weights)
{
    char err[1024];
    classifier_setup s;
    if (classifier_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int n = 0, rc = 1;
    const char *tl = data_cfg_str(&s.d, "test", "data/test.list");
    char **paths = list_read(tl, &n, err, sizeof(err));
    network *net = NULL;
    if (!paths) fprintf(stderr, "%s: test=%s: %s\n", datafile, tl, err);
    else if (!(net = classifier_network(cfg, weights, 1, 0, s.classes, err, sizeof(err))))
        fprintf(stderr, "%s\n", err);
    else {
        rc = 0;
        for (int i = 0; i < n; ++i) {
            if (classifier_forward_image(net, paths[i], NULL)) {
                rc = 1;
                continue;
            }
            print_row(net, paths[i]);
        }
    }
    if (net) layer_times_print(net, stderr);
    free_network(net);
    list_free(paths);
    classifier_setup_free(&s);
    return rc;
}
