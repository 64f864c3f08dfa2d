/* pjreddie's detection functions for libdarknet.so. His detection struct is the
 * framework's own (struct dn_detection, the same fields in the same order), so these pass
 * the arrays through. AlexeyAB's library, whose detection is larger, has its own versions
 * (api_alexey.c); exactly one of the two files is linked into each library. */
#ifndef DARKNET_ALEXEY_API
#include "darknet.h"

#include <stddef.h>

#include "api/bridge.h"

_Static_assert(sizeof(detection) == 48 && offsetof(detection, sort_class) == 44,
               "pjreddie's detection layout (python/darknet.py reads it)");

static struct dn_detection *in(detection *d) { return (struct dn_detection *)d; }

detection *get_network_boxes(network *net, int w, int h, float thresh, float hier, int *map,
                             int relative, int *num)
{
    return (detection *)dn_get_network_boxes(net->impl, w, h, thresh, hier, map, relative, num);
}

detection *make_network_boxes(network *net, float thresh, int *num)
{
    return (detection *)dn_make_network_boxes(net->impl, thresh, num);
}

void free_detections(detection *dets, int n) { dn_free_detections(in(dets), n); }

void do_nms_sort(detection *dets, int total, int classes, float thresh)
{
    dn_do_nms_sort(in(dets), total, classes, thresh);
}

void do_nms_obj(detection *dets, int total, int classes, float thresh)
{
    dn_do_nms_obj(in(dets), total, classes, thresh);
}

/* pjreddie's: letterboxed to the network size, batch 1. */
float *network_predict_image(network *net, image im)
{
    image lb = letterbox_image(im, net->w, net->h);
    if (net->batch != 1) set_batch_network(net, 1);
    float *out = network_predict(net, lb.data);
    free_image(lb);
    return out;
}

#else
typedef int api_detect_unused; /* ISO C: a translation unit is never empty */
#endif
