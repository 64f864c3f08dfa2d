/* The seam between the public façade (src/api/api_*.c, which see only include/darknet.h)
 * and the framework (src/core, which sees only core/dn_api.h). Both sides include this
 * header; it names no type of either side except through plain C types, struct dn_network
 * (the framework's network, opaque to the façade) and struct dn_detection (the framework's
 * detection: pjreddie's layout, which the public detection of libdarknet.so shares and
 * AlexeyAB's extends, src/api/api_alexey.c).
 *
 * Owns: the info structs and the dn_bridge_* functions (bridge.c). May not touch: layer or
 * network internals beyond reading them. */
#ifndef DN_API_BRIDGE_H
#define DN_API_BRIDGE_H

#include <stddef.h>

struct dn_network;
struct dn_detection;

/* The framework's pjreddie-named functions (renamed by core/dn_api.h so the façade can
 * export the public names). */
struct dn_network *dn_load_network(char *cfg, char *weights, int clear);
struct dn_network *dn_parse_network_cfg(char *filename);
void dn_load_weights_upto(struct dn_network *net, char *filename, int start, int cutoff);
void dn_save_weights_upto(struct dn_network *net, char *filename, int cutoff);
void dn_set_batch_network(struct dn_network *net, int b);
int dn_resize_network(struct dn_network *net, int w, int h);
float *dn_network_predict(struct dn_network *net, float *input);
size_t dn_get_current_batch(struct dn_network *net);
float dn_get_current_rate(struct dn_network *net);
void dn_free_network(struct dn_network *net);
struct dn_detection *dn_get_network_boxes(struct dn_network *net, int w, int h, float thresh,
                                          float hier, int *map, int relative, int *num);
struct dn_detection *dn_make_network_boxes(struct dn_network *net, float thresh, int *num);
struct dn_detection *dn_network_boxes_sample(struct dn_network *net, int b, int w, int h,
                                             float thresh, int relative, int *num);
void dn_free_detections(struct dn_detection *dets, int n);
void dn_do_nms_sort(struct dn_detection *dets, int total, int classes, float thresh);
void dn_do_nms_obj(struct dn_detection *dets, int total, int classes, float thresh);

/* The [net] values and state the public network shows. Pointers point into the network. */
typedef struct {
    int n, batch, subdivisions, time_steps, max_batches;
    int inputs, outputs, truths, h, w, c;
    size_t *seen;
    int *t;
    float epoch;
    int policy; /* pjreddie's learning_rate_policy order; SGDR and later read as CONSTANT */
    float learning_rate, momentum, decay, gamma, scale, power;
    int step, burn_in, num_steps;
    int *steps;
    float *scales;
    int adam;
    float B1, B2, eps;
    int max_crop, min_crop, center, random, notruth;
    float max_ratio, min_ratio, angle, aspect, exposure, saturation, hue, clip;
    float *input, *truth, *output, *cost;
    int train;
} dn_net_info;

/* One layer, in the terms of pjreddie's layer struct. */
typedef struct {
    const char *type;       /* cfg section name: "convolutional", "yolo", ... */
    const char *activation; /* cfg activation name */
    int batch_normalize, batch, inputs, outputs, h, w, c, out_h, out_w, out_c, n;
    int classes, coords, total, truths;
    int *mask;
    float *biases, *weights;
    int nbiases, nweights;
    float *output;          /* NULL unless the plan keeps it after a forward */
    float *cost;
} dn_layer_info;

void dn_bridge_net_info(struct dn_network *net, dn_net_info *out);
void dn_bridge_layer_info(struct dn_network *net, int i, dn_layer_info *out);
/* One training step on `batch` samples of x and y already in network order (pjreddie's
 * train_network_datum); returns the summed cost, exits with a message on failure. */
float dn_bridge_train_datum(struct dn_network *net, const float *x, const float *y);

#endif
