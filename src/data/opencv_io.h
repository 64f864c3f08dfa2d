/* OpenCV behind a C interface (compiled only in `make OPENCV=1` builds; opencv_io.cpp).
 * Owns: decoding images of every format OpenCV reads, video input and output, and drawing
 * boxes with label text. Images cross the interface as Darknet's CHW float RGB images in
 * [0,1]; OpenCV's BGR bytes never leave opencv_io.cpp. No C++ exception crosses it: every
 * failure is a return value with a message. It may not touch networks or data loaders. */
#ifndef DN_OPENCV_IO_H
#define DN_OPENCV_IO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" { /* dn_api.h is a C header: its functions keep C linkage in opencv_io.cpp */
#endif

#include "core/dn_api.h"

/* OpenCV's version string ("4.6.0"). */
const char *cv_version(void);

/* Decodes path with c channels (1 grey, 3 RGB; 0 keeps the file's: grey stays 1, colour
 * and alpha become 3). data == NULL with err set when OpenCV cannot read it. */
image cv_load_image(const char *path, int c, char *err, size_t errlen);

/* Encodes im to path in the format its extension names (.jpg, .png, .tiff, ...): 0 or -1. */
int cv_save_image(image im, const char *path);

typedef struct cv_reader cv_reader;
/* Opens a video file (any container/codec OpenCV's backends read). NULL with err set. */
cv_reader *cv_reader_open(const char *path, char *err, size_t errlen);
/* Next frame as an RGB image (caller frees): 1, or 0 at the end of the video. */
int cv_reader_next(cv_reader *r, image *frame);
double cv_reader_fps(const cv_reader *r);
void cv_reader_close(cv_reader *r);

typedef struct cv_writer cv_writer;
/* An MJPG video of w x h frames (AlexeyAB's demo writes MJPG .avi). NULL with err set. */
cv_writer *cv_writer_open(const char *path, int w, int h, double fps, char *err, size_t errlen);
/* Appends a frame of the writer's size (3 channels): 0, or -1. */
int cv_writer_write(cv_writer *wr, image frame);
void cv_writer_close(cv_writer *wr);

/* Draws the rectangle (x1, y1)-(x2, y2) `thick` pixels wide in rgb (0..1) and, when label
 * is not NULL, the label in black on a filled rgb band above the box (inside the image).
 * In place on a 3-channel image. */
void cv_draw_box_label(image im, int x1, int y1, int x2, int y2, int thick, const float rgb[3],
                       const char *label);

#ifdef __cplusplus
}
#endif

#endif
