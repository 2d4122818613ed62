/* check_conv.c: the conv1d and pooling kernels against their naive references on odd shapes
 * and strided views with sentinel padding, plus shape errors. Not the modules (test_conv.lua). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "conv.h"
#include "testutil.h"

static loom_rng rng;

static loom_matrix randn(size_t rows, size_t cols) { return test_randn(&rng, rows, cols); }

START_TEST(conv1d_matches_naive)
{
    loom_rng_seed(&rng, 3);
    /* B, T, C, O, K, stride, padding, dilation */
    size_t shapes[][8] = {{1, 1, 1, 1, 1, 1, 0, 1}, {3, 9, 4, 5, 3, 1, 1, 1}, {2, 11, 3, 2, 4, 2, 2, 1},
                          {2, 10, 2, 3, 3, 3, 0, 2}, {4, 5, 7, 1, 5, 1, 2, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        loom_conv1d_geometry g = {shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                                  shapes[s][4], shapes[s][5], shapes[s][6], shapes[s][7]};
        size_t t_out = loom_conv1d_out_steps(g.steps, g.kernel, g.stride, g.padding, g.dilation);
        ck_assert_uint_gt(t_out, 0);
        /* x is a view with a sentinel column beside it: a kernel reading past cols would see NaN */
        loom_matrix store = randn(g.steps * g.batch, g.in + 1), x;
        for (size_t i = 0; i < store.rows; i++)
            *loom_at(&store, i, g.in) = NAN;
        ck_assert_int_eq(loom_matrix_view(&x, &store, 0, 0, store.rows, g.in), LOOM_OK);
        loom_matrix w = randn(g.out, g.in * g.kernel), b = randn(g.out, 1);
        loom_matrix y1 = test_zeros(t_out * g.batch, g.out), y2 = test_zeros(t_out * g.batch, g.out);
        loom_matrix cols = test_zeros(t_out * g.batch, g.in * g.kernel), dcols = test_zeros(cols.rows, cols.cols);
        ck_assert_int_eq(loom_conv1d_forward(&y1, &cols, &x, &w, &b, &g), LOOM_OK);
        ck_assert_int_eq(loom_conv1d_forward_naive(&y2, &x, &w, &b, &g), LOOM_OK);
        ck_assert(test_max_abs_diff_nan(&y1, &y2) < 1e-12);

        loom_matrix dy = randn(y1.rows, y1.cols), dx1 = randn(x.rows, x.cols), dx2 = test_zeros(x.rows, x.cols);
        loom_matrix dw1 = randn(w.rows, w.cols), dw2 = test_zeros(w.rows, w.cols);
        loom_matrix db1 = randn(g.out, 1), db2 = test_zeros(g.out, 1);
        loom_matrix_copy(&dw2, &dw1); /* gradients accumulate from the same values */
        loom_matrix_copy(&db2, &db1);
        ck_assert_int_eq(loom_conv1d_backward(&dx1, &dw1, &db1, &dcols, &dy, &cols, &w, &g), LOOM_OK);
        ck_assert_int_eq(loom_conv1d_backward_naive(&dx2, &dw2, &db2, &dy, &x, &w, &g), LOOM_OK);
        ck_assert(test_max_abs_diff_nan(&dx1, &dx2) < 1e-12); /* dx is overwritten, not accumulated */
        ck_assert(test_max_abs_diff_nan(&dw1, &dw2) < 1e-12);
        ck_assert(test_max_abs_diff_nan(&db1, &db2) < 1e-12);
        loom_matrix *all[] = {&store, &w, &b, &y1, &y2, &cols, &dcols, &dy, &dx1, &dx2, &dw1, &dw2, &db1, &db2};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            loom_matrix_release(all[i]);
    }
}
END_TEST

START_TEST(conv1d_shapes)
{
    ck_assert_uint_eq(loom_conv1d_out_steps(10, 3, 1, 0, 1), 8);
    ck_assert_uint_eq(loom_conv1d_out_steps(10, 3, 2, 1, 1), 5);
    ck_assert_uint_eq(loom_conv1d_out_steps(10, 3, 1, 0, 5), 0); /* dilated kernel spans 11 */
    ck_assert_uint_eq(loom_conv1d_out_steps(10, 3, 0, 0, 1), 0);
    loom_conv1d_geometry g = {2, 5, 3, 4, 3, 1, 0, 1};
    loom_matrix x = test_zeros(10, 3), w = test_zeros(4, 9), y = test_zeros(6, 4), cols = test_zeros(6, 9), bad = test_zeros(6, 5);
    ck_assert_int_eq(loom_conv1d_forward(&y, &cols, &x, &w, NULL, &g), LOOM_OK);
    ck_assert_int_eq(loom_conv1d_forward(&bad, &cols, &x, &w, NULL, &g), LOOM_EDIM);
    ck_assert_int_eq(loom_conv1d_forward(&y, &bad, &x, &w, NULL, &g), LOOM_EDIM);
    g.steps = 2;
    ck_assert_int_eq(loom_conv1d_forward(&y, &cols, &x, &w, NULL, &g), LOOM_EDIM);
    loom_matrix *all[] = {&x, &w, &y, &cols, &bad};
    for (size_t i = 0; i < 5; i++)
        loom_matrix_release(all[i]);
}
END_TEST

START_TEST(pooling_by_hand)
{
    /* T = 5, B = 2, C = 1: sequence 0 is 1 4 4 2 9, sequence 1 is 0 -1 3 3 5 */
    double v[] = {1, 0, 4, -1, 4, 3, 2, 3, 9, 5};
    loom_matrix x = test_zeros(10, 1), y = test_zeros(4, 1), where = test_zeros(4, 1), dx = test_zeros(10, 1), dy = test_zeros(4, 1);
    for (size_t i = 0; i < 10; i++)
        *loom_at(&x, i, 0) = v[i];
    ck_assert_int_eq(loom_pool1d_forward(&y, &where, &x, LOOM_POOL_MAX, 2, 2, 2), LOOM_OK);
    double want[] = {4, 0, 4, 3}, want_where[] = {1, 0, 2, 2};
    for (size_t i = 0; i < 4; i++) {
        ck_assert(*loom_at(&y, i, 0) == want[i]);
        ck_assert(*loom_at(&where, i, 0) == want_where[i]); /* the earliest of the tied 4s */
        *loom_at(&dy, i, 0) = 1.0 + (double)i;
    }
    ck_assert_int_eq(loom_pool1d_backward(&dx, &dy, &where, LOOM_POOL_MAX, 2, 2, 2), LOOM_OK);
    double want_dx[] = {0, 2, 1, 0, 3, 4, 0, 0, 0, 0};
    for (size_t i = 0; i < 10; i++)
        ck_assert(*loom_at(&dx, i, 0) == want_dx[i]);
    ck_assert_int_eq(loom_pool1d_forward(&y, NULL, &x, LOOM_POOL_AVG, 2, 2, 2), LOOM_OK);
    ck_assert(*loom_at(&y, 0, 0) == 2.5 && *loom_at(&y, 3, 0) == 3.0);
    ck_assert_int_eq(loom_pool1d_forward(&y, NULL, &x, LOOM_POOL_MAX, 2, 2, 2), LOOM_EDIM);
    ck_assert_int_eq(loom_pool1d_forward(&y, &where, &x, LOOM_POOL_MAX, 3, 2, 2), LOOM_EDIM);
    loom_matrix *all[] = {&x, &y, &where, &dx, &dy};
    for (size_t i = 0; i < 5; i++)
        loom_matrix_release(all[i]);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, conv1d_matches_naive);
    tcase_add_test(tc, conv1d_shapes);
    tcase_add_test(tc, pooling_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(conv_suite());
}
