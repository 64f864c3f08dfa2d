/* finite_check.h */
#include "core/finite_check.h"
#include "core/place.h"

#include <string.h>

/* An IEEE float is inf or NaN exactly when its exponent bits are all ones. */
#define EXP_MASK 0x7f800000u

static int any_bad(const float *a, size_t n)
{
    uint32_t worst = 0;
    for (size_t i = 0; i < n; ++i) {
        uint32_t b;
        memcpy(&b, &a[i], sizeof(b));
        b &= EXP_MASK;
        worst = b > worst ? b : worst;
    }
    return worst == EXP_MASK;
}

size_t finite_first_bad(const float *a, size_t n)
{
    if (!a || !any_bad(a, n)) return n;
    for (size_t i = 0; i < n; ++i) {
        uint32_t b;
        memcpy(&b, &a[i], sizeof(b));
        if ((b & EXP_MASK) == EXP_MASK) return i;
    }
    return n;
}

static void watch(finite_watch *w, const layer *l, const float *a, size_t n, const char *phase)
{
    if (w->layer >= 0 || !a || !any_bad(a, n)) return;
    w->layer = l->index;
    w->phase = phase;
}

static void on_forward(void *ud, const layer *l, const float *out, size_t n)
{
    finite_watch *w = ud;
    watch(w, l, out, n, "output (forward)");
}

static void on_backward(void *ud, const layer *l, const float *delta, size_t n)
{
    finite_watch *w = ud;
    watch(w, l, delta, n, "delta (backward)");
}

void finite_watch_attach(network *net, finite_watch *w)
{
    w->layer = -1;
    w->phase = NULL;
    net->hook = on_forward;
    net->bhook = on_backward;
    net->hook_ud = w;
    net->hook_any_layout = 1; /* any slice of values will do: plans stay as without it */
}

int finite_check_weights(const network *net)
{
    /* a device run checks the host mirrors, brought up to date first (only they change) */
    if (net->be->device && place_pull_all((network *)net)) return 0;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        for (int k = 0; k < l->nwf; ++k)
            if (finite_first_bad(l->wf[k].data, l->wf[k].n) < l->wf[k].n) return i;
    }
    return -1;
}
