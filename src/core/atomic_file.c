/* atomic_file.h: temporary file + fsync + rename. */
#include "core/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The pid in "<base>.tmp.<pid>", or -1 when name is not one of base's temporaries. */
static long temporary_pid(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) || strncmp(name + n, ".tmp.", 5)) return -1;
    const char *d = name + n + 5;
    if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 9) return -1;
    return strtol(d, NULL, 10);
}

/* A writer killed between its fopen and its rename (SIGKILL, the OOM killer, a power cut)
 * leaves <path>.tmp.<pid> behind, a whole weights file each time. The next write of the
 * same path removes those whose process is gone, so crashes do not fill the backup folder.
 * A live pid's file is left alone: another process may be writing it now. */
static void remove_stale_temporaries(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char dir[4096];
    size_t dn = slash ? (size_t)(slash - path) : 1;
    if (dn >= sizeof(dir)) return;
    if (slash) {
        memcpy(dir, path, dn);
        dir[dn] = 0;
        if (dn == 0) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = temporary_pid(e->d_name, base);
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            fprintf(stderr, "removed %s/%s, left by a writer that was killed\n", dir, e->d_name);
    }
    closedir(d);
}

int atomic_write(const char *path, atomic_writer write, void *ud, char *err, size_t errlen)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "out of memory writing %s", path);
        return -1;
    }
    remove_stale_temporaries(path);
    /* The pid keeps two processes writing the same target from sharing a temporary. */
    snprintf(tmp, n, "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    errno = 0;
    int bad = write(fp, ud) != 0;
    bad |= fflush(fp) != 0;
    bad |= fsync(fileno(fp)) != 0;
    int e = errno;
    bad |= fclose(fp) != 0;
    if (!bad && rename(tmp, path) == 0) {
        free(tmp);
        return 0;
    }
    if (!bad || !e) e = errno;
    snprintf(err, errlen, "cannot write %s: %s (the previous file is untouched)", path,
             e ? strerror(e) : "write error");
    unlink(tmp);
    free(tmp);
    return -1;
}
