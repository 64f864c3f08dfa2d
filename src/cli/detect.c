/* ./darknet detector test <data> <cfg> <weights> [image] [-thresh t] [-ext_output]
 * ./darknet detect <cfg> <weights> [image] [-thresh t]   (names from data/coco.names)
 *
 * Like Darknet: the image is letterboxed to the network size, boxes above thresh survive
 * NMS at .45, each is printed as `name: NN%` (with -ext_output also its pixel rectangle),
 * and the image with the boxes drawn is written to predictions.png. Without an image path
 * the paths are read from stdin, one per line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/train_loop.h"
#include "cli/detector_cli.h"
#include "data/image.h"

/* A distinct colour per class: hue steps by the golden ratio. */
static void class_colour(int cls, float rgb[3])
{
    float h = fmodf(cls * 0.618034f, 1) * 6;
    int i = (int)h;
    float f = h - i, q = 1 - f;
    float tab[6][3] = {{1, f, 0}, {q, 1, 0}, {0, 1, f}, {0, q, 1}, {f, 0, 1}, {1, 0, q}};
    memcpy(rgb, tab[i % 6], sizeof(float) * 3);
}

static void report(image im, detection *d, int n, const det_setup *s, float thresh, int ext)
{
    for (int i = 0; i < n; ++i) {
        int best = -1;
        for (int k = 0; k < s->classes && k < d[i].classes; ++k) {
            if (d[i].prob[k] <= thresh) continue;
            best = best < 0 || d[i].prob[k] > d[i].prob[best] ? k : best;
            printf("%s: %.0f%%", s->names[k], d[i].prob[k] * 100);
            box b = d[i].bbox;
            if (ext)
                printf("\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)",
                       (b.x - b.w / 2) * im.w, (b.y - b.h / 2) * im.h, b.w * im.w, b.h * im.h);
            printf("\n");
        }
        if (best < 0) continue;
        box b = d[i].bbox;
        int l = (int)((b.x - b.w / 2) * im.w), r = (int)((b.x + b.w / 2) * im.w);
        int t = (int)((b.y - b.h / 2) * im.h), bt = (int)((b.y + b.h / 2) * im.h);
        float c[3];
        class_colour(best, c);
        int width = im.h * .006 > 1 ? (int)(im.h * .006) : 1;
        draw_box_width(im, l, t, r, bt, width, c[0], c[1], c[2]);
    }
}

static int test_one(network *net, const det_setup *s, const char *path, float thresh, int ext)
{
    char err[1024];
    image im = image_load_ex(path, net->c, err, sizeof(err));
    if (!im.data) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    image lb = letterbox_image(im, net->w, net->h);
    if (!lb.data) {
        fprintf(stderr, "out of memory letterboxing %s\n", path);
        free_image(im);
        return -1;
    }
    double t0 = cli_now_s();
    int n = 0;
    detection *d = det_run(net, lb.data, im.w, im.h, thresh, &n);
    printf("%s: Predicted in %f seconds.\n", path, cli_now_s() - t0);
    report(im, d, n, s, thresh, ext);
    free_detections(d, n);
    save_image(im, "predictions");
    free_image(lb);
    free_image(im);
    return d ? 0 : -1;
}

static int test_images(network *net, const det_setup *s, const char *img, float thresh, int ext)
{
    if (img) return test_one(net, s, img, thresh, ext) ? 1 : 0;
    char line[4096];
    int rc = 0;
    for (;;) {
        printf("Enter Image Path: ");
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin)) break;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && test_one(net, s, line, thresh, ext)) rc = 1;
    }
    return rc;
}

int detector_test(const char *datafile, const char *cfg, const char *weights, const char *img,
                  float thresh, int ext_output, const char *names_override)
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
    int rc = test_images(net, &s, img, thresh, ext_output);
    free_network(net);
    det_setup_free(&s);
    return rc;
}

/* `detect` is `detector test` with the COCO names and no .data file. */
int run_detect(int argc, char **argv)
{
    float thresh = arg_float(&argc, argv, "-thresh", .5f);
    int ext = arg_flag(&argc, argv, "-ext_output");
    if (argc < 4) {
        fprintf(stderr, "usage: %s detect <cfg> <weights> [image] [-thresh t] [-ext_output]\n", argv[0]);
        return 1;
    }
    const char *names = "data/coco.names";
    FILE *f = fopen(names, "r");
    if (!f) names = "/usr/share/darknet/data/coco.names";
    else fclose(f);
    return detector_test(NULL, argv[2], argv[3], argc > 4 ? argv[4] : NULL, thresh, ext, names);
}
