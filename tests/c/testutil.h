/* testutil.h: what the Check suites share: random matrices (optionally views with
 * ld > cols), the shapes every kernel is tried on, and NaN-aware comparisons. Not a
 * reference implementation: each suite writes its own naive loops next to its tests. */
#ifndef LOOM_TESTUTIL_H
#define LOOM_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom.h"

/* Shapes that catch edge cases: empty both ways, 1x1, a row, a column, odd sizes and
 * sizes past the 128-element pairwise block and the 64-row column block. */
enum { TEST_SHAPE_COUNT = 11 };
static inline void test_shape(int k, size_t *rows, size_t *cols)
{
    static const size_t shapes[TEST_SHAPE_COUNT][2] = {
        {0, 0}, {0, 3}, {3, 0}, {1, 1}, {1, 7}, {7, 1}, {2, 3}, {5, 4}, {33, 17}, {130, 3}, {3, 300},
    };
    *rows = shapes[k][0];
    *cols = shapes[k][1];
}

/* A test matrix: m is either the whole of storage or a view of it with ld = cols + pad,
 * so kernels see both contiguous matrices and strided views. Padding holds a sentinel
 * that a kernel writing outside the view would overwrite. */
typedef struct test_matrix {
    loom_matrix storage;
    loom_matrix m;
} test_matrix;

#define TEST_SENTINEL 12345.678

static inline loom_rng *test_rng(void)
{
    static loom_rng rng;
    static int seeded;
    if (!seeded) {
        loom_rng_seed(&rng, 20240601);
        seeded = 1;
    }
    return &rng;
}

/* Values in [lo, hi). */
static inline double test_uniform(double lo, double hi)
{
    return lo + (hi - lo) * loom_rng_uniform(test_rng());
}

static inline test_matrix test_matrix_new(size_t rows, size_t cols, size_t pad, double lo,
                                          double hi)
{
    test_matrix t;
    ck_assert_int_eq(loom_matrix_init(&t.storage, rows, cols + pad), LOOM_OK);
    loom_matrix_fill(&t.storage, TEST_SENTINEL);
    ck_assert_int_eq(loom_matrix_view(&t.m, &t.storage, 0, 0, rows, cols), LOOM_OK);
    if (rows && cols)
        ck_assert_uint_eq(t.m.ld, cols + pad);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            *loom_at(&t.m, i, j) = test_uniform(lo, hi);
    return t;
}

static inline void test_matrix_free(test_matrix *t)
{
    loom_matrix_release(&t->storage);
}

/* The padding columns still hold the sentinel. */
static inline void test_padding_intact(const test_matrix *t)
{
    for (size_t i = 0; i < t->storage.rows; i++)
        for (size_t j = t->m.cols; j < t->storage.cols; j++)
            ck_assert_msg(*loom_at(&t->storage, i, j) == TEST_SENTINEL,
                          "padding overwritten at (%zu, %zu)", i, j);
}

/* Equal, or both NaN. */
static inline int test_same(double x, double y)
{
    return x == y || (x != x && y != y);
}

/* |x - y| <= tol * max(1, |y|), or both NaN, or equal infinities. */
static inline int test_near(double x, double y, double tol)
{
    if (test_same(x, y))
        return 1;
    return fabs(x - y) <= tol * fmax(1.0, fabs(y));
}

/* Distance in units in the last place (for finite doubles of the same sign). */
static inline double test_ulps(double x, double y)
{
    if (test_same(x, y))
        return 0;
    double scale = nextafter(fabs(y), INFINITY) - fabs(y);
    return fabs(x - y) / scale;
}

/* The largest |a - b| over two matrices of the same shape. */
static inline double test_max_abs_diff(const loom_matrix *a, const loom_matrix *b)
{
    double d = 0.0;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++)
            d = fmax(d, fabs(*loom_at(a, i, j) - *loom_at(b, i, j)));
    return d;
}

/* The same, except that a NaN (a sentinel read by mistake) counts as the worst difference. */
static inline double test_max_abs_diff_nan(const loom_matrix *a, const loom_matrix *b)
{
    ck_assert(loom_same_shape(a, b));
    double worst = 0.0;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++) {
            double d = fabs(*loom_at(a, i, j) - *loom_at(b, i, j));
            if (d > worst || d != d)
                worst = d;
        }
    return worst;
}

/* A new rows x cols matrix of zeros, or of standard normal draws from rng. */
static inline loom_matrix test_zeros(size_t rows, size_t cols)
{
    loom_matrix m;
    ck_assert_int_eq(loom_matrix_init(&m, rows, cols), LOOM_OK);
    return m;
}

static inline loom_matrix test_randn(loom_rng *rng, size_t rows, size_t cols)
{
    loom_matrix m = test_zeros(rows, cols);
    loom_matrix_randn(&m, rng);
    return m;
}

static inline int64_t test_live_blocks(void)
{
    return loom_alloc_get_stats().live_blocks;
}

/* Run one suite and return the process status ctest expects. */
static inline int test_run_suite(Suite *s)
{
    SRunner *runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
