/* Internal image helpers beyond the public pjreddie API in darknet.h: loading that returns
 * an error instead of exiting, and the random augmentations Darknet's data loaders apply
 * (crop/resize, flip, HSV distortion). Every random choice draws from a caller's rng_t so
 * the loader stays deterministic. Images are CHW floats in [0,1]. */
#ifndef DN_IMAGE_H
#define DN_IMAGE_H

#include <stddef.h>

#include "core/dn_api.h"
#include "core/rng.h"

/* Loads `path` with c channels (1 grey, 3 RGB; 0 keeps the file's). On failure returns an
 * image with data == NULL and a message in err naming the file and the reason. */
image image_load_ex(const char *path, int c, char *err, size_t errlen);

/* Bilinear value at (x, y) of channel k, with coordinates clamped to the image. */
float image_bilinear(image im, float x, float y, int k);

/* Draws im into canvas as an nw x nh rectangle whose top left is at (dx, dy) (either may
 * be negative; what falls outside the canvas is cut): canvas pixel (x + dx, y + dy) of
 * channel k becomes image_bilinear(im, x / nw * im.w, y / nh * im.h, k < im.c ? k : 0).
 * The rest of the canvas is left as it was. 0, or -1 on out of memory. */
int image_place(image im, int nw, int nh, int dx, int dy, image canvas);

/* HSV conversion in place with Darknet's convention: hue in [0,1) (a turn of the colour
 * wheel), saturation and value in [0,1]. Only 3-channel images change. */
void image_rgb_to_hsv(image im);
void image_hsv_to_rgb(image im);

/* Shifts hue by dhue (wrapping), multiplies saturation by sat and value by val, then clamps
 * to [0,1]. A grey (1-channel) image only gets the value (exposure) scaling. */
void image_distort(image im, float dhue, float sat, float val);
/* Darknet's random_distort_image: dhue uniform in [-hue, hue], sat and val from
 * rng_scale (a factor in [1/s, s]). */
void image_random_distort(image im, rng_t *r, float hue, float saturation, float exposure);

/* Classifier-style augmentation (what Darknet's random_augment_image does): the shorter
 * side is scaled to a random size in [min_size, max_size], stretched by a random aspect in
 * [1/aspect, aspect], rotated by a random angle in [-angle, angle] degrees, and a w x h
 * window is taken at a random offset (the centre when center != 0). Pixels outside the
 * source read the nearest edge. Returns a new image; data == NULL on out of memory. */
typedef struct {
    int w, h, min_size, max_size, center;
    float aspect, angle;
} crop_args;
image image_random_crop(image im, rng_t *r, const crop_args *a);

/* Flips horizontally with probability 1/2 (one draw from r, always). */
void image_random_flip(image im, rng_t *r);

/* OpenCV's GaussianBlur(ksize x ksize, sigma 0) as AlexeyAB's blur= uses it: sigma =
 * 0.3 * ((ksize - 1) / 2 - 1) + 0.8, separable, borders reflected without repeating the
 * edge (OpenCV's BORDER_REFLECT_101). ksize is made odd. In place; -1 on out of memory. */
int image_gaussian_blur(image im, int ksize);

/* AlexeyAB's gaussian_noise=: his noise is an 8-bit image filled by cv::randn(0, sd), so
 * negative draws saturate to 0 and only brightening noise is added: each value gets
 * max(0, round(N(0, sd))) / 255, clamped to 1. */
void image_add_noise_8u(image im, rng_t *r, float sd);

/* AlexeyAB's classifier cutmix (cutmix=1 in [net]): a rectangle whose sides are drawn
 * uniformly in [(int)(.3 w), (int)(.8 w)] and [(int)(.3 h), (int)(.8 h)] (his rand_int,
 * both ends included), at a left edge uniform in [0, w - cut_w - 1] and a top edge in
 * [0, h - cut_h - 1] (his bounds: it never reaches the last column or row). Sides are at
 * least 1 and the rectangle stays inside for any w, h >= 1. */
typedef struct {
    int x, y, w, h;
} cut_rect;
cut_rect image_cutmix_rect(rng_t *r, int w, int h);
/* Copies rectangle rc of src into dst, both w x h x c CHW floats. */
void image_paste_rect(float *dst, const float *src, int w, int h, int c, cut_rect rc);

/* Writes `im` into dst (w*h*c floats) resized to w x h when its size differs. */
int image_fill(image im, float *dst, int w, int h, int c);

#endif
