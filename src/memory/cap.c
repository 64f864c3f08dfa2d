/* The process's resident-memory cap (cap.h). */
#include "memory/cap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number in a one-line file; 0 when absent, "max" or unreadable. */
static unsigned long long read_limit(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[64] = {0};
    unsigned long long v = 0;
    if (fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) != 0) v = strtoull(buf, NULL, 10);
    fclose(f);
    return v;
}

static unsigned long long mem_total(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    unsigned long long kb = 0;
    char line[128];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* From /proc/self/cgroup: v1 "N:memory:/path" (or "N:cpu,memory:/path"), v2 "0::/path". */
static unsigned long long cgroup_limit(char *src, size_t srclen)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    char line[1024], path[1200];
    unsigned long long v = 0;
    while (!v && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        const char *ctl = c1 + 1, *rel = c2 + 1;
        if (!*ctl) snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", rel);
        else if (strstr(ctl, "memory")) snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", rel);
        else continue;
        v = read_limit(path);
        if (v && src) snprintf(src, srclen, "%s", path);
    }
    fclose(f);
    return v;
}

size_t mem_resident_cap(char *src, size_t srclen)
{
    if (src && srclen) src[0] = 0;
    unsigned long long v = cgroup_limit(src, srclen), ram = mem_total();
    if (!v || (ram && v >= ram)) return 0; /* no limit, or none below the RAM */
    return (size_t)v;
}
