/* ./darknet: Darknet's command line (classifier, detector, detect) plus `memory`. */
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/dn_api.h"
#include "backend/backend.h"
#include "dist/dist.h"


/* The GPU chosen by -i/-gpus (-1: -nogpu); read by GPU builds when they start. */
int cli_gpu_index = 0;
/* -gpus as given ("0,1"): MPI ranks take its entries in turn (device.c). */
const char *cli_gpus_list = NULL;
static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s <command> [args]\n"
            "  classifier train|valid|predict|test <data> <cfg> [weights] [image] [-clear] [-t N]\n"
            "  detector train|test|valid|map|recall|calc_anchors <data> <cfg> [weights] [image]\n"
            "  detect <cfg> <weights> [image]\n"
            "  memory <cfg> [-batch N] [-budget 2G] [-ranks N]\n"
            "  partial <cfg> <weights> <out> <layers>\n"
            "  version\n"
            "global options: -seed N (repeatable runs), -i N / -gpus N (GPU builds), -nogpu\n",
            prog);
}

static int run_command(int argc, char **argv)
{
    if (cli_args_parse(&argc, argv)) return 1;
    const char *seed = cli_str("-seed", NULL);
    if (seed) {
        long long s = arg_parse_u(seed);
        if (s < 0) {
            fprintf(stderr, "-seed expects a non-negative integer, got '%s'\n", seed);
            return 1;
        }
        darknet_set_seed((uint64_t)s);
    }
    cli_gpu_index = cli_int("-i", 0);
    /* Darknet's -gpus takes a list ("0,1"); one device is used: the first. Read here so
     * CPU builds accept it too. */
    const char *gpus = cli_str("-gpus", NULL);
    if (gpus) {
        char *end;
        long g = strtol(gpus, &end, 10);
        if (end == gpus || g < 0 || (*end && *end != ',')) {
            fprintf(stderr, "-gpus expects a GPU index or a list like 0,1, got '%s'\n", gpus);
            return 1;
        }
        if (*end && dist_size() == 1) fprintf(stderr, "-gpus %s: one GPU is used, GPU %ld\n", gpus, g);
        cli_gpu_index = (int)g;
        cli_gpus_list = gpus;
    }
    if (cli_flag("-nogpu")) cli_gpu_index = -1;
    /* Says where each part runs before any command starts (GPU builds; silent otherwise). */
    if (argc >= 2 && strcmp(argv[1], "version") && dn_backend_startup_report(cli_gpu_index)) return 1;
    if (argc < 2) {
        usage(argv[0]);
        return 1;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "classifier")) return run_classifier(argc, argv);
    if (!strcmp(cmd, "detector")) return run_detector(argc, argv);
    if (!strcmp(cmd, "detect")) return run_detect(argc, argv);
    if (!strcmp(cmd, "memory")) return run_memory(argc, argv);
    if (!strcmp(cmd, "partial")) return run_partial(argc, argv);
    if (!strcmp(cmd, "version")) {
        printf("actnn-darknet %s\n", ACTNN_DARKNET_VERSION);
        return 0;
    }
    fprintf(stderr, "Not an option: %s\n", cmd);
    usage(argv[0]);
    return 1;
}

int main(int argc, char **argv)
{
    cli_tune_env(argv);
#ifdef __GLIBC__
    /* Blocks of 1 MiB and more are mapped and unmapped, not kept in the heap by glibc's
     * moving threshold (up to 32 MiB once a mapped block is freed): freed batch-sized
     * buffers then leave no resident holes, so the peak matches the plan (docs/memory.md;
     * MALLOC_MMAP_THRESHOLD_ in the environment still wins). */
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    /* Under mpirun (MPI builds) every command runs on every rank; training splits its batch. */
    if (dist_init(&argc, &argv)) return 1;
    return dist_finalize(run_command(argc, argv));
}
