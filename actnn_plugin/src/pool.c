/* pool.c: the context's memory. A training loop saves the same tensor sizes every
 * iteration, so freed blocks go to a free list per size class and are handed out again
 * instead of returning to malloc (which for large blocks means mmap, munmap and page
 * faults every iteration). Size classes: multiples of 64 bytes up to 512, then 8 per
 * power of two, so a block wastes at most 12.5%. */
#include <stdlib.h>

#include "internal.h"

#define POOL_HEADER 64 /* keeps user pointers 64-byte aligned */

struct pool_block {
    pool_block *next, *prev; /* free list (next only) or live list */
    size_t cls;
    size_t bytes; /* class size, excluding the header */
};

_Static_assert(sizeof(pool_block) <= POOL_HEADER, "pool header too large");

static int floor_log2(size_t v)
{
    int e = 0;
    while (v >>= 1) ++e;
    return e;
}

/* Class index and class size for a request; 0 when the request cannot be served. */
static int pool_class(size_t bytes, size_t *cls, size_t *cls_bytes)
{
    if (bytes == 0) bytes = 1;
    if (bytes <= 512) {
        *cls = (bytes - 1) / 64;
        *cls_bytes = (*cls + 1) * 64;
        return 1;
    }
    int e = floor_log2(bytes - 1); /* bytes - 1 in [2^e, 2^(e+1)), e >= 9 */
    if (e >= 60) return 0;
    size_t top = (bytes - 1) >> (e - 3); /* in [8, 16) */
    *cls = 8 + (size_t)(e - 9) * 8 + (top - 8);
    *cls_bytes = (top + 1) << (e - 3);
    return *cls < POOL_NCLASS;
}

void pool_init(actnn_pool *p)
{
    *p = (actnn_pool){0};
}

static void live_push(actnn_pool *p, pool_block *b)
{
    b->prev = NULL;
    b->next = p->live;
    if (p->live) p->live->prev = b;
    p->live = b;
}

static void live_remove(actnn_pool *p, pool_block *b)
{
    if (b->prev) b->prev->next = b->next;
    else p->live = b->next;
    if (b->next) b->next->prev = b->prev;
}

void *pool_alloc(actnn_pool *p, size_t bytes)
{
    size_t cls, cls_bytes;
    if (!pool_class(bytes, &cls, &cls_bytes)) return NULL;
    pool_block *b = p->free_list[cls];
    if (b) {
        p->free_list[cls] = b->next;
        p->reuses++;
    } else {
        b = aligned_alloc(POOL_HEADER, POOL_HEADER + cls_bytes);
        if (!b) return NULL;
        b->cls = cls;
        b->bytes = cls_bytes;
        p->held += POOL_HEADER + cls_bytes;
        if (p->held > p->held_peak) p->held_peak = p->held;
        p->sys_allocs++;
    }
    live_push(p, b);
    return (char *)b + POOL_HEADER;
}

void pool_free(actnn_pool *p, void *ptr)
{
    if (!ptr) return;
    pool_block *b = (pool_block *)((char *)ptr - POOL_HEADER);
    live_remove(p, b);
    b->next = p->free_list[b->cls];
    p->free_list[b->cls] = b;
}

static void release_list(actnn_pool *p, pool_block *b)
{
    while (b) {
        pool_block *next = b->next;
        p->held -= POOL_HEADER + b->bytes;
        free(b);
        b = next;
    }
}

void pool_trim(actnn_pool *p)
{
    for (size_t c = 0; c < POOL_NCLASS; ++c) {
        release_list(p, p->free_list[c]);
        p->free_list[c] = NULL;
    }
}

void pool_destroy(actnn_pool *p)
{
    pool_trim(p);
    release_list(p, p->live);
    p->live = NULL;
}
