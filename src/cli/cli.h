/* Entry points of the CLI commands (one file each). */
#ifndef DN_CLI_H
#define DN_CLI_H

extern int cli_gpu_index;

int run_classifier(int argc, char **argv);
int run_detector(int argc, char **argv);
int run_detect(int argc, char **argv);
int run_memory(int argc, char **argv);
int run_partial(int argc, char **argv);
/* Re-executes once with OpenBLAS/OpenMP environment tuned for this CPU (cpu_env.c). */
void cli_tune_env(char **argv);

#endif
