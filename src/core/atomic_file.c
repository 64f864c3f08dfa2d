/* atomic_file.h: temporary file + fsync + rename. */
#include "core/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int atomic_write(const char *path, atomic_writer write, void *ud, char *err, size_t errlen)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(err, errlen, "out of memory writing %s", path);
        return -1;
    }
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
