/* The resident-memory cap this process runs under: the memory cgroup's limit (cgroup v2
 * memory.max, or v1 memory.limit_in_bytes of the process's own memory cgroup), when it is
 * below the machine's RAM. Reads /proc and /sys only; owns nothing. A GPU's memory is the
 * same kind of cap; this is the host's. */
#ifndef DN_MEM_CAP_H
#define DN_MEM_CAP_H

#include <stddef.h>

/* The cap in bytes, 0 when none; `src` (may be NULL) gets the file it came from. */
size_t mem_resident_cap(char *src, size_t srclen);

#endif
