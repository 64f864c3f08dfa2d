/* finite_check.h */
#include "core/finite_check.h"
#include "core/place.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/net_internal.h"

/* Host arrays (the CPU backend's or a device's mirror): the CPU backend's scan. */
static int any_bad(const float *a, size_t n)
{
    float flag = 0;
    dn_backend_cpu()->nonfinite_mark(a, n, &flag);
    return flag != 0;
}

size_t finite_first_bad(const float *a, size_t n)
{
    if (!a || !any_bad(a, n)) return n;
    for (size_t i = 0; i < n; ++i)
        if (!isfinite(a[i])) return i;
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
    net->nan_marks = 1;       /* on a device: marked there, pulled by finite_check_iteration */
}

static int host_weights(const network *net)
{
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        for (int k = 0; k < l->nwf; ++k)
            if (finite_first_bad(l->wf[k].data, l->wf[k].n) < l->wf[k].n) return i;
    }
    return -1;
}

/* The watch's first finding from a device's marks: forward runs 0..n-1, then backward
 * n-1..0, as the hooks would have seen them. */
static void watch_from_marks(finite_watch *w, const float *m, int n)
{
    for (int i = 0; i < n && w->layer < 0; ++i)
        if (m[3 * i] != 0) *w = (finite_watch){i, "output (forward)"};
    for (int i = n - 1; i >= 0 && w->layer < 0; --i)
        if (m[3 * i + 1] != 0) *w = (finite_watch){i, "delta (backward)"};
}

/* A device run: every weights array is marked on the device and the marks (3 floats a
 * layer) come back in one copy, instead of every parameter. Arrays that stay on the host
 * (not moved) are scanned here. The marks are cleared for the next iteration. */
static int device_check(network *net, finite_watch *w)
{
    const dn_backend *be = net->be;
    float *flags = network_nan_flags(net);
    size_t nf = 3 * (size_t)net->n;
    float *m = flags ? malloc(nf * sizeof(float)) : NULL;
    if (!m) { /* no op or no memory: the host mirrors, brought up to date */
        if (place_pull_all(net)) return 0;
        return host_weights(net);
    }
    int host_bad = -1;
    for (int i = 0; i < net->n; ++i) {
        const layer *l = &net->layers[i];
        for (int k = 0; k < l->nwf; ++k) {
            float *d = place_dev_of(net, l->wf[k].data);
            if (d) be->nonfinite_mark(d, l->wf[k].n, flags + 3 * (size_t)i + 2);
            else if (host_bad < 0 && finite_first_bad(l->wf[k].data, l->wf[k].n) < l->wf[k].n)
                host_bad = i;
        }
    }
    int wl = 0; /* a failed copy stops training as a non-finite weight would */
    if (!be->pull(m, flags, nf * sizeof(float)) && !be->error()) {
        wl = -1;
        for (int i = 0; i < net->n && wl < 0; ++i)
            if (m[3 * i + 2] != 0 || i == host_bad) wl = i;
        if (w && net->nan_marks) watch_from_marks(w, m, net->n);
    }
    be->fill(flags, nf, 0);
    free(m);
    return wl;
}

int finite_check_weights(const network *net)
{
    if (net->be->device) return device_check((network *)net, NULL);
    return host_weights(net);
}

int finite_check_iteration(network *net, finite_watch *w)
{
    if (net->be->device) return device_check(net, w);
    return host_weights(net);
}
