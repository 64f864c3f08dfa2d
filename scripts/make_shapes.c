/* make_shapes: a seeded synthetic detection set.
 *
 *   make_shapes <outdir> <n_train> <n_valid> <width> <height> <seed> [max_shapes [min_side max_side]]
 *
 * Writes <outdir>/img_NNNNN.png with a YOLO label file next to each (img_NNNNN.txt),
 * <outdir>/train.txt and <outdir>/valid.txt (absolute-free paths as given). Every image has
 * a noisy background of a random colour and 1-6 shapes of classes 0 rectangle, 1 ellipse,
 * 2 triangle (apex up, so the label box is the shape's bounding box), in random saturated
 * colours, 8-40% of the image side, never overlapping each other (so labels are exact). The same
 * seed gives the same set at any size. max_shapes (1-6, default 6) and the side range
 * (fractions, default .08 .40) make easier sets (the demo test's few large objects); the
 * defaults draw the same numbers as before, so existing sets are unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dn_api.h"
#include "core/rng.h"

typedef struct {
    int cls;
    float x, y, w, h; /* relative */
    float rgb[3];
} shape;

static void background(image im, rng_t *r)
{
    float base[3] = {rng_float(r), rng_float(r), rng_float(r)};
    for (int k = 0; k < 3; ++k)
        for (int i = 0; i < im.w * im.h; ++i) {
            float v = base[k] + .15f * (rng_float(r) - .5f);
            im.data[(size_t)k * im.w * im.h + i] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
}

/* Inside test in the shape's own box coordinates u, v in [0,1]. */
static int inside(int cls, float u, float v)
{
    if (cls == 0) return 1;
    if (cls == 1) return (u - .5f) * (u - .5f) + (v - .5f) * (v - .5f) <= .25f;
    return fabsf(u - .5f) <= v / 2; /* apex at the top centre, base along the bottom */
}

static void draw(image im, const shape *s)
{
    int x0 = (int)((s->x - s->w / 2) * im.w), x1 = (int)((s->x + s->w / 2) * im.w);
    int y0 = (int)((s->y - s->h / 2) * im.h), y1 = (int)((s->y + s->h / 2) * im.h);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
            if (x < 0 || y < 0 || x >= im.w || y >= im.h) continue;
            float u = (x + .5f - x0) / (x1 - x0), v = (y + .5f - y0) / (y1 - y0);
            if (!inside(s->cls, u, v)) continue;
            for (int k = 0; k < 3; ++k) im.data[((size_t)k * im.h + y) * im.w + x] = s->rgb[k];
        }
}

static void random_colour(rng_t *r, float *rgb)
{
    /* one channel high, one low, one anywhere: saturated and far from grey */
    int hi = rng_int(r, 3), lo = (hi + 1 + rng_int(r, 2)) % 3;
    for (int k = 0; k < 3; ++k) rgb[k] = rng_float(r);
    rgb[hi] = .8f + .2f * rng_float(r);
    rgb[lo] = .2f * rng_float(r);
}

static float side_min = .08f, side_span = .32f;

static int place(rng_t *r, shape *s, int n, shape *out)
{
    for (int tries = 0; tries < 30; ++tries) {
        out->cls = rng_int(r, 3);
        out->w = side_min + side_span * rng_float(r);
        out->h = side_min + side_span * rng_float(r);
        out->x = out->w / 2 + (1 - out->w) * rng_float(r);
        out->y = out->h / 2 + (1 - out->h) * rng_float(r);
        int ok = 1;
        for (int i = 0; i < n && ok; ++i) ok = box_iou((box){s[i].x, s[i].y, s[i].w, s[i].h},
                                                       (box){out->x, out->y, out->w, out->h}) <= 0;
        if (ok) {
            random_colour(r, out->rgb);
            return 1;
        }
    }
    return 0;
}

static int max_shapes = 6;

static int write_sample(const char *dir, int idx, int w, int h, uint64_t seed, FILE *list)
{
    rng_t r;
    rng_seed(&r, seed, (uint64_t)idx);
    image im = make_image(w, h, 3);
    if (!im.data) return -1;
    background(im, &r);
    shape s[6];
    int want = 1 + rng_int(&r, max_shapes), n = 0;
    while (n < want && place(&r, s, n, &s[n])) draw(im, &s[n++]);
    char base[4096], path[4200];
    snprintf(base, sizeof(base), "%s/img_%05d", dir, idx);
    save_image_png(im, base);
    free_image(im);
    snprintf(path, sizeof(path), "%s.txt", base);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < n; ++i)
        fprintf(f, "%d %.6f %.6f %.6f %.6f\n", s[i].cls, s[i].x, s[i].y, s[i].w, s[i].h);
    fclose(f);
    fprintf(list, "%s.png\n", base);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8 && argc != 10) {
        fprintf(stderr, "usage: %s <outdir> <n_train> <n_valid> <width> <height> <seed> [max_shapes [min_side max_side]]\n", argv[0]);
        return 1;
    }
    if (argc >= 8) max_shapes = atoi(argv[7]);
    if (argc == 10) {
        side_min = (float)atof(argv[8]);
        side_span = (float)atof(argv[9]) - side_min;
    }
    if (max_shapes < 1 || max_shapes > 6 || side_min <= 0 || side_span < 0 || side_min + side_span > 1) {
        fprintf(stderr, "%s: need 1 <= max_shapes <= 6 and 0 < min_side <= max_side <= 1\n", argv[0]);
        return 1;
    }
    const char *dir = argv[1];
    int nt = atoi(argv[2]), nv = atoi(argv[3]), w = atoi(argv[4]), h = atoi(argv[5]);
    uint64_t seed = strtoull(argv[6], NULL, 10);
    if (nt < 1 || nv < 0 || w < 16 || h < 16) {
        fprintf(stderr, "%s: need n_train >= 1, n_valid >= 0, width and height >= 16\n", argv[0]);
        return 1;
    }
    char lp[4096];
    snprintf(lp, sizeof(lp), "%s/train.txt", dir);
    FILE *tl = fopen(lp, "w");
    snprintf(lp, sizeof(lp), "%s/valid.txt", dir);
    FILE *vl = fopen(lp, "w");
    if (!tl || !vl) {
        fprintf(stderr, "%s: cannot write the lists in %s (does the folder exist?)\n", argv[0], dir);
        return 1;
    }
    for (int i = 0; i < nt + nv; ++i)
        if (write_sample(dir, i, w, h, seed, i < nt ? tl : vl)) {
            fprintf(stderr, "%s: cannot write sample %d in %s\n", argv[0], i, dir);
            return 1;
        }
    fclose(tl);
    fclose(vl);
    printf("%d train + %d valid images (%dx%d, seed %llu) in %s\n", nt, nv, w, h,
           (unsigned long long)seed, dir);
    return 0;
}
