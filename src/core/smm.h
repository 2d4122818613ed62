/* smm.h: small matrix products through libxsmm's JIT-generated kernels, the only door to
 * libxsmm (as blas.h is to cblas). Row-major like the rest of loom. Not Lua. */
#ifndef LOOM_SMM_H
#define LOOM_SMM_H

#include "loom.h"

/* One dispatched kernel: c (m x n) = a (m x k) b (k x n) + beta c, fixed sizes, leading
 * dimensions and beta (0 or 1), float64 or float32. fn is NULL when there is none. */
typedef struct loom_smm {
    void (*fn)(void); /* libxsmm's kernel, called through its own type */
    loom_dtype dtype;
} loom_smm;

/* Find or generate the kernel (libxsmm keeps a registry, so dispatching a shape again is a
 * lookup). s->fn stays NULL when libxsmm has no kernel for it (the caller then uses BLAS).
 * LOOM_EARG for beta other than 0 and 1, LOOM_ERANGE for sizes past the BLAS integers. */
loom_status loom_smm_dispatch(loom_smm *s, loom_dtype dtype, size_t m, size_t n, size_t k,
                              size_t lda, size_t ldb, size_t ldc, int beta);

/* c = a b + beta c through a dispatched kernel (s->fn not NULL). */
void loom_smm_run(const loom_smm *s, const void *a, const void *b, void *c);

#endif
