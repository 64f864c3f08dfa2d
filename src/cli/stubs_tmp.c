/* Temporary: commands still being written. */
#include <stdio.h>

#include "cli.h"

int cli_gpu_index = 0;

