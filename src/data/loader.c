/* Background loader (loader.h). One thread fills batch k+1 while the trainer works on batch
 * k: its first `prefetch` samples into a small buffer right away, the rest straight into
 * the trainer's buffer once it is given back. When the prefetch holds the whole batch the
 * two buffers trade places instead of being copied. Each sample has its own rng seeded from
 * (seed, batch index, sample index), so what a batch holds never depends on thread timing,
 * on the prefetch size, nor on which process fills which samples. */
#include "data/loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Keeps loader streams apart from the other users of the run's seed (weight init...). */
#define LOADER_STREAM 0x4C4F414445520000ull
/* So many failed samples in a row means the data is unusable, not one bad file. */
#define MAX_FAILS_IN_A_ROW 1000

enum { MAIN_FREE, MAIN_READY, MAIN_IN_USE };

struct loader {
    int batch, sample0, prefetch;
    size_t xf, yf;
    loader_fill_fn fill;
    loader_begin_fn begin;
    void *user;
    uint64_t seed, next_fill;
    float *x, *y;     /* the batch handed to the trainer (x mapped: it can be discarded) */
    size_t x_bytes;
    size_t dropped;   /* bytes of x from its start whose pages were discarded (page multiple) */
    float *px, *py;   /* the next batch's first `prefetch` samples */
    int swap;         /* prefetch = batch: px is mapped like x; x, px and y, py trade places */
    int main;         /* MAIN_*: who holds x, y */
    int stop, failed;
    int started;      /* the thread has its malloc arena (loader_main) */
    /* stop as fill_samples reads it between samples, without the mutex: a stopped trainer
     * (an error, the end) must not wait for a batch of tens of thousands of images */
    atomic_int cancel;
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

int loader_prefetch(int batch, size_t sample_floats)
{
    size_t per = (sample_floats ? sample_floats : 1) * sizeof(float);
    size_t n = ((size_t)LOADER_PREFETCH_MIB << 20) / per;
    if (n < 1) n = 1;
    return n < (size_t)batch ? (int)n : batch;
}

/* Samples [from, to) of batch k, written at x, y (sample `from` first). 0, -1 (ld->msg),
 * or 1 when loader_stop interrupted it. */
static int fill_samples(loader *ld, uint64_t k, int from, int to, float *x, float *y)
{
    for (int b = from; b < to; ++b) {
        if (atomic_load_explicit(&ld->cancel, memory_order_relaxed)) return 1;
        float *xs = x + ld->xf * (size_t)(b - from), *ys = y + ld->yf * (size_t)(b - from);
        /* The batch index mixes into the seed, the global sample index names the stream. */
        rng_t r;
        rng_seed(&r, ld->seed ^ (k * 0x9E3779B97F4A7C15ull), LOADER_STREAM + (uint64_t)(ld->sample0 + b));
        int fails = 0;
        memset(ys, 0, ld->yf * sizeof(float));
        while (ld->fill(ld->user, &r, xs, ys)) {
            memset(ys, 0, ld->yf * sizeof(float));
            if (++fails >= MAX_FAILS_IN_A_ROW) {
                snprintf(ld->msg, sizeof(ld->msg),
                         "%d samples in a row could not be loaded; check the train list", fails);
                return -1;
            }
        }
    }
    return 0;
}

/* Batch k: the prefetched part now, the rest once the trainer's buffer is free. Called
 * and returns with the mutex held; 1 when stopped. */
static int load_batch(loader *ld, uint64_t k)
{
    int P = ld->prefetch;
    pthread_mutex_unlock(&ld->mu);
    if (ld->begin) {
        /* the batch's own stream, below every sample's: the same decision in every rank */
        rng_t br;
        rng_seed(&br, ld->seed ^ (k * 0x9E3779B97F4A7C15ull), LOADER_STREAM - 1);
        ld->begin(ld->user, &br);
    }
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    int rc = fill_samples(ld, k, 0, P, ld->px, ld->py);
    double w = clock_s(CLOCK_MONOTONIC) - w0, c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    pthread_mutex_lock(&ld->mu);
    while (!rc && !ld->stop && ld->main != MAIN_FREE) pthread_cond_wait(&ld->cv, &ld->mu);
    if (ld->stop) return 1;
    if (!rc && ld->swap) {
        /* The whole batch is in px: hand px over and fill the buffer just given back next
         * time. That buffer's pages were dropped after its forward (loader_discard), so
         * faulting them in again happens here, on this thread, while the trainer computes,
         * instead of in a copy the trainer waits for (11.5 us a page on the VM of
         * docs/memory.md: 0.045 s per iteration at 416, mini-batch 8). */
        float *t = ld->x;
        ld->x = ld->px;
        ld->px = t;
        /* the truths too (y and py are both malloc'd for the whole batch) */
        t = ld->y;
        ld->y = ld->py;
        ld->py = t;
    }
    pthread_mutex_unlock(&ld->mu);
    if (!rc && !ld->swap) {
        w0 = clock_s(CLOCK_MONOTONIC);
        c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        memcpy(ld->x, ld->px, ld->xf * (size_t)P * sizeof(float));
        memcpy(ld->y, ld->py, ld->yf * (size_t)P * sizeof(float));
        rc = fill_samples(ld, k, P, ld->batch, ld->x + ld->xf * (size_t)P, ld->y + ld->yf * (size_t)P);
        w += clock_s(CLOCK_MONOTONIC) - w0;
        c += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    pthread_mutex_lock(&ld->mu);
    ld->filled++;
    ld->fill_wall += w;
    ld->fill_cpu += c;
    if (rc < 0) ld->failed = 1;
    else if (!rc) ld->main = MAIN_READY;
    pthread_cond_broadcast(&ld->cv);
    return rc ? 1 : 0;
}

/* glibc gives a thread its own malloc arena at its first malloc, reserving 64 MiB of
 * address space. When that fails (an address-space limit that the trainer's buffers
 * nearly reached), every malloc of the thread becomes an mmap and every free an munmap:
 * under `prlimit --as=1000000000` a batch of 35000 28x28 samples then took 18.6 s of CPU
 * instead of 1.7 s (63% in munmap's TLB flushes), depending on whether this thread's
 * first malloc (in an image decoder) came before or after the trainer's allocations. So
 * the arena is made here, and loader_start_ex returns only after it. */
static void *loader_main(void *arg)
{
    loader *ld = arg;
    void *volatile probe = malloc(64);
    free(probe);
    pthread_mutex_lock(&ld->mu);
    ld->started = 1;
    pthread_cond_broadcast(&ld->cv);
    while (!ld->stop && load_batch(ld, ld->next_fill) == 0) ld->next_fill++;
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* An anonymous private mapping of `bytes` (its pages can be dropped: loader_discard), or
 * NULL. */
static float *map_batch(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void free_buffers(loader *ld)
{
    if (ld->x) munmap(ld->x, ld->x_bytes);
    free(ld->y);
    if (ld->swap && ld->px) munmap(ld->px, ld->x_bytes);
    else free(ld->px);
    free(ld->py);
}

static loader *start(int batch, int sample0, size_t x_floats, size_t y_floats,
                     loader_fill_fn fill, loader_begin_fn begin, void *user, uint64_t seed,
                     uint64_t first, int prefetch, char *err, size_t errlen)
{
    if (batch < 1 || sample0 < 0 || !fill || prefetch < 0 || prefetch > batch) {
        snprintf(err, errlen, "loader: bad arguments (batch %d, first sample %d, prefetch %d)",
                 batch, sample0, prefetch);
        return NULL;
    }
    loader *ld = calloc(1, sizeof(loader));
    if (!ld) goto oom;
    atomic_init(&ld->cancel, 0);
    ld->batch = batch;
    ld->sample0 = sample0;
    ld->prefetch = prefetch ? prefetch : loader_prefetch(batch, x_floats + y_floats);
    ld->xf = x_floats;
    ld->yf = y_floats;
    ld->fill = fill;
    ld->begin = begin;
    ld->user = user;
    ld->seed = seed;
    ld->next_fill = first;
    ld->main = MAIN_FREE;
    ld->x_bytes = (x_floats * batch + 1) * sizeof(float);
    ld->x = map_batch(ld->x_bytes);
    ld->y = malloc((y_floats * batch + 1) * sizeof(float));
    /* Two whole batches either way when the prefetch holds one: then both are mappings */
    ld->swap = ld->prefetch == batch;
    ld->px = ld->swap ? map_batch(ld->x_bytes) : malloc((x_floats * ld->prefetch + 1) * sizeof(float));
    ld->py = malloc((y_floats * ld->prefetch + 1) * sizeof(float));
    if (!ld->x || !ld->y || !ld->px || !ld->py) goto oom;
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
    pthread_mutex_lock(&ld->mu);
    while (!ld->started) pthread_cond_wait(&ld->cv, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
    return ld;
oom:
    snprintf(err, errlen, "loader: out of memory for a batch of %d samples and %d prefetched", batch,
             ld ? ld->prefetch : 0);
    if (ld) free_buffers(ld);
    free(ld);
    return NULL;
}

loader *loader_start(int batch, size_t x_floats, size_t y_floats, loader_fill_fn fill,
                     void *user, uint64_t seed, uint64_t first, char *err, size_t errlen)
{
    return start(batch, 0, x_floats, y_floats, fill, NULL, user, seed, first, 0, err, errlen);
}

loader *loader_start_at(int batch, int sample0, size_t x_floats, size_t y_floats,
                        loader_fill_fn fill, void *user, uint64_t seed, uint64_t first, char *err,
                        size_t errlen)
{
    return start(batch, sample0, x_floats, y_floats, fill, NULL, user, seed, first, 0, err, errlen);
}

loader *loader_start_ex(int batch, int sample0, size_t x_floats, size_t y_floats,
                        loader_fill_fn fill, loader_begin_fn begin, void *user, uint64_t seed,
                        uint64_t first, char *err, size_t errlen)
{
    return start(batch, sample0, x_floats, y_floats, fill, begin, user, seed, first, 0, err, errlen);
}

loader *loader_start_prefetch(int batch, size_t x_floats, size_t y_floats, loader_fill_fn fill,
                              void *user, uint64_t seed, uint64_t first, int prefetch, char *err,
                              size_t errlen)
{
    return start(batch, 0, x_floats, y_floats, fill, NULL, user, seed, first, prefetch, err, errlen);
}

int loader_next(loader *ld, float **x, float **y, char *err, size_t errlen)
{
    pthread_mutex_lock(&ld->mu);
    if (ld->main == MAIN_IN_USE) ld->main = MAIN_FREE; /* the previous batch is given back */
    pthread_cond_broadcast(&ld->cv);
    double t0 = clock_s(CLOCK_MONOTONIC);
    while (ld->main != MAIN_READY && !ld->failed) pthread_cond_wait(&ld->cv, &ld->mu);
    ld->wait_wall += clock_s(CLOCK_MONOTONIC) - t0;
    if (ld->main != MAIN_READY) {
        snprintf(err, errlen, "%s", ld->msg);
        pthread_mutex_unlock(&ld->mu);
        return -1;
    }
    ld->main = MAIN_IN_USE;
    ld->dropped = 0;
    pthread_mutex_unlock(&ld->mu);
    *x = ld->x;
    *y = ld->y;
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

void loader_discard(void *arg, int upto)
{
    loader *ld = arg;
    /* Whole pages below sample `upto` only: a page shared with a later sample goes with
     * that sample's call (the last call, upto = batch, takes the rest of the mapping). */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), end = ld->x_bytes;
    if (upto < ld->batch) end = (size_t)(upto < 0 ? 0 : upto) * ld->xf * sizeof(float) / page * page;
    if (end <= ld->dropped) return;
    /* An anonymous private mapping reads as zeros after MADV_DONTNEED; it is refilled
     * before it is handed out again. Failure only means the pages stay. */
    (void)madvise((char *)ld->x + ld->dropped, end - ld->dropped, MADV_DONTNEED);
    ld->dropped = end;
}

void loader_stop(loader *ld)
{
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    /* under the mutex: a loader that sees it and then takes the mutex sees stop too */
    atomic_store_explicit(&ld->cancel, 1, memory_order_relaxed);
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->th, NULL);
    pthread_mutex_destroy(&ld->mu);
    pthread_cond_destroy(&ld->cv);
    free_buffers(ld);
    free(ld);
}
