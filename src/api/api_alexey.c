/* AlexeyAB's library API (libdarknet_alexey.so, built with -DDARKNET_ALEXEY_API): what his
 * darknet.py, darknet_images.py and darknet_video.py bind through ctypes. His detection is
 * pjreddie's with fields inserted and appended (include/darknet.h), so no single library
 * can serve both wrappers; this file replaces api_detect.c in that build.
 *
 * The framework's detections (struct dn_detection, pjreddie's layout) are copied into his
 * larger entries; prob and mask move with them (no copy of the class scores). NMS runs
 * on a pjreddie-layout copy whose entries point to the same prob arrays, and his entries
 * are then put in the order the NMS left the copy in.
 *
 * Semantics that differ from pjreddie's, as in his network.c: network_predict_image
 * stretches the image to the network (network_predict_image_letterbox letterboxes), and
 * get_network_boxes' last argument says which of the two the boxes are mapped back from. */
#ifdef DARKNET_ALEXEY_API
#include "darknet.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/bridge.h"
#include "core/dn_detection.h"

_Static_assert(sizeof(detection) == 88 && offsetof(detection, prob) == 24 &&
               offsetof(detection, uc) == 48 && offsetof(detection, track_id) == 80,
               "AlexeyAB's detection layout (his darknet.py reads it)");

typedef struct dn_detection pj_detection; /* the framework's entry */

static int best_class(const float *prob, int classes)
{
    int best = -1;
    for (int k = 0; k < classes; ++k)
        if (prob[k] > 0 && (best < 0 || prob[k] > prob[best])) best = k;
    return best;
}

/* His entries for the framework's n entries, which are freed (not their prob arrays). */
static detection *widen(struct dn_detection *in, int n)
{
    const pj_detection *src = in;
    if (!in) return NULL;
    detection *out = calloc((size_t)n + 1, sizeof(detection));
    if (!out) {
        dn_free_detections(in, n);
        return NULL;
    }
    for (int i = 0; i < n; ++i) {
        out[i].bbox = src[i].bbox;
        out[i].classes = src[i].classes;
        out[i].prob = src[i].prob;
        out[i].mask = src[i].mask;
        out[i].objectness = src[i].objectness;
        out[i].sort_class = src[i].sort_class;
        out[i].best_class_idx = best_class(src[i].prob, src[i].classes);
    }
    free(in); /* the array only: its arrays now belong to out */
    return out;
}

/* The boxes of sample b, letterbox-corrected for an image of w x h (letter), or from a
 * stretched image: then the network's own frame is the image's, scaled by w and h. */
static detection *boxes_of(network *net, int b, int w, int h, float thresh, int relative,
                           int letter, int *num)
{
    /* letterboxed: the framework maps back; stretched: ask for the network's own frame */
    struct dn_detection *in = letter ? dn_network_boxes_sample(net->impl, b, w, h, thresh, relative, num)
                                     : dn_network_boxes_sample(net->impl, b, net->w, net->h, thresh, 1, num);
    detection *d = widen(in, *num);
    for (int i = 0; d && !letter && !relative && i < *num; ++i) {
        d[i].bbox.x *= w;
        d[i].bbox.w *= w;
        d[i].bbox.y *= h;
        d[i].bbox.h *= h;
    }
    if (!d) *num = 0;
    return d;
}

detection *get_network_boxes(network *net, int w, int h, float thresh, float hier, int *map,
                             int relative, int *num, int letter)
{
    (void)hier; /* [region] tree= hierarchies and class maps are not supported */
    (void)map;
    return boxes_of(net, 0, w, h, thresh, relative, letter, num);
}

detection *make_network_boxes(network *net, float thresh, int *num)
{
    int n = 0;
    detection *d = widen(dn_make_network_boxes(net->impl, thresh, &n), n);
    if (num) *num = d ? n : 0;
    return d;
}

void free_detections(detection *dets, int n)
{
    if (!dets) return;
    for (int i = 0; i < n; ++i) {
        free(dets[i].prob);
        free(dets[i].mask);
        free(dets[i].uc);
        free(dets[i].embeddings);
    }
    free(dets);
}

typedef void (*nms_fn)(struct dn_detection *, int, int, float);

/* The framework's NMS over a pjreddie-layout copy; each copy's mask field carries its
 * entry's index (the NMS never reads mask), so the entries follow the copy's new order. */
static void nms_wide(detection *dets, int total, int classes, float thresh, nms_fn nms)
{
    if (total <= 0) return;
    pj_detection *tmp = malloc(sizeof(pj_detection) * (size_t)total);
    detection *was = malloc(sizeof(detection) * (size_t)total);
    if (!tmp || !was) {
        fprintf(stderr, "do_nms: out of memory for %d boxes; NMS not applied\n", total);
        free(tmp);
        free(was);
        return;
    }
    memcpy(was, dets, sizeof(detection) * (size_t)total);
    for (int i = 0; i < total; ++i)
        tmp[i] = (pj_detection){dets[i].bbox, dets[i].classes, dets[i].prob,
                                (float *)(uintptr_t)i, dets[i].objectness, dets[i].sort_class};
    nms(tmp, total, classes, thresh);
    for (int i = 0; i < total; ++i) {
        dets[i] = was[(uintptr_t)tmp[i].mask];
        dets[i].objectness = tmp[i].objectness;
        dets[i].sort_class = tmp[i].sort_class;
        /* his stays as before NMS; here it follows the scores NMS left, so that
         * darknet.py's remove_negatives_faster never names a suppressed class */
        dets[i].best_class_idx = best_class(dets[i].prob, dets[i].classes);
    }
    free(tmp);
    free(was);
}

void do_nms_sort(detection *dets, int total, int classes, float thresh)
{
    nms_wide(dets, total, classes, thresh, dn_do_nms_sort);
}

void do_nms_obj(detection *dets, int total, int classes, float thresh)
{
    nms_wide(dets, total, classes, thresh, dn_do_nms_obj);
}

/* Batch 1; im as it is when it has the network's size, else resized by `fit`. */
static float *predict_fitted(network *net, image im, image (*fit)(image, int, int))
{
    if (net->batch != 1) set_batch_network(net, 1);
    if (im.w == net->w && im.h == net->h) return network_predict(net, im.data);
    image r = fit(im, net->w, net->h);
    float *out = network_predict(net, r.data);
    free_image(r);
    return out;
}

/* His: stretched to the network size. */
float *network_predict_image(network *net, image im) { return predict_fitted(net, im, resize_image); }

float *network_predict_image_letterbox(network *net, image im)
{
    return predict_fitted(net, im, letterbox_image);
}

float *network_predict_ptr(network *net, float *input) { return network_predict(net, input); }

det_num_pair *network_predict_batch(network *net, image im, int batch_size, int w, int h,
                                    float thresh, float hier, int *map, int relative, int letter)
{
    (void)hier;
    (void)map;
    if (batch_size < 1 || batch_size != net->batch) {
        fprintf(stderr, "network_predict_batch: batch_size %d, but the network's mini-batch is %d "
                "(load it with load_network_custom(cfg, weights, 0, %d))\n", batch_size, net->batch,
                batch_size);
        exit(1);
    }
    network_predict(net, im.data);
    det_num_pair *p = calloc((size_t)batch_size, sizeof(det_num_pair));
    if (!p) {
        fprintf(stderr, "network_predict_batch: out of memory\n");
        exit(1);
    }
    for (int b = 0; b < batch_size; ++b)
        p[b].dets = boxes_of(net, b, w, h, thresh, relative, letter, &p[b].num);
    return p;
}

void free_batch_detections(det_num_pair *det_num_pairs, int n)
{
    for (int i = 0; det_num_pairs && i < n; ++i)
        free_detections(det_num_pairs[i].dets, det_num_pairs[i].num);
    free(det_num_pairs);
}

network *load_network_custom(char *cfg, char *weights, int clear, int batch)
{
    network *net = load_network(cfg, weights, clear);
    if (batch > 0 && net->batch != batch) set_batch_network(net, batch);
    return net;
}

void free_network_ptr(network *net) { free_network(net); }

void copy_image_from_bytes(image im, char *pdata)
{
    const unsigned char *px = (const unsigned char *)pdata;
    size_t hw = (size_t)im.w * im.h;
    for (int k = 0; k < im.c; ++k)
        for (size_t i = 0; i < hw; ++i) im.data[k * hw + i] = (float)(px[i * im.c + k] / 255.); /* his rounding */
}

void init_cpu(void) {}

#else
typedef int api_alexey_unused; /* ISO C: a translation unit is never empty */
#endif
