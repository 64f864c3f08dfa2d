#include "core/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/blas.h"

static void sgd(param *p, const update_args *a)
{
    if (p->decay) axpy_f(p->grad, p->w, p->n, -a->decay * a->batch);
    axpy_f(p->w, p->grad, p->n, a->learning_rate / a->batch);
    scal_f(p->grad, p->n, a->momentum);
}

static void adam(param *p, const update_args *a)
{
    float b1t = 1.f - powf(a->B1, (float)a->t), b2t = 1.f - powf(a->B2, (float)a->t);
    for (size_t i = 0; i < p->n; ++i) {
        float g = p->grad[i];
        if (p->decay) g += -a->decay * a->batch * p->w[i];
        p->m[i] = a->B1 * p->m[i] + (1 - a->B1) * g;
        p->v[i] = a->B2 * p->v[i] + (1 - a->B2) * g * g;
        float mh = p->m[i] / b1t, vh = p->v[i] / b2t;
        p->w[i] += a->learning_rate * mh / (sqrtf(vh) + a->eps);
        p->grad[i] = 0;
    }
}

void param_update(param *p, const update_args *a)
{
    if (!p->grad) return;
    if (a->adam && p->m) adam(p, a);
    else sgd(p, a);
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
