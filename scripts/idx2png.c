/* idx2png: unpacked MNIST-style IDX files -> one PNG per image plus a list file.
 *
 *   idx2png <images-idx3> <labels-idx1> <names-file> <outdir> <list-out>
 *
 * Image i with label l becomes <outdir>/<i>_<name of l>.png (i zero-padded to 5 digits),
 * so Darknet's classifier finds the class by the label name in the path. Existing PNGs are
 * kept (reruns are cheap); the list is always rewritten. Inputs must be gunzipped. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb/stb_image_write.h>

#include "core/list.h"

static int read_be32(FILE *fp, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, fp) != 4) return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Reads the header of an IDX file with `dims` dimensions of unsigned bytes. */
static FILE *open_idx(const char *path, int dims, uint32_t *shape)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "idx2png: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint32_t magic;
    int bad = read_be32(fp, &magic) || magic != (uint32_t)(0x800 | dims);
    for (int i = 0; i < dims && !bad; ++i) bad = read_be32(fp, &shape[i]);
    if (bad) {
        fprintf(stderr, "idx2png: %s is not an unsigned-byte IDX file with %d dimensions "
                "(gunzip it first?)\n", path, dims);
        fclose(fp);
        return NULL;
    }
    return fp;
}

static int write_all(FILE *img, FILE *lab, char **names, int nnames, uint32_t n, uint32_t rows,
                     uint32_t cols, const char *outdir, FILE *list)
{
    size_t sz = (size_t)rows * cols;
    unsigned char *pix = malloc(sz);
    char path[4096];
    if (!pix) return -1;
    for (uint32_t i = 0; i < n; ++i) {
        int l = fgetc(lab);
        if (l == EOF || fread(pix, 1, sz, img) != sz) {
            fprintf(stderr, "idx2png: the files end early at image %u of %u\n", i, n);
            free(pix);
            return -1;
        }
        if (l >= nnames) {
            fprintf(stderr, "idx2png: label %d of image %u has no name (only %d names)\n", l, i, nnames);
            free(pix);
            return -1;
        }
        snprintf(path, sizeof(path), "%s/%05u_%s.png", outdir, i, names[l]);
        struct stat st;
        if (stat(path, &st) != 0 && !stbi_write_png(path, (int)cols, (int)rows, 1, pix, (int)cols)) {
            fprintf(stderr, "idx2png: cannot write %s\n", path);
            free(pix);
            return -1;
        }
        fprintf(list, "%s\n", path);
    }
    free(pix);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s <images-idx3> <labels-idx1> <names-file> <outdir> <list-out>\n", argv[0]);
        return 1;
    }
    char err[1024];
    int nnames;
    char **names = list_read(argv[3], &nnames, err, sizeof(err));
    if (!names) {
        fprintf(stderr, "idx2png: %s\n", err);
        return 1;
    }
    uint32_t ish[3], lsh[1];
    FILE *img = open_idx(argv[1], 3, ish);
    FILE *lab = img ? open_idx(argv[2], 1, lsh) : NULL;
    FILE *list = lab ? fopen(argv[5], "w") : NULL;
    int rc = 1;
    if (lab && !list) fprintf(stderr, "idx2png: cannot write %s: %s\n", argv[5], strerror(errno));
    if (list && ish[0] != lsh[0])
        fprintf(stderr, "idx2png: %u images but %u labels\n", ish[0], lsh[0]);
    else if (list)
        rc = write_all(img, lab, names, nnames, ish[0], ish[1], ish[2], argv[4], list) ? 1 : 0;
    if (list && fclose(list)) rc = 1;
    if (lab) fclose(lab);
    if (img) fclose(img);
    list_free(names);
    return rc;
}
