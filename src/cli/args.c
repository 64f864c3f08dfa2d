/* The flag table and its parser (args.h). */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_FLAG, K_INT, K_FLOAT, K_STR } kind;

typedef struct {
    const char *name;
    kind k;
    /* Non-NULL: this build lacks the feature; printed once when the flag appears. */
    const char *note;
    /* parsed */
    int seen;
    const char *value;
} flag;

#define NO_VIDEO "video demo is not supported in this build"
#define NO_NET "network streams are not supported in this build"
#define NO_SHOW "no display in this build"

/* AlexeyAB's flags (src/darknet.c, detector.c, classifier.c, demo.c), pjreddie's, and ours.
 * Kinds follow AlexeyAB: -topk is a plain flag (top-k accuracy while training a
 * classifier), -t takes the k of predict/valid. */
static flag table[] = {
    /* global */
    {"-i", K_INT, NULL, 0, NULL},
    {"-gpus", K_STR, NULL, 0, NULL},
    {"-nogpu", K_FLAG, NULL, 0, NULL},
    {"-seed", K_STR, NULL, 0, NULL},
    /* train */
    {"-clear", K_FLAG, NULL, 0, NULL},
    {"-dont_show", K_FLAG, NULL, 0, NULL}, /* nothing is ever shown here: the default */
    {"-map", K_FLAG, NULL, 0, NULL},
    {"-mAP_epochs", K_INT, NULL, 0, NULL},
    {"-chart", K_STR, NULL, 0, NULL},
    {"-show_imgs", K_FLAG, NO_SHOW, 0, NULL},
    {"-topk", K_FLAG, "top-k accuracy during training is not supported; run `classifier valid`",
     0, NULL},
    {"-dontuse_opencv", K_FLAG, NULL, 0, NULL}, /* accepted; OPENCV=1 builds decode with OpenCV */
    {"-benchmark_layers", K_FLAG, NULL, 0, NULL}, /* per-layer times at the end (train, test, map, ...) */
    {"-check_mistakes", K_FLAG, "not supported, ignored", 0, NULL},
    /* test / valid / map / recall */
    {"-thresh", K_FLOAT, NULL, 0, NULL},
    {"-hier", K_FLOAT, "has no effect here ([region] tree= hierarchies are not supported)", 0, NULL},
    {"-iou_thresh", K_FLOAT, NULL, 0, NULL},
    {"-points", K_INT, NULL, 0, NULL},
    {"-t", K_INT, NULL, 0, NULL},
    {"-ext_output", K_FLAG, NULL, 0, NULL},
    {"-out", K_STR, NULL, 0, NULL},
    {"-prefix", K_STR, NULL, 0, NULL},
    {"-save_labels", K_FLAG, NULL, 0, NULL},
    {"-letter_box", K_FLAG, NULL, 0, NULL},
    {"-dontdraw_bbox", K_FLAG, NULL, 0, NULL},
    {"-benchmark", K_FLAG, "not supported, ignored", 0, NULL},
    /* demo (video) */
    {"-c", K_INT, NO_VIDEO, 0, NULL},
    {"-s", K_INT, NO_VIDEO, 0, NULL},
    {"-avgframes", K_INT, NO_VIDEO, 0, NULL},
#ifdef OPENCV
    {"-out_filename", K_STR, NULL, 0, NULL}, /* detector demo (OpenCV builds) */
#else
    {"-out_filename", K_STR, "video needs an OPENCV=1 build", 0, NULL},
#endif
    {"-time_limit_sec", K_INT, NO_VIDEO, 0, NULL},
    {"-fullscreen", K_FLAG, NO_SHOW, 0, NULL},
    {"-mjpeg_port", K_INT, NO_NET, 0, NULL},
    {"-json_port", K_INT, NO_NET, 0, NULL},
    {"-http_post_host", K_STR, NO_NET, 0, NULL},
    /* calc_anchors */
    {"-num_of_clusters", K_INT, NULL, 0, NULL},
    {"-width", K_INT, NULL, 0, NULL},
    {"-height", K_INT, NULL, 0, NULL},
    {"-show", K_FLAG, NO_SHOW, 0, NULL},
    /* memory */
    {"-batch", K_INT, NULL, 0, NULL},
    {"-budget", K_STR, NULL, 0, NULL},
    {"-ranks", K_INT, NULL, 0, NULL},
    {"-gpu", K_FLAG, NULL, 0, NULL}, /* memory: the device plan of a GPU run */
};

#define NFLAGS (sizeof(table) / sizeof(table[0]))

static flag *lookup(const char *name)
{
    for (size_t i = 0; i < NFLAGS; ++i)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

/* A word that looks like a flag: '-' then a letter (so "-" and "-0.5" stay positional). */
static int flag_like(const char *s)
{
    return s[0] == '-' && ((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z'));
}

static int check_value(const flag *f, const char *v)
{
    char *end;
    errno = 0;
    if (f->k == K_INT) {
        long x = strtol(v, &end, 10);
        if (end != v && !*end && !errno && x >= -2147483647L && x <= 2147483647L) return 0;
        fprintf(stderr, "%s expects an integer, got '%s'\n", f->name, v);
        return -1;
    }
    if (f->k == K_FLOAT) {
        float x = strtof(v, &end);
        /* nan would pass every comparison as false: -thresh nan drew nothing, silently */
        if (end != v && !*end && isfinite(x)) return 0;
        fprintf(stderr, "%s expects a finite number, got '%s'\n", f->name, v);
        return -1;
    }
    return 0;
}

static int take(flag *f, int argc, char **argv, int i)
{
    if (f->k == K_FLAG) {
        f->seen = 1;
        return 1;
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", f->name);
        return -1;
    }
    if (check_value(f, argv[i + 1])) return -1;
    if (!f->value) f->value = argv[i + 1]; /* repeated: the first wins, as Darknet's find_arg */
    f->seen = 1;
    return 2;
}

int cli_args_parse(int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc;) {
        if (!flag_like(argv[i])) {
            argv[out++] = argv[i++];
            continue;
        }
        flag *f = lookup(argv[i]);
        if (!f) {
            fprintf(stderr, "warning: unknown flag %s ignored\n", argv[i]);
            ++i;
            continue;
        }
        int used = take(f, *argc, argv, i);
        if (used < 0) return -1;
        if (f->note && f->seen == 1) {
            fprintf(stderr, "%s: %s\n", f->name, f->note);
            f->seen = 2; /* noted once */
        }
        i += used;
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

static flag *get(const char *name, kind k)
{
    flag *f = lookup(name);
    if (!f || f->k != k) {
        /* A programming error: the flag must be a row of the table with this kind. */
        fprintf(stderr, "internal error: flag %s is not in the table as read\n", name);
        abort();
    }
    return f;
}

int cli_flag(const char *name)
{
    flag *f = lookup(name);
    if (!f) {
        fprintf(stderr, "internal error: flag %s is not in the table\n", name);
        abort();
    }
    return f->seen != 0;
}

int cli_int(const char *name, int def)
{
    flag *f = get(name, K_INT);
    return f->value ? (int)strtol(f->value, NULL, 10) : def;
}

float cli_float(const char *name, float def)
{
    flag *f = get(name, K_FLOAT);
    return f->value ? strtof(f->value, NULL) : def;
}

const char *cli_str(const char *name, const char *def)
{
    flag *f = get(name, K_STR);
    return f->value ? f->value : def;
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
