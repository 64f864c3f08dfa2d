/* libFuzzer target: a .cfg file, from the text parser through the whole network parse
 * (every layer's parse, shapes, parameter allocation, memory plan for train and test).
 *
 * Inputs whose numbers ask for huge tensors are skipped: allocating what a cfg asks for is
 * correct behaviour, and out-of-memory reports would drown the real findings. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "core/cfg.h"
#include "core/network.h"
#include "memory/plan.h"

/* Limits on numbers, by key: input size and batch multiply into every buffer, size and
 * filters into every weight array (random init under ASan costs ~0.5 us per weight, so a
 * 1024x1024x3x3 layer alone is a 10 s "timeout"). Other numbers (list entries, strides,
 * classes...) may go up to MAX_OTHER. */
#define MAX_OTHER 1024

static double key_limit(const char *k)
{
    static const struct { const char *key; double lim; } lims[] = {
        {"width", 64}, {"height", 64}, {"channels", 64}, {"inputs", 4096}, {"batch", 64},
        {"time_steps", 64}, {"max_crop", 64}, {"min_crop", 64}, {"size", 15}, {"filters", 256},
        {"output", 256}, {"stride", 64}, {"num", 64}, {"classes", 256},
    };
    for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); ++i)
        if (strcmp(k, lims[i].key) == 0) return lims[i].lim;
    return MAX_OTHER;
}

static int too_big(const uint8_t *data, size_t size)
{
    cfg_file f;
    char err[256];
    if (cfg_parse_text((const char *)data, size, "fuzz.cfg", &f, err, sizeof(err))) return 0;
    int big = f.n > 200;
    for (int i = 0; i < f.n && !big; ++i)
        for (int j = 0; j < f.sec[i].n && !big; ++j) {
            const char *v = f.sec[i].kv[j].val;
            double lim = key_limit(f.sec[i].kv[j].key);
            /* every number of a list too: route layers, steps, anchors */
            for (const char *p = v; *p && !big; ++p)
                if (*p >= '0' && *p <= '9' && (p == v || !(p[-1] >= '0' && p[-1] <= '9') )) {
                    double d = strtod(p, NULL);
                    big = !(d <= lim); /* also NaN-proof */
                }
        }
    cfg_free(&f);
    return big;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    darknet_set_seed(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16 || too_big(data, size)) return 0;
    const char *path = fuzz_as_file(data, size);
    char err[1024];
    network *net = parse_network_cfg_ex(path, 0, err, sizeof(err));
    if (!net) return 0;
    for (int train = 0; train < 2; ++train) {
        mem_plan p = {0};
        if (plan_build(&p, net, train) == 0 && plan_verify(&p) != 0) abort(); /* a plan bug */
        plan_free(&p);
    }
    free_network(net);
    return 0;
}
