/* libFuzzer target: the text inputs of the data path, a .data file (key=value) and a list
 * file (one path per line), read from the same bytes. */
#include "fuzz_common.h"
#include "core/list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_as_file(data, size);
    char err[1024];
    data_cfg d;
    if (data_cfg_read(path, &d, err, sizeof(err)) == 0) {
        int v;
        data_cfg_int(&d, "classes", 20, &v, err, sizeof(err));
        data_cfg_str(&d, "train", "data/train.list");
        data_cfg_free(&d);
    }
    int n = 0;
    char **lines = list_read(path, &n, err, sizeof(err));
    if (lines) list_free(lines);
    return 0;
}
