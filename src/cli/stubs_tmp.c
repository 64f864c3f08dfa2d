/* Temporary: commands still being written. */
#include <stdio.h>

#include "cli.h"

int cli_gpu_index = 0;

int run_classifier(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: classifier: not built yet\n", argv[0]); return 1; }
int run_detector(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: detector: not built yet\n", argv[0]); return 1; }
int run_detect(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: detect: not built yet\n", argv[0]); return 1; }
