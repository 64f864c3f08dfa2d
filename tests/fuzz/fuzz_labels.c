/* libFuzzer target: YOLO label files (`class x y w h` lines) and packing them into truth
 * under augmentation parameters taken from the first input bytes. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "data/data_detector.h"

#define MAX_BOXES 90

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    const char *path = fuzz_as_file(data + 4, size - 4);
    label_box *b = NULL;
    unsigned long bad = 0;
    int n = detector_read_labels(path, 1 + data[0] % 100, &b, &bad, 0);
    if (n > 0) {
        float truth[5 * MAX_BOXES];
        float dx = (data[1] - 128) / 256.0f, sx = 0.25f + data[2] / 128.0f, sy = 0.25f + data[3] / 128.0f;
        detector_pack_truth(b, n, dx, -dx, sx, sy, data[1] & 1, truth, 1 + data[3] % MAX_BOXES);
    }
    free(b);
    return 0;
}
