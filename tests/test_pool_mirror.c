/* test_pool_mirror.c: pool_math.h, the per-value pooling arithmetic the CUDA kernels run,
 * against the CPU backend (backend.h) on the host. Forward: every output and argmax code
 * from dn_maxpool_window equals the CPU's (whose interior fast path is separate code).
 * Backward: the GPU's gather (dn_maxpool_gather1, one input cell at a time) equals the
 * CPU's scatter bit for bit, which holds only if both add the same deltas in the same
 * order; windows overlap (size > stride) so cells receive several deltas, and the inputs
 * have ties so codes pick the first maximum. [avgpool] likewise. */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/math/pool_math.h"

/* Values from a small set, so windows have ties; an LCG keeps the test deterministic. */
static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 16) % 7) - 3.0f + ((seed >> 8) % 3 == 0 ? 0.125f * (float)(i % 5) : 0);
    }
}

static void one_shape(int c, int h, int w, int size, int stride, int pad)
{
    const dn_backend *cpu = dn_backend_cpu();
    int off = -pad / 2, ow = (w + pad - size) / stride + 1, oh = (h + pad - size) / stride + 1;
    size_t nin = (size_t)c * h * w, nout = (size_t)c * oh * ow;
    float *in = malloc(nin * sizeof(float)), *out = malloc(nout * sizeof(float));
    float *d = malloc(nout * sizeof(float)), *din = malloc(nin * sizeof(float));
    uint8_t *codes = malloc(nout);
    assert_true(in && out && d && din && codes);
    fill(in, nin, (unsigned)(c * 131 + h * 17 + w * 7 + size * 3 + stride + pad));
    cpu->maxpool_forward(in, 1, c, h, w, size, stride, pad, out, codes);
    int bad = 0;
    for (int k = 0; k < c; ++k)
        for (int i = 0; i < oh; ++i)
            for (int j = 0; j < ow; ++j) {
                int arg;
                size_t o = ((size_t)k * oh + i) * ow + j;
                float v = dn_maxpool_window(in + (size_t)k * h * w, h, w, size, off + i * stride,
                                            off + j * stride, &arg);
                bad += memcmp(&v, &out[o], sizeof v) != 0 || arg != codes[o];
            }
    /* deltas and the existing input delta not dyadic, so a different order of additions
     * rounds differently */
    for (size_t o = 0; o < nout; ++o) d[o] = (float)((o * 7919) % 1000) / 7.0f - 70.0f;
    for (size_t q = 0; q < nin; ++q) din[q] = (float)((q * 104729) % 997) / 3.0f;
    float *gather = malloc(nin * sizeof(float));
    assert_non_null(gather);
    for (size_t q = 0; q < nin; ++q) {
        int x = (int)(q % w), y = (int)((q / w) % h), k = (int)(q / ((size_t)w * h));
        gather[q] = dn_maxpool_gather1(d + (size_t)k * oh * ow, codes + (size_t)k * oh * ow, oh, ow,
                                       size, stride, off, y, x, din[q]);
    }
    cpu->maxpool_backward(d, codes, 1, c, h, w, size, stride, pad, din);
    for (size_t q = 0; q < nin; ++q) bad += memcmp(&gather[q], &din[q], sizeof(float)) != 0;
    if (bad) fail_msg("c=%d %dx%d size=%d stride=%d pad=%d: %d values differ", c, h, w, size, stride, pad, bad);
    free(in), free(out), free(d), free(din), free(codes), free(gather);
}

static void maxpool_gather_equals_scatter(void **state)
{
    (void)state;
    /* c, h, w, size, stride, pad: Darknet's default pad = size - 1, overlapping windows,
     * yolov3-tiny's size 2 stride 1 (layer 11), odd sizes and strides larger than size;
     * size 2 has its own interior path in the CPU backend */
    static const int shapes[][6] = {{3, 8, 8, 2, 2, 1}, {2, 13, 13, 2, 1, 1}, {2, 9, 7, 3, 2, 2},
                                    {1, 11, 10, 5, 2, 4}, {3, 7, 9, 3, 1, 2}, {2, 10, 10, 2, 3, 1},
                                    {1, 6, 5, 4, 3, 3}, {2, 5, 5, 3, 3, 0},
                                    /* large enough for the parallel loops (> 16384 outputs) */
                                    {40, 64, 64, 2, 2, 1}, {24, 26, 26, 2, 1, 1}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; ++t)
        one_shape(shapes[t][0], shapes[t][1], shapes[t][2], shapes[t][3], shapes[t][4], shapes[t][5]);
}

static void avgpool_same(void **state)
{
    (void)state;
    const dn_backend *cpu = dn_backend_cpu();
    enum { C = 5, H = 7, W = 9 };
    float in[C * H * W], out[C];
    fill(in, C * H * W, 3);
    cpu->avgpool_forward(in, 1, C, H, W, out);
    for (int k = 0; k < C; ++k) {
        float e = dn_avgpool1(in + k * H * W, H * W);
        assert_memory_equal(&e, &out[k], sizeof e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maxpool_gather_equals_scatter),
        cmocka_unit_test(avgpool_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
