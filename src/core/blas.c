/* blas.c: every call into cblas and LAPACKE lives here, behind checks of shapes and of
 * the BLAS integer range. Not the algorithms that use them (linalg.c, nn.c, ...). */
#include "blas.h"

#include <cblas.h>
#include <limits.h>

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
    if (!loom_blas_fits(am) || !loom_blas_fits(ak) || !loom_blas_fits(bn)
        || !loom_blas_fits(a->ld) || !loom_blas_fits(b->ld) || !loom_blas_fits(out->ld))
        return LOOM_ERANGE;
    *k = ak;
    return LOOM_OK;
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
                double x = trans_a ? *loom_at(a, p, i) : *loom_at(a, i, p);
                double y = trans_b ? *loom_at(b, j, p) : *loom_at(b, p, j);
                s += x * y;
            }
            double *o = loom_at(out, i, j);
            *o = alpha * s + (beta == 0.0 ? 0.0 : beta * *o);
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
