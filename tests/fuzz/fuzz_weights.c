/* libFuzzer target: the .weights loader on a fixed small network covering every kind of
 * array (conv+BN, conv, connected with its transposed layout, batchnorm), all header
 * versions, partial files and start/cutoff taken from the first input byte. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "core/network.h"

static const char *CFG =
    "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=2\nsize=1\nactivation=linear\ndontloadscales=1\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[batchnorm]\n"
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=1\ndontloadscales=1\n";

static network *net;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    darknet_set_seed(1);
    char path[] = "/tmp/fuzz-weights-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, CFG, strlen(CFG)) != (ssize_t)strlen(CFG)) abort();
    close(fd);
    char err[1024];
    net = parse_network_cfg_ex(path, 0, err, sizeof(err));
    unlink(path);
    if (!net) { fprintf(stderr, "%s\n", err); abort(); }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int start = data[0] & 3, cutoff = (data[0] >> 2) & 7; /* cutoff 0 and > n mean all */
    const char *path = fuzz_as_file(data + 1, size - 1);
    char err[1024];
    load_weights_ex(net, path, start, cutoff ? cutoff : net->n, err, sizeof(err));
    return 0;
}
