/*
 * dn_boxes: detections from Debian's libdarknet (pjreddie 2018), the oracle for our
 * get_network_boxes / do_nms_sort / do_nms_obj.
 *
 *   dn_boxes <cfg> <weights> <input.f32> <img_w> <img_h> <thresh> <nms> <sort|obj>
 *
 * Runs network_predict on one sample (batch set to 1), then get_network_boxes(net, img_w,
 * img_h, thresh, .5, 0, relative=1) and, when nms > 0, do_nms_sort or do_nms_obj. Prints
 * one line per detection: x y w h objectness followed by every class probability.
 * Includes no header of ours. Errors exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"

static float *read_f32(const char *path, int *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "dn_boxes: cannot open %s\n", path); exit(2); }
    int cnt = 0;
    if (fread(&cnt, 4, 1, f) != 1 || cnt < 0) { fprintf(stderr, "dn_boxes: bad %s\n", path); exit(2); }
    float *x = malloc(sizeof(float) * (size_t)(cnt + 1));
    if (fread(x, 4, (size_t)cnt, f) != (size_t)cnt) { fprintf(stderr, "dn_boxes: short %s\n", path); exit(2); }
    fclose(f);
    *n = cnt;
    return x;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: dn_boxes <cfg> <weights> <input.f32> <img_w> <img_h> <thresh> <nms> <sort|obj>\n");
        return 2;
    }
    srand(0);
    network *net = load_network(argv[1], argv[2], 0);
    set_batch_network(net, 1);
    int n = 0;
    float *in = read_f32(argv[3], &n);
    if (n < net->inputs) { fprintf(stderr, "dn_boxes: input has %d values, need %d\n", n, net->inputs); return 2; }
    network_predict(net, in);
    int nb = 0;
    float thresh = (float)atof(argv[6]), nms = (float)atof(argv[7]);
    detection *dets = get_network_boxes(net, atoi(argv[4]), atoi(argv[5]), thresh, .5f, 0, 1, &nb);
    int classes = net->layers[net->n - 1].classes;
    if (nms > 0) {
        if (!strcmp(argv[8], "obj")) do_nms_obj(dets, nb, classes, nms);
        else do_nms_sort(dets, nb, classes, nms);
    }
    for (int i = 0; i < nb; ++i) {
        printf("%.7g %.7g %.7g %.7g %.7g", dets[i].bbox.x, dets[i].bbox.y, dets[i].bbox.w,
               dets[i].bbox.h, dets[i].objectness);
        for (int k = 0; k < classes; ++k) printf(" %.7g", dets[i].prob[k]);
        printf("\n");
    }
    free_detections(dets, nb);
    free(in);
    free_network(net);
    return 0;
}
