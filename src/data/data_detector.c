/* Detection samples (see data_detector.h). Bad inputs never stop training: an unreadable
 * image is skipped (the loader draws another), a missing label file means an image without
 * objects (AlexeyAB's behaviour; pjreddie exits), a bad label line is dropped. Each case
 * prints a warning naming the file (the first 20; the rest are counted) and the counts
 * are printed when training ends. */
#include "data/data_detector.h"

#include "core/list.h"

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WARNINGS 20

static int replace_first(const char *s, const char *from, const char *to, char *out, size_t n)
{
    const char *p = strstr(s, from);
    if (!p) return 0;
    snprintf(out, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return 1;
}

/* Replaces the extension of the last path component (if any) by .txt. */
static void to_txt(const char *s, char *out, size_t n)
{
    const char *slash = strrchr(s, '/'), *dot = strrchr(s, '.');
    size_t len = (dot && (!slash || dot > slash)) ? (size_t)(dot - s) : strlen(s);
    snprintf(out, n, "%.*s.txt", (int)len, s);
}

/* AlexeyAB's replace_image_to_label: folder names between slashes (COCO's images/train2017,
 * VOC's JPEGImages), so a path like /data/my_images/VOC/JPEGImages/x.jpg finds
 * VOC/labels/x.txt. Each pattern replaces its first occurrence, in this order. */
static void alexey_rule(const char *img, char *out, size_t n)
{
    static const char *const from[] = {"/images/train2017/", "/images/val2017/", "/JPEGImages/",
                                       "/images/train2014/", "/images/val2014/"};
    static const char *const to[] = {"/labels/train2017/", "/labels/val2017/", "/labels/",
                                     "/labels/train2014/", "/labels/val2014/"};
    char a[4096], b[4096];
    snprintf(a, sizeof(a), "%s", img);
    for (int i = 0; i < 5; ++i)
        if (replace_first(a, from[i], to[i], b, sizeof(b))) snprintf(a, sizeof(a), "%s", b);
    to_txt(a, out, n);
}

/* The last "/images/" folder -> "/labels/" (datasets laid out images/train, labels/train). */
static void images_folder_rule(const char *img, char *out, size_t n)
{
    const char *p = NULL;
    for (const char *q = strstr(img, "/images/"); q; q = strstr(q + 1, "/images/")) p = q;
    char a[4096];
    if (p) snprintf(a, sizeof(a), "%.*s/labels/%s", (int)(p - img), img, p + 8);
    else snprintf(a, sizeof(a), "%s", img);
    to_txt(a, out, n);
}

/* pjreddie's fill_truth_detection: "images", "JPEGImages", "raw" -> "labels", each its first
 * occurrence, one after the other. */
static void pjreddie_rule(const char *img, char *out, size_t n)
{
    static const char *const dirs[] = {"images", "JPEGImages", "raw"};
    char a[4096], b[4096];
    snprintf(a, sizeof(a), "%s", img);
    for (int i = 0; i < 3; ++i)
        if (replace_first(a, dirs[i], "labels", b, sizeof(b))) snprintf(a, sizeof(a), "%s", b);
    to_txt(a, out, n);
}

int detector_label_path(const char *img, char *out, size_t n)
{
    to_txt(img, out, n);
    if (access(out, R_OK) == 0) return 1;
    void (*const rules[])(const char *, char *, size_t) = {alexey_rule, images_folder_rule,
                                                            pjreddie_rule};
    for (int i = 0; i < 3; ++i) {
        char alt[4096];
        rules[i](img, alt, sizeof(alt));
        if (strcmp(alt, out) && access(alt, R_OK) == 0) {
            snprintf(out, n, "%s", alt);
            return 1;
        }
    }
    return 0;
}

static int parse_label_line(const char *line, label_box *b)
{
    char extra;
    return sscanf(line, "%d %f %f %f %f %c", &b->id, &b->x, &b->y, &b->w, &b->h, &extra) == 5;
}

int detector_read_labels(const char *path, int classes, label_box **out, unsigned long *bad, int warn)
{
    FILE *f = fopen(path, "r");
    *out = NULL;
    if (!f) return -1;
    int n = 0, cap = 0, lineno = 0;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        ++lineno;
        const char *text = lineno == 1 ? text_skip_bom(line) : line;
        if (strspn(text, " \t\r\n") == strlen(text)) continue;
        label_box b;
        const char *why = NULL;
        if (!parse_label_line(text, &b)) why = "expected `class x y w h`";
        else if (b.id < 0 || b.id >= classes) why = "class id outside 0..classes-1 (check classes= in the .data file)";
        else if (!(b.w > 0 && b.h > 0 && b.w <= FLT_MAX && b.h <= FLT_MAX && b.x >= 0 && b.x <= 1 &&
                   b.y >= 0 && b.y <= 1))
            why = "coordinates must be relative: x, y in [0,1], w, h > 0 and finite";
        if (why) {
            if (bad) ++*bad;
            if (warn) fprintf(stderr, "warning: %s:%d: label dropped: %s\n", path, lineno, why);
            continue;
        }
        if (n == cap) {
            cap = cap * 2 + 8;
            label_box *nb = realloc(*out, sizeof(label_box) * (size_t)cap);
            if (!nb) break;
            *out = nb;
        }
        (*out)[n++] = b;
    }
    if (ferror(f)) { /* a folder named like the label file reads as EISDIR */
        if (warn) fprintf(stderr, "warning: cannot read label file %s: %s\n", path, strerror(errno));
        free(*out);
        *out = NULL;
        n = -1;
    }
    fclose(f);
    return n;
}

static float clip01(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

int detector_pack_truth(label_box *b, int n, float dx, float dy, float sx, float sy, int flip,
                        float *truth, int max)
{
    memset(truth, 0, sizeof(float) * 5 * (size_t)max);
    int k = 0;
    for (int i = 0; i < n && k < max; ++i) {
        float l = (b[i].x - b[i].w / 2) * sx + dx, r = (b[i].x + b[i].w / 2) * sx + dx;
        float t = (b[i].y - b[i].h / 2) * sy + dy, bt = (b[i].y + b[i].h / 2) * sy + dy;
        if (flip) {
            float s = l;
            l = 1 - r;
            r = 1 - s;
        }
        l = clip01(l); r = clip01(r); t = clip01(t); bt = clip01(bt);
        float w = r - l, h = bt - t;
        /* pjreddie drops boxes under .001 but leaves a gap; we pack them densely because
         * the yolo layer stops at the first empty slot. */
        if (w < .001f || h < .001f) continue;
        float *o = truth + 5 * k++;
        o[0] = (l + r) / 2;
        o[1] = (t + bt) / 2;
        o[2] = w;
        o[3] = h;
        o[4] = (float)b[i].id;
    }
    return k;
}

static void shuffle_boxes(label_box *b, int n, rng_t *r)
{
    for (int i = n - 1; i > 0; --i) {
        int j = rng_int(r, i + 1);
        label_box t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
}

int detector_want_warning(detector_data *dd)
{
    if (dd->warnings++ < MAX_WARNINGS) return 1;
    if (dd->warnings == MAX_WARNINGS + 1)
        fprintf(stderr, "warning: more data problems; only counting them from now on\n");
    return 0;
}

typedef struct {
    int nw, nh, dx, dy, flip;
} placement;

/* pjreddie's jitter: aspect from the image size +- jitter, scale .25..2, random offset
 * (letter_box goes to AlexeyAB's scheme, data_mosaic.c). */
static placement random_placement(const detector_data *dd, rng_t *r, int iw, int ih)
{
    placement p;
    float jw = dd->jitter * iw, jh = dd->jitter * ih;
    float ar = (iw + rng_uniform(r, -jw, jw)) / (ih + rng_uniform(r, -jh, jh));
    float scale = rng_uniform(r, .25f, 2);
    if (ar < 1) {
        p.nh = (int)(scale * dd->h);
        p.nw = (int)(p.nh * ar);
    } else {
        p.nw = (int)(scale * dd->w);
        p.nh = (int)(p.nw / ar);
    }
    if (p.nw < 1) p.nw = 1;
    if (p.nh < 1) p.nh = 1;
    p.dx = (int)rng_uniform(r, 0, (float)(dd->w - p.nw));
    p.dy = (int)rng_uniform(r, 0, (float)(dd->h - p.nh));
    p.flip = dd->flip ? (int)(rng_u64(r) & 1) : 0;
    return p;
}

label_box *detector_image_labels(detector_data *dd, const char *img, rng_t *r, int *nout)
{
    char lp[4096];
    label_box *b = NULL;
    int n = -1;
    if (detector_label_path(img, lp, sizeof(lp)))
        n = detector_read_labels(lp, dd->classes, &b, &dd->bad_labels, dd->warnings < MAX_WARNINGS);
    if (n < 0) {
        dd->no_labels++;
        if (detector_want_warning(dd))
            fprintf(stderr, "warning: no label file %s for image %s; used without boxes\n", lp, img);
        n = 0;
    }
    shuffle_boxes(b, n, r);
    *nout = n;
    return b;
}

static void load_truth(detector_data *dd, const char *img, rng_t *r, const placement *p, float *y)
{
    int n;
    label_box *b = detector_image_labels(dd, img, r, &n);
    detector_pack_truth(b, n, (float)p->dx / dd->w, (float)p->dy / dd->h, (float)p->nw / dd->w,
                        (float)p->nh / dd->h, p->flip, y, dd->max_boxes);
    free(b);
}

int detector_uses_alexey(const detector_data *dd)
{
    return dd->mixup || dd->blur || dd->gaussian_noise || dd->letter_box ||
           (dd->resize != 0 && dd->resize != 1);
}

void detector_begin_batch(void *user, rng_t *r)
{
    detector_data *dd = user;
    /* cutmix alone (2) is off for detectors, as in AlexeyAB's loader */
    int mixing = dd->mixup == 1 || dd->mixup == 3 || dd->mixup == 4;
    dd->batch_mix = mixing ? (int)(rng_u64(r) & 1) : 0;
}

int detector_fill(void *user, rng_t *r, float *x, float *y)
{
    detector_data *dd = user;
    if (detector_uses_alexey(dd)) return detector_fill_alexey(dd, r, x, y);
    const char *path = dd->paths[rng_int(r, dd->n)];
    char err[1024];
    image im = image_cache_load(dd->cache, path, dd->c, err, sizeof(err));
    if (!im.data) {
        dd->skipped++;
        if (detector_want_warning(dd)) fprintf(stderr, "warning: %s; skipped\n", err);
        return -1;
    }
    placement p = random_placement(dd, r, im.w, im.h);
    image canvas = {dd->w, dd->h, dd->c, x};
    for (size_t i = 0; i < (size_t)dd->w * dd->h * dd->c; ++i) x[i] = .5f;
    int placed = image_place(im, p.nw, p.nh, p.dx, p.dy, canvas);
    free_image(im);
    if (placed) {
        fprintf(stderr, "warning: out of memory placing %s; skipped\n", path);
        return -1;
    }
    if (dd->augment) image_random_distort(canvas, r, dd->hue, dd->saturation, dd->exposure);
    if (p.flip) flip_image(canvas);
    load_truth(dd, path, r, &p, y);
    return 0;
}

int detector_load_eval(const detector_data *dd, int i, int letter, float *x, int *iw, int *ih,
                       char *err, size_t errlen)
{
    image im = image_load_ex(dd->paths[i], dd->c, err, errlen);
    if (!im.data) return -1;
    *iw = im.w;
    *ih = im.h;
    image in = letter ? letterbox_image(im, dd->w, dd->h) : resize_image(im, dd->w, dd->h);
    free_image(im);
    if (!in.data) {
        snprintf(err, errlen, "out of memory %s %s", letter ? "letterboxing" : "resizing", dd->paths[i]);
        return -1;
    }
    memcpy(x, in.data, sizeof(float) * (size_t)dd->w * dd->h * dd->c);
    free_image(in);
    return 0;
}
