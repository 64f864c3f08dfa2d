/* The cuDNN algorithm rules of src/backend/cuda/conv_algos.h (plain C, so they run on any
 * machine; conv_cudnn.cu feeds them cuDNN's heuristics and workspace queries):
 *  - FFT and Winograd algorithms are left out unless allowed (DN_CUDNN_FAST_ALGOS=1), per
 *    op: forward 4-7, backward-data 2-5, backward-filter 2, 5 and 6 (not 4);
 *  - deterministic candidates come first, each group in cuDNN's order;
 *  - the workspace is the query's (not the heuristics'), and one over the limit, one the
 *    query refuses, an entry cuDNN marks unusable and a repeated algorithm are left out;
 *  - after a refusal at run time the next candidate that fits the workspace given is
 *    taken, and none is left at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "backend/cuda/conv_algos.h"

/* A workspace query answering from a table indexed by algorithm; SIZE_MAX: refused. */
typedef struct {
    size_t need[16];
} ws_table;

static int ws_from(void *ud, int algo, size_t *bytes)
{
    const ws_table *t = ud;
    if (algo < 0 || algo >= 16 || t->need[algo] == SIZE_MAX) return -1;
    *bytes = t->need[algo];
    return 0;
}

static void expect_algos(const dn_algo_list *L, const int *want, int n)
{
    assert_int_equal(L->n, n);
    for (int i = 0; i < n; ++i)
        if (L->algo[i] != want[i]) fail_msg("candidate %d is %d, want %d", i, L->algo[i], want[i]);
}

static void fast_left_out(void **st)
{
    (void)st;
    ws_table t = {{0}};
    dn_algo_hint h[8];
    for (int a = 0; a < 8; ++a) h[a] = (dn_algo_hint){a, 1, 1};
    dn_algo_list L;
    dn_algo_list_build(&L, DN_ALGO_FWD, h, 8, 0, 0, ws_from, &t);
    expect_algos(&L, (int[]){0, 1, 2, 3}, 4);
    assert_int_equal(L.skipped_fast, 4);
    assert_int_equal(L.cur, 0);
    dn_algo_list_build(&L, DN_ALGO_DATA, h, 6, 0, 0, ws_from, &t);
    expect_algos(&L, (int[]){0, 1}, 2);
    dn_algo_list_build(&L, DN_ALGO_FILTER, h, 7, 0, 0, ws_from, &t);
    expect_algos(&L, (int[]){0, 1, 3, 4}, 4);
    assert_int_equal(L.skipped_fast, 3);
    /* allowed: every algorithm, in cuDNN's order */
    dn_algo_list_build(&L, DN_ALGO_FWD, h, 8, 0, 1, ws_from, &t);
    expect_algos(&L, (int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    assert_int_equal(L.skipped_fast, 0);
}

static void deterministic_first(void **st)
{
    (void)st;
    ws_table t = {{0}};
    /* cuDNN's speed order: a nondeterministic one first */
    dn_algo_hint h[] = {{0, 1, 0}, {3, 1, 1}, {2, 1, 0}, {1, 1, 1}};
    dn_algo_list L;
    dn_algo_list_build(&L, DN_ALGO_FILTER, h, 4, 0, 0, ws_from, &t);
    expect_algos(&L, (int[]){3, 1, 0}, 3); /* 2 is FFT for backward-filter */
    assert_int_equal(L.det[0], 1);
    assert_int_equal(L.det[1], 1);
    assert_int_equal(L.det[2], 0);
}

static void workspace_from_query(void **st)
{
    (void)st;
    ws_table t = {{0}};
    t.need[0] = 100; /* the heuristics may have said 0: the query decides */
    t.need[1] = 101; /* over the limit */
    t.need[2] = SIZE_MAX;
    dn_algo_hint h[] = {{1, 1, 1}, {2, 1, 1}, {3, 0, 1}, {0, 1, 1}, {0, 1, 0}, {3, 1, 0}};
    dn_algo_list L;
    dn_algo_list_build(&L, DN_ALGO_FWD, h, 6, 100, 0, ws_from, &t);
    expect_algos(&L, (int[]){0, 3}, 2); /* 3 usable only in its nondeterministic entry */
    assert_int_equal(L.ws[0], 100);
    assert_int_equal(L.ws[1], 0);
    assert_int_equal(L.det[0], 1);
    assert_int_equal(L.det[1], 0);
    dn_algo_list_build(&L, DN_ALGO_FWD, h, 3, 100, 0, ws_from, &t);
    assert_int_equal(L.n, 0);
    assert_int_equal(L.cur, -1);
}

static void next_after_refusal(void **st)
{
    (void)st;
    ws_table t = {{0}};
    t.need[1] = 50;
    t.need[3] = 10;
    dn_algo_hint h[] = {{0, 1, 1}, {1, 1, 1}, {3, 1, 1}, {2, 1, 0}};
    dn_algo_list L;
    dn_algo_list_build(&L, DN_ALGO_FWD, h, 4, 100, 0, ws_from, &t);
    expect_algos(&L, (int[]){0, 1, 3, 2}, 4);
    assert_int_equal(dn_algo_list_next(&L, 20), 0); /* 1 needs 50: skipped */
    assert_int_equal(L.algo[L.cur], 3);
    assert_int_equal(dn_algo_list_next(&L, 20), 0);
    assert_int_equal(L.algo[L.cur], 2);
    assert_int_equal(L.det[L.cur], 0);
    assert_int_equal(dn_algo_list_next(&L, 20), -1);
    assert_int_equal(L.algo[L.cur], 2); /* unchanged when none is left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_left_out),
        cmocka_unit_test(deterministic_first),
        cmocka_unit_test(workspace_from_query),
        cmocka_unit_test(next_after_refusal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
