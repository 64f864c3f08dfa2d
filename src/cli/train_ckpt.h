/* What `detector train` and `classifier train` share around their loops: checkpoints
 * (weights + optimizer state), resume, stop on SIGINT/SIGTERM, stop on NaN/inf, and the
 * out-of-memory advice (docs/checkpoints.md). */
#ifndef DN_CLI_TRAIN_CKPT_H
#define DN_CLI_TRAIN_CKPT_H

#include <stddef.h>

#include "core/finite_check.h"
#include "core/network.h"

typedef struct {
    network *net;
    const char *backup;      /* folder */
    const char *cfg;
    char base[256];          /* cfg file name without folder and extension */
    char last_good[4096];    /* the latest checkpoint written or resumed from ("" if none) */
    int keep_earlier;        /* a new run: move an earlier run's files aside before writing */
    finite_watch watch;
} train_ckpt;

/* Before this run first writes into the backup folder (train_ckpt_save does it itself):
 * when the run does not continue from one of the folder's own <cfg>_*.weights, that
 * cfg's checkpoint files of an earlier run are moved into <backup>/<cfg>_earlier_<UTC
 * time>/ (said on stderr), so nothing saved is replaced. Once per run; a run that fails
 * before saving leaves them in place. */
void train_ckpt_keep_earlier(train_ckpt *c);

/* Before the loop: installs the stop handlers and the NaN watch, and when `weights` was
 * given (a resume), loads its optimizer state file. Prints what it resumed. */
void train_ckpt_begin(train_ckpt *c, network *net, const char *backup, const char *cfg,
                      const char *weights);
/* Restores signal handlers and hooks. */
void train_ckpt_end(train_ckpt *c);
/* Saves <backup>/<base><suffix> atomically, and with_state its .state file. 0 or -1. */
int train_ckpt_save(train_ckpt *c, const char *suffix, int with_state);
/* After an iteration: -1 (message printed, nothing saved) when the loss, an activation, a
 * delta or a weight is NaN or inf; 0 otherwise. */
int train_ckpt_check_finite(train_ckpt *c, float loss, size_t iteration);
/* After an iteration (and its periodic saves): 1 when a stop was requested, after saving
 * <base>_last.weights and its state; -1 when that save failed; 0 to go on. */
int train_ckpt_stop_requested(train_ckpt *c, size_t iteration);
/* Prints "training stopped: <err>" and, for an allocation failure, what the plan needed and
 * which settings to change. */
void train_ckpt_failure(const train_ckpt *c, const char *err);
/* The `memory:` line (memreport.h); with MPI, on rank 0, with ranks=, the per-rank
 * mini-batch and every rank's peak RSS. Every rank must call it. */
void train_print_memory(const network *net);
/* Makes the backup folder when missing; 0 when it is a folder we can write into, else -1
 * with a message (found before training, not at the first save). */
int train_backup_dir(const char *dir);
/* The advice part alone (net may be NULL before the network exists). */
void train_oom_advice(const network *net, const char *cfg, const char *err);

#endif
