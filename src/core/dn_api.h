/* The framework's own view of pjreddie's API: the image, box and detection types (the same
 * layout as the public include/darknet.h) and pjreddie-named functions on the framework's
 * network (core/network.h).
 *
 * Why the renames (core/dn_names.h): the public header (include/darknet.h) defines pjreddie's
 * `network` struct and exports load_network() and the others on it (a façade, src/api/).
 * Inside the framework those names mean our own network and our functions, so every
 * translation unit that includes this header sees `network` as `dn_network` and the
 * network functions under dn_ names; the sources keep pjreddie's spelling and the linker
 * keeps both sets apart. Functions whose types are the same on both sides (images, boxes,
 * NMS) keep their names and serve both.
 *
 * Errors: the pjreddie-style functions print a message naming the file and the problem and
 * exit with status 1 (they have no way to return an error). The *_ex variants return NULL or
 * a negative status and fill a caller buffer instead; the CLI uses those.
 *
 * Randomness: every random choice (weight init, augmentation, dropout, ActNN rounding) is
 * derived from one 64-bit seed. darknet_set_seed() fixes it for the networks parsed after
 * the call (the CLI's `-seed N`); without it a seed is taken from the clock and printed, so
 * any run can be repeated.
 */
#ifndef DN_CORE_API_H
#define DN_CORE_API_H

#include "core/dn_names.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACTNN_DARKNET_VERSION "0.1.0"

typedef struct network network;

typedef struct {
    int w, h, c;
    float *data; /* CHW, channel-major, values in [0,1], RGB order */
} image;

typedef struct {
    float x, y, w, h; /* centre and size, relative to the image (0..1) */
} box;

#include "core/dn_detection.h"
typedef struct dn_detection detection; /* `detection` is dn_detection here (core/dn_names.h) */

/* ---- seeding ---- */
void darknet_set_seed(uint64_t seed);
uint64_t darknet_get_seed(void);

/* ---- networks (pjreddie signatures) ---- */
network *parse_network_cfg(char *filename);
network *load_network(char *cfg, char *weights, int clear);
void load_weights(network *net, char *filename);
void load_weights_upto(network *net, char *filename, int start, int cutoff);
void save_weights(network *net, char *filename);
void save_weights_upto(network *net, char *filename, int cutoff);
void set_batch_network(network *net, int b);
int resize_network(network *net, int w, int h);
float *network_predict(network *net, float *input);
int network_width(network *net);
int network_height(network *net);
int network_inputs(network *net);
int network_outputs(network *net);
size_t get_current_batch(network *net);
float get_current_rate(network *net);
void free_network(network *net);

/* ---- error-returning variants ---- */
network *parse_network_cfg_ex(const char *filename, int batch_override, char *err, size_t errlen);
int load_weights_ex(network *net, const char *filename, int start, int cutoff, char *err, size_t errlen);
int save_weights_ex(network *net, const char *filename, int cutoff, char *err, size_t errlen);

/* ---- images ---- */
image make_image(int w, int h, int c);
image make_empty_image(int w, int h, int c);
image copy_image(image p);
void free_image(image m);
image load_image(char *filename, int w, int h, int c);
image load_image_color(char *filename, int w, int h);
image resize_image(image im, int w, int h);
image letterbox_image(image im, int w, int h);
image crop_image(image im, int dx, int dy, int w, int h);
void flip_image(image a);
void save_image(image im, const char *name);     /* writes name.jpg (quality 80) */
void save_image_png(image im, const char *name); /* writes name.png */
void draw_box_width(image a, int x1, int y1, int x2, int y2, int w, float r, float g, float b);

/* ---- detection ---- */
detection *get_network_boxes(network *net, int w, int h, float thresh, float hier, int *map,
                             int relative, int *num);
detection *make_network_boxes(network *net, float thresh, int *num);
/* get_network_boxes of sample b of the last forward (network_predict_batch). */
detection *dn_network_boxes_sample(network *net, int b, int w, int h, float thresh, int relative,
                                   int *num);
void free_detections(detection *dets, int n);
void do_nms_sort(detection *dets, int total, int classes, float thresh);
void do_nms_obj(detection *dets, int total, int classes, float thresh);
float box_iou(box a, box b);
char **get_labels(char *filename);

#ifdef __cplusplus
}
#endif
#endif
