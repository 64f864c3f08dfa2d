/* Darknet .cfg / .data file reading (darknet-facts.md section 1).
 *
 * Syntax: every space, tab and newline is removed from a line; `[name]` opens a section;
 * empty lines and lines starting with '#' or ';' are skipped; anything else must be
 * key=value, where a '#' ends the value (`filters=255 #3*(80+5)` reads 255, as Darknet's
 * atoi does); a UTF-8 byte order mark before the first line is skipped. Every key
 * remembers its line so errors can name file, line and key.
 *
 * Typed getters go through a cfg_reader, which records the first error (file, line, key,
 * value and what is allowed) and makes later getters no-ops, so parsing code can read all
 * keys of a section and check the status once. Keys that nothing reads are reported as
 * `Unused field` like Darknet does. */
#ifndef DN_CFG_H
#define DN_CFG_H

#include <stddef.h>

typedef struct {
    char *key;
    char *val;
    int line;
    int used;
} cfg_kv;

typedef struct {
    char *type; /* without brackets, lower-case as written */
    int line;
    cfg_kv *kv;
    int n, cap;
} cfg_section;

typedef struct {
    char *path;
    cfg_section *sec;
    int n, cap;
} cfg_file;

/* Parse text (need not be NUL-terminated). `name` is used in messages. Lines before the
 * first section go into a section of type "" (that is how .data files are read).
 * Returns 0, or -1 with a message in err. */
int cfg_parse_text(const char *text, size_t len, const char *name, cfg_file *out, char *err,
                   size_t errlen);
int cfg_read_file(const char *path, cfg_file *out, char *err, size_t errlen);
void cfg_free(cfg_file *f);

/* Prints `Unused field: 'k = v'` (file:line) for keys that were never read. */
void cfg_warn_unused(const cfg_file *f);

typedef struct {
    const char *path;
    cfg_section *sec;
    char *err;
    size_t errlen;
    int failed;
} cfg_reader;

void cfg_reader_init(cfg_reader *r, const char *path, cfg_section *sec, char *err, size_t errlen);
/* Records an error about `key` (or the section if key is NULL) unless one is recorded. */
void cfg_fail(cfg_reader *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

cfg_kv *cfg_find(cfg_reader *r, const char *key);
int cfg_has(cfg_reader *r, const char *key);
const char *cfg_str(cfg_reader *r, const char *key, const char *def);
int cfg_int(cfg_reader *r, const char *key, int def, int lo, int hi);
float cfg_float(cfg_reader *r, const char *key, float def, float lo, float hi);
/* Lists split on commas; a '#' ends the list (AlexeyAB). Caller frees *out.
 * Returns the count (0 when absent), -1 on error. */
int cfg_int_list(cfg_reader *r, const char *key, int **out);
int cfg_float_list(cfg_reader *r, const char *key, float **out);
/* Index of the value in names[0..n-1], def when absent; unknown values are an error that
 * lists the allowed names. */
int cfg_enum(cfg_reader *r, const char *key, const char *const *names, int n, int def);

#endif
