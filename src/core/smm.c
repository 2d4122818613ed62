/* smm.c: libxsmm's small-GEMM JIT behind loom_smm_dispatch (smm.h). */
#include "smm.h"

#include <libxsmm.h>

#include "blas.h"

loom_status loom_smm_dispatch(loom_smm *s, loom_dtype dtype, size_t m, size_t n, size_t k,
                              size_t lda, size_t ldb, size_t ldc, int beta)
{
    s->fn = NULL;
    if (beta != 0 && beta != 1)
        return LOOM_EARG;
    if (!loom_blas_fits(m) || !loom_blas_fits(n) || !loom_blas_fits(k) || !loom_blas_fits(lda)
        || !loom_blas_fits(ldb) || !loom_blas_fits(ldc))
        return LOOM_ERANGE;
    /* Row-major c = a b is column-major c^T = b^T a^T: M = n, N = m, A = b, B = a. */
    libxsmm_blasint M = (libxsmm_blasint)n, N = (libxsmm_blasint)m, K = (libxsmm_blasint)k;
    libxsmm_blasint la = (libxsmm_blasint)ldb, lb = (libxsmm_blasint)lda, lc = (libxsmm_blasint)ldc;
    int flags = LIBXSMM_GEMM_FLAG_NONE;
    if (dtype == LOOM_F32) {
        float alpha = 1.0f, b = (float)beta;
        libxsmm_smmfunction f = libxsmm_smmdispatch(M, N, K, &la, &lb, &lc, &alpha, &b, &flags, NULL);
        s->fn = (void (*)(void))f;
    } else {
        double alpha = 1.0, b = beta;
        libxsmm_dmmfunction f = libxsmm_dmmdispatch(M, N, K, &la, &lb, &lc, &alpha, &b, &flags, NULL);
        s->fn = (void (*)(void))f;
    }
    s->dtype = dtype;
    return LOOM_OK;
}

void loom_smm_run(const loom_smm *s, const void *a, const void *b, void *c)
{
    /* libxsmm is column-major: c^T = b^T a^T. */
    if (s->dtype == LOOM_F32)
        ((libxsmm_smmfunction)s->fn)(b, a, c);
    else
        ((libxsmm_dmmfunction)s->fn)(b, a, c);
}
