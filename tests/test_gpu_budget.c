/* test_gpu_budget.c: DN_GPU_BUDGET_MB (backend/budget.c), which the CUDA allocator asks
 * before every cudaMalloc: the parse, the refusal boundary (exactly the budget fits, one byte
 * more does not) and the message's parts (asked, free, planned, what to change). Brute force
 * over small sizes is the oracle for the boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend.h"

static void test_parse(void **state)
{
    (void)state;
    char why[256];
    unsetenv("DN_GPU_BUDGET_MB");
    assert_int_equal(dn_budget_bytes(why, sizeof why), 0);
    setenv("DN_GPU_BUDGET_MB", "512", 1);
    assert_int_equal(dn_budget_bytes(why, sizeof why), 512LL << 20);
    const char *bad[] = {"0", "-5", "12x", "1.5", " ", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        setenv("DN_GPU_BUDGET_MB", bad[i], 1);
        why[0] = 0;
        assert_int_equal(dn_budget_bytes(why, sizeof why), -1);
        assert_non_null(strstr(why, "DN_GPU_BUDGET_MB"));
    }
    unsetenv("DN_GPU_BUDGET_MB");
}

static void test_boundary(void **state)
{
    (void)state;
    char msg[1024];
    assert_int_equal(dn_budget_refuses(SIZE_MAX / 2, 0, 0, "DN_GPU_BUDGET_MB", 0, "x", msg, sizeof msg), 0);
    for (size_t budget = 1; budget < 40; budget += 3)
        for (size_t used = 0; used < 45; ++used)
            for (size_t asked = 1; asked < 45; ++asked)
                assert_int_equal(dn_budget_refuses(asked, used, budget, "DN_GPU_BUDGET_MB", 0, "x", msg, sizeof msg),
                                 used + asked > budget);
    /* no wrap-around near SIZE_MAX */
    assert_int_equal(dn_budget_refuses(SIZE_MAX, 1, 100, "DN_GPU_BUDGET_MB", 0, "x", msg, sizeof msg), 1);
}

static void test_message(void **state)
{
    (void)state;
    char msg[1024];
    size_t mib = 1 << 20;
    assert_int_equal(dn_budget_refuses(300 * mib, 800 * mib, 1024 * mib, "DN_GPU_BUDGET_MB", 1500 * mib,
                                           "the activation arena", msg, sizeof msg), 1);
    const char *parts[] = {"the activation arena", "asked 300.0 MiB", "free 224.0 MiB",
                           "DN_GPU_BUDGET_MB=1024", "800.0 MiB already held", "1500.0 MiB",
                           "actnn_bits", "subdivisions"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; ++i)
        if (!strstr(msg, parts[i])) fail_msg("'%s' not in: %s", parts[i], msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
