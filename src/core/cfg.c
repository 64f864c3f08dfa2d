/* Darknet cfg syntax: see cfg.h. Never crashes on any input (fuzzed in tests/fuzz). */
#include "core/cfg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_FILE (64u << 20) /* a cfg larger than this is not a cfg */

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* Copies the line without any whitespace (Darknet's strip()). */
static size_t strip_line(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f') continue;
        if (ch == 0) continue; /* embedded NULs would cut strings short */
        out[k++] = ch;
    }
    out[k] = 0;
    return k;
}

static cfg_section *add_section(cfg_file *f, const char *type, size_t n, int line)
{
    if (grow((void **)&f->sec, &f->cap, f->n + 1, sizeof(cfg_section))) return NULL;
    cfg_section *s = &f->sec[f->n];
    memset(s, 0, sizeof(*s));
    s->type = dup_range(type, n);
    if (!s->type) return NULL;
    s->line = line;
    f->n++;
    return s;
}

static int add_kv(cfg_section *s, const char *key, size_t kn, const char *val, size_t vn, int line)
{
    if (grow((void **)&s->kv, &s->cap, s->n + 1, sizeof(cfg_kv))) return -1;
    cfg_kv *kv = &s->kv[s->n];
    kv->key = dup_range(key, kn);
    kv->val = dup_range(val, vn);
    kv->line = line;
    kv->used = 0;
    if (!kv->key || !kv->val) {
        free(kv->key);
        free(kv->val);
        return -1;
    }
    s->n++;
    return 0;
}

/* A bad line as it goes into a message: at most 60 characters, bytes that are not printable
 * ASCII shown as '?' (a binary file given as cfg must not send control codes to the
 * terminal). */
static const char *quote_line(const char *buf, char *out, size_t cap)
{
    size_t n = 0, lim = cap - 4 < 60 ? cap - 4 : 60;
    for (; buf[n] && n < lim; ++n) out[n] = (buf[n] >= 32 && buf[n] < 127) ? buf[n] : '?';
    strcpy(out + n, buf[n] ? "..." : "");
    return out;
}

static int parse_line(cfg_file *f, char *buf, size_t k, int line, const char *name, char *err,
                      size_t errlen)
{
    char q[64];
    if (k == 0 || buf[0] == '#' || buf[0] == ';') return 0;
    if (buf[0] == '[') {
        char *close = memchr(buf, ']', k);
        if (!close || (size_t)(close - buf) != k - 1 || k < 3) {
            snprintf(err, errlen, "%s:%d: bad section header '%s' (expected [name])", name, line,
                     quote_line(buf, q, sizeof(q)));
            return -1;
        }
        if (!add_section(f, buf + 1, k - 2, line)) goto oom;
        return 0;
    }
    char *eq = memchr(buf, '=', k);
    if (!eq || eq == buf) {
        snprintf(err, errlen, "%s:%d: Config file error line %d: '%s' is not key=value", name, line,
                 line, quote_line(buf, q, sizeof(q)));
        return -1;
    }
    if (f->n == 0 && !add_section(f, "", 0, 0)) goto oom;
    cfg_section *s = &f->sec[f->n - 1];
    /* `filters=255#3*(80+5)` (stock cfgs write such notes): the value ends at '#', as
     * Darknet's atoi/atof read it */
    char *hash = memchr(eq + 1, '#', k - (size_t)(eq - buf) - 1);
    size_t vn = (size_t)((hash ? hash : buf + k) - (eq + 1));
    if (add_kv(s, buf, (size_t)(eq - buf), eq + 1, vn, line)) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "%s:%d: out of memory while reading the file", name, line);
    return -1;
}

int cfg_parse_text(const char *text, size_t len, const char *name, cfg_file *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->path = dup_range(name, strlen(name));
    char *buf = malloc(len + 1);
    if (!buf || !out->path) {
        free(buf);
        snprintf(err, errlen, "%s: out of memory", name);
        cfg_free(out);
        return -1;
    }
    /* A UTF-8 byte order mark (Windows editors write one) would glue itself to [net]. */
    size_t pos = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    int line = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n') ++end;
        ++line;
        size_t k = strip_line(text + pos, end - pos, buf);
        if (parse_line(out, buf, k, line, name, err, errlen)) {
            free(buf);
            cfg_free(out);
            return -1;
        }
        pos = end + 1;
    }
    free(buf);
    return 0;
}

int cfg_read_file(const char *path, cfg_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "Couldn't open file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text) {
        if (len == cap) {
            if (cap >= CFG_MAX_FILE) break;
            char *t = realloc(text, cap * 2);
            if (!t) { free(text); text = NULL; break; }
            text = t;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    int rerr = ferror(fp);
    fclose(fp);
    if (!text || rerr || len >= CFG_MAX_FILE) {
        snprintf(err, errlen, "%s: %s", path,
                 !text ? "out of memory" : rerr ? "read error" : "file too large for a cfg");
        free(text);
        return -1;
    }
    int r = cfg_parse_text(text, len, path, out, err, errlen);
    free(text);
    return r;
}

void cfg_free(cfg_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; ++i) {
        for (int j = 0; j < f->sec[i].n; ++j) {
            free(f->sec[i].kv[j].key);
            free(f->sec[i].kv[j].val);
        }
        free(f->sec[i].kv);
        free(f->sec[i].type);
    }
    free(f->sec);
    free(f->path);
    memset(f, 0, sizeof(*f));
}

void cfg_warn_unused(const cfg_file *f)
{
    for (int i = 0; i < f->n; ++i)
        for (int j = 0; j < f->sec[i].n; ++j) {
            const cfg_kv *kv = &f->sec[i].kv[j];
            if (!kv->used)
                fprintf(stderr, "Unused field: '%s = %s' (%s:%d, [%s])\n", kv->key, kv->val, f->path,
                        kv->line, f->sec[i].type);
        }
}

void cfg_reader_init(cfg_reader *r, const char *path, cfg_section *sec, char *err, size_t errlen)
{
    r->path = path;
    r->sec = sec;
    r->err = err;
    r->errlen = errlen;
    r->failed = 0;
}

/* DN_CFG_KEYS=1 logs every key a parser looks up, with its section, to stderr: the list
 * of keys the parser accepts comes from the code that reads them (tests/sh/cfg_keys.sh). */
static void log_key(const cfg_reader *r, const char *key)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("DN_CFG_KEYS");
        on = e && *e && strcmp(e, "0") != 0;
    }
    if (on && r->sec)
        fprintf(stderr, "cfg-key: %s:%d [%s] %s\n", r->path ? r->path : "?", r->sec->line,
                r->sec->type, key);
}

cfg_kv *cfg_find(cfg_reader *r, const char *key)
{
    log_key(r, key);
    /* A duplicated key: the first occurrence wins, as in Darknet's option_find. */
    for (int i = 0; i < r->sec->n; ++i)
        if (strcmp(r->sec->kv[i].key, key) == 0) {
            r->sec->kv[i].used = 1;
            return &r->sec->kv[i];
        }
    return NULL;
}

int cfg_has(cfg_reader *r, const char *key)
{
    log_key(r, key);
    for (int i = 0; i < r->sec->n; ++i)
        if (strcmp(r->sec->kv[i].key, key) == 0) return 1;
    return 0;
}

void cfg_fail(cfg_reader *r, const char *key, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = 1;
    if (!r->err || !r->errlen) return;
    int line = r->sec ? r->sec->line : 0;
    const char *val = NULL;
    if (key && r->sec)
        for (int i = 0; i < r->sec->n; ++i)
            if (strcmp(r->sec->kv[i].key, key) == 0) {
                line = r->sec->kv[i].line;
                val = r->sec->kv[i].val;
                break;
            }
    int k;
    if (key)
        k = snprintf(r->err, r->errlen, "%s:%d: [%s] %s=%s: ", r->path, line,
                     r->sec ? r->sec->type : "?", key, val ? val : "(missing)");
    else
        k = snprintf(r->err, r->errlen, "%s:%d: [%s]: ", r->path, line, r->sec ? r->sec->type : "?");
    if (k < 0 || (size_t)k >= r->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

const char *cfg_str(cfg_reader *r, const char *key, const char *def)
{
    cfg_kv *kv = cfg_find(r, key);
    return kv ? kv->val : def;
}

static int parse_double(const char *s, double *out)
{
    if (!*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || isnan(v)) return -1;
    *out = v;
    return 0;
}

int cfg_int(cfg_reader *r, const char *key, int def, int lo, int hi)
{
    cfg_kv *kv = cfg_find(r, key);
    if (!kv || r->failed) return def;
    double v;
    if (parse_double(kv->val, &v) || v != floor(v)) {
        cfg_fail(r, key, "expected an integer in [%d, %d]", lo, hi);
        return def;
    }
    if (v < lo || v > hi) {
        cfg_fail(r, key, "out of range: allowed %d..%d", lo, hi);
        return def;
    }
    return (int)v;
}

float cfg_float(cfg_reader *r, const char *key, float def, float lo, float hi)
{
    cfg_kv *kv = cfg_find(r, key);
    if (!kv || r->failed) return def;
    double v;
    if (parse_double(kv->val, &v) || isinf(v)) {
        cfg_fail(r, key, "expected a number in [%g, %g]", lo, hi);
        return def;
    }
    if (v < lo || v > hi) {
        cfg_fail(r, key, "out of range: allowed %g..%g", lo, hi);
        return def;
    }
    return (float)v;
}

/* Splits the value on commas up to a '#'; calls fn on each item. */
static int split_list(cfg_reader *r, const char *key, int want_int, void **out)
{
    *out = NULL;
    cfg_kv *kv = cfg_find(r, key);
    if (!kv || r->failed) return 0;
    size_t n = strcspn(kv->val, "#");
    char *s = dup_range(kv->val, n);
    if (!s) { cfg_fail(r, key, "out of memory"); return -1; }
    int count = 0;
    for (size_t i = 0; i < n; ++i) count += s[i] == ',';
    count += 1;
    size_t esz = want_int ? sizeof(int) : sizeof(float);
    char *arr = calloc((size_t)count, esz);
    if (!arr) { free(s); cfg_fail(r, key, "out of memory"); return -1; }
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (parse_double(tok, &v) || isinf(v) || (want_int && (v != floor(v) || fabs(v) > INT_MAX))) {
            cfg_fail(r, key, "'%s' is not %s", tok, want_int ? "an integer" : "a number");
            free(s); free(arr);
            return -1;
        }
        if (want_int) ((int *)arr)[k++] = (int)v;
        else ((float *)arr)[k++] = (float)v;
    }
    free(s);
    if (k == 0) { free(arr); return 0; }
    *out = arr;
    return k;
}

int cfg_int_list(cfg_reader *r, const char *key, int **out)
{
    return split_list(r, key, 1, (void **)out);
}

int cfg_float_list(cfg_reader *r, const char *key, float **out)
{
    return split_list(r, key, 0, (void **)out);
}

int cfg_enum(cfg_reader *r, const char *key, const char *const *names, int n, int def)
{
    cfg_kv *kv = cfg_find(r, key);
    if (!kv || r->failed) return def;
    for (int i = 0; i < n; ++i)
        if (strcmp(kv->val, names[i]) == 0) return i;
    char allowed[512];
    size_t k = 0;
    allowed[0] = 0;
    for (int i = 0; i < n && k < sizeof(allowed) - 1; ++i) {
        int w = snprintf(allowed + k, sizeof(allowed) - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
    cfg_fail(r, key, "unknown value; allowed: %s", allowed);
    return def;
}
