/* blas.h: the only door to cblas and LAPACKE. Each wrapper checks shapes and the BLAS
 * integer range and maps LAPACK's info to a loom_status; none prints or aborts. */
#ifndef LOOM_BLAS_H
#define LOOM_BLAS_H

#include "loom.h"

/* out = alpha * op(a) * op(b) + beta * out, op(x) = x^T when trans_x.
 * op(a) is m x k, op(b) is k x n, out is m x n. out must not overlap a or b. All three
 * share a dtype (LOOM_EARG otherwise): float64 through dgemm/dgemv, float32 through sgemm/sgemv. */
loom_status loom_gemm(loom_matrix *out, double alpha, const loom_matrix *a, int trans_a,
                      const loom_matrix *b, int trans_b, double beta);
/* The triple loop that loom_gemm is tested against (in double for both dtypes). */
loom_status loom_gemm_naive(loom_matrix *out, double alpha, const loom_matrix *a, int trans_a,
                            const loom_matrix *b, int trans_b, double beta);

/* Threads OpenBLAS may use (>= 1), and how many it uses now. */
void loom_blas_set_threads(int threads);
int loom_blas_get_threads(void);
/* OpenBLAS's build configuration ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...") and the name of the
 * kernel core it picked at run time; static strings owned by OpenBLAS, never NULL. */
const char *loom_blas_config(void);
const char *loom_blas_corename(void);

/* Runs job(args + i * stride) for i = 0..n-1, job 0 on this thread and the others on
 * OpenBLAS's own worker threads, and returns when all are done: 1. Returns 0 without running
 * anything when that pool cannot take them (another BLAS, OpenBLAS built for OpenMP, fewer
 * threads than jobs); the caller then starts threads of its own. A job must not call BLAS.
 * Why: after every threaded call OpenBLAS's workers spin for about 0.1 s waiting for the
 * next one, so a thread of the caller's competes with a spinning worker for the same core
 * (on 2 cores the parallel part ran at half speed); the worker itself is free at once. */
int loom_blas_run_jobs(size_t n, void (*job)(void *), void *args, size_t stride);
/* Whether loom_blas_run_jobs may use OpenBLAS's pool (1, the default); 0 makes it return 0,
 * as on a BLAS without the pool: the tests run the callers' own-thread path that way. */
void loom_blas_allow_pool(int on);

/* Nonzero when every size fits the BLAS integer type. */
int loom_blas_fits(size_t n);

#endif

/* ---- linalg: LAPACK wrappers for the solvers of linalg.c ----
 * Arrays here are COLUMN-major as LAPACK has them: element (i, j) of an m x n array with
 * leading dimension lda >= max(1, m) is a[i + j * lda]. A row-major loom_matrix r x c is the
 * column-major c x r array of its transpose, which is how linalg.c avoids copies. Every
 * wrapper checks the BLAS integer range, allocates its workspace through loom_malloc and
 * maps LAPACK's info: < 0 -> LOOM_ELAPACK, > 0 -> the status named at each function, with
 * the 1-based index LAPACK reported in *where when where is not NULL. */

/* QR without pivoting: a (m x n) -> R in the upper triangle, reflectors below, tau (min(m,n)). */
loom_status loom_lapack_geqrf(double *a, size_t lda, size_t m, size_t n, double *tau);
/* QR with column pivoting: jpvt (n, 1-based on output; zeros on input = all free). */
loom_status loom_lapack_geqp3(double *a, size_t lda, size_t m, size_t n, int *jpvt, double *tau);
/* c (m x nc) = Q^T c, Q = the k reflectors stored in a (m x k) and tau by geqrf/geqp3. */
loom_status loom_lapack_ormqr_t(double *c, size_t ldc, size_t m, size_t nc, const double *a,
                                size_t lda, size_t k, const double *tau);
/* The first n columns of Q (m x n) in place of the k reflectors in a. */
loom_status loom_lapack_orgqr(double *a, size_t lda, size_t m, size_t n, size_t k,
                              const double *tau);
/* Solve T x = b (or T^T x = b when trans) for the upper triangular n x n T; b (n x nrhs)
 * becomes x. LOOM_ESINGULAR when T(where, where) is exactly zero. */
loom_status loom_lapack_trtrs(double *b, size_t ldb, size_t nrhs, const double *t, size_t ldt,
                              size_t n, int trans, size_t *where);
/* Reciprocal condition number (1-norm) of the upper triangular n x n t. */
loom_status loom_lapack_trcon(double *rcond, const double *t, size_t ldt, size_t n);
/* t (upper triangular n x n) = t^-1 in place; LOOM_ESINGULAR on an exact zero pivot. */
loom_status loom_lapack_trtri(double *t, size_t ldt, size_t n, size_t *where);
/* Minimum-norm least squares by divide-and-conquer SVD: a (m x n) is destroyed, b
 * (max(m,n) x nrhs) holds the right-hand sides and gets the solution in its first n rows,
 * s (min(m,n)) the singular values, *rank the effective rank for rcond. LOOM_ENOCONV when
 * the SVD did not converge. */
loom_status loom_lapack_gelsd(double *a, size_t lda, size_t m, size_t n, double *b, size_t ldb,
                              size_t nrhs, double *s, double rcond, size_t *rank);
/* c (n x n, row-major, both triangles) = x^T x for the row-major x (m x n): one dsyrk
 * straight on x's storage, no copy. */
loom_status loom_syrk_xtx(loom_matrix *c, const loom_matrix *x);
/* Cholesky a = U^T U (upper, column-major n x n); LOOM_ENOTPD at the failing minor. */
loom_status loom_lapack_potrf(double *a, size_t lda, size_t n, size_t *where);
/* Solve a x = b with potrf's factor in a; b (n x nrhs) becomes x. */
loom_status loom_lapack_potrs(double *b, size_t ldb, size_t nrhs, const double *a, size_t lda,
                              size_t n);
/* Reciprocal 1-norm condition estimate from potrf's factor and the 1-norm of the matrix. */
loom_status loom_lapack_pocon(double *rcond, const double *a, size_t lda, size_t n, double anorm);
/* Cholesky with complete pivoting P^T a P = U^T U (upper): piv (n, 1-based), *rank for tol
 * (< 0: LAPACK's default). A rank-deficient matrix is not an error here. */
loom_status loom_lapack_pstrf(double *a, size_t lda, size_t n, int *piv, size_t *rank, double tol);
/* LU with partial pivoting of a (m x n), ipiv (min(m,n)); LOOM_ESINGULAR when U(where,
 * where) is exactly zero (the factorisation is still complete). */
loom_status loom_lapack_getrf(double *a, size_t lda, size_t m, size_t n, int *ipiv, size_t *where);
/* Solve a x = b (a^T x = b when trans) with getrf's factors; b (n x nrhs) becomes x. */
loom_status loom_lapack_getrs(double *b, size_t ldb, size_t nrhs, const double *a, size_t lda,
                              size_t n, const int *ipiv, int trans);
/* a = a^-1 from getrf's factors. */
loom_status loom_lapack_getri(double *a, size_t lda, size_t n, const int *ipiv);
/* SVD by divide and conquer: a (m x n) destroyed, s (min(m,n)); with u (m x k, ldu) and vt
 * (k x n, ldvt), k = min(m,n), both non-NULL, the thin factors; both NULL: values only. */
loom_status loom_lapack_gesdd(double *a, size_t lda, size_t m, size_t n, double *s, double *u,
                              size_t ldu, double *vt, size_t ldvt);
/* Symmetric eigen-decomposition (upper triangle of a used): w ascending; with vectors,
 * a's columns become the orthonormal eigenvectors. */
loom_status loom_lapack_syevd(double *a, size_t lda, size_t n, double *w, int vectors);
/* One step of TSQR: the QR of [r; b] for the upper triangular r (n x n) stacked on the
 * rectangular b (m x n): r becomes the new R, b the reflectors V, t (nb x n, ldt >= nb)
 * their block factors. 1 <= nb <= n. */
loom_status loom_lapack_tpqrt(double *r, size_t ldr, double *b, size_t ldb, size_t m, size_t n,
                              size_t nb, double *t, size_t ldt);
/* [c1; c2] = Q^T [c1; c2] for tpqrt's Q: c1 is n x k (ldc1), c2 is m x k (ldc2). */
loom_status loom_lapack_tpmqrt_t(double *c1, size_t ldc1, double *c2, size_t ldc2, size_t m,
                                 size_t k, const double *v, size_t ldv, size_t n, size_t nb,
                                 const double *t, size_t ldt);
