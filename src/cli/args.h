/* Darknet-style argument helpers: flags are found anywhere on the command line and removed
 * once read, so positional arguments keep their places. */
#ifndef DN_ARGS_H
#define DN_ARGS_H

int arg_flag(int *argc, char **argv, const char *name);
int arg_int(int *argc, char **argv, const char *name, int def);
float arg_float(int *argc, char **argv, const char *name, float def);
const char *arg_str(int *argc, char **argv, const char *name, const char *def);
/* Parses a non-negative integer strictly; returns -1 when s is not one. */
long long arg_parse_u(const char *s);

#endif
