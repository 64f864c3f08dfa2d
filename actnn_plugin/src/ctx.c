/* ctx.c: context creation, configuration and byte accounting. */
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

/* Below this many values per thread, a parallel region costs more than it saves. */
#define ACTNN_MIN_VALUES_PER_THREAD 32768

int actnn_config_init(actnn_config *cfg)
{
    if (!cfg) return ACTNN_E_NULL;
    *cfg = (actnn_config){.group_size = ACTNN_DEFAULT_GROUP, .seed = 0, .nthreads = 0,
                          .simd = ACTNN_SIMD_AUTO};
    return ACTNN_OK;
}

static int config_check(const actnn_config *cfg)
{
    size_t g = cfg->group_size;
    if (g < ACTNN_MIN_GROUP || g > ACTNN_MAX_GROUP || g % 32) return ACTNN_E_GROUP;
    if (cfg->nthreads < 0) return ACTNN_E_PARAM;
    if (cfg->simd != ACTNN_SIMD_AUTO && cfg->simd != ACTNN_SIMD_OFF) return ACTNN_E_PARAM;
    return ACTNN_OK;
}

int actnn_ctx_create(const actnn_config *cfg, actnn_ctx **out)
{
    if (!out) return ACTNN_E_NULL;
    *out = NULL;
    actnn_config c;
    actnn_config_init(&c);
    if (cfg) c = *cfg;
    int err = config_check(&c);
    if (err) return err;
    actnn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return ACTNN_E_NOMEM;
    ctx->cfg = c;
    pool_init(&ctx->pool);
    *out = ctx;
    return ACTNN_OK;
}

int actnn_ctx_free(actnn_ctx *ctx)
{
    if (!ctx) return ACTNN_OK;
    pool_destroy(&ctx->pool);
    free(ctx);
    return ACTNN_OK;
}

int actnn_ctx_get_config(const actnn_ctx *ctx, actnn_config *out)
{
    if (!ctx || !out) return ACTNN_E_NULL;
    *out = ctx->cfg;
    return ACTNN_OK;
}

int actnn_set_seed(actnn_ctx *ctx, uint64_t seed)
{
    if (!ctx) return ACTNN_E_NULL;
    ctx->cfg.seed = seed;
    return ACTNN_OK;
}

int actnn_get_seed(const actnn_ctx *ctx, uint64_t *seed)
{
    if (!ctx || !seed) return ACTNN_E_NULL;
    *seed = ctx->cfg.seed;
    return ACTNN_OK;
}

int actnn_set_nthreads(actnn_ctx *ctx, int nthreads)
{
    if (!ctx) return ACTNN_E_NULL;
    if (nthreads < 0) return ACTNN_E_PARAM;
    ctx->cfg.nthreads = nthreads;
    return ACTNN_OK;
}

void ctx_account(actnn_ctx *ctx, size_t payload, size_t meta, int sign)
{
    if (sign > 0) {
        ctx->payload += payload;
        ctx->meta += meta;
        ctx->handles++;
        if (ctx->payload > ctx->payload_peak) ctx->payload_peak = ctx->payload;
        if (ctx->meta > ctx->meta_peak) ctx->meta_peak = ctx->meta;
        if (ctx->handles > ctx->handles_peak) ctx->handles_peak = ctx->handles;
    } else {
        ctx->payload -= payload;
        ctx->meta -= meta;
        ctx->handles--;
    }
}

int ctx_threads(const actnn_ctx *ctx, size_t work_values)
{
#ifdef _OPENMP
    int nt = ctx->cfg.nthreads ? ctx->cfg.nthreads : omp_get_max_threads();
    size_t useful = work_values / ACTNN_MIN_VALUES_PER_THREAD;
    if (useful < (size_t)nt) nt = useful ? (int)useful : 1;
    return nt < 1 ? 1 : nt;
#else
    (void)ctx;
    (void)work_values;
    return 1;
#endif
}

/* The vector paths when the config allows them and the CPU has them (internal.h). */
int ctx_simd(const actnn_ctx *ctx) { return ctx->cfg.simd == ACTNN_SIMD_AUTO && cpu_has_avx2(); }

int actnn_simd_active(const actnn_ctx *ctx) { return ctx ? ctx_simd(ctx) : 0; }

int actnn_get_stats(const actnn_ctx *ctx, actnn_stats *out)
{
    if (!ctx || !out) return ACTNN_E_NULL;
    *out = (actnn_stats){
        .payload_bytes = ctx->payload, .payload_peak = ctx->payload_peak,
        .meta_bytes = ctx->meta, .meta_peak = ctx->meta_peak,
        .pool_bytes = ctx->pool.held, .pool_peak = ctx->pool.held_peak,
        .handles = ctx->handles, .handles_peak = ctx->handles_peak,
        .sys_allocs = ctx->pool.sys_allocs, .reuses = ctx->pool.reuses,
    };
    return ACTNN_OK;
}

int actnn_reset_peak(actnn_ctx *ctx)
{
    if (!ctx) return ACTNN_E_NULL;
    ctx->payload_peak = ctx->payload;
    ctx->meta_peak = ctx->meta;
    ctx->handles_peak = ctx->handles;
    ctx->pool.held_peak = ctx->pool.held;
    return ACTNN_OK;
}

int actnn_trim(actnn_ctx *ctx)
{
    if (!ctx) return ACTNN_E_NULL;
    pool_trim(&ctx->pool);
    return ACTNN_OK;
}
