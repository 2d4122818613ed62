/* check_nn.c: the nn kernels against their naive references and against finite differences,
 * plus shape and argument errors. Not the Lua modules (tests/lua/test_nn.lua). */
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "blas.h"
#include "nn.h"

static loom_rng rng;

static loom_matrix randn(size_t rows, size_t cols) { return test_randn(&rng, rows, cols); }

START_TEST(linear_matches_naive)
{
    loom_rng_seed(&rng, 1);
    size_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {32, 64, 128}, {3, 0, 2}, {0, 4, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t B = shapes[s][0], I = shapes[s][1], O = shapes[s][2];
        loom_matrix x = randn(B, I), w = randn(O, I), b = randn(O, 1);
        loom_matrix y1 = test_zeros(B, O), y2 = test_zeros(B, O);
        ck_assert_int_eq(loom_linear_forward(&y1, &x, &w, &b), LOOM_OK);
        ck_assert_int_eq(loom_linear_forward_naive(&y2, &x, &w, &b), LOOM_OK);
        ck_assert(test_max_abs_diff_nan(&y1, &y2) < 1e-12);
        ck_assert_int_eq(loom_linear_forward(&y1, &x, &w, NULL), LOOM_OK);
        ck_assert_int_eq(loom_linear_forward_naive(&y2, &x, &w, NULL), LOOM_OK);
        ck_assert(test_max_abs_diff_nan(&y1, &y2) < 1e-12);

        loom_matrix dy = randn(B, O), dx1 = test_zeros(B, I), dx2 = test_zeros(B, I);
        loom_matrix dw1 = randn(O, I), dw2 = test_zeros(O, I), db1 = randn(O, 1), db2 = test_zeros(O, 1);
        loom_matrix_copy(&dw2, &dw1); /* accumulation starts from the same values */
        loom_matrix_copy(&db2, &db1);
        ck_assert_int_eq(loom_linear_backward(&dx1, &dw1, &db1, &dy, &x, &w), LOOM_OK);
        ck_assert_int_eq(loom_linear_backward_naive(&dx2, &dw2, &db2, &dy, &x, &w), LOOM_OK);
        ck_assert(test_max_abs_diff_nan(&dx1, &dx2) < 1e-12);
        ck_assert(test_max_abs_diff_nan(&dw1, &dw2) < 1e-12);
        ck_assert(test_max_abs_diff_nan(&db1, &db2) < 1e-12);
        loom_matrix all[] = {x, w, b, y1, y2, dy, dx1, dx2, dw1, dw2, db1, db2};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            loom_matrix_release(&all[k]);
    }
}
END_TEST

START_TEST(linear_views_and_shapes)
{
    loom_rng_seed(&rng, 2);
    /* x as a strided view inside a wider matrix. */
    loom_matrix big = randn(6, 9), x, w = randn(4, 5), y1 = test_zeros(6, 4), y2 = test_zeros(6, 4);
    loom_matrix_view(&x, &big, 0, 2, 6, 5);
    ck_assert_int_eq(loom_linear_forward(&y1, &x, &w, NULL), LOOM_OK);
    ck_assert_int_eq(loom_linear_forward_naive(&y2, &x, &w, NULL), LOOM_OK);
    ck_assert(test_max_abs_diff_nan(&y1, &y2) < 1e-12);
    loom_matrix wrong = test_zeros(6, 3), bias_row = test_zeros(1, 4);
    ck_assert_int_eq(loom_linear_forward(&wrong, &x, &w, NULL), LOOM_EDIM);
    ck_assert_int_eq(loom_linear_forward(&y1, &x, &w, &bias_row), LOOM_EDIM);
    ck_assert_int_eq(loom_linear_backward(&wrong, &w, NULL, &y1, &x, &w), LOOM_EDIM);
    loom_matrix all[] = {big, w, y1, y2, wrong, bias_row};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        loom_matrix_release(&all[k]);
}
END_TEST

/* Central differences of sum(f(x) .* r) against the backward kernel. */
typedef loom_status (*forward_fn)(loom_matrix *, const loom_matrix *);

static loom_status sigmoid_fwd(loom_matrix *y, const loom_matrix *x)
{
    return loom_activation_forward(y, x, LOOM_ACT_SIGMOID);
}
static loom_status tanh_fwd(loom_matrix *y, const loom_matrix *x)
{
    return loom_activation_forward(y, x, LOOM_ACT_TANH);
}

static double projected(forward_fn f, const loom_matrix *x, const loom_matrix *r, loom_matrix *y)
{
    f(y, x);
    double s = 0.0;
    for (size_t i = 0; i < y->rows; i++)
        for (size_t j = 0; j < y->cols; j++)
            s += *loom_at(y, i, j) * *loom_at(r, i, j);
    return s;
}

static double worst_difference(forward_fn f, loom_matrix *x, const loom_matrix *r,
                               const loom_matrix *dx)
{
    loom_matrix y = test_zeros(x->rows, x->cols);
    double worst = 0.0, eps = 1e-6;
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) {
            double *v = loom_at(x, i, j), orig = *v;
            *v = orig + eps;
            double fp = projected(f, x, r, &y);
            *v = orig - eps;
            double fm = projected(f, x, r, &y);
            *v = orig;
            double num = (fp - fm) / (2 * eps), ana = *loom_at(dx, i, j);
            double err = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-3);
            if (err > worst)
                worst = err;
        }
    loom_matrix_release(&y);
    return worst;
}

START_TEST(activations_and_softmax_gradients)
{
    loom_rng_seed(&rng, 3);
    loom_matrix x = randn(5, 4), r = randn(5, 4), y = test_zeros(5, 4), dx = test_zeros(5, 4);
    loom_activation_forward(&y, &x, LOOM_ACT_SIGMOID);
    loom_activation_backward(&dx, &r, &y, LOOM_ACT_SIGMOID);
    ck_assert(worst_difference(sigmoid_fwd, &x, &r, &dx) < 1e-6);
    loom_activation_forward(&y, &x, LOOM_ACT_TANH);
    loom_activation_backward(&dx, &r, &y, LOOM_ACT_TANH);
    ck_assert(worst_difference(tanh_fwd, &x, &r, &dx) < 1e-6);
    loom_softmax_forward(&y, &x);
    loom_softmax_backward(&dx, &r, &y);
    ck_assert(worst_difference(loom_softmax_forward, &x, &r, &dx) < 1e-6);
    loom_log_softmax_forward(&y, &x);
    loom_log_softmax_backward(&dx, &r, &y);
    ck_assert(worst_difference(loom_log_softmax_forward, &x, &r, &dx) < 1e-6);
    /* Softmax rows sum to one even for huge logits; log-softmax is finite. */
    *loom_at(&x, 0, 0) = 1e300;
    loom_softmax_forward(&y, &x);
    ck_assert(fabs(*loom_at(&y, 0, 0) - 1.0) < 1e-15);
    loom_log_softmax_forward(&y, &x);
    ck_assert(isfinite(*loom_at(&y, 0, 1)));
    loom_matrix relu_y = test_zeros(1, 3), relu_dx = test_zeros(1, 3);
    loom_matrix in = loom_matrix_wrap((double[]){-1.0, 0.0, 2.0}, 1, 3);
    loom_matrix g = loom_matrix_wrap((double[]){5.0, 5.0, 5.0}, 1, 3);
    loom_activation_forward(&relu_y, &in, LOOM_ACT_RELU);
    loom_activation_backward(&relu_dx, &g, &relu_y, LOOM_ACT_RELU);
    ck_assert(relu_dx.data[0] == 0.0 && relu_dx.data[1] == 0.0 && relu_dx.data[2] == 5.0);
    ck_assert_int_eq(loom_activation_backward(&relu_dx, &g, &y, LOOM_ACT_RELU), LOOM_EDIM);
    loom_matrix all[] = {x, r, y, dx, relu_y, relu_dx};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        loom_matrix_release(&all[k]);
}
END_TEST

START_TEST(activations_match_reference)
{
    /* The vectorised loops against loom_unop_apply1, the matrix library's reference. */
    double values[] = {-1e300, -800.0, -3.5, -1e-300, -0.0, 0.0, 1e-300, 0.25, 40.0, 800.0,
                       INFINITY, -INFINITY, NAN};
    size_t n = sizeof values / sizeof values[0];
    loom_matrix x = loom_matrix_wrap(values, 1, n), y = test_zeros(1, n);
    loom_activation acts[] = {LOOM_ACT_SIGMOID, LOOM_ACT_TANH, LOOM_ACT_RELU};
    loom_unop ops[] = {LOOM_SIGMOID, LOOM_TANH, LOOM_RELU};
    for (int a = 0; a < 3; a++) {
        ck_assert_int_eq(loom_activation_forward(&y, &x, acts[a]), LOOM_OK);
        for (size_t j = 0; j < n; j++) {
            double want = loom_unop_apply1(ops[a], values[j]);
            ck_assert_msg(y.data[j] == want || (want != want && y.data[j] != y.data[j]),
                          "activation %d at %g: %g, want %g", a, values[j], y.data[j], want);
        }
    }
    /* In place. */
    loom_matrix_copy(&y, &x);
    ck_assert_int_eq(loom_activation_forward(&y, &y, LOOM_ACT_RELU), LOOM_OK);
    ck_assert(y.data[2] == 0.0 && y.data[8] == 40.0 && y.data[n - 1] != y.data[n - 1]);
    loom_matrix_release(&y);
}
END_TEST

START_TEST(cross_entropy_matches_naive)
{
    loom_rng_seed(&rng, 4);
    loom_matrix logits = randn(9, 5), t = test_zeros(9, 1), d1 = test_zeros(9, 5), d2 = test_zeros(9, 5);
    for (size_t i = 0; i < 9; i++)
        *loom_at(&t, i, 0) = (double)(i % 5) + 1;
    *loom_at(&t, 3, 0) = -1; /* ignored */
    for (int reduction = 0; reduction < 2; reduction++) {
        loom_ce_options o = {(loom_reduction)reduction, 1, -1};
        double l1, l2;
        ck_assert_int_eq(loom_cross_entropy_loss(&l1, &d1, &logits, &t, &o, NULL), LOOM_OK);
        ck_assert_int_eq(loom_cross_entropy_loss_naive(&l2, &d2, &logits, &t, &o), LOOM_OK);
        ck_assert(fabs(l1 - l2) < 1e-13);
        ck_assert(test_max_abs_diff_nan(&d1, &d2) < 1e-15);
        ck_assert(*loom_at(&d1, 3, 2) == 0.0);
    }
    loom_ce_options strict = {LOOM_REDUCTION_MEAN, 0, 0};
    size_t bad = 99;
    double l;
    ck_assert_int_eq(loom_cross_entropy_loss(&l, NULL, &logits, &t, &strict, &bad), LOOM_EARG);
    ck_assert_uint_eq(bad, 3);
    /* The naive one allocates; a refused allocation is reported, nothing leaks. */
    loom_alloc_stats before = loom_alloc_get_stats();
    loom_ce_options o = {LOOM_REDUCTION_MEAN, 1, -1};
    loom_alloc_fail_after(1);
    ck_assert_int_eq(loom_cross_entropy_loss_naive(&l, NULL, &logits, &t, &o), LOOM_ENOMEM);
    ck_assert_int_eq(loom_alloc_get_stats().live_blocks, before.live_blocks);
    loom_matrix wrong = test_zeros(9, 2);
    ck_assert_int_eq(loom_cross_entropy_loss(&l, NULL, &logits, &wrong, &o, NULL), LOOM_EDIM);
    loom_matrix all[] = {logits, t, d1, d2, wrong};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        loom_matrix_release(&all[k]);
}
END_TEST

START_TEST(pointwise_losses)
{
    loom_matrix p = loom_matrix_wrap((double[]){0.25, 0.5}, 1, 2);
    loom_matrix t = loom_matrix_wrap((double[]){1.0, 0.0}, 1, 2);
    double d[2], l;
    loom_matrix dm = loom_matrix_wrap(d, 1, 2);
    ck_assert_int_eq(loom_mse_loss(&l, &dm, &p, &t, LOOM_REDUCTION_SUM), LOOM_OK);
    ck_assert(fabs(l - (0.5625 + 0.25)) < 1e-15 && d[0] == -1.5 && d[1] == 1.0);
    ck_assert_int_eq(loom_bce_loss(&l, &dm, &p, &t, LOOM_REDUCTION_MEAN), LOOM_OK);
    ck_assert(fabs(l - (-log(0.25) - log(0.5)) / 2) < 1e-15);
    ck_assert(fabs(d[0] - (-1.0 / 0.25) / 2) < 1e-15);
    /* Logits: the same loss through sigmoid. */
    loom_matrix x = loom_matrix_wrap((double[]){log(0.25 / 0.75), 0.0}, 1, 2);
    double l2;
    ck_assert_int_eq(loom_bce_logits_loss(&l2, &dm, &x, &t, LOOM_REDUCTION_MEAN), LOOM_OK);
    ck_assert(fabs(l - l2) < 1e-15);
    ck_assert(fabs(d[0] - (0.25 - 1.0) / 2) < 1e-15);
    loom_matrix bad = loom_matrix_wrap((double[]){1.5, 0.5}, 1, 2);
    ck_assert_int_eq(loom_bce_loss(&l, NULL, &bad, &t, LOOM_REDUCTION_MEAN), LOOM_EARG);
    loom_matrix col = loom_matrix_wrap((double[]){1.0, 0.0}, 2, 1);
    ck_assert_int_eq(loom_mse_loss(&l, NULL, &p, &col, LOOM_REDUCTION_MEAN), LOOM_EDIM);
}
END_TEST

START_TEST(dropout_and_embedding)
{
    loom_rng_seed(&rng, 5);
    loom_matrix x = test_zeros(100, 100), y = test_zeros(100, 100), mask = test_zeros(100, 100);
    loom_matrix_fill(&x, 1.0);
    ck_assert_int_eq(loom_dropout_forward(&y, &mask, &x, 0.25, &rng), LOOM_OK);
    double dropped = 0.0;
    for (size_t k = 0; k < 10000; k++) {
        ck_assert(mask.data[k] == 0.0 || mask.data[k] == 1.0 / 0.75);
        ck_assert(y.data[k] == mask.data[k]);
        dropped += mask.data[k] == 0.0;
    }
    ck_assert(fabs(dropped / 10000 - 0.25) < 0.02);
    ck_assert_int_eq(loom_dropout_forward(&y, &mask, &x, 1.5, &rng), LOOM_EARG);

    loom_matrix w = randn(4, 3), ids = loom_matrix_wrap((double[]){2, 4, 2}, 3, 1);
    loom_matrix out = test_zeros(3, 3), dw = test_zeros(4, 3), dout = test_zeros(3, 3);
    size_t bad;
    ck_assert_int_eq(loom_embedding_forward(&out, &ids, &w, &bad), LOOM_OK);
    ck_assert(*loom_at(&out, 1, 2) == *loom_at(&w, 3, 2));
    loom_matrix_fill(&dout, 1.0);
    ck_assert_int_eq(loom_embedding_backward(&dw, &dout, &ids, 0), LOOM_OK);
    ck_assert(*loom_at(&dw, 1, 0) == 2.0 && *loom_at(&dw, 3, 0) == 1.0 && *loom_at(&dw, 0, 0) == 0.0);
    ck_assert_int_eq(loom_embedding_backward(&dw, &dout, &ids, 2), LOOM_OK);
    ck_assert(*loom_at(&dw, 1, 0) == 2.0 && *loom_at(&dw, 3, 0) == 2.0);
    loom_matrix bad_ids = loom_matrix_wrap((double[]){2, 5, 0.5}, 1, 3);
    ck_assert_int_eq(loom_embedding_forward(&out, &bad_ids, &w, &bad), LOOM_EARG);
    ck_assert_uint_eq(bad, 1);
    loom_matrix all[] = {x, y, mask, w, out, dw, dout};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        loom_matrix_release(&all[k]);
}
END_TEST

START_TEST(adam_matches_naive)
{
    loom_rng_seed(&rng, 6);
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        loom_matrix p1 = randn(7, 3), p2 = test_zeros(7, 3), g = test_zeros(7, 3);
        loom_matrix m1 = test_zeros(7, 3), m2 = test_zeros(7, 3), v1 = test_zeros(7, 3), v2 = test_zeros(7, 3);
        loom_matrix_copy(&p2, &p1);
        loom_adam_config c = {1e-2, 0.9, 0.999, 1e-8, 0.05, decoupled};
        for (uint64_t step = 1; step <= 20; step++) {
            loom_matrix_randn(&g, &rng);
            ck_assert_int_eq(loom_adam_step(&p1, &m1, &v1, &g, &c, step), LOOM_OK);
            ck_assert_int_eq(loom_adam_step_naive(&p2, &m2, &v2, &g, &c, step), LOOM_OK);
        }
        ck_assert(test_max_abs_diff_nan(&p1, &p2) < 1e-13);
        ck_assert(test_max_abs_diff_nan(&v1, &v2) < 1e-13);
        ck_assert_int_eq(loom_adam_step(&p1, &m1, &v1, &g, &c, 0), LOOM_EARG);
        loom_matrix all[] = {p1, p2, g, m1, m2, v1, v2};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            loom_matrix_release(&all[k]);
    }
}
END_TEST

START_TEST(sgd_by_hand)
{
    /* One value, momentum 0.9, Nesterov, weight decay 0.1: steps worked out by hand. */
    double p = 1.0, buf = 0.0, g = 0.5;
    loom_matrix P = loom_matrix_wrap(&p, 1, 1), B = loom_matrix_wrap(&buf, 1, 1);
    loom_matrix G = loom_matrix_wrap(&g, 1, 1);
    loom_sgd_config c = {0.1, 0.9, 0.0, 0.1, 1};
    ck_assert_int_eq(loom_sgd_step(&P, &B, &G, &c, 1), LOOM_OK);
    /* d = 0.5 + 0.1 = 0.6; buf = 0.6; step = 0.6 + 0.9 * 0.6 = 1.14; p = 1 - 0.114 */
    ck_assert(fabs(buf - 0.6) < 1e-15 && fabs(p - 0.886) < 1e-15);
    ck_assert_int_eq(loom_sgd_step(&P, &B, &G, &c, 0), LOOM_OK);
    double d = 0.5 + 0.1 * 0.886, b2 = 0.9 * 0.6 + d;
    ck_assert(fabs(buf - b2) < 1e-15 && fabs(p - (0.886 - 0.1 * (d + 0.9 * b2))) < 1e-15);
    loom_sgd_config plain = {0.5, 0.0, 0.0, 0.0, 0};
    ck_assert_int_eq(loom_sgd_step(&P, NULL, &G, &plain, 1), LOOM_OK);
    ck_assert_int_eq(loom_sgd_step(&P, NULL, &G, &c, 1), LOOM_EARG);
}
END_TEST

static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, linear_matches_naive);
    tcase_add_test(tc, linear_views_and_shapes);
    tcase_add_test(tc, activations_and_softmax_gradients);
    tcase_add_test(tc, activations_match_reference);
    tcase_add_test(tc, cross_entropy_matches_naive);
    tcase_add_test(tc, pointwise_losses);
    tcase_add_test(tc, dropout_and_embedding);
    tcase_add_test(tc, adam_matches_naive);
    tcase_add_test(tc, sgd_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(nn_suite());
}
