/* check_blas.c: loom_gemm (OpenBLAS) against loom_gemm_naive for every transpose
 * combination, alpha and beta, strided views, k = 0 and empty shapes. Not LAPACK. */
#include "testutil.h"

#include "blas.h"

#include <pthread.h>

int openblas_get_parallel(void); /* cblas.h's: 0 serial, 1 pthreads, 2 OpenMP */

static void check_gemm_case(size_t m, size_t n, size_t k, int ta, int tb, double alpha, double beta,
                            size_t pad)
{
    test_matrix a = ta ? test_matrix_new(k, m, pad, -1, 1) : test_matrix_new(m, k, pad, -1, 1);
    test_matrix b = tb ? test_matrix_new(n, k, pad + 1, -1, 1) : test_matrix_new(k, n, pad + 1, -1, 1);
    test_matrix fast = test_matrix_new(m, n, pad, -1, 1);
    test_matrix slow = test_matrix_new(m, n, 0, 0, 1);
    loom_matrix_copy(&slow.m, &fast.m);
    ck_assert_int_eq(loom_gemm(&fast.m, alpha, &a.m, ta, &b.m, tb, beta), LOOM_OK);
    ck_assert_int_eq(loom_gemm_naive(&slow.m, alpha, &a.m, ta, &b.m, tb, beta), LOOM_OK);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            ck_assert_msg(test_near(*loom_at(&fast.m, i, j), *loom_at(&slow.m, i, j), 1e-13 * (double)(k + 1)),
                          "%zux%zux%zu ta %d tb %d alpha %g beta %g pad %zu at (%zu, %zu): %.17g != %.17g",
                          m, n, k, ta, tb, alpha, beta, pad, i, j, *loom_at(&fast.m, i, j),
                          *loom_at(&slow.m, i, j));
    test_padding_intact(&fast);
    test_matrix_free(&a);
    test_matrix_free(&b);
    test_matrix_free(&fast);
    test_matrix_free(&slow);
}

START_TEST(test_gemm_vs_naive)
{
    const size_t sizes[][3] = {
        {1, 1, 1}, {1, 7, 3}, {7, 1, 3}, {5, 4, 1}, {3, 5, 7}, {17, 9, 33}, {64, 65, 63},
        {1, 1, 50}, {30, 1, 20}, {0, 4, 3}, {4, 0, 3}, {3, 4, 0}, {0, 0, 0}, {1, 1, 0},
    };
    const double alphas[] = {1.0, -0.5, 0.0}, betas[] = {0.0, 1.0, 2.5};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (size_t al = 0; al < 3; al++)
                    for (size_t be = 0; be < 3; be++)
                        for (size_t pad = 0; pad < 4; pad += 3)
                            check_gemm_case(sizes[s][0], sizes[s][1], sizes[s][2], ta, tb, alphas[al],
                                            betas[be], pad);
}
END_TEST

START_TEST(test_gemm_k_zero)
{
    /* An empty inner dimension: out = beta * out, and beta = 0 clears even NaN. */
    test_matrix out = test_matrix_new(3, 4, 1, 1, 2);
    *loom_at(&out.m, 1, 1) = NAN;
    double before = *loom_at(&out.m, 2, 3);
    loom_matrix a = loom_matrix_wrap(NULL, 3, 0), b = loom_matrix_wrap(NULL, 0, 4);
    ck_assert_int_eq(loom_gemm(&out.m, 1.0, &a, 0, &b, 0, 2.0), LOOM_OK);
    ck_assert(*loom_at(&out.m, 2, 3) == 2 * before);
    ck_assert_int_eq(loom_gemm(&out.m, 1.0, &a, 0, &b, 0, 0.0), LOOM_OK);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            ck_assert(*loom_at(&out.m, i, j) == 0.0);
    test_padding_intact(&out);
    test_matrix_free(&out);
}
END_TEST

START_TEST(test_gemm_views)
{
    /* Column and row views of bigger matrices as operands (the gemv path takes a column). */
    test_matrix big = test_matrix_new(20, 30, 2, -1, 1);
    loom_matrix a, x, y;
    loom_matrix_view(&a, &big.m, 2, 3, 6, 10);
    loom_matrix_view(&x, &big.m, 8, 15, 10, 1);
    test_matrix out = test_matrix_new(6, 3, 4, 0, 1);
    loom_matrix_view(&y, &out.m, 0, 1, 6, 1);
    double want[6];
    for (size_t i = 0; i < 6; i++) {
        want[i] = 0.5 * *loom_at(&y, i, 0);
        for (size_t p = 0; p < 10; p++)
            want[i] += 2.0 * *loom_at(&a, i, p) * *loom_at(&x, p, 0);
    }
    double col0 = *loom_at(&out.m, 3, 0), col2 = *loom_at(&out.m, 3, 2);
    ck_assert_int_eq(loom_gemm(&y, 2.0, &a, 0, &x, 0, 0.5), LOOM_OK);
    for (size_t i = 0; i < 6; i++)
        ck_assert(test_near(*loom_at(&y, i, 0), want[i], 1e-14));
    ck_assert(*loom_at(&out.m, 3, 0) == col0 && *loom_at(&out.m, 3, 2) == col2);
    test_padding_intact(&out);
    /* Transposed matrix times a column: a^T (10x6) times a 6x1 column view. */
    loom_matrix x6, y10;
    loom_matrix_view(&x6, &big.m, 0, 29, 6, 1);
    test_matrix o10 = test_matrix_new(10, 1, 0, 0, 1), r10 = test_matrix_new(10, 1, 0, 0, 1);
    y10 = o10.m;
    ck_assert_int_eq(loom_gemm(&y10, 1.0, &a, 1, &x6, 0, 0.0), LOOM_OK);
    ck_assert_int_eq(loom_gemm_naive(&r10.m, 1.0, &a, 1, &x6, 0, 0.0), LOOM_OK);
    for (size_t i = 0; i < 10; i++)
        ck_assert(test_near(*loom_at(&o10.m, i, 0), *loom_at(&r10.m, i, 0), 1e-14));
    test_matrix_free(&o10);
    test_matrix_free(&r10);
    test_matrix_free(&big);
    test_matrix_free(&out);
}
END_TEST

START_TEST(test_gemm_shape_errors)
{
    test_matrix a = test_matrix_new(3, 4, 0, 0, 1), b = test_matrix_new(5, 2, 0, 0, 1);
    test_matrix out = test_matrix_new(3, 2, 0, 0, 1);
    ck_assert_int_eq(loom_gemm(&out.m, 1, &a.m, 0, &b.m, 0, 0), LOOM_EDIM);
    ck_assert_int_eq(loom_gemm_naive(&out.m, 1, &a.m, 0, &b.m, 0, 0), LOOM_EDIM);
    ck_assert_int_eq(loom_gemm(&out.m, 1, &a.m, 1, &b.m, 1, 0), LOOM_EDIM);
    test_matrix b4 = test_matrix_new(4, 2, 0, 0, 1), wrong = test_matrix_new(2, 3, 0, 0, 1);
    ck_assert_int_eq(loom_gemm(&out.m, 1, &a.m, 0, &b4.m, 0, 0), LOOM_OK);
    ck_assert_int_eq(loom_gemm(&wrong.m, 1, &a.m, 0, &b4.m, 0, 0), LOOM_EDIM);
    /* Sizes past the BLAS integer range are refused before BLAS sees them. */
    loom_matrix huge = loom_matrix_wrap(NULL, 1, 1);
    huge.ld = (size_t)1 << 40;
    test_matrix o11 = test_matrix_new(1, 1, 0, 0, 1), a11 = test_matrix_new(1, 1, 0, 0, 1);
    ck_assert_int_eq(loom_gemm(&o11.m, 1, &a11.m, 0, &huge, 0, 0), LOOM_ERANGE);
    ck_assert(loom_blas_fits(1000));
    ck_assert(!loom_blas_fits((size_t)1 << 40));
    test_matrix_free(&o11);
    test_matrix_free(&a11);
    test_matrix_free(&b4);
    test_matrix_free(&wrong);
    test_matrix_free(&a);
    test_matrix_free(&b);
    test_matrix_free(&out);
}
END_TEST

START_TEST(test_threads)
{
    int before = loom_blas_get_threads();
    loom_blas_set_threads(1);
    ck_assert_int_eq(loom_blas_get_threads(), 1);
    loom_blas_set_threads(0); /* clamped to 1 */
    ck_assert_int_eq(loom_blas_get_threads(), 1);
    loom_blas_set_threads(2);
    ck_assert_int_ge(loom_blas_get_threads(), 1);
    check_gemm_case(70, 80, 90, 0, 1, 1.0, 0.0, 1); /* same answers with threads */
    loom_blas_set_threads(before);
}
END_TEST

/* loom_blas_run_jobs: every job runs once with its own args, job 0 on the calling thread;
 * nothing runs when the pool cannot take the jobs. */
typedef struct job_arg {
    int runs;
    pthread_t thread;
    double pad[5]; /* a stride that is not the struct's natural size */
} job_arg;

static void count_job(void *arg)
{
    job_arg *j = arg;
    j->runs++;
    j->thread = pthread_self();
}

START_TEST(test_run_jobs)
{
    int before = loom_blas_get_threads();
    job_arg jobs[2];
    memset(jobs, 0, sizeof jobs);
    loom_blas_set_threads(1);
    ck_assert_int_eq(loom_blas_run_jobs(2, count_job, jobs, sizeof jobs[0]), 0); /* too few threads */
    ck_assert_int_eq(jobs[0].runs + jobs[1].runs, 0);
    loom_blas_set_threads(2);
    ck_assert_int_eq(loom_blas_run_jobs(1, count_job, jobs, sizeof jobs[0]), 0); /* one job: no pool */
    ck_assert_int_eq(loom_blas_run_jobs(3, count_job, jobs, sizeof jobs[0]), 0); /* more jobs than threads */
    ck_assert_int_eq(jobs[0].runs + jobs[1].runs, 0);
    /* Debian's OpenBLAS (pthreads) has the pool; other BLAS builds return 0 and run nothing */
    int ran = loom_blas_run_jobs(2, count_job, jobs, sizeof jobs[0]);
    ck_assert_int_eq(jobs[0].runs, ran);
    ck_assert_int_eq(jobs[1].runs, ran);
    if (ran) {
        ck_assert(pthread_equal(jobs[0].thread, pthread_self()));
        ck_assert(!pthread_equal(jobs[1].thread, pthread_self()));
    }
    if (openblas_get_parallel() == 1) /* OpenBLAS's pthreads build, as Debian installs it */
        ck_assert_int_eq(ran, 1);
    check_gemm_case(70, 80, 90, 0, 1, 1.0, 0.0, 1); /* BLAS still threads after the pool ran jobs */
    loom_blas_set_threads(before);
}
END_TEST

static Suite *blas_suite(void)
{
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gemm_vs_naive);
    tcase_add_test(tc, test_gemm_k_zero);
    tcase_add_test(tc, test_gemm_views);
    tcase_add_test(tc, test_gemm_shape_errors);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_run_jobs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(blas_suite());
}
