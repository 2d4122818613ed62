/* check_linalg.c: the least-squares solvers against the naive Gram-Schmidt reference, their
 * failure paths (shapes, injected allocation failures: no leaks), and the distributions. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "linalg.h"
#include "testutil.h"

static loom_rng rng;

static loom_matrix randn(size_t rows, size_t cols) { return test_randn(&rng, rows, cols); }

START_TEST(test_methods_match_naive)
{
    loom_rng_seed(&rng, 1);
    loom_matrix x = randn(200, 7), y = randn(200, 2), ref, beta;
    loom_matrix_init(&ref, 7, 2);
    loom_matrix_init(&beta, 7, 2);
    ck_assert_int_eq(loom_lstsq_naive(&ref, &x, &y), LOOM_OK);
    const loom_lstsq_method methods[] = {LOOM_LSTSQ_QR, LOOM_LSTSQ_SVD, LOOM_LSTSQ_NORMAL,
                                         LOOM_LSTSQ_GD, LOOM_LSTSQ_CG};
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
        loom_lstsq_options o;
        loom_lstsq_defaults(&o, methods[k]);
        loom_lstsq_info info;
        ck_assert_int_eq(loom_lstsq(&beta, &info, &x, &y, &o), LOOM_OK);
        double tol = methods[k] >= LOOM_LSTSQ_GD ? 1e-8 : 1e-12;
        ck_assert_msg(test_max_abs_diff(&beta, &ref) < tol, "method %d differs by %g", (int)methods[k],
                      test_max_abs_diff(&beta, &ref));
        loom_lstsq_info_release(&info);
    }
    loom_matrix_release(&x);
    loom_matrix_release(&y);
    loom_matrix_release(&ref);
    loom_matrix_release(&beta);
}
END_TEST

START_TEST(test_shapes_and_options)
{
    loom_rng_seed(&rng, 2);
    loom_matrix x = randn(10, 3), y = randn(9, 1), beta;
    loom_matrix_init(&beta, 3, 1);
    loom_lstsq_options o;
    loom_lstsq_defaults(&o, LOOM_LSTSQ_QR);
    loom_lstsq_info info;
    ck_assert_int_eq(loom_lstsq(&beta, &info, &x, &y, &o), LOOM_EDIM);
    loom_lstsq_info_release(&info);
    loom_matrix_release(&y);
    y = randn(10, 1);
    o.ridge = -1.0;
    ck_assert_int_eq(loom_lstsq(&beta, &info, &x, &y, &o), LOOM_EARG);
    loom_lstsq_info_release(&info);
    loom_lstsq_defaults(&o, LOOM_LSTSQ_SGD); /* no rng */
    ck_assert_int_eq(loom_lstsq(&beta, &info, &x, &y, &o), LOOM_EARG);
    loom_lstsq_info_release(&info);
    loom_matrix_release(&x);
    loom_matrix_release(&y);
    loom_matrix_release(&beta);
}
END_TEST

/* Every allocation of every method may fail: the status says so and nothing leaks. */
START_TEST(test_allocation_failures)
{
    loom_rng_seed(&rng, 3);
    loom_matrix x = randn(50, 4), y = randn(50, 1), beta;
    loom_matrix_init(&beta, 4, 1);
    /* Full rank first (refinement, covariance), then with a dependent column (the normal
     * path's singular branch, svd's minimum-norm projection). */
    for (int pass = 0; pass < 2; pass++)
    for (int method = LOOM_LSTSQ_QR; method <= LOOM_LSTSQ_CG; method++) {
        if (pass == 1 && method == LOOM_LSTSQ_QR)
            for (size_t i = 0; i < 50; i++)
                *loom_at(&x, i, 3) = *loom_at(&x, i, 0) + *loom_at(&x, i, 1);
        int failures = 0;
        for (uint64_t n = 1; n < 200; n++) {
            loom_lstsq_options o;
            loom_lstsq_defaults(&o, (loom_lstsq_method)method);
            o.rng = &rng;
            o.max_iter = 5;
            o.want_cov = 1;
            loom_lstsq_info info;
            int64_t live = loom_alloc_get_stats().live_blocks;
            loom_alloc_fail_after(n);
            loom_status st = loom_lstsq(&beta, &info, &x, &y, &o);
            loom_alloc_fail_after(0);
            loom_lstsq_info_release(&info);
            ck_assert_int_eq(loom_alloc_get_stats().live_blocks, live);
            if (st != LOOM_ENOMEM)
                break;
            failures++;
        }
        ck_assert_msg(failures > 0, "method %d never allocated", method);
    }
    loom_matrix_release(&x);
    loom_matrix_release(&y);
    loom_matrix_release(&beta);
}
END_TEST

START_TEST(test_normal_names_dependence)
{
    loom_rng_seed(&rng, 4);
    loom_matrix x = randn(30, 4), y = randn(30, 1), beta;
    loom_matrix_init(&beta, 4, 1);
    for (size_t i = 0; i < 30; i++)
        *loom_at(&x, i, 2) = 2.0 * *loom_at(&x, i, 0) - *loom_at(&x, i, 1);
    loom_lstsq_options o;
    loom_lstsq_defaults(&o, LOOM_LSTSQ_NORMAL);
    loom_lstsq_info info;
    ck_assert_int_eq(loom_lstsq(&beta, &info, &x, &y, &o), LOOM_ESINGULAR);
    ck_assert_uint_eq(info.rank, 3);
    ck_assert_uint_eq(info.order[3], 2);
    ck_assert_double_eq_tol(*loom_at(&info.depend, 0, 0), 2.0, 1e-10);
    ck_assert_double_eq_tol(*loom_at(&info.depend, 1, 0), -1.0, 1e-10);
    loom_lstsq_info_release(&info);
    loom_matrix_release(&x);
    loom_matrix_release(&y);
    loom_matrix_release(&beta);
}
END_TEST

START_TEST(test_solve_and_det)
{
    double a[] = {4, 1, 0, 1, 3, 1, 0, 1, 2}, b[] = {1, 2, 3};
    loom_matrix am = loom_matrix_wrap(a, 3, 3), bm = loom_matrix_wrap(b, 3, 1), x;
    loom_matrix_init(&x, 3, 1);
    size_t pivot;
    ck_assert_int_eq(loom_linalg_solve(&x, &am, &bm, &pivot), LOOM_OK);
    for (size_t i = 0; i < 3; i++) {
        double s = 0.0;
        for (size_t j = 0; j < 3; j++)
            s += a[i * 3 + j] * x.data[j];
        ck_assert_double_eq_tol(s, b[i], 1e-14);
    }
    double logabs;
    int sign;
    ck_assert_int_eq(loom_linalg_det(&logabs, &sign, &am), LOOM_OK);
    ck_assert_int_eq(sign, 1);
    ck_assert_double_eq_tol(exp(logabs), 18.0, 1e-12);
    double s[] = {1, 2, 2, 4};
    loom_matrix sm = loom_matrix_wrap(s, 2, 2), inv;
    loom_matrix_init(&inv, 2, 2);
    ck_assert_int_eq(loom_linalg_inv(&inv, &sm, &pivot), LOOM_ESINGULAR);
    ck_assert_uint_eq(pivot, 2);
    loom_matrix_release(&x);
    loom_matrix_release(&inv);
}
END_TEST

START_TEST(test_distributions)
{
    ck_assert_double_eq_tol(loom_betainc(2.0, 3.0, 0.4), 0.5248, 1e-14); /* sum_{j=2..4} C(4,j) x^j (1-x)^(4-j) */
    ck_assert_double_eq_tol(loom_t_cdf(1.0, 1.0), 0.75, 1e-15);
    ck_assert_double_eq_tol(loom_t_cdf(-1.0, 1.0), 0.25, 1e-15);
    ck_assert_double_eq_tol(loom_f_sf(1.0, 2.0, 2.0), 0.5, 1e-15);
    ck_assert(isnan(loom_betainc(1.0, 1.0, 1.5)));
}
END_TEST

static Suite *linalg_suite(void)
{
    Suite *s = suite_create("linalg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_methods_match_naive);
    tcase_add_test(tc, test_shapes_and_options);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_normal_names_dependence);
    tcase_add_test(tc, test_solve_and_det);
    tcase_add_test(tc, test_distributions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(linalg_suite());
}
