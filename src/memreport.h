/* Memory figures: the planned arena, parameters, workspace and saved activations, and the
 * `memory:` line every training run ends with (DESIGN.md "User interface"). */
#ifndef DN_MEMREPORT_H
#define DN_MEMREPORT_H

#include <stdio.h>

#include "network.h"

/* Bytes of all parameters, their gradients and optimizer state. */
size_t memreport_param_bytes(const network *net);
/* Prints the per-layer training plan and a total line. Returns 0 or -1 with err set. */
int memreport_print_plan(network *net, FILE *f, char *err, size_t errlen);
/* Peak resident set size of this process in bytes (VmHWM). */
size_t memreport_peak_rss(void);
/* The one-line summary: memory: params_mib=.. saved_mib=.. ... */
void memreport_print_line(const network *net, FILE *f);

#endif
