/* `detector demo` (detector_demo.c): detections on a video file, drawn and written to an
 * MJPG video. Works in OPENCV=1 builds; others print how to get one and return 1. */
#ifndef DN_CLI_DETECTOR_DEMO_H
#define DN_CLI_DETECTOR_DEMO_H

int detector_demo(const char *datafile, const char *cfg, const char *weights, const char *video,
                  float thresh, const char *out);

#endif
