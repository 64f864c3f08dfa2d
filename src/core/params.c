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

int param_alloc_grad(param *p, int use_adam)
{
    if (!p->grad && !(p->grad = calloc(p->n ? p->n : 1, sizeof(float)))) return -1;
    if (use_adam) {
        if (!p->m && !(p->m = calloc(p->n ? p->n : 1, sizeof(float)))) return -1;
        if (!p->v && !(p->v = calloc(p->n ? p->n : 1, sizeof(float)))) return -1;
    }
    return 0;
}

void param_free(param *p)
{
    free(p->w); free(p->grad); free(p->m); free(p->v);
    memset(p, 0, sizeof(*p));
}
