/* linalg.c: least squares by QR, SVD, normal equations, gradient descent, SGD and CGLS, and
 * the dense decompositions behind loom.linalg. Not LAPACK calls (blas.c) nor statistics. */
#include "linalg.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "blas.h"
#include "kernel.h"

#define EPS DBL_EPSILON

void loom_lstsq_defaults(loom_lstsq_options *opt, loom_lstsq_method method)
{
    *opt = (loom_lstsq_options){0};
    opt->method = method;
    opt->tol = 1e-10;
    opt->max_iter = method == LOOM_LSTSQ_SGD ? 200 : 1000;
    opt->batch = 32;
    opt->schedule = LOOM_LR_CONSTANT;
    opt->decay = 0.0;
    opt->refine = method == LOOM_LSTSQ_QR || method == LOOM_LSTSQ_SVD;
}

void loom_lstsq_info_release(loom_lstsq_info *info)
{
    loom_free(info->order);
    loom_free(info->singular_values);
    info->order = NULL;
    info->singular_values = NULL;
    info->sv_count = 0;
    loom_matrix_release(&info->cov);
    loom_matrix_release(&info->depend);
}

static void info_reset(loom_lstsq_info *info)
{
    memset(info, 0, sizeof *info);
    info->cond = NAN;
    info->cond_normal = NAN;
    info->residual_norm = NAN;
    info->converged = 1;
    info->cov = (loom_matrix){.ld = 1};
    info->depend = (loom_matrix){.ld = 1};
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* scale (p) = 1 / ||column j of x||, or 1 for a zero column (it stays zero). */
static void column_scales(double *scale, const loom_matrix *x)
{
    size_t m = x->rows, p = x->cols;
    for (size_t j = 0; j < p; j++)
        scale[j] = 0.0;
    for (size_t i = 0; i < m; i++) {
        const double *row = loom_at(x, i, 0);
        for (size_t j = 0; j < p; j++)
            scale[j] += row[j] * row[j];
    }
    for (size_t j = 0; j < p; j++)
        scale[j] = scale[j] > 0.0 && isfinite(scale[j]) ? 1.0 / sqrt(scale[j]) : 1.0;
}

/* a (column-major, lda >= m) = x (row-major m x p) * diag(scale), by 32 x 32 tiles so both
 * sides stay in cache. This is the one copy of X the direct solvers make. */
static void to_column_major(double *a, size_t lda, const loom_matrix *x, const double *scale)
{
    enum { TILE = 32 };
    for (size_t i0 = 0; i0 < x->rows; i0 += TILE)
        for (size_t j0 = 0; j0 < x->cols; j0 += TILE) {
            size_t i1 = i0 + TILE < x->rows ? i0 + TILE : x->rows;
            size_t j1 = j0 + TILE < x->cols ? j0 + TILE : x->cols;
            for (size_t j = j0; j < j1; j++) {
                double s = scale ? scale[j] : 1.0;
                for (size_t i = i0; i < i1; i++)
                    a[i + j * lda] = *loom_at(x, i, j) * s;
            }
        }
}

loom_status loom_lstsq_residual_norm(double *out, const loom_matrix *x, const loom_matrix *beta,
                                     const loom_matrix *y)
{
    if (x->rows != y->rows || x->cols != beta->rows || beta->cols != y->cols)
        return LOOM_EDIM;
    loom_matrix r;
    loom_status st = loom_matrix_init(&r, y->rows, y->cols);
    if (st != LOOM_OK)
        return st;
    loom_matrix_copy(&r, y);
    st = loom_gemm(&r, -1.0, x, 0, beta, 0, 1.0);
    *out = loom_matrix_norm(&r);
    loom_matrix_release(&r);
    return st;
}

/* ---- direct methods on the scaled, augmented system ---- */

/* The work of the QR and SVD paths: A = [X D; sqrt(ridge) D] (ma = m or m + p rows) and
 * B = [Y; 0], reduced to the small triangle R (in t, p x p) and the first p rows of Q^T B
 * (in b), so both paths finish in O(p^3). A wide A (ma <= p) is copied as it is (t is ma x p). */
typedef struct direct_work {
    size_t m, p, k, ma, ldb, tm; /* ldb = p; tm: rows of t (p, or ma when ma <= p) */
    double *scale;               /* p */
    double *b;                   /* p x k, column-major: Q^T B's first p rows, then z */
    double *t;                   /* tm x p, column-major */
} direct_work;

static void direct_release(direct_work *w)
{
    loom_free(w->scale);
    loom_free(w->b);
    loom_free(w->t);
}

/* Row i (0-based, < ma) of [X D | Y] augmented by the ridge rows, into column-major buf. */
static void augmented_row(double *buf, size_t ld, size_t row, const loom_matrix *x,
                          const loom_matrix *y, const double *scale, double sqrt_ridge, size_t i)
{
    size_t p = x->cols, k = y->cols;
    if (i < x->rows) {
        const double *xi = loom_at(x, i, 0), *yi = loom_at(y, i, 0);
        for (size_t j = 0; j < p; j++)
            buf[row + j * ld] = xi[j] * scale[j];
        for (size_t c = 0; c < k; c++)
            buf[row + (p + c) * ld] = yi[c];
    } else {
        for (size_t j = 0; j < p + k; j++)
            buf[row + j * ld] = 0.0;
        buf[row + (i - x->rows) * ld] = sqrt_ridge * scale[i - x->rows];
    }
}

/* Sequential TSQR of the tall [A | B]: each chunk of rows is folded into the running
 * triangle R and Q^T B by LAPACK's triangular-pentagonal QR (dtpqrt), in cache and with
 * level-3 panels. A sequence of Householder reflections, so as stable as one QR of A, and
 * no copy of X: the work is one chunk of [A | B], a few MB. */
static loom_status tall_reduce(direct_work *w, const loom_matrix *x, const loom_matrix *y,
                               double sqrt_ridge)
{
    size_t p = w->p, k = w->k, cols = p + k;
    size_t chunk = ((size_t)1 << 16) / cols;
    chunk = chunk > 4 * p ? chunk : 4 * p;
    chunk = chunk < w->ma ? chunk : w->ma;
    size_t nb = p < 32 ? p : 32;
    double *buf = loom_malloc(chunk * cols * sizeof(double));   /* [A | B] rows, ld chunk */
    double *t = loom_malloc(nb * p * sizeof(double));
    loom_status st = buf && t ? LOOM_OK : LOOM_ENOMEM;
    /* For p below a few hundred each step is a small in-cache problem: BLAS threads cost
     * more in synchronisation than they save (3x slower with 2 threads on a busy machine),
     * so the steps run on one. Wide steps keep them. */
    int threads = p < 512 ? loom_blas_get_threads() : 1;
    if (threads > 1)
        loom_blas_set_threads(1);
    for (size_t r0 = 0; st == LOOM_OK && r0 < w->ma; r0 += chunk) {
        size_t rows = r0 + chunk < w->ma ? chunk : w->ma - r0;
        for (size_t i = 0; i < rows; i++)
            augmented_row(buf, chunk, i, x, y, w->scale, sqrt_ridge, r0 + i);
        st = loom_lapack_tpqrt(w->t, p, buf, chunk, rows, p, nb, t, nb);
        if (st == LOOM_OK && k > 0)
            st = loom_lapack_tpmqrt_t(w->b, w->ldb, buf + p * chunk, chunk, rows, k, buf, chunk,
                                      p, nb, t, nb);
    }
    if (threads > 1)
        loom_blas_set_threads(threads);
    loom_free(buf);
    loom_free(t);
    return st;
}

static loom_status direct_prepare(direct_work *w, const loom_matrix *x, const loom_matrix *y,
                                  double ridge)
{
    size_t m = x->rows, p = x->cols, k = y->cols;
    size_t ma = m + (ridge > 0.0 ? p : 0);
    *w = (direct_work){m, p, k, ma, p, ma > p ? p : ma, NULL, NULL, NULL};
    w->scale = loom_malloc(p * sizeof(double));
    w->b = loom_calloc(w->ldb * k, sizeof(double));
    w->t = loom_calloc(w->tm * p + 1, sizeof(double));
    if (!w->scale || !w->b || !w->t)
        return LOOM_ENOMEM;
    column_scales(w->scale, x);
    if (ma > p)
        return tall_reduce(w, x, y, sqrt(ridge));
    /* Wide: the whole A is the trapezoid to factor (ma <= p rows). */
    double *rowbuf = loom_malloc((p + k) * sizeof(double));
    if (!rowbuf)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < ma; i++) {
        augmented_row(rowbuf, 1, 0, x, y, w->scale, sqrt(ridge), i);
        for (size_t j = 0; j < p; j++)
            w->t[i + j * ma] = rowbuf[j];
        for (size_t c = 0; c < k; c++)
            w->b[i + c * w->ldb] = rowbuf[p + c];
    }
    loom_free(rowbuf);
    return LOOM_OK;
}

/* beta (p x k, row-major) = D * (solution z in rows 0..p-1 of b, permuted by order). */
static void direct_unscale(loom_matrix *beta, const direct_work *w, const size_t *order)
{
    for (size_t c = 0; c < w->k; c++)
        for (size_t i = 0; i < w->p; i++) {
            size_t j = order ? order[i] : i;
            *loom_at(beta, j, c) = w->b[i + c * w->ldb] * w->scale[j];
        }
}

/* cov (p x p) = D P R^-1 R^-T P^T D from the full-rank triangle r (p x p, column-major). */
static loom_status qr_covariance(loom_matrix *cov, const double *r, size_t p, const size_t *order,
                                 const double *scale)
{
    double *inv = loom_malloc(p * p * sizeof(double) + 1);
    if (!inv)
        return LOOM_ENOMEM;
    loom_copy_bytes(inv, r, p * p * sizeof(double));
    loom_status st = loom_lapack_trtri(inv, p, p, NULL);
    if (st == LOOM_OK)
        st = loom_matrix_init(cov, p, p);
    if (st == LOOM_OK)
        for (size_t a = 0; a < p; a++)
            for (size_t b = a; b < p; b++) {
                double s = 0.0;
                for (size_t c = b; c < p; c++)
                    s += inv[a + c * p] * inv[b + c * p];
                size_t ja = order[a], jb = order[b];
                s *= scale[ja] * scale[jb];
                *loom_at(cov, ja, jb) = s;
                *loom_at(cov, jb, ja) = s;
            }
    loom_free(inv);
    return st;
}

/* One step of corrected semi-normal equations (Bjorck): beta += D P R^-1 R^-T P^T D
 * (X^T r - ridge beta), r = Y - X beta. It removes most of the rounding error of the
 * factorisation for one more pass over X; only taken while cond(R) < 1e7, where the
 * semi-normal step is known to be as accurate as QR itself. */
static loom_status refine_seminormal(loom_matrix *beta, const loom_matrix *x, const loom_matrix *y,
                                     double ridge, const double *r, size_t p, const size_t *order,
                                     const double *scale)
{
    size_t k = y->cols;
    loom_matrix res, g;
    loom_status st = loom_matrix_init(&res, y->rows, k);
    loom_status st2 = loom_matrix_init(&g, k, p);
    double *rhs = loom_malloc(p * k * sizeof(double) + 1);
    if (st == LOOM_OK)
        st = st2;
    if (st == LOOM_OK && !rhs)
        st = LOOM_ENOMEM;
    if (st == LOOM_OK) {
        loom_matrix_copy(&res, y);
        st = loom_gemm(&res, -1.0, x, 0, beta, 0, 1.0);
    }
    if (st == LOOM_OK)
        st = loom_gemm(&g, 1.0, &res, 1, x, 0, 0.0); /* g (k x p) = (X^T r)^T */
    if (st == LOOM_OK) {
        for (size_t c = 0; c < k; c++)
            for (size_t i = 0; i < p; i++) {
                size_t j = order[i];
                rhs[i + c * p] = (*loom_at(&g, c, j) - ridge * *loom_at(beta, j, c)) * scale[j];
            }
        st = loom_lapack_trtrs(rhs, p, k, r, p, p, 1, NULL);
        if (st == LOOM_OK)
            st = loom_lapack_trtrs(rhs, p, k, r, p, p, 0, NULL);
        for (size_t c = 0; st == LOOM_OK && c < k; c++)
            for (size_t i = 0; i < p; i++) {
                size_t j = order[i];
                *loom_at(beta, j, c) += rhs[i + c * p] * scale[j];
            }
    }
    loom_matrix_release(&res);
    loom_matrix_release(&g);
    loom_free(rhs);
    return st;
}

static double rank_rcond(const loom_lstsq_options *opt, size_t m, size_t p)
{
    return opt->rcond > 0.0 ? opt->rcond : (double)(m > p ? m : p) * EPS;
}

static loom_status lstsq_qr(loom_matrix *beta, loom_lstsq_info *info, const loom_matrix *x,
                            const loom_matrix *y, const loom_lstsq_options *opt)
{
    direct_work w;
    loom_status st = direct_prepare(&w, x, y, opt->ridge);
    size_t p = w.p, tm = w.tm;
    int *jpvt = loom_calloc(p + 1, sizeof(int));
    double *tau2 = loom_malloc(p * sizeof(double) + 1);
    info->order = loom_malloc(p * sizeof(size_t) + 1);
    if (st == LOOM_OK && (!jpvt || !tau2 || !info->order))
        st = LOOM_ENOMEM;
    /* Pivoted QR of the small triangle reveals the rank at O(p^3), not O(m p^2). */
    if (st == LOOM_OK)
        st = loom_lapack_geqp3(w.t, tm, tm, p, jpvt, tau2);
    if (st == LOOM_OK)
        st = loom_lapack_ormqr_t(w.b, w.ldb, tm, w.k, w.t, tm, tm < p ? tm : p, tau2);
    if (st == LOOM_OK) {
        for (size_t i = 0; i < p; i++)
            info->order[i] = (size_t)jpvt[i] - 1;
        size_t diag = tm < p ? tm : p, rank = 0;
        double r11 = diag > 0 ? fabs(w.t[0]) : 0.0, tol = rank_rcond(opt, w.ma, p) * r11;
        while (rank < diag && fabs(w.t[rank + rank * tm]) > tol)
            rank++;
        info->rank = rank;
        /* Basic solution: the dependent columns (last in pivot order) get zero. */
        st = loom_lapack_trtrs(w.b, w.ldb, w.k, w.t, tm, rank, 0, NULL);
        for (size_t c = 0; c < w.k; c++)
            for (size_t i = rank; i < p; i++)
                w.b[i + c * w.ldb] = 0.0;
        double rc = 0.0;
        if (st == LOOM_OK && rank == p) {
            st = loom_lapack_trcon(&rc, w.t, tm, p);
            if (st == LOOM_OK && opt->want_cov)
                st = qr_covariance(&info->cov, w.t, p, info->order, w.scale);
        }
        info->cond = rc > 0.0 ? 1.0 / rc : INFINITY;
    }
    if (st == LOOM_OK)
        direct_unscale(beta, &w, info->order);
    if (st == LOOM_OK && opt->refine && info->rank == p && info->cond < 1e7)
        st = refine_seminormal(beta, x, y, opt->ridge, w.t, p, info->order, w.scale);
    loom_free(jpvt);
    loom_free(tau2);
    direct_release(&w);
    return st;
}

/* The refinement step of the QR path for the unpivoted R of the SVD path. */
static loom_status refine_identity_order(loom_matrix *beta, const loom_matrix *x,
                                         const loom_matrix *y, double ridge, const double *r,
                                         size_t p, const double *scale)
{
    size_t *order = loom_malloc(p * sizeof(size_t) + 1);
    if (!order)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < p; i++)
        order[i] = i;
    loom_status st = refine_seminormal(beta, x, y, ridge, r, p, order, scale);
    loom_free(order);
    return st;
}

/* gelsd's answer is the minimum-norm z of the scaled problem; the minimum-norm beta is its
 * projection on the row space of X, span(D^-1 V_r), V_r the leading right singular vectors
 * of the scaled triangle t (tm x p, column-major; destroyed). */
static loom_status min_norm_projection(loom_matrix *beta, double *t, size_t tm, size_t p,
                                       size_t rank, const double *scale)
{
    size_t k = tm < p ? tm : p;
    double *s = loom_malloc(k * sizeof(double) + 1), *u = loom_malloc(tm * k * sizeof(double) + 1);
    double *vt = loom_malloc(k * p * sizeof(double) + 1), *wm = loom_malloc(p * rank * sizeof(double) + 1);
    loom_status st = s && u && vt && wm ? LOOM_OK : LOOM_ENOMEM;
    if (st == LOOM_OK)
        st = loom_lapack_gesdd(t, tm, tm, p, s, u, tm, vt, k);
    if (st == LOOM_OK) {
        /* wm (p x rank, column-major) = D^-1 V_r, orthonormalised by modified Gram-Schmidt */
        for (size_t a = 0; a < rank; a++) {
            double *col = wm + a * p;
            for (size_t j = 0; j < p; j++)
                col[j] = vt[a + j * k] / scale[j];
            for (size_t b = 0; b < a; b++) {
                double h = dot(wm + b * p, col, p);
                for (size_t j = 0; j < p; j++)
                    col[j] -= h * wm[b * p + j];
            }
            double nrm = sqrt(dot(col, col, p));
            for (size_t j = 0; j < p; j++)
                col[j] = nrm > 0.0 ? col[j] / nrm : 0.0;
        }
        for (size_t c = 0; c < beta->cols; c++) {
            double h[64], *hv = rank <= 64 ? h : loom_malloc(rank * sizeof(double));
            if (!hv) {
                st = LOOM_ENOMEM;
                break;
            }
            for (size_t a = 0; a < rank; a++) {
                double acc = 0.0;
                for (size_t j = 0; j < p; j++)
                    acc += wm[a * p + j] * *loom_at(beta, j, c);
                hv[a] = acc;
            }
            for (size_t j = 0; j < p; j++) {
                double acc = 0.0;
                for (size_t a = 0; a < rank; a++)
                    acc += wm[a * p + j] * hv[a];
                *loom_at(beta, j, c) = acc;
            }
            if (hv != h)
                loom_free(hv);
        }
    }
    loom_free(s);
    loom_free(u);
    loom_free(vt);
    loom_free(wm);
    return st;
}

static loom_status lstsq_svd(loom_matrix *beta, loom_lstsq_info *info, const loom_matrix *x,
                             const loom_matrix *y, const loom_lstsq_options *opt)
{
    direct_work w;
    loom_status st = direct_prepare(&w, x, y, opt->ridge);
    size_t ns = w.tm < w.p ? w.tm : w.p;
    info->singular_values = loom_malloc(ns * sizeof(double) + 1);
    info->sv_count = ns;
    if (st == LOOM_OK && !info->singular_values)
        st = LOOM_ENOMEM;
    double *t2 = loom_malloc(w.tm * w.p * sizeof(double) + 1);
    if (st == LOOM_OK && !t2)
        st = LOOM_ENOMEM;
    if (st == LOOM_OK) {
        loom_copy_bytes(t2, w.t, w.tm * w.p * sizeof(double));
        st = loom_lapack_gelsd(w.t, w.tm, w.tm, w.p, w.b, w.ldb, w.k, info->singular_values,
                               rank_rcond(opt, w.ma, w.p), &info->rank);
    }
    if (st == LOOM_OK) {
        double smax = ns > 0 ? info->singular_values[0] : 0.0;
        double smin = ns == w.p && ns > 0 ? info->singular_values[ns - 1] : 0.0;
        info->cond = smin > 0.0 ? smax / smin : INFINITY;
        direct_unscale(beta, &w, NULL);
        if (info->rank < w.p)
            st = min_norm_projection(beta, t2, w.tm, w.p, info->rank, w.scale);
        else if (opt->refine && w.ma > w.p && info->cond < 1e7) /* t2 is the triangle R */
            st = refine_identity_order(beta, x, y, opt->ridge, t2, w.p, w.scale);
    }
    loom_free(t2);
    direct_release(&w);
    return st;
}

/* ---- normal equations ---- */

/* Why X^T X (scaled, unit diagonal) is singular: a Cholesky in column order that sets aside
 * each column whose pivot (what is left of it once the earlier independent columns are
 * taken out) is below tol, so a message can say "column 4 = column 1 + column 2". */
typedef struct dependence_work {
    double *l;      /* p x p row-major: Cholesky rows of the independent columns */
    double *c, *d;  /* p each */
    double *coef;   /* p x p: coef[k * p + i], dependent column k on independent slot i */
    size_t *indep, *dep, *dep_rank;
} dependence_work;

/* One pass; returns the number of dependent columns, *weakest the smallest accepted pivot. */
static size_t dependence_pass(dependence_work *w, const double *g, size_t p, double tol,
                              size_t *rank, double *weakest)
{
    size_t r = 0, nd = 0;
    *weakest = INFINITY;
    for (size_t j = 0; j < p; j++) {
        double piv = g[j * p + j];
        for (size_t a = 0; a < r; a++) {
            double s = g[w->indep[a] * p + j];
            for (size_t b = 0; b < a; b++)
                s -= w->l[a * p + b] * w->c[b];
            w->c[a] = s / w->l[a * p + a];
            piv -= w->c[a] * w->c[a];
        }
        if (piv <= tol) {
            /* coefficients on the r earlier columns: L^T d = c */
            for (size_t a = r; a-- > 0;) {
                double s = w->c[a];
                for (size_t b = a + 1; b < r; b++)
                    s -= w->l[b * p + a] * w->d[b];
                w->d[a] = s / w->l[a * p + a];
            }
            for (size_t a = 0; a < p; a++)
                w->coef[nd * p + a] = a < r ? w->d[a] : 0.0;
            w->dep_rank[nd] = r;
            w->dep[nd++] = j;
        } else {
            for (size_t b = 0; b < r; b++)
                w->l[r * p + b] = w->c[b];
            w->l[r * p + r] = sqrt(piv);
            *weakest = piv < *weakest ? piv : *weakest;
            w->indep[r++] = j;
        }
    }
    *rank = r;
    return nd;
}

static loom_status normal_dependence(loom_lstsq_info *info, const double *g, size_t p,
                                     const double *scale)
{
    dependence_work w;
    w.l = loom_calloc(p * p + 1, sizeof(double));
    w.coef = loom_calloc(p * p + 1, sizeof(double));
    w.c = loom_malloc(p * sizeof(double) + 1);
    w.d = loom_malloc(p * sizeof(double) + 1);
    w.indep = loom_malloc(p * sizeof(size_t) + 1);
    w.dep = loom_malloc(p * sizeof(size_t) + 1);
    w.dep_rank = loom_malloc(p * sizeof(size_t) + 1);
    info->order = loom_malloc(p * sizeof(size_t) + 1);
    loom_status st = w.l && w.coef && w.c && w.d && w.indep && w.dep && w.dep_rank && info->order
                         ? LOOM_OK : LOOM_ENOMEM;
    if (st == LOOM_OK) {
        size_t rank;
        double weakest;
        size_t nd = dependence_pass(&w, g, p, 100.0 * (double)p * EPS, &rank, &weakest);
        if (nd == 0) /* nearly, not exactly, dependent: name the weakest column */
            nd = dependence_pass(&w, g, p, weakest * (1.0 + 1e-9), &rank, &weakest);
        info->rank = rank;
        for (size_t i = 0; i < rank; i++)
            info->order[i] = w.indep[i];
        for (size_t k = 0; k < nd; k++)
            info->order[rank + k] = w.dep[k];
        st = loom_matrix_init(&info->depend, rank, nd);
        for (size_t k = 0; st == LOOM_OK && k < nd; k++)
            for (size_t i = 0; i < rank; i++) {
                /* slot i of the factor at the time column dep[k] was met, if it existed */
                double c = i < w.dep_rank[k] ? w.coef[k * p + i] : 0.0;
                *loom_at(&info->depend, i, k) = c * scale[w.indep[i]] / scale[w.dep[k]];
            }
    }
    loom_free(w.l);
    loom_free(w.coef);
    loom_free(w.c);
    loom_free(w.d);
    loom_free(w.indep);
    loom_free(w.dep);
    loom_free(w.dep_rank);
    return st == LOOM_OK ? LOOM_ESINGULAR : st;
}

static loom_status lstsq_normal(loom_matrix *beta, loom_lstsq_info *info, const loom_matrix *x,
                                const loom_matrix *y, const loom_lstsq_options *opt)
{
    size_t p = x->cols, k = y->cols;
    loom_matrix g, c;
    double *scale = loom_malloc(p * sizeof(double) + 1), *f = loom_malloc(p * p * sizeof(double) + 1);
    loom_status st = loom_matrix_init(&g, p, p);
    loom_status st2 = loom_matrix_init(&c, k, p);
    if (st == LOOM_OK)
        st = st2;
    if (st == LOOM_OK && (!scale || !f))
        st = LOOM_ENOMEM;
    if (st == LOOM_OK)
        st = loom_syrk_xtx(&g, x);
    /* A NaN or an infinity anywhere in X reaches its column's sum of squares: checking the
     * diagonal here saves the caller a pass over X (so does an overflowing X'X). */
    for (size_t j = 0; st == LOOM_OK && j < p; j++)
        if (!isfinite(*loom_at(&g, j, j)))
            st = LOOM_EFORMAT;
    if (st == LOOM_OK)
        st = loom_gemm(&c, 1.0, y, 1, x, 0, 0.0); /* c (k x p) = (X^T Y)^T: column-major X^T Y */
    if (st == LOOM_OK) {
        /* Equilibrate: D X^T X D has a unit diagonal, which is all Cholesky needs to lose
         * only what the conditioning of X itself costs (van der Sluis). */
        for (size_t j = 0; j < p; j++) {
            double gjj = *loom_at(&g, j, j);
            scale[j] = gjj > 0.0 && isfinite(gjj) ? 1.0 / sqrt(gjj) : 1.0;
        }
        double anorm = 0.0;
        for (size_t j = 0; j < p; j++) {
            double colsum = 0.0;
            for (size_t i = 0; i < p; i++) {
                double v = *loom_at(&g, i, j) * scale[i] * scale[j];
                if (i == j)
                    v += opt->ridge * scale[j] * scale[j];
                *loom_at(&g, i, j) = v;
                colsum += fabs(v);
            }
            anorm = colsum > anorm ? colsum : anorm;
            for (size_t r = 0; r < k; r++)
                *loom_at(&c, r, j) *= scale[j];
        }
        loom_copy_bytes(f, g.data, p * p * sizeof(double));
        size_t minor = 0;
        double rc = 0.0;
        st = loom_lapack_potrf(f, p, p, &minor);
        if (st == LOOM_OK)
            st = loom_lapack_pocon(&rc, f, p, p, anorm);
        if (st == LOOM_OK || st == LOOM_ENOTPD) {
            info->cond_normal = rc > 0.0 ? 1.0 / rc : INFINITY;
            info->cond = sqrt(info->cond_normal);
            if (st == LOOM_ENOTPD || rc < (double)p * EPS)
                st = normal_dependence(info, g.data, p, scale);
        }
        if (st == LOOM_OK) {
            info->rank = p;
            st = loom_lapack_potrs(c.data, p, k, f, p, p);
        }
        if (st == LOOM_OK)
            for (size_t j = 0; j < p; j++)
                for (size_t r = 0; r < k; r++)
                    *loom_at(beta, j, r) = *loom_at(&c, r, j) * scale[j];
    }
    loom_matrix_release(&g);
    loom_matrix_release(&c);
    loom_free(scale);
    loom_free(f);
    return st;
}

/* ---- iterative methods on the scaled problem ----
 * With D = diag(sqrt(m) / ||x_j||) every column of X D has unit mean square, so step sizes
 * mean the same on any data. They minimise f(z) = (||X D z - y||^2 + ridge ||D z||^2) / 2m
 * and beta = D z. */

typedef struct iter_work {
    const loom_matrix *x;
    size_t m, p;
    double ridge;
    double *d;      /* p: the scaling D */
    double *z, *s, *q, *r, *tmp; /* p, p, m, m, p */
} iter_work;

/* out (m) = X D v. */
static loom_status apply_xd(iter_work *w, double *out, const double *v)
{
    for (size_t j = 0; j < w->p; j++)
        w->tmp[j] = w->d[j] * v[j];
    loom_matrix vm = loom_matrix_wrap(w->tmp, w->p, 1), om = loom_matrix_wrap(out, w->m, 1);
    return loom_gemm(&om, 1.0, w->x, 0, &vm, 0, 0.0);
}

/* s (p) = minus the gradient of f at z, given r = y - X D z: (D X^T r - ridge D^2 z) / m. */
static loom_status neg_gradient(iter_work *w, double *s, const double *r, const double *z)
{
    loom_matrix rm = loom_matrix_wrap((double *)(uintptr_t)r, w->m, 1);
    loom_matrix sm = loom_matrix_wrap(s, w->p, 1);
    loom_status st = loom_gemm(&sm, 1.0, w->x, 1, &rm, 0, 0.0);
    double inv_m = 1.0 / (double)w->m;
    for (size_t j = 0; j < w->p; j++)
        s[j] = (w->d[j] * s[j] - w->ridge * w->d[j] * w->d[j] * z[j]) * inv_m;
    return st;
}

/* ||D v||^2 */
static double dnorm2(const iter_work *w, const double *v)
{
    double s = 0.0;
    for (size_t j = 0; j < w->p; j++)
        s += w->d[j] * w->d[j] * v[j] * v[j];
    return s;
}

/* One right-hand side y (m) from z = 0; the gradient norms are relative to the first. */
typedef struct iter_result {
    size_t iterations, steps;
    double grad;
    int converged, diverged;
} iter_result;

/* CGLS (and steepest descent, which is CGLS without the conjugation). */
static loom_status run_cgls(iter_work *w, iter_result *res, const double *y,
                            const loom_lstsq_options *opt, int conjugate)
{
    size_t m = w->m, p = w->p;
    double *z = w->z, *s = w->s, *q = w->q, *r = w->r;
    double *dir = w->tmp + p; /* second half of tmp */
    loom_zero_bytes(z, p * sizeof(double));
    loom_copy_bytes(r, y, m * sizeof(double));
    loom_status st = neg_gradient(w, s, r, z);
    double g0 = sqrt(dot(s, s, p)), gamma = g0 * g0;
    loom_copy_bytes(dir, s, p * sizeof(double));
    *res = (iter_result){0, 0, g0 > 0.0 ? 1.0 : 0.0, g0 == 0.0, 0};
    for (size_t it = 0; st == LOOM_OK && !res->converged && it < opt->max_iter; it++) {
        st = apply_xd(w, q, dir);
        if (st != LOOM_OK)
            break;
        double curv = (dot(q, q, m) + w->ridge * dnorm2(w, dir)) / (double)m;
        double alpha = conjugate || opt->lr <= 0.0 ? gamma / curv : opt->lr;
        if (!(curv > 0.0) || !isfinite(alpha))
            break; /* the direction is in the null space: nothing more to gain */
        for (size_t j = 0; j < p; j++)
            z[j] += alpha * dir[j];
        for (size_t i = 0; i < m; i++)
            r[i] -= alpha * q[i];
        st = neg_gradient(w, s, r, z);
        double gamma_new = dot(s, s, p);
        res->iterations = it + 1;
        res->grad = sqrt(gamma_new) / g0;
        if (!isfinite(res->grad) || res->grad > 1e30) {
            res->diverged = 1;
            break;
        }
        res->converged = res->grad <= opt->tol;
        double beta = conjugate ? gamma_new / gamma : 0.0;
        for (size_t j = 0; j < p; j++)
            dir[j] = s[j] + beta * dir[j];
        gamma = gamma_new;
    }
    return st;
}

static double schedule_lr(const loom_lstsq_options *opt, double lr0, size_t epoch)
{
    switch (opt->schedule) {
    case LOOM_LR_INVERSE:
        return lr0 / (1.0 + opt->decay * (double)epoch);
    case LOOM_LR_EXPONENTIAL:
        return lr0 * pow(opt->decay, (double)epoch);
    default:
        return lr0;
    }
}

/* Mini-batch SGD over shuffled rows; the full gradient is checked once per epoch. */
static loom_status run_sgd(iter_work *w, iter_result *res, const double *y,
                           const loom_lstsq_options *opt, size_t *rows)
{
    size_t m = w->m, p = w->p, batch = opt->batch < 1 ? 1 : opt->batch;
    double *z = w->z, *s = w->s, *r = w->r, *g = w->tmp + p, *dz = w->q; /* q: p scratch */
    double lr0 = opt->lr > 0.0 ? opt->lr : 1.0 / (double)(p > 0 ? p : 1);
    loom_zero_bytes(z, p * sizeof(double));
    loom_copy_bytes(r, y, m * sizeof(double));
    loom_status st = neg_gradient(w, s, r, z);
    double g0 = sqrt(dot(s, s, p));
    *res = (iter_result){0, 0, g0 > 0.0 ? 1.0 : 0.0, g0 == 0.0, 0};
    for (size_t i = 0; i < m; i++)
        rows[i] = i;
    for (size_t epoch = 0; st == LOOM_OK && !res->converged && epoch < opt->max_iter; epoch++) {
        double lr = schedule_lr(opt, lr0, epoch);
        loom_rng_shuffle(opt->rng, rows, m);
        for (size_t b0 = 0; b0 < m; b0 += batch) {
            size_t b1 = b0 + batch < m ? b0 + batch : m;
            for (size_t j = 0; j < p; j++) {
                dz[j] = w->d[j] * z[j];
                g[j] = 0.0;
            }
            for (size_t t = b0; t < b1; t++) {
                const double *xi = loom_at(w->x, rows[t], 0);
                double e = dot(xi, dz, p) - y[rows[t]];
                for (size_t j = 0; j < p; j++)
                    g[j] += xi[j] * e;
            }
            double inv_b = 1.0 / (double)(b1 - b0), rm = w->ridge / (double)m;
            for (size_t j = 0; j < p; j++)
                z[j] -= lr * (w->d[j] * g[j] * inv_b + rm * w->d[j] * dz[j]);
            res->steps++;
        }
        /* r = y - X D z, then the full gradient decides convergence. */
        st = apply_xd(w, r, z);
        for (size_t i = 0; i < m; i++)
            r[i] = y[i] - r[i];
        if (st == LOOM_OK)
            st = neg_gradient(w, s, r, z);
        res->iterations = epoch + 1;
        res->grad = sqrt(dot(s, s, p)) / g0;
        if (!isfinite(res->grad) || res->grad > 1e30) {
            res->diverged = 1;
            break;
        }
        res->converged = res->grad <= opt->tol;
    }
    return st;
}

static loom_status lstsq_iterative(loom_matrix *beta, loom_lstsq_info *info, const loom_matrix *x,
                                   const loom_matrix *y, const loom_lstsq_options *opt)
{
    size_t m = x->rows, p = x->cols, k = y->cols;
    iter_work w = {x, m, p, opt->ridge, NULL, NULL, NULL, NULL, NULL, NULL};
    w.d = loom_malloc(p * sizeof(double) + 1);
    w.z = loom_malloc(p * sizeof(double) + 1);
    w.s = loom_malloc(p * sizeof(double) + 1);
    w.q = loom_malloc((m > p ? m : p) * sizeof(double) + 1);
    w.r = loom_malloc(m * sizeof(double) + 1);
    w.tmp = loom_malloc(2 * p * sizeof(double) + 1);
    double *ycol = loom_malloc(m * sizeof(double) + 1);
    size_t *rows = opt->method == LOOM_LSTSQ_SGD ? loom_malloc(m * sizeof(size_t) + 1) : NULL;
    loom_status st = LOOM_OK;
    if (!w.d || !w.z || !w.s || !w.q || !w.r || !w.tmp || !ycol
        || (opt->method == LOOM_LSTSQ_SGD && !rows))
        st = LOOM_ENOMEM;
    if (st == LOOM_OK) {
        column_scales(w.d, x);
        for (size_t j = 0; j < p; j++)
            w.d[j] *= sqrt((double)m);
        info->rank = p;
        info->grad_norm = 0.0;
    }
    for (size_t c = 0; st == LOOM_OK && c < k; c++) {
        for (size_t i = 0; i < m; i++)
            ycol[i] = *loom_at(y, i, c);
        iter_result res;
        if (opt->method == LOOM_LSTSQ_SGD)
            st = run_sgd(&w, &res, ycol, opt, rows);
        else
            st = run_cgls(&w, &res, ycol, opt, opt->method == LOOM_LSTSQ_CG);
        for (size_t j = 0; j < p; j++)
            *loom_at(beta, j, c) = w.d[j] * w.z[j];
        info->iterations = res.iterations > info->iterations ? res.iterations : info->iterations;
        info->steps += res.steps;
        info->grad_norm = res.grad > info->grad_norm || res.grad != res.grad ? res.grad : info->grad_norm;
        info->converged = info->converged && res.converged;
        info->diverged = info->diverged || res.diverged;
    }
    loom_free(w.d);
    loom_free(w.z);
    loom_free(w.s);
    loom_free(w.q);
    loom_free(w.r);
    loom_free(w.tmp);
    loom_free(ycol);
    loom_free(rows);
    return st;
}

loom_status loom_lstsq(loom_matrix *beta, loom_lstsq_info *info, const loom_matrix *x,
                       const loom_matrix *y, const loom_lstsq_options *opt)
{
    info_reset(info);
    if (y->rows != x->rows || beta->rows != x->cols || beta->cols != y->cols)
        return LOOM_EDIM;
    if (!(opt->ridge >= 0.0) || !isfinite(opt->ridge) || !(opt->tol >= 0.0)
        || (opt->method == LOOM_LSTSQ_SGD && !opt->rng))
        return LOOM_EARG;
    if (x->cols == 0 || y->cols == 0)
        return LOOM_OK;
    if (x->rows == 0) { /* no data: the zero solution fits it (and minimises any ridge) */
        loom_matrix_fill(beta, 0.0);
        return LOOM_OK;
    }
    loom_status st;
    switch (opt->method) {
    case LOOM_LSTSQ_QR:
        st = lstsq_qr(beta, info, x, y, opt);
        break;
    case LOOM_LSTSQ_SVD:
        st = lstsq_svd(beta, info, x, y, opt);
        break;
    case LOOM_LSTSQ_NORMAL:
        st = lstsq_normal(beta, info, x, y, opt);
        break;
    case LOOM_LSTSQ_GD:
    case LOOM_LSTSQ_SGD:
    case LOOM_LSTSQ_CG:
        st = lstsq_iterative(beta, info, x, y, opt);
        break;
    default:
        return LOOM_EARG;
    }
    if (st == LOOM_OK && !opt->skip_residual)
        st = loom_lstsq_residual_norm(&info->residual_norm, x, beta, y);
    return st;
}

loom_status loom_lstsq_naive(loom_matrix *beta, const loom_matrix *x, const loom_matrix *y)
{
    size_t m = x->rows, p = x->cols, k = y->cols;
    if (y->rows != m || beta->rows != p || beta->cols != k || m < p)
        return LOOM_EDIM;
    loom_matrix q, r, b;
    loom_status st = loom_matrix_init(&q, m, p);
    loom_status st2 = loom_matrix_init(&r, p, p);
    loom_status st3 = loom_matrix_init(&b, m, k);
    if (st != LOOM_OK || st2 != LOOM_OK || st3 != LOOM_OK) {
        st = LOOM_ENOMEM;
        goto done;
    }
    loom_matrix_copy(&q, x);
    loom_matrix_copy(&b, y);
    /* Modified Gram-Schmidt; each new q_j is also taken out of b as it goes. */
    for (size_t j = 0; j < p; j++) {
        double nrm = 0.0;
        for (size_t i = 0; i < m; i++)
            nrm += *loom_at(&q, i, j) * *loom_at(&q, i, j);
        nrm = sqrt(nrm);
        if (nrm == 0.0) {
            st = LOOM_ESINGULAR;
            goto done;
        }
        *loom_at(&r, j, j) = nrm;
        for (size_t i = 0; i < m; i++)
            *loom_at(&q, i, j) /= nrm;
        for (size_t l = j + 1; l < p; l++) {
            double s = 0.0;
            for (size_t i = 0; i < m; i++)
                s += *loom_at(&q, i, j) * *loom_at(&q, i, l);
            *loom_at(&r, j, l) = s;
            for (size_t i = 0; i < m; i++)
                *loom_at(&q, i, l) -= s * *loom_at(&q, i, j);
        }
        for (size_t c = 0; c < k; c++) {
            double s = 0.0;
            for (size_t i = 0; i < m; i++)
                s += *loom_at(&q, i, j) * *loom_at(&b, i, c);
            *loom_at(beta, j, c) = s;
            for (size_t i = 0; i < m; i++)
                *loom_at(&b, i, c) -= s * *loom_at(&q, i, j);
        }
    }
    for (size_t c = 0; c < k; c++)
        for (size_t j = p; j-- > 0;) {
            double s = *loom_at(beta, j, c);
            for (size_t l = j + 1; l < p; l++)
                s -= *loom_at(&r, j, l) * *loom_at(beta, l, c);
            *loom_at(beta, j, c) = s / *loom_at(&r, j, j);
        }
done:
    loom_matrix_release(&q);
    loom_matrix_release(&r);
    loom_matrix_release(&b);
    return st;
}

/* ---- decompositions ----
 * A row-major n x n matrix read as column-major is its transpose; the LU, Cholesky and
 * eigen paths use that instead of transposing, and say which triangle that makes them read. */

/* A contiguous copy of a (rows x cols, row-major). */
static double *dense_copy(const loom_matrix *a)
{
    double *c = loom_malloc(a->rows * a->cols * sizeof(double) + 1);
    if (c && a->cols) /* an empty a has NULL data: not even loom_at may look at it */
        for (size_t i = 0; i < a->rows; i++)
            loom_copy_bytes(c + i * a->cols, loom_at(a, i, 0), a->cols * sizeof(double));
    return c;
}

/* LU of a^T (a's storage as column-major): a^T = P L U. */
static loom_status lu_of_transpose(double **lu, int **ipiv, const loom_matrix *a, size_t *pivot)
{
    size_t n = a->rows;
    *lu = dense_copy(a);
    *ipiv = loom_malloc(n * sizeof(int) + 1);
    if (!*lu || !*ipiv)
        return LOOM_ENOMEM;
    return loom_lapack_getrf(*lu, n, n, n, *ipiv, pivot);
}

loom_status loom_linalg_solve(loom_matrix *x, const loom_matrix *a, const loom_matrix *b,
                              size_t *pivot)
{
    size_t n = a->rows, k = b->cols;
    *pivot = 0;
    if (a->cols != n || b->rows != n || x->rows != n || x->cols != k)
        return LOOM_EDIM;
    double *lu = NULL, *rhs = loom_malloc(n * k * sizeof(double) + 1);
    int *ipiv = NULL;
    loom_status st = lu_of_transpose(&lu, &ipiv, a, pivot);
    if (st == LOOM_OK && !rhs)
        st = LOOM_ENOMEM;
    if (st == LOOM_OK) {
        for (size_t c = 0; c < k; c++)
            for (size_t i = 0; i < n; i++)
                rhs[i + c * n] = *loom_at(b, i, c);
        st = loom_lapack_getrs(rhs, n, k, lu, n, n, ipiv, 1); /* (a^T)^T x = b */
        for (size_t c = 0; st == LOOM_OK && c < k; c++)
            for (size_t i = 0; i < n; i++)
                *loom_at(x, i, c) = rhs[i + c * n];
    }
    loom_free(lu);
    loom_free(ipiv);
    loom_free(rhs);
    return st;
}

loom_status loom_linalg_inv(loom_matrix *out, const loom_matrix *a, size_t *pivot)
{
    size_t n = a->rows;
    *pivot = 0;
    if (a->cols != n || out->rows != n || out->cols != n)
        return LOOM_EDIM;
    double *lu = NULL;
    int *ipiv = NULL;
    loom_status st = lu_of_transpose(&lu, &ipiv, a, pivot);
    if (st == LOOM_OK)
        st = loom_lapack_getri(lu, n, n, ipiv); /* (a^T)^-1 column-major = a^-1 row-major */
    if (st == LOOM_OK) {
        loom_matrix w = loom_matrix_wrap(lu, n, n);
        loom_matrix_copy(out, &w);
    }
    loom_free(lu);
    loom_free(ipiv);
    return st;
}

loom_status loom_linalg_det(double *logabs, int *sign, const loom_matrix *a)
{
    size_t n = a->rows, pivot = 0;
    *logabs = 0.0;
    *sign = 1;
    if (a->cols != n)
        return LOOM_EDIM;
    double *lu = NULL;
    int *ipiv = NULL;
    loom_status st = lu_of_transpose(&lu, &ipiv, a, &pivot);
    if (st == LOOM_ESINGULAR) {
        *sign = 0;
        *logabs = -INFINITY;
        st = LOOM_OK;
    } else if (st == LOOM_OK) {
        for (size_t i = 0; i < n; i++) {
            double u = lu[i + i * n];
            if ((size_t)ipiv[i] != i + 1)
                *sign = -*sign;
            if (u < 0.0)
                *sign = -*sign;
            *logabs += log(fabs(u));
        }
    }
    loom_free(lu);
    loom_free(ipiv);
    return st;
}

loom_status loom_linalg_svd(loom_matrix *u, loom_matrix *s, loom_matrix *vt, const loom_matrix *a)
{
    size_t m = a->rows, n = a->cols, k = m < n ? m : n;
    int vectors = u != NULL;
    if (s->rows != k || s->cols != 1 || (u == NULL) != (vt == NULL)
        || (vectors && (u->rows != m || u->cols != k || vt->rows != k || vt->cols != n)))
        return LOOM_EDIM;
    /* a's storage is a^T (n x m) column-major; a^T = U1 S VT1 gives a = VT1^T S U1^T, and
     * the column-major VT1 (k x m) is the row-major u, the column-major U1 (n x k) is vt. */
    double *at = dense_copy(a), *sv = loom_malloc(k * sizeof(double) + 1);
    double *u1 = vectors ? loom_malloc(n * k * sizeof(double) + 1) : NULL;
    double *vt1 = vectors ? loom_malloc(k * m * sizeof(double) + 1) : NULL;
    loom_status st = at && sv && (!vectors || (u1 && vt1)) ? LOOM_OK : LOOM_ENOMEM;
    if (st == LOOM_OK)
        st = loom_lapack_gesdd(at, n > 0 ? n : 1, n, m, sv, u1, n > 0 ? n : 1, vt1, k > 0 ? k : 1);
    if (st == LOOM_OK) {
        for (size_t i = 0; i < k; i++)
            *loom_at(s, i, 0) = sv[i];
        if (vectors) {
            loom_matrix uw = loom_matrix_wrap(vt1, m, k), vw = loom_matrix_wrap(u1, k, n);
            loom_matrix_copy(u, &uw);
            loom_matrix_copy(vt, &vw);
        }
    }
    loom_free(at);
    loom_free(sv);
    loom_free(u1);
    loom_free(vt1);
    return st;
}

loom_status loom_linalg_qr(loom_matrix *q, loom_matrix *r, const loom_matrix *a)
{
    size_t m = a->rows, n = a->cols, k = m < n ? m : n;
    if (q->rows != m || q->cols != k || r->rows != k || r->cols != n)
        return LOOM_EDIM;
    double *ac = loom_malloc(m * n * sizeof(double) + 1), *tau = loom_malloc(k * sizeof(double) + 1);
    loom_status st = ac && tau ? LOOM_OK : LOOM_ENOMEM;
    size_t lda = m > 0 ? m : 1;
    if (st == LOOM_OK) {
        to_column_major(ac, lda, a, NULL);
        st = loom_lapack_geqrf(ac, lda, m, n, tau);
    }
    if (st == LOOM_OK) {
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < n; j++)
                *loom_at(r, i, j) = j >= i ? ac[i + j * lda] : 0.0;
        st = loom_lapack_orgqr(ac, lda, m, k, k, tau);
    }
    for (size_t i = 0; st == LOOM_OK && i < m; i++)
        for (size_t j = 0; j < k; j++)
            *loom_at(q, i, j) = ac[i + j * lda];
    loom_free(ac);
    loom_free(tau);
    return st;
}

loom_status loom_linalg_cholesky(loom_matrix *l, const loom_matrix *a, size_t *minor)
{
    size_t n = a->rows;
    *minor = 0;
    if (a->cols != n || l->rows != n || l->cols != n)
        return LOOM_EDIM;
    double *f = dense_copy(a); /* column-major upper of a^T = a's lower triangle */
    loom_status st = f ? loom_lapack_potrf(f, n, n, minor) : LOOM_ENOMEM;
    for (size_t i = 0; st == LOOM_OK && i < n; i++)
        for (size_t j = 0; j < n; j++)
            *loom_at(l, i, j) = j <= i ? f[i * n + j] : 0.0; /* U^T, read row-major */
    loom_free(f);
    return st;
}

loom_status loom_linalg_eigh(loom_matrix *w, loom_matrix *v, const loom_matrix *a)
{
    size_t n = a->rows;
    if (a->cols != n || w->rows != n || w->cols != 1 || (v && (v->rows != n || v->cols != n)))
        return LOOM_EDIM;
    double *z = dense_copy(a), *ev = loom_malloc(n * sizeof(double) + 1);
    loom_status st = z && ev ? LOOM_OK : LOOM_ENOMEM;
    if (st == LOOM_OK)
        st = loom_lapack_syevd(z, n, n, ev, v != NULL);
    if (st == LOOM_OK) {
        for (size_t i = 0; i < n; i++)
            *loom_at(w, i, 0) = ev[i];
        for (size_t i = 0; v && i < n; i++)
            for (size_t j = 0; j < n; j++)
                *loom_at(v, i, j) = z[i + j * n];
    }
    loom_free(z);
    loom_free(ev);
    return st;
}

/* ---- distributions ---- */

/* The continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes 6.4);
 * converges fast for x < (a + 1) / (a + b + 2). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    d = 1.0 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = 1.0 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = 1.0 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16)
            break;
    }
    return h;
}

double loom_betainc(double a, double b, double x)
{
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0) || !(x <= 1.0))
        return NAN;
    if (x == 0.0 || x == 1.0)
        return x;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lbt) * betacf(a, b, x) / a;
    return 1.0 - exp(lbt) * betacf(b, a, 1.0 - x) / b;
}

double loom_t_cdf(double t, double df)
{
    if (!(df > 0.0) || t != t)
        return NAN;
    if (isinf(t))
        return t > 0 ? 1.0 : 0.0;
    double tail = 0.5 * loom_betainc(0.5 * df, 0.5, df / (df + t * t));
    return t > 0.0 ? 1.0 - tail : tail;
}

double loom_f_sf(double f, double d1, double d2)
{
    if (!(d1 > 0.0) || !(d2 > 0.0) || f != f)
        return NAN;
    if (f <= 0.0)
        return 1.0;
    if (isinf(f))
        return 0.0;
    return loom_betainc(0.5 * d2, 0.5 * d1, d2 / (d2 + d1 * f));
}
