/* actnn-darknet public API: pjreddie's darknet.h for programs and ctypes wrappers.
 *
 * A program written against pjreddie's header (his examples, python/darknet.py over
 * libdarknet.so) builds against this one: the same includes, the same names and
 * signatures, and the public structs with the fields programs read (net->n,
 * net->layers[i].classes/outputs/w/h/c/type, *net->seen, l.output of an output layer...).
 *
 * The structs are a façade: the framework keeps its own network and layer structures
 * (src/core) and fills these from them (src/api). What a program reads is true after the
 * call that returns or updates the network (load, predict, train, resize, set_batch);
 * writes to the public fields are not read back, except through *net->seen and *net->t,
 * which point at the real counters. layers[i].output is the layer's output after a
 * predict for the layers whose output the framework keeps (detection layers, the network
 * output), NULL for others (their memory is reused by the plan). Fields of pjreddie's
 * layer that have no counterpart here are not declared, so a program that reads one fails
 * to compile rather than reading a wrong value.
 *
 * Errors: the pjreddie-style functions print a message naming the file and the problem and
 * exit with status 1, as his do (they have no way to return an error).
 *
 * Randomness: every random choice derives from one 64-bit seed; darknet_set_seed() fixes
 * it for networks parsed after the call, otherwise a seed is taken from the clock and
 * printed.
 *
 * libdarknet.so exports exactly these functions and gpu_index (checked with nm -D).
 */
#ifndef DARKNET_API
#define DARKNET_API

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACTNN_DARKNET_VERSION "0.1.0"
#define SECRET_NUM -1234

/* The GPU used by GPU builds (-1: CPU); always -1 in CPU builds. */
extern int gpu_index;

typedef struct {
    int classes;
    char **names;
} metadata;

typedef enum {
    LOGISTIC, RELU, RELIE, LINEAR, RAMP, TANH, PLSE, LEAKY, ELU, LOGGY, STAIR, HARDTAN, LHTAN, SELU
} ACTIVATION;

typedef enum { PNG, BMP, TGA, JPG } IMTYPE;

typedef enum {
    CONVOLUTIONAL, DECONVOLUTIONAL, CONNECTED, MAXPOOL, SOFTMAX, DETECTION, DROPOUT, CROP, ROUTE,
    COST, NORMALIZATION, AVGPOOL, LOCAL, SHORTCUT, ACTIVE, RNN, GRU, LSTM, CRNN, BATCHNORM,
    NETWORK, XNOR, REGION, YOLO, ISEG, REORG, UPSAMPLE, LOGXENT, L2NORM, BLANK
} LAYER_TYPE;

typedef enum { CONSTANT, STEP, EXP, POLY, STEPS, SIG, RANDOM } learning_rate_policy;

struct network;
typedef struct network network;
struct layer;
typedef struct layer layer;

struct layer {
    LAYER_TYPE type;
    ACTIVATION activation;  /* activations pjreddie lacks (mish, swish...) read as LINEAR */
    int batch_normalize;
    int batch;
    int inputs, outputs;    /* per sample */
    int h, w, c;            /* input */
    int out_h, out_w, out_c;
    int n;                  /* filters (convolutional), anchors of this layer (yolo, region) */
    int classes, coords, total;
    int *mask;              /* yolo: anchor indices */
    float *biases;          /* yolo/region: anchors; convolutional/connected: biases */
    float *weights;
    int nweights, nbiases;
    int truths;
    float *output;          /* after a predict, for kept outputs; else NULL */
    float *cost;
};

struct network {
    int n;
    int batch;
    size_t *seen;
    int *t;
    float epoch;
    int subdivisions;
    layer *layers;
    float *output;
    learning_rate_policy policy;

    float learning_rate, momentum, decay, gamma, scale, power;
    int time_steps, step, max_batches;
    float *scales;
    int *steps;
    int num_steps, burn_in;

    int adam;
    float B1, B2, eps;

    int inputs, outputs, truths, notruth;
    int h, w, c;
    int max_crop, min_crop;
    float max_ratio, min_ratio;
    int center;
    float angle, aspect, exposure, saturation, hue;
    int random;

    int gpu_index;
    float *input;
    float *truth;
    int train;
    float *cost;
    float clip;

    struct dn_network *impl; /* the framework's network behind this façade */
};

typedef struct {
    int w, h, c;
    float *data; /* CHW, channel-major, values in [0,1], RGB order */
} image;

typedef struct {
    float x, y, w, h; /* centre and size (relative to the image unless relative=0) */
} box;

#ifndef DARKNET_ALEXEY_API
typedef struct detection {
    box bbox;
    int classes;
    float *prob;
    float *mask;
    float objectness;
    int sort_class;
} detection;
#else
/* AlexeyAB's detection (his include/darknet.h since 2020; 88 bytes on 64-bit), as his
 * darknet.py reads it through libdarknet_alexey.so. best_class_idx: the class of the
 * highest prob above thresh, -1 when none; uc, embeddings: NULL, points, embedding_size,
 * sim, track_id: 0 (no Gaussian YOLO, no tracking here). */
typedef struct detection {
    box bbox;
    int classes;
    int best_class_idx;
    float *prob;
    float *mask;
    float objectness;
    int sort_class;
    float *uc;
    int points;
    float *embeddings;
    int embedding_size;
    float sim;
    int track_id;
} detection;

/* network_predict_batch's result: one per image of the batch. */
typedef struct det_num_pair {
    int num;
    detection *dets;
} det_num_pair, *pdet_num_pair;
#endif

typedef struct matrix {
    int rows, cols;
    float **vals;
} matrix;

typedef struct {
    int w, h;
    matrix X;
    matrix y;
    int shallow;
    int *num_boxes;
    box **boxes;
} data;

typedef struct node {
    void *val;
    struct node *next;
    struct node *prev;
} node;

typedef struct list {
    int size;
    node *front;
    node *back;
} list;

/* ---- seeding (ours) ---- */
void darknet_set_seed(uint64_t seed);
uint64_t darknet_get_seed(void);

/* ---- networks ---- */
network *parse_network_cfg(char *filename);
network *load_network(char *cfg, char *weights, int clear);
void load_weights(network *net, char *filename);
void load_weights_upto(network *net, char *filename, int start, int cutoff);
void save_weights(network *net, char *filename);
void save_weights_upto(network *net, char *filename, int cutoff);
void set_batch_network(network *net, int b);
int resize_network(network *net, int w, int h);
float *network_predict(network *net, float *input);
/* pjreddie's library letterboxes im to the network size; AlexeyAB's (libdarknet_alexey.so)
 * stretches it, as his does. Batch 1. */
float *network_predict_image(network *net, image im);
/* Clears recurrent layers' state between sequences. No recurrent layer type is built here
 * ([rnn], [lstm], [gru] are not supported), so it has nothing to clear; it exists because
 * pjreddie's python/darknet.py binds it when imported. */
void reset_rnn(network *net);
int network_width(network *net);
int network_height(network *net);
int network_inputs(network *net);
int network_outputs(network *net);
size_t get_current_batch(network *net);
float get_current_rate(network *net);
layer get_network_output_layer(network *net);
void top_predictions(network *net, int n, int *index);
/* One step of SGD per mini-batch of d (rows in order); returns the mean loss per sample. */
float train_network(network *net, data d);
void free_network(network *net);
void cuda_set_device(int n);

/* ---- data ---- */
matrix make_matrix(int rows, int cols);
void free_matrix(matrix m);
void free_data(data d);
void get_next_batch(data d, int n, int offset, float *X, float *y);

/* ---- images ---- */
image make_image(int w, int h, int c);
image make_empty_image(int w, int h, int c);
image copy_image(image p);
image float_to_image(int w, int h, int c, float *data);
void free_image(image m);
/* An unreadable file gives a zeroed 10x10 image (w, h applied) after a message on stderr,
 * as Darknet's OpenCV builds do; the process goes on. */
image load_image(char *filename, int w, int h, int c);
image load_image_color(char *filename, int w, int h);
image resize_image(image im, int w, int h);
image letterbox_image(image im, int w, int h);
image crop_image(image im, int dx, int dy, int w, int h);
void flip_image(image a);
void rgbgr_image(image im);
void save_image(image im, const char *name);     /* writes name.jpg (quality 80) */
void save_image_png(image im, const char *name); /* writes name.png */
void draw_box_width(image a, int x1, int y1, int x2, int y2, int w, float r, float g, float b);
/* Glyph images of pjreddie's data/labels/ font when found (data/labels/ or
 * /usr/share/darknet/data/labels/), else empty glyphs: draw_detections then draws boxes
 * without label text. Free with free_alphabet. */
image **load_alphabet(void);
void free_alphabet(image **alphabet);
void draw_detections(image im, detection *dets, int num, float thresh, char **names,
                     image **alphabet, int classes);

/* ---- detection ---- */
#ifndef DARKNET_ALEXEY_API
detection *get_network_boxes(network *net, int w, int h, float thresh, float hier, int *map,
                             int relative, int *num);
#else
/* letter = 0: the image was stretched to the network (AlexeyAB's network_predict_image);
 * 1: letterboxed (pjreddie's, network_predict_image_letterbox). */
detection *get_network_boxes(network *net, int w, int h, float thresh, float hier, int *map,
                             int relative, int *num, int letter);
#endif
/* The array get_network_boxes fills, before filling: one entry per candidate above thresh
 * (each [region] cell and anchor), prob zeroed, classes set; *num its length. Free with
 * free_detections. */
detection *make_network_boxes(network *net, float thresh, int *num);
void free_detections(detection *dets, int n);
void do_nms_sort(detection *dets, int total, int classes, float thresh);
void do_nms_obj(detection *dets, int total, int classes, float thresh);
float box_iou(box a, box b);

#ifdef DARKNET_ALEXEY_API
/* ---- AlexeyAB's additions, in libdarknet_alexey.so only ---- */
/* Interleaved 8-bit pixels (h rows of w pixels of c bytes, as OpenCV and numpy hold them)
 * into im (planar floats in [0,1]); im's w, h, c give the sizes. */
void copy_image_from_bytes(image im, char *pdata);
float *network_predict_ptr(network *net, float *input);
/* Letterboxed to the network size, batch 1 (pjreddie's network_predict_image). */
float *network_predict_image_letterbox(network *net, image im);
/* im holds `batch_size` network-sized images one after another; the network's mini-batch
 * must be batch_size (load_network_custom). Free with free_batch_detections. */
det_num_pair *network_predict_batch(network *net, image im, int batch_size, int w, int h,
                                    float thresh, float hier, int *map, int relative,
                                    int letter);
void free_batch_detections(det_num_pair *det_num_pairs, int n);
/* load_network with the mini-batch set to batch. */
network *load_network_custom(char *cfg, char *weights, int clear, int batch);
void free_network_ptr(network *net);
/* Nothing to start on the CPU here; kept for his wrappers. */
void init_cpu(void);
#endif

/* ---- files and options ---- */
metadata get_metadata(char *file);
char **get_labels(char *filename);
list *read_data_cfg(char *filename);
char *option_find_str(list *l, char *key, char *def);
int option_find_int(list *l, char *key, int def);
int option_find_int_quiet(list *l, char *key, int def);
float option_find_float(list *l, char *key, float def);
void free_list(list *l);

/* ---- utilities ---- */
void free_ptrs(void **ptrs, int n);
void top_k(float *a, int n, int k, int *index);
double what_time_is_it_now(void);

#ifdef __cplusplus
}
#endif
#endif
