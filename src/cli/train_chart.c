/* chart.png (train_chart.h): a small raster drawn by hand (lines, dots and a 3x5 pixel
 * font of our own, scaled), encoded by stb_image_write, written with atomic_write so a
 * viewer never reads half a file. */
#include "cli/train_chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "core/atomic_file.h"

#define W 1000
#define H 700
#define LEFT 90
#define RIGHT (W - 80)
#define TOP 50
#define BOTTOM (H - 130)
#define FONT 2 /* font pixels per glyph pixel */

/* 3x5 glyphs, rows top to bottom, '#' set. Lower case is drawn as upper case. */
static const struct {
    char c;
    const char *rows;
} glyphs[] = {
    {'0', "###" "#.#" "#.#" "#.#" "###"}, {'1', ".#." "##." ".#." ".#." "###"},
    {'2', "###" "..#" "###" "#.." "###"}, {'3', "###" "..#" "###" "..#" "###"},
    {'4', "#.#" "#.#" "###" "..#" "..#"}, {'5', "###" "#.." "###" "..#" "###"},
    {'6', "###" "#.." "###" "#.#" "###"}, {'7', "###" "..#" "..#" "..#" "..#"},
    {'8', "###" "#.#" "###" "#.#" "###"}, {'9', "###" "#.#" "###" "..#" "###"},
    {'.', "..." "..." "..." "..." ".#."}, {',', "..." "..." "..." ".#." "#.."},
    {'%', "#.#" "..#" ".#." "#.." "#.#"}, {':', "..." ".#." "..." ".#." "..."},
    {'=', "..." "###" "..." "###" "..."}, {'-', "..." "..." "###" "..." "..."},
    {'/', "..#" "..#" ".#." "#.." "#.."}, {'(', ".#." "#.." "#.." "#.." ".#."},
    {')', ".#." "..#" "..#" "..#" ".#."}, {'@', ".#." "#.#" "###" "#.." ".##"},
    {'_', "..." "..." "..." "..." "###"}, {'+', "..." ".#." "###" ".#." "..."},
    {'A', ".#." "#.#" "###" "#.#" "#.#"}, {'B', "##." "#.#" "##." "#.#" "##."},
    {'C', ".##" "#.." "#.." "#.." ".##"}, {'D', "##." "#.#" "#.#" "#.#" "##."},
    {'E', "###" "#.." "##." "#.." "###"}, {'F', "###" "#.." "##." "#.." "#.."},
    {'G', ".##" "#.." "#.#" "#.#" ".##"}, {'H', "#.#" "#.#" "###" "#.#" "#.#"},
    {'I', "###" ".#." ".#." ".#." "###"}, {'J', "..#" "..#" "..#" "#.#" ".#."},
    {'K', "#.#" "#.#" "##." "#.#" "#.#"}, {'L', "#.." "#.." "#.." "#.." "###"},
    {'M', "#.#" "###" "###" "#.#" "#.#"}, {'N', "##." "#.#" "#.#" "#.#" "#.#"},
    {'O', ".#." "#.#" "#.#" "#.#" ".#."}, {'P', "##." "#.#" "##." "#.." "#.."},
    {'Q', ".#." "#.#" "#.#" "##." ".##"}, {'R', "##." "#.#" "##." "#.#" "#.#"},
    {'S', ".##" "#.." ".#." "..#" "##."}, {'T', "###" ".#." ".#." ".#." ".#."},
    {'U', "#.#" "#.#" "#.#" "#.#" "###"}, {'V', "#.#" "#.#" "#.#" "#.#" ".#."},
    {'W', "#.#" "#.#" "###" "###" "#.#"}, {'X', "#.#" "#.#" ".#." "#.#" "#.#"},
    {'Y', "#.#" "#.#" ".#." ".#." ".#."}, {'Z', "###" "..#" ".#." "#.." "###"},
};

typedef struct {
    unsigned char *px;
} canvas;

static void dot(canvas *cv, int x, int y, const unsigned char *rgb)
{
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    memcpy(cv->px + 3 * ((size_t)y * W + x), rgb, 3);
}

static void fill_rect(canvas *cv, int x0, int y0, int x1, int y1, const unsigned char *rgb)
{
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) dot(cv, x, y, rgb);
}

/* Bresenham, `thick` pixels wide (a square pen). */
static void line(canvas *cv, int x0, int y0, int x1, int y1, int thick, const unsigned char *rgb)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        fill_rect(cv, x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2, y0 + (thick - 1) / 2, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

static const char *glyph(char c)
{
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof(glyphs) / sizeof(glyphs[0]); ++i)
        if (glyphs[i].c == c) return glyphs[i].rows;
    return NULL; /* space and anything unknown: blank */
}

/* Text with its top-left corner at (x, y); returns the width drawn. */
static int text(canvas *cv, int x, int y, const char *s, const unsigned char *rgb)
{
    int x0 = x;
    for (; *s; ++s, x += 4 * FONT) {
        const char *g = glyph(*s);
        for (int r = 0; g && r < 5; ++r)
            for (int c = 0; c < 3; ++c)
                if (g[r * 3 + c] == '#')
                    fill_rect(cv, x + c * FONT, y + r * FONT, x + c * FONT + FONT - 1, y + r * FONT + FONT - 1, rgb);
    }
    return x - x0;
}

void train_chart_init(train_chart *c, const char *cfg, const char *custom, int max_batches,
                      float max_loss)
{
    memset(c, 0, sizeof(*c));
    c->max_batches = max_batches > 0 ? max_batches : 1;
    c->max_loss = max_loss;
    snprintf(c->path[0], sizeof(c->path[0]), "chart.png");
    if (custom) {
        snprintf(c->path[1], sizeof(c->path[1]), "%s", custom);
        return;
    }
    const char *b = strrchr(cfg, '/');
    char base[4000];
    snprintf(base, sizeof(base), "%s", b ? b + 1 : cfg);
    char *dot_ = strrchr(base, '.');
    if (dot_ && dot_ != base) *dot_ = 0;
    snprintf(c->path[1], sizeof(c->path[1]), "chart_%s.png", base);
}

void train_chart_free(train_chart *c)
{
    free(c->it);
    free(c->loss);
    free(c->map_it);
    free(c->map);
    memset(c, 0, sizeof(*c));
}

/* Appends (i, v) to a growing pair of arrays; a failed allocation drops the point. */
static void push(int **it, float **v, int *n, int *cap, int i, float x)
{
    if (*n == *cap) {
        int nc = *cap * 2 + 256;
        int *ni = realloc(*it, sizeof(int) * (size_t)nc);
        if (!ni) return;
        *it = ni;
        float *nv = realloc(*v, sizeof(float) * (size_t)nc);
        if (!nv) return;
        *v = nv;
        *cap = nc;
    }
    (*it)[*n] = i;
    (*v)[*n] = x;
    ++*n;
}

void train_chart_add_loss(train_chart *c, int iteration, float avg_loss)
{
    if (isfinite(avg_loss)) push(&c->it, &c->loss, &c->n, &c->cap, iteration, avg_loss);
}

void train_chart_add_map(train_chart *c, int iteration, float map)
{
    push(&c->map_it, &c->map, &c->nm, &c->capm, iteration, map);
}

/* The loss axis top: the cfg's max_chart_loss, else the largest average loss after the
 * first tenth of the points (the first iterations' huge losses would flatten the rest). */
static float loss_top(const train_chart *c)
{
    if (c->max_loss > 0) return c->max_loss;
    float top = 0;
    for (int i = c->n / 10; i < c->n; ++i) top = fmaxf(top, c->loss[i]);
    top *= 1.1f;
    return top > 0 ? top : 1;
}

void train_chart_point(const train_chart *c, double iteration, double frac, int *x, int *y)
{
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    *x = LEFT + (int)lround(iteration / c->max_batches * (RIGHT - LEFT));
    *y = BOTTOM - (int)lround(frac * (BOTTOM - TOP));
}

static const unsigned char GRID[3] = {215, 215, 215},
                           BLACK[3] = {0, 0, 0}, BLUE[3] = {20, 60, 220}, RED[3] = {220, 20, 20},
                           DARK[3] = {70, 70, 70};

static void axes(canvas *cv, const train_chart *c, float top)
{
    char s[64];
    for (int k = 0; k <= 10; ++k) {
        int x, y;
        train_chart_point(c, 0, k / 10.0, &x, &y);
        line(cv, LEFT, y, RIGHT, y, 1, GRID);
        snprintf(s, sizeof(s), "%.3g", top * k / 10.0);
        text(cv, 8, y - 5, s, BLUE);
        if (c->nm) {
            snprintf(s, sizeof(s), "%d%%", k * 10);
            text(cv, RIGHT + 8, y - 5, s, RED);
        }
        train_chart_point(c, c->max_batches * k / 10.0, 0, &x, &y);
        line(cv, x, TOP, x, BOTTOM, 1, GRID);
        snprintf(s, sizeof(s), "%.4g", (double)c->max_batches * k / 10);
        text(cv, x - 12, BOTTOM + 8, s, DARK);
    }
    line(cv, LEFT, TOP, LEFT, BOTTOM, 2, BLACK);
    line(cv, LEFT, BOTTOM, RIGHT, BOTTOM, 2, BLACK);
    text(cv, LEFT, 16, "LOSS (BLUE)", BLUE);
    if (c->nm) text(cv, RIGHT - 170, 16, "MAP@0.5 % (RED)", RED);
    text(cv, (LEFT + RIGHT) / 2 - 40, BOTTOM + 26, "ITERATION", DARK);
}

static void curves(canvas *cv, const train_chart *c, float top)
{
    for (int i = 1; i < c->n; ++i) {
        int x0, y0, x1, y1;
        train_chart_point(c, c->it[i - 1], c->loss[i - 1] / top, &x0, &y0);
        train_chart_point(c, c->it[i], c->loss[i] / top, &x1, &y1);
        line(cv, x0, y0, x1, y1, 2, BLUE);
    }
    if (c->n == 1) {
        int x, y;
        train_chart_point(c, c->it[0], c->loss[0] / top, &x, &y);
        fill_rect(cv, x - 1, y - 1, x + 1, y + 1, BLUE);
    }
    for (int i = 0; i < c->nm; ++i) {
        int x, y;
        train_chart_point(c, c->map_it[i], c->map[i], &x, &y);
        if (i) {
            int xp, yp;
            train_chart_point(c, c->map_it[i - 1], c->map[i - 1], &xp, &yp);
            line(cv, xp, yp, x, y, 2, RED);
        }
        fill_rect(cv, x - 4, y - 4, x + 4, y + 4, RED);
        char s[32];
        snprintf(s, sizeof(s), "%.1f%%", c->map[i] * 100);
        text(cv, x - 20, y - 20, s, RED);
    }
}

unsigned char *train_chart_draw(const train_chart *c, int iteration, float rate,
                                double hours_left, int *w, int *h)
{
    canvas cv = {malloc((size_t)W * H * 3)};
    if (!cv.px) return NULL;
    memset(cv.px, 255, (size_t)W * H * 3);
    float top = loss_top(c);
    axes(&cv, c, top);
    curves(&cv, c, top);
    char s[256];
    float last = c->n ? c->loss[c->n - 1] : 0;
    snprintf(s, sizeof(s), "ITERATION = %d / %d   AVG LOSS = %.4f   RATE = %g", iteration,
             c->max_batches, last, rate);
    text(&cv, LEFT, BOTTOM + 50, s, BLACK);
    snprintf(s, sizeof(s), "APPROX. TIME LEFT = %.2f HOURS", hours_left);
    text(&cv, LEFT, BOTTOM + 72, s, BLACK);
    if (c->nm) {
        float best = 0;
        for (int i = 0; i < c->nm; ++i) best = fmaxf(best, c->map[i]);
        snprintf(s, sizeof(s), "LAST MAP@0.5 = %.2f %%   BEST = %.2f %%", c->map[c->nm - 1] * 100, best * 100);
        text(&cv, LEFT, BOTTOM + 94, s, RED);
    }
    *w = W;
    *h = H;
    return cv.px;
}

static void to_file(void *ctx, void *data, int size)
{
    /* a short write sets the stream's error flag, which write_png checks */
    if (fwrite(data, 1, (size_t)size, ctx) != (size_t)size) return;
}

typedef struct {
    const unsigned char *px;
    int w, h;
} png_job;

static int write_png(FILE *fp, void *ud)
{
    const png_job *j = ud;
    if (!stbi_write_png_to_func(to_file, fp, j->w, j->h, 3, j->px, j->w * 3)) return -1;
    return ferror(fp) ? -1 : 0;
}

int train_chart_write(const train_chart *c, int iteration, float rate, double hours_left)
{
    png_job j;
    unsigned char *px = train_chart_draw(c, iteration, rate, hours_left, &j.w, &j.h);
    if (!px) {
        fprintf(stderr, "warning: out of memory drawing the chart\n");
        return -1;
    }
    j.px = px;
    int rc = 0;
    for (int k = 0; k < 2; ++k) {
        char err[1024];
        if (atomic_write(c->path[k], write_png, &j, err, sizeof(err))) {
            fprintf(stderr, "warning: chart not written: %s\n", err);
            rc = -1;
        }
    }
    free(px);
    return rc;
}
