/*
 * Multi-index hashing kernel for exact Hamming radius search over 256-bit hashes.
 *
 * The 256 bits are split into M = 11 chunks (3 of 24 bits, 8 of 23 bits). By the
 * generalised pigeonhole principle, if popcount(q ^ x) <= r then for per-chunk radii t_i
 * with sum(t_i + 1) >= r + 1, some chunk i has popcount(q_i ^ x_i) <= t_i. Each chunk has a
 * table of all rows sorted by the chunk's high bits ("prefix"); each entry packs the
 * chunk's LOW_BITS low bits with the row number. A query enumerates the prefixes within t_i
 * flips of its own, scans those buckets, keeps entries whose low bits fit the remaining
 * budget, and verifies each candidate against the full hash (4 popcounts).
 *
 * Memory: 4 bytes per row per chunk (44 bytes/row) plus 2^19 or 2^18 offsets per chunk.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define M 11
#define LOW_BITS 5
#define ROW_BITS 27
#define ROW_MASK ((1u << ROW_BITS) - 1u)
#define MAX_ROWS (1u << ROW_BITS)

static const int WIDTH[M] = {24, 24, 24, 23, 23, 23, 23, 23, 23, 23, 23};

static int chunk_start(int i) {
    int s = 0;
    for (int k = 0; k < i; k++) s += WIDTH[k];
    return s;
}

static size_t offsets_base(int i) {
    size_t base = 0;
    for (int k = 0; k < i; k++) base += ((size_t)1 << (WIDTH[k] - LOW_BITS)) + 1;
    return base;
}

static size_t offsets_total(void) { return offsets_base(M); }

/* Bits [start, start+width) of a 32-byte hash, bit 0 being the MSB of byte 0. */
static inline uint32_t chunk_key(const uint8_t *h, int start, int width) {
    int byte = start >> 3, shift = start & 7;
    uint64_t v = 0;
    for (int k = 0; k < 5 && byte + k < 32; k++) v |= (uint64_t)h[byte + k] << (32 - 8 * k);
    /* v holds 40 bits starting at byte: bits 39..0 */
    v >>= (40 - shift - width);
    return (uint32_t)(v & ((1ull << width) - 1));
}

static inline int dist256(const uint64_t *a, const uint64_t *b) {
    return __builtin_popcountll(a[0] ^ b[0]) + __builtin_popcountll(a[1] ^ b[1]) +
           __builtin_popcountll(a[2] ^ b[2]) + __builtin_popcountll(a[3] ^ b[3]);
}

/* ---- growable result buffers ---- */
typedef struct {
    uint32_t *rows;
    int32_t *dists;
    size_t len, cap;
} results_t;

static int results_push(results_t *r, uint32_t row, int32_t d) {
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        uint32_t *nr = realloc(r->rows, cap * sizeof(uint32_t));
        if (!nr) return -1;
        r->rows = nr;
        int32_t *nd = realloc(r->dists, cap * sizeof(int32_t));
        if (!nd) return -1;
        r->dists = nd;
        r->cap = cap;
    }
    r->rows[r->len] = row;
    r->dists[r->len] = d;
    r->len++;
    return 0;
}

static int cmp_row(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sort one query's results by row and drop duplicates (a row found through several chunks). */
static size_t dedupe(results_t *r, size_t from) {
    size_t n = r->len - from;
    if (n < 2) return n;
    uint64_t *tmp = malloc(n * sizeof(uint64_t));
    if (!tmp) return n;
    for (size_t i = 0; i < n; i++)
        tmp[i] = ((uint64_t)r->rows[from + i] << 8) | (uint32_t)r->dists[from + i];
    qsort(tmp, n, sizeof(uint64_t), cmp_row);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && (tmp[i] >> 8) == (tmp[w - 1] >> 8)) continue;
        tmp[w++] = tmp[i];
    }
    for (size_t i = 0; i < w; i++) {
        r->rows[from + i] = (uint32_t)(tmp[i] >> 8);
        r->dists[from + i] = (int32_t)(tmp[i] & 0xff);
    }
    free(tmp);
    r->len = from + w;
    return w;
}

static inline int is_dead(const uint8_t *tomb, Py_ssize_t tomb_len, uint32_t row) {
    Py_ssize_t byte = row >> 3;
    return byte < tomb_len && (tomb[byte] >> (row & 7)) & 1;
}

/* ---- build ---- */
static PyObject *py_build(PyObject *self, PyObject *args) {
    Py_buffer hb;
    if (!PyArg_ParseTuple(args, "y*", &hb)) return NULL;
    if (hb.len % 32) {
        PyBuffer_Release(&hb);
        PyErr_SetString(PyExc_ValueError, "hash buffer length must be a multiple of 32");
        return NULL;
    }
    size_t n = (size_t)hb.len / 32;
    if (n >= MAX_ROWS) {
        PyBuffer_Release(&hb);
        PyErr_SetString(PyExc_ValueError, "too many rows for one segment (2^27 max)");
        return NULL;
    }
    const uint8_t *hashes = hb.buf;
    PyObject *entries = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * M * sizeof(uint32_t)));
    PyObject *offsets =
        PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(offsets_total() * sizeof(uint32_t)));
    uint32_t *keys = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!entries || !offsets || !keys) {
        Py_XDECREF(entries);
        Py_XDECREF(offsets);
        free(keys);
        PyBuffer_Release(&hb);
        return PyErr_NoMemory();
    }
    uint32_t *ent = (uint32_t *)PyBytes_AS_STRING(entries);
    uint32_t *off = (uint32_t *)PyBytes_AS_STRING(offsets);
    Py_BEGIN_ALLOW_THREADS
    for (int c = 0; c < M; c++) {
        int start = chunk_start(c), width = WIDTH[c], pbits = width - LOW_BITS;
        size_t nb = (size_t)1 << pbits;
        uint32_t *o = off + offsets_base(c);
        uint32_t *e = ent + (size_t)c * n;
        memset(o, 0, (nb + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < n; i++) {
            keys[i] = chunk_key(hashes + 32 * i, start, width);
            o[(keys[i] >> LOW_BITS) + 1]++;
        }
        for (size_t b = 0; b < nb; b++) o[b + 1] += o[b];
        /* counting sort, stable: rows stay in ascending order inside a bucket */
        for (size_t i = 0; i < n; i++) {
            uint32_t p = keys[i] >> LOW_BITS;
            uint32_t low = keys[i] & ((1u << LOW_BITS) - 1u);
            e[o[p]++] = (low << ROW_BITS) | (uint32_t)i;
        }
        for (size_t b = nb; b > 0; b--) o[b] = o[b - 1];
        o[0] = 0;
    }
    Py_END_ALLOW_THREADS
    free(keys);
    PyBuffer_Release(&hb);
    return Py_BuildValue("(NN)", entries, offsets);
}

/* ---- search ---- */
typedef struct {
    const uint64_t *hashes;
    const uint32_t *ent;  /* this chunk's entries */
    const uint32_t *off;  /* this chunk's offsets */
    const uint8_t *tomb;
    Py_ssize_t tomb_len;
    const uint64_t *q;
    uint32_t qlow;
    int radius;
    int t;
    results_t *res;
    int failed;
} probe_ctx;

static void scan_bucket(probe_ctx *cx, uint32_t prefix, int used) {
    uint32_t lo = cx->off[prefix], hi = cx->off[prefix + 1];
    int budget = cx->t - used;
    for (uint32_t k = lo; k < hi; k++) {
        uint32_t e = cx->ent[k];
        if (__builtin_popcount((e >> ROW_BITS) ^ cx->qlow) > budget) continue;
        uint32_t row = e & ROW_MASK;
        int d = dist256(cx->q, cx->hashes + 4 * (size_t)row);
        if (d <= cx->radius && !is_dead(cx->tomb, cx->tomb_len, row)) {
            if (results_push(cx->res, row, d)) cx->failed = 1;
        }
    }
}

/* All prefixes within `left` more flips of p, flipping only bits below `below`. */
static void enumerate(probe_ctx *cx, uint32_t p, int below, int used) {
    scan_bucket(cx, p, used);
    if (used == cx->t) return;
    for (int b = below - 1; b >= 0; b--) enumerate(cx, p ^ (1u << b), b, used + 1);
}

static PyObject *pack_results(results_t *res, uint32_t *counts, Py_ssize_t nq) {
    PyObject *c = PyBytes_FromStringAndSize((const char *)counts, nq * (Py_ssize_t)sizeof(uint32_t));
    PyObject *r = PyBytes_FromStringAndSize((const char *)res->rows,
                                            (Py_ssize_t)(res->len * sizeof(uint32_t)));
    PyObject *d = PyBytes_FromStringAndSize((const char *)res->dists,
                                            (Py_ssize_t)(res->len * sizeof(int32_t)));
    free(res->rows);
    free(res->dists);
    free(counts);
    if (!c || !r || !d) {
        Py_XDECREF(c);
        Py_XDECREF(r);
        Py_XDECREF(d);
        return NULL;
    }
    return Py_BuildValue("(NNN)", c, r, d);
}

static PyObject *py_search(PyObject *self, PyObject *args) {
    Py_buffer hb, eb, ob, tb, qb;
    int radius;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*i", &hb, &eb, &ob, &tb, &qb, &radius)) return NULL;
    size_t n = (size_t)hb.len / 32;
    Py_ssize_t nq = qb.len / 32;
    int ok = hb.len % 32 == 0 && qb.len % 32 == 0 && radius >= 0 && radius <= 256 &&
             (size_t)eb.len == n * M * sizeof(uint32_t) &&
             (size_t)ob.len == offsets_total() * sizeof(uint32_t);
    if (!ok) {
        PyBuffer_Release(&hb); PyBuffer_Release(&eb); PyBuffer_Release(&ob);
        PyBuffer_Release(&tb); PyBuffer_Release(&qb);
        PyErr_SetString(PyExc_ValueError, "inconsistent index buffers or radius");
        return NULL;
    }
    /* per-chunk radii: sum over used chunks of (t_i + 1) = radius + 1 */
    int t[M], used_chunks;
    if (radius + 1 <= M) {
        used_chunks = radius + 1;
        for (int c = 0; c < M; c++) t[c] = 0;
    } else {
        used_chunks = M;
        int base = (radius + 1) / M - 1, extra = (radius + 1) % M;
        for (int c = 0; c < M; c++) t[c] = base + (c >= M - extra ? 1 : 0);
    }
    results_t res = {0};
    uint32_t *counts = calloc(nq ? nq : 1, sizeof(uint32_t));
    int failed = counts == NULL;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t qi = 0; qi < nq && !failed; qi++) {
        const uint8_t *qbytes = (const uint8_t *)qb.buf + 32 * qi;
        uint64_t q[4];
        memcpy(q, qbytes, 32);
        size_t from = res.len;
        for (int c = 0; c < used_chunks && !failed; c++) {
            uint32_t key = chunk_key(qbytes, chunk_start(c), WIDTH[c]);
            probe_ctx cx = {
                .hashes = hb.buf, .ent = (const uint32_t *)eb.buf + (size_t)c * n,
                .off = (const uint32_t *)ob.buf + offsets_base(c), .tomb = tb.buf,
                .tomb_len = tb.len, .q = q, .qlow = key & ((1u << LOW_BITS) - 1u),
                .radius = radius, .t = t[c], .res = &res, .failed = 0,
            };
            int pbits = WIDTH[c] - LOW_BITS;
            if (n) enumerate(&cx, key >> LOW_BITS, pbits, 0);
            failed |= cx.failed;
        }
        counts[qi] = (uint32_t)dedupe(&res, from);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&hb); PyBuffer_Release(&eb); PyBuffer_Release(&ob);
    PyBuffer_Release(&tb); PyBuffer_Release(&qb);
    if (failed) {
        free(res.rows); free(res.dists); free(counts);
        return PyErr_NoMemory();
    }
    return pack_results(&res, counts, nq);
}

/* Linear scan, for small segments and very large radii. */
static PyObject *py_brute(PyObject *self, PyObject *args) {
    Py_buffer hb, tb, qb;
    int radius;
    if (!PyArg_ParseTuple(args, "y*y*y*i", &hb, &tb, &qb, &radius)) return NULL;
    if (hb.len % 32 || qb.len % 32 || radius < 0) {
        PyBuffer_Release(&hb); PyBuffer_Release(&tb); PyBuffer_Release(&qb);
        PyErr_SetString(PyExc_ValueError, "buffers must be multiples of 32 bytes");
        return NULL;
    }
    size_t n = (size_t)hb.len / 32;
    Py_ssize_t nq = qb.len / 32;
    results_t res = {0};
    uint32_t *counts = calloc(nq ? nq : 1, sizeof(uint32_t));
    int failed = counts == NULL;
    const uint64_t *h = hb.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t qi = 0; qi < nq && !failed; qi++) {
        uint64_t q[4];
        memcpy(q, (const uint8_t *)qb.buf + 32 * qi, 32);
        size_t from = res.len;
        for (size_t i = 0; i < n; i++) {
            int d = dist256(q, h + 4 * i);
            if (d <= radius && !is_dead(tb.buf, tb.len, (uint32_t)i))
                if (results_push(&res, (uint32_t)i, d)) { failed = 1; break; }
        }
        counts[qi] = (uint32_t)(res.len - from);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&hb); PyBuffer_Release(&tb); PyBuffer_Release(&qb);
    if (failed) {
        free(res.rows); free(res.dists); free(counts);
        return PyErr_NoMemory();
    }
    return pack_results(&res, counts, nq);
}

static PyMethodDef methods[] = {
    {"build", py_build, METH_VARARGS, "build(hashes) -> (entries, offsets)"},
    {"search", py_search, METH_VARARGS,
     "search(hashes, entries, offsets, tombstones, queries, radius) -> (counts, rows, dists)"},
    {"brute", py_brute, METH_VARARGS,
     "brute(hashes, tombstones, queries, radius) -> (counts, rows, dists)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mih",
                                    "Multi-index hashing kernel", -1, methods};

PyMODINIT_FUNC PyInit__mih(void) {
    PyObject *m = PyModule_Create(&module);
    if (m) {
        PyModule_AddIntConstant(m, "CHUNKS", M);
        PyModule_AddIntConstant(m, "MAX_ROWS", MAX_ROWS);
    }
    return m;
}
