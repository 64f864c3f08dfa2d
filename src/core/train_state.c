/* Optimizer state side file (train_state.h). */
#include "core/train_state.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/place.h"

#define STATE_MAGIC "DNOS"
#define STATE_VERSION 2u

typedef struct {
    char magic[4];
    uint32_t version;
    uint64_t seen, iteration;
    int32_t adam_t, adam;
    uint64_t nfloats;
} state_header;

/* After the header from version 2 on. */
typedef struct {
    float best_map;
    uint32_t zero;
} state_ext;

/* The arrays in file order; fn(array, n, ud) returns nonzero to stop. */
typedef int (*array_fn)(float *a, size_t n, void *ud);

/* The host array of a state array: itself, or on a device its mirror (place.h), which
 * each_array's callers bring up to date (pull) or send back (push) around it. */
static float *host_array(network *net, float *a)
{
    return net->be->device ? place_host_of(net, a) : a;
}

static int each_array(network *net, array_fn fn, void *ud)
{
    for (int i = 0; i < net->n; ++i)
        for (int k = 0; k < net->layers[i].nparams; ++k) {
            param *p = &net->layers[i].params[k];
            if (fn(host_array(net, p->grad), p->n, ud)) return -1;
            if (net->adam && (fn(host_array(net, p->m), p->n, ud) || fn(host_array(net, p->v), p->n, ud)))
                return -1;
        }
    return 0;
}

static int count_fn(float *a, size_t n, void *ud)
{
    (void)a;
    *(uint64_t *)ud += n;
    return 0;
}

static int write_fn(float *a, size_t n, void *ud)
{
    return fwrite(a, sizeof(float), n, ud) != n;
}

static int read_fn(float *a, size_t n, void *ud)
{
    return fread(a, sizeof(float), n, ud) != n;
}

static int zero_fn(float *a, size_t n, void *ud)
{
    (void)ud;
    memset(a, 0, n * sizeof(float));
    return 0;
}

static void make_header(network *net, state_header *h)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, STATE_MAGIC, 4);
    h->version = STATE_VERSION;
    h->seen = net->seen;
    h->iteration = net->iteration;
    h->adam_t = net->t;
    h->adam = net->adam != 0;
    each_array(net, count_fn, &h->nfloats);
}

static int write_state(FILE *fp, void *ud)
{
    network *net = ud;
    state_header h;
    make_header(net, &h);
    state_ext e = {net->best_map, 0};
    if (fwrite(&h, sizeof(h), 1, fp) != 1 || fwrite(&e, sizeof(e), 1, fp) != 1) return -1;
    return each_array(net, write_fn, fp);
}

void train_state_path(const char *weights, char *out, size_t n)
{
    snprintf(out, n, "%s.state", weights);
}

int train_state_save(network *net, const char *path, char *err, size_t errlen)
{
    if (network_alloc_grads(net)) {
        snprintf(err, errlen, "out of memory for the optimizer state");
        return -1;
    }
    if (net->be->device && place_pull_all(net)) {
        snprintf(err, errlen, "copying the optimizer state from the %s device", net->be->name);
        return -1;
    }
    return atomic_write(path, write_state, net, err, errlen);
}

/* Compares the file's header with what this network would write; 0 when they agree. */
static int check_header(network *net, const state_header *f, long size, const char *path,
                        char *err, size_t errlen)
{
    state_header want;
    make_header(net, &want);
    uint64_t bytes = sizeof(*f) + (f->version >= 2 ? sizeof(state_ext) : 0) + f->nfloats * sizeof(float);
    if (memcmp(f->magic, STATE_MAGIC, 4) || f->version < 1 || f->version > STATE_VERSION)
        snprintf(err, errlen, "%s is not an optimizer state file of version 1..%u", path, STATE_VERSION);
    else if (f->adam != want.adam || f->nfloats != want.nfloats)
        snprintf(err, errlen, "%s was written for another cfg (%s, %llu floats; this one needs %s, "
                 "%llu)", path, f->adam ? "adam" : "sgd", (unsigned long long)f->nfloats,
                 want.adam ? "adam" : "sgd", (unsigned long long)want.nfloats);
    else if (f->seen != want.seen)
        snprintf(err, errlen, "%s belongs to another checkpoint (seen=%llu, the weights have "
                 "seen=%llu)", path, (unsigned long long)f->seen, (unsigned long long)want.seen);
    else if ((uint64_t)size != bytes)
        snprintf(err, errlen, "%s has %ld bytes, expected %llu (truncated?)", path, size,
                 (unsigned long long)bytes);
    else
        return 0;
    return -1;
}

int train_state_load(network *net, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT) return 1;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (network_alloc_grads(net)) {
        fclose(fp);
        snprintf(err, errlen, "out of memory for the optimizer state");
        return -1;
    }
    struct stat st;
    state_header h;
    int rc = -1;
    if (fstat(fileno(fp), &st) || fread(&h, sizeof(h), 1, fp) != 1)
        snprintf(err, errlen, "%s is truncated (no complete header)", path);
    else if (check_header(net, &h, (long)st.st_size, path, err, errlen) == 0) {
        state_ext e = {0, 0};
        if ((h.version < 2 || fread(&e, sizeof(e), 1, fp) == 1) && each_array(net, read_fn, fp) == 0) {
            net->best_map = e.best_map;
            net->iteration = h.iteration;
            net->t = h.adam_t;
            rc = 0;
        } else {
            snprintf(err, errlen, "%s: read error", path);
        }
    }
    fclose(fp);
    if (rc) each_array(net, zero_fn, NULL); /* never half a state */
    if (net->be->device && place_push_all(net) && !rc) {
        snprintf(err, errlen, "copying the optimizer state to the %s device", net->be->name);
        rc = -1;
    }
    return rc;
}
