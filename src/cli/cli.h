/* Entry points of the CLI commands (one file each). */
#ifndef DN_CLI_H
#define DN_CLI_H

#include <stddef.h>

#include "core/dn_names.h"

extern int cli_gpu_index;
extern const char *cli_gpus_list;

typedef struct network network;
/* Moves a loaded network to the device the command line chose (device.c); 0, or -1 with
 * a message. Prints where it runs. */
int cli_place_network(network *net, char *err, size_t errlen);

int run_classifier(int argc, char **argv);
int run_detector(int argc, char **argv);
int run_detect(int argc, char **argv);
int run_memory(int argc, char **argv);
int run_partial(int argc, char **argv);
/* Re-executes once with OpenBLAS/OpenMP environment tuned for this CPU (cpu_env.c). */
void cli_tune_env(char **argv);

#endif
