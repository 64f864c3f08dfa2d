/* A 5x7 bitmap font for printable ASCII (32..126), drawn by hand for this project: the
 * label text on predictions.jpg (data/label.h). Owns only the glyph table; knows nothing
 * of images or networks. */
#ifndef DN_FONT_H
#define DN_FONT_H

#define FONT_W 5 /* glyph columns */
#define FONT_H 7 /* glyph rows */

/* Row y (0 = top, 0..FONT_H-1) of ch's glyph as FONT_W bits, bit FONT_W-1 the leftmost
 * column. Characters outside 32..126 (and rows out of range) read as '?'/0 so that a
 * UTF-8 class name still shows where its letters are. */
unsigned font_row(int ch, int y);

#endif
