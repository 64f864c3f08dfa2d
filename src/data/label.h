/* Label bars on detection images (predictions.jpg, the demo's frames): Darknet's filled
 * bar in the box's colour above the box, with the label ("dog 87%, cat") in black, in the
 * 5x7 font of data/font.h scaled by the image height; and which classes of a box are shown,
 * in which order (AlexeyAB's draw_detections_v3). Owns the bar's geometry, its drawing and
 * the label's text; it may only write pixels inside the bar and inside the image. */
#ifndef DN_LABEL_H
#define DN_LABEL_H

#include "core/dn_api.h"

/* Glyph scale for an image h pixels tall: 1 + h/300 (Darknet sizes its labels at about
 * 3 % of the height; 1 keeps them readable down to small images). */
int label_scale(int h);

typedef struct {
    int x, y, w, h;
} label_rect;

/* Where the bar for text goes at scale s for a box whose top-left corner is (x1, y1) in a
 * w x h image: (6 * strlen + 1) * s wide, 9 * s tall (one glyph pixel of margin, glyphs
 * 6 * s apart); its bottom row just above y1, or from y1 down (inside the box) when it
 * would leave the image at the top; then moved left and up as far as needed (never past 0)
 * to stay inside the image. A bar wider or taller than the image is clipped on drawing. */
label_rect label_bar(int w, int h, int x1, int y1, const char *text, int s);

/* Draws the bar of label_bar(im.w, im.h, x1, y1, text, label_scale(im.h)) in rgb (0..1)
 * with text in black. A grey image gets rgb[0]; channels past the third are untouched. */
void draw_label(image im, int x1, int y1, const char *text, const float rgb[3]);

/* The classes of one box to show, as AlexeyAB's draw_detections_v3 picks them: every
 * class k < classes with prob[k] > thresh whose name does not start with "dont_show"
 * (names may be NULL: none hidden), the most probable first (the lowest index among equal
 * ones), then the others in class order. Writes them to out (room for classes ints);
 * returns how many (0: the box is not shown). */
int label_classes(const float *prob, int classes, char **names, float thresh, int *out);

/* The label of a box with the n classes cls[] of label_classes: "best NN%", then
 * ", name" for each other class (AlexeyAB's "name1, name2": one percentage, the best's),
 * cut to fit size bytes (always terminated when size > 0). */
void label_text(char *buf, size_t size, const float *prob, char **names, const int *cls, int n);

#endif
