/* conv_algos.h: which cuDNN convolution algorithms conv_cudnn.cu tries for an op, and in
 * which order. Plain C with no cuDNN type, so that tests/test_conv_algos.c checks these
 * rules on any machine (the cuDNN code itself never ran on a GPU, docs/gpu.md).
 *
 * From cuDNN's heuristics answer (its _v7 query: algorithms ranked by expected speed)
 * the candidates are, in that order, the deterministic algorithms, then the others (atomics:
 * runs are not repeatable), keeping only those that
 *   - cuDNN reports as usable (CUDNN_STATUS_SUCCESS),
 *   - are not FFT or Winograd, unless DN_CUDNN_FAST_ALGOS=1: they are deterministic but
 *     their fp32 error is well above direct and implicit-GEMM convolution's, enough to
 *     break the 1e-4 relative tolerance of the GPU-versus-CPU checks,
 *   - fit the workspace by cudnnGet*WorkspaceSize for our descriptors: the heuristics'
 *     memory figure belongs to the math type of its entry, which need not be the
 *     CUDNN_FMA_MATH our descriptor runs,
 *   - were not listed already (an algorithm may appear once per math type).
 * The op uses the first; when cuDNN refuses it at run time, the next that fits the
 * workspace given (conv_cudnn.cu run_op). */
#ifndef DN_CONV_ALGOS_H
#define DN_CONV_ALGOS_H

#include <stddef.h>

typedef enum { DN_ALGO_FWD, DN_ALGO_DATA, DN_ALGO_FILTER } dn_algo_op;

/* cuDNN's numbers for the FFT and Winograd algorithms (cudnn_ops.h; conv_cudnn.cu checks
 * them with static_assert). cuDNN has no backward-filter WINOGRAD (4): left out here. */
enum { DN_FWD_FFT = 4, DN_FWD_FFT_TILING = 5, DN_FWD_WINOGRAD = 6, DN_FWD_WINOGRAD_NONFUSED = 7 };
enum { DN_DATA_FFT = 2, DN_DATA_FFT_TILING = 3, DN_DATA_WINOGRAD = 4, DN_DATA_WINOGRAD_NONFUSED = 5 };
enum { DN_FILTER_FFT = 2, DN_FILTER_WINOGRAD_NONFUSED = 5, DN_FILTER_FFT_TILING = 6 };

enum { DN_ALGO_MAX = 16 }; /* entries asked of the heuristics; more than any op has */

/* One entry of the heuristics answer. */
typedef struct {
    int algo;
    int usable; /* its status is CUDNN_STATUS_SUCCESS */
    int det;    /* CUDNN_DETERMINISTIC */
} dn_algo_hint;

/* The candidates of one op, in the order they are tried; cur indexes the one in use
 * (-1 before the op's first call). skipped_fast: how many FFT/Winograd entries were
 * left out, which the "nothing fits" message mentions. */
typedef struct {
    int algo[DN_ALGO_MAX];
    size_t ws[DN_ALGO_MAX];
    unsigned char det[DN_ALGO_MAX];
    int n, cur, skipped_fast;
} dn_algo_list;

/* The workspace algorithm `algo` needs with the op's descriptors: 0 and *bytes, or -1
 * when cuDNN cannot run it there. */
typedef int (*dn_algo_ws_fn)(void *ud, int algo, size_t *bytes);

/* 1 when `algo` of op is an FFT or Winograd algorithm. */
static inline int dn_algo_is_fast(dn_algo_op op, int algo)
{
    switch (op) {
    case DN_ALGO_FWD: return algo >= DN_FWD_FFT && algo <= DN_FWD_WINOGRAD_NONFUSED;
    case DN_ALGO_DATA: return algo >= DN_DATA_FFT && algo <= DN_DATA_WINOGRAD_NONFUSED;
    case DN_ALGO_FILTER:
        return algo == DN_FILTER_FFT || algo == DN_FILTER_WINOGRAD_NONFUSED ||
               algo == DN_FILTER_FFT_TILING;
    }
    return 0;
}

static inline int dn_algo_listed(const dn_algo_list *L, int algo)
{
    for (int i = 0; i < L->n; ++i)
        if (L->algo[i] == algo) return 1;
    return 0;
}

/* Appends hint h when it passes the rules above. */
static inline void dn_algo_consider(dn_algo_list *L, dn_algo_op op, const dn_algo_hint *h,
                                    size_t limit, int allow_fast, dn_algo_ws_fn ws, void *ud)
{
    size_t need = 0;
    if (!h->usable || dn_algo_listed(L, h->algo) || L->n >= DN_ALGO_MAX) return;
    if (!allow_fast && dn_algo_is_fast(op, h->algo)) {
        ++L->skipped_fast;
        return;
    }
    if (ws(ud, h->algo, &need) || need > limit) return;
    L->algo[L->n] = h->algo;
    L->ws[L->n] = need;
    L->det[L->n] = (unsigned char)(h->det != 0);
    ++L->n;
}

/* The candidates from hints[0..n): deterministic ones first, each group in cuDNN's order.
 * L->cur is 0, or -1 when nothing qualifies. */
static inline void dn_algo_list_build(dn_algo_list *L, dn_algo_op op, const dn_algo_hint *hints,
                                      int n, size_t limit, int allow_fast, dn_algo_ws_fn ws,
                                      void *ud)
{
    L->n = L->skipped_fast = 0;
    for (int pass = 0; pass < 2; ++pass)
        for (int i = 0; i < n; ++i)
            if ((hints[i].det != 0) == (pass == 0))
                dn_algo_consider(L, op, &hints[i], limit, allow_fast, ws, ud);
    L->cur = L->n ? 0 : -1;
}

/* Moves L->cur to the next candidate that fits ws_bytes: 0, or -1 when none is left. */
static inline int dn_algo_list_next(dn_algo_list *L, size_t ws_bytes)
{
    for (int i = L->cur + 1; i < L->n; ++i)
        if (L->ws[i] <= ws_bytes) {
            L->cur = i;
            return 0;
        }
    return -1;
}

#endif
