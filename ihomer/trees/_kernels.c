/* Compiled kernels of the multi-label Hoeffding tree's hot path (optional).
 *
 * Steps that are a few thousand floating-point operations each but cost tens of numpy calls in
 * Python: the adaptive leaf model's update and its linear prediction (ihomer.trees.leaf_models),
 * the naive Bayes log-odds of a leaf, its refit, and the split-statistics update
 * (ihomer.trees.observers). Each function here is a line-by-line
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
#include <string.h>

#define PRIOR 0
#define LAST 1
#define MODE 2
#define NB 3
#define LINEAR 4
/* naive Bayes log-odds are clipped to this magnitude before they are calibrated */
#define NB_CLIP 30.0

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

#define NBUF 32

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

/* The adaptive normalised step of the linear models, given p = their probabilities (KL,,
 * overwritten): see kernels.adaptive_step, which this transcribes. C = K: one accumulator per
 * feature and model (g2 = w times the model's mean squared error); C = K L: one per weight. */
static int adaptive_step(double *G, double *Gb, const char *ada, Py_ssize_t C, double *Wd,
                         double *bd, const int64_t *idx, const double *x, Py_ssize_t n,
                         double x2, const char *yd, double *p, const double *lrd, Py_ssize_t K,
                         Py_ssize_t L, double w)
{
    const Py_ssize_t KL = K * L;
    const int perw = C == KL;
    double *g2 = malloc(sizeof(double) * 2 * (size_t)C);
    if (!g2)
        return -1;
    double *S = g2 + C;
    for (Py_ssize_t k = 0; k < K; k++) {
        double acc = 0.0;
        for (Py_ssize_t l = 0; l < L; l++) {
            const Py_ssize_t j = k * L + l;
            const double e = p[j] - (yd[l] != 0);
            p[j] = e;
            if (perw)
                g2[j] = ada[k] ? e * e * w : 0.0;
            else
                acc += e * e;
        }
        if (!perw)
            g2[k] = ada[k] ? acc / (double)L * w : 0.0;
    }
    for (Py_ssize_t c = 0; c < C; c++) {
        Gb[c] += g2[c];
        S[c] = 0.0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const double xi2 = x[i] * x[i];
        double *Gr = G + (idx ? idx[i] : i) * C;
        for (Py_ssize_t c = 0; c < C; c++) {
            const double gi = Gr[c] += xi2 * g2[c];
            S[c] += xi2 * sqrt((Gb[c] + 1e-12) / (gi + 1e-12));
        }
    }
    for (Py_ssize_t k = 0; k < K; k++) {
        const double lw = lrd[k] * w;
        for (Py_ssize_t l = 0; l < L; l++) {
            const Py_ssize_t j = k * L + l;
            const double s = ada[k] ? S[perw ? j : k] : x2;
            p[j] *= lw / (1.0 + s);
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const double xi = x[i];
        const Py_ssize_t r = idx ? idx[i] : i;
        double *row = Wd + r * KL;
        const double *Gr = G + r * C;
        for (Py_ssize_t k = 0; k < K; k++) {
            double *rk = row + k * L;
            const double *pk = p + k * L;
            if (!ada[k]) {
                for (Py_ssize_t l = 0; l < L; l++)
                    rk[l] -= xi * pk[l];
            } else if (perw) {
                const double *Gk = Gr + k * L, *Gbk = Gb + k * L;
                for (Py_ssize_t l = 0; l < L; l++)
                    rk[l] -= xi * sqrt((Gbk[l] + 1e-12) / (Gk[l] + 1e-12)) * pk[l];
            } else {
                const double xd = xi * sqrt((Gb[k] + 1e-12) / (Gr[k] + 1e-12));
                for (Py_ssize_t l = 0; l < L; l++)
                    rk[l] -= xd * pk[l];
            }
        }
    }
    for (Py_ssize_t j = 0; j < KL; j++)
        bd[j] -= p[j];
    free(g2);
    return 0;
}

/* The leaf update of leaf_step on raw arrays (see its docstring); G == NULL: the plain step.
 * Writes the error of candidate `chosen` and the candidate chosen from now on; -1: no memory. */
static int leaf_core(double *Wd, double *bd, const int64_t *idx, const double *x, Py_ssize_t n,
                     double x2, const char *yd, const double *ppd, double pw, const char *ld,
                     const char *md, const double *nb, double *S, const char *mk, int chosen,
                     double a, const double *lrd, Py_ssize_t K, Py_ssize_t L, double w,
                     double *G, double *Gb, Py_ssize_t C, const char *ada, double *err_out,
                     int *chosen_out)
{
    const Py_ssize_t KL = K * L, m = LINEAR + K;
    double stackp[512];
    double *p = KL <= 512 ? stackp : malloc(sizeof(double) * (size_t)(KL ? KL : 1));
    double *tp = malloc(sizeof(double) * 2 * (size_t)m);
    if (!p || !tp) {
        if (p != stackp)
            free(p);
        free(tp);
        return -1;
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

    *err_out = err;
    *chosen_out = bi;
    if (G) { /* the adaptive step (kernels.adaptive_step) */
        int rc = adaptive_step(G, Gb, ada, C, Wd, bd, idx, x, n, x2, yd, p, lrd, K, L, w);
        if (p != stackp)
            free(p);
        free(tp);
        return rc;
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
    return 0;
}


/* stats_add on raw arrays */
static void stats_core(double *nz, double *nzp, double *pos, Py_ssize_t L, const int64_t *idx,
                       const double *v, Py_ssize_t n, const int64_t *on, Py_ssize_t non, double w)
{
    for (Py_ssize_t j = 0; j < non; j++)
        pos[on[j]] += w;
    for (Py_ssize_t i = 0; i < n; i++) {
        const Py_ssize_t f = idx ? idx[i] : i;
        const double m1 = w * v[i], m2 = m1 * v[i];
        double *r = nz + 3 * f;
        r[0] += w;
        r[1] += m1;
        r[2] += m2;
        double *rp = nzp + 3 * L * f;
        for (Py_ssize_t j = 0; j < non; j++) {
            double *c = rp + 3 * on[j];
            c[0] += w;
            c[1] += m1;
            c[2] += m2;
        }
    }
}

/* nb_add on raw arrays: out[l] += the row's naive Bayes terms (s: 3L doubles of scratch) */
static void nb_core(const double *P, const int64_t *idx, const double *v, Py_ssize_t n,
                    Py_ssize_t L, double *out, double *s)
{
    const Py_ssize_t L3 = 3 * L;
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
}

PyDoc_STRVAR(leaf_step_doc,
"leaf_step(W, b, idx, xs, x2, y, pp, pw, last, mode, nb, sc, mask, chosen, a, lr, w,\n"
"          G=None, Gb=None, ada=None) -> (error, chosen)\n\n"
"Score the leaf's candidates on one instance, choose the best, and take the SGD step of the\n"
"linear candidates (W, b and sc are updated in place). With accumulators G (features x C,\n"
"C = K or K*L) and Gb (C,), also updated, the models with ada[k] take the adaptive step of\n"
"kernels.adaptive_step. See LeafModel.learn.");

static PyObject *leaf_step(PyObject *self, PyObject *args)
{
    PyObject *oW, *ob, *oidx, *oxs, *oy, *opp, *olast, *omode, *onb, *osc, *omask, *olr;
    PyObject *oG = Py_None, *oGb = Py_None, *oada = Py_None;
    double x2, pw, a, w;
    int chosen;
    if (!PyArg_ParseTuple(args, "OOOOdOOdOOOOOidOd|OOO", &oW, &ob, &oidx, &oxs, &x2, &oy, &opp,
                          &pw, &olast, &omode, &onb, &osc, &omask, &chosen, &a, &olr, &w, &oG,
                          &oGb, &oada))
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
    Py_buffer *Gbuf = NULL, *Gbb = NULL, *adab = NULL;
    if (oG != Py_None &&
        (!(Gbuf = take(&bs, oG, 'd', 1, "G")) || !(Gbb = take(&bs, oGb, 'd', 1, "Gb")) ||
         !(adab = take(&bs, oada, '?', 0, "ada")))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(y), K = len(lr), KL = K * L, m = LINEAR + K, n = len(xs);
    const Py_ssize_t cap = KL ? len(W) / KL : 0;
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    if (len(b) != KL || (KL && len(W) % KL) || len(pp) != L || len(last) != L ||
        len(mode) != L || (nbb && len(nbb) != L) || len(sc) != 4 * m || len(mask) != m ||
        (idxb && len(idxb) != n) || chosen < 0 || chosen >= m || check_rows(idx, n, cap) < 0 ||
        (Gbuf && (!KL || (len(Gbb) != K && len(Gbb) != KL) || len(Gbuf) != cap * len(Gbb) ||
                  len(adab) != K))) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "leaf_step: inconsistent array shapes or indices");
        return NULL;
    }
    double err;
    int bi;
    int rc = leaf_core(W->buf, b->buf, idx, xs->buf, n, x2, y->buf, pp->buf, pw, last->buf,
                       mode->buf, nbb ? nbb->buf : NULL, sc->buf, mask->buf, chosen, a, lr->buf,
                       K, L, w, Gbuf ? Gbuf->buf : NULL, Gbuf ? Gbb->buf : NULL,
                       Gbuf ? len(Gbb) : 0, Gbuf ? adab->buf : NULL, &err, &bi);
    release(&bs);
    if (rc < 0)
        return PyErr_NoMemory();
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
    nb_core(P, idx, v, n, L, out, s);
    if (s != stack)
        free(s);
    release(&bs);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(nb_mix_doc,
"nb_mix(base, packed, idx, val, nbc, p, w) -> None\n\n"
"p = (1 - w) p + w expit(z), in place: z the naive Bayes log-odds of the row, base +\n"
"nb_add(packed, idx, val), calibrated by nbc (as nb_calibrated) unless nbc is None. What a\n"
"leaf that averages naive Bayes into its chosen candidate serves (LeafModel.mixes).");

static PyObject *nb_mix(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "nb_mix: expected 7 arguments");
        return NULL;
    }
    const double w = PyFloat_AsDouble(args[6]);
    if (PyErr_Occurred())
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *baseb, *pk, *idxb = NULL, *vb, *calb = NULL, *pb;
    if (!(baseb = take(&bs, args[0], 'd', 0, "base")) ||
        !(pk = take(&bs, args[1], 'd', 0, "packed")) ||
        (args[2] != Py_None && !(idxb = take(&bs, args[2], 'q', 0, "idx"))) ||
        !(vb = take(&bs, args[3], 'd', 0, "val")) ||
        (args[4] != Py_None && !(calb = take(&bs, args[4], 'd', 0, "nbc"))) ||
        !(pb = take(&bs, args[5], 'd', 1, "p"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(pb), n = len(vb), L3 = 3 * L;
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    if (len(baseb) != L || (idxb && len(idxb) != n) || (L3 && len(pk) % L3) ||
        check_rows(idx, n, L3 ? len(pk) / L3 : 0) < 0 || (calb && len(calb) != 2 * (L + 1))) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "nb_mix: inconsistent array shapes or indices");
        return NULL;
    }
    double stack[4 * 256];
    double *z = L <= 256 ? stack : malloc(sizeof(double) * 4 * (size_t)(L ? L : 1));
    if (!z) {
        release(&bs);
        return PyErr_NoMemory();
    }
    memcpy(z, baseb->buf, sizeof(double) * (size_t)L);
    nb_core(pk->buf, idx, vb->buf, n, L, z, z + L);
    const double *cal = calb ? calb->buf : NULL;
    double *p = pb->buf;
    for (Py_ssize_t l = 0; l < L; l++) {
        double zl = z[l];
        if (cal) { /* nb_calibrated: NaN as 0, clipped to +-NB_CLIP, then A z + C */
            zl = zl == zl ? zl : 0.0;
            zl = zl > NB_CLIP ? NB_CLIP : (zl < -NB_CLIP ? -NB_CLIP : zl);
            zl = cal[0] * zl + cal[l + 1];
        }
        p[l] = (1.0 - w) * p[l] + w / (1.0 + exp(-zl));
    }
    if (z != stack)
        free(z);
    release(&bs);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stats_add_doc,
"stats_add(nz, nzp, pos, idx, val, on, w) -> None\n\n"
"Add one instance to a leaf's split statistics (LeafStats.update without missing values):\n"
"pos[on] += w; per non-zero feature f = idx[i] (i when idx is None) with value x:\n"
"nz[f] += (w, w x, w x^2) and nzp[f, on] += the same.");

static PyObject *stats_add(PyObject *self, PyObject *args)
{
    PyObject *onz, *onzp, *opos, *oidx, *oval, *oon;
    double w;
    if (!PyArg_ParseTuple(args, "OOOOOOd", &onz, &onzp, &opos, &oidx, &oval, &oon, &w))
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *nzb, *nzpb, *posb, *idxb = NULL, *vb, *onb;
    if (!(nzb = take(&bs, onz, 'd', 1, "nz")) || !(nzpb = take(&bs, onzp, 'd', 1, "nzp")) ||
        !(posb = take(&bs, opos, 'd', 1, "pos")) ||
        (oidx != Py_None && !(idxb = take(&bs, oidx, 'q', 0, "idx"))) ||
        !(vb = take(&bs, oval, 'd', 0, "val")) || !(onb = take(&bs, oon, 'q', 0, "on"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(posb), n = len(vb), non = len(onb), cap = len(nzb) / 3;
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    const int64_t *on = onb->buf;
    int bad = (len(nzb) % 3) || len(nzpb) != cap * L * 3 || (idxb && len(idxb) != n) ||
              check_rows(idx, n, cap) < 0;
    for (Py_ssize_t j = 0; j < non && !bad; j++)
        bad = on[j] < 0 || on[j] >= L;
    if (bad) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "stats_add: inconsistent array shapes or indices");
        return NULL;
    }
    stats_core(nzb->buf, nzpb->buf, posb->buf, L, idx, vb->buf, n, on, non, w);
    release(&bs);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(nb_fit_doc,
"nb_fit(nz, nzp, pos, w, rows, alpha, k, coef, terms) -> None\n\n"
"Naive Bayes coefficients of the features rows (LeafStats._nb_chunks): coef (R, 3L) gets\n"
"[c0 | c1 | c2] and terms (R, L) the zero-term log-odds, row by row.");

static PyObject *nb_fit(PyObject *self, PyObject *args)
{
    PyObject *onz, *onzp, *opos, *orows, *ocoef, *oterms;
    double W, alpha, k;
    if (!PyArg_ParseTuple(args, "OOOdOddOO", &onz, &onzp, &opos, &W, &orows, &alpha, &k, &ocoef,
                          &oterms))
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *nzb, *nzpb, *posb, *rb, *cb, *tb;
    if (!(nzb = take(&bs, onz, 'd', 0, "nz")) || !(nzpb = take(&bs, onzp, 'd', 0, "nzp")) ||
        !(posb = take(&bs, opos, 'd', 0, "pos")) || !(rb = take(&bs, orows, 'q', 0, "rows")) ||
        !(cb = take(&bs, ocoef, 'd', 1, "coef")) || !(tb = take(&bs, oterms, 'd', 1, "terms"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(posb), R = len(rb), cap = len(nzb) / 3;
    const int64_t *rows = rb->buf;
    if ((len(nzb) % 3) || len(nzpb) != cap * L * 3 || len(cb) != R * 3 * L ||
        len(tb) != R * L || check_rows(rows, R, cap) < 0) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "nb_fit: inconsistent array shapes or indices");
        return NULL;
    }
    const double *nz = nzb->buf, *nzp = nzpb->buf, *pos = posb->buf;
    double *coef = cb->buf, *terms = tb->buf;
    for (Py_ssize_t r = 0; r < R; r++) {
        const double *s = nz + 3 * rows[r];
        const double *sp = nzp + 3 * L * rows[r];
        double *c0 = coef + 3 * L * r, *c1 = c0 + L, *c2 = c1 + L, *t = terms + L * r;
        const double n = s[0] > 1e-12 ? s[0] : 1e-12;
        const double mean = s[1] / n, m2 = s[2] / n;
        const double v = m2 - mean * mean;
        const double floor = 1e-2 * (v > 0.0 ? v : 0.0) + 1e-9;
        const int never = s[0] <= 0.0;
        /* P(non-zero | label) is an m-estimate: 2 alpha prior rows at the feature's pooled
         * non-zero rate r (at 1/2, Laplace's rule, each rare feature's presence is strong
         * evidence for every rare label); at 1/2 still for a valued feature in most rows (its
         * Gaussian carries the evidence; nb_fit_numpy says what was measured) */
        const double m = 2 * alpha;
        double r = (s[0] + alpha) / (W + m);
        if (r > 0.5 && v > 1e-9 * m2)
            r = 0.5;
        const double mr = m * r;
        for (Py_ssize_t l = 0; l < L; l++) {
            const double p1 = pos[l], p0 = W - p1;
            const double w1 = sp[3 * l], s1 = sp[3 * l + 1], q1 = sp[3 * l + 2];
            const double w0 = s[0] - w1;
            const double mu1 = (s1 + k * mean) / (w1 + k);
            double var1 = (q1 + k * m2) / (w1 + k) - mu1 * mu1;
            var1 = (var1 > 0.0 ? var1 : 0.0) + floor;
            const double mu0 = (s[1] - s1 + k * mean) / (w0 + k);
            double var0 = (s[2] - q1 + k * m2) / (w0 + k) - mu0 * mu0;
            var0 = (var0 > 0.0 ? var0 : 0.0) + floor;
            const double nz1 = (w1 + mr) / (p1 + m);
            const double nz0 = (w0 + mr) / (p0 + m);
            /* two logarithms instead of six: log P(zero|on) - log P(zero|off), and
             * logit(nz1) - logit(nz0) + 0.5 log(var0 / var1) as the log of one ratio */
            const double z1 = 1.0 - nz1, z0 = 1.0 - nz0;
            t[l] = never ? 0.0 : log(z1 / z0);
            const double A = log((nz1 * z0) / (z1 * nz0) * sqrt(var0 / var1));
            const double b1 = 0.5 / var1, b0 = 0.5 / var0;
            c0[l] = A - b1 * mu1 * mu1 + b0 * mu0 * mu0;
            c1[l] = 2.0 * (b1 * mu1 - b0 * mu0);
            c2[l] = b0 - b1;
        }
    }
    release(&bs);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(linear_proba_doc,
"linear_proba(W, b, idx, xs, k, out) -> None\n\n"
"out = expit(xs @ W[idx, k L:(k + 1) L] + b[k L:(k + 1) L]), L = out.size: the probabilities\n"
"of the k-th linear model of a leaf (idx is None for a dense row 0..n-1).");

static PyObject *linear_proba(PyObject *self, PyObject *args)
{
    PyObject *oW, *ob, *oidx, *oxs, *oout;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "OOOOnO", &oW, &ob, &oidx, &oxs, &k, &oout))
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *W, *b, *idxb = NULL, *xs, *ob_;
    if (!(W = take(&bs, oW, 'd', 0, "W")) || !(b = take(&bs, ob, 'd', 0, "b")) ||
        (oidx != Py_None && !(idxb = take(&bs, oidx, 'q', 0, "idx"))) ||
        !(xs = take(&bs, oxs, 'd', 0, "xs")) || !(ob_ = take(&bs, oout, 'd', 1, "out"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(ob_), KL = len(b), n = len(xs);
    const Py_ssize_t cap = KL ? len(W) / KL : 0;
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    if (k < 0 || (k + 1) * L > KL || (KL && len(W) % KL) || (idxb && len(idxb) != n) ||
        check_rows(idx, n, cap) < 0) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "linear_proba: inconsistent array shapes or indices");
        return NULL;
    }
    const double *Wd = W->buf, *bd = (const double *)b->buf + k * L, *x = xs->buf;
    double *out = ob_->buf;
    for (Py_ssize_t l = 0; l < L; l++)
        out[l] = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const double xi = x[i];
        const double *row = Wd + (idx ? idx[i] : i) * KL + k * L;
        for (Py_ssize_t l = 0; l < L; l++)
            out[l] += xi * row[l];
    }
    for (Py_ssize_t l = 0; l < L; l++)
        out[l] = 1.0 / (1.0 + exp(-(out[l] + bd[l])));
    release(&bs);
    Py_RETURN_NONE;
}


PyDoc_STRVAR(leaf_learn_doc,
"leaf_learn(W, b, idx, xs, x2, y, pp, pw, last, mode, nb_base, nb_packed, val, sc, mask,\n"
"           chosen, a, lr, w, G, Gb, ada, on, wg, nz, nzp, pos, nbc, nbc_rate)\n"
"           -> (error, chosen)\n\n"
"One learning step of a leaf in one call: the naive Bayes log-odds nb_base + nb_add(nb_packed,\n"
"idx, val) (no naive Bayes when nb_base is None), calibrated by nbc when it is not None (see\n"
"nb_calibrate), leaf_step with them, the label priors pp[on] += wg, and stats_add(nz, nzp,\n"
"pos, idx, val, on, w) (skipped when nz is None). G, Gb and ada are None for the plain step.\n"
"See LeafModel.learn.");

/* kernels.nb_calibrate_numpy on raw arrays: z <- A z' + C (z' = z clipped to +-NB_CLIP), then
 * one AdaGrad step of (A, C) on the log-loss of that calibrated z against y, weight w. cal is
 * [A, C_0 .. C_L-1, GA, GC_0 .. GC_L-1]: one shrinkage A for every label, one bias per label.
 * A NaN log-odds counts as 0, so that one cannot poison the shared A (NB_CLIP: above). */
static void nb_calibrate_core(double *z, double *cal, Py_ssize_t L, const char *yd, double rate,
                              double w)
{
    const double A = cal[0];
    double *C = cal + 1, *GC = cal + L + 2, ga = 0.0;
    for (Py_ssize_t l = 0; l < L; l++) {
        const double zl = z[l] == z[l] ? z[l] : 0.0; /* NaN: no evidence (as in numpy) */
        const double zc = zl > NB_CLIP ? NB_CLIP : (zl < -NB_CLIP ? -NB_CLIP : zl);
        const double zz = A * zc + C[l];
        const double g = (1.0 / (1.0 + exp(-zz)) - (yd[l] != 0)) * w;
        ga += g * zc;
        GC[l] += g * g;
        C[l] -= rate * g / sqrt(GC[l]);
        z[l] = zz;
    }
    if (L) {
        ga /= (double)L;
        cal[L + 1] += ga * ga;
        cal[0] -= rate * ga / sqrt(cal[L + 1]);
    }
}

static PyObject *leaf_learn(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 29) {
        PyErr_SetString(PyExc_TypeError, "leaf_learn: expected 29 arguments");
        return NULL;
    }
    double x2 = PyFloat_AsDouble(args[4]), pw = PyFloat_AsDouble(args[7]);
    double nbc_rate = PyFloat_AsDouble(args[28]);
    double a = PyFloat_AsDouble(args[16]), w = PyFloat_AsDouble(args[18]);
    double wg = PyFloat_AsDouble(args[23]);
    long chosen = PyLong_AsLong(args[15]);
    if (PyErr_Occurred())
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *W, *b, *idxb = NULL, *xs, *y, *pp, *last, *mode, *base = NULL, *pk = NULL;
    Py_buffer *vb = NULL, *sc, *mask, *lr, *Gbuf = NULL, *Gbb = NULL, *adab = NULL, *onb;
    Py_buffer *nzb = NULL, *nzpb = NULL, *posb = NULL, *calb = NULL;
    const int has_nb = args[10] != Py_None, has_st = args[24] != Py_None;
    if (!(W = take(&bs, args[0], 'd', 1, "W")) || !(b = take(&bs, args[1], 'd', 1, "b")) ||
        (args[2] != Py_None && !(idxb = take(&bs, args[2], 'q', 0, "idx"))) ||
        !(xs = take(&bs, args[3], 'd', 0, "xs")) || !(y = take(&bs, args[5], '?', 0, "y")) ||
        !(pp = take(&bs, args[6], 'd', 1, "pp")) ||
        !(last = take(&bs, args[8], '?', 0, "last")) ||
        !(mode = take(&bs, args[9], '?', 0, "mode")) ||
        (has_nb && (!(base = take(&bs, args[10], 'd', 0, "nb_base")) ||
                    !(pk = take(&bs, args[11], 'd', 0, "nb_packed")))) ||
        ((has_nb || has_st) && !(vb = take(&bs, args[12], 'd', 0, "val"))) ||
        !(sc = take(&bs, args[13], 'd', 1, "sc")) ||
        !(mask = take(&bs, args[14], '?', 0, "mask")) ||
        !(lr = take(&bs, args[17], 'd', 0, "lr")) ||
        (args[19] != Py_None && (!(Gbuf = take(&bs, args[19], 'd', 1, "G")) ||
                                 !(Gbb = take(&bs, args[20], 'd', 1, "Gb")) ||
                                 !(adab = take(&bs, args[21], '?', 0, "ada")))) ||
        !(onb = take(&bs, args[22], 'q', 0, "on")) ||
        (has_st && (!(nzb = take(&bs, args[24], 'd', 1, "nz")) ||
                    !(nzpb = take(&bs, args[25], 'd', 1, "nzp")) ||
                    !(posb = take(&bs, args[26], 'd', 1, "pos")))) ||
        (has_nb && args[27] != Py_None && !(calb = take(&bs, args[27], 'd', 1, "nbc")))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(y), K = len(lr), KL = K * L, m = LINEAR + K, n = len(xs);
    const Py_ssize_t cap = KL ? len(W) / KL : 0, non = len(onb);
    const int64_t *idx = idxb ? (const int64_t *)idxb->buf : NULL;
    const int64_t *on = onb->buf;
    int bad = len(b) != KL || (KL && len(W) % KL) || len(pp) != L || len(last) != L ||
              len(mode) != L || len(sc) != 4 * m || len(mask) != m ||
              (idxb && len(idxb) != n) || chosen < 0 || chosen >= m ||
              check_rows(idx, n, cap) < 0 ||
              (Gbuf && (!KL || (len(Gbb) != K && len(Gbb) != KL) ||
                        len(Gbuf) != cap * len(Gbb) || len(adab) != K)) ||
              (vb && len(vb) != n) ||
              (has_nb && (len(base) != L || len(pk) % (L ? 3 * L : 1) ||
                          check_rows(idx, n, L ? len(pk) / (3 * L) : 0) < 0)) ||
              (has_st && ((len(nzb) % 3) || len(nzpb) != (len(nzb) / 3) * L * 3 ||
                          len(posb) != L || check_rows(idx, n, len(nzb) / 3) < 0)) ||
              (calb && len(calb) != 2 * (L + 1));
    for (Py_ssize_t j = 0; j < non && !bad; j++)
        bad = on[j] < 0 || on[j] >= L;
    if (bad) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "leaf_learn: inconsistent array shapes or indices");
        return NULL;
    }
    double stack[4 * 256];
    double *nb = NULL, *scratch = NULL;
    if (has_nb) {
        nb = L <= 256 ? stack : malloc(sizeof(double) * 4 * (size_t)L);
        if (!nb) {
            release(&bs);
            return PyErr_NoMemory();
        }
        scratch = nb + L;
        memcpy(nb, base->buf, sizeof(double) * (size_t)L);
        nb_core(pk->buf, idx, vb->buf, n, L, nb, scratch);
        if (calb)
            nb_calibrate_core(nb, calb->buf, L, y->buf, nbc_rate, w);
    }
    double err;
    int bi;
    int rc = leaf_core(W->buf, b->buf, idx, xs->buf, n, x2, y->buf, pp->buf, pw, last->buf,
                       mode->buf, nb, sc->buf, mask->buf, (int)chosen, a, lr->buf, K, L, w,
                       Gbuf ? Gbuf->buf : NULL, Gbuf ? Gbb->buf : NULL, Gbuf ? len(Gbb) : 0,
                       Gbuf ? adab->buf : NULL, &err, &bi);
    if (nb && nb != stack)
        free(nb);
    if (rc < 0) {
        release(&bs);
        return PyErr_NoMemory();
    }
    double *ppd = pp->buf;
    for (Py_ssize_t j = 0; j < non; j++)
        ppd[on[j]] += wg;
    if (has_st)
        stats_core(nzb->buf, nzpb->buf, posb->buf, L, idx, vb->buf, n, on, non, w);
    release(&bs);
    return Py_BuildValue("di", err, bi);
}

PyDoc_STRVAR(row_local_doc,
"row_local(gidx, gval, gmap, n_known, cap, inv, loc, val, xs) -> (k, unknown, dense, x2)\n\n"
"A row in a tree's columns without growing: per non-zero i, its local id is gmap[gidx[i]]\n"
"(gidx[i] itself when gmap is None and gidx[i] < n_known; -1: unknown, dropped); the ids\n"
"below cap are written to loc[:k] with val[:k] = gval and xs[:k] = gval * inv[loc]\n"
"(the scaled row). Returns k, the number of unknown ids, whether loc[:k] is 0..k-1, and\n"
"x2 = sum of xs^2. loc, val and xs hold at least len(gidx) items.");

static PyObject *row_local(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "row_local: expected 9 arguments");
        return NULL;
    }
    Py_ssize_t n_known = PyLong_AsSsize_t(args[3]), cap = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred())
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *gi, *gv, *gm = NULL, *invb, *lb, *vb, *xb;
    if (!(gi = take(&bs, args[0], 'q', 0, "gidx")) || !(gv = take(&bs, args[1], 'd', 0, "gval")) ||
        (args[2] != Py_None && !(gm = take(&bs, args[2], 'q', 0, "gmap"))) ||
        !(invb = take(&bs, args[5], 'd', 0, "inv")) || !(lb = take(&bs, args[6], 'q', 1, "loc")) ||
        !(vb = take(&bs, args[7], 'd', 1, "val")) || !(xb = take(&bs, args[8], 'd', 1, "xs"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t n = len(gi), nm = gm ? len(gm) : 0, ninv = len(invb);
    if (len(gv) != n || len(lb) < n || len(vb) < n || len(xb) < n || cap > ninv) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "row_local: inconsistent array shapes");
        return NULL;
    }
    const int64_t *g = gi->buf, *map = gm ? (const int64_t *)gm->buf : NULL;
    const double *v = gv->buf, *inv = invb->buf;
    int64_t *loc = lb->buf;
    double *val = vb->buf, *xs = xb->buf, x2 = 0.0;
    Py_ssize_t k = 0, unknown = 0;
    int dense = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t gid = g[i];
        int64_t l;
        if (map)
            l = gid >= 0 && gid < nm ? map[gid] : -1;
        else
            l = gid >= 0 && gid < n_known ? gid : -1;
        if (l < 0) {
            unknown++;
            continue;
        }
        if (l >= cap)
            continue;
        loc[k] = l;
        val[k] = v[i];
        const double x = v[i] * inv[l];
        xs[k] = x;
        x2 += x * x;
        dense &= l == k;
        k++;
    }
    release(&bs);
    return Py_BuildValue("nnOd", k, unknown, dense && k ? Py_True : Py_False, x2);
}

PyDoc_STRVAR(scaler_flush_doc,
"scaler_flush(cnt, sq, inv, rows) -> None\n\n"
"Add the buffered rows [(idx or None for 0..n-1, val), ...] to a feature scaler and refresh\n"
"its inverse scales, as FeatureScaler.flush: per feature, cnt += the rows that have it,\n"
"sq += the sum over those rows of val^2 (in row order, from 0), then inv = sqrt(cnt / sq)\n"
"where sq > 0, else 0 (only the features the rows touch change).");

static PyObject *scaler_flush(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "scaler_flush: expected (cnt, sq, inv, list of rows)");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer *cb, *qb, *ib;
    if (!(cb = take(&bs, args[0], 'd', 1, "cnt")) || !(qb = take(&bs, args[1], 'd', 1, "sq")) ||
        !(ib = take(&bs, args[2], 'd', 1, "inv"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t cap = len(cb);
    if (len(qb) != cap || len(ib) != cap) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "scaler_flush: inconsistent array shapes");
        return NULL;
    }
    double *cnt = cb->buf, *sq = qb->buf, *inv = ib->buf;
    double *acc = calloc((size_t)(cap ? cap : 1), 2 * sizeof(double));
    if (!acc) {
        release(&bs);
        return PyErr_NoMemory();
    }
    double *hit = acc + cap;
    PyObject *rows = args[3];
    const Py_ssize_t R = PyList_GET_SIZE(rows);
    int bad = 0;
    for (Py_ssize_t r = 0; r < R && !bad; r++) {
        PyObject *t = PyList_GET_ITEM(rows, r);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) {
            PyErr_SetString(PyExc_TypeError, "scaler_flush: a row must be (idx, val)");
            bad = 1;
            break;
        }
        Py_buffer xb, vb;
        PyObject *oi = PyTuple_GET_ITEM(t, 0);
        const int dense = oi == Py_None;
        if ((!dense && get(oi, &xb, 'q', 0, "idx") < 0)) {
            bad = 1;
            break;
        }
        if (get(PyTuple_GET_ITEM(t, 1), &vb, 'd', 0, "val") < 0) {
            if (!dense)
                PyBuffer_Release(&xb);
            bad = 1;
            break;
        }
        const Py_ssize_t n = len(&vb);
        const int64_t *idx = dense ? NULL : (const int64_t *)xb.buf;
        if ((!dense && len(&xb) != n) || check_rows(idx, n, cap) < 0) {
            PyErr_SetString(PyExc_ValueError, "scaler_flush: a row's ids are beyond the arrays");
            bad = 1;
        } else {
            const double *v = vb.buf;
            for (Py_ssize_t i = 0; i < n; i++) {
                const Py_ssize_t f = idx ? idx[i] : i;
                acc[f] += v[i] * v[i];
                hit[f] += 1.0;
            }
        }
        if (!dense)
            PyBuffer_Release(&xb);
        PyBuffer_Release(&vb);
    }
    if (!bad)
        for (Py_ssize_t f = 0; f < cap; f++)
            if (hit[f] != 0.0) {
                cnt[f] += hit[f];
                sq[f] += acc[f];
                inv[f] = sq[f] > 0.0 ? sqrt(cnt[f] / sq[f]) : 0.0;
            }
    free(acc);
    release(&bs);
    if (bad)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(threshold_count_doc,
             "threshold_count(counts, P, y, bin_of_percent, lower)\n\n"
             "The decision layer's counts of one (P, y) pair: counts[2 (j nb + bin(P[j])) + y[j]]\n"
             "+= 1 for every label j, nb = len(lower) bins; see kernels.threshold_count_numpy.");

static PyObject *threshold_count(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "threshold_count: expected (counts, P, y, bin_of_percent, lower)");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer *cb, *pb, *yb, *tb, *lb;
    if (!(cb = take(&bs, args[0], 'd', 1, "counts")) || !(pb = take(&bs, args[1], 'd', 0, "P")) ||
        !(yb = take(&bs, args[2], '?', 0, "y")) ||
        !(tb = take(&bs, args[3], 'q', 0, "bin_of_percent")) ||
        !(lb = take(&bs, args[4], 'd', 0, "lower"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(pb), nb = len(lb);
    if (len(yb) != L || len(tb) != 101 || len(cb) < 2 * L * nb) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "threshold_count: inconsistent array shapes");
        return NULL;
    }
    double *counts = cb->buf;
    const double *P = pb->buf, *lower = lb->buf;
    const char *y = yb->buf;
    const int64_t *bin = tb->buf;
    for (Py_ssize_t j = 0; j < L; j++) {
        double p = P[j];
        double q = p * 100.0;
        if (!(q < 100.0)) /* also NaN: the last bin, as np.minimum(nan, 100) would not give */
            q = 100.0;
        if (q < 0.0)
            q = 0.0;
        int64_t b = bin[(Py_ssize_t)q];
        if (b > 0 && p < lower[b])
            b--;
        if (b < 0 || b >= nb)
            continue;
        counts[2 * (j * nb + b) + (y[j] != 0)] += 1.0;
    }
    release(&bs);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ margin scorer (ihomer.margin) */

PyDoc_STRVAR(margin_votes_doc,
"margin_votes(W, b, idx, val, out) -> None\n\n"
"The margin scorer's votes on one row (see kernels.margin_votes_numpy): out[l] = (1 + s_l) / 2,\n"
"s_l = b[l] + sum_i val[i] W[idx[i] % rows, l] clipped to [-1, 1]; W is rows x L.");

static PyObject *margin_votes(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "margin_votes: expected (W, b, idx, val, out)");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer *wb, *bb, *ib, *vb, *ob;
    if (!(wb = take(&bs, args[0], 'd', 0, "W")) || !(bb = take(&bs, args[1], 'd', 0, "b")) ||
        !(ib = take(&bs, args[2], 'q', 0, "idx")) || !(vb = take(&bs, args[3], 'd', 0, "val")) ||
        !(ob = take(&bs, args[4], 'd', 1, "out"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(bb), n = len(vb);
    const Py_ssize_t rows = L ? len(wb) / L : 0;
    const int64_t *idx = ib->buf;
    int bad = len(ob) != L || len(ib) != n || (L && len(wb) % L) || (n && rows <= 0);
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = idx[i] < 0;
    if (bad) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "margin_votes: inconsistent array shapes or indices");
        return NULL;
    }
    const double *W = wb->buf, *val = vb->buf;
    double *out = ob->buf;
    memcpy(out, bb->buf, sizeof(double) * (size_t)L);
    for (Py_ssize_t i = 0; i < n; i++) {
        const double x = val[i], *w = W + (idx[i] % rows) * L;
        for (Py_ssize_t l = 0; l < L; l++)
            out[l] += x * w[l];
    }
    for (Py_ssize_t l = 0; l < L; l++) {
        double s = out[l];
        s = s > 1.0 ? 1.0 : (s < -1.0 ? -1.0 : s); /* NaN stays NaN: never, weights are finite */
        out[l] = 0.5 * (1.0 + s);
    }
    release(&bs);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(margin_learn_doc,
"margin_learn(W, G, N, b, Gb, stat, idx, val, y, eta, votes) -> int\n\n"
"One hinge-loss step of every label's learner on one row, Vowpal Wabbit's default update\n"
"(adaptive, normalised, importance-invariant); see kernels.margin_learn_numpy. votes: None, or\n"
"the row's margin_votes with these weights (the scores are then 2 votes - 1, not recomputed).\n"
"Returns the number of labels that had a loss (were updated). Zero values are absent\n"
"columns; the row's rows idx % len(N) must be distinct.");

static PyObject *margin_learn(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError,
                        "margin_learn: expected (W, G, N, b, Gb, stat, idx, val, y, eta, votes)");
        return NULL;
    }
    const double eta = PyFloat_AsDouble(args[9]);
    if (PyErr_Occurred())
        return NULL;
    Bufs bs = {.n = 0};
    Py_buffer *wb, *gb, *nb, *bb, *gbb, *sb, *ib, *vb, *yb, *qb = NULL;
    if (!(wb = take(&bs, args[0], 'd', 1, "W")) || !(gb = take(&bs, args[1], 'd', 1, "G")) ||
        !(nb = take(&bs, args[2], 'd', 1, "N")) || !(bb = take(&bs, args[3], 'd', 1, "b")) ||
        !(gbb = take(&bs, args[4], 'd', 1, "Gb")) ||
        !(sb = take(&bs, args[5], 'd', 1, "stat")) ||
        !(ib = take(&bs, args[6], 'q', 0, "idx")) || !(vb = take(&bs, args[7], 'd', 0, "val")) ||
        !(yb = take(&bs, args[8], '?', 0, "y")) ||
        (args[10] != Py_None && !(qb = take(&bs, args[10], 'd', 0, "votes")))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(bb), n = len(vb), rows = len(nb);
    const int64_t *idx = ib->buf;
    int bad = len(wb) != rows * L || len(gb) != rows * L || len(gbb) != L || len(sb) != 2 ||
              len(ib) != n || len(yb) != L || (n && rows <= 0) || (qb && len(qb) != L);
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = idx[i] < 0;
    if (bad) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "margin_learn: inconsistent array shapes or indices");
        return NULL;
    }
    double *W = wb->buf, *G = gb->buf, *N = nb->buf, *b = bb->buf, *Gb = gbb->buf;
    double *stat = sb->buf;
    const double *val = vb->buf;
    const char *y = yb->buf;
    /* s: the scores before the step, clipped to [-1, 1]; then per active label (a = 0..k-1):
     * ppu, the step u and the label act[a] */
    double *s = malloc(sizeof(double) * 3 * (size_t)(L ? L : 1));
    Py_ssize_t *act = malloc(sizeof(Py_ssize_t) * (size_t)(L ? L : 1));
    if (!s || !act) {
        free(s);
        free(act);
        release(&bs);
        return PyErr_NoMemory();
    }
    double *ppu = s + L, *u = s + 2 * L;
    if (qb) {
        const double *q = qb->buf;
        for (Py_ssize_t l = 0; l < L; l++)
            s[l] = 2.0 * q[l] - 1.0;
    } else {
        memcpy(s, b, sizeof(double) * (size_t)L);
        for (Py_ssize_t i = 0; i < n; i++) {
            const double x = val[i], *w = W + (idx[i] % rows) * L;
            for (Py_ssize_t l = 0; l < L; l++)
                s[l] += x * w[l];
        }
    }
    for (Py_ssize_t l = 0; l < L; l++)
        s[l] = s[l] > 1.0 ? 1.0 : (s[l] < -1.0 ? -1.0 : s[l]);
    /* the per-feature normalisers: a larger |x| rescales the feature's weights (as if the new
     * scale had been the old one) */
    double nx = 1.0; /* sum of (x / N)^2, the constant feature's included */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (val[i] == 0.0) /* a zero is an absent column (its normaliser stays) */
            continue;
        const Py_ssize_t r = idx[i] % rows;
        const double ax = fabs(val[i]);
        if (ax > N[r]) {
            if (N[r] > 0.0) {
                const double k = N[r] / ax;
                double *w = W + r * L;
                for (Py_ssize_t l = 0; l < L; l++)
                    w[l] *= k;
            }
            N[r] = ax;
        }
        const double q = val[i] / N[r];
        nx += q * q;
    }
    /* the labels with a hinge loss: y s < 1 (y = +-1); u holds y for now */
    Py_ssize_t k = 0;
    for (Py_ssize_t l = 0; l < L; l++) {
        const double yl = y[l] ? 1.0 : -1.0;
        if (yl * s[l] < 1.0) {
            act[k] = l;
            u[k] = yl;
            ppu[k] = 0.0;
            Gb[l] += 1.0;
            k++;
        }
    }
    double *rate = NULL; /* per (feature, active label): 1 / (sqrt(G) N^2) */
    if (k && !(rate = malloc(sizeof(double) * (size_t)(n ? n : 1) * (size_t)k))) {
        free(s);
        free(act);
        release(&bs);
        return PyErr_NoMemory();
    }
    if (k) {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (val[i] == 0.0)
                continue;
            const Py_ssize_t r = idx[i] % rows;
            const double x2 = val[i] * val[i], n2 = N[r] * N[r];
            double *g = G + r * L, *ra = rate + i * k;
            for (Py_ssize_t a = 0; a < k; a++) {
                double *ga = g + act[a];
                *ga += x2;
                ra[a] = 1.0 / (sqrt(*ga) * n2);
                ppu[a] += x2 * ra[a];
            }
        }
        stat[0] += (double)k;
        stat[1] += (double)k * nx;
        const double mult = sqrt(stat[0] / stat[1]);
        for (Py_ssize_t a = 0; a < k; a++) {
            const Py_ssize_t l = act[a];
            const double yl = u[a], rb = 1.0 / sqrt(Gb[l]), p = mult * (ppu[a] + rb);
            const double err = 1.0 - yl * s[l];
            u[a] = yl * (eta * p < err ? eta : err / p) * mult;
            b[l] += u[a] * rb;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            const double x = val[i];
            if (x == 0.0)
                continue;
            double *w = W + (idx[i] % rows) * L;
            const double *ra = rate + i * k;
            for (Py_ssize_t a = 0; a < k; a++)
                w[act[a]] += x * u[a] * ra[a];
        }
    }
    free(rate);
    free(s);
    free(act);
    release(&bs);
    return PyLong_FromSsize_t(k);
}

PyDoc_STRVAR(margin_standardise_doc,
"margin_standardise(moments, idx, val, out_idx, out_val) -> int\n\n"
"The row as a standardising margin scorer sees it (see kernels.margin_standardise_numpy):\n"
"writes the non-zero (idx, z) pairs to out_idx / out_val and returns how many.");

static PyObject *margin_standardise(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "margin_standardise: expected (moments, idx, val, out_idx, out_val)");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer *mb, *ib, *vb, *oib, *ovb;
    if (!(mb = take(&bs, args[0], 'd', 0, "moments")) ||
        !(ib = take(&bs, args[1], 'q', 0, "idx")) || !(vb = take(&bs, args[2], 'd', 0, "val")) ||
        !(oib = take(&bs, args[3], 'q', 1, "out_idx")) ||
        !(ovb = take(&bs, args[4], 'd', 1, "out_val"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t n = len(vb), R = len(mb) / 3;
    if (len(mb) % 3 || len(ib) != n || len(oib) < n || len(ovb) < n) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "margin_standardise: inconsistent array shapes");
        return NULL;
    }
    const double *mo = mb->buf, *val = vb->buf;
    const int64_t *idx = ib->buf;
    int64_t *oi = oib->buf;
    double *ov = ovb->buf;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t r = idx[i];
        double z = val[i];
        if (r >= 0 && r < R) {
            const double *m = mo + 3 * r;
            const double c = m[0] > 1.0 ? m[0] : 1.0;
            const double mean = m[1] / c, sq = m[2] / c, var = sq - mean * mean;
            if (var > 1e-12 * sq) /* the column's past values varied (False for NaN too) */
                z = (z - mean) / sqrt(var);
        }
        if (z != 0.0) {
            oi[k] = r;
            ov[k] = z;
            k++;
        }
    }
    release(&bs);
    return PyLong_FromSsize_t(k);
}

PyDoc_STRVAR(margin_moments_doc,
"margin_moments(moments, idx, val) -> None\n\n"
"Add a row to the per-column moments (count, sum, sum of squares) of a standardising margin\n"
"scorer: moments[idx[i]] += (1, val[i], val[i]^2).");

static PyObject *margin_moments(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "margin_moments: expected (moments, idx, val)");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer *mb, *ib, *vb;
    if (!(mb = take(&bs, args[0], 'd', 1, "moments")) ||
        !(ib = take(&bs, args[1], 'q', 0, "idx")) || !(vb = take(&bs, args[2], 'd', 0, "val"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t n = len(vb), R = len(mb) / 3;
    const int64_t *idx = ib->buf;
    int bad = len(mb) % 3 || len(ib) != n;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = idx[i] < 0 || idx[i] >= R;
    if (bad) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "margin_moments: inconsistent array shapes or indices");
        return NULL;
    }
    double *mo = mb->buf;
    const double *val = vb->buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        double *m = mo + 3 * idx[i];
        m[0] += 1.0;
        m[1] += val[i];
        m[2] += val[i] * val[i];
    }
    release(&bs);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(margin_blend_learn_doc,
"margin_blend_learn(P, V, y, src, w, loss) -> int\n\n"
"Score the margin blend's candidates on one instance (see kernels.margin_blend_learn_numpy):\n"
"loss[c] += sum_l ((1 - w[c]) P[l] + w[c] V[src[c], l] - y[l])^2 (P alone where src[c] < 0);\n"
"returns the index of the smallest loss (the first on a tie).");

static PyObject *margin_blend_learn(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "margin_blend_learn: expected (P, V, y, src, w, loss)");
        return NULL;
    }
    Bufs bs = {.n = 0};
    Py_buffer *pb, *vb, *yb, *sb, *wb, *lb;
    if (!(pb = take(&bs, args[0], 'd', 0, "P")) || !(vb = take(&bs, args[1], 'd', 0, "V")) ||
        !(yb = take(&bs, args[2], '?', 0, "y")) || !(sb = take(&bs, args[3], 'q', 0, "src")) ||
        !(wb = take(&bs, args[4], 'd', 0, "w")) || !(lb = take(&bs, args[5], 'd', 1, "loss"))) {
        release(&bs);
        return NULL;
    }
    const Py_ssize_t L = len(pb), C = len(lb);
    const Py_ssize_t S = L ? len(vb) / L : 0;
    const int64_t *src = sb->buf;
    int bad = len(yb) != L || len(sb) != C || len(wb) != C || C < 1 || S > 16 ||
              (L && len(vb) % L);
    for (Py_ssize_t c = 0; c < C && !bad; c++)
        bad = src[c] >= S;
    if (bad) {
        release(&bs);
        PyErr_SetString(PyExc_ValueError, "margin_blend_learn: inconsistent array shapes");
        return NULL;
    }
    const double *P = pb->buf, *V = vb->buf, *w = wb->buf;
    const char *y = yb->buf;
    double *loss = lb->buf;
    double dd = 0.0, de[16] = {0.0}, ee[16] = {0.0};
    for (Py_ssize_t l = 0; l < L; l++) {
        const double d = P[l] - (y[l] ? 1.0 : 0.0);
        dd += d * d;
        for (Py_ssize_t j = 0; j < S; j++) {
            const double e = V[j * L + l] - P[l];
            de[j] += d * e;
            ee[j] += e * e;
        }
    }
    Py_ssize_t best = 0;
    for (Py_ssize_t c = 0; c < C; c++) {
        const int64_t j = src[c];
        loss[c] += j < 0 ? dd : dd + w[c] * (2.0 * de[j] + w[c] * ee[j]);
        if (loss[c] < loss[best])
            best = c;
    }
    release(&bs);
    return PyLong_FromSsize_t(best);
}

static PyMethodDef methods[] = {
    {"margin_blend_learn", (PyCFunction)(void (*)(void))margin_blend_learn, METH_FASTCALL,
     margin_blend_learn_doc},
    {"margin_standardise", (PyCFunction)(void (*)(void))margin_standardise, METH_FASTCALL,
     margin_standardise_doc},
    {"margin_moments", (PyCFunction)(void (*)(void))margin_moments, METH_FASTCALL,
     margin_moments_doc},
    {"margin_votes", (PyCFunction)(void (*)(void))margin_votes, METH_FASTCALL, margin_votes_doc},
    {"margin_learn", (PyCFunction)(void (*)(void))margin_learn, METH_FASTCALL, margin_learn_doc},
    {"threshold_count", (PyCFunction)(void (*)(void))threshold_count, METH_FASTCALL,
     threshold_count_doc},
    {"scaler_flush", (PyCFunction)(void (*)(void))scaler_flush, METH_FASTCALL, scaler_flush_doc},
    {"leaf_learn", (PyCFunction)(void (*)(void))leaf_learn, METH_FASTCALL, leaf_learn_doc},
    {"nb_mix", (PyCFunction)(void (*)(void))nb_mix, METH_FASTCALL, nb_mix_doc},
    {"row_local", (PyCFunction)(void (*)(void))row_local, METH_FASTCALL, row_local_doc},
    {"linear_proba", linear_proba, METH_VARARGS, linear_proba_doc},
    {"leaf_step", leaf_step, METH_VARARGS, leaf_step_doc},
    {"nb_add", nb_add, METH_VARARGS, nb_add_doc},
    {"stats_add", stats_add, METH_VARARGS, stats_add_doc},
    {"nb_fit", nb_fit, METH_VARARGS, nb_fit_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Compiled kernels of ihomer.trees (optional; see ihomer/trees/kernels.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
