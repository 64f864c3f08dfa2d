/* Stop requests (train_guard.h). The flag is process state by nature: a signal handler
 * has no context argument, so it cannot live in a network or a plugin context. */
#include "core/train_guard.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_signal; /* the signal number received, 0 when none */
static struct sigaction g_old_int, g_old_term;
static int g_installed;
static size_t g_stop_after; /* 0: no DN_STOP_AFTER */

static void on_signal(int sig)
{
    g_signal = sig;
    /* The next one kills: the user asked twice. */
    signal(sig, SIG_DFL);
}

void train_guard_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: reads and waits in progress (image loading, fsync) carry on rather than
     * failing with EINTR; the loop looks at the flag soon enough. */
    sa.sa_flags = SA_RESTART;
    g_signal = 0;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
    g_installed = 1;
    const char *s = getenv("DN_STOP_AFTER");
    g_stop_after = s ? strtoull(s, NULL, 10) : 0;
}

void train_guard_remove(void)
{
    if (!g_installed) return;
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
    g_installed = 0;
}

int train_guard_should_stop(size_t done, const char **why)
{
    if (g_signal) {
        *why = g_signal == SIGINT ? "SIGINT" : "SIGTERM";
        return 1;
    }
    if (g_stop_after && done >= g_stop_after) {
        *why = "DN_STOP_AFTER";
        return 1;
    }
    return 0;
}
