#include "core/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* The update runs on the backend that holds the parameters (a->be). */
void param_update(param *p, const update_args *a)
{
    if (!p->grad) return;
    float decay_batch = p->decay ? a->decay * a->batch : 0;
    if (a->adam && p->m) {
        float b1t = 1.f - powf(a->B1, (float)a->t), b2t = 1.f - powf(a->B2, (float)a->t);
        a->be->adam_update(p->w, p->grad, p->m, p->v, p->n, decay_batch, a->learning_rate, a->B1,
                           a->B2, b1t, b2t, a->eps);
        return;
    }
    a->be->sgd_update(p->w, p->grad, p->n, decay_batch, a->learning_rate / a->batch, a->momentum);
}

static int alloc_moments(param *p)
{
    if (!p->m && !(p->m = calloc(p->n ? p->n : 1, sizeof(float)))) return -1;
    if (!p->v && !(p->v = calloc(p->n ? p->n : 1, sizeof(float)))) return -1;
    return 0;
}

float *params_alloc_grads(layer *layers, int n, int adam, size_t *floats)
{
    size_t total = 0;
    for (int i = n - 1; i >= 0; --i)
        for (int k = 0; k < layers[i].nparams; ++k) total += layers[i].params[k].n;
    /* 64-byte aligned start: the vector loops over the first gradients load aligned. */
    size_t bytes = ((total ? total : 1) * sizeof(float) + 63) / 64 * 64;
    float *block = aligned_alloc(64, bytes);
    if (!block) return NULL;
    memset(block, 0, bytes);
    if (adam)
        for (int i = 0; i < n; ++i)
            for (int k = 0; k < layers[i].nparams; ++k)
                if (alloc_moments(&layers[i].params[k])) {
                    free(block); /* the moments already made are freed with their params */
                    return NULL;
                }
    size_t off = 0;
    for (int i = n - 1; i >= 0; --i)
        for (int k = 0; k < layers[i].nparams; ++k) {
            layers[i].params[k].grad = block + off;
            off += layers[i].params[k].n;
        }
    *floats = total;
    return block;
}

void param_free(param *p)
{
    free(p->w); free(p->m); free(p->v);
    memset(p, 0, sizeof(*p));
}
