/* The framework's detection: pjreddie's fields in pjreddie's order (detect/detections.c
 * asserts the offsets). Included after a `box` type of the same layout is declared: by
 * core/dn_api.h, with the framework's box, and by AlexeyAB's façade (src/api/api_alexey.c),
 * with the public box, which copies these entries field by field into his larger struct.
 * Owns this struct only. */
#ifndef DN_CORE_DETECTION_H
#define DN_CORE_DETECTION_H

struct dn_detection {
    box bbox;
    int classes;
    float *prob;
    float *mask;
    float objectness;
    int sort_class;
};

#endif
