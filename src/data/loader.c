/* Background loader (loader.h). One thread fills two buffers in turn: while the trainer
 * works on batch k the thread fills batch k+1. Each sample has its own rng seeded from
 * (seed, batch index, sample index), so what a batch holds never depends on thread timing
 * nor on which process fills which samples. */
#include "data/loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keeps loader streams apart from the other users of the run's seed (weight init...). */
#define LOADER_STREAM 0x4C4F414445520000ull
/* So many failed samples in a row means the data is unusable, not one bad file. */
#define MAX_FAILS_IN_A_ROW 1000

struct loader {
    int batch, sample0;
    size_t xf, yf;
    loader_fill_fn fill;
    loader_begin_fn begin;
    void *user;
    uint64_t seed, next_fill, next_take;
    float *x[2], *y[2];
    int ready[2];     /* slot holds a filled batch not yet taken */
    int in_use;       /* slot handed to the trainer (-1: none) */
    int stop, failed;
    /* what the loader costs (loader_report): batches filled, their wall and CPU seconds,
     * and the seconds the trainer spent blocked in loader_next */
    uint64_t filled;
    double fill_wall, fill_cpu, wait_wall;
    char msg[512];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fills one batch into slot s; returns 0 or -1 with ld->msg set. */
static int fill_batch(loader *ld, int s, uint64_t k)
{
    memset(ld->y[s], 0, ld->yf * ld->batch * sizeof(float));
    if (ld->begin) {
        /* the batch's own stream, below every sample's: the same decision in every rank */
        rng_t br;
        rng_seed(&br, ld->seed ^ (k * 0x9E3779B97F4A7C15ull), LOADER_STREAM - 1);
        ld->begin(ld->user, &br);
    }
    for (int b = 0; b < ld->batch; ++b) {
        /* The batch index mixes into the seed, the global sample index names the stream. */
        rng_t r;
        rng_seed(&r, ld->seed ^ (k * 0x9E3779B97F4A7C15ull), LOADER_STREAM + (uint64_t)(ld->sample0 + b));
        int fails = 0;
        while (ld->fill(ld->user, &r, ld->x[s] + ld->xf * b, ld->y[s] + ld->yf * b)) {
            memset(ld->y[s] + ld->yf * b, 0, ld->yf * sizeof(float));
            if (++fails >= MAX_FAILS_IN_A_ROW) {
                snprintf(ld->msg, sizeof(ld->msg),
                         "%d samples in a row could not be loaded; check the train list", fails);
                return -1;
            }
        }
    }
    return 0;
}

static void *loader_main(void *arg)
{
    loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        int s = (int)(ld->next_fill & 1);
        while (!ld->stop && (ld->ready[s] || ld->in_use == s)) pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop) break;
        uint64_t k = ld->next_fill;
        pthread_mutex_unlock(&ld->mu);
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        int rc = fill_batch(ld, s, k); /* the slot is ours: neither ready nor in use */
        double w1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        pthread_mutex_lock(&ld->mu);
        ld->filled++;
        ld->fill_wall += w1 - w0;
        ld->fill_cpu += c1 - c0;
        if (rc) ld->failed = 1;
        else ld->ready[s] = 1;
        ld->next_fill++;
        pthread_cond_broadcast(&ld->cv);
        if (rc) break;
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static void free_buffers(loader *ld)
{
    for (int s = 0; s < 2; ++s) {
        free(ld->x[s]);
        free(ld->y[s]);
    }
}

loader *loader_start(int batch, size_t x_floats, size_t y_floats, loader_fill_fn fill,
                     void *user, uint64_t seed, uint64_t first, char *err, size_t errlen)
{
    return loader_start_ex(batch, 0, x_floats, y_floats, fill, NULL, user, seed, first, err, errlen);
}

loader *loader_start_at(int batch, int sample0, size_t x_floats, size_t y_floats,
                        loader_fill_fn fill, void *user, uint64_t seed, uint64_t first, char *err,
                        size_t errlen)
{
    return loader_start_ex(batch, sample0, x_floats, y_floats, fill, NULL, user, seed, first, err,
                           errlen);
}

loader *loader_start_ex(int batch, int sample0, size_t x_floats, size_t y_floats,
                        loader_fill_fn fill, loader_begin_fn begin, void *user, uint64_t seed,
                        uint64_t first, char *err, size_t errlen)
{
    if (batch < 1 || sample0 < 0 || !fill) {
        snprintf(err, errlen, "loader: bad arguments (batch %d, first sample %d)", batch, sample0);
        return NULL;
    }
    loader *ld = calloc(1, sizeof(loader));
    if (!ld) goto oom;
    ld->batch = batch;
    ld->sample0 = sample0;
    ld->xf = x_floats;
    ld->yf = y_floats;
    ld->fill = fill;
    ld->begin = begin;
    ld->user = user;
    ld->seed = seed;
    ld->next_fill = ld->next_take = first;
    ld->in_use = -1;
    for (int s = 0; s < 2; ++s) {
        ld->x[s] = malloc((x_floats * batch + 1) * sizeof(float));
        ld->y[s] = malloc((y_floats * batch + 1) * sizeof(float));
        if (!ld->x[s] || !ld->y[s]) goto oom;
    }
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv, NULL);
    if (pthread_create(&ld->th, NULL, loader_main, ld)) {
        snprintf(err, errlen, "loader: cannot start the loading thread");
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->cv);
        free_buffers(ld);
        free(ld);
        return NULL;
    }
    return ld;
oom:
    snprintf(err, errlen, "loader: out of memory for two batches of %d samples", batch);
    if (ld) free_buffers(ld);
    free(ld);
    return NULL;
}

int loader_next(loader *ld, float **x, float **y, char *err, size_t errlen)
{
    pthread_mutex_lock(&ld->mu);
    ld->in_use = -1; /* the previous batch is given back */
    pthread_cond_broadcast(&ld->cv);
    int s = (int)(ld->next_take & 1);
    double t0 = clock_s(CLOCK_MONOTONIC);
    while (!ld->ready[s] && !ld->failed) pthread_cond_wait(&ld->cv, &ld->mu);
    ld->wait_wall += clock_s(CLOCK_MONOTONIC) - t0;
    if (!ld->ready[s]) {
        snprintf(err, errlen, "%s", ld->msg);
        pthread_mutex_unlock(&ld->mu);
        return -1;
    }
    ld->ready[s] = 0;
    ld->in_use = s;
    ld->next_take++;
    pthread_mutex_unlock(&ld->mu);
    *x = ld->x[s];
    *y = ld->y[s];
    return 0;
}

void loader_report(loader *ld, FILE *f)
{
    pthread_mutex_lock(&ld->mu);
    double n = ld->filled ? (double)ld->filled : 1;
    fprintf(f, "loader: %llu batches, %.3f s wall and %.3f s CPU per batch on its thread; "
               "the trainer waited %.3f s in all\n",
            (unsigned long long)ld->filled, ld->fill_wall / n, ld->fill_cpu / n, ld->wait_wall);
    pthread_mutex_unlock(&ld->mu);
}

void loader_stop(loader *ld)
{
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->th, NULL);
    pthread_mutex_destroy(&ld->mu);
    pthread_cond_destroy(&ld->cv);
    free_buffers(ld);
    free(ld);
}
