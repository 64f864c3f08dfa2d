/* ./darknet detector demo <data> <cfg> <weights> <video> [-out_filename out.avi]
 *                          [-thresh .25] [-dont_show]
 *
 * AlexeyAB's demo on a video file: each frame letterboxed to the network, boxes above
 * thresh after NMS (.45) printed per frame as
 *   Frame N, Objects:
 *   <name>: NN%   (left_x: L   top_y: T   width: W   height: H)
 * (every class above thresh, the most probable first: "a: NN%, b: MM%") and drawn (the
 * first class's colour, "a NN%, b" label band) on the frame, which goes to
 * -out_filename as an MJPG video of the input's size and frame rate. No window is ever
 * opened (a headless build; -dont_show is accepted). Reading and writing video needs an
 * OPENCV=1 build; other builds say so and exit 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/detector_cli.h"
#include "cli/detector_demo.h"
#include "cli/train_loop.h"
#include "data/image.h"
#include "data/label.h"
#ifdef OPENCV
#include "data/opencv_io.h"
#endif

#ifndef OPENCV
int detector_demo(const char *datafile, const char *cfg, const char *weights, const char *video,
                  float thresh, const char *out)
{
    (void)datafile; (void)cfg; (void)weights; (void)video; (void)thresh; (void)out;
    fprintf(stderr, "detector demo reads and writes video through OpenCV: run "
            "scripts/setup.sh --opencv, then build with make OPENCV=1\n");
    return 1;
}
#else
/* A colour per class: the hue turns by the golden ratio from one class to the next. */
static void demo_colour(int cls, float rgb[3])
{
    float h = fmodf(cls * 0.618034f + .1f, 1) * 6;
    int i = (int)h;
    float f = h - i;
    const float t[6][3] = {{1, f, 0}, {1 - f, 1, 0}, {0, 1, f}, {0, 1 - f, 1}, {f, 0, 1}, {1, 0, 1 - f}};
    memcpy(rgb, t[i % 6], sizeof(float) * 3);
}

/* Prints and draws the boxes of one frame; returns how many. Each box shows every class
 * above thresh, the most probable first (label.h): printed "a: NN%, b: MM%" on the box's
 * line, labelled "a NN%, b" and coloured by the first, as AlexeyAB's demo does. */
static int show_boxes(image fr, detection *d, int n, const det_setup *s, float thresh)
{
    int shown = 0;
    int *cls = malloc(sizeof(int) * (size_t)(s->classes > 0 ? s->classes : 1));
    if (!cls) return 0;
    for (int i = 0; i < n; ++i) {
        int m = label_classes(d[i].prob, s->classes < d[i].classes ? s->classes : d[i].classes, s->names,
                              thresh, cls);
        if (!m) continue;
        box b = d[i].bbox;
        int l = (int)((b.x - b.w / 2) * fr.w), t = (int)((b.y - b.h / 2) * fr.h);
        int r = (int)((b.x + b.w / 2) * fr.w), bt = (int)((b.y + b.h / 2) * fr.h);
        for (int j = 0; j < m; ++j) printf("%s%s: %.0f%%", j ? ", " : "", s->names[cls[j]], d[i].prob[cls[j]] * 100);
        printf("\t(left_x: %4d   top_y: %4d   width: %4d   height: %4d)\n", l, t, r - l, bt - t);
        char label[4096];
        label_text(label, sizeof(label), d[i].prob, s->names, cls, m);
        float c[3];
        demo_colour(cls[0], c);
        /* two pixels at least: MJPG halves the colour resolution, a 1-pixel line blurs */
        int thick = fr.h / 160 > 2 ? fr.h / 160 : 2;
        cv_draw_box_label(fr, l, t, r, bt, thick, c, label);
        ++shown;
    }
    free(cls);
    return shown;
}

typedef struct {
    det_setup s;
    network *net;
    cv_reader *in;
    cv_writer *out;
    float *x;
} demo_run;

static void demo_free(demo_run *d)
{
    if (d->out) cv_writer_close(d->out);
    if (d->in) cv_reader_close(d->in);
    free(d->x);
    free_network(d->net);
    det_setup_free(&d->s);
}

/* One frame: letterbox, detect, print, draw, write. 0 or -1 (message printed). */
static int demo_frame(demo_run *d, image fr, int k, float thresh, const char *out)
{
    char err[1024];
    if (out && !d->out && !(d->out = cv_writer_open(out, fr.w, fr.h, cv_reader_fps(d->in), err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    image lb = letterbox_image(fr, d->net->w, d->net->h);
    if (!lb.data) {
        fprintf(stderr, "out of memory letterboxing frame %d\n", k);
        return -1;
    }
    memcpy(d->x, lb.data, sizeof(float) * (size_t)d->net->inputs);
    free_image(lb);
    double t0 = cli_now_s();
    int n = 0;
    detection *dets = det_run(d->net, d->x, fr.w, fr.h, thresh, .5f, &n);
    printf("\nFrame %d (%.1f FPS), Objects:\n", k, 1 / fmax(cli_now_s() - t0, 1e-6));
    show_boxes(fr, dets, n, &d->s, thresh);
    free_detections(dets, n);
    if (d->out && cv_writer_write(d->out, fr)) {
        fprintf(stderr, "cannot write frame %d to %s\n", k, out);
        return -1;
    }
    return 0;
}

int detector_demo(const char *datafile, const char *cfg, const char *weights, const char *video,
                  float thresh, const char *out)
{
    char err[1024];
    demo_run d;
    memset(&d, 0, sizeof(d));
    int rc = 1, k = 0;
    if (det_setup_read(datafile, &d.s, err, sizeof(err)) ||
        !(d.net = det_network(cfg, weights, 1, 0, d.s.classes, err, sizeof(err))) ||
        !(d.in = cv_reader_open(video, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        demo_free(&d);
        return 1;
    }
    if (d.net->c != 3) {
        fprintf(stderr, "%s: demo needs channels=3 (video frames are colour)\n", cfg);
        demo_free(&d);
        return 1;
    }
    d.x = malloc(sizeof(float) * (size_t)d.net->inputs);
    printf("Video stream: %s (OpenCV %s), %.1f FPS\n", video, cv_version(), cv_reader_fps(d.in));
    image fr;
    while (d.x && cv_reader_next(d.in, &fr)) {
        int bad = demo_frame(&d, fr, k++, thresh, out);
        free_image(fr);
        if (bad) break;
    }
    if (k == 0) fprintf(stderr, "%s: no frame could be read\n", video);
    else {
        rc = 0;
        printf("\n%d frames%s%s\n", k, out ? ", written to " : "", out ? out : "");
    }
    demo_free(&d);
    return rc;
}
#endif
