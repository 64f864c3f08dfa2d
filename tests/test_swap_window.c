/* actnn_swap's device window (memory/swap_window.h) against a brute-force oracle of its
 * promise: consecutive units of blocks on alternate sides, each side emptied before the
 * next unit takes it, fit in a region as large as the largest two neighbouring units,
 * with no block of its own, in the order a training iteration takes and returns them
 * (forward: unit k written while k-1's blocks are still on their way out; backward: unit
 * i read while i-1 is brought back, then i returned in any order). Random units of 1-4
 * blocks of 1-64 lines of 256 bytes, many seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memory/swap_window.h"

#define UNITS 24
#define MAXB 4
#define SEEDS 2000

static size_t n_allocs;

static void *fake_alloc(size_t bytes, const char *what)
{
    (void)what;
    ++n_allocs;
    return calloc(1, bytes ? bytes : 1);
}

static void fake_release(void *p, size_t bytes)
{
    (void)bytes;
    free(p);
}

typedef struct {
    int nb;
    size_t len[MAXB];
    void *p[MAXB];
    int own[MAXB];
} unit;

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t sum(const unit *u)
{
    size_t t = 0;
    for (int b = 0; b < u->nb; ++b) t += u->len[b];
    return t;
}

static void take(swap_window *w, const dn_backend *be, unit *u, int side, int seed, int k)
{
    for (int b = 0; b < u->nb; ++b) {
        u->p[b] = swin_take(w, be, u->len[b], side, 1, &u->own[b]);
        assert_non_null(u->p[b]);
        if (u->own[b])
            fail_msg("seed %d unit %d block %d (%zu bytes): no room in a window of %zu", seed, k,
                     b, u->len[b], w->bytes);
        memset(u->p[b], k + 1, u->len[b]); /* overlapping blocks would show below */
    }
}

/* Returns u's blocks in a random order, checking that no other block overwrote them. */
static void give(swap_window *w, unit *u, uint64_t *r, int k)
{
    int order[MAXB];
    for (int b = 0; b < u->nb; ++b) order[b] = b;
    for (int b = u->nb - 1; b > 0; --b) {
        int j = (int)(rng(r) % (uint64_t)(b + 1)), t = order[b];
        order[b] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < u->nb; ++i) {
        int b = order[i];
        const unsigned char *c = u->p[b];
        for (size_t j = 0; j < u->len[b]; ++j)
            if (c[j] != (unsigned char)(k + 1)) fail_msg("unit %d block %d overwritten", k, b);
        swin_give(w, u->p[b], u->len[b], u->own[b]);
    }
}

static void two_sides_fit(void **st)
{
    (void)st;
    dn_backend be = {0};
    be.alloc = fake_alloc;
    be.release = fake_release;
    for (int seed = 1; seed <= SEEDS; ++seed) {
        uint64_t r = 0x9e3779b97f4a7c15ull * (uint64_t)seed;
        unit u[UNITS];
        size_t most = 0;
        for (int k = 0; k < UNITS; ++k) {
            u[k].nb = 1 + (int)(rng(&r) % MAXB);
            for (int b = 0; b < u[k].nb; ++b) u[k].len[b] = 256 * (1 + rng(&r) % 64);
            size_t pair = sum(&u[k]) + (k ? sum(&u[k - 1]) : 0);
            if (pair > most) most = pair;
        }
        swap_window w = {0};
        assert_int_equal(swin_reserve(&w, &be, most), 0);
        size_t before = n_allocs;
        /* forward: unit k-2's pulls are waited for when k starts on their side */
        for (int k = 0; k < UNITS; ++k) {
            if (k >= 2) give(&w, &u[k - 2], &r, k - 2);
            take(&w, &be, &u[k], k & 1, seed, k);
        }
        give(&w, &u[UNITS - 2], &r, UNITS - 2);
        give(&w, &u[UNITS - 1], &r, UNITS - 1);
        /* backward: the last unit comes back, then each unit brings the next one back
         * before its own blocks are returned */
        take(&w, &be, &u[UNITS - 1], (UNITS - 1) & 1, seed, UNITS - 1);
        for (int i = UNITS - 1; i >= 0; --i) {
            if (i > 0) take(&w, &be, &u[i - 1], (i - 1) & 1, seed, i - 1);
            give(&w, &u[i], &r, i);
        }
        assert_int_equal(n_allocs, before);
        assert_int_equal(w.bytes, most);
        swin_free(&w);
    }
}

/* Blocks of one side go to the lowest gap, of the other to the highest (the packing the
 * oracle above relies on), and a reservation with live blocks is refused. */
static void sides_and_reserve(void **st)
{
    (void)st;
    dn_backend be = {0};
    be.alloc = fake_alloc;
    be.release = fake_release;
    swap_window w = {0};
    assert_int_equal(swin_reserve(&w, &be, 4096), 0);
    int own = 0;
    char *lo = swin_take(&w, &be, 1024, 0, 0, &own);
    char *hi = swin_take(&w, &be, 512, 1, 0, &own);
    assert_ptr_equal(lo, w.base);
    assert_ptr_equal(hi, w.base + 4096 - 512);
    assert_null(swin_take(&w, &be, 4096, 0, 0, &own)); /* no room, no own block asked */
    assert_int_equal(swin_reserve(&w, &be, 8192), -1);
    swin_give(&w, lo, 1024, 0);
    swin_give(&w, hi, 512, 0);
    assert_int_equal(swin_reserve(&w, &be, 8192), 0);
    assert_int_equal(w.bytes, 8192);
    swin_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_sides_fit),
        cmocka_unit_test(sides_and_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
