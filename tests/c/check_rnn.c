/* check_rnn.c: the fused recurrent layers against the naive cell steps (forward) and
 * against central finite differences (BPTT), plus allocation and error paths. Not the
 * PyTorch cross-check (tests/lua/test_rnn_torch.lua). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "kernel.h" /* the branch-free exp, sigmoid and tanh of the gate kernels */
#include "rnn.h"
#include "testutil.h"

static loom_rng rng;
/* What runs the per-step products of the layers make_rnn builds (each test runs with both). */
static loom_rnn_gemm gemm_mode = LOOM_RNN_GEMM_AUTO;

static void fill_uniform(loom_matrix *m, double lo, double hi)
{
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            *loom_at(m, i, j) = lo + (hi - lo) * loom_rng_uniform(&rng);
}

static loom_matrix new_matrix(size_t rows, size_t cols)
{
    loom_matrix m;
    ck_assert_int_eq(loom_matrix_init(&m, rows, cols), LOOM_OK);
    return m;
}

static loom_matrix new_random(size_t rows, size_t cols)
{
    loom_matrix m = new_matrix(rows, cols);
    fill_uniform(&m, -1.0, 1.0);
    return m;
}

/* One layout to try: kind, sizes, layers, directions, lengths (NULL = all T). */
typedef struct shape {
    size_t I, H, L, T, B;
    int bidi;
    const size_t *lengths;
} shape;

static const size_t var_lengths[] = {3, 5, 1};
static const shape shapes[] = {
    {3, 4, 1, 5, 1, 0, NULL},
    {3, 4, 1, 5, 3, 0, var_lengths},
    {2, 3, 2, 5, 3, 1, var_lengths},
    {4, 3, 2, 4, 2, 0, NULL},
};
enum { SHAPE_COUNT = sizeof shapes / sizeof shapes[0] };

static void make_rnn(loom_rnn *r, loom_rnn_kind kind, const shape *s, double dropout)
{
    loom_rnn_config cfg = {kind, s->I, s->H, s->L, s->bidi, dropout, gemm_mode};
    ck_assert_int_eq(loom_rnn_init(r, &cfg, &rng), LOOM_OK);
    /* Scale the weights up so every gate is away from its linear region. */
    for (size_t i = 0; i < r->count; i++)
        r->values[i] *= 2.0;
}

/* The naive reference of a whole batch: every sequence on its own, step by step through
 * loom_rnn_step_naive, over its own length only, layer by layer. */
static void naive_forward(const loom_rnn *r, const shape *s, loom_matrix *out, loom_matrix *h_t,
                          loom_matrix *c_t, const loom_matrix *x, const loom_matrix *h0,
                          const loom_matrix *c0)
{
    size_t H = s->H, D = r->dirs, hd = H * D, G = r->gates;
    loom_matrix_fill(out, 0.0);
    for (size_t b = 0; b < s->B; b++) {
        size_t len = s->lengths ? s->lengths[b] : s->T;
        loom_matrix in = new_matrix(len, s->I);
        for (size_t t = 0; t < len; t++)
            memcpy(loom_at(&in, t, 0), loom_at(x, t * s->B + b, 0), s->I * sizeof(double));
        for (size_t l = 0; l < s->L; l++) {
            loom_matrix o = new_matrix(len, hd);
            for (size_t d = 0; d < D; d++) {
                size_t k = l * D + d;
                loom_matrix h = new_matrix(1, H), c = new_matrix(1, H), hn = new_matrix(1, H),
                            cn = new_matrix(1, H), g = new_matrix(1, G * H);
                memcpy(h.data, loom_at(h0, k * s->B + b, 0), H * sizeof(double));
                memcpy(c.data, loom_at(c0, k * s->B + b, 0), H * sizeof(double));
                for (size_t step = 0; step < len; step++) {
                    size_t t = d == 0 ? step : len - 1 - step;
                    loom_matrix xt;
                    ck_assert_int_eq(loom_matrix_view(&xt, &in, t, 0, 1, in.cols), LOOM_OK);
                    ck_assert_int_eq(loom_rnn_step_naive(r->cfg.kind, &hn, &cn, &g, &xt, &h, &c,
                                                         &r->params[k]),
                                     LOOM_OK);
                    memcpy(h.data, hn.data, H * sizeof(double));
                    memcpy(c.data, cn.data, H * sizeof(double));
                    memcpy(loom_at(&o, t, d * H), h.data, H * sizeof(double));
                }
                memcpy(loom_at(h_t, k * s->B + b, 0), h.data, H * sizeof(double));
                memcpy(loom_at(c_t, k * s->B + b, 0), c.data, H * sizeof(double));
                loom_matrix_release(&h);
                loom_matrix_release(&c);
                loom_matrix_release(&hn);
                loom_matrix_release(&cn);
                loom_matrix_release(&g);
            }
            loom_matrix_release(&in);
            in = o;
        }
        for (size_t t = 0; t < len; t++)
            memcpy(loom_at(out, t * s->B + b, 0), loom_at(&in, t, 0), hd * sizeof(double));
        loom_matrix_release(&in);
    }
}

START_TEST(test_forward_matches_naive)
{
    gemm_mode = _i == 0 ? LOOM_RNN_GEMM_BLAS : LOOM_RNN_GEMM_XSMM;
    for (int kind = LOOM_RNN_TANH; kind <= LOOM_GRU; kind++)
        for (size_t si = 0; si < SHAPE_COUNT; si++) {
            const shape *s = &shapes[si];
            loom_rnn r;
            make_rnn(&r, (loom_rnn_kind)kind, s, 0.0);
            size_t units = s->L * r.dirs, n = s->T * s->B;
            loom_matrix x = new_random(n, s->I), h0 = new_random(units * s->B, s->H);
            loom_matrix c0 = new_random(units * s->B, s->H);
            loom_matrix out = new_matrix(n, s->H * r.dirs), ht = new_matrix(units * s->B, s->H);
            loom_matrix ct = new_matrix(units * s->B, s->H);
            loom_matrix ref = new_matrix(n, s->H * r.dirs), ref_h = new_matrix(units * s->B, s->H);
            loom_matrix ref_c = new_matrix(units * s->B, s->H);
            int lstm = kind == LOOM_LSTM;
            if (!lstm)
                loom_matrix_fill(&c0, 0.0);
            ck_assert_int_eq(loom_rnn_forward(&r, &out, &ht, lstm ? &ct : NULL, &x, s->B,
                                              s->lengths, &h0, lstm ? &c0 : NULL, &rng),
                             LOOM_OK);
            naive_forward(&r, s, &ref, &ref_h, &ref_c, &x, &h0, &c0);
            ck_assert_msg(test_max_abs_diff(&out, &ref) < 1e-13, "%s shape %zu: out differs by %g",
                          loom_rnn_kind_name(r.cfg.kind), si, test_max_abs_diff(&out, &ref));
            ck_assert_msg(test_max_abs_diff(&ht, &ref_h) < 1e-13, "%s shape %zu: h_T differs",
                          loom_rnn_kind_name(r.cfg.kind), si);
            if (lstm)
                ck_assert_msg(test_max_abs_diff(&ct, &ref_c) < 1e-13, "shape %zu: c_T differs", si);
            loom_matrix *all[] = {&x, &h0, &c0, &out, &ht, &ct, &ref, &ref_h, &ref_c};
            for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
                loom_matrix_release(all[i]);
            loom_rnn_release(&r);
        }
}
END_TEST

/* The loss sum(out .* w_out) + sum(h_T .* w_h) + sum(c_T .* w_c) of one forward. */
typedef struct probe {
    loom_matrix x, h0, c0, w_out, w_h, w_c, out, ht, ct;
    const shape *s;
    uint64_t seed; /* the dropout masks are redrawn from this seed on every forward */
} probe;

static double dot(const loom_matrix *a, const loom_matrix *b)
{
    double s = 0.0;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++)
            s += *loom_at(a, i, j) * *loom_at(b, i, j);
    return s;
}

static double probe_loss(loom_rnn *r, probe *p)
{
    int lstm = r->cfg.kind == LOOM_LSTM;
    loom_rng mask_rng;
    loom_rng_seed(&mask_rng, p->seed);
    ck_assert_int_eq(loom_rnn_forward(r, &p->out, &p->ht, lstm ? &p->ct : NULL, &p->x, p->s->B,
                                      p->s->lengths, &p->h0, lstm ? &p->c0 : NULL, &mask_rng),
                     LOOM_OK);
    return dot(&p->out, &p->w_out) + dot(&p->ht, &p->w_h) + (lstm ? dot(&p->ct, &p->w_c) : 0.0);
}

/* Central difference of the loss in *v against the analytic value; returns the error
 * relative to max(1, |analytic|). */
static double fd_error(loom_rnn *r, probe *p, double *v, double analytic)
{
    const double eps = 1e-6;
    double keep = *v;
    *v = keep + eps;
    double up = probe_loss(r, p);
    *v = keep - eps;
    double down = probe_loss(r, p);
    *v = keep;
    double numeric = (up - down) / (2 * eps);
    return fabs(numeric - analytic) / fmax(1.0, fabs(analytic));
}

static void gradcheck(loom_rnn_kind kind, const shape *s, double dropout)
{
    loom_rnn r;
    make_rnn(&r, kind, s, dropout);
    size_t units = s->L * r.dirs, n = s->T * s->B, hd = s->H * r.dirs;
    int lstm = kind == LOOM_LSTM;
    probe p = {new_random(n, s->I), new_random(units * s->B, s->H), new_random(units * s->B, s->H),
               new_random(n, hd), new_random(units * s->B, s->H), new_random(units * s->B, s->H),
               new_matrix(n, hd), new_matrix(units * s->B, s->H), new_matrix(units * s->B, s->H),
               s, 7};
    loom_matrix dx = new_matrix(n, s->I), dh0 = new_matrix(units * s->B, s->H);
    loom_matrix dc0 = new_matrix(units * s->B, s->H);
    probe_loss(&r, &p);
    memset(r.grads, 0, r.count * sizeof(double));
    ck_assert_int_eq(loom_rnn_backward(&r, &dx, &dh0, lstm ? &dc0 : NULL, &p.w_out, &p.w_h,
                                       lstm ? &p.w_c : NULL),
                     LOOM_OK);
    double worst = 0.0;
    /* Every parameter is checked: the layers here are small. */
    for (size_t i = 0; i < r.count; i++)
        worst = fmax(worst, fd_error(&r, &p, &r.values[i], r.grads[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < s->I; j++) {
            size_t t = i / s->B, b = i % s->B;
            double e = fd_error(&r, &p, loom_at(&p.x, i, j), *loom_at(&dx, i, j));
            worst = fmax(worst, e);
            if (s->lengths && t >= s->lengths[b])
                ck_assert(*loom_at(&dx, i, j) == 0.0);
        }
    for (size_t i = 0; i < units * s->B; i++)
        for (size_t j = 0; j < s->H; j++) {
            worst = fmax(worst, fd_error(&r, &p, loom_at(&p.h0, i, j), *loom_at(&dh0, i, j)));
            if (lstm)
                worst = fmax(worst, fd_error(&r, &p, loom_at(&p.c0, i, j), *loom_at(&dc0, i, j)));
        }
    ck_assert_msg(worst < 1e-7, "%s I%zu H%zu L%zu T%zu B%zu bidi %d dropout %g: worst error %g",
                  loom_rnn_kind_name(kind), s->I, s->H, s->L, s->T, s->B, s->bidi, dropout, worst);
    loom_matrix *all[] = {&p.x, &p.h0, &p.c0, &p.w_out, &p.w_h, &p.w_c, &p.out, &p.ht, &p.ct,
                          &dx, &dh0, &dc0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        loom_matrix_release(all[i]);
    loom_rnn_release(&r);
}

START_TEST(test_backward_finite_differences)
{
    gemm_mode = _i == 0 ? LOOM_RNN_GEMM_BLAS : LOOM_RNN_GEMM_XSMM;
    for (int kind = LOOM_RNN_TANH; kind <= LOOM_GRU; kind++)
        for (size_t si = 0; si < SHAPE_COUNT; si++)
            gradcheck((loom_rnn_kind)kind, &shapes[si], 0.0);
}
END_TEST

START_TEST(test_backward_with_dropout)
{
    gemm_mode = _i == 0 ? LOOM_RNN_GEMM_BLAS : LOOM_RNN_GEMM_XSMM;
    /* Same masks on every forward (the generator is reseeded), so the loss is smooth. */
    gradcheck(LOOM_LSTM, &shapes[2], 0.3);
    gradcheck(LOOM_GRU, &shapes[3], 0.5);
}
END_TEST

START_TEST(test_gradients_accumulate)
{
    gemm_mode = _i == 0 ? LOOM_RNN_GEMM_BLAS : LOOM_RNN_GEMM_XSMM;
    const shape *s = &shapes[1];
    loom_rnn r;
    make_rnn(&r, LOOM_LSTM, s, 0.0);
    loom_matrix x = new_random(s->T * s->B, s->I), out = new_matrix(s->T * s->B, s->H);
    loom_matrix dout = new_random(s->T * s->B, s->H);
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, s->B, s->lengths, NULL, NULL, NULL),
                     LOOM_OK);
    ck_assert_int_eq(loom_rnn_backward(&r, NULL, NULL, NULL, &dout, NULL, NULL), LOOM_OK);
    double *once = malloc(r.count * sizeof(double));
    memcpy(once, r.grads, r.count * sizeof(double));
    ck_assert_int_eq(loom_rnn_backward(&r, NULL, NULL, NULL, &dout, NULL, NULL), LOOM_OK);
    for (size_t i = 0; i < r.count; i++)
        ck_assert(fabs(r.grads[i] - 2 * once[i]) <= 1e-12 * fmax(1.0, fabs(once[i])));
    free(once);
    loom_matrix_release(&x);
    loom_matrix_release(&out);
    loom_matrix_release(&dout);
    loom_rnn_release(&r);
}
END_TEST

START_TEST(test_no_allocation_after_warmup)
{
    gemm_mode = _i == 0 ? LOOM_RNN_GEMM_BLAS : LOOM_RNN_GEMM_XSMM;
    shape s = {8, 16, 2, 20, 4, 1, NULL};
    loom_rnn r;
    make_rnn(&r, LOOM_LSTM, &s, 0.2);
    size_t n = s.T * s.B, units = 4;
    loom_matrix x = new_random(n, s.I), out = new_matrix(n, 2 * s.H), dout = new_random(n, 2 * s.H);
    loom_matrix ht = new_matrix(units * s.B, s.H), ct = new_matrix(units * s.B, s.H);
    loom_matrix dx = new_matrix(n, s.I);
    for (int round = 0; round < 3; round++) {
        uint64_t before = loom_alloc_get_stats().allocations;
        ck_assert_int_eq(loom_rnn_forward(&r, &out, &ht, &ct, &x, s.B, NULL, NULL, NULL, &rng),
                         LOOM_OK);
        ck_assert_int_eq(loom_rnn_backward(&r, &dx, NULL, NULL, &dout, NULL, NULL), LOOM_OK);
        uint64_t made = loom_alloc_get_stats().allocations - before;
        ck_assert_uint_eq(made, round == 0 ? 1 : 0);
    }
    /* A shorter sequence fits the workspace already. */
    loom_matrix xs = {.data = x.data, .rows = n / 2, .cols = s.I, .ld = s.I},
                os = {.data = out.data, .rows = n / 2, .cols = 2 * s.H, .ld = 2 * s.H};
    uint64_t before = loom_alloc_get_stats().allocations;
    ck_assert_int_eq(loom_rnn_forward(&r, &os, NULL, NULL, &xs, s.B, NULL, NULL, NULL, &rng), LOOM_OK);
    ck_assert_uint_eq(loom_alloc_get_stats().allocations - before, 0);
    loom_matrix *all[] = {&x, &out, &dout, &ht, &ct, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        loom_matrix_release(all[i]);
    loom_rnn_release(&r);
}
END_TEST

/* The two parts of a layer's loop run on OpenBLAS's worker (loom_blas_run_jobs) or, on a
 * BLAS without that pool, on a thread of loom's own: both give bitwise what one part gives
 * for outputs and states, and the same dx and gradients to rounding (dx is one BLAS product
 * after the loop, and OpenBLAS's dgemm at two threads can differ from one thread in the last
 * bit: seen on an AMD EPYC with AVX-512, 2e-17 relative at 540 x 256 x 7). Loop 0 splits the batch rows (H = 64);
 * loop 1 the columns of a W_hh over 1 MiB (H = 256), whose parts wait for each other at
 * every step. Run 3 has no second thread at all: row parts then run one after the other
 * (bitwise the same), column parts cannot, and the layer falls back to one part and BLAS
 * (the same to rounding). */
START_TEST(test_loop_parts_without_the_pool)
{
    int threads = loom_blas_get_threads();
    shape s = _i == 0 ? (shape){7, 64, 2, 60, 9, 1, NULL} : (shape){7, 256, 2, 6, 9, 1, NULL};
    size_t n = s.T * s.B, units = 4;
    loom_matrix x = new_random(n, s.I), dout = new_random(n, 2 * s.H);
    loom_matrix out[4], ht[4], ct[4], dx[4], grad[4];
    const int thread_count[4] = {1, 2, 2, 2}, pool[4] = {1, 1, 0, 0};
    for (int run = 0; run < 4; run++) {
        loom_blas_set_threads(thread_count[run]);
        loom_blas_allow_pool(pool[run]);
        loom_rnn_allow_threads(run < 3);
        loom_rng_seed(&rng, 5);
        gemm_mode = LOOM_RNN_GEMM_XSMM;
        loom_rnn r;
        make_rnn(&r, LOOM_LSTM, &s, 0.0);
        out[run] = new_matrix(n, 2 * s.H), dx[run] = new_matrix(n, s.I);
        ht[run] = new_matrix(units * s.B, s.H), ct[run] = new_matrix(units * s.B, s.H);
        ck_assert_int_eq(loom_rnn_forward(&r, &out[run], &ht[run], &ct[run], &x, s.B, NULL, NULL,
                                          NULL, &rng), LOOM_OK);
        ck_assert_int_eq(loom_rnn_backward(&r, &dx[run], NULL, NULL, &dout, NULL, NULL), LOOM_OK);
        int fell_back = run == 3 && _i == 1;
        ck_assert_uint_eq(r.work.parts, run == 0 || fell_back ? 1 : 2);
        ck_assert_int_eq(r.work.columns, run > 0 && _i == 1 && !fell_back);
        grad[run] = new_matrix(1, r.count);
        memcpy(grad[run].data, r.grads, r.count * sizeof(double));
        loom_rnn_release(&r);
    }
    loom_blas_allow_pool(1);
    loom_rnn_allow_threads(1);
    loom_blas_set_threads(threads);
    gemm_mode = LOOM_RNN_GEMM_AUTO;
    for (int run = 1; run < 4; run++) {
        double tol = run == 3 && _i == 1 ? 1e-12 : 0.0; /* BLAS's sums, not the kernels' */
        ck_assert(loom_matrix_allclose(&out[run], &out[0], tol, tol));
        ck_assert(loom_matrix_allclose(&ht[run], &ht[0], tol, tol));
        ck_assert(loom_matrix_allclose(&ct[run], &ct[0], tol, tol));
        ck_assert(loom_matrix_allclose(&dx[run], &dx[0], 1e-12, 1e-12));
        ck_assert(loom_matrix_allclose(&grad[run], &grad[0], 1e-12, 1e-12));
    }
    ck_assert(loom_matrix_allclose(&grad[2], &grad[1], 0.0, 0.0)); /* the same two parts */
    loom_matrix *all[] = {&x, &dout};
    for (size_t i = 0; i < 2; i++)
        loom_matrix_release(all[i]);
    for (int run = 0; run < 4; run++) {
        loom_matrix *mine[] = {&out[run], &ht[run], &ct[run], &dx[run], &grad[run]};
        for (size_t i = 0; i < 5; i++)
            loom_matrix_release(mine[i]);
    }
}
END_TEST

START_TEST(test_errors)
{
    loom_rnn r;
    loom_rnn_config bad = {LOOM_LSTM, 0, 4, 1, 0, 0.0, LOOM_RNN_GEMM_AUTO};
    ck_assert_int_eq(loom_rnn_init(&r, &bad, &rng), LOOM_EARG);
    bad = (loom_rnn_config){LOOM_LSTM, 3, 4, 1, 0, 1.0, LOOM_RNN_GEMM_AUTO};
    ck_assert_int_eq(loom_rnn_init(&r, &bad, &rng), LOOM_EARG);
    loom_rnn_release(&r); /* harmless after a failed init */
    loom_rnn_config cfg = {LOOM_GRU, 3, 4, 2, 1, 0.5, LOOM_RNN_GEMM_AUTO};
    int64_t live = loom_alloc_get_stats().live_blocks;
    bad = (loom_rnn_config){LOOM_LSTM, 3, 4, 1, 0, 0.0, (loom_rnn_gemm)7};
    ck_assert_int_eq(loom_rnn_init(&r, &bad, &rng), LOOM_EARG);
    for (uint64_t k = 1; k <= 5; k++) {
        loom_alloc_fail_after(k);
        ck_assert_int_eq(loom_rnn_init(&r, &cfg, &rng), LOOM_ENOMEM);
        ck_assert_int_eq(loom_alloc_get_stats().live_blocks, live);
    }
    loom_alloc_fail_after(0);
    ck_assert_int_eq(loom_rnn_init(&r, &cfg, &rng), LOOM_OK);
    loom_matrix x = new_random(6, 3), out = new_matrix(6, 8), small = new_matrix(6, 4);
    loom_matrix dout = new_matrix(6, 8);
    ck_assert_int_eq(loom_rnn_backward(&r, NULL, NULL, NULL, &dout, NULL, NULL), LOOM_EARG);
    ck_assert_int_eq(loom_rnn_forward(&r, &small, NULL, NULL, &x, 2, NULL, NULL, NULL, &rng), LOOM_EDIM);
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, 4, NULL, NULL, NULL, &rng), LOOM_EDIM);
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, 2, NULL, NULL, NULL, NULL), LOOM_EARG);
    size_t lengths[] = {3, 4};
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, 2, lengths, NULL, NULL, &rng), LOOM_EARG);
    loom_matrix c0 = new_matrix(8, 4);
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, 2, NULL, NULL, &c0, &rng), LOOM_EDIM);
    loom_alloc_fail_after(1);
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, 2, NULL, NULL, NULL, &rng), LOOM_ENOMEM);
    ck_assert_int_eq(loom_rnn_backward(&r, NULL, NULL, NULL, &dout, NULL, NULL), LOOM_EARG);
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, 2, NULL, NULL, NULL, &rng), LOOM_OK);
    ck_assert_int_eq(loom_rnn_backward(&r, &small, NULL, NULL, &dout, NULL, NULL), LOOM_EDIM);
    ck_assert_int_eq(loom_rnn_backward(&r, NULL, NULL, NULL, &dout, NULL, NULL), LOOM_OK);
    loom_matrix *all[] = {&x, &out, &small, &dout, &c0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        loom_matrix_release(all[i]);
    loom_rnn_release(&r);
    loom_rnn_release(&r);
    ck_assert_int_eq(loom_alloc_get_stats().live_blocks, live);
}
END_TEST

/* The fused kernels' tanh against libm's over both of its branches and the clamp: a
 * one-unit RNN with w_ih = 1 and nothing else computes tanh(x) for a batch of x. */
START_TEST(test_fused_tanh_accuracy)
{
    loom_rnn r;
    loom_rnn_config cfg = {LOOM_RNN_TANH, 1, 1, 1, 0, 0.0, LOOM_RNN_GEMM_AUTO};
    ck_assert_int_eq(loom_rnn_init(&r, &cfg, &rng), LOOM_OK);
    memset(r.values, 0, r.count * sizeof(double));
    r.params[0].w_ih.data[0] = 1.0;
    size_t n = 20001;
    loom_matrix x = new_matrix(n, 1), out = new_matrix(n, 1);
    for (size_t i = 0; i < n; i++)
        x.data[i] = i % 2 ? (double)i / (n - 1) * 60.0 - 30.0 : ((double)i / (n - 1) - 0.5) * 0.7;
    x.data[0] = 0.0;
    x.data[2] = 1e-300;
    x.data[4] = -0.25;
    ck_assert_int_eq(loom_rnn_forward(&r, &out, NULL, NULL, &x, n, NULL, NULL, NULL, NULL), LOOM_OK);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double want = tanh(x.data[i]), got = out.data[i];
        double ulp = nextafter(fabs(want), INFINITY) - fabs(want);
        worst = fmax(worst, fabs(got - want) / ulp);
    }
    ck_assert_msg(worst <= 8.0, "fused tanh is %g ulps from tanh", worst);
    ck_assert(out.data[0] == 0.0 && out.data[2] == 1e-300);
    loom_matrix_release(&x);
    loom_matrix_release(&out);
    loom_rnn_release(&r);
}
END_TEST

/* Distance of got from want in units of want's last place (0 when both are NaN or the same
 * infinity); spacing is the ulp of the type at want. */
static double ulps(double got, double want, double spacing)
{
    if (isnan(want) || isinf(want))
        return (isnan(got) && isnan(want)) || got == want ? 0.0 : INFINITY;
    return isnan(got) ? INFINITY : fabs(got - want) / spacing;
}

static double ulp_of(double v)
{
    return nextafter(fabs(v), INFINITY) - fabs(v);
}

static double ulp_of_float(double v)
{
    float f = (float)fabs(v);
    return (double)(nextafterf(f, INFINITY) - f);
}

/* The gate kernels run as the loader's clone for this CPU (AVX-512, AVX2 + FMA or the
 * baseline); this file is compiled for the baseline. A fused LSTM step must give bitwise
 * what the same formulas give here, in float64 and float32, over a row long enough for the
 * vector body and its remainder (H = 37), with inputs across the functions' branches. */
START_TEST(test_gate_kernels_match_baseline)
{
    enum { B = 3, H = 37 };
    for (int f32 = 0; f32 <= 1; f32++) {
        loom_dtype dt = f32 ? LOOM_F32 : LOOM_F64;
        loom_matrix gates, gates0, h, c, tc, hp, cp, bias;
        loom_matrix *all[] = {&gates, &gates0, &h, &c, &tc, &hp, &cp, &bias};
        const size_t rows[] = {B, B, B, B, B, B, B, 1}, cols[] = {4 * H, 4 * H, H, H, H, H, H, 4 * H};
        for (int k = 0; k < 8; k++) {
            ck_assert_int_eq(loom_matrix_init_dtype(all[k], rows[k], cols[k], dt), LOOM_OK);
            for (size_t i = 0; i < rows[k]; i++)
                for (size_t j = 0; j < cols[k]; j++) {
                    /* pre-activations up to 30 in size (tanh's series below 1/4, its exp
                     * beyond, the clamp past 20); the bias small */
                    double u = loom_rng_uniform(&rng) * 2.0 - 1.0;
                    double v = k == 7 ? 0.1 * u : (i + j) % 3 == 0 ? 0.2 * u : 30.0 * u * u * u;
                    loom_put(all[k], i, j, v);
                }
        }
        ck_assert_int_eq(loom_matrix_copy(&gates0, &gates), LOOM_OK);
        ck_assert_int_eq(loom_lstm_step(&gates, &h, &c, &tc, &hp, &cp, &bias), LOOM_OK);
        int differ = 0;
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < H; j++) {
                double pre[4], act[4];
                for (int g = 0; g < 4; g++)
                    pre[g] = loom_get(&gates0, b, g * H + j) + loom_get(&bias, 0, g * H + j);
                double cn, t;
                if (f32) {
                    float pf[4];
                    for (int g = 0; g < 4; g++) /* the sum as the kernel rounds it */
                        pf[g] = (float)loom_get(&gates0, b, g * H + j) + (float)loom_get(&bias, 0, g * H + j);
                    act[0] = loom_sigmoidf(pf[0]), act[1] = loom_sigmoidf(pf[1]);
                    act[2] = loom_tanhf(pf[2]), act[3] = loom_sigmoidf(pf[3]);
                    float cf = (float)act[1] * (float)loom_get(&cp, b, j) + (float)act[0] * (float)act[2];
                    cn = cf, t = loom_tanhf(cf);
                } else {
                    act[0] = loom_sigmoid(pre[0]), act[1] = loom_sigmoid(pre[1]);
                    act[2] = loom_tanh(pre[2]), act[3] = loom_sigmoid(pre[3]);
                    cn = act[1] * loom_get(&cp, b, j) + act[0] * act[2];
                    t = loom_tanh(cn);
                }
                for (int g = 0; g < 4; g++)
                    differ += loom_get(&gates, b, g * H + j) != act[g];
                differ += loom_get(&c, b, j) != cn;
                differ += loom_get(&tc, b, j) != t;
                differ += f32 ? (float)loom_get(&h, b, j) != (float)act[3] * (float)t
                              : loom_get(&h, b, j) != act[3] * t;
            }
        ck_assert_msg(differ == 0, "%s: %d values of the fused step differ from the baseline",
                      f32 ? "float32" : "float64", differ);
        for (int k = 0; k < 8; k++)
            loom_matrix_release(all[k]);
    }
}
END_TEST

/* kernel.h's exp, sigmoid and tanh against libm (sigmoid against 1 / (1 + exp(-x)) in long
 * double) over the range where results are normal numbers, with the bounds kernel.h states,
 * and at the edges: underflow to 0, overflow to inf, NaN through. */
START_TEST(test_branch_free_math)
{
    double worst[6] = {0};
    for (int i = 0; i < 400000; i++) {
        double u = loom_rng_uniform(&rng);
        double x = i % 3 == 0 ? u * 1416.0 - 708.0 : i % 3 == 1 ? u * 40.0 - 20.0 : u * 2.0 - 1.0;
        float xf = (float)(i % 3 == 0 ? u * 174.0 - 87.0 : x);
        long double s = 1.0L / (1.0L + expl(-(long double)x));
        worst[0] = fmax(worst[0], ulps(loom_exp(x), exp(x), ulp_of(exp(x))));
        worst[1] = fmax(worst[1], ulps(loom_sigmoid(x), (double)s, ulp_of((double)s)));
        worst[2] = fmax(worst[2], ulps(loom_tanh(x), tanh(x), ulp_of(tanh(x))));
        double e = exp((double)xf), sf = 1.0 / (1.0 + exp(-(double)xf)), tf = tanh((double)xf);
        worst[3] = fmax(worst[3], ulps(loom_expf(xf), e, ulp_of_float(e)));
        worst[4] = fmax(worst[4], ulps(loom_sigmoidf(xf), sf, ulp_of_float(sf)));
        worst[5] = fmax(worst[5], ulps(loom_tanhf(xf), tf, ulp_of_float(tf)));
    }
    const double bound[6] = {1.0, 3.0, 8.0, 2.0, 3.0, 6.0};
    const char *name[6] = {"exp", "sigmoid", "tanh", "expf", "sigmoidf", "tanhf"};
    for (int k = 0; k < 6; k++)
        ck_assert_msg(worst[k] <= bound[k], "%s is %g ulps from libm (bound %g)", name[k],
                      worst[k], bound[k]);
    ck_assert(loom_exp(-800.0) == 0.0 && isinf(loom_exp(800.0)) && isnan(loom_exp(NAN)));
    ck_assert(loom_exp(-745.0) > 0.0 && loom_exp(0.0) == 1.0); /* the smallest subnormal */
    ck_assert(loom_expf(-200.0f) == 0.0f && isinf(loom_expf(100.0f)) && isnan(loom_expf(NAN)));
    ck_assert(loom_sigmoid(-800.0) == 0.0 && loom_sigmoid(800.0) == 1.0);
    ck_assert(isnan(loom_sigmoid(NAN)) && isnan(loom_tanh(NAN)) && isnan(loom_tanhf(NAN)));
    ck_assert(loom_tanh(-50.0) == -1.0 && loom_tanhf(50.0f) == 1.0f && loom_tanh(1e-300) == 1e-300);
}
END_TEST

static Suite *rnn_suite(void)
{
    Suite *suite = suite_create("rnn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_forward_matches_naive, 0, 2); /* BLAS, then libxsmm */
    tcase_add_loop_test(tc, test_backward_finite_differences, 0, 2); /* BLAS, then libxsmm */
    tcase_add_loop_test(tc, test_backward_with_dropout, 0, 2); /* BLAS, then libxsmm */
    tcase_add_loop_test(tc, test_gradients_accumulate, 0, 2); /* BLAS, then libxsmm */
    tcase_add_loop_test(tc, test_no_allocation_after_warmup, 0, 2); /* BLAS, then libxsmm */
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_fused_tanh_accuracy);
    tcase_add_test(tc, test_branch_free_math);
    tcase_add_test(tc, test_gate_kernels_match_baseline);
    tcase_add_loop_test(tc, test_loop_parts_without_the_pool, 0, 2);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    loom_rng_seed(&rng, 2024);
    return test_run_suite(rnn_suite());
}
