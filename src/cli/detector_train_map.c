/* -map during `detector train` (detector_train.h). The weights are written to a
 * temporary file beside the checkpoints and evaluated by `detector map`'s own code (a
 * separate batch-1 network, as AlexeyAB builds one); a new best is that file renamed to
 * <base>_best.weights, so the best file is always whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/detector_cli.h"
#include "cli/detector_train.h"

void train_map_init(train_map *m, const network *net, const train_opts *o, const char *datafile,
                    const char *cfg, int ntrain, size_t start)
{
    memset(m, 0, sizeof(*m));
    m->on = o->map;
    m->eval = o->eval;
    m->eval.points = 0;
    m->datafile = datafile;
    m->cfg = cfg;
    m->last = -1;
    int full = net->batch * net->subdivisions;
    int epochs = o->map_epochs > 0 ? o->map_epochs : 4;
    long every = (long)epochs * ntrain / (full > 0 ? full : 1);
    m->every = every < 100 ? 100 : (int)every;
    const char *env = getenv("DN_MAP_EVERY");
    if (env && atoi(env) > 0) m->every = atoi(env);
    m->next = start + (size_t)m->every;
    if (m->next < (size_t)net->burn_in) m->next = (size_t)net->burn_in;
}

void train_map_print(const train_map *m, const network *net)
{
    if (!m->on) return;
    printf("\n (next mAP calculation at %zu iterations) ", m->next);
    if (m->last >= 0)
        printf("\n Last accuracy mAP@%0.2f = %2.2f %%, best = %2.2f %% ", m->eval.iou_thresh,
               m->last * 100, net->best_map * 100);
}

static void ckpt_path(const train_ckpt *ck, const char *suffix, char *out, size_t n)
{
    size_t bl = strlen(ck->backup);
    const char *sep = (bl && ck->backup[bl - 1] == '/') ? "" : "/";
    snprintf(out, n, "%s%s%s%s", ck->backup, sep, ck->base, suffix);
}

int train_map_step(train_map *m, train_ckpt *ck, size_t it)
{
    network *net = ck->net;
    if (!m->on || (it < m->next && it != (size_t)net->max_batches)) return 0;
    m->next = it + (size_t)m->every;
    char tmp[4200], best[4200], err[1024];
    ckpt_path(ck, "_map_eval.weights", tmp, sizeof(tmp));
    ckpt_path(ck, "_best.weights", best, sizeof(best));
    train_ckpt_keep_earlier(ck); /* before _best.weights may be replaced */
    if (save_weights_ex(net, tmp, net->n, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    printf("\n calculation mAP (mean average precision)...\n");
    fflush(stdout);
    float map = 0;
    if (detector_map(m->datafile, m->cfg, tmp, &m->eval, &map)) {
        /* a bad valid= list is the user's to fix; training goes on without this point */
        fprintf(stderr, "warning: mAP at iteration %zu could not be computed (see above)\n", it);
        remove(tmp);
        return 0;
    }
    m->last = map;
    printf("\n mean_average_precision (mAP@%0.2f) = %f at iteration %zu\n", m->eval.iou_thresh, map, it);
    if (map >= net->best_map) {
        net->best_map = map;
        if (rename(tmp, best)) {
            fprintf(stderr, "cannot write %s: %s\n", best, strerror(errno));
            remove(tmp);
            return -1;
        }
        printf("New best mAP! Saving weights to %s\n", best);
    } else {
        remove(tmp);
    }
    fflush(stdout);
    return 1;
}
