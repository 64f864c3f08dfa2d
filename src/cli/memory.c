/* ./darknet memory <cfg> [-batch N] [-budget 2G]: the memory plan per layer and totals,
 * without training; with -budget, the largest mini-batch per bit width (memory/budget.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "memory/budget.h"
#include "memory/memreport.h"
#include "core/network.h"

int run_memory(int argc, char **argv)
{
    int batch = cli_int("-batch", 0);
    const char *budget_s = cli_str("-budget", NULL);
    if (argc < 3) {
        fprintf(stderr, "usage: %s memory <cfg> [-batch N] [-budget 2G]\n", argv[0]);
        return 1;
    }
    size_t budget = budget_s ? budget_parse(budget_s) : 0;
    if (budget_s && !budget) {
        fprintf(stderr, "-budget: '%s' is not a size (e.g. 2G, 1536M, 512 = MiB)\n", budget_s);
        return 1;
    }
    char err[1024];
    network *net = parse_network_cfg_ex(argv[2], batch, err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = budget ? budget_print(net, budget, stdout, err, sizeof(err))
                    : memreport_print_plan(net, stdout, err, sizeof(err));
    if (rc) fprintf(stderr, "%s\n", err);
    free_network(net);
    return rc ? 1 : 0;
}
