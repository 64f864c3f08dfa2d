/* Batch-norm state of one layer (parameters and per-batch scratch), shared by the layers
 * that normalise and the backends that compute on it. In a device run every float array
 * lives in the backend's memory, `acc` too (the bn_stats_* ops write it). No kernels. */
#ifndef DN_BN_STATE_H
#define DN_BN_STATE_H

typedef struct {
    int n;                     /* channels */
    float *scales, *biases;    /* gamma, beta (parameters) */
    float *rolling_mean, *rolling_variance;
    float *mean, *variance;    /* batch statistics of the last training forward */
    float *sum_d, *sum_dx;     /* backward scratch: per-channel sums */
    double *acc;               /* forward: per-channel sum and sum of squares (2n) */
} bn_state;

/* sync_bn (src/dist): when set, the CPU backend's bn_stats_end sums every rank's
 * per-channel sums (2n doubles) before it derives the statistics, and bn_backward_params
 * sums sum_d and sum_dx after adding the local ones to the gradients (those are summed
 * with the other gradients), so N ranks normalise with the statistics of the global
 * batch. `ranks` scales the counts. NULL (the default): per-rank statistics. The CUDA
 * backend does not take it (src/dist refuses sync_bn on a device backend). */
typedef struct {
    void (*sum_f64)(double *x, int n);
    void (*sum_f32)(float *x, int n);
    int ranks;
} bn_sync_ops;
void bn_set_sync(const bn_sync_ops *ops);

/* Host allocation of the statistics and scratch arrays (the parameter pointers are the
 * layer's). 0, or -1 when out of memory (nothing left allocated). */
int bn_alloc(bn_state *b, int n);
void bn_free(bn_state *b);

#endif
