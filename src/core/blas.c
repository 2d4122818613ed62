/* blas.c: every call into cblas and LAPACKE lives here, behind checks of shapes and of
 * the BLAS integer range. Not the algorithms that use them (linalg.c, nn.c, ...). */
#include "blas.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

int loom_blas_fits(size_t n)
{
    return n <= (size_t)INT_MAX;
}

/* The leading dimension BLAS needs: at least 1 even for empty matrices. */
static blasint ld_of(const loom_matrix *m)
{
    return (blasint)(m->ld > 0 ? m->ld : 1);
}

static loom_status gemm_check(const loom_matrix *out, const loom_matrix *a, int trans_a,
                              const loom_matrix *b, int trans_b, size_t *k)
{
    size_t am = trans_a ? a->cols : a->rows, ak = trans_a ? a->rows : a->cols;
    size_t bk = trans_b ? b->cols : b->rows, bn = trans_b ? b->rows : b->cols;
    if (ak != bk || out->rows != am || out->cols != bn)
        return LOOM_EDIM;
    if (a->dtype != out->dtype || b->dtype != out->dtype)
        return LOOM_EARG;
    if (!loom_blas_fits(am) || !loom_blas_fits(ak) || !loom_blas_fits(bn)
        || !loom_blas_fits(a->ld) || !loom_blas_fits(b->ld) || !loom_blas_fits(out->ld))
        return LOOM_ERANGE;
    *k = ak;
    return LOOM_OK;
}

/* loom_gemm for float32 operands (sgemv/sgemm), shapes checked, k >= 1. */
static void gemm_f32(loom_matrix *out, float alpha, const loom_matrix *a, int trans_a,
                     const loom_matrix *b, int trans_b, float beta, size_t k)
{
    if (out->cols == 1 && !trans_b && b->cols == 1) {
        cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, (blasint)a->rows,
                    (blasint)a->cols, alpha, a->data32, ld_of(a), b->data32, ld_of(b), beta,
                    out->data32, ld_of(out));
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)out->rows, (blasint)out->cols,
                (blasint)k, alpha, a->data32, ld_of(a), b->data32, ld_of(b), beta, out->data32,
                ld_of(out));
}

loom_status loom_gemm(loom_matrix *out, double alpha, const loom_matrix *a, int trans_a,
                      const loom_matrix *b, int trans_b, double beta)
{
    size_t k;
    loom_status st = gemm_check(out, a, trans_a, b, trans_b, &k);
    if (st != LOOM_OK)
        return st;
    if (out->rows == 0 || out->cols == 0)
        return LOOM_OK;
    if (k == 0) {
        /* BLAS leaves out untouched when k == 0, including the beta scaling. */
        if (beta == 0.0)
            loom_matrix_fill(out, 0.0);
        else
            loom_matrix_binop_scalar(out, out, LOOM_MUL, beta, 0);
        return LOOM_OK;
    }
    if (out->dtype == LOOM_F32) {
        gemm_f32(out, (float)alpha, a, trans_a, b, trans_b, (float)beta, k);
        return LOOM_OK;
    }
    if (out->cols == 1 && !trans_b && b->cols == 1) {
        /* Matrix-vector products go through gemv, which is faster for one column. */
        cblas_dgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, (blasint)a->rows,
                    (blasint)a->cols, alpha, a->data, ld_of(a), b->data, ld_of(b), beta,
                    out->data, ld_of(out));
        return LOOM_OK;
    }
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)out->rows, (blasint)out->cols,
                (blasint)k, alpha, a->data, ld_of(a), b->data, ld_of(b), beta, out->data,
                ld_of(out));
    return LOOM_OK;
}

loom_status loom_gemm_naive(loom_matrix *out, double alpha, const loom_matrix *a, int trans_a,
                            const loom_matrix *b, int trans_b, double beta)
{
    size_t k;
    loom_status st = gemm_check(out, a, trans_a, b, trans_b, &k);
    if (st != LOOM_OK)
        return st;
    for (size_t i = 0; i < out->rows; i++)
        for (size_t j = 0; j < out->cols; j++) {
            double s = 0.0;
            for (size_t p = 0; p < k; p++) {
                double x = trans_a ? loom_get(a, p, i) : loom_get(a, i, p);
                double y = trans_b ? loom_get(b, j, p) : loom_get(b, p, j);
                s += x * y;
            }
            loom_put(out, i, j, alpha * s + (beta == 0.0 ? 0.0 : beta * loom_get(out, i, j)));
        }
    return LOOM_OK;
}

void loom_blas_set_threads(int threads)
{
    openblas_set_num_threads(threads < 1 ? 1 : threads);
}

int loom_blas_get_threads(void)
{
    return openblas_get_num_threads();
}

/* OpenBLAS's pthread pool (driver/others/blas_server.c): job 0 runs on the caller, job i on
 * a worker, args advanced by stride each. Not in cblas.h; weak, so a BLAS without it (or
 * OpenBLAS's OpenMP build) leaves it NULL. */
extern int gotoblas_pthread(int numthreads, void *function, void *args, int stride) __attribute__((weak));

static int pool_allowed = 1;

void loom_blas_allow_pool(int on)
{
    pool_allowed = on != 0;
}

int loom_blas_run_jobs(size_t n, void (*job)(void *), void *args, size_t stride)
{
    if (n < 2 || !pool_allowed || !gotoblas_pthread || openblas_get_parallel() != 1
        || stride > (size_t)INT_MAX || (size_t)openblas_get_num_threads() < n)
        return 0;
    void *fn; /* OpenBLAS takes the function as void *; POSIX lets the two convert */
    memcpy(&fn, &job, sizeof fn);
    gotoblas_pthread((int)n, fn, args, (int)stride);
    return 1;
}

const char *loom_blas_config(void)
{
    const char *c = openblas_get_config();
    return c ? c : "";
}

const char *loom_blas_corename(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "";
}

/* ---- linalg: LAPACK wrappers (column-major arrays; see blas.h) ---- */
#include <lapacke.h>

_Static_assert(sizeof(lapack_int) == sizeof(int), "loom expects LP64 LAPACK (32-bit lapack_int)");

#define LA_COL LAPACK_COL_MAJOR

static int la_fits2(size_t a, size_t b) { return loom_blas_fits(a) && loom_blas_fits(b); }
static int la_fits4(size_t a, size_t b, size_t c, size_t d) { return la_fits2(a, b) && la_fits2(c, d); }
static lapack_int la_int(size_t n) { return (lapack_int)n; }
static lapack_int la_ld(size_t ld) { return (lapack_int)(ld > 0 ? ld : 1); }

/* info < 0 is our bug; info > 0 means `positive`, with the index kept for the caller. */
static loom_status la_status(lapack_int info, loom_status positive, size_t *where)
{
    if (where)
        *where = info > 0 ? (size_t)info : 0;
    if (info < 0)
        return LOOM_ELAPACK;
    return info > 0 ? positive : LOOM_OK;
}

/* Workspace of the size LAPACK asked for in a query (at least 1 element). */
static double *la_workspace(double query, lapack_int *lwork)
{
    double n = query < 1.0 ? 1.0 : query;
    if (n > (double)INT_MAX)
        return NULL;
    *lwork = (lapack_int)n;
    return loom_malloc((size_t)*lwork * sizeof(double));
}

loom_status loom_lapack_geqrf(double *a, size_t lda, size_t m, size_t n, double *tau)
{
    if (!la_fits4(m, n, lda, 1))
        return LOOM_ERANGE;
    if (m == 0 || n == 0)
        return LOOM_OK;
    double q;
    lapack_int lwork, info = LAPACKE_dgeqrf_work(LA_COL, la_int(m), la_int(n), a, la_ld(lda), tau, &q, -1);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    if (!work)
        return LOOM_ENOMEM;
    info = LAPACKE_dgeqrf_work(LA_COL, la_int(m), la_int(n), a, la_ld(lda), tau, work, lwork);
    loom_free(work);
    return la_status(info, LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_geqp3(double *a, size_t lda, size_t m, size_t n, int *jpvt, double *tau)
{
    if (!la_fits4(m, n, lda, 1))
        return LOOM_ERANGE;
    if (m == 0 || n == 0)
        return LOOM_OK;
    double q;
    lapack_int lwork, info = LAPACKE_dgeqp3_work(LA_COL, la_int(m), la_int(n), a, la_ld(lda), jpvt, tau, &q, -1);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    if (!work)
        return LOOM_ENOMEM;
    info = LAPACKE_dgeqp3_work(LA_COL, la_int(m), la_int(n), a, la_ld(lda), jpvt, tau, work, lwork);
    loom_free(work);
    return la_status(info, LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_ormqr_t(double *c, size_t ldc, size_t m, size_t nc, const double *a,
                                size_t lda, size_t k, const double *tau)
{
    if (!la_fits4(m, nc, ldc, lda) || !loom_blas_fits(k))
        return LOOM_ERANGE;
    if (m == 0 || nc == 0 || k == 0)
        return LOOM_OK;
    double q;
    lapack_int lwork, info = LAPACKE_dormqr_work(LA_COL, 'L', 'T', la_int(m), la_int(nc), la_int(k), a,
                                                 la_ld(lda), tau, c, la_ld(ldc), &q, -1);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    if (!work)
        return LOOM_ENOMEM;
    info = LAPACKE_dormqr_work(LA_COL, 'L', 'T', la_int(m), la_int(nc), la_int(k), a, la_ld(lda), tau, c,
                               la_ld(ldc), work, lwork);
    loom_free(work);
    return la_status(info, LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_orgqr(double *a, size_t lda, size_t m, size_t n, size_t k,
                              const double *tau)
{
    if (!la_fits4(m, n, lda, k))
        return LOOM_ERANGE;
    if (m == 0 || n == 0)
        return LOOM_OK;
    double q;
    lapack_int lwork, info = LAPACKE_dorgqr_work(LA_COL, la_int(m), la_int(n), la_int(k), a, la_ld(lda), tau, &q, -1);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    if (!work)
        return LOOM_ENOMEM;
    info = LAPACKE_dorgqr_work(LA_COL, la_int(m), la_int(n), la_int(k), a, la_ld(lda), tau, work, lwork);
    loom_free(work);
    return la_status(info, LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_trtrs(double *b, size_t ldb, size_t nrhs, const double *t, size_t ldt,
                              size_t n, int trans, size_t *where)
{
    if (where)
        *where = 0;
    if (!la_fits4(n, nrhs, ldb, ldt))
        return LOOM_ERANGE;
    if (n == 0 || nrhs == 0)
        return LOOM_OK;
    lapack_int info = LAPACKE_dtrtrs_work(LA_COL, 'U', trans ? 'T' : 'N', 'N', la_int(n), la_int(nrhs), t,
                                          la_ld(ldt), b, la_ld(ldb));
    return la_status(info, LOOM_ESINGULAR, where);
}

loom_status loom_lapack_trcon(double *rcond, const double *t, size_t ldt, size_t n)
{
    *rcond = 1.0;
    if (!la_fits2(n, ldt))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    double *work = loom_malloc(3 * n * sizeof(double));
    lapack_int *iwork = loom_malloc(n * sizeof(lapack_int));
    loom_status st = LOOM_ENOMEM;
    if (work && iwork)
        st = la_status(LAPACKE_dtrcon_work(LA_COL, '1', 'U', 'N', la_int(n), t, la_ld(ldt), rcond,
                                           work, iwork), LOOM_ELAPACK, NULL);
    loom_free(work);
    loom_free(iwork);
    return st;
}

loom_status loom_lapack_trtri(double *t, size_t ldt, size_t n, size_t *where)
{
    if (!la_fits2(n, ldt))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    return la_status(LAPACKE_dtrtri_work(LA_COL, 'U', 'N', la_int(n), t, la_ld(ldt)), LOOM_ESINGULAR,
                     where);
}

loom_status loom_lapack_gelsd(double *a, size_t lda, size_t m, size_t n, double *b, size_t ldb,
                              size_t nrhs, double *s, double rcond, size_t *rank)
{
    *rank = 0;
    if (!la_fits4(m, n, lda, ldb) || !loom_blas_fits(nrhs))
        return LOOM_ERANGE;
    if (m == 0 || n == 0 || nrhs == 0)
        return LOOM_OK;
    double q;
    lapack_int r = 0, iq = 0, lwork;
    lapack_int info = LAPACKE_dgelsd_work(LA_COL, la_int(m), la_int(n), la_int(nrhs), a, la_ld(lda), b,
                                          la_ld(ldb), s, rcond, &r, &q, -1, &iq);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    lapack_int *iwork = loom_malloc((size_t)(iq > 1 ? iq : 1) * sizeof(lapack_int));
    loom_status st = LOOM_ENOMEM;
    if (work && iwork) {
        info = LAPACKE_dgelsd_work(LA_COL, la_int(m), la_int(n), la_int(nrhs), a, la_ld(lda), b, la_ld(ldb),
                                   s, rcond, &r, work, lwork, iwork);
        st = la_status(info, LOOM_ENOCONV, NULL);
        *rank = (size_t)r;
    }
    loom_free(work);
    loom_free(iwork);
    return st;
}

loom_status loom_syrk_xtx(loom_matrix *c, const loom_matrix *x)
{
    size_t n = x->cols, m = x->rows;
    if (c->rows != n || c->cols != n)
        return LOOM_EDIM;
    if (!la_fits4(m, n, x->ld, c->ld))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    if (m == 0) {
        loom_matrix_fill(c, 0.0);
        return LOOM_OK;
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)n, (blasint)m, 1.0, x->data,
                ld_of(x), 0.0, c->data, ld_of(c));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            *loom_at(c, i, j) = *loom_at(c, j, i);
    return LOOM_OK;
}

loom_status loom_lapack_potrf(double *a, size_t lda, size_t n, size_t *where)
{
    if (!la_fits2(n, lda))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    return la_status(LAPACKE_dpotrf_work(LA_COL, 'U', la_int(n), a, la_ld(lda)), LOOM_ENOTPD, where);
}

loom_status loom_lapack_potrs(double *b, size_t ldb, size_t nrhs, const double *a, size_t lda,
                              size_t n)
{
    if (!la_fits4(n, nrhs, ldb, lda))
        return LOOM_ERANGE;
    if (n == 0 || nrhs == 0)
        return LOOM_OK;
    return la_status(LAPACKE_dpotrs_work(LA_COL, 'U', la_int(n), la_int(nrhs), a, la_ld(lda), b,
                                         la_ld(ldb)), LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_pocon(double *rcond, const double *a, size_t lda, size_t n, double anorm)
{
    *rcond = 1.0;
    if (!la_fits2(n, lda))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    double *work = loom_malloc(3 * n * sizeof(double));
    lapack_int *iwork = loom_malloc(n * sizeof(lapack_int));
    loom_status st = LOOM_ENOMEM;
    if (work && iwork)
        st = la_status(LAPACKE_dpocon_work(LA_COL, 'U', la_int(n), a, la_ld(lda), anorm, rcond, work,
                                           iwork), LOOM_ELAPACK, NULL);
    loom_free(work);
    loom_free(iwork);
    return st;
}

loom_status loom_lapack_pstrf(double *a, size_t lda, size_t n, int *piv, size_t *rank, double tol)
{
    *rank = 0;
    if (!la_fits2(n, lda))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    double *work = loom_malloc(2 * n * sizeof(double));
    if (!work)
        return LOOM_ENOMEM;
    lapack_int r = 0;
    lapack_int info = LAPACKE_dpstrf_work(LA_COL, 'U', la_int(n), a, la_ld(lda), piv, &r, tol, work);
    loom_free(work);
    *rank = (size_t)r;
    return info < 0 ? LOOM_ELAPACK : LOOM_OK; /* info > 0 only says "rank deficient" */
}

loom_status loom_lapack_getrf(double *a, size_t lda, size_t m, size_t n, int *ipiv, size_t *where)
{
    if (where)
        *where = 0;
    if (!la_fits4(m, n, lda, 1))
        return LOOM_ERANGE;
    if (m == 0 || n == 0)
        return LOOM_OK;
    return la_status(LAPACKE_dgetrf_work(LA_COL, la_int(m), la_int(n), a, la_ld(lda), ipiv), LOOM_ESINGULAR,
                     where);
}

loom_status loom_lapack_getrs(double *b, size_t ldb, size_t nrhs, const double *a, size_t lda,
                              size_t n, const int *ipiv, int trans)
{
    if (!la_fits4(n, nrhs, ldb, lda))
        return LOOM_ERANGE;
    if (n == 0 || nrhs == 0)
        return LOOM_OK;
    return la_status(LAPACKE_dgetrs_work(LA_COL, trans ? 'T' : 'N', la_int(n), la_int(nrhs), a, la_ld(lda),
                                         ipiv, b, la_ld(ldb)), LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_getri(double *a, size_t lda, size_t n, const int *ipiv)
{
    if (!la_fits2(n, lda))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    double q;
    lapack_int lwork, info = LAPACKE_dgetri_work(LA_COL, la_int(n), a, la_ld(lda), ipiv, &q, -1);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    if (!work)
        return LOOM_ENOMEM;
    info = LAPACKE_dgetri_work(LA_COL, la_int(n), a, la_ld(lda), ipiv, work, lwork);
    loom_free(work);
    return la_status(info, LOOM_ESINGULAR, NULL);
}

loom_status loom_lapack_gesdd(double *a, size_t lda, size_t m, size_t n, double *s, double *u,
                              size_t ldu, double *vt, size_t ldvt)
{
    if (!la_fits4(m, n, lda, 1) || !la_fits2(ldu, ldvt))
        return LOOM_ERANGE;
    size_t k = m < n ? m : n;
    if (k == 0)
        return LOOM_OK;
    char jobz = u && vt ? 'S' : 'N';
    double q, dummy = 0.0;
    lapack_int lwork;
    lapack_int *iwork = loom_malloc(8 * k * sizeof(lapack_int));
    if (!iwork)
        return LOOM_ENOMEM;
    double *uu = u ? u : &dummy, *vv = vt ? vt : &dummy;
    lapack_int info = LAPACKE_dgesdd_work(LA_COL, jobz, la_int(m), la_int(n), a, la_ld(lda), s, uu,
                                          la_ld(ldu), vv, la_ld(ldvt), &q, -1, iwork);
    loom_status st = LOOM_ELAPACK;
    if (info == 0) {
        double *work = la_workspace(q, &lwork);
        st = LOOM_ENOMEM;
        if (work) {
            info = LAPACKE_dgesdd_work(LA_COL, jobz, la_int(m), la_int(n), a, la_ld(lda), s, uu,
                                       la_ld(ldu), vv, la_ld(ldvt), work, lwork, iwork);
            st = la_status(info, LOOM_ENOCONV, NULL);
        }
        loom_free(work);
    }
    loom_free(iwork);
    return st;
}

loom_status loom_lapack_syevd(double *a, size_t lda, size_t n, double *w, int vectors)
{
    if (!la_fits2(n, lda))
        return LOOM_ERANGE;
    if (n == 0)
        return LOOM_OK;
    char jobz = vectors ? 'V' : 'N';
    double q;
    lapack_int iq, lwork;
    lapack_int info = LAPACKE_dsyevd_work(LA_COL, jobz, 'U', la_int(n), a, la_ld(lda), w, &q, -1, &iq, -1);
    if (info != 0)
        return LOOM_ELAPACK;
    double *work = la_workspace(q, &lwork);
    lapack_int *iwork = loom_malloc((size_t)(iq > 1 ? iq : 1) * sizeof(lapack_int));
    loom_status st = LOOM_ENOMEM;
    if (work && iwork)
        st = la_status(LAPACKE_dsyevd_work(LA_COL, jobz, 'U', la_int(n), a, la_ld(lda), w, work, lwork,
                                           iwork, iq), LOOM_ENOCONV, NULL);
    loom_free(work);
    loom_free(iwork);
    return st;
}

loom_status loom_lapack_tpqrt(double *r, size_t ldr, double *b, size_t ldb, size_t m, size_t n,
                              size_t nb, double *t, size_t ldt)
{
    if (!la_fits4(m, n, ldr, ldb) || !la_fits2(nb, ldt) || nb < 1 || nb > n)
        return LOOM_ERANGE;
    if (m == 0 || n == 0)
        return LOOM_OK;
    double *work = loom_malloc(nb * n * sizeof(double));
    if (!work)
        return LOOM_ENOMEM;
    lapack_int info = LAPACKE_dtpqrt_work(LA_COL, la_int(m), la_int(n), 0, la_int(nb), r, la_ld(ldr), b,
                                          la_ld(ldb), t, la_ld(ldt), work);
    loom_free(work);
    return la_status(info, LOOM_ELAPACK, NULL);
}

loom_status loom_lapack_tpmqrt_t(double *c1, size_t ldc1, double *c2, size_t ldc2, size_t m,
                                 size_t k, const double *v, size_t ldv, size_t n, size_t nb,
                                 const double *t, size_t ldt)
{
    if (!la_fits4(m, k, ldc1, ldc2) || !la_fits4(ldv, n, nb, ldt) || nb < 1 || nb > n)
        return LOOM_ERANGE;
    if (m == 0 || k == 0 || n == 0)
        return LOOM_OK;
    double *work = loom_malloc(nb * k * sizeof(double));
    if (!work)
        return LOOM_ENOMEM;
    lapack_int info = LAPACKE_dtpmqrt_work(LA_COL, 'L', 'T', la_int(m), la_int(k), la_int(n), 0, la_int(nb), v,
                                           la_ld(ldv), t, la_ld(ldt), c1, la_ld(ldc1), c2,
                                           la_ld(ldc2), work);
    loom_free(work);
    return la_status(info, LOOM_ELAPACK, NULL);
}
