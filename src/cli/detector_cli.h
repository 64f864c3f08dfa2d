/* Pieces shared by the detector commands: detector.c (dispatch, train), detect.c (test,
 * detect), detector_recall.c (recall), detector_eval.c (valid, map) and detector_anchors.c (calc_anchors). */
#ifndef DN_CLI_DETECTOR_H
#define DN_CLI_DETECTOR_H

#include <stddef.h>

#include "data/data_detector.h"
#include "detect/detect_layers.h"
#include "core/list.h"
#include "core/network.h"

typedef struct {
    data_cfg d;
    int has_d;
    char **names;   /* class names; generated "0", "1"... when the names file is missing */
    int classes;
} det_setup;

/* Reads the .data file (classes, names). Returns 0 or -1 with err set. */
int det_setup_read(const char *datafile, det_setup *s, char *err, size_t errlen);
/* Names only (the `detect` command has no .data file): classes from the network. */
int det_setup_names(det_setup *s, const char *names_file, int classes);
void det_setup_free(det_setup *s);

/* Parses the cfg (batch_override > 0 replaces the mini-batch), loads the weights when given,
 * -clear resets seen, checks the last detection layer's classes against `classes` (when >
 * 0). Returns NULL with err set. */
network *det_network(const char *cfg, const char *weights, int batch_override, int clear,
                     int classes, char *err, size_t errlen);
/* The last [yolo]/[region] layer's parameters, NULL when the network has none. */
const det_params *det_last_params(const network *net);

/* Detection data over a list of images, sized for the network. */
void det_data_init(detector_data *dd, const network *net, char **paths, int n, int classes);

/* Detections of one image already in x (network-sized): forward, boxes corrected to an iw x
 * ih letterboxed image (iw, ih = the network size: no correction), NMS (.45). */
detection *det_run(network *net, float *x, int iw, int ih, float thresh, float hier, int *n);

/* Options of `detector test` and `detect` (detect.c). */
typedef struct {
    float thresh, hier;
    int ext_output, letter_box, save_labels, dontdraw;
    const char *out;      /* -out: JSON file of every image's detections */
} det_test_opts;
/* Reads the options from the flag table (args.h). */
void det_test_opts_read(det_test_opts *o, float thresh_default);

int detector_train(const char *datafile, const char *cfg, const char *weights, int clear);
int detector_test(const char *datafile, const char *cfg, const char *weights, const char *img,
                  const det_test_opts *o, const char *names_override);
/* pjreddie's validate_detector_recall over the .data file's valid list (detector_recall.c). */
int detector_recall(const char *datafile, const char *cfg, const char *weights);
/* Options of `detector valid` and `detector map` (detector_eval.c). */
typedef struct {
    float iou_thresh;  /* map: a detection finds a truth above this IoU (-iou_thresh, .5) */
    float conf_thresh; /* map: TP, FP, FN, precision, recall, F1, average IoU at this score (-thresh, .25) */
    int points;        /* map: 0 area under the curve, 11 (VOC2007) or 101 (-points) */
    int letter_box;    /* -letter_box (or the cfg's letter_box=1): letterboxed, else stretched */
    const char *dir;   /* valid: results folder (-prefix; else the .data file's results=) */
    const char *out;   /* valid: file name prefix (-out; else comp4_det_test_ or coco_results) */
} det_eval_opts;
void det_eval_opts_default(det_eval_opts *o);
int detector_valid(const char *datafile, const char *cfg, const char *weights, const det_eval_opts *o);
int detector_map(const char *datafile, const char *cfg, const char *weights, const det_eval_opts *o,
                 float *map_out);
int detector_calc_anchors(const char *datafile, int clusters, int w, int h);

#endif
