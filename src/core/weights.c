/* Darknet .weights files (darknet-facts.md section 2): header (major, minor, revision,
 * seen: 64-bit for 0.2+ files, 32-bit before), then each layer's arrays in cfg order with
 * no markers. A file that ends exactly between two layers is a partial file (.conv.N) and
 * loads the layers it has; one that ends inside a layer, or has bytes left over after the
 * last layer, is an error stating the expected size. Saving writes a temporary file,
 * flushes it to disk and renames it, so a crash never leaves a half-written weights file. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/net_internal.h"
#include "core/place.h"
#include "core/network.h"

typedef struct {
    int major, minor, revision;
    uint64_t seen;
    int transpose;
    long header_bytes;
} wheader;

static int read_header(FILE *fp, wheader *h)
{
    int32_t v[3];
    if (fread(v, sizeof(int32_t), 3, fp) != 3) return -1;
    h->major = v[0];
    h->minor = v[1];
    h->revision = v[2];
    /* 64-bit arithmetic: major and minor are any bytes of the file, and major*10 in int
     * overflows (undefined behaviour; found by tests/fuzz/fuzz_weights). */
    if ((int64_t)h->major * 10 + h->minor >= 2 && h->major < 1000 && h->minor < 1000) {
        uint64_t s;
        if (fread(&s, sizeof(s), 1, fp) != 1) return -1;
        h->seen = s;
        h->header_bytes = 20;
    } else {
        int32_t s;
        if (fread(&s, sizeof(s), 1, fp) != 1) return -1;
        h->seen = (uint32_t)s;
        h->header_bytes = 16;
    }
    h->transpose = h->major > 1000 || h->minor > 1000;
    return 0;
}

static size_t layer_file_bytes(const layer *l)
{
    size_t b = 0;
    for (int k = 0; k < l->nwf; ++k) b += l->wf[k].n * sizeof(float);
    return b;
}

static size_t expected_bytes(const network *net, long header, int start, int cutoff)
{
    size_t b = (size_t)header;
    for (int i = start; i < cutoff && i < net->n; ++i)
        if (!net->layers[i].dontload) b += layer_file_bytes(&net->layers[i]);
    return b;
}

static void transpose(float *a, int rows, int cols)
{
    float *t = malloc(sizeof(float) * (size_t)rows * cols);
    if (!t) return;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) t[(size_t)c * rows + r] = a[(size_t)r * cols + c];
    memcpy(a, t, sizeof(float) * (size_t)rows * cols);
    free(t);
}

/* Reads one layer's arrays. Returns 1 if the file ended cleanly before the layer, 0 when
 * read, -1 when it ended inside the layer. */
static int load_layer(layer *l, FILE *fp, const wheader *h)
{
    for (int k = 0; k < l->nwf; ++k) {
        wfile_entry *e = &l->wf[k];
        if ((e->flags & WF_BN_STATS) && l->dontloadscales) {
            /* Darknet leaves the file position here; we skip the arrays so later layers
             * still line up. */
            if (fseek(fp, (long)(e->n * sizeof(float)), SEEK_CUR)) return -1;
            continue;
        }
        size_t got = fread(e->data, sizeof(float), e->n, fp);
        if (got != e->n) return (k == 0 && got == 0) ? 1 : -1;
        if ((e->flags & WF_TRANSPOSE) && h->transpose) transpose(e->data, e->cols, e->rows);
    }
    return 0;
}

/* The number of NaN/inf values among the arrays load_layer read into l. */
static size_t layer_nonfinite(const layer *l)
{
    size_t bad = 0;
    for (int k = 0; k < l->nwf; ++k) {
        const wfile_entry *e = &l->wf[k];
        if ((e->flags & WF_BN_STATS) && l->dontloadscales) continue;
        for (size_t j = 0; j < e->n; ++j) bad += !isfinite(e->data[j]);
    }
    return bad;
}

static long file_size(FILE *fp)
{
    struct stat st;
    if (fstat(fileno(fp), &st)) return -1;
    return (long)st.st_size;
}

int load_weights_ex(network *net, const char *filename, int start, int cutoff, char *err,
                    size_t errlen)
{
    FILE *fp = fopen(filename, "rb");
    if (!fp) {
        snprintf(err, errlen, "Couldn't open weights file %s: %s", filename, strerror(errno));
        return -1;
    }
    wheader h;
    long size = file_size(fp);
    if (read_header(fp, &h)) {
        snprintf(err, errlen, "%s: truncated header (%ld bytes; a weights file starts with 16 or 20)",
                 filename, size);
        fclose(fp);
        return -1;
    }
    if (cutoff > net->n || cutoff < 0) cutoff = net->n;
    size_t want = expected_bytes(net, h.header_bytes, start, cutoff);
    /* a placed network's host arrays are mirrors: current before a partial load */
    if (net->be->device && place_pull_all(net)) {
        snprintf(err, errlen, "copying the parameters from the %s device", net->be->name);
        fclose(fp);
        return -1;
    }
    int i, rc = 0;
    for (i = start; i < cutoff; ++i) {
        layer *l = &net->layers[i];
        if (l->dontload || !l->nwf) continue;
        int r = load_layer(l, fp, &h);
        if (r == 1) break;
        if (r < 0) {
            snprintf(err, errlen,
                     "%s is truncated: it has %ld bytes, the cfg needs %zu (ended inside layer %d, "
                     "%s). Is it the weights file for this cfg?",
                     filename, size, want, i, l->ops->name);
            rc = -1;
            break;
        }
        /* A diverged run's weights: Darknet loads them and every output is NaN, so
         * `detector test` finds nothing and training goes on from NaN without a word. */
        size_t bad = layer_nonfinite(l);
        if (bad) {
            snprintf(err, errlen,
                     "%s: layer %d (%s) holds %zu NaN/inf values; these weights come from a "
                     "diverged run: use an earlier checkpoint (or -clear with a .conv.N file)",
                     filename, i, l->ops->name, bad);
            rc = -1;
            break;
        }
    }
    if (!rc && i == cutoff && cutoff == net->n && ftell(fp) != size) {
        snprintf(err, errlen,
                 "%s is larger than expected: it has %ld bytes, the cfg needs %zu. Is it the "
                 "weights file for this cfg?",
                 filename, size, want);
        rc = -1;
    }
    if (!rc && net->be->device && place_push_all(net)) {
        snprintf(err, errlen, "copying the weights of %s to the %s device", filename, net->be->name);
        rc = -1;
    }
    if (!rc) {
        net->seen = h.seen;
        if (i < cutoff)
            fprintf(stderr, "Loaded %d of %d layers from the partial weights file %s\n", i, net->n,
                    filename);
    }
    fclose(fp);
    return rc;
}

static int write_layers(const network *net, FILE *fp, int cutoff)
{
    int32_t ver[3] = {0, 2, 0};
    uint64_t seen = net->seen;
    if (fwrite(ver, sizeof(int32_t), 3, fp) != 3 || fwrite(&seen, sizeof(seen), 1, fp) != 1) return -1;
    for (int i = 0; i < cutoff && i < net->n; ++i) {
        const layer *l = &net->layers[i];
        if (l->dontsave) continue;
        for (int k = 0; k < l->nwf; ++k)
            if (fwrite(l->wf[k].data, sizeof(float), l->wf[k].n, fp) != l->wf[k].n) return -1;
    }
    return 0;
}

typedef struct {
    const network *net;
    int cutoff;
} wsave;

static int write_weights(FILE *fp, void *ud)
{
    const wsave *w = ud;
    return write_layers(w->net, fp, w->cutoff);
}

int save_weights_ex(network *net, const char *filename, int cutoff, char *err, size_t errlen)
{
    if (net->be->device && place_pull_all(net)) { /* the host arrays are written */
        snprintf(err, errlen, "copying the weights from the %s device (%s is untouched)",
                 net->be->name, filename);
        return -1;
    }
    wsave w = {net, cutoff < 0 ? net->n : cutoff};
    return atomic_write(filename, write_weights, &w, err, errlen);
}

/* ---- pjreddie-compatible wrappers ---- */

void load_weights_upto(network *net, char *filename, int start, int cutoff)
{
    char err[1024];
    if (load_weights_ex(net, filename, start, cutoff, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
}

void load_weights(network *net, char *filename) { load_weights_upto(net, filename, 0, net->n); }

void save_weights_upto(network *net, char *filename, int cutoff)
{
    char err[1024];
    if (save_weights_ex(net, filename, cutoff, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
}

void save_weights(network *net, char *filename) { save_weights_upto(net, filename, net->n); }

network *load_network(char *cfg, char *weights, int clear)
{
    network *net = parse_network_cfg(cfg);
    if (weights && weights[0]) load_weights(net, weights);
    if (clear) net->seen = 0;
    return net;
}
