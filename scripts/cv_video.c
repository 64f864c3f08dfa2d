/* cv_video: video helpers for the demo test, through OpenCV (OPENCV=1 builds only).
 *
 *   cv_video make <out.avi> <fps> <image>...   MJPG video (VideoWriter), one frame per image
 *   cv_video tiff <in image> <out.tiff>         re-encodes an image as TIFF (cv::imwrite)
 *   cv_video check <in.avi> <out.avi> <demo.txt>
 *       reads both videos frame by frame and the boxes `detector demo` printed (demo.txt,
 *       its stdout): on every frame, each box's edges must be drawn (pixels changed from
 *       the input by more than .1 somewhere on the visible middle of the edge) and the pixels away from every box and label must be
 *       the input's (mean difference under .03: MJPG re-encoding only). Prints one line
 *       per frame; exit 0 when all hold.
 *   cv_video iou <demo.txt> <min_iou> <min_recall> <width> <height> <labels.txt>...
 *       the boxes the demo printed for frame k against the ground truth of frame k (YOLO
 *       label file k, relative to a width x height frame): every printed box must overlap
 *       some true box with IoU >= min_iou, and at least min_recall of the true boxes must
 *       be matched so by a printed box. Prints one line per frame; exit 0 when both hold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#ifdef OPENCV
#include "data/opencv_io.h"

typedef struct {
    int l, t, w, h;
} rect;

/* Boxes of frame k from the demo's output. */
static int frame_boxes(FILE *f, int k, rect *r, int max)
{
    char line[1024];
    int n = 0, in = 0;
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        int fk;
        if (sscanf(line, "Frame %d", &fk) == 1) { in = fk == k; continue; }
        const char *p = strstr(line, "(left_x:");
        if (in && p && n < max &&
            sscanf(p, "(left_x: %d top_y: %d width: %d height: %d", &r[n].l, &r[n].t, &r[n].w, &r[n].h) == 4)
            ++n;
    }
    return n;
}

static float diff(image a, image b, int x, int y)
{
    float d = 0;
    for (int k = 0; k < 3; ++k) {
        size_t i = ((size_t)k * a.h + y) * a.w + x;
        d = fmaxf(d, fabsf(a.data[i] - b.data[i]));
    }
    return d;
}

/* Largest change along a box edge segment (a few pixels around the edge's middle). */
static float edge_change(image a, image b, int x0, int y0, int dx, int dy)
{
    float m = 0;
    for (int s = -2; s <= 2; ++s) {
        int x = x0 + s * dx, y = y0 + s * dy;
        if (x >= 0 && y >= 0 && x < a.w && y < a.h) m = fmaxf(m, diff(a, b, x, y));
    }
    return m;
}

/* Inside a box (4 pixels of margin for the line and MJPG's 8x8 blocks) or its label band
 * (above the box's top-left corner, or just inside it at the frame's top, up to 120 px
 * wide for a name and a percentage). */
static int near_box(const rect *r, int n, int x, int y)
{
    for (int i = 0; i < n; ++i) {
        if (x >= r[i].l - 4 && x <= r[i].l + r[i].w + 4 && y >= r[i].t - 4 && y <= r[i].t + r[i].h + 4) return 1;
        if (x >= r[i].l - 4 && x <= r[i].l + 120 && y >= r[i].t - 30 && y <= r[i].t + 30) return 1;
    }
    return 0;
}

static int check(const char *in_path, const char *out_path, const char *txt)
{
    char err[1024];
    cv_reader *a = cv_reader_open(in_path, err, sizeof(err)), *b = a ? cv_reader_open(out_path, err, sizeof(err)) : NULL;
    FILE *f = fopen(txt, "r");
    if (!a || !b || !f) { fprintf(stderr, "check: %s\n", f ? err : "cannot read the demo output"); return 1; }
    int k = 0, bad = 0, boxes = 0;
    image fa, fb;
    while (cv_reader_next(a, &fa)) {
        if (!cv_reader_next(b, &fb)) { fprintf(stderr, "frame %d: missing in %s\n", k, out_path); bad = 1; free_image(fa); break; }
        rect r[256];
        int n = frame_boxes(f, k, r, 256);
        for (int i = 0; i < n; ++i, ++boxes) {
            /* middle of the part of each edge inside the frame */
            int x0 = r[i].l < 0 ? 0 : r[i].l, x1 = r[i].l + r[i].w >= fa.w ? fa.w - 1 : r[i].l + r[i].w;
            int y0 = r[i].t < 0 ? 0 : r[i].t, y1 = r[i].t + r[i].h >= fa.h ? fa.h - 1 : r[i].t + r[i].h;
            int cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
            float e[4] = {edge_change(fa, fb, r[i].l, cy, 0, 1), edge_change(fa, fb, r[i].l + r[i].w, cy, 0, 1),
                          edge_change(fa, fb, cx, r[i].t + r[i].h, 1, 0), edge_change(fa, fb, cx, r[i].t, 1, 0)};
            for (int s = 0; s < 4; ++s) {
                /* an edge on the frame border is clipped away */
                int off = (s == 0 && r[i].l < 0) || (s == 1 && r[i].l + r[i].w >= fa.w) ||
                          (s == 2 && r[i].t + r[i].h >= fa.h) || (s == 3 && r[i].t < 0);
                if (!off && e[s] <= .1f) { fprintf(stderr, "frame %d box %d: edge %d not drawn (%.3f)\n", k, i, s, e[s]); bad = 1; }
            }
        }
        double sum = 0;
        long cnt = 0;
        for (int y = 0; y < fa.h; ++y)
            for (int x = 0; x < fa.w; ++x)
                if (!near_box(r, n, x, y)) { sum += diff(fa, fb, x, y); ++cnt; }
        double mean = cnt ? sum / cnt : 0;
        printf("frame %d: %d boxes drawn, mean change elsewhere %.4f\n", k, n, mean);
        if (mean >= .03) bad = 1;
        free_image(fa);
        free_image(fb);
        ++k;
    }
    printf("%d frames, %d boxes\n", k, boxes);
    cv_reader_close(a);
    cv_reader_close(b);
    fclose(f);
    return bad || k == 0;
}

static float rect_iou(rect a, const float g[4])
{
    float ix = fminf(a.l + a.w, g[0] + g[2]) - fmaxf(a.l, g[0]);
    float iy = fminf(a.t + a.h, g[1] + g[3]) - fmaxf(a.t, g[1]);
    if (ix <= 0 || iy <= 0) return 0;
    return ix * iy / ((float)a.w * a.h + g[2] * g[3] - ix * iy);
}

/* Ground truth of one frame in pixels (left, top, width, height); the count, -1 unreadable. */
static int frame_truth(const char *path, int w, int h, float (*g)[4], int max)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c;
    float x, y, bw, bh;
    while (n < max && fscanf(f, "%d %f %f %f %f", &c, &x, &y, &bw, &bh) == 5) {
        g[n][0] = (x - bw / 2) * w;
        g[n][1] = (y - bh / 2) * h;
        g[n][2] = bw * w;
        g[n][3] = bh * h;
        ++n;
    }
    fclose(f);
    return n;
}

static int iou_check(int argc, char **argv)
{
    FILE *f = fopen(argv[2], "r");
    float min_iou = (float)atof(argv[3]), min_recall = (float)atof(argv[4]);
    int w = atoi(argv[5]), h = atoi(argv[6]), bad = 0, boxes = 0, truths = 0, found = 0;
    if (!f) { fprintf(stderr, "iou: cannot read %s\n", argv[2]); return 1; }
    for (int k = 0; k + 7 < argc; ++k) {
        rect r[256];
        float g[64][4];
        int n = frame_boxes(f, k, r, 256), ng = frame_truth(argv[k + 7], w, h, g, 64);
        if (ng < 0) { fprintf(stderr, "iou: cannot read %s\n", argv[k + 7]); bad = 1; break; }
        float worst = 1;
        int hit = 0;
        for (int i = 0; i < n; ++i) {
            float best = 0;
            for (int j = 0; j < ng; ++j) best = fmaxf(best, rect_iou(r[i], g[j]));
            worst = fminf(worst, best);
            if (best < min_iou) {
                fprintf(stderr, "frame %d box %d (%d %d %d %d): best IoU with the truth %.3f < %.3f\n", k, i,
                        r[i].l, r[i].t, r[i].w, r[i].h, best, min_iou);
                bad = 1;
            }
        }
        for (int j = 0; j < ng; ++j) {
            int m = 0;
            for (int i = 0; i < n && !m; ++i) m = rect_iou(r[i], g[j]) >= min_iou;
            hit += m;
        }
        printf("frame %d: %d boxes, %d of %d objects found, worst box IoU %.3f\n", k, n, hit, ng, n ? worst : 0);
        boxes += n;
        truths += ng;
        found += hit;
    }
    fclose(f);
    printf("%d boxes, %d of %d objects found (recall %.2f)\n", boxes, found, truths, truths ? (float)found / truths : 0);
    if (!truths || found < min_recall * truths) bad = 1;
    return bad;
}

static int make(int argc, char **argv)
{
    char err[1024];
    cv_writer *w = NULL;
    for (int i = 4; i < argc; ++i) {
        image im = image_load_ex(argv[i], 3, err, sizeof(err));
        if (!im.data) { fprintf(stderr, "%s\n", err); return 1; }
        if (!w && !(w = cv_writer_open(argv[2], im.w, im.h, atof(argv[3]), err, sizeof(err)))) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        int rc = cv_writer_write(w, im);
        free_image(im);
        if (rc) { fprintf(stderr, "%s: frame size differs from the first image\n", argv[i]); return 1; }
    }
    if (w) cv_writer_close(w);
    printf("%d frames -> %s\n", argc - 4, argv[2]);
    return 0;
}

static int tiff(const char *in, const char *out)
{
    char err[1024];
    image im = image_load_ex(in, 3, err, sizeof(err));
    if (!im.data) { fprintf(stderr, "%s\n", err); return 1; }
    int rc = cv_save_image(im, out);
    free_image(im);
    if (rc) fprintf(stderr, "cannot write %s\n", out);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "make")) return make(argc, argv);
    if (argc == 4 && !strcmp(argv[1], "tiff")) return tiff(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "check")) return check(argv[2], argv[3], argv[4]);
    if (argc >= 8 && !strcmp(argv[1], "iou")) return iou_check(argc, argv);
    fprintf(stderr, "usage: %s make <out.avi> <fps> <image>... | tiff <in> <out.tiff> | check <in.avi> <out.avi> <demo.txt>"
            " | iou <demo.txt> <min_iou> <min_recall> <width> <height> <labels.txt>...\n", argv[0]);
    return 2;
}
#else
int main(void)
{
    fprintf(stderr, "cv_video needs an OpenCV build: make OPENCV=1 tools\n");
    return 2;
}
#endif
