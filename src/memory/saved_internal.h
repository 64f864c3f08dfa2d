/* The saved-activation store's structures, shared by saved.c (saving and restoring) and
 * saved_auto.c (per-layer mixed precision). Layers never include this. */
#ifndef DN_SAVED_INTERNAL_H
#define DN_SAVED_INTERNAL_H

#include "actnn.h"
#include "memory/saved.h"
#include "memory/swap_window.h"

typedef enum { SK_NONE, SK_ALIVE, SK_TENSOR, SK_MASK, SK_CODES, SK_DROPOUT } sv_kind;

typedef struct {
    sv_kind kind;
    size_t d;
    int bits;       /* tensors: bits (the rounded average when mixed); codes: width */
    int keep;       /* saved with alive=1: kept, not copied, at 32 bits */
    const float *alive;
    size_t stride;  /* floats between the kept buffer's samples */
    actnn_tensor *t;
    actnn_mask *m;
    actnn_codes *c;
    actnn_dropout *dr;
    size_t bytes, fp32_bytes;
    /* A quantized tensor in backend memory (dt.payload not NULL; t is NULL then): saved and
     * restored by the backend's act_save/act_restore, its bytes in the store's device pool
     * (own: a block of its own, when the pool was too small this iteration). */
    actnn_raw_tensor dt;
    size_t dpay, dmeta; /* its payload and metadata bytes (raw layout) */
    /* Any entry in backend memory: its block (the tensor's payload, or the words of a mask
     * or codes, actnn.h's caller-memory layout), from the pool unless dev_own. */
    void *dmem;
    size_t dev_bytes;
    int dev_own;
    /* actnn_swap=1 (saved_swap.c): the block's bytes in host memory once written (dmem,
     * dt.payload, dt.meta and dt.sample_bits are NULL then), until backward brings them
     * back into the store's swap window; dbits: the block holds per-sample widths after
     * the metadata. host_own: a host block of its own (not the host pool's). pull_ticket:
     * the copy filling host; fetching: dmem is the target of push ticket `ticket`, not
     * yet waited for. */
    void *host;
    int dbits, host_own, fetching;
    uint64_t pull_ticket, ticket;
    /* A dropout on a device: its key, applied by the backend's act_dropout (dr is NULL). */
    uint64_t dr_seed, dr_id;
    float dr_p;
    /* Borrowing (saved_share.c). from1: the producer's index + 2 when the entry holds the
     * layer's whole input unchanged (0: not an input, or a borrowing entry). share_len > 0:
     * the entry holds only values [own_off, own_off + d) of each sample of its layer's
     * input; the other share_len values (a prefix or suffix: a route's source) are those of
     * layer share_layer's slot share_slot, which saved the same producer's output. */
    int from1;
    int share_layer, share_slot;
    size_t share_len, own_off;
} sv_entry;

/* What actnn_auto keeps of a slot across iterations (saved_auto.c). A slot joins the
 * per-layer allocation once its layer reported a gradient statistic (sv_note_grad) or
 * tied it to another slot (sv_follow). */
typedef struct {
    double *cost;   /* per-sample sum of squared group ranges of the last save */
    size_t n, cap;  /* samples in cost, allocated entries */
    size_t d;       /* values per sample of the last save */
    int cfg_bits;   /* the layer's configured bits: its share of the budget */
    double sens;    /* layer factor times the mean squared output gradient; < 0: none yet */
    double grad_sum;/* sum of squared output gradients over the chunks seen so far */
    int lead;       /* slot whose bits this one takes (-1: its own) */
    int lost;       /* a chunk's costs of this mini-batch could not be had (saved_devstats.c) */
    double bits;    /* average bits from the last allocation (0: none yet) */
} sv_auto;

/* One save's costs on a device (actnn_auto with per-layer allocation), waiting for
 * saved_stats_flush to record them (saved_auto_record's arguments): dcost[off, off + n). */
typedef struct sv_cnote {
    struct saved_state *st;
    int slot, bits;
    size_t off, first, n, total, d;
} sv_cnote;

/* The call's costs (act_sample_stats, ACTNN_STAT_RANGE) of x->batch samples into the
 * device vector, noted for the allocation when it runs: *where (backend memory) for
 * act_auto_bits. ACTNN_OK or the statistics' error (saved_devstats.c). */
int sv_cost_defer(layer_ctx *x, int slot, const float *data, size_t d, size_t stride,
                  const double **where);
/* The store's device statistics and notes, released (saved_store_free). */
void saved_devstats_free(saved_store *s);

/* One sv_note_grad call of a device run, waiting for saved_stats_flush: its sums are
 * dgrad[off, off + n). first: the mini-batch's first chunk (the slot's sum restarts);
 * last: its last (the slot's factor is set, over `total` samples). */
typedef struct sv_gnote {
    sv_auto *a;
    size_t off, n, total;
    double factor;
    int first, last;
} sv_gnote;

/* Adds a call's per-sample sums (sq: its n doubles, NULL when they could not be had) to
 * its slot, in sample order: the same doubles on every backend (saved_auto.c). */
void sv_apply_grad(const saved_store *s, const sv_gnote *g, const double *sq);
/* Queues a call's sums on the device (0), or 1 when the caller must compute them now
 * (not a device run, or no room: what was queued is applied first, so the order holds). */
int sv_grad_defer(layer_ctx *x, const float *delta, size_t d, size_t stride, const sv_gnote *g);

struct saved_state {
    saved_store *store;
    int layer;
    sv_entry e[SV_SLOTS];
    sv_auto a[SV_SLOTS];
};

struct saved_store {
    int n;
    saved_state *st;
    saved_stats stats;
    actnn_ctx *ctx;
    size_t group;   /* the context's group size */
    uint64_t iter;
    int auto_on;    /* actnn_auto: per-sample bits in every save */
    int auto_layers;/* and per-layer averages from saved_auto_allocate */
    char err[256];
    /* host staging of a device run (layer_ctx be->device): samples are pulled here before
     * the plugin reads them and restored here before they are pushed (saved.c) */
    float *stage;
    size_t stage_floats;
    /* device entries (sv_entry.dmem): one backend block handed out in save order and taken
     * back whole once every device entry is dropped (after each backward). Sized from the
     * plan before training (saved_pool_reserve) or, without one, by the first iteration
     * (it grows once, when an iteration asks more, to that iteration's bound: what its
     * saves take at the most, whatever bits actnn_auto moves): a steady-state iteration
     * allocates nothing. */
    const dn_backend *dbe; /* the backend of the pool and of the own blocks */
    char *dpool;
    size_t dpool_bytes, dpool_top, dpool_want;
    size_t dpool_bound;    /* the iteration's saves at their most (dpool_take) */
    int dpool_live;        /* device tensors not yet dropped */
    size_t dev_saves;      /* act_* calls that saved (tests: the device path ran) */
    size_t dev_kind[SK_DROPOUT + 1]; /* the same per kind (dropout: act_dropout calls) */
    size_t staged;         /* host staging copies of a device run (saved.c stage()) */
    size_t xhat_ranges;    /* sv_fused_ranges calls (tests: the CPU took that path) */
    size_t dev_own_blocks; /* tensors given a block of their own (the pool too small) */
    size_t dpool_allocs;   /* times the pool was (re)allocated */
    /* actnn_auto on a device: the per-sample statistics (act_sample_stats) land here, and
     * only these doubles are pulled; kept across calls, grown to the largest call */
    const dn_backend *dstat_be;
    double *dstat;
    size_t dstat_n;
    size_t dev_stats;      /* act_sample_stats calls (tests: the device path ran) */
    /* with act_auto_bits, the saves' costs: the widths are written from them on the
     * device, and they come back for the per-layer allocation at saved_stats_flush */
    double *dcost;
    size_t dcost_n, dcost_top;
    struct sv_cnote *cnote;
    int ncnote, capcnote;
    size_t cost_pulls;     /* flushes that pulled costs (tests: one per iteration) */
    size_t cost_noted;     /* saves whose costs were queued (tests: all of them) */
    /* and the per-sample sums of squared deltas (sv_note_grad), left on the device until
     * the backward ends (saved_stats_flush): one pull an iteration instead of one wait for
     * the device per layer. Reserved with dstat for one sum per layer and sample. */
    double *dgrad;
    size_t dgrad_n, dgrad_top;
    struct sv_gnote *gnote;
    int ngnote, capgnote;
    size_t grad_pulls;     /* flushes that pulled (tests: one per backward) */
    size_t grad_noted;     /* calls queued there (tests: none computed at once) */
    /* actnn_swap=1 on a device: entries move to host memory once written and come back
     * into this window for their backward, instead of staying in the pool */
    int swap;
    int pending;    /* a swapped block could not come back (saved_take_failure) */
    swap_window swin;
    /* device blocks whose pull has not been waited for: back to the window once it is */
    struct sv_retiring { void *blk; size_t bytes; int own, side; uint64_t ticket; } *ret;
    int nret, capret;
    int swap_unit;  /* the unit (plan_unit) of the last window take; -1 before any */
    /* the host side: one pool (page-locked with the backend's host_alloc) handed out in
     * save order and reset once every block is back, as the device pool; own blocks
     * while it is too small */
    char *hpool;
    size_t hpool_bytes, hpool_top, hpool_want;
    int hpool_live;
    size_t swap_outs, swap_ins;          /* blocks moved out and back */
    size_t swap_prefetches;              /* of those back, started ahead of their backward */
    size_t swap_host, swap_host_peak;    /* bytes held on the host, and their peak */
};

/* Device blocks of the saved store start on 256-byte lines (payload, metadata, widths). */
static inline size_t sv_dalign(size_t v) { return (v + 255) & ~(size_t)255; }

/* An entry's pointers into its device block at blk (NULL: not on the device): the block
 * itself for a mask or codes; a tensor's payload, then its metadata, then its per-sample
 * widths (dbits), each on a 256-byte line (dpay, dmeta give the sizes). */
void sv_point_block(sv_entry *e, char *blk);

/* ---- actnn_swap=1 (saved_swap.c) ----
 * swap_dev_take / swap_dev_give: a device block from / to the window (waiting for pulls
 * whose blocks it needs). swap_block_out: the block of e (its last sample written) to the
 * host; swap_block_in: back on the device and ready to read (a prefetched block is only
 * waited for). Both ACTNN_OK or an ACTNN_E_* code. swap_drop: e's host side (waiting for
 * a copy still using its memory). swap_retire_all: every pull waited for and its block
 * returned. swap_free: at the store's end. A block is taken for a unit (plan_unit: a
 * layer or a streamed segment) on its window side (plan_unit_parity, swap_window.h). */
typedef struct {
    int unit, side;
} sv_unit;
char *swap_dev_take(saved_store *s, const dn_backend *be, size_t bytes, sv_unit u, int *own);
void swap_dev_give(saved_store *s, void *blk, size_t bytes, int own);
int swap_block_out(saved_store *s, const dn_backend *be, sv_entry *e, int side);
int swap_block_in(saved_store *s, const dn_backend *be, sv_entry *e, sv_unit u);
void swap_drop(saved_store *s, sv_entry *e);
void swap_retire_all(saved_store *s);
void swap_free(saved_store *s);

/* ---- borrowing a route source another layer saved (saved_share.c) ----
 * A layer whose input is a concatenating [route] saves, in full, sources that an earlier
 * layer already saved as its whole input (yolov4-tiny's CSP blocks: layer 7 reads route
 * 6 = [5, 4], and layer 5 saved layer 4's output). The borrowed part is restored from the
 * lender, which lives until its own backward, after the borrower's. Each part is an
 * unbiased restore of the same values, so the borrower's weight gradient stays unbiased;
 * its noise is now shared with the lender's (the two gradients' errors correlate, their
 * expectations do not move). With actnn_auto the borrower's own part is allocated by its
 * own costs and sensitivity, the borrowed part keeps the lender's bits. Not with actnn_swap
 * (the lender's block would have to come back early). */
typedef struct {
    int layer, slot;   /* the lender */
    size_t len, own_off;
} sv_share;
/* Whether the save of (data, d) by x's layer may borrow (a whole-batch decision, made by
 * the first chunk and kept by the others): 1 with *out set, else 0. */
int share_find(layer_ctx *x, int slot, const float *data, size_t d, sv_share *out);
void share_set(sv_entry *e, const sv_share *sh);
/* from1 of a save of (data, d) by x's layer (sv_entry). */
int share_input_of(const layer_ctx *x, const float *data, size_t d);
/* A borrowing entry's sample i, stitched into scratch (d + share_len floats in x's
 * backend memory), and its values [j0, j0 + len) (host only, into buf). A lender that is
 * gone sets the store's failure (saved_take_failure) and its message. */
const float *share_restore(layer_ctx *x, sv_entry *e, size_t i, float *scratch);
const float *share_part(layer_ctx *x, sv_entry *e, size_t i, size_t j0, size_t len, float *buf);
/* An entry's own sample (saved.c): a pointer to its d floats, maybe not into scratch. */
const float *sv_entry_restore(layer_ctx *x, sv_entry *e, size_t i, float *scratch);
const float *sv_entry_part(layer_ctx *x, sv_entry *e, size_t i, size_t j0, size_t len,
                           float *buf);

/* Whether a call's buffers are device memory (a test's hand-made context may have no be). */
#define SV_ON_DEVICE(x) ((x)->be && (x)->be->device)

/* Host view of n samples of d floats `stride` apart in x's backend memory: the data itself
 * on the host, else a packed copy in the store's staging buffer (stride d). NULL when out
 * of memory or the copy failed. */
const float *saved_host_view(layer_ctx *x, const float *data, size_t n, size_t d, size_t stride);

/* actnn_sample_stats (kind ACTNN_STAT_*) of n samples of d floats `stride` apart in x's
 * backend memory into the host array out: on a device through the backend's
 * act_sample_stats (only the n doubles are pulled), else by the host library. The same
 * doubles either way. ACTNN_OK or an ACTNN_E_* code. */
int saved_sample_stats(layer_ctx *x, int kind, const float *data, size_t n, size_t d,
                       size_t stride, double *out);

/* Records the per-sample costs of samples first..first+n-1 of a mini-batch of `total`
 * (a whole save, or one chunk of a streamed one) for the next per-layer allocation. */
int saved_auto_record(saved_state *st, int slot, const double *cost, size_t first, size_t n,
                      size_t total, size_t d, int bits);

#endif
