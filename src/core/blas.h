/* blas.h: the only door to cblas and LAPACKE. Each wrapper checks shapes and the BLAS
 * integer range and maps LAPACK's info to a loom_status; none prints or aborts. */
#ifndef LOOM_BLAS_H
#define LOOM_BLAS_H

#include "loom.h"

/* out = alpha * op(a) * op(b) + beta * out, op(x) = x^T when trans_x.
 * op(a) is m x k, op(b) is k x n, out is m x n. out must not overlap a or b. */
loom_status loom_gemm(loom_matrix *out, double alpha, const loom_matrix *a, int trans_a,
                      const loom_matrix *b, int trans_b, double beta);
/* The triple loop that loom_gemm is tested against. */
loom_status loom_gemm_naive(loom_matrix *out, double alpha, const loom_matrix *a, int trans_a,
                            const loom_matrix *b, int trans_b, double beta);

/* Threads OpenBLAS may use (>= 1), and how many it uses now. */
void loom_blas_set_threads(int threads);
int loom_blas_get_threads(void);

/* Nonzero when every size fits the BLAS integer type. */
int loom_blas_fits(size_t n);

#endif
