/* ./darknet classifier train|valid|predict|test <data> <cfg> [weights] [image] [-clear] [-t N]
 *
 * train follows Darknet's classifier loop: random images (with replacement) from the
 * train list, one line per iteration
 *   <iter>, <epoch>: <loss>, <avg loss> avg, <rate> rate, <sec> seconds, <seen> images
 * and weights saved atomically to <backup>/<cfgbase>.backup every 100 iterations,
 * <cfgbase>_<epoch>.weights at each new epoch and <cfgbase>_final.weights at the end.
 * SIGINT/SIGTERM stop after the current iteration with <cfgbase>_last.weights saved;
 * resuming from it or from .backup continues exactly (train_ckpt.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/args.h"
#include "cli/classifier_common.h"
#include "cli/cli.h"
#include "data/data_classifier.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "memory/memreport.h"
#include "cli/train_ckpt.h"
#include "cli/train_loop.h"
#include "core/layer_times.h"

#define BACKUP_EVERY 100

typedef struct {
    network *net;
    const char *backup, *cfg, *weights;
    int ntrain;
    train_ckpt ck;
} train_run;

/* .backup (and _last.weights, written on SIGINT/SIGTERM) are resume points: they carry
 * the optimizer state. */
static int save(train_run *t, const char *suffix)
{
    return train_ckpt_save(&t->ck, suffix, !strcmp(suffix, ".backup"));
}

static int train_loop(train_run *t, loader *ld)
{
    network *net = t->net;
    float avg = -1;
    int epoch = (int)(net->seen / (size_t)t->ntrain);
    char err[1024];
    while (network_current_batch(net) < (size_t)net->max_batches) {
        double t0 = cli_now_s();
        float loss;
        if (cli_train_iteration(t->net, ld, &loss, err, sizeof(err))) {
            train_ckpt_failure(&t->ck, err);
            return -1;
        }
        avg = avg < 0 ? loss : avg * .9f + loss * .1f;
        size_t it = network_current_batch(net);
        printf("%zu, %.3f: %f, %f avg, %f rate, %lf seconds, %zu images\n", it,
               (double)net->seen / t->ntrain, loss, avg, network_current_rate(net), cli_now_s() - t0,
               net->seen);
        fflush(stdout);
        if (train_ckpt_check_finite(&t->ck, loss, it)) return -1;
        if ((int)(net->seen / (size_t)t->ntrain) > epoch) {
            epoch = (int)(net->seen / (size_t)t->ntrain);
            char suf[64];
            snprintf(suf, sizeof(suf), "_%d.weights", epoch);
            if (save(t, suf)) return -1;
        }
        if (it % BACKUP_EVERY == 0 && save(t, ".backup")) return -1;
        int stop = train_ckpt_stop_requested(&t->ck, it);
        if (stop) return stop < 0 ? -1 : 0;
    }
    return save(t, "_final.weights");
}

static void fill_augment(classifier_data *cd, const network *net)
{
    cd->w = net->w;
    cd->h = net->h;
    cd->c = net->c;
    cd->augment = 1;
    /* Darknet's crop sizes: min_ratio/max_ratio times the width (they default to
     * min_crop/w and max_crop/w); rounded so the defaults give min_crop/max_crop exactly. */
    cd->crop.min_size = (int)lrintf(net->min_ratio * net->w);
    cd->crop.max_size = (int)lrintf(net->max_ratio * net->w);
    cd->crop.aspect = net->aspect;
    cd->crop.angle = net->angle;
    cd->crop.center = net->center;
    cd->flip = net->flip;
    cd->hue = net->hue;
    cd->saturation = net->saturation;
    cd->exposure = net->exposure;
}

static int start_training(train_run *t, char **paths, int n, classifier_setup *s)
{
    char err[1024];
    classifier_data cd;
    if (classifier_data_init(&cd, paths, n, s->labels, s->classes, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", data_cfg_str(&s->d, "train", ""), err);
        return -1;
    }
    network *net = t->net;
    fill_augment(&cd, net);
    cd.cache = image_cache_new((size_t)net->image_cache_mb << 20); /* NULL: off */
    /* cutmix (mixup 2; 4 is cutmix with mosaic) is AlexeyAB's classifier augmentation; his
     * classifier mixup and mosaic, blur and gaussian_noise are detector augmentation here */
    cd.cutmix = net->mixup == 2 || net->mixup == 4;
    if (net->mixup == 1 || net->mixup >= 3 || net->blur || net->gaussian_noise)
        fprintf(stderr, "%s: warning: mosaic, mixup, blur and gaussian_noise are used by detector "
                "training only; classifier training ignores them%s\n", t->cfg,
                cd.cutmix ? " (cutmix=1 is used)" : "");
    t->ntrain = n;
    /* Resume continues the batch stream; each rank loads its slice of every mini-batch. */
    uint64_t first = net->seen / ((size_t)net->batch * (size_t)net->ranks);
    loader *ld = loader_start_ex(net->batch, dist_rank() * net->batch, (size_t)net->inputs,
                                 (size_t)net->truths, classifier_fill, classifier_begin_batch, &cd,
                                 darknet_get_seed(), first, err, sizeof(err));
    if (dist_any(!ld)) { /* every rank stops when one cannot load */
        if (ld) loader_stop(ld);
        else {
            fprintf(stderr, "%s\n", err);
            train_oom_advice(net, t->cfg, err);
        }
        image_cache_free(cd.cache);
        classifier_data_free(&cd);
        return -1;
    }
    if (dist_rank() == 0) {
        fprintf(stderr, "Learning Rate: %g, Momentum: %g, Decay: %g\n%d\n", net->learning_rate,
                net->momentum, net->decay, n);
        network_print(net, stderr);
    }
    if (memreport_reserve_saved(net, err, sizeof(err))) /* else sized by the first batch */
        fprintf(stderr, "saved-activation pool not planned: %s\n", err);
    train_ckpt_begin(&t->ck, net, t->backup, t->cfg, t->weights);
    int rc = -1;
    if (dist_attach(net, err, sizeof(err))) fprintf(stderr, "%s\n", err);
    else rc = train_loop(t, ld);
    dist_detach(net);
    train_ckpt_end(&t->ck);
    loader_report(ld, stderr);
    loader_stop(ld);
    image_cache_report(cd.cache, stderr);
    image_cache_free(cd.cache);
    if (cd.skipped) fprintf(stderr, "%lu images could not be loaded and were skipped\n", cd.skipped);
    classifier_data_free(&cd);
    return rc;
}

static int train_classifier(const char *datafile, const char *cfg, const char *weights, int clear)
{
    char err[1024];
    classifier_setup s;
    if (classifier_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int n = 0, rc = 1;
    char **paths = NULL;
    train_run t = {0};
    t.backup = data_cfg_str(&s.d, "backup", "backup/");
    t.cfg = cfg;
    t.weights = clear ? NULL : weights; /* -clear starts over: no optimizer state either */
    t.net = classifier_network(cfg, weights, 0, clear, s.classes, err, sizeof(err));
    if (!t.net) {
        fprintf(stderr, "%s\n", err);
        train_oom_advice(NULL, cfg, err);
    }
    else if (t.net->train_refusal[0])
        fprintf(stderr, "%s\n", t.net->train_refusal);
    else if (t.net->max_batches <= 0)
        fprintf(stderr, "%s: max_batches is 0; set max_batches= in [net] to the iterations to train\n", cfg);
    else if (dist_prepare(t.net, cfg, err, sizeof(err)))
        fprintf(stderr, "%s\n", err);
    else if (!(paths = list_read(data_cfg_str(&s.d, "train", "data/train.list"), &n, err, sizeof(err))))
        fprintf(stderr, "%s: %s\n", datafile, err);
    else if (train_backup_dir(t.backup) == 0 && start_training(&t, paths, n, &s) == 0)
        rc = 0;
    if (t.net && rc == 0) {
        memreport_print_auto(t.net, stdout);
        layer_times_print(t.net, stderr);
        train_print_memory(t.net);
    }
    list_free(paths);
    free_network(t.net);
    classifier_setup_free(&s);
    return rc;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s classifier train|valid|predict|test <data> <cfg> [weights] [image] "
            "[-clear] [-t N]\n", prog);
}

int run_classifier(int argc, char **argv)
{
    if (argc < 5) {
        usage(argv[0]);
        return 1;
    }
    int clear = cli_flag("-clear"), topk = cli_int("-t", 0);
    const char *cmd = argv[2], *data = argv[3], *cfg = argv[4];
    const char *weights = argc > 5 ? argv[5] : NULL;
    if (!strcmp(cmd, "train")) return train_classifier(data, cfg, weights, clear);
    if (!strcmp(cmd, "valid")) return classifier_valid(data, cfg, weights, topk);
    if (!strcmp(cmd, "predict")) return classifier_predict(data, cfg, weights, argc > 6 ? argv[6] : NULL, topk);
    if (!strcmp(cmd, "test")) return classifier_test(data, cfg, weights);
    fprintf(stderr, "classifier: unknown command '%s'\n", cmd);
    usage(argv[0]);
    return 1;
}
