/* Images: the public pjreddie-compatible API (darknet.h) and error-returning loading.
 * Decoding goes through OpenCV in OPENCV=1 builds (opencv_io.h: every format it reads),
 * with stb_image (libstb) as the fallback and the only decoder otherwise; encoding is stb's.
 * Layout is CHW floats in [0,1]: channel k, row y, column x at data[(k*h + y)*w + x]. */
#include "data/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#ifdef OPENCV
#include "data/opencv_io.h"
#endif

image make_empty_image(int w, int h, int c)
{
    image im = {w, h, c, NULL};
    return im;
}

image make_image(int w, int h, int c)
{
    image im = make_empty_image(w, h, c);
    if (w > 0 && h > 0 && c > 0) im.data = calloc((size_t)w * h * c, sizeof(float));
    return im;
}

void free_image(image m) { free(m.data); }

image copy_image(image p)
{
    image c = make_image(p.w, p.h, p.c);
    if (c.data) memcpy(c.data, p.data, (size_t)p.w * p.h * p.c * sizeof(float));
    return c;
}

static inline float px(image im, int x, int y, int k) { return im.data[((size_t)k * im.h + y) * im.w + x]; }

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

image image_load_ex(const char *path, int c, char *err, size_t errlen)
{
    int w, h, n;
#ifdef OPENCV
    image cvim = cv_load_image(path, c, err, errlen);
    if (cvim.data) return cvim;
#endif
    unsigned char *pix = stbi_load(path, &w, &h, &n, c);
    if (!pix) {
        snprintf(err, errlen, "cannot load image %s: %s (is it a readable %s file?)", path,
                 stbi_failure_reason(),
#ifdef OPENCV
                 "image"
#else
                 "JPEG/PNG/BMP"
#endif
                 );
        return make_empty_image(0, 0, 0);
    }
    if (c) n = c;
    image im = make_image(w, h, n);
    if (!im.data) {
        snprintf(err, errlen, "out of memory loading %s (%dx%d)", path, w, h);
        stbi_image_free(pix);
        return im;
    }
    /* stb gives interleaved HWC bytes; we store planar CHW floats. */
    for (int k = 0; k < n; ++k)
        for (int i = 0; i < w * h; ++i) im.data[(size_t)k * w * h + i] = pix[(size_t)i * n + k] / 255.0f;
    stbi_image_free(pix);
    return im;
}

image load_image(char *filename, int w, int h, int c)
{
    char err[1024];
    image im = image_load_ex(filename, c, err, sizeof(err));
    if (!im.data) {
        /* Darknet's OpenCV builds (pjreddie's, AlexeyAB's) go on with a 10x10 image: a
         * script looping over a folder through the library must not die on one bad file. */
        fprintf(stderr, "%s; a blank 10x10 image is used instead\n", err);
        im = make_image(10, 10, c > 0 ? c : 3);
        if (!im.data) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    if (w > 0 && h > 0 && (w != im.w || h != im.h)) {
        image r = resize_image(im, w, h);
        free_image(im);
        im = r;
    }
    return im;
}

image load_image_color(char *filename, int w, int h) { return load_image(filename, w, h, 3); }

float image_bilinear(image im, float x, float y, int k)
{
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float dx = x - x0, dy = y - y0;
    int xa = clampi(x0, 0, im.w - 1), xb = clampi(x0 + 1, 0, im.w - 1);
    int ya = clampi(y0, 0, im.h - 1), yb = clampi(y0 + 1, 0, im.h - 1);
    return (1 - dy) * ((1 - dx) * px(im, xa, ya, k) + dx * px(im, xb, ya, k)) +
           dy * ((1 - dx) * px(im, xa, yb, k) + dx * px(im, xb, yb, k));
}

/* The source columns and weights of each output column (and row) are worked out once,
 * not once per pixel and channel (the loader's largest cost after decoding); the
 * arithmetic is image_bilinear's, term for term, so the values are the same bits
 * (-ffp-contract=off; test_image checks against image_bilinear). */
int image_place(image im, int nw, int nh, int dx, int dy, image canvas)
{
    int x0 = dx < 0 ? -dx : 0, x1 = canvas.w - dx < nw ? canvas.w - dx : nw;
    int y0 = dy < 0 ? -dy : 0, y1 = canvas.h - dy < nh ? canvas.h - dy : nh;
    if (x1 <= x0 || y1 <= y0) return 0;
    int *xi = malloc(sizeof(int) * 2 * (size_t)(x1 - x0));
    float *xf = malloc(sizeof(float) * (size_t)(x1 - x0));
    if (!xi || !xf) {
        free(xi);
        free(xf);
        return -1;
    }
    for (int x = x0; x < x1; ++x) {
        float rx = (float)x / nw * im.w;
        int f = (int)floorf(rx);
        xf[x - x0] = rx - f;
        xi[2 * (x - x0)] = clampi(f, 0, im.w - 1);
        xi[2 * (x - x0) + 1] = clampi(f + 1, 0, im.w - 1);
    }
    for (int k = 0; k < canvas.c; ++k) {
        const float *src = im.data + (size_t)(k < im.c ? k : 0) * im.w * im.h;
        for (int y = y0; y < y1; ++y) {
            float ry = (float)y / nh * im.h;
            int f = (int)floorf(ry);
            float fy = ry - f;
            const float *ra = src + (size_t)clampi(f, 0, im.h - 1) * im.w;
            const float *rb = src + (size_t)clampi(f + 1, 0, im.h - 1) * im.w;
            float *out = canvas.data + ((size_t)k * canvas.h + y + dy) * canvas.w;
            for (int x = x0; x < x1; ++x) {
                int a = xi[2 * (x - x0)], b = xi[2 * (x - x0) + 1];
                float fx = xf[x - x0];
                out[x + dx] = (1 - fy) * ((1 - fx) * ra[a] + fx * ra[b]) + fy * ((1 - fx) * rb[a] + fx * rb[b]);
            }
        }
    }
    free(xi);
    free(xf);
    return 0;
}

/* Corner-aligned bilinear, as Darknet's resize_image: output pixel i samples the source
 * at i*(in-1)/(out-1), so the first and last rows and columns map onto each other. */
image resize_image(image im, int w, int h)
{
    image out = make_image(w, h, im.c);
    if (!out.data) return out;
    float sx = w > 1 ? (float)(im.w - 1) / (w - 1) : 0;
    float sy = h > 1 ? (float)(im.h - 1) / (h - 1) : 0;
    for (int k = 0; k < im.c; ++k)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                out.data[((size_t)k * h + y) * w + x] = image_bilinear(im, x * sx, y * sy, k);
    return out;
}

image crop_image(image im, int dx, int dy, int w, int h)
{
    image out = make_image(w, h, im.c);
    if (!out.data) return out;
    for (int k = 0; k < im.c; ++k)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                out.data[((size_t)k * h + y) * w + x] =
                    px(im, clampi(x + dx, 0, im.w - 1), clampi(y + dy, 0, im.h - 1), k);
    return out;
}

/* Keeps the aspect ratio: the image is scaled to fit and centred on grey (0.5). */
image letterbox_image(image im, int w, int h)
{
    int nw = w, nh = h;
    if ((float)w / im.w < (float)h / im.h) nh = im.h * w / im.w;
    else nw = im.w * h / im.h;
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    image rs = resize_image(im, nw, nh);
    image out = make_image(w, h, im.c);
    if (!rs.data || !out.data) {
        free_image(rs);
        free_image(out);
        return make_empty_image(w, h, im.c);
    }
    for (size_t i = 0; i < (size_t)w * h * im.c; ++i) out.data[i] = .5f;
    int ox = (w - nw) / 2, oy = (h - nh) / 2;
    for (int k = 0; k < im.c; ++k)
        for (int y = 0; y < nh; ++y)
            memcpy(&out.data[((size_t)k * h + y + oy) * w + ox], &rs.data[((size_t)k * nh + y) * nw],
                   (size_t)nw * sizeof(float));
    free_image(rs);
    return out;
}

void flip_image(image a)
{
    for (int k = 0; k < a.c; ++k)
        for (int y = 0; y < a.h; ++y) {
            float *row = &a.data[((size_t)k * a.h + y) * a.w];
            for (int x = 0; x < a.w / 2; ++x) {
                float t = row[x];
                row[x] = row[a.w - 1 - x];
                row[a.w - 1 - x] = t;
            }
        }
}

/* Writes name + ext (".png" or ".jpg"): 8-bit interleaved pixels through stb. */
static void save_as(image im, const char *name, int jpg)
{
    const char *ext = jpg ? ".jpg" : ".png";
    size_t n = strlen(name) + 8;
    char *path = malloc(n);
    unsigned char *pix = malloc((size_t)im.w * im.h * im.c);
    if (!path || !pix) {
        fprintf(stderr, "save_image: out of memory for %s%s\n", name, ext);
        free(path);
        free(pix);
        return;
    }
    snprintf(path, n, "%s%s", name, ext);
    for (int k = 0; k < im.c; ++k)
        for (int i = 0; i < im.w * im.h; ++i) {
            float v = im.data[(size_t)k * im.w * im.h + i];
            v = v < 0 ? 0 : (v > 1 ? 1 : v);
            pix[(size_t)i * im.c + k] = (unsigned char)lrintf(v * 255.0f);
        }
    int ok = jpg ? stbi_write_jpg(path, im.w, im.h, im.c, pix, 80)
                 : stbi_write_png(path, im.w, im.h, im.c, pix, im.w * im.c);
    if (!ok) fprintf(stderr, "save_image: cannot write %s (check the folder exists and is writable)\n", path);
    free(path);
    free(pix);
}

/* pjreddie's save_image writes JPEG at quality 80. */
void save_image(image im, const char *name)
{
    save_as(im, name, 1);
}

void save_image_png(image im, const char *name)
{
    save_as(im, name, 0);
}

static void draw_hline(image a, int x1, int x2, int y, const float *rgb)
{
    if (y < 0 || y >= a.h) return;
    for (int x = clampi(x1, 0, a.w - 1); x <= clampi(x2, 0, a.w - 1); ++x)
        for (int k = 0; k < a.c && k < 3; ++k) a.data[((size_t)k * a.h + y) * a.w + x] = rgb[k];
}

static void draw_vline(image a, int x, int y1, int y2, const float *rgb)
{
    if (x < 0 || x >= a.w) return;
    for (int y = clampi(y1, 0, a.h - 1); y <= clampi(y2, 0, a.h - 1); ++y)
        for (int k = 0; k < a.c && k < 3; ++k) a.data[((size_t)k * a.h + y) * a.w + x] = rgb[k];
}

void draw_box_width(image a, int x1, int y1, int x2, int y2, int w, float r, float g, float b)
{
    const float rgb[3] = {r, g, b};
    for (int i = 0; i < w; ++i) {
        draw_hline(a, x1 + i, x2 - i, y1 + i, rgb);
        draw_hline(a, x1 + i, x2 - i, y2 - i, rgb);
        draw_vline(a, x1 + i, y1 + i, y2 - i, rgb);
        draw_vline(a, x2 - i, y1 + i, y2 - i, rgb);
    }
}

int image_fill(image im, float *dst, int w, int h, int c)
{
    if (im.c != c) return -1;
    if (im.w == w && im.h == h) {
        memcpy(dst, im.data, (size_t)w * h * c * sizeof(float));
        return 0;
    }
    image rs = resize_image(im, w, h);
    if (!rs.data) return -1;
    memcpy(dst, rs.data, (size_t)w * h * c * sizeof(float));
    free_image(rs);
    return 0;
}
