/* Label bars (label.h). Images are CHW floats: channel k, row y, column x at
 * data[(k * h + y) * w + x]. */
#include "data/label.h"

#include <stdio.h>
#include <string.h>

#include "data/font.h"

/* Horizontal distance between glyph origins, in glyph pixels: a column of space after each. */
#define ADVANCE (FONT_W + 1)

int label_scale(int h)
{
    return 1 + (h > 0 ? h : 0) / 300;
}

/* lo when v < lo (also when hi < lo: a bar larger than the image starts at 0). */
static int clamp_low(int v, int lo, int hi)
{
    if (v > hi) v = hi;
    return v < lo ? lo : v;
}

label_rect label_bar(int w, int h, int x1, int y1, const char *text, int s)
{
    label_rect r;
    size_t n = strlen(text);
    r.w = (int)((ADVANCE * n + 1) * (size_t)s);
    r.h = (FONT_H + 2) * s;
    /* any int is a valid corner: y1 - r.h must not overflow */
    if (y1 < 0) y1 = 0;
    r.x = clamp_low(x1, 0, w - r.w);
    r.y = clamp_low(y1 - r.h >= 0 ? y1 - r.h : y1, 0, h - r.h);
    return r;
}

/* One pixel, when inside the image: value for each of the first three channels. */
static void put(image im, int x, int y, const float *v)
{
    if (x < 0 || y < 0 || x >= im.w || y >= im.h) return;
    for (int k = 0; k < im.c && k < 3; ++k) im.data[((size_t)k * im.h + y) * im.w + x] = v[k];
}

/* One glyph pixel at scale s: the s x s block whose top-left corner is (x, y). */
static void put_block(image im, int x, int y, int s, const float *v)
{
    for (int dy = 0; dy < s; ++dy)
        for (int dx = 0; dx < s; ++dx) put(im, x + dx, y + dy, v);
}

static void draw_glyph(image im, int x, int y, int s, int ch)
{
    static const float black[3] = {0, 0, 0};
    for (int gy = 0; gy < FONT_H; ++gy) {
        unsigned row = font_row(ch, gy);
        for (int gx = 0; gx < FONT_W; ++gx)
            if (row >> (FONT_W - 1 - gx) & 1u) put_block(im, x + gx * s, y + gy * s, s, black);
    }
}

void draw_label(image im, int x1, int y1, const char *text, const float rgb[3])
{
    if (!im.data || !text) return;
    int s = label_scale(im.h);
    label_rect r = label_bar(im.w, im.h, x1, y1, text, s);
    /* rows and columns outside the image are skipped, not the whole bar */
    int ya = r.y > 0 ? r.y : 0, yb = r.y + r.h < im.h ? r.y + r.h : im.h;
    int xa = r.x > 0 ? r.x : 0, xb = r.x + r.w < im.w ? r.x + r.w : im.w;
    for (int y = ya; y < yb; ++y)
        for (int x = xa; x < xb; ++x) put(im, x, y, rgb);
    for (size_t i = 0; text[i] && r.x + s + (int)i * ADVANCE * s < im.w; ++i)
        draw_glyph(im, r.x + s + (int)i * ADVANCE * s, r.y + s, s, (unsigned char)text[i]);
}

/* Above thresh (never NaN) and not hidden by a "dont_show..." name (AlexeyAB's way to
 * keep a class in the model but off the pictures). */
static int shown(const float *prob, char **names, int k, float thresh)
{
    return prob[k] > thresh && !(names && names[k] && !strncmp(names[k], "dont_show", 9));
}

int label_classes(const float *prob, int classes, char **names, float thresh, int *out)
{
    int best = -1, n = 0;
    for (int k = 0; k < classes; ++k)
        if (shown(prob, names, k, thresh) && (best < 0 || prob[k] > prob[best])) best = k;
    if (best < 0) return 0;
    out[n++] = best;
    for (int k = 0; k < classes; ++k)
        if (k != best && shown(prob, names, k, thresh)) out[n++] = k;
    return n;
}

void label_text(char *buf, size_t size, const float *prob, char **names, const int *cls, int n)
{
    if (!size) return;
    buf[0] = 0;
    if (n < 1) return;
    size_t used = (size_t)snprintf(buf, size, "%s %.0f%%", names[cls[0]], prob[cls[0]] * 100);
    for (int i = 1; i < n && used < size; ++i)
        used += (size_t)snprintf(buf + used, size - used, ", %s", names[cls[i]]);
}
