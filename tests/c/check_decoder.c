/* check_decoder.c: the seq2seq decoder kernels (BPTT against central differences for every
 * attention kind, input feeding on and off; no allocation once the workspace fits; errors)
 * and the beam bookkeeping (a hand-computed search, float32 log-probabilities alike). Not
 * the comparisons with the Lua reference and PyTorch (tests/lua/test_seq2seq.lua). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "decoder.h"
#include "testutil.h"

enum { B = 2, S = 3, T = 3, E = 2, H = 3, A = 2, V = 5 };
static const size_t lengths[B] = {3, 2};

typedef struct setup {
    loom_decoder d;
    loom_matrix store[2];    /* every parameter, then every gradient, as rows of one matrix */
    loom_matrix embs, keys, h0, c0, outs, R;
} setup;

static loom_matrix random_matrix(size_t rows, size_t cols)
{
    loom_matrix m;
    ck_assert_int_eq(loom_matrix_init(&m, rows, cols), LOOM_OK);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            *loom_at(&m, i, j) = test_uniform(-0.8, 0.8);
    return m;
}

/* Carve the parameters (values and gradients) of one configuration. */
static void carve(setup *t, int which, size_t in)
{
    loom_decoder_params *p = which ? &t->d.g : &t->d.p;
    loom_matrix *m[] = {&p->w_ih, &p->w_hh, &p->b_ih, &p->b_hh, &p->combine, &p->attn.w, &p->attn.u, &p->attn.b,
                        &p->attn.v, &p->embedding, &p->gen_w, &p->gen_b};
    size_t shapes[][2] = {{4 * H, in}, {4 * H, H}, {4 * H, 1}, {4 * H, 1}, {H, 2 * H}, {A, 2 * H}, {A, H}, {A, 1},
                          {1, A}, {V, E}, {V, H}, {V, 1}};
    size_t off = 0;
    for (size_t i = 0; i < 12; i++) {
        if (i == 5 && t->d.cfg.kind == LOOM_ATTN_GENERAL)
            shapes[i][0] = H, shapes[i][1] = H;
        else if (i == 5 && t->d.cfg.kind == LOOM_ATTN_BAHDANAU)
            shapes[i][1] = H;
        *m[i] = loom_matrix_wrap(t->store[which].data + off, shapes[i][0], shapes[i][1]);
        off += shapes[i][0] * shapes[i][1];
    }
}

static void make(setup *t, int attention, loom_attention_kind kind, int feeding)
{
    loom_decoder_config cfg = {attention, kind, feeding, E, H, A, V, LOOM_F64};
    ck_assert_int_eq(loom_decoder_init(&t->d, &cfg), LOOM_OK);
    int fed = attention && (kind == LOOM_ATTN_BAHDANAU || feeding);
    t->store[0] = random_matrix(1, 400);
    ck_assert_int_eq(loom_matrix_init(&t->store[1], 1, 400), LOOM_OK);
    carve(t, 0, E + (fed ? H : 0));
    carve(t, 1, E + (fed ? H : 0));
    t->embs = random_matrix(T * B, E);
    t->keys = random_matrix(S * B, H);
    t->h0 = random_matrix(B, H);
    t->c0 = random_matrix(B, H);
    t->R = random_matrix(T * B, H);
    ck_assert_int_eq(loom_matrix_init(&t->outs, T * B, H), LOOM_OK);
}

static void release(setup *t)
{
    loom_matrix *all[] = {&t->store[0], &t->store[1], &t->embs, &t->keys, &t->h0, &t->c0, &t->outs, &t->R};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        loom_matrix_release(all[i]);
    loom_decoder_release(&t->d);
}

/* sum(outs .* R) after a forward. */
static double objective(setup *t)
{
    ck_assert_int_eq(loom_decoder_forward(&t->d, &t->outs, &t->embs, &t->h0, &t->c0, &t->keys, lengths, B), LOOM_OK);
    double s = 0.0;
    for (size_t i = 0; i < T * B; i++)
        for (size_t j = 0; j < H; j++)
            s += *loom_at(&t->outs, i, j) * *loom_at(&t->R, i, j);
    return s;
}

static void check_entry(setup *t, double *x, double analytic, const char *what, size_t i)
{
    double orig = *x, eps = 1e-6;
    *x = orig + eps;
    double fp = objective(t);
    *x = orig - eps;
    double fm = objective(t);
    *x = orig;
    double num = (fp - fm) / (2 * eps);
    ck_assert_msg(fabs(num - analytic) <= 1e-7 * fmax(1.0, fabs(num)), "%s [%zu]: analytic %g numeric %g", what, i,
                  analytic, num);
}

START_TEST(test_backward_finite_differences)
{
    static const struct { int attention, kind, feeding; } cases[] = {
        {0, LOOM_ATTN_DOT, 0}, {1, LOOM_ATTN_DOT, 1}, {1, LOOM_ATTN_GENERAL, 0}, {1, LOOM_ATTN_GENERAL, 1},
        {1, LOOM_ATTN_CONCAT, 1}, {1, LOOM_ATTN_BAHDANAU, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        setup t;
        make(&t, cases[c].attention, (loom_attention_kind)cases[c].kind, cases[c].feeding);
        loom_matrix dembs, dkeys, dh0, dc0;
        ck_assert_int_eq(loom_matrix_init(&dembs, T * B, E), LOOM_OK);
        ck_assert_int_eq(loom_matrix_init(&dkeys, S * B, H), LOOM_OK);
        ck_assert_int_eq(loom_matrix_init(&dh0, B, H), LOOM_OK);
        ck_assert_int_eq(loom_matrix_init(&dc0, B, H), LOOM_OK);
        objective(&t);
        loom_alloc_stats before = loom_alloc_get_stats();
        objective(&t); /* the workspace fits: no allocation */
        ck_assert_int_eq(loom_decoder_backward(&t.d, &dembs, &dkeys, &dh0, &dc0, &t.R), LOOM_OK);
        ck_assert_uint_eq(loom_alloc_get_stats().allocations, before.allocations);
        for (size_t i = 0; i < 400; i++)
            check_entry(&t, t.store[0].data + i, t.store[1].data[i], "parameter", i);
        loom_matrix *inputs[] = {&t.embs, &t.keys, &t.h0, &t.c0}, *grads[] = {&dembs, &dkeys, &dh0, &dc0};
        for (size_t k = 0; k < 4; k++)
            for (size_t i = 0; i < loom_numel(inputs[k]); i++)
                check_entry(&t, inputs[k]->data + i, grads[k]->data[i], "input", k * 100 + i);
        loom_matrix *all[] = {&dembs, &dkeys, &dh0, &dc0};
        for (size_t k = 0; k < 4; k++)
            loom_matrix_release(all[k]);
        release(&t);
    }
}
END_TEST

START_TEST(test_errors)
{
    setup t;
    make(&t, 1, LOOM_ATTN_GENERAL, 1);
    loom_decoder_config bad = {1, LOOM_ATTN_GENERAL, 1, E, 0, A, V, LOOM_F64};
    loom_decoder other;
    ck_assert_int_eq(loom_decoder_init(&other, &bad), LOOM_EARG);
    ck_assert_int_eq(loom_decoder_backward(&t.d, &t.embs, &t.keys, &t.h0, &t.c0, &t.outs), LOOM_EARG);
    ck_assert_int_eq(loom_decoder_forward(&t.d, &t.outs, &t.embs, &t.h0, &t.c0, &t.keys, lengths, 4), LOOM_EDIM);
    loom_matrix f32;
    ck_assert_int_eq(loom_matrix_init_dtype(&f32, B, H, LOOM_F32), LOOM_OK);
    ck_assert_int_eq(loom_decoder_forward(&t.d, &t.outs, &t.embs, &f32, &t.c0, &t.keys, lengths, B), LOOM_EDIM);
    ck_assert_int_eq(loom_decoder_step(&t.d, NULL), LOOM_EARG); /* no start */
    ck_assert_int_eq(loom_decoder_start(&t.d, &t.keys, lengths, &t.h0, &t.c0, 2), LOOM_OK);
    size_t ids[2 * B] = {3, 3, 3, V + 1};
    ck_assert_int_eq(loom_decoder_step(&t.d, ids), LOOM_EARG); /* an id past the vocabulary */
    loom_matrix_release(&f32);
    release(&t);
}
END_TEST

/* The toy of tests/lua/test_seq2seq.lua: the next token depends on the last one only (ids
 * 5 = x, 6 = y, eos 4): after <s> x .5 y .4 </s> .1; after x </s> .3 x .35 y .35; after y
 * </s> .9 x .05 y .05. Beam 2, n-best 2: y (.36), then x y (.1575). */
static void toy_logprobs(loom_matrix *lp, const size_t *ids)
{
    for (size_t r = 0; r < lp->rows; r++) {
        double p[7] = {0};
        if (ids[r] == 5)
            p[4] = .3, p[5] = .35, p[6] = .35;
        else if (ids[r] == 6)
            p[4] = .9, p[5] = .05, p[6] = .05;
        else
            p[4] = .1, p[5] = .5, p[6] = .4;
        for (size_t v = 0; v < 6; v++)
            loom_put(lp, r, v, log(p[v + 1] > 0 ? p[v + 1] : 1e-300));
    }
}

START_TEST(test_beam_hand_computed)
{
    for (int dtype = 0; dtype < 2; dtype++) {
        loom_beam bm = {0};
        size_t limit = 10, ids[10], len;
        double score, logprob;
        loom_matrix lp;
        ck_assert_int_eq(loom_matrix_init_dtype(&lp, 2, 6, (loom_dtype)dtype), LOOM_OK);
        ck_assert_int_eq(loom_beam_reset(&bm, 1, 2, 6, &limit, 2, 0.0, 3, 4, 1), LOOM_OK);
        loom_alloc_stats before = loom_alloc_get_stats();
        int done = loom_beam_begin_step(&bm);
        while (!done) {
            toy_logprobs(&lp, bm.ids);
            ck_assert_int_eq(loom_beam_advance(&bm, &lp, &done), LOOM_OK);
            if (!done)
                done = loom_beam_begin_step(&bm);
        }
        ck_assert_uint_eq(loom_alloc_get_stats().allocations, before.allocations);
        ck_assert_uint_eq(loom_beam_count(&bm, 0), 2);
        loom_beam_answer(&bm, 0, 0, ids, &len, &score, &logprob);
        ck_assert_uint_eq(len, 1);
        ck_assert_uint_eq(ids[0], 6);
        ck_assert(fabs(logprob - log(0.36)) < (dtype ? 1e-6 : 1e-14));
        loom_beam_answer(&bm, 0, 1, ids, &len, &score, &logprob);
        ck_assert_uint_eq(len, 2);
        ck_assert(ids[0] == 5 && ids[1] == 6);
        ck_assert(fabs(logprob - log(0.1575)) < (dtype ? 1e-6 : 1e-14));
        ck_assert_int_eq(loom_beam_reset(&bm, 1, 2, 6, &limit, 3, 0.0, 3, 4, 1), LOOM_EARG); /* nbest > beam */
        loom_matrix_release(&lp);
        loom_beam_release(&bm);
        loom_beam_release(&bm); /* twice is safe */
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("decoder");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_backward_finite_differences);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_beam_hand_computed);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
