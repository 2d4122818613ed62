/* check_attention.c: the attention kernels against naive loops (forward, every kind, masks,
 * strided views with sentinel padding), central differences (backward) and the allocation
 * counter. Not the PyTorch cross-check (tests/lua/test_attention.lua). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "testutil.h"

enum { B = 3, S = 4, HQ = 3, HK = 5, A = 4, PAD = 2 };
static const size_t lengths[B] = {4, 1, 3};

typedef struct setup {
    loom_attention_shape shape;
    test_matrix w, u, b, v, gw, gu, gb, gv, query, keys;
    loom_attention_params p, g;
    double *work;
} setup;

static void make(setup *t, loom_attention_kind kind)
{
    size_t hq = kind == LOOM_ATTN_DOT ? HK : HQ;
    t->shape = (loom_attention_shape){kind, B, S, hq, HK, A};
    size_t wr = kind == LOOM_ATTN_GENERAL ? HK : A, wc = kind == LOOM_ATTN_CONCAT ? hq + HK : hq;
    t->w = test_matrix_new(wr, wc, PAD, -1, 1);
    t->u = test_matrix_new(A, HK, PAD, -1, 1);
    t->b = test_matrix_new(A, 1, PAD, -1, 1);
    t->v = test_matrix_new(1, A, 0, -1, 1);
    t->gw = test_matrix_new(wr, wc, PAD, 0, 0);
    t->gu = test_matrix_new(A, HK, PAD, 0, 0);
    t->gb = test_matrix_new(A, 1, PAD, 0, 0);
    t->gv = test_matrix_new(1, A, 0, 0, 0);
    t->query = test_matrix_new(B, hq, PAD, -1, 1);
    t->keys = test_matrix_new(S * B, HK, PAD, -1, 1);
    t->p = (loom_attention_params){t->w.m, t->u.m, t->b.m, t->v.m};
    t->g = (loom_attention_params){t->gw.m, t->gu.m, t->gb.m, t->gv.m};
    t->work = malloc((loom_attention_workspace(&t->shape) + 1) * sizeof(double));
}

static void release(setup *t)
{
    test_matrix *all[] = {&t->w, &t->u, &t->b, &t->v, &t->gw, &t->gu, &t->gb, &t->gv, &t->query, &t->keys};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        test_matrix_free(all[i]);
    free(t->work);
}

/* The score of query row b against key row r, from the formulas. */
static double naive_score(const setup *t, size_t b, size_t r)
{
    const loom_matrix *q = &t->query.m, *k = &t->keys.m;
    size_t hq = t->shape.query_dim;
    double s = 0.0;
    if (t->shape.kind == LOOM_ATTN_DOT || t->shape.kind == LOOM_ATTN_GENERAL) {
        for (size_t j = 0; j < HK; j++) {
            double qj = 0.0;
            if (t->shape.kind == LOOM_ATTN_DOT)
                qj = *loom_at(q, b, j);
            else
                for (size_t i = 0; i < hq; i++)
                    qj += *loom_at(&t->w.m, j, i) * *loom_at(q, b, i);
            s += qj * *loom_at(k, r, j);
        }
        return s;
    }
    for (size_t a = 0; a < A; a++) {
        double pre = 0.0;
        for (size_t i = 0; i < hq; i++)
            pre += *loom_at(&t->w.m, a, i) * *loom_at(q, b, i);
        for (size_t j = 0; j < HK; j++)
            pre += (t->shape.kind == LOOM_ATTN_CONCAT ? *loom_at(&t->w.m, a, hq + j) : *loom_at(&t->u.m, a, j)) *
                   *loom_at(k, r, j);
        if (t->shape.kind == LOOM_ATTN_BAHDANAU)
            pre += *loom_at(&t->b.m, a, 0);
        s += *loom_at(&t->v.m, 0, a) * tanh(pre);
    }
    return s;
}

START_TEST(test_forward_matches_naive)
{
    for (int kind = 0; kind < 4; kind++) {
        for (int masked = 0; masked < 2; masked++) {
            setup t;
            make(&t, (loom_attention_kind)kind);
            test_matrix ctx = test_matrix_new(B, HK, PAD, 0, 0), wts = test_matrix_new(B, S, PAD, 0, 0);
            const size_t *len = masked ? lengths : NULL;
            loom_alloc_stats before = loom_alloc_get_stats();
            ck_assert_int_eq(loom_attention_forward(&ctx.m, &wts.m, t.work, &t.query.m, &t.keys.m, len, &t.p, &t.shape),
                             LOOM_OK);
            ck_assert_uint_eq(loom_alloc_get_stats().allocations, before.allocations);
            for (size_t b = 0; b < B; b++) {
                size_t n = len ? len[b] : S;
                double sc[S], mx = -INFINITY, sum = 0.0;
                for (size_t s = 0; s < n; s++)
                    mx = fmax(mx, sc[s] = naive_score(&t, b, s * B + b));
                for (size_t s = 0; s < n; s++)
                    sum += (sc[s] = exp(sc[s] - mx));
                for (size_t s = 0; s < S; s++) {
                    double want = s < n ? sc[s] / sum : 0.0;
                    ck_assert_msg(test_near(*loom_at(&wts.m, b, s), want, 1e-13), "kind %d weight (%zu,%zu)", kind, b, s);
                }
                for (size_t j = 0; j < HK; j++) {
                    double c = 0.0;
                    for (size_t s = 0; s < n; s++)
                        c += sc[s] / sum * *loom_at(&t.keys.m, s * B + b, j);
                    ck_assert_msg(test_near(*loom_at(&ctx.m, b, j), c, 1e-13), "kind %d context (%zu,%zu)", kind, b, j);
                }
            }
            test_padding_intact(&ctx);
            test_padding_intact(&wts);
            test_matrix_free(&ctx);
            test_matrix_free(&wts);
            release(&t);
        }
    }
}
END_TEST

/* L = sum(context .* R) for a fixed R; dL/dquery and dL/dkeys against central differences. */
static double objective(setup *t, const loom_matrix *R)
{
    loom_matrix ctx;
    ck_assert_int_eq(loom_matrix_init(&ctx, B, HK), LOOM_OK);
    ck_assert_int_eq(loom_attention_forward(&ctx, NULL, t->work, &t->query.m, &t->keys.m, lengths, &t->p, &t->shape),
                     LOOM_OK);
    double s = 0.0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < HK; j++)
            s += *loom_at(&ctx, i, j) * *loom_at(R, i, j);
    loom_matrix_release(&ctx);
    return s;
}

static void check_grad(setup *t, const loom_matrix *R, loom_matrix *x, const loom_matrix *g, const char *what)
{
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) {
            double orig = *loom_at(x, i, j), eps = 1e-6;
            *loom_at(x, i, j) = orig + eps;
            double fp = objective(t, R);
            *loom_at(x, i, j) = orig - eps;
            double fm = objective(t, R);
            *loom_at(x, i, j) = orig;
            double num = (fp - fm) / (2 * eps), ana = *loom_at(g, i, j);
            ck_assert_msg(fabs(num - ana) <= 1e-7 * fmax(1.0, fabs(num)), "%s (%zu,%zu): %g vs %g", what, i, j, ana, num);
        }
}

START_TEST(test_backward_finite_differences)
{
    for (int kind = 0; kind < 4; kind++) {
        setup t;
        make(&t, (loom_attention_kind)kind);
        test_matrix R = test_matrix_new(B, HK, 0, -1, 1);
        test_matrix dq = test_matrix_new(B, t.shape.query_dim, PAD, 7, 8); /* overwritten */
        test_matrix dk = test_matrix_new(S * B, HK, PAD, 0, 0);           /* accumulated */
        ck_assert_int_eq(loom_attention_backward(&dq.m, &dk.m, &t.g, t.work, &R.m, NULL, &t.query.m, &t.keys.m,
                                                 lengths, &t.p, &t.shape),
                         LOOM_OK);
        check_grad(&t, &R.m, &t.query.m, &dq.m, "dquery");
        check_grad(&t, &R.m, &t.keys.m, &dk.m, "dkeys");
        if (kind != LOOM_ATTN_DOT)
            check_grad(&t, &R.m, &t.w.m, &t.gw.m, "dw");
        if (kind == LOOM_ATTN_BAHDANAU) {
            check_grad(&t, &R.m, &t.u.m, &t.gu.m, "du");
            check_grad(&t, &R.m, &t.b.m, &t.gb.m, "db");
        }
        test_padding_intact(&dq);
        test_padding_intact(&dk);
        test_matrix_free(&R);
        test_matrix_free(&dq);
        test_matrix_free(&dk);
        release(&t);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("attention");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_forward_matches_naive);
    tcase_add_test(tc, test_backward_finite_differences);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
