/* Random augmentations for the data loaders (Darknet's random_augment_image, flip and
 * random_distort_image) and AlexeyAB's classifier cutmix rectangle, drawing only from the
 * caller's rng so loading is repeatable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

void image_rgb_to_hsv(image im)
{
    if (im.c != 3) return;
    size_t n = (size_t)im.w * im.h;
    float *R = im.data, *G = R + n, *B = G + n;
    for (size_t i = 0; i < n; ++i) {
        float r = R[i], g = G[i], b = B[i];
        float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
        float h = 0, s = mx > 0 ? d / mx : 0;
        if (d > 0) {
            if (mx == r) h = (g - b) / d;
            else if (mx == g) h = 2 + (b - r) / d;
            else h = 4 + (r - g) / d;
            if (h < 0) h += 6;
            h /= 6;
        }
        R[i] = h;
        G[i] = s;
        B[i] = mx;
    }
}

void image_hsv_to_rgb(image im)
{
    if (im.c != 3) return;
    size_t n = (size_t)im.w * im.h;
    float *H = im.data, *S = H + n, *V = S + n;
    for (size_t i = 0; i < n; ++i) {
        float h = H[i] * 6, s = S[i], v = V[i];
        int sector = (int)floorf(h);
        float f = h - sector;
        float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        float r, g, b;
        switch (((sector % 6) + 6) % 6) {
        case 0: r = v; g = t; b = p; break;
        case 1: r = q; g = v; b = p; break;
        case 2: r = p; g = v; b = t; break;
        case 3: r = p; g = q; b = v; break;
        case 4: r = t; g = p; b = v; break;
        default: r = v; g = p; b = q; break;
        }
        H[i] = r;
        S[i] = g;
        V[i] = b;
    }
}

void image_distort(image im, float dhue, float sat, float val)
{
    size_t n = (size_t)im.w * im.h;
    if (im.c != 3) {
        /* Grey images have no hue or saturation; exposure still applies. */
        for (size_t i = 0; i < n * im.c; ++i) im.data[i] = clampf(im.data[i] * val, 0, 1);
        return;
    }
    image_rgb_to_hsv(im);
    for (size_t i = 0; i < n; ++i) {
        float h = im.data[i] + dhue;
        h -= floorf(h); /* wrap around the colour wheel */
        im.data[i] = h;
        im.data[n + i] = clampf(im.data[n + i] * sat, 0, 1);
        im.data[2 * n + i] = clampf(im.data[2 * n + i] * val, 0, 1);
    }
    image_hsv_to_rgb(im);
    for (size_t i = 0; i < 3 * n; ++i) im.data[i] = clampf(im.data[i], 0, 1);
}

void image_random_distort(image im, rng_t *r, float hue, float saturation, float exposure)
{
    float dhue = rng_uniform(r, -hue, hue);
    float dsat = rng_scale(r, saturation);
    float dexp = rng_scale(r, exposure);
    if (dhue == 0 && dsat == 1 && dexp == 1) return;
    image_distort(im, dhue, dsat, dexp);
}

void image_random_flip(image im, rng_t *r)
{
    if (rng_u64(r) & 1) flip_image(im);
}

image image_random_crop(image im, rng_t *r, const crop_args *a)
{
    int lo = a->min_size > 0 ? a->min_size : a->w, hi = a->max_size > lo ? a->max_size : lo;
    float size = (float)(lo + rng_int(r, hi - lo + 1));
    float aspect = a->aspect > 0 ? rng_scale(r, a->aspect) : 1;
    float rad = rng_uniform(r, -a->angle, a->angle) * (float)M_PI / 180.0f;
    /* Scale factors from source pixels to the scaled image; the shorter (aspect-stretched)
     * side becomes `size`. */
    float shorter = fminf((float)im.h, im.w * aspect);
    float sy = size / shorter, sx = sy * aspect;
    float W = im.w * sx, H = im.h * sy;
    float mx = fmaxf((W - a->w) / 2, 0), my = fmaxf((H - a->h) / 2, 0);
    float ox = rng_uniform(r, -mx, mx), oy = rng_uniform(r, -my, my);
    if (a->center) ox = oy = 0;
    image out = make_image(a->w, a->h, im.c);
    if (!out.data) return out;
    float cs = cosf(rad), sn = sinf(rad);
    for (int y = 0; y < a->h; ++y)
        for (int x = 0; x < a->w; ++x) {
            /* Output pixel centre relative to the window centre, rotated, then mapped back
             * through the scaling to source pixel coordinates. */
            float u = x + .5f - a->w / 2.0f, v = y + .5f - a->h / 2.0f;
            float qx = W / 2 + ox + cs * u - sn * v, qy = H / 2 + oy + sn * u + cs * v;
            float srcx = qx / sx - .5f, srcy = qy / sy - .5f;
            for (int k = 0; k < im.c; ++k)
                out.data[((size_t)k * a->h + y) * a->w + x] = image_bilinear(im, srcx, srcy, k);
        }
    return out;
}

/* Index of position i in [0, n) after reflecting it into range without repeating the edge
 * pixel (OpenCV's BORDER_REFLECT_101: -1 -> 1, n -> n-2). */
static int reflect101(int i, int n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* One pass of a 1-D kernel (radius rad) along rows (dir 0) or columns (dir 1). */
static void blur_pass(const float *src, float *dst, int w, int h, const float *k, int rad, int dir)
{
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            double s = 0;
            for (int t = -rad; t <= rad; ++t) {
                int xx = dir ? x : reflect101(x + t, w), yy = dir ? reflect101(y + t, h) : y;
                s += k[t + rad] * src[(size_t)yy * w + xx];
            }
            dst[(size_t)y * w + x] = (float)s;
        }
}

int image_gaussian_blur(image im, int ksize)
{
    ksize = (ksize / 2) * 2 + 1;
    if (ksize < 3) return 0;
    int rad = ksize / 2;
    double sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8, sum = 0;
    float *k = malloc(sizeof(float) * (size_t)ksize);
    float *tmp = malloc(sizeof(float) * (size_t)im.w * im.h);
    if (!k || !tmp) {
        free(k);
        free(tmp);
        return -1;
    }
    for (int t = -rad; t <= rad; ++t) sum += exp(-(double)t * t / (2 * sigma * sigma));
    for (int t = -rad; t <= rad; ++t) k[t + rad] = (float)(exp(-(double)t * t / (2 * sigma * sigma)) / sum);
    for (int c = 0; c < im.c; ++c) {
        float *plane = im.data + (size_t)c * im.w * im.h;
        blur_pass(plane, tmp, im.w, im.h, k, rad, 0);
        blur_pass(tmp, plane, im.w, im.h, k, rad, 1);
    }
    free(k);
    free(tmp);
    return 0;
}

void image_add_noise_8u(image im, rng_t *r, float sd)
{
    size_t n = (size_t)im.w * im.h * im.c;
    for (size_t i = 0; i < n; ++i) {
        float v = roundf(rng_normal(r) * sd);
        if (v > 0) im.data[i] = clampf(im.data[i] + v / 255.0f, 0, 1);
    }
}

/* A side in [(int)(.3 n), (int)(.8 n)], at least 1, at most n. */
static int cut_side(rng_t *r, int n)
{
    int lo = (int)(n * .3f), hi = (int)(n * .8f);
    int v = lo + rng_int(r, hi - lo + 1);
    return v < 1 ? 1 : (v > n ? n : v);
}

cut_rect image_cutmix_rect(rng_t *r, int w, int h)
{
    cut_rect c;
    c.w = cut_side(r, w);
    c.h = cut_side(r, h);
    c.x = rng_int(r, w - c.w); /* [0, w - cut_w - 1]; 0 when the side is the whole width */
    c.y = rng_int(r, h - c.h);
    return c;
}

void image_paste_rect(float *dst, const float *src, int w, int h, int c, cut_rect rc)
{
    for (int k = 0; k < c; ++k)
        for (int y = rc.y; y < rc.y + rc.h; ++y) {
            size_t o = ((size_t)k * h + y) * w + rc.x;
            memcpy(dst + o, src + o, sizeof(float) * (size_t)rc.w);
        }
}
