/* src/saved.c on its own: every kind of save round-trips as the layers expect.
 *  - 32 bits: an alive buffer is referenced (same pointer, no bytes), a copy is exact;
 *  - 16 bits: within fp16 rounding (relative 2^-11, plus half the smallest subnormal);
 *  - 2 bits: within one quantization step of the group's range, bytes as the plugin
 *    size function says (payload 4*b*ceil(D/32) + 4 bytes per group, per sample);
 *  - masks, codes: exact; dropout: forward and backward drop the same elements;
 *  - NaN in data to quantize: an error naming the layer, nothing left accounted. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"
#include "memory/saved.h"

#define N 3
#define D 200

static const char *cfg =
    "[net]\nbatch=3\nwidth=4\nheight=4\nchannels=1\nactnn_group=64\n"
    "[convolutional]\nfilters=2\nsize=1\nstride=1\nactivation=leaky\n";

typedef struct {
    network *net;
    saved_store *s;
    layer_ctx x;
    float in[N * D], out[D];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(fx));
    char err[256];
    darknet_set_seed(3);
    f->net = tu_net_from_text(cfg, N);
    f->s = saved_store_create(f->net, err, sizeof(err));
    assert_non_null(f->s);
    f->x.net = f->net;
    f->x.l = &f->net->layers[0];
    f->x.batch = N;
    f->x.train = 1;
    saved_bind(f->s, &f->x);
    tu_fill_uniform(f->in, N * D, -3, 5, 11);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    saved_store_free(f->s);
    free_network(f->net);
    free(f);
    return 0;
}

static void exact_32(void **state)
{
    fx *f = *state;
    f->x.l->bits = 32;
    assert_int_equal(sv_save(&f->x, 0, f->in, D, 1), 0);
    assert_int_equal(sv_save(&f->x, 1, f->in, D, 0), 0);
    saved_stats st;
    saved_get_stats(f->s, &st);
    assert_int_equal(st.alive_bytes, N * D * sizeof(float));
    assert_true(st.cur_bytes >= N * D * sizeof(float)); /* only the copy is stored */
    for (int b = 0; b < N; ++b) {
        assert_ptr_equal(sv_restore(&f->x, 0, b, f->out), f->in + b * D);
        assert_memory_equal(sv_restore(&f->x, 1, b, f->out), f->in + b * D, D * sizeof(float));
    }
    saved_release_layer(f->s, 0);
    saved_get_stats(f->s, &st);
    assert_int_equal(st.cur_bytes, 0);
    assert_int_equal(st.alive_bytes, 0);
}

static void fp16(void **state)
{
    fx *f = *state;
    f->x.l->bits = 16;
    assert_int_equal(sv_save(&f->x, 0, f->in, D, 1), 0);
    for (int b = 0; b < N; ++b) {
        const float *r = sv_restore(&f->x, 0, b, f->out);
        for (int j = 0; j < D; ++j)
            assert_true(fabsf(r[j] - f->in[b * D + j]) <= fabsf(f->in[b * D + j]) * (1.f / 2048) + 6e-8f);
    }
    saved_release_all(f->s);
}

static void quantized_2bit(void **state)
{
    fx *f = *state;
    f->x.l->bits = 2;
    assert_int_equal(sv_save(&f->x, 0, f->in, D, 1), 0);
    saved_stats st;
    saved_get_stats(f->s, &st);
    size_t groups = (D + 63) / 64, words = (D + 31) / 32;
    size_t pay = 0, meta = 0;
    assert_int_equal(saved_plugin_stats(f->s, &pay, &meta), 0);
    assert_int_equal(pay, (size_t)N * 4 * 2 * words);
    assert_true(meta >= (size_t)N * 4 * groups);
    assert_int_equal(st.cur_bytes, pay + meta);
    assert_int_equal(st.cur_bytes, saved_tensor_bytes(N, D, 2, 0, 64));
    assert_int_equal(saved_tensor_bytes(N, D, 32, 1, 64), 0);
    for (int b = 0; b < N; ++b) {
        const float *r = sv_restore(&f->x, 0, b, f->out);
        for (int g = 0; g < (int)groups; ++g) {
            float lo = INFINITY, hi = -INFINITY;
            int end = (g + 1) * 64 < D ? (g + 1) * 64 : D;
            for (int j = g * 64; j < end; ++j) {
                lo = fminf(lo, f->in[b * D + j]);
                hi = fmaxf(hi, f->in[b * D + j]);
            }
            /* one step = range/3; bf16 rounding of min and range widens it by < 1% */
            float step = (hi - lo) / 3 * 1.02f + 1e-6f;
            for (int j = g * 64; j < end; ++j) assert_true(fabsf(r[j] - f->in[b * D + j]) <= step);
        }
    }
    saved_release_all(f->s);
}

static void mask_codes_dropout(void **state)
{
    fx *f = *state;
    assert_int_equal(sv_save_mask(&f->x, 0, f->in, D, ACT_LEAKY), 0);
    uint8_t codes[N * D], got[D];
    for (int i = 0; i < N * D; ++i) codes[i] = (uint8_t)(i * 7 % 8);
    for (int b = 0; b < N; ++b) assert_int_equal(sv_save_codes(&f->x, 1, b, codes + b * D, D, 3), 0);
    assert_int_equal(sv_dropout_begin(&f->x, 2, D, 0.5f), 0);
    for (int b = 0; b < N; ++b) {
        float d[D], v[D];
        for (int j = 0; j < D; ++j) d[j] = 1;
        sv_mask_apply(&f->x, 0, b, d, 1, .1f);
        for (int j = 0; j < D; ++j) assert_true(d[j] == (f->in[b * D + j] > 0 ? 1.f : .1f));
        assert_memory_equal(sv_codes(&f->x, 1, b, got), codes + b * D, D);
        for (int j = 0; j < D; ++j) v[j] = d[j] = 1;
        sv_dropout_apply(&f->x, 2, b, v); /* forward on the output */
        sv_dropout_apply(&f->x, 2, b, d); /* backward on the delta */
        int kept = 0;
        for (int j = 0; j < D; ++j) {
            assert_true(v[j] == d[j] && (v[j] == 0 || v[j] == 2));
            kept += v[j] != 0;
        }
        /* Binomial(200, 1/2): 5 sd = 35 */
        assert_in_range(kept, 100 - 35, 100 + 35);
    }
    saved_release_all(f->s);
}

static void nan_fails_cleanly(void **state)
{
    fx *f = *state;
    f->x.l->bits = 2;
    float bad[N * D];
    memcpy(bad, f->in, sizeof(bad));
    bad[D + 5] = NAN;
    assert_int_equal(sv_save(&f->x, 0, bad, D, 1), -1);
    assert_non_null(strstr(saved_error(f->s), "layer 0"));
    saved_stats st;
    saved_get_stats(f->s, &st);
    assert_int_equal(st.cur_bytes, 0);
    size_t pay = 1, meta = 1;
    saved_plugin_stats(f->s, &pay, &meta);
    assert_int_equal(pay + meta, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(exact_32, setup, teardown),
        cmocka_unit_test_setup_teardown(fp16, setup, teardown),
        cmocka_unit_test_setup_teardown(quantized_2bit, setup, teardown),
        cmocka_unit_test_setup_teardown(mask_codes_dropout, setup, teardown),
        cmocka_unit_test_setup_teardown(nan_fails_cleanly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
