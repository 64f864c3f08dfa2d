/* Detections (get_network_boxes, letterbox correction, do_nms_sort / do_nms_obj) against
 * Debian's libdarknet through build/oracle/dn_boxes: same cfg, random weights and input,
 * an image size unlike the network's, every box and class probability within 1e-4. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "core/network.h"

#define ORACLE "build/oracle/dn_oracle"
#define BOXES "build/oracle/dn_boxes"

typedef struct {
    const char *stock;
    int size, img_w, img_h;
    float thresh, nms;
    const char *kind;
} box_case;

static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

typedef struct {
    int n, width;
    double *v; /* n rows of width values */
} rows;

static int row_cmp_width;
static int row_cmp(const void *a, const void *b)
{
    const double *x = a, *y = b;
    for (int k = 0; k < row_cmp_width; ++k)
        if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
    return 0;
}

static void rows_sort(rows *r)
{
    row_cmp_width = 4;
    qsort(r->v, (size_t)r->n, sizeof(double) * (size_t)r->width, row_cmp);
}

static rows read_rows(const char *path, int width)
{
    rows r = {0, width, NULL};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 0;
    double x;
    size_t k = 0;
    while (fscanf(f, "%lf", &x) == 1) {
        if (k == cap) r.v = realloc(r.v, (cap = cap * 2 + 1024) * sizeof(double));
        r.v[k++] = x;
    }
    fclose(f);
    assert_int_equal(k % (size_t)width, 0);
    r.n = (int)(k / (size_t)width);
    return r;
}

static rows our_rows(const box_case *bc, const char *dir, int *classes)
{
    char cfg[600], w[600], in[600], err[1024];
    snprintf(cfg, sizeof(cfg), "%s/net.cfg", dir);
    snprintf(w, sizeof(w), "%s/w.weights", dir);
    snprintf(in, sizeof(in), "%s/in.f32", dir);
    network *net = parse_network_cfg_ex(cfg, 1, err, sizeof(err));
    if (!net) fail_msg("%s", err);
    if (load_weights_ex(net, w, 0, net->n, err, sizeof(err))) fail_msg("%s", err);
    FILE *f = fopen(in, "rb");
    int32_t cnt;
    assert_int_equal(fread(&cnt, 4, 1, f), 1);
    assert_true(cnt >= net->inputs);
    float *x = malloc(sizeof(float) * (size_t)cnt);
    assert_int_equal(fread(x, 4, (size_t)cnt, f), (size_t)cnt);
    fclose(f);
    assert_int_equal(network_forward(net, x, 0), 0);
    int nb = 0;
    detection *d = get_network_boxes(net, bc->img_w, bc->img_h, bc->thresh, .5f, 0, 1, &nb);
    *classes = d && nb ? d[0].classes : 0;
    if (!strcmp(bc->kind, "obj")) do_nms_obj(d, nb, *classes, bc->nms);
    else do_nms_sort(d, nb, *classes, bc->nms);
    rows r = {nb, 5 + *classes, calloc((size_t)nb * (5 + *classes) + 1, sizeof(double))};
    for (int i = 0; i < nb; ++i) {
        double *v = r.v + (size_t)i * r.width;
        v[0] = d[i].bbox.x; v[1] = d[i].bbox.y; v[2] = d[i].bbox.w; v[3] = d[i].bbox.h;
        v[4] = d[i].objectness;
        for (int k = 0; k < *classes; ++k) v[5 + k] = d[i].prob[k];
    }
    free_detections(d, nb);
    free(x);
    free_network(net);
    return r;
}

static void check_boxes(const box_case *bc)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/boxes_%d_%s", tu_tmpdir(), bc->img_w, strrchr(bc->stock, '/') + 1);
    sh("mkdir -p %s", dir);
    sh(ORACLE " cfgset %s %s/net.cfg width=%d height=%d batch=1 subdivisions=1 > /dev/null", bc->stock,
       dir, bc->size, bc->size);
    sh(ORACLE " randweights %s/net.cfg 5 %s/w.weights > /dev/null 2>&1", dir, dir);
    sh(ORACLE " randinput %d 3 %s/in.f32 > /dev/null", bc->size * bc->size * 3, dir);
    sh(BOXES " %s/net.cfg %s/w.weights %s/in.f32 %d %d %g %g %s > %s/ref.txt 2>/dev/null", dir, dir, dir,
       bc->img_w, bc->img_h, bc->thresh, bc->nms, bc->kind, dir);
    int classes = 0;
    rows ours = our_rows(bc, dir, &classes);
    char path[600];
    snprintf(path, sizeof(path), "%s/ref.txt", dir);
    rows ref = read_rows(path, 5 + classes);
    assert_true(ours.n > 0);
    assert_int_equal(ours.n, ref.n);
    rows_sort(&ours);
    rows_sort(&ref);
    int live = 0;
    for (size_t k = 0; k < (size_t)ours.n * ours.width; ++k) {
        if (fabs(ours.v[k] - ref.v[k]) > 1e-4 * (1 + fabs(ref.v[k])))
            fail_msg("row %zu column %zu: ours %.7g, oracle %.7g", k / ours.width, k % ours.width,
                     ours.v[k], ref.v[k]);
        if (k % ours.width >= 5 && ref.v[k] > 0) live++;
    }
    assert_true(live > 0); /* some class survived thresh and nms */
    free(ours.v);
    free(ref.v);
}

static void yolov3_sort(void **s)
{
    (void)s;
    box_case c = {"/usr/share/darknet/cfg/yolov3-tiny.cfg", 96, 160, 120, .5f, .45f, "sort"};
    check_boxes(&c);
}

static void yolov3_obj(void **s)
{
    (void)s;
    box_case c = {"/usr/share/darknet/cfg/yolov3-tiny.cfg", 96, 90, 150, .5f, .3f, "obj"};
    check_boxes(&c);
}

static void yolov2_region_sort(void **s)
{
    (void)s;
    box_case c = {"/usr/share/darknet/cfg/yolov2-tiny.cfg", 96, 100, 140, .2f, .45f, "sort"};
    check_boxes(&c);
}

int main(void)
{
    darknet_set_seed(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yolov3_sort),
        cmocka_unit_test(yolov3_obj),
        cmocka_unit_test(yolov2_region_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
