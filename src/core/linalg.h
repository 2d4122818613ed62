/* linalg.h: least squares (direct and iterative) and the dense decompositions of
 * loom.linalg. Not the LAPACK calls themselves (blas.c) nor the OLS statistics (Lua). */
#ifndef LOOM_LINALG_H
#define LOOM_LINALG_H

#include "loom.h"

/* ---- least squares: min ||X B - Y||_F^2 + ridge * ||B||_F^2 ---- */

typedef enum loom_lstsq_method {
    LOOM_LSTSQ_QR,     /* Householder QR, then pivoted QR of R: rank-revealing, basic solution */
    LOOM_LSTSQ_SVD,    /* minimum-norm solution, dgelsd on R */
    LOOM_LSTSQ_NORMAL, /* Cholesky of X^T X (+ ridge), condition estimated */
    LOOM_LSTSQ_GD,     /* steepest descent (exact line search) or fixed step lr */
    LOOM_LSTSQ_SGD,    /* mini-batch stochastic gradient with a learning-rate schedule */
    LOOM_LSTSQ_CG      /* CGLS: conjugate gradient on the normal equations, never forming them */
} loom_lstsq_method;

typedef enum loom_lr_schedule {
    LOOM_LR_CONSTANT,    /* lr */
    LOOM_LR_INVERSE,     /* lr / (1 + decay * epoch) */
    LOOM_LR_EXPONENTIAL  /* lr * decay^epoch */
} loom_lr_schedule;

typedef struct loom_lstsq_options {
    loom_lstsq_method method;
    double ridge;      /* lambda >= 0; direct methods factor [X; sqrt(lambda) I] */
    double rcond;      /* rank threshold relative to the largest singular value (or |R11|) of
                          the column-scaled X; <= 0 means max(m, n) * DBL_EPSILON */
    int want_cov;      /* qr: also (X^T X + lambda I)^-1 in info->cov when of full rank */
    int refine;        /* qr, svd (full rank): one corrected semi-normal step (default on) */
    int skip_residual; /* leave info->residual_norm at NaN (saves a pass over X) */
    /* iterative methods */
    double tol;        /* stop when ||gradient|| <= tol * ||gradient at B = 0|| */
    size_t max_iter;   /* iterations (gd, cg) or epochs (sgd) */
    double lr;         /* gd: <= 0 means exact line search; sgd: initial rate, <= 0: 1 / p */
    size_t batch;      /* sgd mini-batch rows */
    loom_lr_schedule schedule;
    double decay;
    loom_rng *rng;     /* sgd shuffles with it; required for sgd */
} loom_lstsq_options;

/* The normal method returns LOOM_EFORMAT when X'X has a non-finite diagonal: X holds a NaN
 * or an infinity, or its sums of squares overflow. */

/* ||Y - X B||_F (what info->residual_norm holds), with one temporary m x k. */
loom_status loom_lstsq_residual_norm(double *out, const loom_matrix *x, const loom_matrix *beta,
                                     const loom_matrix *y);

/* The defaults documented in docs/linalg.md for a method. */
void loom_lstsq_defaults(loom_lstsq_options *opt, loom_lstsq_method method);

typedef struct loom_lstsq_info {
    size_t rank;           /* numerical rank (direct methods); p for iterative ones */
    double cond;           /* condition number estimate of the column-scaled X (NAN if not computed) */
    double cond_normal;    /* normal: estimate of cond(X^T X) for the scaled X */
    double residual_norm;  /* ||Y - X B||_F */
    size_t iterations;     /* gd/cg: iterations; sgd: epochs (max over columns of Y) */
    size_t steps;          /* sgd: mini-batch updates */
    double grad_norm;      /* final ||gradient|| / ||gradient at 0|| (max over columns) */
    int converged;         /* all columns met tol */
    int diverged;          /* an iterate became non-finite or blew up (lr too large) */
    size_t *order;         /* p column indices, 0-based, in pivot order: the last p - rank
                              are the dependent ones (qr; normal when singular); owned */
    double *singular_values; /* svd: min(rows, p) values of the scaled X, owned */
    size_t sv_count;
    loom_matrix cov;       /* p x p (X^T X + lambda I)^-1 when requested and rank == p */
    loom_matrix depend;    /* normal when singular: rank x (p - rank); column order[rank + j]
                              = sum_i depend(i, j) * column order[i] (original scale) */
} loom_lstsq_info;

void loom_lstsq_info_release(loom_lstsq_info *info);

/* beta (p x k) = argmin for x (m x p) and y (m x k). info is overwritten (release it after,
 * also on failure). LOOM_ESINGULAR from "normal" when X^T X is numerically singular (info
 * has rank, order and depend), LOOM_EARG on bad options, LOOM_EDIM on shapes. Non-
 * convergence of the iterative methods is not an error: see info->converged. */
loom_status loom_lstsq(loom_matrix *beta, loom_lstsq_info *info, const loom_matrix *x,
                       const loom_matrix *y, const loom_lstsq_options *opt);

/* The naive reference: modified Gram-Schmidt QR, full rank x (m x p, m >= p) only. */
loom_status loom_lstsq_naive(loom_matrix *beta, const loom_matrix *x, const loom_matrix *y);

/* ---- decompositions (row-major in, row-major out) ---- */

/* x (n x k) = a^-1 b for square a (n x n). LOOM_ESINGULAR with *pivot = k (1-based) when
 * the LU factor has U(k, k) exactly zero. */
loom_status loom_linalg_solve(loom_matrix *x, const loom_matrix *a, const loom_matrix *b,
                              size_t *pivot);
/* out (n x n) = a^-1; errors as loom_linalg_solve. */
loom_status loom_linalg_inv(loom_matrix *out, const loom_matrix *a, size_t *pivot);
/* det(a) = sign * exp(logabs); a singular matrix gives sign 0, logabs -inf (not an error). */
loom_status loom_linalg_det(double *logabs, int *sign, const loom_matrix *a);
/* Thin SVD a (m x n) = u (m x k) diag(s) vt (k x n), k = min(m, n), s (k x 1) descending.
 * u and vt may be NULL together (values only). */
loom_status loom_linalg_svd(loom_matrix *u, loom_matrix *s, loom_matrix *vt, const loom_matrix *a);
/* Reduced QR a (m x n) = q (m x k) r (k x n), k = min(m, n). */
loom_status loom_linalg_qr(loom_matrix *q, loom_matrix *r, const loom_matrix *a);
/* a = l l^T with l lower triangular (n x n); only a's lower triangle is read. LOOM_ENOTPD
 * with *minor = the order of the leading minor that is not positive. */
loom_status loom_linalg_cholesky(loom_matrix *l, const loom_matrix *a, size_t *minor);
/* Symmetric a (n x n; lower triangle read) = v diag(w) v^T, w (n x 1) ascending, v's
 * columns orthonormal eigenvectors; v may be NULL (values only). */
loom_status loom_linalg_eigh(loom_matrix *w, loom_matrix *v, const loom_matrix *a);

/* ---- distributions for the OLS statistics ---- */

/* Regularised incomplete beta I_x(a, b) (continued fraction, modified Lentz). NAN when
 * a <= 0, b <= 0 or x outside [0, 1]. */
double loom_betainc(double a, double b, double x);
/* P(T <= t) for Student's t with df > 0 degrees of freedom. */
double loom_t_cdf(double t, double df);
/* P(F > f) for the F distribution with (d1, d2) degrees of freedom. */
double loom_f_sf(double f, double d1, double d2);

#endif
