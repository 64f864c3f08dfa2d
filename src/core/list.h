/* Text inputs of the data path: list files (one path or name per line) and Darknet's
 * .data files (key=value). */
#ifndef DN_LIST_H
#define DN_LIST_H

#include <stddef.h>

/* The text after a leading UTF-8 byte order mark (EF BB BF), or s. Windows editors write
 * one at the start of cfg, .data, list and label files; Darknet would read it as part of
 * the first key or path. */
const char *text_skip_bom(const char *s);

/* Reads the non-empty lines of `path` (surrounding whitespace, a trailing \r and a leading
 * byte order mark removed). Returns a NULL-terminated array (free with list_free) and the
 * count in *n, or NULL with a message in err (missing or unreadable file, no lines, out of
 * memory). */
char **list_read(const char *path, int *n, char *err, size_t errlen);
void list_free(char **lines);

typedef struct {
    char *path;
    int n;
    char **keys, **vals;
} data_cfg;

/* Parses a .data file: key=value lines, `#` or `;` comments, blank lines skipped. A line
 * without `=` is an error naming the file and line. A key given twice keeps its first
 * value, as Darknet's option_find does, and the later line is reported on stderr. Returns
 * 0 or -1 with err set. */
int data_cfg_read(const char *path, data_cfg *d, char *err, size_t errlen);
void data_cfg_free(data_cfg *d);
/* The value of key, or def. */
const char *data_cfg_str(const data_cfg *d, const char *key, const char *def);
/* The integer value of key, or def when absent; -1 and err set when it is not an integer. */
int data_cfg_int(const data_cfg *d, const char *key, int def, int *value, char *err, size_t errlen);

#endif
