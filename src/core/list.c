/* List files and .data files. Both are small, so they are read whole into memory. */
#include "core/list.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dn_api.h"

/* Trims leading and trailing whitespace in place; returns the start. */
static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s)) ++s;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

const char *text_skip_bom(const char *s)
{
    return strncmp(s, "\xEF\xBB\xBF", 3) == 0 ? s + 3 : s;
}

static int push(char ***arr, int *n, int *cap, char *s)
{
    if (*n + 1 >= *cap) {
        int nc = *cap ? *cap * 2 : 64;
        char **t = realloc(*arr, (size_t)nc * sizeof(char *));
        if (!t) return -1;
        *arr = t;
        *cap = nc;
    }
    (*arr)[(*n)++] = s;
    (*arr)[*n] = NULL;
    return 0;
}

char **list_read(const char *path, int *n, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "cannot open list file %s: %s (check the path in the .data file)", path,
                 strerror(errno));
        return NULL;
    }
    char **arr = NULL, *line = NULL;
    size_t cap_line = 0;
    int cnt = 0, cap = 0, oom = 0;
    while (getline(&line, &cap_line, fp) >= 0) {
        char *t = trim(cnt ? line : (char *)text_skip_bom(line));
        if (!*t) continue;
        char *s = strdup(t);
        if (!s || push(&arr, &cnt, &cap, s)) {
            free(s);
            oom = 1;
            break;
        }
    }
    free(line);
    int rerr = ferror(fp) ? errno : 0; /* a folder given as a list reads as EISDIR */
    fclose(fp);
    if (oom || rerr || !cnt) {
        if (oom) snprintf(err, errlen, "out of memory reading %s", path);
        else if (rerr) snprintf(err, errlen, "cannot read list file %s: %s", path, strerror(rerr));
        else snprintf(err, errlen, "list file %s has no entries (one path or name per line expected)", path);
        list_free(arr);
        return NULL;
    }
    *n = cnt;
    return arr;
}

void list_free(char **lines)
{
    if (!lines) return;
    for (char **p = lines; *p; ++p) free(*p);
    free(lines);
}

char **get_labels(char *filename)
{
    char err[1024];
    int n;
    char **l = list_read(filename, &n, err, sizeof(err));
    if (!l) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return l;
}

static int add_kv(data_cfg *d, const char *k, const char *v)
{
    char **nk = realloc(d->keys, (size_t)(d->n + 1) * sizeof(char *));
    if (!nk) return -1;
    d->keys = nk;
    char **nv = realloc(d->vals, (size_t)(d->n + 1) * sizeof(char *));
    if (!nv) return -1;
    d->vals = nv;
    d->keys[d->n] = strdup(k);
    d->vals[d->n] = strdup(v);
    d->n++;
    return (d->keys[d->n - 1] && d->vals[d->n - 1]) ? 0 : -1;
}

int data_cfg_read(const char *path, data_cfg *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(err, errlen, "cannot open data file %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    d->path = strdup(path);
    while (rc == 0 && getline(&line, &cap, fp) >= 0) {
        ++lineno;
        char *t = trim(lineno > 1 ? line : (char *)text_skip_bom(line));
        if (!*t || *t == '#' || *t == ';') continue;
        char *eq = strchr(t, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key=value, got '%s'", path, lineno, t);
            rc = -1;
            break;
        }
        *eq = 0;
        const char *key = trim(t), *val = trim(eq + 1);
        if (data_cfg_str(d, key, NULL)) {
            fprintf(stderr, "warning: %s:%d: %s= is given again; the first value (%s) is used, as "
                    "in Darknet\n", path, lineno, key, data_cfg_str(d, key, ""));
            continue;
        }
        if (add_kv(d, key, val)) {
            snprintf(err, errlen, "out of memory reading %s", path);
            rc = -1;
        }
    }
    free(line);
    if (!rc && ferror(fp)) {
        snprintf(err, errlen, "cannot read data file %s: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(fp);
    if (rc) data_cfg_free(d);
    return rc;
}

void data_cfg_free(data_cfg *d)
{
    for (int i = 0; i < d->n; ++i) {
        free(d->keys[i]);
        free(d->vals[i]);
    }
    free(d->keys);
    free(d->vals);
    free(d->path);
    memset(d, 0, sizeof(*d));
}

const char *data_cfg_str(const data_cfg *d, const char *key, const char *def)
{
    for (int i = 0; i < d->n; ++i)
        if (d->keys[i] && !strcmp(d->keys[i], key)) return d->vals[i];
    return def;
}

int data_cfg_int(const data_cfg *d, const char *key, int def, int *value, char *err, size_t errlen)
{
    const char *s = data_cfg_str(d, key, NULL);
    if (!s) {
        *value = def;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < -2147483647L || v > 2147483647L) {
        snprintf(err, errlen, "%s: %s=%s is not an integer", d->path ? d->path : "data file", key, s);
        return -1;
    }
    *value = (int)v;
    return 0;
}
