/* ./darknet memory <cfg> [-batch N]: the memory plan per layer and totals, without training. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "memory/memreport.h"
#include "core/network.h"

int run_memory(int argc, char **argv)
{
    int batch = arg_int(&argc, argv, "-batch", 0);
    if (argc < 3) {
        fprintf(stderr, "usage: %s memory <cfg> [-batch N]\n", argv[0]);
        return 1;
    }
    char err[1024];
    network *net = parse_network_cfg_ex(argv[2], batch, err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = memreport_print_plan(net, stdout, err, sizeof(err));
    if (rc) fprintf(stderr, "%s\n", err);
    free_network(net);
    return rc ? 1 : 0;
}
