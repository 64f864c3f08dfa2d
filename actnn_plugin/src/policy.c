/* policy.c: mixed-precision bit allocation (ActNN's per-sample and per-layer schemes).
 *
 * Minimise sum_k C_k / (2^b_k - 1)^2 over b_k in [1, 8] subject to
 * sum_k w_k b_k <= avg * sum_k w_k. The cost of one item is convex and decreasing in b,
 * so with equal weights removing, one bit at a time, the bit whose removal raises the
 * objective least is exactly optimal (separable convex resource allocation). With
 * unequal weights the same greedy ranks bits by cost increase per unit of weight, then
 * a second pass spends any budget left over on the best bits that still fit, and a
 * third tries "one bit more here, the cheapest bits fewer elsewhere" moves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "allocmath.h"
#include "internal.h"

typedef struct {
    const double *cost, *weight;
    uint8_t *bits;
    double *key; /* per item: objective increase per weight of removing its next bit */
    size_t *heap, n;
} alloc_state;

static double inv_levels2(int b) { return am_inv_levels2(b); }

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

/* Objective change of one more / one less bit for item k (both >= 0). */
static double gain_add(const alloc_state *s, size_t k)
{
    int b = s->bits[k];
    return s->cost[k] * (inv_levels2(b) - inv_levels2(b + 1));
}

static double loss_remove(const alloc_state *s, size_t k)
{
    int b = s->bits[k];
    return s->cost[k] * (inv_levels2(b - 1) - inv_levels2(b));
}

/* Phase 3 (unequal weights): the greedy can strand bits on a heavy item that would do
 * more good elsewhere, or the reverse. Try each move "one more bit to item i, then take
 * the cheapest bits (loss per weight) from the other items until the budget fits again"
 * and keep it if the objective drops. O(n^2) per move, so bounded (EXCHANGE_MAX_*). */
#define EXCHANGE_MAX_N 512
#define EXCHANGE_MAX_MOVES 64

/* Cheapest bit to take from an item other than i, or s->n if none is left. */
static size_t cheapest_removal(const alloc_state *s, size_t i)
{
    size_t best = s->n;
    double best_key = 0.0;
    for (size_t j = 0; j < s->n; ++j) {
        if (j == i || s->bits[j] <= ACTNN_AUTO_MIN_BITS) continue;
        double key = loss_remove(s, j) / weight_of(s, j);
        if (best == s->n || key < best_key) best = j, best_key = key;
    }
    return best;
}

/* Applies the move for item i if it lowers the objective; restores bits otherwise. */
static int try_add_repair(alloc_state *s, size_t i, double *total, double budget,
                          uint8_t *saved)
{
    memcpy(saved, s->bits, s->n);
    double g = gain_add(s, i), delta = -g, t = *total + weight_of(s, i);
    s->bits[i]++;
    while (t > budget) {
        size_t j = cheapest_removal(s, i);
        if (j == s->n) break;
        delta += loss_remove(s, j);
        s->bits[j]--;
        t -= weight_of(s, j);
    }
    /* The relative margin keeps rounding noise from cycling between equal states. */
    if (t <= budget && delta < -1e-12 * g) {
        *total = t;
        return 1;
    }
    memcpy(s->bits, saved, s->n);
    return 0;
}

static int exchange_once(alloc_state *s, double *total, double budget, uint8_t *saved)
{
    for (size_t i = 0; i < s->n; ++i)
        if (s->bits[i] < ACTNN_AUTO_MAX_BITS && try_add_repair(s, i, total, budget, saved))
            return 1;
    return 0;
}

static double total_weight(const alloc_state *s)
{
    double t = 0.0;
    for (size_t k = 0; k < s->n; ++k) t += weight_of(s, k) * s->bits[k];
    return t;
}

static void greedy_exchange(alloc_state *s, double budget)
{
    uint8_t saved[EXCHANGE_MAX_N];
    if (s->n > EXCHANGE_MAX_N) return;
    double total = total_weight(s);
    for (int m = 0; m < EXCHANGE_MAX_MOVES && exchange_once(s, &total, budget, saved); ++m) {
        greedy_refill(s, total, budget);
        total = total_weight(s);
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
    if (weight) {
        greedy_refill(&s, total, budget);
        greedy_exchange(&s, budget);
    }
    free(s.key);
    free(s.heap);
    return ACTNN_OK;
}

int actnn_alloc_bits_sum(size_t n, double avg_bits, size_t *sum)
{
    if (!sum) return ACTNN_E_NULL;
    if (n == 0) return ACTNN_E_SIZE;
    if (!(avg_bits >= ACTNN_AUTO_MIN_BITS) || !isfinite(avg_bits)) return ACTNN_E_PARAM;
    if (n > SIZE_MAX / ACTNN_AUTO_MAX_BITS) return ACTNN_E_TOO_LARGE;
    *sum = (size_t)ACTNN_AUTO_MAX_BITS * n - am_removals(n, avg_bits);
    return ACTNN_OK;
}

int actnn_alloc_bits_each(const double *cost, size_t n, double avg_bits, uint8_t *bits)
{
    if (!cost || !bits) return ACTNN_E_NULL;
    size_t sum = 0;
    int err = actnn_alloc_bits_sum(n, avg_bits, &sum);
    if (err) return err;
    size_t R = (size_t)ACTNN_AUTO_MAX_BITS * n - sum;
    am_steps st = am_make_steps();
    int zero = 0;
    for (size_t k = 0; k < n; ++k) zero |= !am_cost_ok(cost[k]);
    for (size_t k = 0; k < n; ++k) bits[k] = (uint8_t)am_width(cost, n, &st, k, R, zero);
    return zero ? ACTNN_E_NONFINITE : ACTNN_OK;
}

static int split_of(size_t n, double avg, int *lo, size_t *up)
{
    if (n == 0) return ACTNN_E_SIZE;
    return am_split(n, avg, lo, up) ? ACTNN_OK : ACTNN_E_PARAM;
}

int actnn_split_bits(size_t n, double avg_bits, uint8_t *bits)
{
    int lo = 0;
    size_t up = 0;
    if (!bits) return ACTNN_E_NULL;
    int err = split_of(n, avg_bits, &lo, &up);
    for (size_t i = 0; !err && i < n; ++i) bits[i] = (uint8_t)(lo + (i < up));
    return err;
}

int actnn_split_bits_sum(size_t n, double avg_bits, size_t *sum)
{
    int lo = 0;
    size_t up = 0;
    if (!sum) return ACTNN_E_NULL;
    int err = split_of(n, avg_bits, &lo, &up);
    if (!err && n > SIZE_MAX / ACTNN_AUTO_MAX_BITS) err = ACTNN_E_TOO_LARGE;
    if (!err) *sum = (size_t)lo * n + up;
    return err;
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

/* C_n = sensitivity * sum_g R_{n,g}^2: the part of ActNN's per-sample weight that the
 * plugin can see. Layer factors (kernel size, G/I, the gradient norm) are constant over
 * a layer's samples, so the framework folds them into `sensitivity`; they matter only
 * when layers compete (actnn_alloc_layers). */
int actnn_sample_costs(const float *x, size_t N, size_t D, size_t G, double sensitivity,
                       double *cost)
{
    if (!x || !cost) return ACTNN_E_NULL;
    if (N == 0 || D == 0) return ACTNN_E_SIZE;
    if (!isfinite(sensitivity) || sensitivity < 0) return ACTNN_E_PARAM;
    for (size_t n = 0; n < N; ++n) {
        double r2;
        int err = actnn_range_stat(x + n * D, D, G, &r2);
        if (err) return err;
        cost[n] = sensitivity * r2;
    }
    return ACTNN_OK;
}
