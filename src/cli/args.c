#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void drop(int *argc, char **argv, int i, int n)
{
    for (int k = i; k + n < *argc; ++k) argv[k] = argv[k + n];
    *argc -= n;
    argv[*argc] = NULL;
}

static int find(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; ++i)
        if (argv[i] && strcmp(argv[i], name) == 0) return i;
    return -1;
}

int arg_flag(int *argc, char **argv, const char *name)
{
    int i = find(*argc, argv, name);
    if (i < 0) return 0;
    drop(argc, argv, i, 1);
    return 1;
}

static const char *take_value(int *argc, char **argv, const char *name)
{
    int i = find(*argc, argv, name);
    if (i < 0) return NULL;
    if (i + 1 >= *argc) {
        fprintf(stderr, "%s needs a value\n", name);
        exit(1);
    }
    const char *v = argv[i + 1];
    drop(argc, argv, i, 2);
    return v;
}

long long arg_parse_u(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 0) return -1;
    return v;
}

int arg_int(int *argc, char **argv, const char *name, int def)
{
    const char *v = take_value(argc, argv, name);
    if (!v) return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v) {
        fprintf(stderr, "%s expects an integer, got '%s'\n", name, v);
        exit(1);
    }
    return (int)x;
}

float arg_float(int *argc, char **argv, const char *name, float def)
{
    const char *v = take_value(argc, argv, name);
    if (!v) return def;
    char *end;
    float x = strtof(v, &end);
    if (*end || end == v) {
        fprintf(stderr, "%s expects a number, got '%s'\n", name, v);
        exit(1);
    }
    return x;
}

const char *arg_str(int *argc, char **argv, const char *name, const char *def)
{
    const char *v = take_value(argc, argv, name);
    return v ? v : def;
}
