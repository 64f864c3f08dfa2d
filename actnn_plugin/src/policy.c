/* policy.c: mixed-precision bit allocation (ActNN's per-sample and per-layer schemes).
 *
 * Minimise sum_k C_k / (2^b_k - 1)^2 over b_k in [1, 8] subject to
 * sum_k w_k b_k <= avg * sum_k w_k. The cost of one item is convex and decreasing in b,
 * so with equal weights removing, one bit at a time, the bit whose removal raises the
 * objective least is exactly optimal (separable convex resource allocation). With
 * unequal weights the same greedy ranks bits by cost increase per unit of weight, then
 * a second pass spends any budget left over on the best bits that still fit. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

typedef struct {
    const double *cost, *weight;
    uint8_t *bits;
    double *key; /* per item: objective increase per weight of removing its next bit */
    size_t *heap, n;
} alloc_state;

static double inv_levels2(int b)
{
    double l = (double)((1u << b) - 1u);
    return 1.0 / (l * l);
}

static double weight_of(const alloc_state *s, size_t k) { return s->weight ? s->weight[k] : 1.0; }

static double removal_key(const alloc_state *s, size_t k)
{
    int b = s->bits[k];
    return s->cost[k] * (inv_levels2(b - 1) - inv_levels2(b)) / weight_of(s, k);
}

/* Min-heap on (key, index): ties broken by index, so the result is deterministic. */
static int heap_less(const alloc_state *s, size_t a, size_t b)
{
    return s->key[a] < s->key[b] || (s->key[a] == s->key[b] && a < b);
}

static void heap_sift_down(alloc_state *s, size_t i, size_t len)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && heap_less(s, s->heap[l], s->heap[m])) m = l;
        if (r < len && heap_less(s, s->heap[r], s->heap[m])) m = r;
        if (m == i) return;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

/* Phase 1: from 8 bits everywhere, take bits until the weighted sum fits the budget. */
static double greedy_remove(alloc_state *s, double total, double budget)
{
    size_t len = 0;
    for (size_t k = 0; k < s->n; ++k) {
        s->bits[k] = ACTNN_AUTO_MAX_BITS;
        s->key[k] = removal_key(s, k);
        s->heap[len++] = k;
    }
    for (size_t i = len / 2; i-- > 0;) heap_sift_down(s, i, len);
    while (total > budget && len > 0) {
        size_t k = s->heap[0];
        s->bits[k]--;
        total -= weight_of(s, k);
        if (s->bits[k] > ACTNN_AUTO_MIN_BITS) {
            s->key[k] = removal_key(s, k);
        } else {
            s->heap[0] = s->heap[--len];
        }
        heap_sift_down(s, 0, len);
    }
    return total;
}

/* Phase 2: with unequal weights the last removal may leave budget unused; add back
 * the bit with the best objective decrease per weight among those that fit. */
static void greedy_refill(alloc_state *s, double total, double budget)
{
    for (;;) {
        size_t best = s->n;
        double best_gain = 0.0;
        for (size_t k = 0; k < s->n; ++k) {
            int b = s->bits[k];
            if (b >= ACTNN_AUTO_MAX_BITS || total + weight_of(s, k) > budget) continue;
            double gain = s->cost[k] * (inv_levels2(b) - inv_levels2(b + 1)) / weight_of(s, k);
            if (best == s->n || gain > best_gain) best = k, best_gain = gain;
        }
        if (best == s->n) return;
        s->bits[best]++;
        total += weight_of(s, best);
    }
}

static int check_items(const double *cost, const double *weight, size_t n, double avg)
{
    if (!(avg >= ACTNN_AUTO_MIN_BITS) || !isfinite(avg)) return ACTNN_E_PARAM;
    for (size_t k = 0; k < n; ++k) {
        if (!isfinite(cost[k]) || cost[k] < 0) return ACTNN_E_PARAM;
        if (weight && (!isfinite(weight[k]) || !(weight[k] > 0))) return ACTNN_E_PARAM;
    }
    return ACTNN_OK;
}

int actnn_alloc_bits(const double *cost, const double *weight, size_t n, double avg_bits,
                     uint8_t *bits)
{
    if (!cost || !bits) return ACTNN_E_NULL;
    if (n == 0) return ACTNN_E_SIZE;
    int err = check_items(cost, weight, n, avg_bits);
    if (err) return err;
    double wsum = 0.0;
    for (size_t k = 0; k < n; ++k) wsum += weight ? weight[k] : 1.0;
    /* The slack absorbs rounding in the sums; integer weights below 2^53 are exact. */
    double budget = avg_bits * wsum * (1.0 + 1e-12);
    alloc_state s = {.cost = cost, .weight = weight, .bits = bits, .n = n,
                     .key = malloc(n * sizeof(double)), .heap = malloc(n * sizeof(size_t))};
    if (!s.key || !s.heap) {
        free(s.key);
        free(s.heap);
        return ACTNN_E_NOMEM;
    }
    double total = greedy_remove(&s, ACTNN_AUTO_MAX_BITS * wsum, budget);
    if (weight) greedy_refill(&s, total, budget);
    free(s.key);
    free(s.heap);
    return ACTNN_OK;
}

int actnn_alloc_layers(const double *cost, const size_t *elems, size_t L, size_t N,
                       double avg_bits, double *layer_bits, uint8_t *sample_bits)
{
    if (!cost || !elems || !layer_bits) return ACTNN_E_NULL;
    if (L == 0 || N == 0) return ACTNN_E_SIZE;
    if (L > SIZE_MAX / N / sizeof(double)) return ACTNN_E_TOO_LARGE;
    size_t n = L * N;
    double *w = malloc(n * sizeof *w);
    uint8_t *b = sample_bits ? sample_bits : malloc(n);
    if (!w || !b) {
        free(w);
        if (b != sample_bits) free(b);
        return ACTNN_E_NOMEM;
    }
    for (size_t k = 0; k < n; ++k) w[k] = (double)elems[k / N];
    int err = actnn_alloc_bits(cost, w, n, avg_bits, b);
    for (size_t l = 0; !err && l < L; ++l) {
        double sum = 0.0;
        for (size_t k = 0; k < N; ++k) sum += b[l * N + k];
        layer_bits[l] = sum / (double)N;
    }
    free(w);
    if (b != sample_bits) free(b);
    return err;
}
