/*
 * Reduced copies of a picture, pixel for pixel as Pillow makes them (signals/resample.py):
 * Image.reduce(n) (the mean of each n x n block, rounded as Pillow rounds it, the partial
 * blocks of the last column and row included), Image.resize(..., BILINEAR) (Pillow's
 * two-pass convolution: its coefficients computed with the same double arithmetic, turned
 * into the same 22-bit fixed-point integers, the first pass rounded to 8 bits before the
 * second; Pillow 13 runs the vertical pass first when the height shrinks by more than
 * twice what the width does, python-pillow/Pillow#9549, as her page's pillow.js does) and
 * convert("L") (ITU-R 601-2 in 16-bit fixed point).
 *
 * Why: the robust stage makes three reduced copies of every scanned picture (its 512-pixel
 * work copy, the border walk's 384-pixel grey copy, the regions' 256-pixel copy), and
 * Pillow's vertical pass walks down the columns one channel value at a time. Here it runs
 * along rows (8 values at once where the processor has AVX2: `target_clones` picks the
 * version when the module loads), for the same integers; the reduction's 2x2 blocks are
 * summed without a per-block loop. tests/signals/test_resample.py compares every output
 * with Pillow's on many sizes.
 *
 * Compiled with -ffp-contract=off: the coefficients must round as Pillow's do.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS 22 /* Pillow's 32 - 8 - 2 */

typedef int32_t v4si __attribute__((vector_size(16)));

static inline uint8_t clip8(int32_t v) {
    int32_t x = v >> PRECISION_BITS;
    return (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
}

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* Pillow's precompute_coeffs for the bilinear filter over the whole input (box 0..in),
 * then normalize_coeffs_8bpc: per output position its first input, its count of taps, and
 * `ksize` fixed-point weights. Returns ksize, 0 on allocation failure. */
static int coeffs(int in_size, int out_size, int **bounds_out, int32_t **kk_out) {
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    int32_t *kk = malloc(sizeof(int32_t) * (size_t)ksize * (size_t)out_size);
    if (!bounds || !k || !kk) {
        free(bounds), free(k), free(kk);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bilinear_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        for (x = 0; x < ksize; x++)
            kk[xx * ksize + x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS))
                                          : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

/* One pixel's channels as a vector: RGB(X) pixels (3 or 4 bytes), or grey (1). */
static inline v4si load_px(const uint8_t *p, int pixel) {
    if (pixel == 1) return (v4si){p[0], 0, 0, 0};
    return (v4si){p[0], p[1], p[2], 0};
}

/* Pillow's L: (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16 */
static inline uint8_t luma8(const uint8_t *p) {
    return (uint8_t)(((uint32_t)p[0] * 19595 + (uint32_t)p[1] * 38470 + (uint32_t)p[2] * 7471 +
                      0x8000) >> 16);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* The horizontal pass over rows [first, last) of src (`pixel` bytes a pixel) into rows of
 * ow pixels of `channels` bytes (4: RGBX, 1: grey), rounded to 8 bits as Pillow's. */
WIDE static void hpass(const uint8_t *src, Py_ssize_t stride, int pixel, int first, int last,
                  int ow, const int *bh, const int32_t *kh, int kw, uint8_t *dst,
                  int channels) {
    size_t orow = (size_t)ow * channels;
    for (int y = first; y < last; y++) {
        const uint8_t *restrict row = src + (Py_ssize_t)y * stride;
        uint8_t *restrict out = dst + (size_t)(y - first) * orow;
        for (int xx = 0; xx < ow; xx++) {
            int xmin = bh[2 * xx], xmax = bh[2 * xx + 1];
            const int32_t *k = kh + (size_t)xx * kw;
            const uint8_t *p = row + (Py_ssize_t)xmin * pixel;
            if (channels == 1) {
                int32_t ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++, p += pixel) ss += (int32_t)p[0] * k[x];
                out[xx] = clip8(ss);
                continue;
            }
            v4si ss = {1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1),
                       1 << (PRECISION_BITS - 1), 0};
            for (int x = 0; x < xmax; x++, p += pixel) {
                v4si v = {p[0], p[1], p[2], 0};
                ss += v * k[x];
            }
            out[4 * xx] = clip8(ss[0]);
            out[4 * xx + 1] = clip8(ss[1]);
            out[4 * xx + 2] = clip8(ss[2]);
            out[4 * xx + 3] = 0;
        }
    }
}

/* The vertical pass: each of the oh output rows from its taps of src's rows (row yy's first
 * row bv[2 yy] - first), `bytes` values a row, each byte its own channel. */
WIDE static void vpass(const uint8_t *src, Py_ssize_t stride, size_t bytes, int oh, int first,
                  const int *bv, const int32_t *kv, int kw, int32_t *acc, uint8_t *dst,
                  size_t dstride) {
    for (int yy = 0; yy < oh; yy++) {
        int ymin = bv[2 * yy] - first, ymax = bv[2 * yy + 1];
        const int32_t *k = kv + (size_t)yy * kw;
        for (size_t j = 0; j < bytes; j++) acc[j] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < ymax; y++) {
            const uint8_t *restrict in = src + (Py_ssize_t)(ymin + y) * stride;
            int32_t w = k[y];
            for (size_t j = 0; j < bytes; j++) acc[j] += (int32_t)in[j] * w;
        }
        uint8_t *restrict out = dst + (size_t)yy * dstride;
        for (size_t j = 0; j < bytes; j++) out[j] = clip8(acc[j]);
    }
}

/* Bilinear resize of src (width x height, `stride` bytes a row, `pixel` bytes a pixel) to
 * ow x oh (both smaller or equal, one smaller), as Pillow 13's Image.resize: horizontal
 * pass first, except when the height shrinks by more than twice what the width does
 * (python-pillow/Pillow#9549: then the vertical pass first). Into dst: 4-byte RGBX pixels
 * (1-byte grey for a grey source); with `grey`, a colour result converted to L. Returns 0
 * on allocation failure. */
static int resize(const uint8_t *src, int width, int height, Py_ssize_t stride, int pixel,
                  int ow, int oh, int grey, uint8_t *dst) {
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int channels = pixel == 1 ? 1 : 4;
    int need_h = ow != width, need_v = oh != height;
    int vertical_first = need_h && oh < height && height - oh > 2 * (width - ow);
    int kwh = coeffs(width, ow, &bh, &kh);
    int kwv = kwh ? coeffs(height, oh, &bv, &kv) : 0;
    int ok = 0;
    uint8_t *tmp = NULL, *rgbx = NULL;
    int32_t *acc = NULL;
    size_t orow = (size_t)ow * channels;
    if (!kwh || !kwv) goto done;
    uint8_t *out = dst;
    if (grey && channels == 4) {
        out = rgbx = malloc(orow * (size_t)oh);
        if (!rgbx) goto done;
    }
    if (vertical_first) {
        size_t bytes = (size_t)width * pixel;
        tmp = malloc(bytes * (size_t)oh);
        acc = malloc(sizeof(int32_t) * bytes);
        if (!tmp || !acc) goto done;
        vpass(src, stride, bytes, oh, 0, bv, kv, kwv, acc, tmp, bytes);
        hpass(tmp, (Py_ssize_t)bytes, pixel, 0, oh, ow, bh, kh, kwh, out, channels);
    } else if (!need_v) {
        hpass(src, stride, pixel, 0, height, ow, bh, kh, kwh, out, channels);
    } else if (!need_h) {
        /* the vertical pass alone, on the pixels as they are (then to RGBX) */
        size_t bytes = (size_t)width * pixel;
        tmp = malloc(bytes * (size_t)oh);
        acc = malloc(sizeof(int32_t) * bytes);
        if (!tmp || !acc) goto done;
        vpass(src, stride, bytes, oh, 0, bv, kv, kwv, acc, tmp, bytes);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                const uint8_t *p = tmp + (size_t)y * bytes + (size_t)x * pixel;
                uint8_t *o = out + (size_t)y * orow + (size_t)x * channels;
                o[0] = p[0];
                if (channels == 4) o[1] = p[1], o[2] = p[2], o[3] = 0;
            }
    } else {
        int first = bv[0], last = bv[2 * (oh - 1)] + bv[2 * (oh - 1) + 1];
        tmp = malloc(orow * (size_t)(last - first > 0 ? last - first : 1));
        acc = malloc(sizeof(int32_t) * orow);
        if (!tmp || !acc) goto done;
        hpass(src, stride, pixel, first, last, ow, bh, kh, kwh, tmp, channels);
        vpass(tmp, (Py_ssize_t)orow, orow, oh, first, bv, kv, kwv, acc, out, orow);
    }
    if (rgbx != NULL)
        for (size_t i = 0; i < (size_t)ow * oh; i++) dst[i] = luma8(rgbx + 4 * i);
    ok = 1;
done:
    free(bh), free(bv), free(kh), free(kv), free(tmp), free(acc), free(rgbx);
    return ok;
}

/* Pillow's division_UINT32(divider, 8), in the same float arithmetic */
static uint32_t division(int divider) {
    uint32_t max_dividend = (uint32_t)(1 << 8) * (uint32_t)divider;
    float max_int = (1 << 30) * 4.0;
    return (uint32_t)(max_int / max_dividend);
}

/* The mean of the block of columns x0..x1-1 and rows y0..y1-1 of each channel, as Pillow's
 * ImagingReduce (and its corners) rounds it: ((sum + n / 2) * multiplier(n)) >> 24. */
static void block(const uint8_t *src, Py_ssize_t stride, int pixel, int x0, int x1, int y0,
                  int y1, uint8_t *out, int channels) {
    uint32_t n = (uint32_t)((x1 - x0) * (y1 - y0));
    uint32_t mult = division((int)n), amend = n / 2;
    uint32_t s0 = amend, s1 = amend, s2 = amend;
    for (int y = y0; y < y1; y++) {
        const uint8_t *p = src + (Py_ssize_t)y * stride + (Py_ssize_t)x0 * pixel;
        for (int x = x0; x < x1; x++, p += pixel) {
            s0 += p[0];
            if (pixel > 1) s1 += p[1], s2 += p[2];
        }
    }
    out[0] = (uint8_t)((s0 * mult) >> 24);
    if (channels == 4) {
        out[1] = (uint8_t)((s1 * mult) >> 24);
        out[2] = (uint8_t)((s2 * mult) >> 24);
        out[3] = 0;
    }
}

/* Image.reduce(n): output ceil(width / n) x ceil(height / n), RGBX (or grey) rows. */
static void reduce(const uint8_t *src, int width, int height, Py_ssize_t stride, int pixel,
                   int n, uint8_t *dst) {
    int ow = (width + n - 1) / n, oh = (height + n - 1) / n;
    int channels = pixel == 1 ? 1 : 4;
    uint32_t mult = division(n * n), amend = (uint32_t)(n * n / 2);
    for (int y = 0; y < oh; y++) {
        uint8_t *out = dst + (size_t)y * ow * channels;
        int y0 = y * n, y1 = y0 + n < height ? y0 + n : height;
        if (y1 - y0 < n || channels == 1) {
            for (int x = 0; x < ow; x++) {
                int x0 = x * n, x1 = x0 + n < width ? x0 + n : width;
                block(src, stride, pixel, x0, x1, y0, y1, out + (size_t)x * channels, channels);
            }
            continue;
        }
        int full = width / n;
        if (n == 2 && pixel == 4) {
            const uint8_t *restrict r0 = src + (Py_ssize_t)y0 * stride;
            const uint8_t *restrict r1 = r0 + stride;
            for (int x = 0; x < full; x++) {
                for (int c = 0; c < 3; c++)
                    out[4 * x + c] = (uint8_t)(((uint32_t)r0[8 * x + c] + r0[8 * x + 4 + c] +
                                                r1[8 * x + c] + r1[8 * x + 4 + c] + 2) >> 2);
                out[4 * x + 3] = 0;
            }
        } else
        for (int x = 0; x < full; x++) {
            v4si s = {(int32_t)amend, (int32_t)amend, (int32_t)amend, 0};
            for (int y = y0; y < y1; y++) {
                const uint8_t *p = src + (Py_ssize_t)y * stride + (Py_ssize_t)x * n * pixel;
                for (int i = 0; i < n; i++, p += pixel) s += load_px(p, pixel);
            }
            uint8_t *o = out + 4 * (size_t)x;
            o[0] = (uint8_t)(((uint32_t)s[0] * mult) >> 24);
            o[1] = (uint8_t)(((uint32_t)s[1] * mult) >> 24);
            o[2] = (uint8_t)(((uint32_t)s[2] * mult) >> 24);
            o[3] = 0;
        }
        if (full < ow) block(src, stride, pixel, full * n, width, y0, y1, out + 4 * (size_t)full, 4);
    }
}

static int check(Py_buffer *b, int width, int height, Py_ssize_t stride, int pixel) {
    if ((pixel != 1 && pixel != 3 && pixel != 4) || width <= 0 || height <= 0 ||
        stride < (Py_ssize_t)width * pixel ||
        (Py_ssize_t)(height - 1) * stride + (Py_ssize_t)width * pixel > b->len) {
        PyErr_SetString(PyExc_ValueError, "bad picture geometry");
        return 0;
    }
    return 1;
}

/* resize(buf, width, height, stride, pixel, out_width, out_height, grey) -> bytes */
static PyObject *py_resize(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width, height, pixel, ow, oh, grey;
    Py_ssize_t stride;
    if (!PyArg_ParseTuple(args, "y*iiniiip", &b, &width, &height, &stride, &pixel, &ow, &oh,
                          &grey))
        return NULL;
    PyObject *r = NULL;
    if (check(&b, width, height, stride, pixel)) {
        if (ow <= 0 || oh <= 0) {
            PyErr_SetString(PyExc_ValueError, "bad output size");
        } else {
            int out_pixel = pixel == 1 || grey ? 1 : 4;
            r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)ow * oh * out_pixel);
            if (r != NULL) {
                int ok;
                uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(r);
                Py_BEGIN_ALLOW_THREADS
                ok = resize(b.buf, width, height, stride, pixel, ow, oh, grey, dst);
                Py_END_ALLOW_THREADS
                if (!ok) {
                    Py_DECREF(r);
                    r = PyErr_NoMemory();
                }
            }
        }
    }
    PyBuffer_Release(&b);
    return r;
}

/* reduce(buf, width, height, stride, pixel, n) -> bytes */
static PyObject *py_reduce(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width, height, pixel, n;
    Py_ssize_t stride;
    if (!PyArg_ParseTuple(args, "y*iinii", &b, &width, &height, &stride, &pixel, &n))
        return NULL;
    PyObject *r = NULL;
    if (check(&b, width, height, stride, pixel)) {
        if (n < 2 || n > 2048) {
            PyErr_SetString(PyExc_ValueError, "bad reduction factor");
        } else {
            int ow = (width + n - 1) / n, oh = (height + n - 1) / n;
            r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)ow * oh * (pixel == 1 ? 1 : 4));
            if (r != NULL) {
                uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(r);
                Py_BEGIN_ALLOW_THREADS
                reduce(b.buf, width, height, stride, pixel, n, dst);
                Py_END_ALLOW_THREADS
            }
        }
    }
    PyBuffer_Release(&b);
    return r;
}

/* grey(buf, width, height, stride, pixel) -> bytes: Pillow's convert("L") of RGB(X) */
static PyObject *py_grey(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width, height, pixel;
    Py_ssize_t stride;
    if (!PyArg_ParseTuple(args, "y*iini", &b, &width, &height, &stride, &pixel)) return NULL;
    PyObject *r = NULL;
    if (check(&b, width, height, stride, pixel)) {
        if (pixel == 1) {
            PyErr_SetString(PyExc_ValueError, "already grey");
        } else {
            r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)width * height);
            if (r != NULL) {
                uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(r);
                const uint8_t *src = b.buf;
                Py_BEGIN_ALLOW_THREADS
                for (int y = 0; y < height; y++) {
                    const uint8_t *restrict p = src + (Py_ssize_t)y * stride;
                    uint8_t *restrict o = dst + (size_t)y * width;
                    if (pixel == 4)
                        for (int x = 0; x < width; x++) o[x] = luma8(p + 4 * x);
                    else
                        for (int x = 0; x < width; x++) o[x] = luma8(p + 3 * x);
                }
                Py_END_ALLOW_THREADS
            }
        }
    }
    PyBuffer_Release(&b);
    return r;
}

static PyMethodDef methods[] = {
    {"resize", py_resize, METH_VARARGS,
     "Pillow's BILINEAR resize: RGBX (or grey) bytes; with grey, a colour result as L."},
    {"reduce", py_reduce, METH_VARARGS, "Pillow's Image.reduce(n): RGBX (or grey) bytes."},
    {"grey", py_grey, METH_VARARGS, "Pillow's convert('L') of RGB(X) pixels."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_resample",
                                    "Reduced copies, pixel for pixel as Pillow's.", -1, methods};

PyMODINIT_FUNC PyInit__resample(void) { return PyModule_Create(&module); }
