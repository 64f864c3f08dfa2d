/* Optimizer kernels of the CPU backend (backend.h): Darknet's SGD and pjreddie's adam,
 * moved here from params.c unchanged. */
#include "backend/cpu/cpu_ops.h"

#include <math.h>

#include "backend/cpu/blas.h"

void cpu_sgd_update(float *w, float *g, size_t n, float decay_batch, float lr_batch, float momentum)
{
    if (decay_batch != 0) axpy_f(g, w, n, -decay_batch);
    axpy_f(w, g, n, lr_batch);
    scal_f(g, n, momentum);
}

void cpu_adam_update(float *w, float *g, float *m, float *v, size_t n, float decay_batch, float lr,
                     float B1, float B2, float b1t, float b2t, float eps)
{
    for (size_t i = 0; i < n; ++i) {
        float gi = g[i];
        if (decay_batch != 0) gi += -decay_batch * w[i];
        m[i] = B1 * m[i] + (1 - B1) * gi;
        v[i] = B2 * v[i] + (1 - B2) * gi * gi;
        float mh = m[i] / b1t, vh = v[i] / b2t;
        w[i] += lr * mh / (sqrtf(vh) + eps);
        g[i] = 0;
    }
}
