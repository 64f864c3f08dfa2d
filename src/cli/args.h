/* The command line's flag table (AlexeyAB's rule): every known flag, plain or with a value,
 * is removed from the line wherever it stands, for every command; what remains are the
 * positional arguments. Unknown `-name` words are warned about by name and removed too.
 * Flags whose feature this build lacks print one note ("-mjpeg_port: not supported,
 * ignored") when they appear.
 *
 * Owns: the table (args.c) and the parsed values. May not touch: anything outside the CLI.
 * A new flag is one row in args.c's table; commands read values with cli_flag/cli_int/...
 * after main() called cli_args_parse() once. */
#ifndef DN_ARGS_H
#define DN_ARGS_H

/* Removes every flag (and its value) from argv, stores the values and prints the notes
 * and warnings. Returns 0, or -1 after printing why (a value missing or malformed). */
int cli_args_parse(int *argc, char **argv);

/* Was the flag on the line? (any kind) */
int cli_flag(const char *name);
/* The flag's value, or def when absent. The name must be in the table with that kind. */
int cli_int(const char *name, int def);
float cli_float(const char *name, float def);
const char *cli_str(const char *name, const char *def);

/* Parses a non-negative integer strictly; returns -1 when s is not one. */
long long arg_parse_u(const char *s);

#endif
