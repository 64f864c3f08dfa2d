/*
 * dn_oracle: a command-line reference ("oracle") built only against Debian's
 * libdarknet (pjreddie 2018, CPU build). Our own framework is compared with the
 * files this tool writes. It includes no header of ours.
 *
 * File formats (raw little-endian):
 *   float file (.f32): int32 count, then count float32 values.
 *   .weights: whatever libdarknet's save_weights writes (0,2,0 header, 64-bit seen).
 *
 * Subcommands:
 *   randweights <cfg> <seed> <out.weights>
 *       srand(seed); parse_network_cfg(cfg) (weights get Darknet's own rand()
 *       init); then, layer by layer in cfg order, a generator of ours (splitmix64
 *       seeded with seed) overwrites: conv/deconv/connected biases ~ U(-0.1,0.1);
 *       if batch_normalize: scales ~ U(0.5,1.5), rolling_mean ~ U(-0.1,0.1),
 *       rolling_variance ~ U(0.5,1.5) (drawn in that order, per array).
 *       [batchnorm] layers get scales/rolling_mean/rolling_variance only: pjreddie
 *       does not save their biases. Then save_weights(out).
 *   forward <cfg> <weights> <input.f32> <outdir>
 *       parse, load, train=0, truth=NULL and delta=NULL (as network_predict does),
 *       input (exactly net->batch*net->inputs values; net->batch is the
 *       mini-batch batch/subdivisions) copied into net->input, forward_network.
 *       Writes <outdir>/out_<i>.f32 (l.batch*l.outputs values) for every layer and
 *       <outdir>/meta.txt; the meta lines are also printed on stdout.
 *   train <cfg> <weights> <input.f32> <truth.f32> <outdir>
 *       One step of train_network_datum, but with update_network called
 *       unconditionally: parse, load, train=1, input and truth (exactly
 *       net->batch*net->truths values) copied in, *seen += batch,
 *       forward_network, backward_network. Writes out_<i>.f32, delta_<i>.f32 (for
 *       layers with a delta buffer), meta.txt and cost.txt, then calls
 *       update_network and saves <outdir>/after.weights.
 *       With a sixth argument <signs_dir>: for each layer i with a file
 *       <signs_dir>/out_<i>.f32 (another implementation's forward output), every
 *       element whose sign differs from ours while both values are within 1e-5 of
 *       the layer's largest |output| gets the other value before backward_network
 *       (out_<i>.f32 keep ours). Backward computes activation gradients from
 *       l.output, so a pre-activation that float rounding put on the other side of
 *       a kink then takes the other side's branch, and every delta below stays
 *       comparable. Writes <outdir>/aligned.txt: "<i> <count>" per layer changed.
 *       cost.txt lines: "cost <*net->cost>", "layer_cost <i> <name> <l.cost[0]>"
 *       for layers with a cost, "rate <get_current_rate before update>",
 *       "seen <seen>", "batch <mini-batch>", "subdivisions <n>",
 *       "would_update <0|1>" (whether train_network_datum would have updated).
 *       stdout: the meta lines, then the cost.txt lines.
 *   header <weights>            prints "major minor revision seen".
 *   wdump <weights>             prints every float of the body (after the header),
 *                               one per line, %.9g.
 *   cfgset <in.cfg> <out.cfg> key=value...
 *       Textual rewrite of the [net]/[network] section (must be the first
 *       section): every uncommented line with that key gets the new value; keys
 *       not present are inserted right after the section header. Everything else
 *       is copied unchanged.
 *   randinput <n> <seed> <out.f32>            n values ~ U[0,1) (our generator).
 *   onehot <batch> <classes> <seed> <out.f32> batch one-hot rows, random class.
 *   fromtext <in.txt|-> <out.f32>             whitespace-separated numbers -> f32.
 *   dump <file.f32>                           one value per line, %.9g.
 *   check-sum <file.f32> <group>              sum of each consecutive group of
 *                                             <group> values, one per line, %.9g.
 *   maxdiff <a.f32> <b.f32>                   "maxabs <d> at <index>".
 *   imgdump <image> <out.f32>                 libdarknet's load_image_color (stb): w, h,
 *                                             c, then the CHW pixels in [0,1].
 *
 * meta.txt line: "<i> <LAYER_TYPE int> <type name> <out_w> <out_h> <out_c> <outputs>".
 * Every error (usage, missing file, wrong size) prints a message on stderr and
 * exits with status 2. Files are checked before libdarknet sees them, because
 * its file_error() exits with status 0. A weights file whose size does not match
 * the cfg (for cfgs made only of layers whose saved size we know) is an error.
 */
#include <darknet.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ---------- errors ---------- */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dn_oracle: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void need_readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open '%s': %s", path, strerror(errno));
    fclose(f);
}

static long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) die("cannot stat '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) die("'%s' is not a regular file", path);
    return (long)st.st_size;
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die("bad %s '%s' (want an integer in [%ld, %ld])", what, s, lo, hi);
    return v;
}

static unsigned long long parse_seed(const char *s)
{
    char *end;
    errno = 0;
    if (*s == '-') die("bad seed '%s'", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) die("bad seed '%s'", s);
    return v;
}

/* ---------- our deterministic generator (splitmix64) ---------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* uniform in [0,1), 24 random bits so the float is exact */
static float rng_unit(void) { return (float)(rng_next() >> 40) * (1.0f / 16777216.0f); }
static float rng_uniform(float a, float b) { return a + (b - a) * rng_unit(); }

static void fill_uniform(float *x, int n, float a, float b)
{
    if (!x) return;
    for (int i = 0; i < n; ++i) x[i] = rng_uniform(a, b);
}

/* ---------- float files ---------- */

static float *read_f32(const char *path, int *count)
{
    long sz = file_size(path);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open '%s': %s", path, strerror(errno));
    int32_t n;
    if (sz < 4 || fread(&n, 4, 1, f) != 1) die("'%s': too short for a float file header", path);
    if (n < 0) die("'%s': negative count %d", path, (int)n);
    if (sz != 4 + 4L * n)
        die("'%s': count says %d values (%ld bytes) but the file has %ld bytes", path, (int)n,
            4 + 4L * n, sz);
    float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!x) die("out of memory reading '%s'", path);
    if (n && fread(x, 4, (size_t)n, f) != (size_t)n) die("'%s': short read", path);
    fclose(f);
    *count = n;
    return x;
}

static void write_f32(const char *path, const float *x, int n)
{
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot create '%s': %s", path, strerror(errno));
    int32_t c = n;
    if (fwrite(&c, 4, 1, f) != 1 || (n && fwrite(x, 4, (size_t)n, f) != (size_t)n))
        die("write error on '%s'", path);
    if (fclose(f) != 0) die("write error on '%s'", path);
}

static void make_dir(const char *dir)
{
    char buf[4096];
    if (strlen(dir) >= sizeof buf) die("path too long: %s", dir);
    strcpy(buf, dir);
    for (char *p = buf + 1; *p; ++p) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) die("cannot create '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) die("cannot create '%s': %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) die("'%s' is not a directory", buf);
}

static char *join(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *join(const char *dir, const char *fmt, ...)
{
    static char buf[4096];
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if ((size_t)snprintf(buf, sizeof buf, "%s/%s", dir, name) >= sizeof buf) die("path too long");
    return buf;
}

/* ---------- network helpers ---------- */

static const char *type_name(LAYER_TYPE t)
{
    static const char *names[] = {
        "convolutional", "deconvolutional", "connected", "maxpool", "softmax", "detection",
        "dropout", "crop", "route", "cost", "normalization", "avgpool", "local", "shortcut",
        "activation", "rnn", "gru", "lstm", "crnn", "batchnorm", "network", "xnor", "region",
        "yolo", "iseg", "reorg", "upsample", "logxent", "l2norm", "blank"};
    if ((int)t >= 0 && (size_t)t < sizeof names / sizeof names[0]) return names[t];
    return "unknown";
}

/* Body size in floats that pjreddie's save_weights writes for this net, or -1
 * when the cfg has a layer whose saved size we do not model. */
static long expected_body_floats(network *net)
{
    long total = 0;
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.dontsave) continue;
        switch (l.type) {
        case CONVOLUTIONAL:
        case DECONVOLUTIONAL:
            if (l.binary || l.xnor) return -1;
            total += l.nbiases + l.nweights + (l.batch_normalize ? 3L * l.n : 0);
            break;
        case CONNECTED:
            total += (long)l.outputs + (long)l.outputs * l.inputs + (l.batch_normalize ? 3L * l.outputs : 0);
            break;
        case BATCHNORM:
            total += 3L * l.c;
            break;
        case RNN: case GRU: case LSTM: case CRNN: case LOCAL:
            return -1;
        default:
            break;
        }
    }
    return total;
}

/* reads the header of a weights file; returns its size in bytes */
static int read_header(const char *path, int *major, int *minor, int *rev, unsigned long long *seen)
{
    long sz = file_size(path);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open '%s': %s", path, strerror(errno));
    int32_t h[3];
    if (sz < 12 || fread(h, 4, 3, f) != 3) die("'%s': too short for a weights header", path);
    *major = h[0]; *minor = h[1]; *rev = h[2];
    int hsize;
    if ((h[0] * 10 + h[1]) >= 2 && h[0] < 1000 && h[1] < 1000) {
        uint64_t s;
        if (fread(&s, 8, 1, f) != 1) die("'%s': too short for a weights header", path);
        *seen = s; hsize = 20;
    } else {
        int32_t s;
        if (fread(&s, 4, 1, f) != 1) die("'%s': too short for a weights header", path);
        *seen = (unsigned)s; hsize = 16;
    }
    fclose(f);
    return hsize;
}

static network *load_net(const char *cfg, const char *weights)
{
    need_readable(cfg);
    if (weights) need_readable(weights);
    network *net = parse_network_cfg((char *)cfg);
    if (!net) die("parse_network_cfg('%s') failed", cfg);
    if (weights) {
        int ma, mi, re;
        unsigned long long seen;
        int hsize = read_header(weights, &ma, &mi, &re, &seen);
        long body = expected_body_floats(net);
        long sz = file_size(weights);
        if (body >= 0 && sz != hsize + 4 * body)
            die("'%s' has %ld bytes but cfg '%s' needs %d header + %ld body bytes = %ld", weights,
                sz, cfg, hsize, 4 * body, hsize + 4 * body);
        load_weights(net, (char *)weights);
    }
    return net;
}

static void write_meta(network *net, const char *outdir, FILE *also)
{
    FILE *f = fopen(join(outdir, "meta.txt"), "w");
    if (!f) die("cannot create '%s/meta.txt': %s", outdir, strerror(errno));
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        char line[256];
        snprintf(line, sizeof line, "%d %d %s %d %d %d %d\n", i, (int)l.type, type_name(l.type),
                 l.out_w, l.out_h, l.out_c, l.outputs);
        fputs(line, f);
        if (also) fputs(line, also);
    }
    if (fclose(f) != 0) die("write error on meta.txt");
}

static void write_outputs(network *net, const char *outdir)
{
    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (!l.output) die("layer %d (%s) has no output buffer", i, type_name(l.type));
        write_f32(join(outdir, "out_%d.f32", i), l.output, l.outputs * l.batch);
    }
}

/* ---------- subcommands ---------- */

static int cmd_randweights(int argc, char **argv)
{
    if (argc != 3) die("usage: randweights <cfg> <seed> <out.weights>");
    unsigned long long seed = parse_seed(argv[1]);
    need_readable(argv[0]);
    srand((unsigned)seed);
    network *net = load_net(argv[0], NULL);
    rng_state = seed;
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        int n = 0;
        if (l->type == CONVOLUTIONAL || l->type == DECONVOLUTIONAL) n = l->n;
        else if (l->type == CONNECTED) n = l->outputs;
        else if (l->type == BATCHNORM) n = l->c;
        else continue;
        if (l->type != BATCHNORM) fill_uniform(l->biases, n, -0.1f, 0.1f);
        if (l->batch_normalize || l->type == BATCHNORM) {
            fill_uniform(l->scales, n, 0.5f, 1.5f);
            fill_uniform(l->rolling_mean, n, -0.1f, 0.1f);
            fill_uniform(l->rolling_variance, n, 0.5f, 1.5f);
        }
    }
    save_weights(net, argv[2]);
    long body = expected_body_floats(net);
    if (body >= 0 && file_size(argv[2]) != 20 + 4 * body)
        die("'%s' was written with %ld bytes, expected %ld", argv[2], file_size(argv[2]), 20 + 4 * body);
    return 0;
}

static int cmd_forward(int argc, char **argv)
{
    if (argc != 4) die("usage: forward <cfg> <weights> <input.f32> <outdir>");
    need_readable(argv[2]);
    network *net = load_net(argv[0], argv[1]);
    int n;
    float *in = read_f32(argv[2], &n);
    if (n != net->batch * net->inputs)
        die("'%s' has %d values, net needs batch*inputs = %d*%d = %d", argv[2], n, net->batch,
            net->inputs, net->batch * net->inputs);
    make_dir(argv[3]);
    memcpy(net->input, in, sizeof(float) * (size_t)n);
    float *truth = net->truth, *delta = net->delta;
    net->train = 0;
    net->truth = NULL;
    net->delta = NULL;
    float *input_before = net->input;
    forward_network(net);
    if (net->input != input_before) die("forward_network changed net->input (struct layout mismatch?)");
    net->truth = truth;
    net->delta = delta;
    write_outputs(net, argv[3]);
    write_meta(net, argv[3], stdout);
    free(in);
    return 0;
}

/* See "train" above: near-zero outputs of other sign take the other implementation's value. */
static void align_signs(network *net, const char *signs, const char *od)
{
    FILE *f = fopen(join(od, "aligned.txt"), "w");
    if (!f) die("cannot create '%s/aligned.txt': %s", od, strerror(errno));
    for (int i = 0; i < net->n; ++i) {
        layer *l = &net->layers[i];
        const char *path = join(signs, "out_%d.f32", i);
        if (access(path, R_OK) != 0) continue;
        int n;
        float *o = read_f32(path, &n);
        if (n != l->outputs * l->batch) die("'%s' has %d values, layer %d has %d", path, n, i, l->outputs * l->batch);
        float mx = 0;
        for (int k = 0; k < n; ++k) if (fabsf(l->output[k]) > mx) mx = fabsf(l->output[k]);
        int changed = 0;
        for (int k = 0; k < n; ++k)
            if ((o[k] > 0) != (l->output[k] > 0) && fabsf(o[k]) <= 1e-5f * mx &&
                fabsf(l->output[k]) <= 1e-5f * mx) {
                l->output[k] = o[k];
                changed++;
            }
        if (changed) fprintf(f, "%d %d\n", i, changed);
        free(o);
    }
    if (fclose(f) != 0) die("write error on aligned.txt");
}

static int cmd_train(int argc, char **argv)
{
    if (argc != 5 && argc != 6) die("usage: train <cfg> <weights> <input.f32> <truth.f32> <outdir> [<signs_dir>]");
    need_readable(argv[2]);
    need_readable(argv[3]);
    network *net = load_net(argv[0], argv[1]);
    int n, nt;
    float *in = read_f32(argv[2], &n);
    if (n != net->batch * net->inputs)
        die("'%s' has %d values, net needs batch*inputs = %d*%d = %d", argv[2], n, net->batch,
            net->inputs, net->batch * net->inputs);
    float *tr = read_f32(argv[3], &nt);
    if (nt != net->batch * net->truths)
        die("'%s' has %d values, net needs batch*truths = %d*%d = %d", argv[3], nt, net->batch,
            net->truths, net->batch * net->truths);
    if (!net->truth && nt) die("net has no truth buffer");
    make_dir(argv[4]);
    const char *od = argv[4];

    net->train = 1;
    memcpy(net->input, in, sizeof(float) * (size_t)n);
    if (nt) memcpy(net->truth, tr, sizeof(float) * (size_t)nt);
    *net->seen += (size_t)net->batch;
    forward_network(net);
    write_outputs(net, od); /* before backward, so these are the forward outputs */
    if (argc == 6) align_signs(net, argv[5], od);
    backward_network(net);

    for (int i = 0; i < net->n; ++i) {
        layer l = net->layers[i];
        if (l.delta) write_f32(join(od, "delta_%d.f32", i), l.delta, l.outputs * l.batch);
    }
    write_meta(net, od, stdout);

    float rate = get_current_rate(net);
    int would_update = ((*net->seen / (size_t)net->batch) % (size_t)net->subdivisions) == 0;
    FILE *f = fopen(join(od, "cost.txt"), "w");
    if (!f) die("cannot create '%s/cost.txt': %s", od, strerror(errno));
    FILE *outs[2] = {f, stdout};
    for (int k = 0; k < 2; ++k) {
        FILE *o = outs[k];
        fprintf(o, "cost %.9g\n", (double)*net->cost);
        for (int i = 0; i < net->n; ++i)
            if (net->layers[i].cost)
                fprintf(o, "layer_cost %d %s %.9g\n", i, type_name(net->layers[i].type),
                        (double)net->layers[i].cost[0]);
        fprintf(o, "rate %.9g\n", (double)rate);
        fprintf(o, "seen %llu\n", (unsigned long long)*net->seen);
        fprintf(o, "batch %d\n", net->batch);
        fprintf(o, "subdivisions %d\n", net->subdivisions);
        fprintf(o, "would_update %d\n", would_update);
    }
    if (fclose(f) != 0) die("write error on cost.txt");

    update_network(net);
    char wpath[4096];
    snprintf(wpath, sizeof wpath, "%s", join(od, "after.weights"));
    save_weights(net, wpath);
    free(in);
    free(tr);
    return 0;
}

static int cmd_header(int argc, char **argv)
{
    if (argc != 1) die("usage: header <weights>");
    int ma, mi, re;
    unsigned long long seen;
    read_header(argv[0], &ma, &mi, &re, &seen);
    printf("%d %d %d %llu\n", ma, mi, re, seen);
    return 0;
}

static int cmd_wdump(int argc, char **argv)
{
    if (argc != 1) die("usage: wdump <weights>");
    int ma, mi, re;
    unsigned long long seen;
    int hsize = read_header(argv[0], &ma, &mi, &re, &seen);
    long sz = file_size(argv[0]);
    if ((sz - hsize) % 4) die("'%s': body of %ld bytes is not a whole number of floats", argv[0], sz - hsize);
    FILE *f = fopen(argv[0], "rb");
    if (!f || fseek(f, hsize, SEEK_SET) != 0) die("cannot read '%s'", argv[0]);
    float v;
    for (long i = 0; i < (sz - hsize) / 4; ++i) {
        if (fread(&v, 4, 1, f) != 1) die("'%s': short read", argv[0]);
        printf("%.9g\n", (double)v);
    }
    fclose(f);
    return 0;
}

/* strips all whitespace, as darknet's strip() does */
static void strip_ws(char *s)
{
    char *d = s;
    for (; *s; ++s)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') *d++ = *s;
    *d = 0;
}

static int cmd_cfgset(int argc, char **argv)
{
    if (argc < 3) die("usage: cfgset <in.cfg> <out.cfg> key=value...");
    int nk = argc - 2;
    char **keys = calloc((size_t)nk, sizeof *keys), **vals = calloc((size_t)nk, sizeof *vals);
    int *found = calloc((size_t)nk, sizeof *found);
    if (!keys || !vals || !found) die("out of memory");
    for (int k = 0; k < nk; ++k) {
        char *kv = strdup(argv[2 + k]);
        strip_ws(kv);
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv || !eq[1]) die("bad key=value '%s'", argv[2 + k]);
        *eq = 0;
        keys[k] = kv;
        vals[k] = eq + 1;
    }
    need_readable(argv[0]);
    FILE *in = fopen(argv[0], "r");
    if (!in) die("cannot open '%s'", argv[0]);
    char **lines = NULL;
    size_t nl = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, in)) >= 0) {
        if (nl == cap) {
            cap = cap ? 2 * cap : 256;
            lines = realloc(lines, cap * sizeof *lines);
            if (!lines) die("out of memory");
        }
        lines[nl++] = strdup(line);
    }
    free(line);
    fclose(in);

    /* find [net]: the first section; and where it ends */
    long head = -1, end = (long)nl;
    for (size_t i = 0; i < nl; ++i) {
        char *t = strdup(lines[i]);
        strip_ws(t);
        int is_sec = t[0] == '[';
        if (is_sec && head < 0) {
            if (strcmp(t, "[net]") && strcmp(t, "[network]"))
                die("'%s': first section is %s, not [net]", argv[0], t);
            head = (long)i;
        } else if (is_sec) {
            end = (long)i;
            free(t);
            break;
        } else if (head < 0 && t[0] && t[0] != '#' && t[0] != ';') {
            die("'%s' line %zu: option before the [net] section", argv[0], i + 1);
        }
        free(t);
    }
    if (head < 0) die("'%s': no [net] section", argv[0]);

    FILE *out = fopen(argv[1], "w");
    if (!out) die("cannot create '%s': %s", argv[1], strerror(errno));
    /* which keys exist in [net] */
    for (long i = head + 1; i < end; ++i) {
        char *t = strdup(lines[i]);
        strip_ws(t);
        char *eq = strchr(t, '=');
        if (eq && t[0] != '#' && t[0] != ';') {
            *eq = 0;
            for (int k = 0; k < nk; ++k)
                if (!strcmp(t, keys[k])) found[k] = 1;
        }
        free(t);
    }
    for (long i = 0; i < (long)nl; ++i) {
        int replaced = 0;
        if (i > head && i < end) {
            char *t = strdup(lines[i]);
            strip_ws(t);
            char *eq = strchr(t, '=');
            if (eq && t[0] != '#' && t[0] != ';') {
                *eq = 0;
                for (int k = 0; k < nk && !replaced; ++k)
                    if (!strcmp(t, keys[k])) {
                        fprintf(out, "%s=%s\n", keys[k], vals[k]);
                        replaced = 1;
                    }
            }
            free(t);
        }
        if (!replaced) {
            fputs(lines[i], out);
            size_t ll = strlen(lines[i]);
            if (ll && lines[i][ll - 1] != '\n') fputc('\n', out);
        }
        if (i == head)
            for (int k = 0; k < nk; ++k)
                if (!found[k]) {
                    fprintf(out, "%s=%s\n", keys[k], vals[k]);
                    found[k] = 1; /* a key given twice is added once */
                }
    }
    if (fclose(out) != 0) die("write error on '%s'", argv[1]);
    return 0;
}

static int cmd_randinput(int argc, char **argv)
{
    if (argc != 3) die("usage: randinput <n> <seed> <out.f32>");
    int n = (int)parse_long(argv[0], "count", 0, 1 << 28);
    rng_state = parse_seed(argv[1]);
    float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!x) die("out of memory");
    fill_uniform(x, n, 0.0f, 1.0f);
    write_f32(argv[2], x, n);
    free(x);
    return 0;
}

static int cmd_onehot(int argc, char **argv)
{
    if (argc != 4) die("usage: onehot <batch> <classes> <seed> <out.f32>");
    int b = (int)parse_long(argv[0], "batch", 1, 1 << 20);
    int c = (int)parse_long(argv[1], "classes", 1, 1 << 20);
    if ((long)b * c > (1L << 28)) die("batch*classes too large");
    rng_state = parse_seed(argv[2]);
    float *x = calloc((size_t)b * (size_t)c, sizeof(float));
    if (!x) die("out of memory");
    for (int i = 0; i < b; ++i) x[(size_t)i * c + (size_t)(rng_next() % (uint64_t)c)] = 1.0f;
    write_f32(argv[3], x, b * c);
    free(x);
    return 0;
}

static int cmd_fromtext(int argc, char **argv)
{
    if (argc != 2) die("usage: fromtext <in.txt|-> <out.f32>");
    FILE *in = strcmp(argv[0], "-") ? fopen(argv[0], "r") : stdin;
    if (!in) die("cannot open '%s': %s", argv[0], strerror(errno));
    size_t n = 0, cap = 1024;
    float *x = malloc(cap * sizeof *x);
    char tok[128];
    while (x && fscanf(in, "%127s", tok) == 1) {
        char *e;
        float v = strtof(tok, &e);
        if (e == tok || *e) die("'%s': not a number: '%s'", argv[0], tok);
        if (n == cap) x = realloc(x, (cap *= 2) * sizeof *x);
        if (!x) break;
        x[n++] = v;
    }
    if (!x) die("out of memory");
    if (n > (size_t)INT32_MAX) die("too many values");
    if (in != stdin) fclose(in);
    write_f32(argv[1], x, (int)n);
    free(x);
    return 0;
}

static int cmd_dump(int argc, char **argv)
{
    if (argc != 1) die("usage: dump <file.f32>");
    int n;
    float *x = read_f32(argv[0], &n);
    for (int i = 0; i < n; ++i) printf("%.9g\n", (double)x[i]);
    free(x);
    return 0;
}

static int cmd_checksum(int argc, char **argv)
{
    if (argc != 2) die("usage: check-sum <file.f32> <group>");
    int g = (int)parse_long(argv[1], "group", 1, INT32_MAX);
    int n;
    float *x = read_f32(argv[0], &n);
    if (n % g) die("'%s': %d values is not a multiple of group %d", argv[0], n, g);
    for (int i = 0; i < n; i += g) {
        double s = 0;
        for (int j = 0; j < g; ++j) s += x[i + j];
        printf("%.9g\n", s);
    }
    free(x);
    return 0;
}

static int cmd_maxdiff(int argc, char **argv)
{
    if (argc != 2) die("usage: maxdiff <a.f32> <b.f32>");
    int na, nb;
    float *a = read_f32(argv[0], &na), *b = read_f32(argv[1], &nb);
    if (na != nb) die("'%s' has %d values, '%s' has %d", argv[0], na, argv[1], nb);
    double m = 0;
    int at = -1;
    for (int i = 0; i < na; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || (isnan(d) && !isnan(m))) { m = d; at = i; }
    }
    printf("maxabs %.9g at %d\n", m, at);
    free(a);
    free(b);
    return 0;
}

static int cmd_imgdump(int argc, char **argv)
{
    if (argc != 2) die("usage: imgdump <image> <out.f32>");
    file_size(argv[0]); /* a missing file is our error, not load_image's exit(0) */
    image im = load_image_color(argv[0], 0, 0);
    long n = (long)im.w * im.h * im.c;
    if (n + 3 > INT32_MAX) die("'%s': image too large", argv[0]);
    float *x = malloc((size_t)(n + 3) * sizeof(float));
    if (!x) die("out of memory");
    x[0] = (float)im.w;
    x[1] = (float)im.h;
    x[2] = (float)im.c;
    memcpy(x + 3, im.data, (size_t)n * sizeof(float));
    write_f32(argv[1], x, (int)(n + 3));
    free(x);
    free_image(im);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: dn_oracle <command> args...\n"
            "  randweights <cfg> <seed> <out.weights>\n"
            "  forward <cfg> <weights> <input.f32> <outdir>\n"
            "  train <cfg> <weights> <input.f32> <truth.f32> <outdir>\n"
            "  header <weights> | wdump <weights>\n"
            "  cfgset <in.cfg> <out.cfg> key=value...\n"
            "  randinput <n> <seed> <out.f32> | onehot <batch> <classes> <seed> <out.f32>\n"
            "  fromtext <in.txt|-> <out.f32> | dump <file.f32> | check-sum <file.f32> <group>\n"
            "  maxdiff <a.f32> <b.f32> | imgdump <image> <out.f32>\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"randweights", cmd_randweights}, {"forward", cmd_forward}, {"train", cmd_train},
        {"header", cmd_header},           {"wdump", cmd_wdump},     {"cfgset", cmd_cfgset},
        {"randinput", cmd_randinput},     {"onehot", cmd_onehot},   {"fromtext", cmd_fromtext},
        {"dump", cmd_dump},               {"check-sum", cmd_checksum}, {"maxdiff", cmd_maxdiff},
        {"imgdump", cmd_imgdump},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; ++i)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "dn_oracle: error: unknown command '%s'\n", argv[1]);
    usage();
}
