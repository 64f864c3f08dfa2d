/* The public API's image helpers that the framework itself does not need: float_to_image,
 * rgbgr_image, the label font (load_alphabet) and draw_detections. */
#include "darknet.h"

#include <math.h>
#include <unistd.h>

#define GLYPH_SIZES 8
#define GLYPHS 128

image float_to_image(int w, int h, int c, float *data)
{
    image im = {w, h, c, data};
    return im;
}

void rgbgr_image(image im)
{
    if (im.c < 3) return;
    size_t n = (size_t)im.w * im.h;
    for (size_t i = 0; i < n; ++i) {
        float t = im.data[i];
        im.data[i] = im.data[i + 2 * n];
        im.data[i + 2 * n] = t;
    }
}

/* pjreddie's font: data/labels/<char>_<size>.png for printable ASCII and sizes 0..7. */
static const char *font_dir(void)
{
    static const char *const dirs[] = {"data/labels", "/usr/share/darknet/data/labels"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); ++i) {
        char p[256];
        snprintf(p, sizeof(p), "%s/65_0.png", dirs[i]);
        if (access(p, R_OK) == 0) return dirs[i];
    }
    return NULL;
}

image **load_alphabet(void)
{
    const char *dir = font_dir();
    image **a = calloc(GLYPH_SIZES, sizeof(image *));
    for (int s = 0; a && s < GLYPH_SIZES; ++s) {
        if (!(a[s] = calloc(GLYPHS, sizeof(image)))) break;
        for (int ch = 32; dir && ch < 127; ++ch) {
            char p[512];
            snprintf(p, sizeof(p), "%s/%d_%d.png", dir, ch, s);
            a[s][ch] = load_image_color(p, 0, 0);
        }
    }
    if (!a || !a[GLYPH_SIZES - 1]) {
        fprintf(stderr, "load_alphabet: out of memory\n");
        exit(1);
    }
    return a;
}

void free_alphabet(image **a)
{
    for (int s = 0; a && s < GLYPH_SIZES; ++s) {
        for (int ch = 0; a[s] && ch < GLYPHS; ++ch) free_image(a[s][ch]);
        free(a[s]);
    }
    free(a);
}

/* A distinct colour per class: hue steps by the golden ratio. */
static void class_colour(int cls, float rgb[3])
{
    float h = fmodf(cls * 0.618034f, 1) * 6;
    int i = (int)h;
    float f = h - i, q = 1 - f;
    float tab[6][3] = {{1, f, 0}, {q, 1, 0}, {0, 1, f}, {0, q, 1}, {f, 0, 1}, {1, 0, q}};
    memcpy(rgb, tab[i % 6], sizeof(float) * 3);
}

/* Writes text with the glyphs of size s above (or below, at the top edge) row r from
 * column c: each glyph pixel scales the class colour, as pjreddie's draw_label. */
static void draw_text(image im, int r, int c, const char *text, image *glyphs, const float *rgb)
{
    int h = 0;
    for (const char *t = text; *t; ++t)
        if ((unsigned char)*t < GLYPHS && glyphs[(unsigned char)*t].h > h) h = glyphs[(unsigned char)*t].h;
    if (r - h >= 0) r -= h;
    for (const char *t = text; *t && c < im.w; ++t) {
        image g = (unsigned char)*t < GLYPHS ? glyphs[(unsigned char)*t] : (image){0, 0, 0, NULL};
        for (int y = 0; g.data && y < g.h && y + r < im.h; ++y)
            for (int x = 0; x < g.w && x + c < im.w; ++x)
                for (int k = 0; k < im.c && k < 3; ++k)
                    im.data[((size_t)k * im.h + y + r) * im.w + x + c] =
                        rgb[k] * g.data[((size_t)(k % g.c) * g.h + y) * g.w + x];
        c += g.w;
    }
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* pjreddie's draw_detections: prints `name: NN%` for every class above thresh, draws the
 * box in the first such class's colour and, with glyphs, the names above it. */
void draw_detections(image im, detection *dets, int num, float thresh, char **names,
                     image **alphabet, int classes)
{
    for (int i = 0; i < num; ++i) {
        char label[4096] = {0};
        int cls = -1;
        for (int j = 0; j < classes; ++j) {
            if (dets[i].prob[j] <= thresh) continue;
            if (cls >= 0) strncat(label, ", ", sizeof(label) - strlen(label) - 1);
            strncat(label, names[j], sizeof(label) - strlen(label) - 1);
            if (cls < 0) cls = j;
            printf("%s: %.0f%%\n", names[j], dets[i].prob[j] * 100);
        }
        if (cls < 0) continue;
        int width = (int)(im.h * .006);
        float rgb[3];
        class_colour(cls, rgb);
        box b = dets[i].bbox;
        int left = clampi((int)((b.x - b.w / 2.) * im.w), 0, im.w - 1);
        int right = clampi((int)((b.x + b.w / 2.) * im.w), 0, im.w - 1);
        int top = clampi((int)((b.y - b.h / 2.) * im.h), 0, im.h - 1);
        int bot = clampi((int)((b.y + b.h / 2.) * im.h), 0, im.h - 1);
        draw_box_width(im, left, top, right, bot, width, rgb[0], rgb[1], rgb[2]);
        if (alphabet) draw_text(im, top + width, left, label, alphabet[clampi((int)(im.h * .03) / 10, 0, 7)], rgb);
    }
}
