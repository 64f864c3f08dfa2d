/* Shared by the libFuzzer harnesses: the parsers under test read files by path, so the
 * input bytes go into an anonymous in-memory file (memfd) reached as /proc/self/fd/N;
 * nothing touches the disk and nothing is left behind. Needs _GNU_SOURCE (memfd_create),
 * which the build sets on the command line. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Replaces the memfd's content with data; returns its path (static buffer). */
static inline const char *fuzz_as_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0) { perror("memfd_create"); _exit(2); }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) { perror("memfd"); _exit(2); }
    return path;
}

#endif
