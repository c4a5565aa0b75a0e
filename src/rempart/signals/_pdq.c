/*
 * PDQ (Meta's perceptual image hash) in one streaming pass, bit for bit as Meta's reference
 * computes it (pdqhash, python-threatexchange): same luma, same Jarosz tent filter (two
 * passes of box filters along rows and columns, running float sums), same decimation to
 * 64x64, quality metric, 16x16 DCT, median and bit order. Only the order in which
 * independent values are computed differs, never the arithmetic of one value, so the
 * results are identical (tests/signals/test_pdq_kernel.py checks it against pdqhash).
 *
 * Why it is faster than the reference binding on the same pixels:
 * - luma is computed row by row from the picture's own bytes (RGB or RGBX rows, any
 *   stride), inside the first filter pass: no float64 temporaries, no full-size copy;
 * - the column passes run across all columns at once, row after row (the reference walks
 *   each column down the whole picture, one cache miss per pixel);
 * - the filter streams: the first pass keeps only the rows its column window needs, and
 *   the second pass only computes the 64 columns and 64 rows that decimation keeps. Memory
 *   is a few rows, not two full-size float buffers;
 * - a region of a picture is hashed where it lies (a rectangle of a shared buffer), so the
 *   many small hashes of the robust stage share one luma conversion.
 *
 * Compiled with -ffp-contract=off: a fused multiply-add would round differently.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OUT 64
#define MIN_DIM 5 /* Meta's MIN_HASHABLE_DIM: smaller pictures hash to zero, quality 0 */

static float DCT[16][64], DCT_T[64][16];
static double LUMA_R[256], LUMA_G[256], LUMA_B[256];

static void init_tables(void) {
    for (int v = 0; v < 256; v++) {
        LUMA_R[v] = (double)v * 0.299;
        LUMA_G[v] = (double)v * 0.587;
        LUMA_B[v] = (double)v * 0.114;
    }
    const double pi = 3.14159265358979323846;
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++)
            DCT[i][j] = (float)(scale * cos((pi / 2.0 / 64.0) * (double)(i + 1) * (double)(2 * j + 1)));
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++) DCT_T[j][i] = DCT[i][j];
}

static int window(int old_dim) { return (old_dim + 2 * OUT - 1) / (2 * OUT); }

/* Box filters along G lines at once (as Meta's box1DFloat on each, stride 1): the running
 * sums of G independent lines are interleaved, so they do not wait on one another. */
#define G 8
static void box_lines(const float *const *in, float *const *out, int g, int n, int w) {
    int half = (w + 2) / 2;
    int p1 = half - 1, p2 = w - half + 1, p3 = n - w, p4 = half - 1;
    int li = 0, ri = 0, oi = 0, cws = 0;
    float sum[G] = {0};
    for (int i = 0; i < p1; i++, ri++) {
        for (int k = 0; k < g; k++) sum[k] += in[k][ri];
        cws++;
    }
    for (int i = 0; i < p2; i++, ri++, oi++) {
        cws++;
        float f = (float)cws;
        for (int k = 0; k < g; k++) {
            sum[k] += in[k][ri];
            out[k][oi] = sum[k] / f;
        }
    }
    float f = (float)cws;
    for (int i = 0; i < p3; i++, ri++, li++, oi++) {
        for (int k = 0; k < g; k++) {
            sum[k] += in[k][ri];
            sum[k] -= in[k][li];
            out[k][oi] = sum[k] / f;
        }
    }
    for (int i = 0; i < p4; i++, li++, oi++) {
        cws--;
        float f4 = (float)cws;
        for (int k = 0; k < g; k++) {
            sum[k] -= in[k][li];
            out[k][oi] = sum[k] / f4;
        }
    }
}

/* Where the picture's pixels come from: bytes (RGB/RGBX, or one grey byte a pixel) or
 * float luma, a rectangle of rows x cols at (x0, y0) in a buffer of `stride` units a row. */
typedef struct {
    const uint8_t *bytes;
    const float *luma;
    Py_ssize_t stride; /* bytes (or floats) from one row to the next */
    int pixel;         /* bytes per pixel: 3, 4 or 1 (grey); 0 for float luma */
    int x0, y0, rows, cols;
} source_t;

static void luma_row(const source_t *s, int r, float *dst) {
    int cols = s->cols;
    if (s->luma != NULL) {
        memcpy(dst, s->luma + (Py_ssize_t)(s->y0 + r) * s->stride + s->x0, sizeof(float) * cols);
        return;
    }
    const uint8_t *p = s->bytes + (Py_ssize_t)(s->y0 + r) * s->stride + (Py_ssize_t)s->x0 * s->pixel;
    if (s->pixel == 1) {
        for (int j = 0; j < cols; j++) dst[j] = (float)p[j];
        return;
    }
    /* the reference binding: R*0.299 + G*0.587 + B*0.114 in double, then float; the
     * products come from tables of the very same doubles */
    int px = s->pixel;
    for (int j = 0; j < cols; j++) {
        const uint8_t *q = p + (Py_ssize_t)j * px;
        dst[j] = (float)(LUMA_R[q[0]] + LUMA_G[q[1]] + LUMA_B[q[2]]);
    }
}

typedef struct {
    const source_t *src;
    int cols, w;     /* row length, and the window along rows */
    Py_ssize_t pitch; /* floats from one row of the buffers to the next */
    float *ring;     /* the first pass along rows: the rows the column window still needs */
    int ring_rows;
    float *tmp;      /* G rows of luma */
    int next;        /* the next row to produce */
} rows_t;

static const float *first_pass_row(rows_t *rs, int r) {
    if (r >= rs->next) { /* the next G rows at once */
        int g = rs->src->rows - rs->next < G ? rs->src->rows - rs->next : G;
        const float *in[G];
        float *out[G];
        for (int k = 0; k < g; k++) {
            float *t = rs->tmp + (Py_ssize_t)k * rs->pitch;
            luma_row(rs->src, rs->next + k, t);
            in[k] = t;
            out[k] = rs->ring + (Py_ssize_t)((rs->next + k) % rs->ring_rows) * rs->pitch;
        }
        box_lines(in, out, g, rs->cols, rs->w);
        rs->next += g;
    }
    return rs->ring + (Py_ssize_t)(r % rs->ring_rows) * rs->pitch;
}

/* The second pass along rows of g rows of the first column pass; the 64 kept columns of
 * each go to `compact`. */
static void flush(float *col, float *row2, int g, int cols, Py_ssize_t pitch, int wr,
                  float *compact, const int *inj) {
    const float *in[G];
    float *out[G];
    for (int k = 0; k < g; k++) {
        in[k] = col + (Py_ssize_t)k * pitch;
        out[k] = row2 + (Py_ssize_t)k * pitch;
    }
    box_lines(in, out, g, cols, wr);
    for (int k = 0; k < g; k++)
        for (int c = 0; c < OUT; c++) compact[k * OUT + c] = out[k][inj[c]];
}

/* The 64x64 decimated Jarosz-filtered picture. Returns 0 on allocation failure. */
static int downsample(const source_t *s, float out64[64][64]) {
    int rows = s->rows, cols = s->cols;
    int wr = window(cols), wc = window(rows);
    int half = (wc + 2) / 2;
    int p1 = half - 1, p2 = wc - half + 1, p3 = rows - wc, p4 = half - 1;
    int inj[OUT], ini[OUT];
    for (int k = 0; k < OUT; k++) {
        inj[k] = (int)(((k + 0.5) * cols) / OUT);
        ini[k] = (int)(((k + 0.5) * rows) / OUT);
    }
    size_t ncols = (size_t)cols;
    /* rows li..r are needed while rows up to r + G - 1 are produced */
    int ring_rows = wc + G + 1;
    /* rows of the buffers an odd number of cache lines apart (modulo 4 KB): G rows read
     * at once would otherwise fall in one cache set when a row is a multiple of 4 KB */
    Py_ssize_t pitch = (Py_ssize_t)((cols + 31) / 32 * 32 + 16);
    size_t np = (size_t)pitch;
    float *ring = malloc(sizeof(float) * np * (size_t)ring_rows);
    float *tmp = malloc(sizeof(float) * np * G);
    float *sum = malloc(sizeof(float) * ncols);
    float *col = malloc(sizeof(float) * np * G);  /* G rows of the first column pass */
    float *row2 = malloc(sizeof(float) * np * G); /* ... after the second row pass */
    float *compact = malloc(sizeof(float) * OUT * (size_t)rows); /* kept columns, all rows */
    if (!ring || !tmp || !sum || !col || !row2 || !compact) {
        free(ring), free(tmp), free(sum), free(col), free(row2), free(compact);
        return 0;
    }
    rows_t rs = {s, cols, wr, pitch, ring, ring_rows, tmp, 0};
    int pending = 0; /* rows of `col` waiting for the second pass along rows */
    /* first pass along columns, row by row across all columns; each finished row goes
     * through the second pass along rows, of which the decimation keeps 64 columns */
    memset(sum, 0, sizeof(float) * ncols);
    int li = 0, ri = 0, oi = 0, cws = 0;
#define EMIT()                                                                   \
    do {                                                                         \
        if (++pending == G) {                                                    \
            flush(col, row2, pending, cols, pitch, wr, compact + (Py_ssize_t)oi * OUT, inj); \
            oi += pending;                                                       \
            pending = 0;                                                         \
        }                                                                        \
    } while (0)
    for (int i = 0; i < p1; i++) {
        const float *a = first_pass_row(&rs, ri++);
        for (int j = 0; j < cols; j++) sum[j] += a[j];
        cws++;
    }
    for (int i = 0; i < p2; i++) {
        const float *a = first_pass_row(&rs, ri++);
        float *cur = col + (Py_ssize_t)pending * pitch;
        cws++;
        float f = (float)cws;
        for (int j = 0; j < cols; j++) {
            sum[j] += a[j];
            cur[j] = sum[j] / f;
        }
        EMIT();
    }
    for (int i = 0; i < p3; i++) {
        const float *a = first_pass_row(&rs, ri++);
        const float *b = rs.ring + (Py_ssize_t)(li++ % rs.ring_rows) * pitch;
        float *cur = col + (Py_ssize_t)pending * pitch;
        float f = (float)cws;
        for (int j = 0; j < cols; j++) {
            sum[j] += a[j];
            sum[j] -= b[j];
            cur[j] = sum[j] / f;
        }
        EMIT();
    }
    for (int i = 0; i < p4; i++) {
        const float *b = rs.ring + (Py_ssize_t)(li++ % rs.ring_rows) * pitch;
        float *cur = col + (Py_ssize_t)pending * pitch;
        cws--;
        float f = (float)cws;
        for (int j = 0; j < cols; j++) {
            sum[j] -= b[j];
            cur[j] = sum[j] / f;
        }
        EMIT();
    }
#undef EMIT
    if (pending) {
        flush(col, row2, pending, cols, pitch, wr, compact + (Py_ssize_t)oi * OUT, inj);
        oi += pending;
    }
    /* second pass along columns, on the 64 kept columns; the decimation keeps 64 rows */
    float s2[OUT], v[OUT];
    memset(s2, 0, sizeof(s2));
    int next_out = 0;
    li = ri = oi = cws = 0;
#define KEEP()                                                                   \
    do {                                                                         \
        while (next_out < OUT && ini[next_out] == oi) {                          \
            memcpy(out64[next_out], v, sizeof(v));                               \
            next_out++;                                                          \
        }                                                                        \
        oi++;                                                                    \
    } while (0)
    for (int i = 0; i < p1; i++) {
        const float *a = compact + (Py_ssize_t)(ri++) * OUT;
        for (int k = 0; k < OUT; k++) s2[k] += a[k];
        cws++;
    }
    for (int i = 0; i < p2; i++) {
        const float *a = compact + (Py_ssize_t)(ri++) * OUT;
        cws++;
        float f = (float)cws;
        for (int k = 0; k < OUT; k++) {
            s2[k] += a[k];
            v[k] = s2[k] / f;
        }
        KEEP();
    }
    for (int i = 0; i < p3; i++) {
        const float *a = compact + (Py_ssize_t)(ri++) * OUT;
        const float *b = compact + (Py_ssize_t)(li++) * OUT;
        float f = (float)cws;
        for (int k = 0; k < OUT; k++) {
            s2[k] += a[k];
            s2[k] -= b[k];
            v[k] = s2[k] / f;
        }
        KEEP();
    }
    for (int i = 0; i < p4; i++) {
        const float *b = compact + (Py_ssize_t)(li++) * OUT;
        cws--;
        float f = (float)cws;
        for (int k = 0; k < OUT; k++) {
            s2[k] -= b[k];
            v[k] = s2[k] / f;
        }
        KEEP();
    }
#undef KEEP
    free(ring), free(tmp), free(sum), free(col), free(row2), free(compact);
    return 1;
}

static int quality_of(float a[64][64]) {
    int g = 0;
    for (int i = 0; i < 63; i++)
        for (int j = 0; j < 64; j++) {
            int d = (int)(((a[i][j] - a[i + 1][j]) * 100) / 255);
            g += abs(d);
        }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 63; j++) {
            int d = (int)(((a[i][j] - a[i][j + 1]) * 100) / 255);
            g += abs(d);
        }
    int q = g / 90;
    return q > 100 ? 100 : q;
}

/* B = D A Dt. Each output is the same sum as Meta's, in the same order (k ascending,
 * product then add); the loops run across outputs (j innermost) so that the independent
 * sums advance together instead of one long chain at a time. */
static void dct(float a[64][64], float b[16][16]) {
    float t[16][64];
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 64; j++) t[i][j] = 0.0f;
        for (int k = 0; k < 64; k++) {
            float d = DCT[i][k];
            for (int j = 0; j < 64; j++) t[i][j] += d * a[k][j];
        }
    }
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) b[i][j] = 0.0f;
        for (int k = 0; k < 64; k++) {
            float v = t[i][k];
            for (int j = 0; j < 16; j++) b[i][j] += v * DCT_T[k][j];
        }
    }
}

/* The 128th smallest of 256 values (what Meta's torben returns for 256), by selection. */
static float median256(const float *values) {
    float v[256];
    memcpy(v, values, sizeof(v));
    int lo = 0, hi = 255, k = 127;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float x = v[i];
                v[i] = v[j], v[j] = x;
                i++, j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return v[k];
}

/* Bits over the median, written as Meta's hex: bit i*16+j of the 256-bit number, most
 * significant byte first. */
static void to_bits(float b[16][16], float median, uint8_t out[32]) {
    memset(out, 0, 32);
    for (int k = 0; k < 256; k++)
        if (b[k >> 4][k & 15] > median) out[31 - (k >> 3)] |= (uint8_t)(1u << (k & 7));
}

/* The 8 rotations/flips from the one DCT, in Meta's order: original, rotate90, rotate180,
 * rotate270, flip x, flip y, flip +1, flip -1 (signs and transposes of the DCT). */
static void dihedral(float a[16][16], int which, float out[16][16]) {
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float v = a[i][j];
            switch (which) {
            case 0: out[i][j] = v; break;
            case 1: out[j][i] = (j & 1) ? v : -v; break;
            case 2: out[i][j] = ((i + j) & 1) ? -v : v; break;
            case 3: out[j][i] = (i & 1) ? v : -v; break;
            case 4: out[i][j] = (i & 1) ? v : -v; break;
            case 5: out[i][j] = (j & 1) ? v : -v; break;
            case 6: out[j][i] = v; break;
            default: out[j][i] = ((i + j) & 1) ? -v : v; break;
            }
        }
}

/* Hash one source: `n` (1 or 8) hashes of 32 bytes into `out`, and the quality. */
static int hash_source(const source_t *s, int n, uint8_t *out, int *quality) {
    memset(out, 0, (size_t)32 * n);
    *quality = 0;
    if (s->rows < MIN_DIM || s->cols < MIN_DIM) return 1;
    float a[64][64], b[16][16], c[16][16];
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = downsample(s, a);
    if (ok) {
        *quality = quality_of(a);
        dct(a, b);
        /* the 8 are the same values under 4 sign patterns (a transpose keeps them):
         * original and flip +1, rotate90 and flip y, rotate180 and flip -1, rotate270
         * and flip x share a median */
        static const int SAME[8] = {0, 1, 2, 3, 3, 1, 0, 2};
        float medians[4];
        for (int k = 0; k < n; k++) {
            dihedral(b, k, c);
            if (k < 4) medians[k] = median256(&c[0][0]);
            to_bits(c, medians[SAME[k]], out + 32 * k);
        }
    }
    Py_END_ALLOW_THREADS
    return ok;
}

static PyObject *result(const source_t *s, int n) {
    uint8_t out[32 * 8];
    int quality;
    if (!hash_source(s, n, out, &quality)) return PyErr_NoMemory();
    return Py_BuildValue("(y#i)", (const char *)out, (Py_ssize_t)32 * n, quality);
}

static int check_rect(Py_ssize_t len, Py_ssize_t stride, int unit, int x0, int y0, int x1,
                      int y1) {
    if (x0 < 0 || y0 < 0 || x1 <= x0 || y1 <= y0 || stride < (Py_ssize_t)x1 * unit ||
        (Py_ssize_t)(y1 - 1) * stride + (Py_ssize_t)x1 * unit > len) {
        PyErr_SetString(PyExc_ValueError, "rectangle outside the buffer");
        return 0;
    }
    return 1;
}

/* hash_pixels(buf, width, height, stride, pixel, x0, y0, x1, y1, dihedral) */
static PyObject *hash_pixels(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width, height, pixel, x0, y0, x1, y1, dih;
    Py_ssize_t stride;
    if (!PyArg_ParseTuple(args, "y*iiniiiiip", &b, &width, &height, &stride, &pixel, &x0,
                          &y0, &x1, &y1, &dih))
        return NULL;
    PyObject *r = NULL;
    if (pixel != 1 && pixel != 3 && pixel != 4) {
        PyErr_SetString(PyExc_ValueError, "pixel must be 1, 3 or 4 bytes");
    } else if (x1 <= width && y1 <= height &&
               check_rect(b.len, stride, pixel, x0, y0, x1, y1)) {
        source_t s = {b.buf, NULL, stride, pixel, x0, y0, y1 - y0, x1 - x0};
        r = result(&s, dih ? 8 : 1);
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "rectangle outside the picture");
    }
    PyBuffer_Release(&b);
    return r;
}

/* hash_luma(buf float32, width, height, x0, y0, x1, y1, dihedral) */
static PyObject *hash_luma(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width, height, x0, y0, x1, y1, dih;
    if (!PyArg_ParseTuple(args, "y*iiiiiip", &b, &width, &height, &x0, &y0, &x1, &y1, &dih))
        return NULL;
    PyObject *r = NULL;
    if (x1 <= width && y1 <= height &&
        (Py_ssize_t)width * height * (Py_ssize_t)sizeof(float) <= b.len &&
        check_rect(b.len, (Py_ssize_t)width * sizeof(float), sizeof(float), x0, y0, x1, y1)) {
        source_t s = {NULL, b.buf, width, 0, x0, y0, y1 - y0, x1 - x0};
        r = result(&s, dih ? 8 : 1);
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "rectangle outside the picture");
    }
    PyBuffer_Release(&b);
    return r;
}

/* luma(buf, width, height, stride, pixel) -> bytes of width*height float32, row-major */
static PyObject *luma(PyObject *self, PyObject *args) {
    Py_buffer b;
    int width, height, pixel;
    Py_ssize_t stride;
    if (!PyArg_ParseTuple(args, "y*iini", &b, &width, &height, &stride, &pixel)) return NULL;
    PyObject *r = NULL;
    if ((pixel == 1 || pixel == 3 || pixel == 4) && width > 0 && height > 0 &&
        check_rect(b.len, stride, pixel, 0, 0, width, height)) {
        r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)width * height * sizeof(float));
        if (r != NULL) {
            float *dst = (float *)PyBytes_AS_STRING(r);
            source_t s = {b.buf, NULL, stride, pixel, 0, 0, height, width};
            Py_BEGIN_ALLOW_THREADS
            for (int i = 0; i < height; i++) luma_row(&s, i, dst + (Py_ssize_t)i * width);
            Py_END_ALLOW_THREADS
        }
    } else if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "bad picture geometry");
    }
    PyBuffer_Release(&b);
    return r;
}

static PyMethodDef methods[] = {
    {"hash_pixels", hash_pixels, METH_VARARGS,
     "PDQ of a rectangle of 8-bit pixels: (32 or 8*32 bytes, quality)."},
    {"hash_luma", hash_luma, METH_VARARGS,
     "PDQ of a rectangle of a float32 luma buffer: (32 or 8*32 bytes, quality)."},
    {"luma", luma, METH_VARARGS, "Meta's float luma of 8-bit pixels, as float32 bytes."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pdq",
                                    "PDQ, bit-exact with Meta's reference, streamed.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__pdq(void) {
    init_tables();
    return PyModule_Create(&module);
}
