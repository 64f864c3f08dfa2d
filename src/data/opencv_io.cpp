// OpenCV behind a C interface (opencv_io.h). Every OpenCV call sits inside a try block:
// OpenCV reports errors with exceptions, and none may unwind into C.
#include "data/opencv_io.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

struct cv_reader {
    cv::VideoCapture cap;
};

struct cv_writer {
    cv::VideoWriter out;
    int w, h;
};

// BGR(A)/grey bytes -> CHW float RGB (or grey) in [0,1].
static image mat_to_image(const cv::Mat &m)
{
    image im = make_image(m.cols, m.rows, m.channels());
    if (!im.data) return im;
    const int c = m.channels();
    for (int y = 0; y < m.rows; ++y) {
        const unsigned char *row = m.ptr<unsigned char>(y);
        for (int x = 0; x < m.cols; ++x)
            for (int k = 0; k < c; ++k) {
                int src = c == 3 ? 2 - k : k; // BGR -> RGB
                im.data[((size_t)k * m.rows + y) * m.cols + x] = row[x * c + src] / 255.0f;
            }
    }
    return im;
}

// CHW float RGB -> BGR bytes (rounded, clamped).
static cv::Mat image_to_mat(image im)
{
    cv::Mat m(im.h, im.w, CV_8UC3);
    for (int y = 0; y < im.h; ++y) {
        unsigned char *row = m.ptr<unsigned char>(y);
        for (int x = 0; x < im.w; ++x)
            for (int k = 0; k < 3; ++k) {
                float v = im.data[((size_t)(k < im.c ? k : 0) * im.h + y) * im.w + x];
                v = v < 0 ? 0 : (v > 1 ? 1 : v);
                row[x * 3 + 2 - k] = (unsigned char)(v * 255.0f + 0.5f);
            }
    }
    return m;
}

extern "C" const char *cv_version(void) { return CV_VERSION; }

extern "C" image cv_load_image(const char *path, int c, char *err, size_t errlen)
{
    if (c != 0 && c != 1 && c != 3) {
        snprintf(err, errlen, "cannot load image %s: OpenCV gives 1 or 3 channels, not %d", path, c);
        return make_empty_image(0, 0, 0);
    }
    try {
        int flag = c == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;
        if (c == 0) flag = cv::IMREAD_UNCHANGED;
        cv::Mat m = cv::imread(path, flag);
        if (m.empty()) {
            snprintf(err, errlen, "cannot load image %s: OpenCV cannot read it", path);
            return make_empty_image(0, 0, 0);
        }
        if (m.depth() != CV_8U) m.convertTo(m, CV_8U, m.depth() == CV_16U ? 1.0 / 257 : 255.0);
        if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
        if (m.channels() == 2) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR); // grey + alpha
        image im = mat_to_image(m);
        if (!im.data) snprintf(err, errlen, "out of memory loading %s", path);
        return im;
    } catch (const std::exception &e) {
        snprintf(err, errlen, "cannot load image %s: %s", path, e.what());
        return make_empty_image(0, 0, 0);
    }
}

extern "C" int cv_save_image(image im, const char *path)
{
    try {
        return cv::imwrite(path, image_to_mat(im)) ? 0 : -1;
    } catch (const std::exception &) {
        return -1;
    }
}

extern "C" cv_reader *cv_reader_open(const char *path, char *err, size_t errlen)
{
    cv_reader *r = nullptr;
    try {
        r = new cv_reader;
        if (r->cap.open(path)) return r;
        snprintf(err, errlen, "cannot open video %s (missing, or a format OpenCV's backends do not read)", path);
    } catch (const std::exception &e) {
        snprintf(err, errlen, "cannot open video %s: %s", path, e.what());
    }
    delete r;
    return nullptr;
}

extern "C" int cv_reader_next(cv_reader *r, image *frame)
{
    try {
        cv::Mat m;
        if (!r->cap.read(m) || m.empty()) return 0;
        if (m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
        *frame = mat_to_image(m);
        return frame->data ? 1 : 0;
    } catch (const std::exception &) {
        return 0;
    }
}

extern "C" double cv_reader_fps(const cv_reader *r)
{
    double fps = r->cap.get(cv::CAP_PROP_FPS);
    return fps > 0 && fps < 1000 ? fps : 25;
}

extern "C" void cv_reader_close(cv_reader *r) { delete r; }

extern "C" cv_writer *cv_writer_open(const char *path, int w, int h, double fps, char *err, size_t errlen)
{
    cv_writer *wr = nullptr;
    try {
        wr = new cv_writer;
        wr->w = w;
        wr->h = h;
        if (wr->out.open(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, cv::Size(w, h), true))
            return wr;
        snprintf(err, errlen, "cannot write video %s (folder missing, or no MJPG writer in OpenCV)", path);
    } catch (const std::exception &e) {
        snprintf(err, errlen, "cannot write video %s: %s", path, e.what());
    }
    delete wr;
    return nullptr;
}

extern "C" int cv_writer_write(cv_writer *wr, image frame)
{
    if (frame.w != wr->w || frame.h != wr->h) return -1;
    try {
        wr->out.write(image_to_mat(frame));
        return 0;
    } catch (const std::exception &) {
        return -1;
    }
}

extern "C" void cv_writer_close(cv_writer *wr) { delete wr; }

extern "C" void cv_draw_box_label(image im, int x1, int y1, int x2, int y2, int thick, const float rgb[3],
                                  const char *label)
{
    if (im.c != 3) return;
    try {
        cv::Mat m = image_to_mat(im);
        cv::Scalar colour(rgb[2] * 255, rgb[1] * 255, rgb[0] * 255);
        cv::rectangle(m, cv::Point(x1, y1), cv::Point(x2, y2), colour, thick);
        if (label && *label) {
            int base = 0;
            double scale = im.h / 1000.0 > .4 ? im.h / 1000.0 : .4;
            cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_COMPLEX_SMALL, scale, 1, &base);
            int top = y1 - ts.height - base - 2 >= 0 ? y1 - ts.height - base - 2 : y1;
            cv::rectangle(m, cv::Point(x1, top), cv::Point(x1 + ts.width + 2, top + ts.height + base + 2), colour,
                          cv::FILLED);
            cv::putText(m, label, cv::Point(x1 + 1, top + ts.height + 1), cv::FONT_HERSHEY_COMPLEX_SMALL, scale,
                        cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
        }
        image out = mat_to_image(m);
        if (out.data) {
            std::memcpy(im.data, out.data, sizeof(float) * (size_t)im.w * im.h * 3);
            free_image(out);
        }
    } catch (const std::exception &) {
        // drawing is cosmetic: the frame stays as it was
    }
}
