/* AlexeyAB's detector augmentation (data_detector.h), written from the behaviour of his
 * OpenCV loader: what is drawn and how boxes follow the pixels, not his code.
 *
 * One image: a crop window cut pleft/pright/ptop/pbot pixels inside each side (negative:
 * padded with the image's mean colour), each side +-jitter of the image size plus a
 * common scale from [yolo] resize= (the left and top sides share one draw, the right and
 * bottom another, so the aspect is kept); letter_box pads the window to the network's
 * aspect. The window is resized (bilinear, pixel centres) to the network input, flipped,
 * HSV-distorted, blurred (blur=: none, background only with a 17x17 kernel, or the whole
 * image with blur=N's kernel, one in three each) and noised (gaussian_noise=, one image in
 * two). Boxes follow the window, are clipped to it and dropped under one input pixel.
 *
 * Mosaic (mosaic=1): a cut point between 20% and 80% of each side splits the input into
 * four quadrants; each takes the part of its own augmented image next to the cut (shifted
 * to skip padding), half of the images first pushed to the quadrant's far corner. Boxes
 * move with their image and are clipped to the whole input, or to their quadrant with
 * mosaic_bound=1; boxes left outside or under one pixel are dropped.
 * Mixup (mixup=1): two augmented images averaged 50/50, both box sets kept.
 * Mosaic and mixup apply to a mini-batch one time in two (detector_begin_batch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_detector.h"

typedef struct {
    int ow, oh;                       /* source image size */
    int pleft, pright, ptop, pbot;    /* pixels cut from each side (negative: padding) */
    int flip, blur, noise;
    float dhue, dsat, dexp;
} ab_draw;

/* AlexeyAB's rand_int: inclusive at both ends. */
static int rand_between(rng_t *r, int lo, int hi)
{
    if (hi < lo) { int t = lo; lo = hi; hi = t; }
    return lo + rng_int(r, hi - lo + 1);
}

/* A value between lo and hi from a uniform u drawn earlier (shared between two sides). */
static float between(float lo, float hi, float u)
{
    if (hi < lo) { float t = lo; lo = hi; hi = t; }
    return lo + (hi - lo) * u;
}

/* Letter box: widen the window on the short side so it has the network's aspect. */
static void letter_window(const detector_data *dd, ab_draw *d)
{
    float img_ar = (float)d->ow / d->oh, net_ar = (float)dd->w / dd->h;
    if (img_ar / net_ar > 1) {
        int delta = (int)((d->ow / net_ar - d->oh) / 2);
        d->ptop -= delta;
        d->pbot -= delta;
    } else {
        int delta = (int)((d->oh * net_ar - d->ow) / 2);
        d->pleft -= delta;
        d->pright -= delta;
    }
}

/* Mosaic: push the window to the side away from the cut, so most of the image shows in
 * its quadrant (q: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right). The flip
 * mirrors the window later, hence the swapped sides. */
static void to_corner(ab_draw *d, int q)
{
    int zero_left = (q == 0 || q == 2) != d->flip; /* quadrants 0, 2 show the image's right */
    if (zero_left) { d->pright += d->pleft; d->pleft = 0; }
    else { d->pleft += d->pright; d->pright = 0; }
    if (q < 2) { d->pbot += d->ptop; d->ptop = 0; }
    else { d->ptop += d->pbot; d->pbot = 0; }
}

static ab_draw draw_window(const detector_data *dd, rng_t *r, int ow, int oh, int quadrant)
{
    ab_draw d = {.ow = ow, .oh = oh};
    float dw = (float)(int)(ow * dd->jitter), dh = (float)(int)(oh * dd->jitter);
    float rs = dd->resize > 0 ? dd->resize : 1;
    float down = rs > 1 ? 1 / rs : rs, up = rs < 1 ? 1 / rs : rs;
    float min_rw = (float)(int)(ow * (1 - 1 / down) / 2), min_rh = (float)(int)(oh * (1 - 1 / down) / 2);
    float max_rw = rs < 1 ? 0 : (float)(int)(ow * (1 - 1 / up) / 2);
    float max_rh = rs < 1 ? 0 : (float)(int)(oh * (1 - 1 / up) / 2);
    float s1 = rng_float(r), s2 = rng_float(r), u[4];
    for (int i = 0; i < 4; ++i) u[i] = rng_float(r);
    d.flip = dd->flip ? (int)(rng_u64(r) & 1) : 0;
    d.dhue = rng_uniform(r, -dd->hue, dd->hue);
    d.dsat = rng_scale(r, dd->saturation);
    d.dexp = rng_scale(r, dd->exposure);
    if (dd->blur) {
        int k = rng_int(r, 3);
        d.blur = k == 0 ? 0 : (k == 1 ? 1 : dd->blur);
    }
    d.noise = dd->gaussian_noise && (rng_u64(r) & 1) ? dd->gaussian_noise : 0;
    d.pleft = (int)(between(-dw, dw, u[0]) + between(min_rw, max_rw, s1));
    d.pright = (int)(between(-dw, dw, u[1]) + between(min_rw, max_rw, s2));
    d.ptop = (int)(between(-dh, dh, u[2]) + between(min_rh, max_rh, s1));
    d.pbot = (int)(between(-dh, dh, u[3]) + between(min_rh, max_rh, s2));
    if (dd->letter_box) letter_window(dd, &d);
    if (quadrant >= 0 && (rng_u64(r) & 1)) to_corner(&d, quadrant);
    /* a window of at least one pixel whatever jitter says */
    if (ow - d.pleft - d.pright < 1) d.pright = ow - d.pleft - 1;
    if (oh - d.ptop - d.pbot < 1) d.pbot = oh - d.ptop - 1;
    return d;
}

static float clip01(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

/* Boxes into the window (and flipped), clipped to it; boxes under one input pixel are
 * dropped. Returns the number packed; *min_wh is the smallest side in input pixels. */
static int window_truth(const detector_data *dd, const label_box *b, int n, const ab_draw *d,
                        float *truth, int *min_wh)
{
    float sw = (float)(d->ow - d->pleft - d->pright), sh = (float)(d->oh - d->ptop - d->pbot);
    memset(truth, 0, sizeof(float) * 5 * (size_t)dd->max_boxes);
    if (n > dd->max_boxes) n = dd->max_boxes;
    int k = 0;
    *min_wh = 0;
    for (int i = 0; i < n; ++i) {
        float l = ((b[i].x - b[i].w / 2) * d->ow - d->pleft) / sw;
        float r = ((b[i].x + b[i].w / 2) * d->ow - d->pleft) / sw;
        float t = ((b[i].y - b[i].h / 2) * d->oh - d->ptop) / sh;
        float bt = ((b[i].y + b[i].h / 2) * d->oh - d->ptop) / sh;
        if (d->flip) {
            float s = l;
            l = 1 - r;
            r = 1 - s;
        }
        l = clip01(l); r = clip01(r); t = clip01(t); bt = clip01(bt);
        float w = r - l, h = bt - t;
        if (w < 1.0f / dd->w || h < 1.0f / dd->h) continue;
        float *o = truth + 5 * k++;
        o[0] = (l + r) / 2;
        o[1] = (t + bt) / 2;
        o[2] = w;
        o[3] = h;
        o[4] = (float)b[i].id;
        int side = (int)(w * dd->w) < (int)(h * dd->h) ? (int)(w * dd->w) : (int)(h * dd->h);
        if (*min_wh == 0 || side < *min_wh) *min_wh = side;
    }
    return k;
}

/* Value at window pixel (cx, cy): the image inside it, its mean colour outside. */
static float window_px(image im, const float *mean, const ab_draw *d, int cx, int cy, int k)
{
    int x = cx + d->pleft, y = cy + d->ptop;
    if (x < 0 || y < 0 || x >= im.w || y >= im.h) return mean[k];
    return im.data[((size_t)k * im.h + y) * im.w + x];
}

/* The window resized to out (bilinear on pixel centres, edges clamped to the window). */
static void render_window(image im, const ab_draw *d, image out)
{
    int sw = d->ow - d->pleft - d->pright, sh = d->oh - d->ptop - d->pbot;
    float mean[4] = {0, 0, 0, 0};
    size_t hw = (size_t)im.w * im.h;
    for (int k = 0; k < im.c && k < 4; ++k) {
        double s = 0;
        for (size_t i = 0; i < hw; ++i) s += im.data[k * hw + i];
        mean[k] = (float)(s / (double)hw);
    }
    for (int y = 0; y < out.h; ++y) {
        float fy = (y + .5f) * sh / out.h - .5f;
        if (fy < 0) fy = 0;
        if (fy > sh - 1) fy = (float)(sh - 1);
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : y0;
        float ay = fy - y0;
        for (int x = 0; x < out.w; ++x) {
            float fx = (x + .5f) * sw / out.w - .5f;
            if (fx < 0) fx = 0;
            if (fx > sw - 1) fx = (float)(sw - 1);
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : x0;
            float ax = fx - x0;
            for (int k = 0; k < out.c; ++k) {
                int kk = k < im.c ? k : 0;
                float v = (1 - ay) * ((1 - ax) * window_px(im, mean, d, x0, y0, kk) +
                                      ax * window_px(im, mean, d, x1, y0, kk)) +
                          ay * ((1 - ax) * window_px(im, mean, d, x0, y1, kk) +
                                ax * window_px(im, mean, d, x1, y1, kk));
                out.data[((size_t)k * out.h + y) * out.w + x] = v;
            }
        }
    }
}

/* blur=1 keeps the objects sharp: the box regions come back from the unblurred image. */
static int apply_blur(image out, int blur, const float *truth, int max)
{
    image b = copy_image(out);
    if (!b.data || image_gaussian_blur(b, blur == 1 ? 17 : blur)) {
        free_image(b);
        return -1;
    }
    for (int i = 0; blur == 1 && i < max && truth[5 * i + 2] > 0; ++i) {
        const float *t = truth + 5 * i;
        int l = (int)((t[0] - t[2] / 2) * out.w), top = (int)((t[1] - t[3] / 2) * out.h);
        int r = l + (int)(t[2] * out.w), bot = top + (int)(t[3] * out.h);
        for (int k = 0; k < out.c; ++k)
            for (int y = top < 0 ? 0 : top; y < bot && y < out.h; ++y)
                for (int x = l < 0 ? 0 : l; x < r && x < out.w; ++x) {
                    size_t j = ((size_t)k * out.h + y) * out.w + x;
                    b.data[j] = out.data[j];
                }
    }
    memcpy(out.data, b.data, sizeof(float) * (size_t)out.w * out.h * out.c);
    free_image(b);
    return 0;
}

/* One augmented image into out (the network size) with its truth; the window in *d.
 * -1 when the image cannot be read (counted, warned) or memory runs out. */
static int ab_image(detector_data *dd, rng_t *r, int quadrant, image out, float *truth, ab_draw *d)
{
    const char *path = dd->paths[rng_int(r, dd->n)];
    char err[1024];
    image im = image_cache_load(dd->cache, path, dd->c, err, sizeof(err));
    if (!im.data) {
        dd->skipped++;
        if (detector_want_warning(dd)) fprintf(stderr, "warning: %s; skipped\n", err);
        return -1;
    }
    *d = draw_window(dd, r, im.w, im.h, quadrant);
    int n, min_wh;
    label_box *b = detector_image_labels(dd, path, r, &n);
    window_truth(dd, b, n, d, truth, &min_wh);
    free(b);
    /* a kernel larger than an eighth of the smallest object would wipe it out */
    if (d->blur > 1 && min_wh / 8 < d->blur) d->blur = min_wh / 8;
    render_window(im, d, out);
    free_image(im);
    if (d->flip) flip_image(out);
    if (d->dsat != 1 || d->dexp != 1 || d->dhue != 0) image_distort(out, d->dhue, d->dsat, d->dexp);
    if (d->blur && apply_blur(out, d->blur, truth, dd->max_boxes)) return -1;
    if (d->noise) image_add_noise_8u(out, r, (float)d->noise);
    return 0;
}

static int count_boxes(const float *truth, int max)
{
    int n = 0;
    while (n < max && truth[5 * n + 2] > 0) ++n;
    return n;
}

typedef struct {
    int cut_x, cut_y;
    int left, right, top, bot;   /* padding skipped on each side of the image, pixels */
} mosaic_cut;

/* Source offset of quadrant q's pixels in its own augmented image. */
static void quadrant_offset(const mosaic_cut *m, int q, int w, int h, int *ox, int *oy)
{
    *ox = (q == 0 || q == 2) ? w - m->cut_x - m->right : m->left - m->cut_x;
    *oy = q < 2 ? h - m->cut_y - m->bot : m->top - m->cut_y;
}

static void mosaic_pixels(image src, const mosaic_cut *m, int q, float *x)
{
    int w = src.w, h = src.h, ox, oy;
    quadrant_offset(m, q, w, h, &ox, &oy);
    int x0 = (q == 0 || q == 2) ? 0 : m->cut_x, x1 = (q == 0 || q == 2) ? m->cut_x : w;
    int y0 = q < 2 ? 0 : m->cut_y, y1 = q < 2 ? m->cut_y : h;
    for (int k = 0; k < src.c; ++k)
        for (int y = y0; y < y1; ++y)
            memcpy(&x[((size_t)k * h + y) * w + x0], &src.data[((size_t)k * h + y + oy) * w + x0 + ox],
                   sizeof(float) * (size_t)(x1 - x0));
}

/* Quadrant q's boxes moved with its pixels, clipped (to the input, or to the quadrant with
 * mosaic_bound) and appended to y after its count boxes. Returns the new count. */
static int mosaic_truth(const detector_data *dd, const mosaic_cut *m, int q, const float *t,
                        float *y, int count)
{
    float w = (float)dd->w, h = (float)dd->h;
    int ox, oy;
    quadrant_offset(m, q, dd->w, dd->h, &ox, &oy);
    float lb = 0, rb = w, tb = 0, bb = h;
    if (dd->mosaic_bound) {
        lb = (q == 0 || q == 2) ? 0 : (float)m->cut_x;
        rb = (q == 0 || q == 2) ? (float)m->cut_x : w;
        tb = q < 2 ? 0 : (float)m->cut_y;
        bb = q < 2 ? (float)m->cut_y : h;
    }
    for (int i = 0; i < dd->max_boxes && t[5 * i + 2] > 0 && count < dd->max_boxes; ++i) {
        const float *b = t + 5 * i;
        float l = (b[0] - b[2] / 2) * w - ox, r = (b[0] + b[2] / 2) * w - ox;
        float top = (b[1] - b[3] / 2) * h - oy, bot = (b[1] + b[3] / 2) * h - oy;
        l = l < lb ? lb : l; r = r > rb ? rb : r;
        top = top < tb ? tb : top; bot = bot > bb ? bb : bot;
        float bw = (r - l) / w, bh = (bot - top) / h;
        if (bw <= 1 / w || bh <= 1 / h || bw >= 1 || bh >= 1) continue;
        float *o = y + 5 * count++;
        o[0] = (l + r) / 2 / w;
        o[1] = (top + bot) / 2 / h;
        o[2] = bw;
        o[3] = bh;
        o[4] = b[4];
    }
    return count;
}

static int fill_mosaic(detector_data *dd, rng_t *r, float *x, float *y, image tmp, float *t)
{
    int w = dd->w, h = dd->h, count = 0;
    mosaic_cut m;
    m.cut_x = rand_between(r, (int)(w * .2f), (int)(w * .8f));
    m.cut_y = rand_between(r, (int)(h * .2f), (int)(h * .8f));
    memset(y, 0, sizeof(float) * 5 * (size_t)dd->max_boxes);
    for (int q = 0; q < 4; ++q) {
        ab_draw d;
        if (ab_image(dd, r, q, tmp, t, &d)) return -1;
        if (d.flip) { int s = d.pleft; d.pleft = d.pright; d.pright = s; }
        /* padding of the window (negative cuts) in input pixels, at most the quadrant */
        int pl = -d.pleft * w / d.ow, pr = -d.pright * w / d.ow;
        int pt = -d.ptop * h / d.oh, pb = -d.pbot * h / d.oh;
        m.left = pl < 0 ? 0 : (pl > m.cut_x ? m.cut_x : pl);
        m.top = pt < 0 ? 0 : (pt > m.cut_y ? m.cut_y : pt);
        m.right = pr < 0 ? 0 : (pr > w - m.cut_x ? w - m.cut_x : pr);
        m.bot = pb < 0 ? 0 : (pb > h - m.cut_y ? h - m.cut_y : pb);
        mosaic_pixels(tmp, &m, q, x);
        count = mosaic_truth(dd, &m, q, t, y, count);
    }
    return 0;
}

static int fill_mixup(detector_data *dd, rng_t *r, float *x, float *y, image tmp, float *t)
{
    image a = {dd->w, dd->h, dd->c, x};
    ab_draw d;
    if (ab_image(dd, r, -1, a, y, &d) || ab_image(dd, r, -1, tmp, t, &d)) return -1;
    for (size_t i = 0; i < (size_t)dd->w * dd->h * dd->c; ++i) x[i] = .5f * x[i] + .5f * tmp.data[i];
    int n = count_boxes(y, dd->max_boxes);
    for (int i = 0; n < dd->max_boxes && t[5 * i + 2] > 0; ++i, ++n) memcpy(y + 5 * n, t + 5 * i, sizeof(float) * 5);
    return 0;
}

int detector_fill_alexey(detector_data *dd, rng_t *r, float *x, float *y)
{
    int mix = dd->batch_mix ? (dd->mixup == 1 ? 1 : (dd->mixup >= 3 ? 3 : 0)) : 0;
    if (!mix) {
        image a = {dd->w, dd->h, dd->c, x};
        ab_draw d;
        return ab_image(dd, r, -1, a, y, &d);
    }
    image tmp = make_image(dd->w, dd->h, dd->c);
    float *t = malloc(sizeof(float) * 5 * (size_t)dd->max_boxes);
    int rc = -1;
    if (tmp.data && t) rc = mix == 3 ? fill_mosaic(dd, r, x, y, tmp, t) : fill_mixup(dd, r, x, y, tmp, t);
    free_image(tmp);
    free(t);
    return rc;
}
