/* The device window of actnn_swap=1 (ActNN's swapping, DESIGN.md memory kind 3): saved
 * tensors of a device run live in host memory once written, and in device memory only
 * while they are being written (forward) or read back (backward). This file owns the
 * device side: one backend region handed out first fit, in blocks that come back in any
 * order. It knows nothing of tensors (memory/saved.c decides what goes in and when).
 *
 * Two sides: blocks of side 0 go to the lowest gap that holds them, those of side 1 to the
 * highest. The caller puts consecutive units (saved_swap.c) on alternate sides and empties
 * a side before the next unit takes it, so each side is packed from its end and a region
 * as large as the largest two neighbouring units holds every block without fragments
 * (one-sided first fit left a gap of one unit's size between the other two).
 *
 * Sizing, as the saved pool's: a block that finds no room gets an allocation of its own
 * (correct, only slower), and the region grows once it is empty (every block back, i.e.
 * after a backward) to what would have held them, so a steady-state iteration allocates
 * nothing. Sizes and offsets stay multiples of the caller's alignment if the sizes are. */
#ifndef DN_SWAP_WINDOW_H
#define DN_SWAP_WINDOW_H

#include <stddef.h>

#include "backend/backend.h"

typedef struct {
    const dn_backend *be;
    char *base;
    size_t bytes;          /* the region */
    size_t *off, *len;     /* live blocks in the region, sorted by offset */
    int n, cap;
    int own_live;          /* live blocks of their own */
    size_t own_bytes;      /* and their bytes */
    size_t live_bytes, peak_bytes; /* all live blocks (region and own), and their peak */
    size_t need;           /* what the region grows to when next empty */
    size_t allocs;         /* backend allocations: the region's and the own blocks' */
} swap_window;

/* `bytes` of backend memory of `be`: from the region on `side` (0 low, 1 high), else (when
 * may_own) a block of its own (*own = 1). NULL when the region has no room and !may_own, or
 * when the backend has no memory left (or the host none for the bookkeeping). */
void *swin_take(swap_window *w, const dn_backend *be, size_t bytes, int side, int may_own,
                int *own);
/* Makes the region `bytes` large now (when smaller and every block is back), so the first
 * iteration allocates nothing either. 0, or -1 when blocks are live or the backend has no
 * memory left (the region is then empty and grows as above). */
int swin_reserve(swap_window *w, const dn_backend *be, size_t bytes);
/* Gives back a block from swin_take with the same bytes and own. */
void swin_give(swap_window *w, void *p, size_t bytes, int own);
/* Releases the region (every block must be back). */
void swin_free(swap_window *w);

#endif
