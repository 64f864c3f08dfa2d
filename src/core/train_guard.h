/* Stop requests for a training loop: SIGINT/SIGTERM, and DN_STOP_AFTER=k (tests).
 *
 * A signal only sets a flag; the loop polls it between iterations, so the iteration in
 * flight finishes, the checkpoint is written by ordinary code (no I/O in the handler) and
 * the process exits 0. A second signal while the first is being handled gets the default
 * action, so a stuck run can still be killed with another Ctrl-C. */
#ifndef DN_TRAIN_GUARD_H
#define DN_TRAIN_GUARD_H

#include <stddef.h>

/* Installs the handlers and reads DN_STOP_AFTER (an iteration number: the loop stops as if
 * signalled once that many iterations are done, which makes interrupted runs repeatable). */
void train_guard_install(void);
/* Puts the previous handlers back. */
void train_guard_remove(void);
/* Nonzero when the loop should stop after iteration `done`; *why names the cause. */
int train_guard_should_stop(size_t done, const char **why);

#endif
