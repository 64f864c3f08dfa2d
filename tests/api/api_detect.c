/* A program written the way pjreddie's examples and python/darknet.py use darknet.h,
 * built against include/darknet.h and libdarknet.so (tests/sh/api_so.sh runs it):
 *
 *   api_detect <data> <cfg> <weights> <image> <thresh>
 *
 * Prints the public structs' facts (FACT lines), then the boxes after do_nms_sort in
 * `detector test -ext_output` form, the do_nms_obj count (darknet.py's detect), and
 * draw_detections' lines; writes api_pred.jpg. Includes no header but darknet.h. */
#include "darknet.h"

#include <math.h>

static void facts(network *net)
{
    layer l = net->layers[net->n - 1];
    printf("FACT n=%d\n", net->n);
    printf("FACT last.type_is_yolo=%d classes=%d outputs=%d w=%d h=%d c=%d n=%d\n", l.type == YOLO,
           l.classes, l.outputs, l.w, l.h, l.c, l.n);
    printf("FACT seen=%zu net.w=%d net.h=%d net.c=%d inputs=%d\n", *net->seen, net->w, net->h,
           net->c, net->inputs);
    printf("FACT first.type_is_conv=%d first.out_c=%d first.nbiases=%d\n",
           net->layers[0].type == CONVOLUTIONAL, net->layers[0].out_c, net->layers[0].nbiases);
}

static void print_ext(image im, detection *d, int n, metadata meta, float thresh)
{
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < meta.classes; ++k) {
            if (d[i].prob[k] <= thresh) continue;
            box b = d[i].bbox;
            printf("EXT %s: %.0f%%\t(left_x: %4.0f   top_y: %4.0f   width: %4.0f   height: %4.0f)\n",
                   meta.names[k], d[i].prob[k] * 100, round((b.x - b.w / 2) * im.w),
                   round((b.y - b.h / 2) * im.h), round(b.w * im.w), round(b.h * im.h));
        }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s <data> <cfg> <weights> <image> <thresh>\n", argv[0]);
        return 2;
    }
    float thresh = (float)atof(argv[5]);
    network *net = load_network(argv[2], argv[3], 0);
    set_batch_network(net, 1);
    metadata meta = get_metadata(argv[1]);
    facts(net);
    image im = load_image_color(argv[4], 0, 0);
    image sized = letterbox_image(im, net->w, net->h);
    /* network_predict_image letterboxes as pjreddie's: the same output as predicting the
     * letterboxed image. */
    int outs = net->outputs;
    float *copy = malloc(sizeof(float) * outs);
    memcpy(copy, network_predict_image(net, im), sizeof(float) * outs);
    float *p = network_predict(net, sized.data);
    int same = !memcmp(copy, p, sizeof(float) * outs);
    printf("FACT predict_image_is_letterboxed=%d last_output_kept=%d\n", same,
           net->layers[net->n - 1].output != NULL);
    int nboxes = 0;
    detection *dets = get_network_boxes(net, im.w, im.h, thresh, .5f, 0, 1, &nboxes);
    do_nms_sort(dets, nboxes, meta.classes, .45f);
    print_ext(im, dets, nboxes, meta, thresh);
    image **alphabet = load_alphabet();
    draw_detections(im, dets, nboxes, thresh, meta.names, alphabet, meta.classes);
    save_image(im, "api_pred");
    free_detections(dets, nboxes);
    /* darknet.py's detect() on the image as loaded (im now has boxes drawn): pixel
     * boxes, do_nms_obj. */
    free_image(im);
    im = load_image_color(argv[4], 0, 0);
    network_predict_image(net, im);
    int nobj = 0;
    detection *d2 = get_network_boxes(net, im.w, im.h, thresh, .5f, 0, 0, &nobj);
    do_nms_obj(d2, nobj, meta.classes, .45f);
    int kept = 0;
    for (int i = 0; i < nobj; ++i)
        for (int k = 0; k < meta.classes; ++k) kept += d2[i].prob[k] > 0;
    printf("FACT obj_nms_boxes=%d obj_nms_kept=%d\n", nobj, kept);
    free_detections(d2, nobj);
    free(copy);
    free_alphabet(alphabet);
    free_image(sized);
    free_image(im);
    free_ptrs((void **)meta.names, meta.classes);
    printf("FACT time_positive=%d\n", what_time_is_it_now() > 1e9);
    free_network(net);
    return 0;
}
