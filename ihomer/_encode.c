/* Compiled fast path of ihomer.features.FeatureIndex.encode (optional).
 *
 * One call turns a record {name: number} whose names are all known into the column ids and
 * values of its non-zeros; the Python loop it replaces costs about a dozen small calls per
 * record (list, set of types, tuple, dict lookups, two numpy arrays, a max, a count). It refuses
 * (returns -1) whatever the Python path must decide: a name not in the index, a value that is
 * not exactly a float or an int (bools, strings, None, numpy scalars), an int beyond float64,
 * NaN, an infinity or a magnitude above the limit (missing values). ihomer/features.py stays
 * the reference; tests compare the two on random records.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

PyDoc_STRVAR(encode_known_doc,
"encode_known(x, ids, col, val, max_abs) -> int\n\n"
"Write the column id (ids[name]) and the value of each non-zero of the record x into col\n"
"(int64) and val (float64), both of at least len(x) items, in x's order; return how many, or\n"
"-1 when the record needs the general path (see the module docstring).");

static PyObject *encode_known(PyObject *self, PyObject *args)
{
    PyObject *x, *ids, *ocol, *oval;
    double max_abs;
    if (!PyArg_ParseTuple(args, "O!O!OOd", &PyDict_Type, &x, &PyDict_Type, &ids, &ocol, &oval,
                          &max_abs))
        return NULL;
    Py_buffer cb, vb;
    if (PyObject_GetBuffer(ocol, &cb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(oval, &vb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&cb);
        return NULL;
    }
    const char *cf = cb.format ? cb.format : "B", *vf = vb.format ? vb.format : "B";
    if (cb.itemsize != 8 || (cf[0] != 'q' && cf[0] != 'l') || vb.itemsize != 8 || vf[0] != 'd' ||
        cb.len / 8 < PyDict_GET_SIZE(x) || vb.len / 8 < PyDict_GET_SIZE(x)) {
        PyBuffer_Release(&cb);
        PyBuffer_Release(&vb);
        PyErr_SetString(PyExc_ValueError,
                        "encode_known: col must be int64 and val float64, of len(x) items or more");
        return NULL;
    }
    int64_t *col = cb.buf;
    double *val = vb.buf;
    Py_ssize_t pos = 0, n = 0;
    PyObject *key, *value;
    long result = 0;
    while (PyDict_Next(x, &pos, &key, &value)) {
        double v;
        if (PyFloat_CheckExact(value)) {
            v = PyFloat_AS_DOUBLE(value);
        } else if (PyLong_CheckExact(value)) {
            v = PyLong_AsDouble(value);
            if (v == -1.0 && PyErr_Occurred()) { /* beyond float64: the Python path decides */
                PyErr_Clear();
                result = -1;
                break;
            }
        } else {
            result = -1;
            break;
        }
        if (!(v >= -max_abs && v <= max_abs)) { /* NaN, inf, too large: missing */
            result = -1;
            break;
        }
        PyObject *id = PyDict_GetItemWithError(ids, key);
        if (id == NULL) {
            if (PyErr_Occurred()) { /* an unhashable key: let Python raise its own error */
                PyErr_Clear();
            }
            result = -1;
            break;
        }
        if (v == 0.0)
            continue;
        long long c = PyLong_AsLongLong(id);
        if (c == -1 && PyErr_Occurred()) {
            PyBuffer_Release(&cb);
            PyBuffer_Release(&vb);
            return NULL;
        }
        col[n] = (int64_t)c;
        val[n] = v;
        n++;
    }
    PyBuffer_Release(&cb);
    PyBuffer_Release(&vb);
    return PyLong_FromSsize_t(result < 0 ? -1 : n);
}

static PyMethodDef methods[] = {
    {"encode_known", encode_known, METH_VARARGS, encode_known_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_encode",
    "Compiled fast path of ihomer.features (optional; see ihomer/_encode.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__encode(void) { return PyModule_Create(&module); }
