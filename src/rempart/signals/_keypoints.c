/*
 * Keypoint pairs for local-feature verification (signals/local_features.py), in C: the
 * Hamming distances of every query descriptor to every stored one (ORB, 256 bits, four
 * popcounts each), the best two of each query descriptor and the best query descriptor of
 * each stored one in the same pass, then mutual best, close and Lowe's ratio test. OpenCV's
 * brute-force matcher gave the same pairs through two matchings and a Python loop over
 * its match objects, at eight times the cost (tests/signals/test_local_features.py
 * compares them).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline int32_t dist256(const uint64_t *a, const uint64_t *b) {
    return __builtin_popcountll(a[0] ^ b[0]) + __builtin_popcountll(a[1] ^ b[1]) +
           __builtin_popcountll(a[2] ^ b[2]) + __builtin_popcountll(a[3] ^ b[3]);
}

/* Query and stored descriptors (32 bytes each)
 * that are mutual best matches (the first on ties, as OpenCV's brute-force matcher), within
 * max_distance bits, and pass Lowe's ratio test (best < ratio * second best). */
static PyObject *py_pairs(PyObject *self, PyObject *args) {
    Py_buffer qb, sb;
    int max_distance;
    double ratio;
    if (!PyArg_ParseTuple(args, "y*y*id", &qb, &sb, &max_distance, &ratio)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t nq = qb.len / 32, ns = sb.len / 32;
    if (qb.len % 32 || sb.len % 32 || nq < 2 || ns < 2) {
        PyErr_SetString(PyExc_ValueError, "at least two descriptors of 32 bytes a side");
        goto done;
    }
    int32_t *best = malloc(sizeof(int32_t) * 2 * nq);    /* (index, distance) a query */
    int32_t *second = malloc(sizeof(int32_t) * nq);
    int32_t *back = malloc(sizeof(int32_t) * 2 * ns);    /* (index, distance) a stored */
    int32_t *found = malloc(sizeof(int32_t) * 2 * nq);
    if (!best || !second || !back || !found) {
        free(best); free(second); free(back); free(found);
        out = PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t k = 0;
    Py_BEGIN_ALLOW_THREADS
    const uint64_t *q = qb.buf, *s = sb.buf;
    for (Py_ssize_t j = 0; j < ns; j++) back[2 * j] = -1, back[2 * j + 1] = INT32_MAX;
    for (Py_ssize_t i = 0; i < nq; i++) {
        int32_t b1 = -1, d1 = INT32_MAX, d2 = INT32_MAX;
        uint64_t qi[4];
        memcpy(qi, q + 4 * i, 32);
        for (Py_ssize_t j = 0; j < ns; j++) {
            int32_t d = dist256(qi, s + 4 * j);
            if (d < d1) d2 = d1, d1 = d, b1 = (int32_t)j;
            else if (d < d2) d2 = d;
            if (d < back[2 * j + 1]) back[2 * j] = (int32_t)i, back[2 * j + 1] = d;
        }
        best[2 * i] = b1, best[2 * i + 1] = d1, second[i] = d2;
    }
    for (Py_ssize_t i = 0; i < nq; i++) {
        int32_t j = best[2 * i], d1 = best[2 * i + 1];
        if (d1 <= max_distance && (double)d1 < ratio * (double)second[i] && back[2 * j] == i)
            found[2 * k] = (int32_t)i, found[2 * k + 1] = j, k++;
    }
    Py_END_ALLOW_THREADS
    out = PyBytes_FromStringAndSize((const char *)found, (Py_ssize_t)sizeof(int32_t) * 2 * k);
    free(best); free(second); free(back); free(found);
done:
    PyBuffer_Release(&qb); PyBuffer_Release(&sb);
    return out;
}

static PyMethodDef methods[] = {
    {"pairs", py_pairs, METH_VARARGS,
     "pairs(query, stored, max_distance, ratio) -> int32 (query, stored) index pairs (bytes)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_keypoints",
                                    "Keypoint pairs for local-feature verification", -1, methods};

PyMODINIT_FUNC PyInit__keypoints(void) { return PyModule_Create(&module); }
