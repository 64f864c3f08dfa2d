/* The inner training step shared by the classifier and detector commands. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/train_loop.h"
#include "dist/dist.h"

/* Iterations between weights checksums over the ranks (MPI); DN_DIST_CHECK overrides. */
static int check_every(void)
{
    const char *e = getenv("DN_DIST_CHECK");
    int k = e ? atoi(e) : 0;
    return k > 0 ? k : 10;
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cli_train_iteration(network *net, loader *ld, float *loss, char *err, size_t errlen)
{
    float sum = 0;
    dist_step_begin(net);
    for (int s = 0; s < net->subdivisions; ++s) {
        float *x, *y, cost;
        if (loader_next(ld, &x, &y, err, errlen)) return -1;
        /* Train on the loader's buffer itself: a copy into net->input would cost one
         * more batch of input in RSS (31.7 MiB at 416x416, mini-batch 16). */
        memcpy(net->truth, y, (size_t)net->batch * net->truths * sizeof(float));
        /* the loader may drop the input's pages once the forward is done (loader.h) */
        net->input_done = loader_discard;
        net->input_done_ud = ld;
        int rc = network_train_batch(net, x, &cost, err, errlen);
        net->input_done = NULL;
        net->input_done_ud = NULL;
        if (rc) return -1;
        sum += cost;
    }
    /* net->cost is the sum over the mini-batch; Darknet reports per image. */
    *loss = dist_mean(sum / ((float)net->subdivisions * net->batch));
    return dist_check_weights(net, network_current_batch(net), check_every(), err, errlen);
}
