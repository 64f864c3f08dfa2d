/* ./darknet detector train|test|valid|map|recall|calc_anchors <data> <cfg> [weights] [image]
 *
 * train follows AlexeyAB's loop: random images (with replacement) from the train list, one
 * line per iteration
 *   <iter>: <loss>, <avg loss> avg loss, <rate> rate, <sec> seconds, <images> images, <h> hours left
 * weights written atomically to <backup>/<cfgbase>_last.weights every 100 iterations,
 * <cfgbase>_<iter>.weights every 1000 (10000 when max_batches >= 10000) and
 * <cfgbase>_final.weights at the end, then the `memory:` line. -map adds AlexeyAB's mAP
 * schedule and <cfgbase>_best.weights (detector_train.h); chart.png is written every 100
 * iterations (train_chart.h). SIGINT/SIGTERM end the run
 * after the current iteration with <cfgbase>_last.weights (+ .state) saved; training from
 * that file resumes where it stopped (train_ckpt.h, docs/checkpoints.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/detector_cli.h"
#include "cli/detector_demo.h"
#include "cli/detector_train.h"
#include "cli/train_chart.h"
#include "data/loader.h"
#include "memory/memreport.h"
#include "core/rng.h"
#include "dist/dist.h"
#include "cli/train_ckpt.h"
#include "cli/train_loop.h"
#include "core/layer_times.h"

#define LAST_EVERY 100

typedef struct {
    network *net;
    const char *backup, *cfg, *weights;
    train_ckpt ck;
    detector_data *dd;
    loader *ld;
    float random;       /* the last [yolo]/[region]'s random= (0: fixed size) */
    int init_w, init_h; /* the cfg's size */
    const char *datafile;
    train_opts opts;
    train_map map;      /* -map */
    train_chart chart;  /* chart.png */
} train_run;

/* One side for random=1: AlexeyAB's round(f * side / step + 1) * step (in float, as his). */
static int scaled_side(float f, int side, int step)
{
    return (int)lroundf(f * side / step + 1) * step;
}

/* random=1 multi-scale training (AlexeyAB's train_detector, relative to the cfg size): every
 * 10 iterations a new size, round(f * side / step + 1) * step for a factor f between 1/coef
 * and coef (coef 1.4, or random= itself when it is above 1), and the cfg's size when f < 1
 * would give more than it; coef itself (the largest) at the first resize and in the last 100
 * iterations, so a run that fits those fits throughout. For a 416 cfg: 320 to 608. The
 * factor comes from (seed, iteration), so a resumed run picks the same sizes. */
static void pick_size(const train_run *t, size_t it, int *w, int *h)
{
    const network *net = t->net;
    float coef = t->random > 1 ? t->random : 1.4f, f = coef;
    if (it != 0 && it + 100 <= (size_t)net->max_batches) {
        rng_t g;
        rng_seed(&g, darknet_get_seed(), 0x52534cull + it);
        f = rng_scale(&g, coef);
    }
    int step = net->resize_step > 0 ? net->resize_step : 32;
    *w = scaled_side(f, t->init_w, step);
    *h = scaled_side(f, t->init_h, step);
    if (f < 1 && (*w > t->init_w || *h > t->init_h)) {
        *w = t->init_w;
        *h = t->init_h;
    }
    if (*w < step) *w = step;
    if (*h < step) *h = step;
}

/* Resizes the network and restarts the loader at the new size (the batch stream goes on
 * where it was). */
static int maybe_resize(train_run *t, size_t it, char *err, size_t errlen)
{
    if (t->random <= 0 || it % 10) return 0;
    network *net = t->net;
    int w, h;
    pick_size(t, it, &w, &h);
    if (w == net->w && h == net->h) return 0;
    printf("Resizing to %d x %d\n", w, h);
    fflush(stdout);
    loader_stop(t->ld);
    t->ld = NULL;
    if (resize_network(net, w, h)) {
        snprintf(err, errlen, "random=1: cannot resize the network to %dx%d", w, h);
        return -1;
    }
    t->dd->w = w;
    t->dd->h = h;
    uint64_t next = net->seen / ((size_t)net->batch * (size_t)net->ranks);
    t->ld = loader_start_ex(net->batch, dist_rank() * net->batch, (size_t)net->inputs, (size_t)net->truths,
                            detector_fill, detector_begin_batch, t->dd, darknet_get_seed(), next, err,
                            errlen);
    return t->ld ? 0 : -1;
}

static int save(train_run *t, const char *suffix)
{
    /* _last.weights is the resume point: it carries the optimizer state. */
    return train_ckpt_save(&t->ck, suffix, !strcmp(suffix, "_last.weights"));
}

/* -map when due, then chart.png every 100 iterations, after a mAP and at the end. Rank 0
 * alone (the ranks hold the same weights; it writes every file). */
static int chart_and_map(train_run *t, size_t it, float avg, double left)
{
    if (dist_rank() != 0) return 0;
    train_chart_add_loss(&t->chart, (int)it, avg);
    int m = train_map_step(&t->map, &t->ck, it);
    if (m < 0) return -1;
    if (m) train_chart_add_map(&t->chart, (int)it, t->map.last);
    if (m || it % LAST_EVERY == 0 || it >= (size_t)t->net->max_batches)
        train_chart_write(&t->chart, (int)it, network_current_rate(t->net), left);
    return 0;
}

static int train_loop(train_run *t)
{
    network *net = t->net;
    float avg = -1;
    double avg_time = -1;
    size_t numbered = net->max_batches >= 10000 ? 10000 : 1000;
    char err[1024];
    while (network_current_batch(net) < (size_t)net->max_batches) {
        if (maybe_resize(t, network_current_batch(net), err, sizeof(err))) {
            train_ckpt_failure(&t->ck, err);
            return -1;
        }
        double t0 = cli_now_s();
        float loss;
        if (cli_train_iteration(net, t->ld, &loss, err, sizeof(err))) {
            train_ckpt_failure(&t->ck, err);
            return -1;
        }
        double dt = cli_now_s() - t0;
        avg = avg < 0 ? loss : avg * .9f + loss * .1f;
        avg_time = avg_time < 0 ? dt : avg_time * .9 + dt * .1;
        size_t it = network_current_batch(net);
        double left = (net->max_batches - (double)it) * avg_time / 3600;
        if (dist_rank() == 0) train_map_print(&t->map, net);
        /* AlexeyAB starts the line with a newline: -map's lines before it end without one */
        printf("%s %zu: %f, %f avg loss, %f rate, %lf seconds, %zu images, %f hours left\n",
               t->map.on ? "\n" : "", it, loss,
               avg, network_current_rate(net), dt, net->seen, left);
        fflush(stdout);
        if (train_ckpt_check_finite(&t->ck, loss, it)) return -1;
        if (chart_and_map(t, it, avg, left)) return -1;
        if (it % LAST_EVERY == 0 && save(t, "_last.weights")) return -1;
        if (it % numbered == 0) {
            char suf[64];
            snprintf(suf, sizeof(suf), "_%zu.weights", it);
            if (save(t, suf)) return -1;
        }
        int stop = train_ckpt_stop_requested(&t->ck, it);
        if (stop) return stop < 0 ? -1 : 0;
    }
    return save(t, "_final.weights");
}

static int start_training(train_run *t, char **paths, int n, int classes)
{
    char err[1024];
    network *net = t->net;
    detector_data dd;
    det_data_init(&dd, net, paths, n, classes);
    dd.augment = 1;
    dd.cache = image_cache_new((size_t)net->image_cache_mb << 20); /* NULL: off */
    if (net->mixup == 2 || net->mixup == 4) /* as AlexeyAB's detector loader */
        fprintf(stderr, "%s: cutmix=1 is for classifier training; detector training ignores it%s\n",
                t->cfg, net->mixup == 4 ? " (mosaic=1 stays on)" : "");
    t->random = det_last_params(net)->random;
    t->init_w = net->w;
    t->init_h = net->h;
    t->dd = &dd;
    /* Resume continues the batch stream; each rank loads its slice of every mini-batch. */
    uint64_t first = net->seen / ((size_t)net->batch * (size_t)net->ranks);
    loader *ld = loader_start_ex(net->batch, dist_rank() * net->batch, (size_t)net->inputs,
                                 (size_t)net->truths, detector_fill, detector_begin_batch, &dd,
                                 darknet_get_seed(), first, err, sizeof(err));
    if (dist_any(!ld)) { /* every rank stops when one cannot load */
        if (ld) loader_stop(ld);
        else {
            fprintf(stderr, "%s\n", err);
            train_oom_advice(net, t->cfg, err);
        }
        image_cache_free(dd.cache);
        return -1;
    }
    if (dist_rank() == 0) {
        fprintf(stderr, "Learning Rate: %g, Momentum: %g, Decay: %g\n%d images\n", net->learning_rate,
                net->momentum, net->decay, n);
        network_print(net, stderr);
        memreport_print_planned(net, stderr);
    }
    if (memreport_reserve_saved(net, err, sizeof(err))) /* else sized by the first batch */
        fprintf(stderr, "saved-activation pool not planned: %s\n", err);
    train_ckpt_begin(&t->ck, net, t->backup, t->cfg, t->weights);
    train_map_init(&t->map, net, &t->opts, t->datafile, t->cfg, n, network_current_batch(net));
    if (t->map.on && net->best_map > 0)
        fprintf(stderr, "best mAP@0.50 so far: %.2f %% (from the train state)\n", net->best_map * 100);
    train_chart_init(&t->chart, t->cfg, t->opts.chart, net->max_batches, 0);
    t->ld = ld;
    int rc = -1;
    if (dist_attach(net, err, sizeof(err))) fprintf(stderr, "%s\n", err);
    else rc = train_loop(t);
    dist_detach(net);
    train_chart_free(&t->chart);
    train_ckpt_end(&t->ck);
    loader_report(t->ld, stderr);
    loader_stop(t->ld);
    image_cache_report(dd.cache, stderr);
    image_cache_free(dd.cache);
    if (dd.skipped || dd.no_labels || dd.bad_labels)
        fprintf(stderr, "data problems: %lu unreadable images skipped, %lu images without a label "
                "file (used without boxes), %lu label lines dropped\n", dd.skipped, dd.no_labels,
                dd.bad_labels);
    return rc;
}

static int check_batch(const network *net, const char *cfg)
{
    int full = net->batch * net->subdivisions;
    if (full == 1) {
        fprintf(stderr, "%s: batch=1 is a testing setting; for training set batch=64 (and "
                "subdivisions to fit memory) in [net]\n", cfg);
        return -1;
    }
    if (full < 8) fprintf(stderr, "%s: warning: batch=%d is small; training may be unstable\n", cfg, full);
    if (net->max_batches <= 0) {
        fprintf(stderr, "%s: max_batches is 0; set max_batches= in [net] to the iterations to train\n", cfg);
        return -1;
    }
    return 0;
}

int detector_train(const char *datafile, const char *cfg, const char *weights, int clear)
{
    train_opts o = {.map = 0, .map_epochs = 4, .chart = NULL};
    det_eval_opts_default(&o.eval);
    return detector_train_ex(datafile, cfg, weights, clear, &o);
}

int detector_train_ex(const char *datafile, const char *cfg, const char *weights, int clear,
                      const train_opts *opts)
{
    char err[1024];
    det_setup s;
    if (det_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        det_setup_free(&s);
        return 1;
    }
    int n = 0, rc = 1;
    char **paths = NULL;
    train_run t = {0};
    t.opts = *opts;
    t.datafile = datafile;
    t.backup = data_cfg_str(&s.d, "backup", "backup/");
    t.cfg = cfg;
    t.weights = clear ? NULL : weights; /* -clear starts over: no optimizer state either */
    t.net = det_network(cfg, weights, 0, clear, s.classes, err, sizeof(err));
    if (!t.net) {
        fprintf(stderr, "%s\n", err);
        train_oom_advice(NULL, cfg, err);
    }
    else if (t.net->train_refusal[0]) {
        fprintf(stderr, "%s\n", t.net->train_refusal);
    } else if (check_batch(t.net, cfg)) {
        /* message printed */
    } else if (dist_prepare(t.net, cfg, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
    } else {
        const char *list = data_cfg_str(&s.d, "train", "data/train.txt");
        if (!(paths = list_read(list, &n, err, sizeof(err))))
            fprintf(stderr, "%s: train=%s: %s\n", datafile, list, err);
        else if (train_backup_dir(t.backup) == 0 && start_training(&t, paths, n, s.classes) == 0)
            rc = 0;
    }
    if (t.net && rc == 0) {
        memreport_print_auto(t.net, stdout);
        layer_times_print(t.net, stderr);
        train_print_memory(t.net);
    }
    list_free(paths);
    free_network(t.net);
    det_setup_free(&s);
    return rc;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s detector train|test|valid|map|recall|demo|calc_anchors <data> <cfg> [weights] [image|video]\n"
            "  train: [-clear] [-dont_show] [-map] [-mAP_epochs 4] [-chart chart_name.png]\n"
            "  test: [-thresh .25] [-ext_output] [-letter_box] [-save_labels] [-out result.json]\n"
            "  map: [-iou_thresh .5] [-points 0|11|101] [-thresh .25] [-letter_box]\n"
            "  valid: [-prefix dir] [-out file_prefix] [-letter_box]\n"
            "  demo <data> <cfg> <weights> <video> [-out_filename out.avi] [-thresh .25] (OPENCV=1)\n"
            "  calc_anchors <data> -num_of_clusters N -width W -height H\n",
            prog);
}

int run_detector(int argc, char **argv)
{
    float iou = cli_float("-iou_thresh", .5f);
    int points = cli_int("-points", 0);
    if (argc >= 4 && !strcmp(argv[2], "calc_anchors")) {
        int k = cli_int("-num_of_clusters", 5), w = cli_int("-width", 416), h = cli_int("-height", 416);
        if (k < 1 || w < 1 || h < 1) {
            fprintf(stderr, "calc_anchors: -num_of_clusters, -width and -height must be positive "
                    "(got %d, %d, %d)\n", k, w, h);
            return 1;
        }
        return detector_calc_anchors(argv[3], k, w, h);
    }
    if (argc < 5) {
        usage(argv[0]);
        return 1;
    }
    if (!(iou > 0 && iou <= 1)) {
        fprintf(stderr, "-iou_thresh must be in (0, 1], got %g\n", iou);
        return 1;
    }
    if (cli_int("-mAP_epochs", 1) < 1) {
        fprintf(stderr, "-mAP_epochs expects a positive number of epochs between evaluations\n");
        return 1;
    }
    if (points != 0 && points != 11 && points != 101) {
        fprintf(stderr, "-points must be 0 (area under the curve), 11 (VOC2007) or 101 (COCO)\n");
        return 1;
    }
    const char *cmd = argv[2], *data = argv[3], *cfg = argv[4];
    const char *weights = argc > 5 ? argv[5] : NULL, *img = argc > 6 ? argv[6] : NULL;
    det_test_opts o;
    det_test_opts_read(&o, .25f);
    det_eval_opts eo;
    det_eval_opts_default(&eo);
    eo.iou_thresh = iou;
    eo.conf_thresh = o.thresh;
    eo.points = points;
    eo.letter_box = o.letter_box;
    eo.dir = cli_str("-prefix", NULL);
    eo.out = cli_str("-out", NULL);
    if (!strcmp(cmd, "train")) {
        train_opts topt = {cli_flag("-map"), cli_int("-mAP_epochs", 4), cli_str("-chart", NULL), eo};
        return detector_train_ex(data, cfg, weights, cli_flag("-clear"), &topt);
    }
    if (!strcmp(cmd, "test")) return detector_test(data, cfg, weights, img, &o, NULL);
    if (!strcmp(cmd, "valid")) return detector_valid(data, cfg, weights, &eo);
    if (!strcmp(cmd, "demo")) {
        if (!img) { usage(argv[0]); return 1; }
        return detector_demo(data, cfg, weights, img, cli_float("-thresh", .25f), cli_str("-out_filename", NULL));
    }
    if (!strcmp(cmd, "map")) return detector_map(data, cfg, weights, &eo, NULL) ? 1 : 0;
    if (!strcmp(cmd, "recall")) return detector_recall(data, cfg, weights);
    fprintf(stderr, "detector: unknown command '%s'\n", cmd);
    usage(argv[0]);
    return 1;
}
