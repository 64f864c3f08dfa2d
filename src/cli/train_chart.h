/* chart.png for `detector train`, as AlexeyAB's users know it: the average loss per
 * iteration, mAP@0.5 points when -map is on, the learning rate and the time left, written
 * as PNG files (chart.png and chart_<cfg name>.png in the working folder) without any
 * window, so it works on a headless machine and with -dont_show.
 * Owns only its own history and files; it reads nothing of the network. */
#ifndef DN_CLI_TRAIN_CHART_H
#define DN_CLI_TRAIN_CHART_H

#include <stddef.h>

typedef struct {
    int max_batches;
    float max_loss;          /* top of the loss axis; 0: from the data */
    int n, cap;              /* average loss history */
    int *it;
    float *loss;
    int nm, capm;            /* mAP points */
    int *map_it;
    float *map;
    char path[2][4200];      /* chart.png, chart_<cfg name>.png (or -chart's name) */
} train_chart;

/* cfg names the second file (chart_<cfg base name>.png) unless `custom` is given. */
void train_chart_init(train_chart *c, const char *cfg, const char *custom, int max_batches,
                      float max_loss);
void train_chart_free(train_chart *c);
void train_chart_add_loss(train_chart *c, int iteration, float avg_loss);
void train_chart_add_map(train_chart *c, int iteration, float map);
/* Draws the chart and writes both files atomically; 0, or -1 with a warning printed
 * (a chart that cannot be written never stops training). */
int train_chart_write(const train_chart *c, int iteration, float rate, double hours_left);

/* The drawing alone (width x height RGB bytes), for tests. Returns malloc'd pixels. */
unsigned char *train_chart_draw(const train_chart *c, int iteration, float rate,
                                double hours_left, int *w, int *h);
/* Geometry of the plot area, for tests: pixel of (iteration, value/top of the axis). */
void train_chart_point(const train_chart *c, double iteration, double frac, int *x, int *y);

#endif
