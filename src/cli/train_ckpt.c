/* train_ckpt.h */
#include "cli/train_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "dist/dist.h"
#include "memory/memreport.h"
#include "core/train_guard.h"
#include "core/train_state.h"

#define MIB (1024.0 * 1024.0)

static void cfg_base(const char *cfg, char *out, size_t n)
{
    const char *b = strrchr(cfg, '/');
    snprintf(out, n, "%s", b ? b + 1 : cfg);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

/* OpenBLAS maps its GEMM buffers on first use and, when that mmap fails (an address-space
 * limit reached by our own allocations), retries for ever: the run hangs instead of
 * failing. One GEMM large enough to be split over the threads, before the big allocations,
 * makes the CPU backend map one buffer per thread while there is room (src/backend/cpu/
 * blas.c says how), so a later shortage hits our own malloc calls, which report it. */
static void blas_warmup(void)
{
    enum { N = 256 };
    float *a = calloc((size_t)3 * N * N, sizeof(float));
    if (!a) return;
    dn_backend_cpu()->gemm(0, 0, N, N, N, 1, a, N, a + N * N, N, 0, a + 2 * N * N, N);
    free(a);
}

static void resume_state(train_ckpt *c, const char *weights)
{
    network *net = c->net;
    char path[4200], err[1024];
    /* Without a state file the random streams (dropout, ActNN rounding) still continue:
     * an uninterrupted run has made one training forward per mini-batch. */
    net->iteration = net->seen / ((size_t)net->batch * (size_t)net->ranks);
    train_state_path(weights, path, sizeof(path));
    /* Every rank reads the same state: the momentum is the same everywhere. */
    int rc = train_state_load(net, path, err, sizeof(err));
    if (rc < 0 && dist_rank() == 0)
        fprintf(stderr, "warning: %s; training continues with zero momentum\n", err);
    if (dist_rank() == 0)
        fprintf(stderr, "Resuming from %s: iteration %zu (%zu images seen), %s\n", weights,
            network_current_batch(net), net->seen,
            rc == 0 ? "optimizer state restored" : "no optimizer state");
    snprintf(c->last_good, sizeof(c->last_good), "%s", weights);
}

/* 1 when `name` is one of this cfg's checkpoint files: <base>_<anything>.weights, the
 * classifier's <base>.backup, or their .state (train_state.h). */
static int own_checkpoint(const char *name, const char *base)
{
    size_t bl = strlen(base), nl = strlen(name);
    if (strncmp(name, base, bl)) return 0;
    if (!strcmp(name + bl, ".backup") || !strcmp(name + bl, ".backup.state")) return 1;
    if (name[bl] != '_') return 0;
    const char *w = ".weights", *ws = ".weights.state";
    return (nl > strlen(w) && !strcmp(name + nl - strlen(w), w)) ||
           (nl > strlen(ws) && !strcmp(name + nl - strlen(ws), ws));
}

/* 1 when the file `path` lies in the folder `dir` (both resolved: any spelling). */
static int same_folder(const char *path, const char *dir)
{
    char *rp = realpath(path, NULL), *rd = realpath(dir, NULL);
    char *slash = rp ? strrchr(rp, '/') : NULL;
    int same = 0;
    if (slash && rd) {
        *slash = 0;
        same = !strcmp(rp[0] ? rp : "/", rd);
    }
    free(rp);
    free(rd);
    return same;
}

/* 1 when a run started from `weights` is new for this backup folder: it does not continue
 * from one of the folder's own checkpoints of this cfg. */
static int new_run(const char *backup, const char *base, const char *weights)
{
    if (!weights || !weights[0]) return 1;
    const char *wb = strrchr(weights, '/');
    wb = wb ? wb + 1 : weights;
    return !(own_checkpoint(wb, base) && same_folder(weights, backup));
}

/* Darknet overwrites an earlier run's checkpoints (_last every 100 iterations, _final,
 * _best, _N); a new run moves them first into <backup>/<base>_earlier_<UTC time>/. A
 * failure to move one leaves it in place, warned. */
static void keep_earlier_run(const char *backup, const char *base)
{
    if (dist_rank() != 0) return;
    DIR *d = opendir(backup);
    if (!d) return;
    char bdir[4096], dir[4352], from[8448], to[8448];
    size_t bl = strlen(backup);
    snprintf(bdir, sizeof(bdir), "%s%s", backup, bl && backup[bl - 1] == '/' ? "" : "/");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(dir, sizeof(dir), "%s%s_earlier_%s", bdir, base, stamp);
    int moved = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!own_checkpoint(e->d_name, base)) continue;
        if (!moved && mkdir(dir, 0775) && errno != EEXIST) {
            fprintf(stderr, "warning: cannot create %s to keep the earlier run's checkpoints: %s; "
                    "they will be replaced\n", dir, strerror(errno));
            break;
        }
        snprintf(from, sizeof(from), "%s%s", bdir, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", dir, e->d_name);
        if (rename(from, to)) fprintf(stderr, "warning: cannot move %s to %s: %s\n", from, dir, strerror(errno));
        else moved++;
    }
    closedir(d);
    if (moved)
        fprintf(stderr, "%d checkpoint file%s of an earlier run (%s_*.weights, .backup) moved to %s, so this run "
                "does not replace %s; to continue that run instead, pass its _last.weights\n",
                moved, moved == 1 ? "" : "s", base, dir, moved == 1 ? "it" : "them");
}

void train_ckpt_keep_earlier(train_ckpt *c)
{
    if (!c->keep_earlier) return;
    c->keep_earlier = 0;
    keep_earlier_run(c->backup, c->base);
}

void train_ckpt_begin(train_ckpt *c, network *net, const char *backup, const char *cfg,
                      const char *weights)
{
    memset(c, 0, sizeof(*c));
    c->net = net;
    c->backup = backup;
    c->cfg = cfg;
    cfg_base(cfg, c->base, sizeof(c->base));
    c->keep_earlier = new_run(backup, c->base, weights);
    if (weights && weights[0] && net->seen) resume_state(c, weights);
    finite_watch_attach(net, &c->watch);
    blas_warmup();
    train_guard_install();
}

void train_ckpt_end(train_ckpt *c)
{
    train_guard_remove();
    if (c->net && c->net->hook_ud == &c->watch) {
        c->net->hook = c->net->bhook = NULL;
        c->net->hook_ud = NULL;
        c->net->hook_any_layout = 0;
        c->net->nan_marks = 0;
    }
}

static int ckpt_write(train_ckpt *c, const char *path, int with_state)
{
    char spath[4200], err[1024];
    if (save_weights_ex(c->net, path, c->net->n, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    fprintf(stderr, "Saving weights to %s\n", path);
    /* Weights first: a crash between the two leaves a state whose `seen` does not match,
     * which the resume detects and ignores. */
    if (with_state) {
        train_state_path(path, spath, sizeof(spath));
        if (train_state_save(c->net, spath, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Rank 0 alone writes (the ranks hold the same weights); every rank calls this at the
 * same iterations and they agree on the outcome, so a failed save stops all of them. */
int train_ckpt_save(train_ckpt *c, const char *suffix, int with_state)
{
    char path[4096];
    size_t bl = strlen(c->backup);
    const char *sep = (bl && c->backup[bl - 1] == '/') ? "" : "/";
    snprintf(path, sizeof(path), "%s%s%s%s", c->backup, sep, c->base, suffix);
    train_ckpt_keep_earlier(c);
    int rc = dist_rank() == 0 ? ckpt_write(c, path, with_state) : 0;
    if (dist_any(rc)) return -1;
    snprintf(c->last_good, sizeof(c->last_good), "%s", path);
    return 0;
}

/* A loss layer whose cost overflowed although its inputs are finite (log of a
 * probability that rounded to 0): -1 when none. */
static int bad_cost_layer(const network *net)
{
    for (int i = 0; i < net->n; ++i)
        if (net->layers[i].loss && !isfinite(net->layers[i].cost)) return i;
    return -1;
}

int train_ckpt_check_finite(train_ckpt *c, float loss, size_t iteration)
{
    network *net = c->net;
    int wl = finite_check_iteration(net, &c->watch);
    int bad = !(isfinite(loss) && c->watch.layer < 0 && wl < 0);
    if (!dist_any(bad)) return 0;
    if (!bad) { /* found on another rank, which says where */
        if (dist_rank() == 0)
            fprintf(stderr, "training stopped at iteration %zu: a non-finite value on another rank; "
                    "the last good checkpoint is %s\n", iteration, c->last_good[0] ? c->last_good : "none");
        return -1;
    }
    if (dist_size() > 1) fprintf(stderr, "rank %d: ", dist_rank());
    /* The earliest evidence first: forward/backward buffers, then a cost, then weights. */
    int li = c->watch.layer, cl = bad_cost_layer(net);
    const char *phase = c->watch.phase;
    if (li < 0 && cl >= 0) {
        li = cl;
        phase = "cost (forward)";
    } else if (li < 0) {
        li = wl;
        phase = "weights (update)";
    }
    fprintf(stderr, "training stopped at iteration %zu: the loss is %g", iteration, loss);
    if (li >= 0)
        fprintf(stderr, "; the first non-finite value appeared in layer %d (%s), %s", li,
                net->layers[li].ops->name, phase);
    fprintf(stderr, ".\nNothing was saved from this run's diverged weights; the last good "
            "checkpoint is %s.\nLower learning_rate (or raise burn_in) in [net] and resume from it.\n",
            c->last_good[0] ? c->last_good : "none (no checkpoint was written yet)");
    return -1;
}

int train_ckpt_stop_requested(train_ckpt *c, size_t iteration)
{
    const char *why = NULL;
    int mine = train_guard_should_stop(iteration, &why);
    if (!dist_any(mine)) return 0; /* a signal to any rank stops all after this iteration */
    if (mine && dist_size() > 1)
        fprintf(stderr, "rank %d: %s: stopping all ranks after iteration %zu\n", dist_rank(), why, iteration);
    else if (mine)
        fprintf(stderr, "%s: stopping after iteration %zu\n", why, iteration);
    if (train_ckpt_save(c, "_last.weights", 1)) return -1;
    if (dist_rank() == 0) fprintf(stderr, "Saved %s at iteration %zu (%zu images seen) with its optimizer state; "
            "resume with the same command and this weights file\n", c->last_good, iteration,
            c->net->seen);
    return 1;
}

void train_oom_advice(const network *net, const char *cfg, const char *err)
{
    if (!err || !strstr(err, "out of memory")) return;
    if (net) {
        size_t ws = 0;
        for (int i = 0; i < net->n; ++i)
            if (net->layers[i].workspace > ws) ws = net->layers[i].workspace;
        fprintf(stderr, "memory for mini-batch %d (batch=%d, subdivisions=%d): input %.1f MiB "
                "(the loader's batch, plus up to 64 MiB it prefetches), parameters %.1f MiB, workspace %.1f MiB",
                net->batch, net->batch * net->subdivisions, net->subdivisions,
                (double)net->batch * net->inputs * sizeof(float) / MIB,
                memreport_param_bytes(net) / MIB, ws / MIB);
        /* The plan exists once training has started; before that its size is unknown. */
        if (net->plan.arena_bytes)
            fprintf(stderr, ", activation arena %.1f MiB", net->plan.arena_bytes / MIB);
        fprintf(stderr, ", saved activations at %d bits on top\n", net->actnn_bits);
    }
    fprintf(stderr, "to fit in memory: raise subdivisions= in [net] (the mini-batch is "
            "batch/subdivisions), or set actnn_bits=2 in [net] to compress saved activations; "
            "`./darknet memory %s -batch N` shows what a mini-batch of N needs\n",
            cfg ? cfg : "<cfg>");
}

void train_ckpt_failure(const train_ckpt *c, const char *err)
{
    fprintf(stderr, "training stopped: %s\n", err);
    train_oom_advice(c->net, c->cfg, err);
    /* The other ranks wait in a collective for this one: stop them all. */
    if (dist_size() > 1) dist_abort("training failed on this rank");
}

void train_print_memory(const network *net)
{
    double rss = memreport_peak_rss() / MIB;
    char per[1024];
    dist_rank_figures(rss, per, sizeof(per)); /* every rank takes part */
    if (dist_size() == 1) {
        memreport_print_line(net, stdout);
        return;
    }
    /* The shared line, then the per-rank figures on the same line for scripts. */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        memreport_print_line(net, m);
        fclose(m);
    }
    if (buf && len && buf[len - 1] == '\n') buf[len - 1] = 0;
    if (dist_rank() == 0)
        printf("%s ranks=%d rank_batch=%d rank_peak_rss_mib=%s\n", buf ? buf : "memory:", dist_size(),
               net->batch, per);
    free(buf);
}

int train_backup_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0775) && errno != EEXIST) {
        fprintf(stderr, "cannot create the backup folder %s: %s (set backup= in the .data file)\n", dir,
                strerror(errno));
        return -1;
    }
    /* an existing path must be a folder we can write into: found now, not at the first save */
    if (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK)) {
        fprintf(stderr, "the backup folder %s is %s (set backup= in the .data file)\n", dir,
                stat(dir, &st) ? strerror(errno) : !S_ISDIR(st.st_mode) ? "not a folder" : "not writable");
        return -1;
    }
    return 0;
}
