/* Writing a file so that readers see the old contents or the new, never a mix: write a
 * temporary file beside it, flush it to disk, rename it over the target. */
#ifndef DN_ATOMIC_FILE_H
#define DN_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Writes the whole contents to fp; returns 0, or -1 (errno says why when it can). */
typedef int (*atomic_writer)(FILE *fp, void *ud);

/* Returns 0, or -1 with err set; on failure the previous file at path is untouched and no
 * temporary file is left. Temporaries of path left by killed writers (<path>.tmp.<pid>
 * whose process no longer exists) are removed first, and each removal is said on stderr. */
int atomic_write(const char *path, atomic_writer write, void *ud, char *err, size_t errlen);

#endif
