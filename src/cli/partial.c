/* ./darknet partial <cfg> <weights> <out> <N>: the first N layers' weights into <out> with
 * seen reset to 0 (the `.conv.N` files training starts from), as Darknet's `partial`. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/network.h"

int run_partial(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s partial <cfg> <weights> <out> <layers>\n", argv[0]);
        return 1;
    }
    long long n = arg_parse_u(argv[5]);
    if (n < 0 || n > 1000000) {
        fprintf(stderr, "partial: <layers> must be a layer count, got '%s'\n", argv[5]);
        return 1;
    }
    char err[1024];
    network *net = parse_network_cfg_ex(argv[2], 1, err, sizeof(err));
    int rc = !net || load_weights_ex(net, argv[3], 0, (int)n, err, sizeof(err));
    if (!rc) {
        net->seen = 0;
        rc = save_weights_ex(net, argv[4], (int)n, err, sizeof(err));
    }
    if (rc) fprintf(stderr, "%s\n", err);
    else printf("%s: layers 0-%d of %s\n", argv[4], (int)(n < net->n ? n : net->n) - 1, argv[3]);
    free_network(net);
    return rc ? 1 : 0;
}
