/* The public API's data, option-list and utility functions (include/darknet.h), written
 * for pjreddie's signatures and messages. */
#include "darknet.h"

#include <ctype.h>
#include <time.h>

#ifdef GPU
int gpu_index = 0;
#else
int gpu_index = -1;
#endif

/* A CPU build has no device to pick; a GPU build records the choice. */
void cuda_set_device(int n)
{
#ifdef GPU
    gpu_index = n;
#else
    (void)n;
#endif
}

matrix make_matrix(int rows, int cols)
{
    matrix m = {rows, cols, calloc((size_t)rows + 1, sizeof(float *))};
    for (int i = 0; m.vals && i < rows; ++i)
        if (!(m.vals[i] = calloc((size_t)cols + 1, sizeof(float)))) {
            fprintf(stderr, "make_matrix: out of memory\n");
            exit(1);
        }
    if (!m.vals) {
        fprintf(stderr, "make_matrix: out of memory\n");
        exit(1);
    }
    return m;
}

void free_matrix(matrix m)
{
    for (int i = 0; m.vals && i < m.rows; ++i) free(m.vals[i]);
    free(m.vals);
}

void free_data(data d)
{
    if (d.shallow) {
        free(d.X.vals);
        free(d.y.vals);
        return;
    }
    free_matrix(d.X);
    free_matrix(d.y);
}

/* Rows offset.. of d, n of them, into X and y (row after row), as pjreddie's. */
void get_next_batch(data d, int n, int offset, float *X, float *y)
{
    for (int j = 0; j < n; ++j) {
        memcpy(X + (size_t)j * d.X.cols, d.X.vals[offset + j], sizeof(float) * d.X.cols);
        if (y) memcpy(y + (size_t)j * d.y.cols, d.y.vals[offset + j], sizeof(float) * d.y.cols);
    }
}

/* ---- option lists: read_data_cfg's list holds one allocation per line: the kv pair with
 * its key and value strings after it, so free_list frees everything. ---- */
typedef struct {
    char *key, *val;
    int used;
} kvp;

static void push(list *l, void *val)
{
    node *n = calloc(1, sizeof(*n));
    if (!n) {
        fprintf(stderr, "read_data_cfg: out of memory\n");
        exit(1);
    }
    n->val = val;
    n->prev = l->back;
    if (l->back) l->back->next = n;
    else l->front = n;
    l->back = n;
    ++l->size;
}

/* "key=value" with blanks removed (pjreddie strips every space); 0 when not a pair. */
static kvp *parse_pair(const char *line)
{
    size_t n = strlen(line);
    kvp *p = malloc(sizeof(*p) + n + 2);
    if (!p) return NULL;
    char *s = (char *)(p + 1), *o = s;
    for (const char *c = line; *c; ++c)
        if (!isspace((unsigned char)*c)) *o++ = *c;
    *o = 0;
    char *eq = strchr(s, '=');
    if (!s[0] || s[0] == '#' || s[0] == ';' || !eq) {
        free(p);
        return NULL;
    }
    *eq = 0;
    p->key = s;
    p->val = eq + 1;
    p->used = 0;
    return p;
}

list *read_data_cfg(char *filename)
{
    FILE *f = fopen(filename, "r");
    if (!f) {
        fprintf(stderr, "Couldn't open file: %s\n", filename);
        exit(1);
    }
    list *l = calloc(1, sizeof(*l));
    char line[4096];
    int nu = 0;
    while (l && fgets(line, sizeof(line), f)) {
        ++nu;
        kvp *p = parse_pair(line);
        if (p) push(l, p);
        else if (line[strspn(line, " \t\r\n")] && !strchr("#;", line[strspn(line, " \t")]))
            fprintf(stderr, "Config file error line %d, could parse: %s", nu, line);
    }
    fclose(f);
    if (!l) {
        fprintf(stderr, "read_data_cfg: out of memory\n");
        exit(1);
    }
    return l;
}

void free_list(list *l)
{
    if (!l) return;
    for (node *n = l->front, *next; n; n = next) {
        next = n->next;
        free(n->val);
        free(n);
    }
    free(l);
}

static char *option_find(list *l, const char *key)
{
    for (node *n = l ? l->front : NULL; n; n = n->next) {
        kvp *p = n->val;
        if (!strcmp(p->key, key)) {
            p->used = 1;
            return p->val;
        }
    }
    return NULL;
}

char *option_find_str(list *l, char *key, char *def)
{
    char *v = option_find(l, key);
    if (v) return v;
    if (def) fprintf(stderr, "%s: Using default '%s'\n", key, def);
    return def;
}

int option_find_int(list *l, char *key, int def)
{
    char *v = option_find(l, key);
    if (v) return atoi(v);
    fprintf(stderr, "%s: Using default '%d'\n", key, def);
    return def;
}

int option_find_int_quiet(list *l, char *key, int def)
{
    char *v = option_find(l, key);
    return v ? atoi(v) : def;
}

float option_find_float(list *l, char *key, float def)
{
    char *v = option_find(l, key);
    if (v) return (float)atof(v);
    fprintf(stderr, "%s: Using default '%lf'\n", key, (double)def);
    return def;
}

metadata get_metadata(char *file)
{
    metadata m = {0, NULL};
    list *options = read_data_cfg(file);
    char *names = option_find_str(options, "names", NULL);
    if (!names) names = option_find_str(options, "labels", NULL);
    if (!names) fprintf(stderr, "No names or labels found\n");
    else m.names = get_labels(names);
    m.classes = option_find_int(options, "classes", 2);
    free_list(options);
    return m;
}

/* ---- utilities ---- */
void free_ptrs(void **ptrs, int n)
{
    for (int i = 0; ptrs && i < n; ++i) free(ptrs[i]);
    free(ptrs);
}

/* Indices of the k largest values, largest first; among equal values the earlier index. */
void top_k(float *a, int n, int k, int *index)
{
    for (int j = 0; j < k; ++j) index[j] = -1;
    for (int i = 0; i < n; ++i) {
        int j = k;
        while (j > 0 && (index[j - 1] < 0 || a[i] > a[index[j - 1]])) --j;
        if (j == k) continue;
        memmove(index + j + 1, index + j, sizeof(int) * (size_t)(k - j - 1));
        index[j] = i;
    }
}

double what_time_is_it_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}
