/* ./darknet detector test <data> <cfg> <weights> [image] [-thresh t] [-ext_output]
 *          [-letter_box] [-save_labels] [-out result.json] [-dontdraw_bbox]
 * ./darknet detect <cfg> <weights> [image] [-thresh t]   (names from data/coco.names)
 *
 * As AlexeyAB's test_detector: the image is resized to the network size (letterboxed with
 * -letter_box or the cfg's letter_box=1), boxes above thresh survive NMS at .45, each is
 * printed as `name: NN%` (with -ext_output also its pixel rectangle), every class above
 * thresh on its own line, boxes from left to right, and the image with the boxes drawn,
 * each with a "name1 NN%, name2" bar of its classes above thresh (data/label.h, the same
 * code in OpenCV builds), is written to predictions.jpg. Without an image path the paths are read
 * from stdin, one per line. -out writes every image's detections as AlexeyAB's JSON array;
 * -save_labels writes a YOLO label file (`class x y w h`) beside each image. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/layer_times.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/train_loop.h"
#include "cli/detector_cli.h"
#include "data/image.h"
#include "data/label.h"

typedef struct {
    network *net;
    const det_setup *s;
    const det_test_opts *o;
    FILE *json;
    int json_n;    /* images written to the JSON file */
} test_run;

/* A distinct colour per class: hue steps by the golden ratio. */
static void class_colour(int cls, float rgb[3])
{
    float h = fmodf(cls * 0.618034f, 1) * 6;
    int i = (int)h;
    float f = h - i, q = 1 - f;
    float tab[6][3] = {{1, f, 0}, {q, 1, 0}, {0, 1, f}, {0, q, 1}, {f, 0, 1}, {1, 0, q}};
    memcpy(rgb, tab[i % 6], sizeof(float) * 3);
}

/* The class with the highest probability above thresh, -1 when none. */
static int best_class(const detection *d, int classes, float thresh)
{
    int best = -1;
    for (int k = 0; k < classes && k < d->classes; ++k)
        if (d->prob[k] > thresh && (best < 0 || d->prob[k] > d->prob[best])) best = k;
    return best;
}

/* A box edge in pixels, inside [0, n - 1] as Darknet's draw_detections clips it: an
 * untrained net's boxes can be huge, infinite or NaN, and converting those to int is
 * undefined. */
static int pixel_in(float v, int n)
{
    if (!(v > 0)) return 0; /* also NaN */
    return v < n - 1 ? (int)v : n - 1;
}

/* A box to show: detection i with its n classes at cls (label_classes), sorted by key. */
typedef struct {
    int i, n;
    const int *cls;
    float key;
} shown_box;

static int by_key(const void *pa, const void *pb)
{
    const shown_box *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->i - b->i; /* qsort is not stable: the detection order decides ties */
}

/* NaN (an untrained net's box) sorts first instead of breaking the comparison. */
static float sort_key(float v)
{
    return v == v ? v : -FLT_MAX;
}

static void print_box(image im, const detection *d, const shown_box *b, const det_setup *s, int ext)
{
    box x = d->bbox;
    for (int j = 0; j < b->n; ++j) {
        printf("%s: %.0f%%", s->names[b->cls[j]], d->prob[b->cls[j]] * 100);
        if (ext)
            printf("\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)",
                   round((x.x - x.w / 2) * im.w), round((x.y - x.h / 2) * im.h), round(x.w * im.w),
                   round(x.h * im.h));
        printf("\n");
    }
}

static void draw_box(image im, const detection *d, const shown_box *b, const det_setup *s)
{
    box x = d->bbox;
    int l = pixel_in((x.x - x.w / 2) * im.w, im.w), r = pixel_in((x.x + x.w / 2) * im.w, im.w);
    int t = pixel_in((x.y - x.h / 2) * im.h, im.h), bt = pixel_in((x.y + x.h / 2) * im.h, im.h);
    float c[3];
    class_colour(b->cls[0], c);
    int width = im.h * .006 > 1 ? (int)(im.h * .006) : 1;
    draw_box_width(im, l, t, r, bt, width, c[0], c[1], c[2]);
    char label[4096];
    label_text(label, sizeof(label), d->prob, s->names, b->cls, b->n);
    draw_label(im, l, t, label, c);
}

/* As AlexeyAB's draw_detections_v3: the boxes with a class above thresh are printed from
 * left to right, each class on its own line (the most probable first, then the others in
 * class order), and drawn from the least to the most probable (the surest on top), with
 * every shown class in the label ("name1 NN%, name2"). */
static void report(image im, detection *d, int n, const det_setup *s, const det_test_opts *o)
{
    int classes = s->classes > 0 ? s->classes : 1;
    shown_box *b = malloc(sizeof(*b) * (size_t)(n > 0 ? n : 1));
    int *cls = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1) * (size_t)classes);
    if (!b || !cls) {
        fprintf(stderr, "out of memory reporting %d boxes\n", n);
        free(b);
        free(cls);
        return;
    }
    int m = 0;
    for (int i = 0; i < n; ++i) {
        int *c = cls + (size_t)i * classes;
        int k = label_classes(d[i].prob, d[i].classes < s->classes ? d[i].classes : s->classes, s->names,
                              o->thresh, c);
        if (k) b[m++] = (shown_box){i, k, c, sort_key(d[i].bbox.x - d[i].bbox.w / 2)};
    }
    qsort(b, (size_t)m, sizeof(*b), by_key);
    for (int j = 0; j < m; ++j) print_box(im, &d[b[j].i], &b[j], s, o->ext_output);
    if (!o->dontdraw) {
        for (int j = 0; j < m; ++j) b[j].key = d[b[j].i].prob[b[j].cls[0]];
        qsort(b, (size_t)m, sizeof(*b), by_key);
        for (int j = 0; j < m; ++j) draw_box(im, &d[b[j].i], &b[j], s);
    }
    free(b);
    free(cls);
}

/* One image's entry of AlexeyAB's -out JSON (detection_to_json): every class above .005
 * of every box, relative coordinates. */
static void write_json(test_run *t, const char *path, detection *d, int n)
{
    FILE *f = t->json;
    fprintf(f, "%s{\n \"frame_id\":%d, \n \"filename\":\"", t->json_n ? ", \n" : "", t->json_n + 1);
    for (const char *p = path; *p; ++p) {
        if (*p == '"' || *p == '\\') fputc('\\', f);
        fputc(*p, f);
    }
    fprintf(f, "\", \n \"objects\": [ \n");
    int first = 1;
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < t->s->classes && k < d[i].classes; ++k) {
            if (d[i].prob[k] <= .005f) continue;
            box b = d[i].bbox;
            fprintf(f, "%s  {\"class_id\":%d, \"name\":\"%s\", \"relative_coordinates\":{\"center_x\":%f, "
                    "\"center_y\":%f, \"width\":%f, \"height\":%f}, \"confidence\":%f}",
                    first ? "" : ", \n", k, t->s->names[k], b.x, b.y, b.w, b.h, d[i].prob[k]);
            first = 0;
        }
    fprintf(f, "\n ] \n}");
    ++t->json_n;
}

/* -save_labels: path with its extension replaced by .txt, one `class x y w h` line per box
 * (the best class above thresh), as AlexeyAB writes them. */
static int write_labels(const char *path, detection *d, int n, const det_setup *s, float thresh)
{
    char lp[4096];
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    if (stem + 5 > sizeof(lp)) {
        fprintf(stderr, "-save_labels: path too long: %s\n", path);
        return -1;
    }
    memcpy(lp, path, stem);
    strcpy(lp + stem, ".txt");
    FILE *f = fopen(lp, "w");
    if (!f) {
        perror(lp);
        return -1;
    }
    for (int i = 0; i < n; ++i) {
        int k = best_class(&d[i], s->classes, thresh);
        if (k >= 0)
            fprintf(f, "%d %2.4f %2.4f %2.4f %2.4f\n", k, d[i].bbox.x, d[i].bbox.y, d[i].bbox.w,
                    d[i].bbox.h);
    }
    return fclose(f) ? -1 : 0;
}

/* The network input for im: letterboxed or stretched (AlexeyAB's default). */
static image network_input(const network *net, image im, int letter)
{
    return letter ? letterbox_image(im, net->w, net->h) : resize_image(im, net->w, net->h);
}

static int test_one(test_run *t, const char *path)
{
    char err[1024];
    network *net = t->net;
    const det_test_opts *o = t->o;
    image im = image_load_ex(path, net->c, err, sizeof(err));
    if (!im.data) {
        fprintf(stderr, "%s\n", err);
        /* its frame, without objects, so that the later frame_ids still count the list's
         * lines (AlexeyAB's build detects on a blank 10x10 image there) */
        if (t->json) write_json(t, path, NULL, 0);
        return -1;
    }
    int letter = o->letter_box || net->letter_box;
    image in = network_input(net, im, letter);
    if (!in.data) {
        fprintf(stderr, "out of memory sizing %s\n", path);
        free_image(im);
        return -1;
    }
    double t0 = cli_now_s();
    int n = 0;
    /* Stretched input: boxes are already relative to the image (no letterbox correction). */
    detection *d = det_run(net, in.data, letter ? im.w : net->w, letter ? im.h : net->h, o->thresh,
                           o->hier, &n);
    printf("%s: Predicted in %f seconds.\n", path, cli_now_s() - t0);
    int rc = d ? 0 : -1;
    report(im, d, n, t->s, o);
    if (t->json) write_json(t, path, d, n);
    if (o->save_labels && d && write_labels(path, d, n, t->s, o->thresh)) rc = -1;
    free_detections(d, n);
    save_image(im, "predictions");
    free_image(in);
    free_image(im);
    return rc;
}

static int test_images(test_run *t, const char *img)
{
    if (img) return test_one(t, img) ? 1 : 0;
    char line[4096];
    int rc = 0;
    for (;;) {
        printf("Enter Image Path: ");
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin)) break;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && test_one(t, line)) rc = 1;
    }
    return rc;
}

static int run_test(test_run *t, const char *img)
{
    const char *out = t->o->out;
    if (out && !(t->json = fopen(out, "w"))) {
        perror(out);
        return 1;
    }
    if (t->json) fputs("[\n", t->json);
    int rc = test_images(t, img);
    if (t->json) {
        fputs("\n]\n", t->json);
        if (fclose(t->json)) {
            perror(out);
            rc = 1;
        }
    }
    return rc;
}

int detector_test(const char *datafile, const char *cfg, const char *weights, const char *img,
                  const det_test_opts *o, const char *names_override)
{
    char err[1024];
    det_setup s;
    memset(&s, 0, sizeof(s));
    if (datafile && det_setup_read(datafile, &s, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        det_setup_free(&s);
        return 1;
    }
    network *net = det_network(cfg, weights, 1, 0, datafile ? s.classes : 0, err, sizeof(err));
    if (!net) {
        fprintf(stderr, "%s\n", err);
        det_setup_free(&s);
        return 1;
    }
    if (!datafile) det_setup_names(&s, names_override, det_last_params(net)->classes);
    test_run t = {net, &s, o, NULL, 0};
    int rc = run_test(&t, img);
    layer_times_print(net, stderr);
    free_network(net);
    det_setup_free(&s);
    return rc;
}

void det_test_opts_read(det_test_opts *o, float thresh_default)
{
    o->thresh = cli_float("-thresh", thresh_default);
    o->hier = cli_float("-hier", .5f);
    o->ext_output = cli_flag("-ext_output");
    o->letter_box = cli_flag("-letter_box");
    o->save_labels = cli_flag("-save_labels");
    o->dontdraw = cli_flag("-dontdraw_bbox");
    o->out = cli_str("-out", NULL);
}

/* `detect` is `detector test` with the COCO names and no .data file. */
int run_detect(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s detect <cfg> <weights> [image] [-thresh t] [-ext_output]\n", argv[0]);
        return 1;
    }
    det_test_opts o;
    det_test_opts_read(&o, .5f);
    const char *names = "data/coco.names";
    FILE *f = fopen(names, "r");
    if (!f) names = "/usr/share/darknet/data/coco.names";
    else fclose(f);
    return detector_test(NULL, argv[2], argv[3], argc > 4 ? argv[4] : NULL, &o, names);
}
