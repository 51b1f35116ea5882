/* Compiled kernels of the multi-label Hoeffding tree's hot path (optional).
 *
 * Two per-instance steps that are a few thousand floating-point operations each but cost about
 * 25 numpy calls in Python: the adaptive leaf model's update (ihomer.trees.leaf_models) and the
 * naive Bayes log-odds of a leaf (ihomer.trees.observers). Each function here is a line-by-line
 * transcription of the numpy code it replaces, which stays the reference and the fallback when
 * this module is not built (see ihomer/trees/kernels.py); tests run both and compare them.
 *
 * Arrays come in through the buffer protocol (no numpy headers at build time): float64 ("d"),
 * int64 ("q"/"l") and bool ("?") C-contiguous buffers. Every index is bounds-checked.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define PRIOR 0
#define LAST 1
#define MODE 2
#define NB 3
#define LINEAR 4

static int get(PyObject *o, Py_buffer *b, char kind, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, b, flags) < 0)
        return -1;
    const char *f = b->format ? b->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    int ok;
    switch (kind) {
    case 'd': ok = f[0] == 'd' && b->itemsize == 8; break;
    case 'q': ok = (f[0] == 'q' || f[0] == 'l') && b->itemsize == 8; break;
    default: ok = (f[0] == '?' || f[0] == 'B' || f[0] == 'b') && b->itemsize == 1; break;
    }
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous %s array, got format '%s'",
                     name, kind == 'd' ? "float64" : kind == 'q' ? "int64" : "bool", b->format);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

#define NBUF 12

typedef struct {
    Py_buffer b[NBUF];
    int n;
} Bufs;

static void release(Bufs *bs)
{
    for (int i = 0; i < bs->n; i++)
        PyBuffer_Release(&bs->b[i]);
    bs->n = 0;
}

static Py_buffer *take(Bufs *bs, PyObject *o, char kind, int writable, const char *name)
{
    Py_buffer *b = &bs->b[bs->n];
    if (get(o, b, kind, writable, name) < 0)
        return NULL;
    bs->n++;
    return b;
}

static Py_ssize_t len(Py_buffer *b) { return b->len / b->itemsize; }

/* rows of W (cap x KL) selected by idx (or 0..n-1 when idx is NULL); -1 on a bad index */
static int check_rows(const int64_t *idx, Py_ssize_t n, Py_ssize_t cap)
{
    if (!idx)
        return n <= cap ? 0 : -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= cap)
            return -1;
    return 0;
}

PyDoc_STRVAR(leaf_step_doc,
"leaf_step(W, b, idx, xs, x2, y, pp, pw, last, mode, nb, sc, mask, chosen, a, lr, w)\n"
"-> (error, chosen)\n\n"
"Score the leaf's candidates on one instance, choose the best, and take the SGD step of the\n"
"linear candidates (W, b and sc are updated in place). See LeafModel.learn.");

static PyObject *leaf_step(PyObject *self, PyObject *args)
{
    PyObject *oW, *ob, *oidx, *oxs, *oy, *opp, *olast, *omode, *onb, *osc, *omask, *olr;
    double x2, pw, a, w;
    int chosen;
    if (!PyArg_ParseTuple(args, "OOOOdOOdOOOOOidOd", &oW, &ob, &oidx, &oxs, &x2, &oy, &opp, &pw,
                          &olast, &omode, &onb, &osc, &omask, &chosen, &a, &olr, &w))
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *W, *b, *idxb = NULL, *xs, *y, *pp, *last, *mode, *nbb = NULL, *sc, *mask, *lr;
    if (!(W = take(&bs, oW, 'd', 1, "W")) || !(b = take(&bs, ob, 'd', 1, "b")) ||
        (oidx != Py_None && !(idxb = take(&bs, oidx, 'q', 0, "idx"))) ||
        !(xs = take(&bs, oxs, 'd', 0, "xs")) || !(y = take(&bs, oy, '?', 0, "y")) ||
        !(pp = take(&bs, opp, 'd', 0, "pp")) || !(last = take(&bs, olast, '?', 0, "last")) ||
        !(mode = take(&bs, omode, '?', 0, "mode")) ||
        (onb != Py_None && !(nbb = take(&bs, onb, 'd', 0, "nb"))) ||
        !(sc = take(&bs, osc, 'd', 1, "sc")) || !(mask = take(&bs, omask, '?', 0, "mask")) ||
        !(lr = take(&bs, olr, 'd', 0, "lr"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(y), K = len(lr), KL = K * L, m = LINEAR + K, n = len(xs);
    const Py_ssize_t cap = KL ? len(W) / KL : 0;
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    if (len(b) != KL || (KL && len(W) % KL) || len(pp) != L || len(last) != L ||
        len(mode) != L || (nbb && len(nbb) != L) || len(sc) != 4 * m || len(mask) != m ||
        (idxb && len(idxb) != n) || chosen < 0 || chosen >= m || check_rows(idx, n, cap) < 0) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "leaf_step: inconsistent array shapes or indices");
        return NULL;
    }
    double *Wd = W->buf, *bd = b->buf, *S = sc->buf;
    const double *x = xs->buf, *ppd = pp->buf, *nb = nbb ? nbb->buf : NULL, *lrd = lr->buf;
    const char *yd = y->buf, *ld = last->buf, *md = mode->buf, *mk = mask->buf;

    double stackp[512];
    double *p = KL <= 512 ? stackp : malloc(sizeof(double) * (size_t)(KL ? KL : 1));
    double *tp = malloc(sizeof(double) * 2 * (size_t)m);
    if (!p || !tp) {
        if (p != stackp)
            free(p);
        free(tp);
        release(&bs);
        return PyErr_NoMemory();
    }
    double *npd = tp + m;

    /* z = xs @ W[idx] + b; p = expit(z) */
    for (Py_ssize_t j = 0; j < KL; j++)
        p[j] = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const double xi = x[i];
        const double *row = Wd + (idx ? idx[i] : i) * KL;
        for (Py_ssize_t j = 0; j < KL; j++)
            p[j] += xi * row[j];
    }
    for (Py_ssize_t j = 0; j < KL; j++)
        p[j] = 1.0 / (1.0 + exp(-(p[j] + bd[j])));

    /* per candidate: true positives and predicted positives */
    for (Py_ssize_t c = 0; c < m; c++)
        tp[c] = npd[c] = 0.0;
    double ny = 0.0;
    const double half = 0.5 * pw;
    for (Py_ssize_t l = 0; l < L; l++) {
        const int yl = yd[l] != 0;
        const int dp = ppd[l] >= half;
        const int d[4] = {dp, ld[l] != 0, md[l] != 0, nb ? nb[l] >= 0.0 : dp};
        ny += yl;
        for (int c = 0; c < 4; c++) {
            npd[c] += d[c];
            tp[c] += d[c] & yl;
        }
        for (Py_ssize_t k = 0; k < K; k++) {
            const int dl = p[k * L + l] >= 0.5;
            npd[LINEAR + k] += dl;
            tp[LINEAR + k] += dl & yl;
        }
    }

    double union_ = npd[chosen] + ny - tp[chosen];
    const double err = union_ != 0.0 ? 1.0 - tp[chosen] / union_ : 0.0;
    const double a1 = 1.0 - a;
    double best = -1.0;
    int bi = chosen;
    for (Py_ssize_t c = 0; c < m; c++) {
        double *Sc = S + 4 * c; /* S, T, F, acc */
        const double nerr = npd[c] + ny - 2.0 * tp[c];
        const double ham = L ? 1.0 - nerr / (double)L : 1.0;
        const double sm = Sc[0] = Sc[0] * a + (nerr == 0.0 ? 1.0 : 0.0) + ham;
        const double t = Sc[1] = Sc[1] * a + tp[c];
        const double f = Sc[2] = Sc[2] * a + nerr;
        const double s = sm * a1 + (t + f > 0 ? 2.0 * t / (2.0 * t + f) : 1.0);
        Sc[3] = Sc[3] * a + a1 * ham;
        if (mk[c] && s > best + 1e-9 && (c != NB || nb)) {
            best = s;
            bi = (int)c;
        }
    }

    /* normalised SGD on the log-loss of the linear candidates */
    const double scale = w / (1.0 + x2);
    for (Py_ssize_t k = 0; k < K; k++) {
        const double step = lrd[k] * scale;
        for (Py_ssize_t l = 0; l < L; l++) {
            const Py_ssize_t j = k * L + l;
            p[j] = (p[j] - (yd[l] != 0)) * step;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const double xi = x[i];
        double *row = Wd + (idx ? idx[i] : i) * KL;
        for (Py_ssize_t j = 0; j < KL; j++)
            row[j] -= xi * p[j];
    }
    for (Py_ssize_t j = 0; j < KL; j++)
        bd[j] -= p[j];

    if (p != stackp)
        free(p);
    free(tp);
    release(&bs);
    return Py_BuildValue("di", err, bi);
}

PyDoc_STRVAR(nb_add_doc,
"nb_add(packed, idx, val, out) -> None\n\n"
"out += sum over the row's non-zeros of c0 + c1 x + c2 x^2, per label, where packed (features,\n"
"3L) holds [c0 | c1 | c2] per feature and idx is None for a dense row 0..n-1.");

static PyObject *nb_add(PyObject *self, PyObject *args)
{
    PyObject *opk, *oidx, *oval, *oout;
    if (!PyArg_ParseTuple(args, "OOOO", &opk, &oidx, &oval, &oout))
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *pk, *idxb = NULL, *vb, *ob;
    if (!(pk = take(&bs, opk, 'd', 0, "packed")) ||
        (oidx != Py_None && !(idxb = take(&bs, oidx, 'q', 0, "idx"))) ||
        !(vb = take(&bs, oval, 'd', 0, "val")) || !(ob = take(&bs, oout, 'd', 1, "out"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(ob), n = len(vb), L3 = 3 * L;
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    if ((idxb && len(idxb) != n) || (L3 && len(pk) % L3) ||
        check_rows(idx, n, L3 ? len(pk) / L3 : 0) < 0) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "nb_add: inconsistent array shapes or indices");
        return NULL;
    }
    const double *P = pk->buf, *v = vb->buf;
    double *out = ob->buf;
    double stack[3 * 256];
    double *s = L <= 256 ? stack : calloc((size_t)L3, sizeof(double));
    if (!s) {
        release(&bs);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t j = 0; j < L3; j++)
        s[j] = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const double x = v[i], xx = x * x;
        const double *row = P + (idx ? idx[i] : i) * L3;
        for (Py_ssize_t l = 0; l < L; l++) {
            s[l] += row[l];
            s[L + l] += x * row[L + l];
            s[2 * L + l] += xx * row[2 * L + l];
        }
    }
    for (Py_ssize_t l = 0; l < L; l++)
        out[l] = out[l] + s[l] + s[L + l] + s[2 * L + l];
    if (s != stack)
        free(s);
    release(&bs);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"leaf_step", leaf_step, METH_VARARGS, leaf_step_doc},
    {"nb_add", nb_add, METH_VARARGS, nb_add_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Compiled kernels of ihomer.trees (optional; see ihomer/trees/kernels.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
