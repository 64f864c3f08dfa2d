/* Budget mode (src/memory/budget.h):
 *  - budget_parse reads 2G, 1536M, 512 (MiB), 100K and rejects junk;
 *  - budget_max_batch against a brute force: for every bit width the ordinary plan (a
 *    net parsed at that width and mini-batch, its own dry run and arena) is computed at
 *    mini-batches 1..12; the answer is the largest that fits, so the plan at the answer
 *    fits and the one at answer + 1 does not;
 *  - actnn_budget_mb: the bits chosen make the ordinary plan fit; fp32 when it fits; a
 *    larger budget never gets fewer bits; a budget too small even at 1 bit is an error
 *    that names file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"
#include "memory/budget.h"
#include "memory/memreport.h"

#define KMAX 12

static const char *body =
    "width=96\nheight=96\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=32\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[route]\nlayers=-1,-2\n"
    "[convolutional]\nfilters=5\nsize=1\nstride=1\npad=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\ngroups=1\n";

/* The cfg at `bits` (32: no actnn keys), with an extra [net] line. */
static void cfg_text(char *buf, size_t cap, int bits, const char *extra)
{
    int k = snprintf(buf, cap, "[net]\nbatch=16\nsubdivisions=1\n%s", extra ? extra : "");
    if (bits < 32) k += snprintf(buf + k, cap - k, "actnn=1\nactnn_bits=%d\n", bits);
    snprintf(buf + k, cap - k, "%s", body);
}

/* The ordinary plan's total: the net parsed at `bits` and mini-batch k. */
static size_t ordinary_total(int bits, int k)
{
    char text[4096], err[512];
    cfg_text(text, sizeof(text), bits, NULL);
    network *net = tu_net_from_text(text, k);
    mem_summary s;
    assert_int_equal(memreport_plan(net, &s, NULL, err, sizeof(err)), 0);
    free_network(net);
    return memreport_total(&s);
}

static void parse_sizes(void **state)
{
    (void)state;
    assert_true(budget_parse("2G") == (size_t)2 << 30);
    assert_true(budget_parse("2GiB") == (size_t)2 << 30);
    assert_true(budget_parse("1536M") == (size_t)1536 << 20);
    assert_true(budget_parse("512") == (size_t)512 << 20);
    assert_true(budget_parse("100K") == 102400);
    assert_true(budget_parse("0.5g") == (size_t)512 << 20);
    assert_true(budget_parse("") == 0);
    assert_true(budget_parse("2X") == 0);
    assert_true(budget_parse("-1G") == 0);
    assert_true(budget_parse("G") == 0);
}

static void brute_force_one(network *net, const saved_desc *desc, int bits, const size_t *T,
                            size_t budget)
{
    int want = 0;
    for (int k = 1; k <= KMAX; ++k)
        if (T[k] <= budget) want = k;
    if (want == KMAX) return; /* beyond the brute force's range */
    mem_summary at;
    int m = budget_max_batch(net, desc, bits, budget, &at);
    assert_int_equal(m, want);
    if (m) {
        assert_true(T[m] <= budget);
        assert_true(memreport_total(&at) == T[m]); /* the fast plan is the ordinary one */
    }
    assert_true(T[m + 1] > budget);
}

static void max_batch_brute_force(void **state)
{
    (void)state;
    char text[4096], err[512];
    cfg_text(text, sizeof(text), 2, NULL);
    network *net = tu_net_from_text(text, 0);
    static const int widths[] = {32, 8, 4, 2};
    for (int w = 0; w < 4; ++w) {
        saved_desc *desc = memreport_describe(net, widths[w], err, sizeof(err));
        assert_non_null(desc);
        size_t T[KMAX + 2];
        for (int k = 1; k <= KMAX + 1; ++k) T[k] = ordinary_total(widths[w], k);
        brute_force_one(net, desc, widths[w], T, T[1] - 1);
        brute_force_one(net, desc, widths[w], T, T[1]);
        brute_force_one(net, desc, widths[w], T, T[3]);
        brute_force_one(net, desc, widths[w], T, T[7] + (T[8] - T[7]) / 2);
        brute_force_one(net, desc, widths[w], T, T[11] + 1);
        free(desc);
    }
    free_network(net);
}

/* Average bits over the layers that save tensors (conv layers here), and the plan total. */
static double picked(int mb, size_t *total, int *all32)
{
    char text[4096], extra[64], err[512];
    snprintf(extra, sizeof(extra), "actnn_budget_mb=%d\n", mb);
    cfg_text(text, sizeof(text), 32, extra);
    network *net = tu_net_from_text(text, 0);
    double sum = 0;
    *all32 = 1;
    for (int i = 0; i < net->n; ++i) {
        if (net->layers[i].bits != 32) *all32 = 0;
        if (strcmp(net->layers[i].ops->name, "convolutional") == 0) sum += net->layers[i].bits;
    }
    mem_summary s;
    assert_int_equal(memreport_plan(net, &s, NULL, err, sizeof(err)), 0);
    *total = memreport_total(&s);
    free_network(net);
    return sum / 3;
}

static void budget_key(void **state)
{
    (void)state;
    size_t fp32 = ordinary_total(32, 16), one = ordinary_total(1, 16);
    size_t total;
    int all32;
    int big = (int)(fp32 >> 20) + 1;
    picked(big, &total, &all32);
    assert_true(all32);
    assert_true(total <= (size_t)big << 20);
    double prev = 0;
    int lo = (int)(one >> 20) + 1;
    for (int mb = lo; mb < big; mb += (big - lo) / 5 + 1) {
        double avg = picked(mb, &total, &all32);
        print_message("actnn_budget_mb=%d: average conv bits %.2f, plan %.2f MiB\n", mb, avg,
                      total / 1048576.0);
        assert_true(total <= (size_t)mb << 20);
        assert_true(avg >= prev);
        prev = avg;
    }
    char text[4096];
    cfg_text(text, sizeof(text), 32, "actnn_budget_mb=1\n");
    const char *e = tu_net_error(text);
    assert_non_null(strstr(e, ":4: actnn_budget_mb:"));
    assert_non_null(strstr(e, "too small"));
    cfg_text(text, sizeof(text), 32, "actnn_budget_mb=0\n");
    assert_non_null(strstr(tu_net_error(text), "actnn_budget_mb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_sizes),
        cmocka_unit_test(max_batch_brute_force),
        cmocka_unit_test(budget_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
