/* check_matrix.c: the matrix kernels of src/core/matrix.c against naive loops, on every
 * shape of testutil.h, contiguous and as views with ld > cols. Not BLAS (check_blas.c). */
#include "testutil.h"

#include <float.h>
#include <stdint.h>

/* ---- storage and views ---- */

/* Both constructors: loom_matrix_init zeroes, loom_matrix_init_uninit only allocates. */
typedef loom_status (*init_fn)(loom_matrix *, size_t, size_t);
static const init_fn inits[] = {loom_matrix_init, loom_matrix_init_uninit};

START_TEST(test_init_release)
{
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < TEST_SHAPE_COUNT; k++) {
            size_t r, c;
            test_shape(k, &r, &c);
            int64_t live = test_live_blocks();
            loom_matrix m;
            ck_assert_int_eq(inits[f](&m, r, c), LOOM_OK);
            ck_assert_uint_eq(m.rows, r);
            ck_assert_uint_eq(m.cols, c);
            ck_assert_uint_ge(m.ld, 1);
            ck_assert_int_eq(test_live_blocks(), live + (r && c ? 1 : 0));
            if (f == 1)
                loom_matrix_fill(&m, 2.5); /* the storage is there to write */
            for (size_t i = 0; i < r; i++)
                for (size_t j = 0; j < c; j++)
                    ck_assert(*loom_at(&m, i, j) == (f == 0 ? 0.0 : 2.5));
            if (r && c)
                ck_assert_uint_eq((uintptr_t)m.data % 64, 0);
            loom_matrix_release(&m);
            loom_matrix_release(&m); /* twice is fine */
            ck_assert_uint_eq(m.rows, 0);
            ck_assert_ptr_null(m.data);
            ck_assert_int_eq(test_live_blocks(), live);
        }
}
END_TEST

START_TEST(test_init_injected_failure)
{
    for (int f = 0; f < 2; f++) {
        loom_matrix m;
        int64_t live = test_live_blocks();
        loom_alloc_fail_after(1);
        ck_assert_int_eq(inits[f](&m, 3, 3), LOOM_ENOMEM);
        ck_assert_uint_eq(m.rows, 0);
        ck_assert_ptr_null(m.block);
        ck_assert_int_eq(test_live_blocks(), live);
    }
}
END_TEST

START_TEST(test_init_overflow)
{
    loom_matrix m;
    int64_t live = test_live_blocks();
    ck_assert_int_eq(loom_matrix_init(&m, SIZE_MAX / 2, 4), LOOM_ERANGE);
    ck_assert_int_eq(loom_matrix_init_uninit(&m, SIZE_MAX / 2, 4), LOOM_ERANGE);
    ck_assert_uint_eq(m.rows, 0);
    ck_assert_uint_eq(m.cols, 0);
    ck_assert_ptr_null(m.block);
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

/* Every dimension is bounded, empty or not: a 2^62 x 0 matrix would make later loops over
 * its rows run for ever (issue 13, item 8). */
START_TEST(test_init_dimension_bound)
{
    loom_matrix m, v;
    const size_t huge = (size_t)1 << 62;
    ck_assert_int_eq(loom_matrix_init(&m, huge, 0), LOOM_ERANGE);
    ck_assert_uint_eq(m.rows, 0);
    ck_assert_int_eq(loom_matrix_init(&m, 0, huge), LOOM_ERANGE);
    ck_assert_int_eq(loom_matrix_init(&m, LOOM_MAX_DIM + 1, 0), LOOM_ERANGE);
    ck_assert_int_eq(loom_matrix_init(&m, LOOM_MAX_DIM, 0), LOOM_OK);
    ck_assert_uint_eq(m.rows, LOOM_MAX_DIM);
    ck_assert_int_eq(loom_matrix_reshape_view(&v, &m, 0, LOOM_MAX_DIM + 1), LOOM_EDIM);
    loom_matrix_release(&m);
}
END_TEST

START_TEST(test_view_and_reshape)
{
    test_matrix t = test_matrix_new(5, 4, 0, -1, 1);
    loom_matrix v, w;
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 1, 2, 3, 2), LOOM_OK);
    ck_assert_ptr_eq(v.data, loom_at(&t.m, 1, 2));
    ck_assert_uint_eq(v.ld, 4);
    ck_assert_ptr_null(v.block);
    ck_assert(*loom_at(&v, 2, 1) == *loom_at(&t.m, 3, 3));
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 0, 0, 5, 4), LOOM_OK);
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 5, 4, 0, 0), LOOM_OK); /* empty at the end */
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 4, 0, 2, 1), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 0, 3, 1, 2), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 6, 0, 0, 1), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 0, 0, SIZE_MAX, 1), LOOM_EDIM);

    /* Reshape shares contiguous storage, refuses strided views and other sizes. */
    ck_assert_int_eq(loom_matrix_reshape_view(&w, &t.m, 2, 10), LOOM_OK);
    ck_assert_ptr_eq(w.data, t.m.data);
    ck_assert(*loom_at(&w, 1, 3) == *loom_at(&t.m, 3, 1));
    ck_assert_int_eq(loom_matrix_reshape_view(&w, &t.m, 20, 1), LOOM_OK);
    ck_assert_int_eq(loom_matrix_reshape_view(&w, &t.m, 3, 7), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 1, 1, 3, 2), LOOM_OK);
    ck_assert_int_eq(loom_matrix_reshape_view(&w, &v, 2, 3), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_view(&v, &t.m, 1, 1, 1, 3), LOOM_OK); /* one row: contiguous */
    ck_assert_int_eq(loom_matrix_reshape_view(&w, &v, 3, 1), LOOM_OK);
    ck_assert(*loom_at(&w, 2, 0) == *loom_at(&t.m, 1, 3));
    test_matrix_free(&t);
}
END_TEST

START_TEST(test_wrap)
{
    double data[6] = {1, 2, 3, 4, 5, 6};
    loom_matrix m = loom_matrix_wrap(data, 2, 3);
    ck_assert_uint_eq(m.ld, 3);
    ck_assert_ptr_null(m.block);
    ck_assert(*loom_at(&m, 1, 0) == 4);
    int64_t live = test_live_blocks();
    loom_matrix_release(&m); /* frees nothing it does not own */
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

/* ---- copy, transpose, fill, eye, rand ---- */

START_TEST(test_copy)
{
    for (int k = 0; k < TEST_SHAPE_COUNT; k++)
        for (int pads = 0; pads < 4; pads++) {
            size_t r, c;
            test_shape(k, &r, &c);
            test_matrix src = test_matrix_new(r, c, pads & 1 ? 3 : 0, -5, 5);
            test_matrix dst = test_matrix_new(r, c, pads & 2 ? 2 : 0, 0, 1);
            ck_assert_int_eq(loom_matrix_copy(&dst.m, &src.m), LOOM_OK);
            for (size_t i = 0; i < r; i++)
                for (size_t j = 0; j < c; j++)
                    ck_assert(*loom_at(&dst.m, i, j) == *loom_at(&src.m, i, j));
            test_padding_intact(&dst);
            ck_assert_int_eq(loom_matrix_copy(&src.m, &src.m), LOOM_OK); /* onto itself */
            test_matrix_free(&src);
            test_matrix_free(&dst);
        }
    loom_matrix a, b;
    ck_assert_int_eq(loom_matrix_init(&a, 2, 3), LOOM_OK);
    ck_assert_int_eq(loom_matrix_init(&b, 3, 2), LOOM_OK);
    ck_assert_int_eq(loom_matrix_copy(&a, &b), LOOM_EDIM);
    loom_matrix_release(&a);
    loom_matrix_release(&b);
}
END_TEST

START_TEST(test_copy_overlapping_rows)
{
    /* Shifting rows inside one matrix (memmove semantics). */
    test_matrix t = test_matrix_new(6, 3, 2, -1, 1);
    double before[6][3];
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 3; j++)
            before[i][j] = *loom_at(&t.m, i, j);
    loom_matrix top, bottom;
    loom_matrix_view(&top, &t.m, 0, 0, 5, 3);
    loom_matrix_view(&bottom, &t.m, 1, 0, 5, 3);
    ck_assert_int_eq(loom_matrix_copy(&top, &bottom), LOOM_OK);
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++)
            ck_assert(*loom_at(&t.m, i, j) == before[i + 1][j]);
    test_padding_intact(&t);
    /* And down: row i + 1 = old row i. */
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 3; j++)
            *loom_at(&t.m, i, j) = before[i][j];
    ck_assert_int_eq(loom_matrix_copy(&bottom, &top), LOOM_OK);
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++)
            ck_assert_msg(*loom_at(&t.m, i + 1, j) == before[i][j], "row %zu", i + 1);
    ck_assert(*loom_at(&t.m, 0, 0) == before[0][0]);
    test_padding_intact(&t);
    test_matrix_free(&t);
}
END_TEST

START_TEST(test_transpose)
{
    size_t extra[][2] = {{40, 70}, {64, 64}, {1, 100}};
    for (int k = 0; k < TEST_SHAPE_COUNT + 3; k++)
        for (int pads = 0; pads < 4; pads++) {
            size_t r, c;
            if (k < TEST_SHAPE_COUNT)
                test_shape(k, &r, &c);
            else
                r = extra[k - TEST_SHAPE_COUNT][0], c = extra[k - TEST_SHAPE_COUNT][1];
            test_matrix src = test_matrix_new(r, c, pads & 1 ? 1 : 0, -5, 5);
            test_matrix dst = test_matrix_new(c, r, pads & 2 ? 5 : 0, 0, 1);
            ck_assert_int_eq(loom_matrix_transpose(&dst.m, &src.m), LOOM_OK);
            for (size_t i = 0; i < r; i++)
                for (size_t j = 0; j < c; j++)
                    ck_assert(*loom_at(&dst.m, j, i) == *loom_at(&src.m, i, j));
            test_padding_intact(&dst);
            test_matrix_free(&src);
            test_matrix_free(&dst);
        }
    test_matrix a = test_matrix_new(2, 3, 0, 0, 1);
    ck_assert_int_eq(loom_matrix_transpose(&a.m, &a.m), LOOM_EDIM);
    test_matrix_free(&a);
}
END_TEST

START_TEST(test_fill_eye)
{
    for (int k = 0; k < TEST_SHAPE_COUNT; k++) {
        size_t r, c;
        test_shape(k, &r, &c);
        test_matrix t = test_matrix_new(r, c, 2, -1, 1);
        loom_matrix_fill(&t.m, -2.5);
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                ck_assert(*loom_at(&t.m, i, j) == -2.5);
        test_padding_intact(&t);
        loom_matrix_eye(&t.m);
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                ck_assert(*loom_at(&t.m, i, j) == (i == j ? 1.0 : 0.0));
        test_padding_intact(&t);
        test_matrix_free(&t);
    }
}
END_TEST

START_TEST(test_rand_randn)
{
    test_matrix t = test_matrix_new(50, 40, 3, 0, 1);
    loom_rng rng, again;
    loom_rng_seed(&rng, 7);
    loom_rng_seed(&again, 7);
    loom_matrix_rand(&t.m, &rng);
    for (size_t i = 0; i < 50; i++)
        for (size_t j = 0; j < 40; j++) {
            double x = *loom_at(&t.m, i, j);
            ck_assert(x >= 0.0 && x < 1.0);
            ck_assert(x == loom_rng_uniform(&again)); /* row-major order of the stream */
        }
    test_padding_intact(&t);
    loom_matrix_randn(&t.m, &rng);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < 50; i++)
        for (size_t j = 0; j < 40; j++) {
            double x = *loom_at(&t.m, i, j);
            ck_assert(isfinite(x));
            sum += x;
            sq += x * x;
        }
    double mean = sum / 2000, var = sq / 2000 - mean * mean;
    ck_assert_msg(fabs(mean) < 0.1 && fabs(var - 1) < 0.15, "mean %g var %g", mean, var);
    test_padding_intact(&t);
    test_matrix_free(&t);
}
END_TEST

/* ---- binary elementwise ---- */

static double binop_ref(loom_binop op, double x, double y)
{
    switch (op) {
    case LOOM_ADD: return x + y;
    case LOOM_SUB: return x - y;
    case LOOM_MUL: return x * y;
    case LOOM_DIV: return x / y;
    case LOOM_POW: return pow(x, y);
    case LOOM_MAX: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
    case LOOM_MIN: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
    }
    return NAN;
}

enum { FULL, ROW, COL, SCALAR };
static const char *const kind_names[] = {"full", "row", "col", "scalar"};

/* The b operand of broadcast kind `kind` for an r x c a. */
static void kind_shape(int kind, size_t r, size_t c, size_t *br, size_t *bc)
{
    *br = kind == ROW || kind == SCALAR ? 1 : r;
    *bc = kind == COL || kind == SCALAR ? 1 : c;
}

static double b_at(int kind, const loom_matrix *b, size_t i, size_t j)
{
    return *loom_at(b, kind == ROW || kind == SCALAR ? 0 : i, kind == COL || kind == SCALAR ? 0 : j);
}

static void check_binop_result(const loom_matrix *out, const loom_matrix *a, double (*a_at)(const loom_matrix *, size_t, size_t),
                               loom_binop op, int kind, const loom_matrix *b)
{
    for (size_t i = 0; i < out->rows; i++)
        for (size_t j = 0; j < out->cols; j++) {
            double want = binop_ref(op, a_at(a, i, j), b_at(kind, b, i, j));
            ck_assert_msg(test_same(*loom_at(out, i, j), want),
                          "op %d kind %s %zux%zu at (%zu, %zu): %.17g != %.17g", (int)op,
                          kind_names[kind], out->rows, out->cols, i, j, *loom_at(out, i, j), want);
        }
}

static double plain_at(const loom_matrix *m, size_t i, size_t j)
{
    return *loom_at(m, i, j);
}

START_TEST(test_binop_all)
{
    for (int op = LOOM_ADD; op <= LOOM_MIN; op++)
        for (int k = 0; k < TEST_SHAPE_COUNT; k++)
            for (int kind = FULL; kind <= SCALAR; kind++)
                for (int pads = 0; pads < 8; pads += 3) {
                    size_t r, c, br, bc;
                    test_shape(k, &r, &c);
                    kind_shape(kind, r, c, &br, &bc);
                    if (kind == SCALAR && (r == 0 || c == 0))
                        continue;
                    test_matrix a = test_matrix_new(r, c, pads & 1 ? 2 : 0, 0.5, 2);
                    test_matrix b = test_matrix_new(br, bc, pads & 2 ? 3 : 0, -2, 2);
                    test_matrix out = test_matrix_new(r, c, pads & 4 ? 1 : 0, 0, 1);
                    if (r * c > 3) { /* a NaN on each side */
                        *loom_at(&a.m, r - 1, c - 1) = NAN;
                        if (br * bc > 1)
                            *loom_at(&b.m, 0, 0) = NAN;
                    }
                    int64_t allocs = (int64_t)loom_alloc_get_stats().allocations;
                    ck_assert_int_eq(loom_matrix_binop(&out.m, &a.m, (loom_binop)op, &b.m), LOOM_OK);
                    ck_assert_int_eq((int64_t)loom_alloc_get_stats().allocations, allocs);
                    check_binop_result(&out.m, &a.m, plain_at, (loom_binop)op, kind, &b.m);
                    test_padding_intact(&out);

                    /* out == a: the in-place form of hot loops. */
                    test_matrix saved = test_matrix_new(r, c, 0, 0, 1);
                    loom_matrix_copy(&saved.m, &a.m);
                    ck_assert_int_eq(loom_matrix_binop(&a.m, &a.m, (loom_binop)op, &b.m), LOOM_OK);
                    check_binop_result(&a.m, &saved.m, plain_at, (loom_binop)op, kind, &b.m);
                    test_padding_intact(&a);

                    /* out == b (only when b is full-sized). */
                    if (kind == FULL) {
                        test_matrix bsaved = test_matrix_new(r, c, 0, 0, 1);
                        loom_matrix_copy(&bsaved.m, &b.m);
                        ck_assert_int_eq(loom_matrix_binop(&b.m, &saved.m, (loom_binop)op, &b.m), LOOM_OK);
                        check_binop_result(&b.m, &saved.m, plain_at, (loom_binop)op, kind, &bsaved.m);
                        test_padding_intact(&b);
                        test_matrix_free(&bsaved);
                    }
                    test_matrix_free(&saved);
                    test_matrix_free(&a);
                    test_matrix_free(&b);
                    test_matrix_free(&out);
                }
}
END_TEST

START_TEST(test_binop_shape_errors)
{
    test_matrix a = test_matrix_new(3, 4, 0, 0, 1), out = test_matrix_new(3, 4, 0, 0, 1);
    size_t bad[][2] = {{4, 3}, {2, 4}, {3, 2}, {1, 3}, {4, 1}, {0, 0}, {1, 5}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        test_matrix b = test_matrix_new(bad[k][0], bad[k][1], 0, 0, 1);
        ck_assert_int_eq(loom_matrix_binop(&out.m, &a.m, LOOM_ADD, &b.m), LOOM_EDIM);
        test_matrix_free(&b);
    }
    test_matrix small = test_matrix_new(1, 4, 0, 0, 1);
    /* out must have a's shape; a never broadcasts. */
    ck_assert_int_eq(loom_matrix_binop(&small.m, &a.m, LOOM_ADD, &a.m), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_binop(&out.m, &small.m, LOOM_ADD, &a.m), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_binop_scalar(&small.m, &a.m, LOOM_ADD, 1, 0), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_axpy(&small.m, 1, &a.m), LOOM_EDIM);
    test_matrix_free(&small);
    test_matrix_free(&a);
    test_matrix_free(&out);
}
END_TEST

START_TEST(test_binop_scalar)
{
    const double scalars[] = {2.5, -0.75, 0.0, NAN};
    for (int op = LOOM_ADD; op <= LOOM_MIN; op++)
        for (int k = 0; k < TEST_SHAPE_COUNT; k++)
            for (size_t si = 0; si < 4; si++)
                for (int first = 0; first < 2; first++) {
                    size_t r, c;
                    test_shape(k, &r, &c);
                    double s = scalars[si];
                    test_matrix a = test_matrix_new(r, c, 1, 0.25, 3);
                    test_matrix out = test_matrix_new(r, c, 2, 0, 1);
                    ck_assert_int_eq(loom_matrix_binop_scalar(&out.m, &a.m, (loom_binop)op, s, first), LOOM_OK);
                    for (size_t i = 0; i < r; i++)
                        for (size_t j = 0; j < c; j++) {
                            double x = *loom_at(&a.m, i, j);
                            double want = first ? binop_ref((loom_binop)op, s, x) : binop_ref((loom_binop)op, x, s);
                            ck_assert_msg(test_same(*loom_at(&out.m, i, j), want),
                                          "op %d first %d s %g: %.17g != %.17g", op, first, s,
                                          *loom_at(&out.m, i, j), want);
                        }
                    test_padding_intact(&out);
                    /* In place. */
                    ck_assert_int_eq(loom_matrix_binop_scalar(&a.m, &a.m, (loom_binop)op, s, first), LOOM_OK);
                    for (size_t i = 0; i < r; i++)
                        for (size_t j = 0; j < c; j++)
                            ck_assert(test_same(*loom_at(&a.m, i, j), *loom_at(&out.m, i, j)));
                    test_padding_intact(&a);
                    test_matrix_free(&a);
                    test_matrix_free(&out);
                }
}
END_TEST

START_TEST(test_axpy)
{
    for (int k = 0; k < TEST_SHAPE_COUNT; k++) {
        size_t r, c;
        test_shape(k, &r, &c);
        test_matrix y = test_matrix_new(r, c, 3, -1, 1), x = test_matrix_new(r, c, 1, -1, 1);
        test_matrix saved = test_matrix_new(r, c, 0, 0, 1);
        loom_matrix_copy(&saved.m, &y.m);
        ck_assert_int_eq(loom_matrix_axpy(&y.m, -0.3, &x.m), LOOM_OK);
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                ck_assert(test_near(*loom_at(&y.m, i, j), *loom_at(&saved.m, i, j) - 0.3 * *loom_at(&x.m, i, j), 1e-15));
        test_padding_intact(&y);
        /* y += 2 y */
        loom_matrix_copy(&saved.m, &y.m);
        ck_assert_int_eq(loom_matrix_axpy(&y.m, 2.0, &y.m), LOOM_OK);
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                ck_assert(*loom_at(&y.m, i, j) == 3.0 * *loom_at(&saved.m, i, j));
        test_matrix_free(&y);
        test_matrix_free(&x);
        test_matrix_free(&saved);
    }
}
END_TEST

/* ---- unary maps ---- */

/* What each op means, written from libm and the definitions. */
static double unop_ref(loom_unop op, double x)
{
    switch (op) {
    case LOOM_NEG: return -x;
    case LOOM_EXP: return exp(x);
    case LOOM_LOG: return log(x);
    case LOOM_TANH: return tanh(x);
    case LOOM_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case LOOM_RELU: return isnan(x) ? x : x > 0 ? x : 0.0;
    case LOOM_ABS: return fabs(x);
    case LOOM_SQRT: return sqrt(x);
    case LOOM_SQUARE: return x * x;
    case LOOM_SIN: return sin(x);
    case LOOM_COS: return cos(x);
    case LOOM_LOG1P: return log1p(x);
    case LOOM_EXPM1: return expm1(x);
    case LOOM_FLOOR: return floor(x);
    case LOOM_CEIL: return ceil(x);
    case LOOM_ROUND: return rint(x);
    case LOOM_SIGN: return isnan(x) ? x : x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case LOOM_RECIPROCAL: return 1.0 / x;
    case LOOM_UNOP_COUNT: break;
    }
    return NAN;
}

START_TEST(test_unop_names)
{
    for (int op = 0; op < LOOM_UNOP_COUNT; op++) {
        const char *name = loom_unop_name((loom_unop)op);
        ck_assert_str_ne(name, "?");
        ck_assert_int_eq(loom_unop_from_name(name), op);
    }
    ck_assert_int_eq(loom_unop_from_name("exp"), LOOM_EXP);
    ck_assert_int_eq(loom_unop_from_name("nope"), -1);
    ck_assert_int_eq(loom_unop_from_name(""), -1);
    ck_assert_str_eq(loom_unop_name(LOOM_UNOP_COUNT), "?");
}
END_TEST

START_TEST(test_unop_apply1_vs_libm)
{
    const double special[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-300, 700,
                              -745, 710, -710, 36, -36, INFINITY, -INFINITY, NAN};
    for (int op = 0; op < LOOM_UNOP_COUNT; op++) {
        for (size_t k = 0; k < sizeof special / sizeof special[0] + 200; k++) {
            double x = k < sizeof special / sizeof special[0] ? special[k] : test_uniform(-20, 20);
            double got = loom_unop_apply1((loom_unop)op, x), want = unop_ref((loom_unop)op, x);
            if (op == LOOM_SIGMOID) /* the stable form differs from the textbook one by rounding */
                ck_assert_msg(test_near(got, want, 4 * DBL_EPSILON) || fabs(got - want) < 1e-300,
                              "sigmoid(%g) = %.17g, want %.17g", x, got, want);
            else
                ck_assert_msg(test_same(got, want), "%s(%g) = %.17g, want %.17g",
                              loom_unop_name((loom_unop)op), x, got, want);
        }
    }
    /* Sigmoid stays finite and in [0, 1] where the textbook form overflows. */
    ck_assert(loom_unop_apply1(LOOM_SIGMOID, -1000) >= 0.0);
    ck_assert(loom_unop_apply1(LOOM_SIGMOID, -1000) < 1e-300);
    ck_assert(loom_unop_apply1(LOOM_SIGMOID, 1000) == 1.0);
    ck_assert(loom_unop_apply1(LOOM_ROUND, 2.5) == 2.0); /* half to even */
    ck_assert(loom_unop_apply1(LOOM_ROUND, -0.5) == 0.0);
    ck_assert(signbit(loom_unop_apply1(LOOM_SIGN, -0.0)));
}
END_TEST

START_TEST(test_map_vs_apply1)
{
    for (int op = 0; op < LOOM_UNOP_COUNT; op++)
        for (int k = 0; k < TEST_SHAPE_COUNT; k++)
            for (int pads = 0; pads < 4; pads++) {
                size_t r, c;
                test_shape(k, &r, &c);
                /* log and sqrt of negatives give NaN on both sides, which is compared too. */
                test_matrix a = test_matrix_new(r, c, pads & 1 ? 2 : 0, -4, 4);
                test_matrix out = test_matrix_new(r, c, pads & 2 ? 1 : 0, 0, 1);
                if (r * c > 2) {
                    *loom_at(&a.m, 0, 0) = NAN;
                    *loom_at(&a.m, r - 1, c - 1) = -INFINITY;
                }
                int64_t allocs = (int64_t)loom_alloc_get_stats().allocations;
                ck_assert_int_eq(loom_matrix_map(&out.m, &a.m, (loom_unop)op), LOOM_OK);
                ck_assert_int_eq((int64_t)loom_alloc_get_stats().allocations, allocs);
                for (size_t i = 0; i < r; i++)
                    for (size_t j = 0; j < c; j++) {
                        double got = *loom_at(&out.m, i, j);
                        double want = loom_unop_apply1((loom_unop)op, *loom_at(&a.m, i, j));
                        /* A vectorised libm may differ from the scalar one by an ulp or two. */
                        ck_assert_msg(test_same(got, want) || test_ulps(got, want) <= 4,
                                      "%s at (%zu, %zu): %.17g != %.17g", loom_unop_name((loom_unop)op),
                                      i, j, got, want);
                    }
                test_padding_intact(&out);
                ck_assert_int_eq(loom_matrix_map(&a.m, &a.m, (loom_unop)op), LOOM_OK); /* in place */
                for (size_t i = 0; i < r; i++)
                    for (size_t j = 0; j < c; j++)
                        ck_assert(test_same(*loom_at(&a.m, i, j), *loom_at(&out.m, i, j)));
                test_padding_intact(&a);
                test_matrix_free(&a);
                test_matrix_free(&out);
            }
    test_matrix a = test_matrix_new(2, 2, 0, 0, 1), b = test_matrix_new(2, 3, 0, 0, 1);
    ck_assert_int_eq(loom_matrix_map(&b.m, &a.m, LOOM_EXP), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_map(&a.m, &a.m, LOOM_UNOP_COUNT), LOOM_EDIM);
    test_matrix_free(&a);
    test_matrix_free(&b);
}
END_TEST

/* ---- reductions ---- */

/* The naive reduction of n values at x(0), x(1), ...: 0-based index for arg ops.
 * NaN wins max and min, and the first of equal extremes wins. */
static double reduce_ref(const loom_matrix *m, int dim, size_t k, loom_reduce op)
{
    size_t n = dim == 0 ? loom_numel(m) : dim == 1 ? m->rows : m->cols;
    long double sum = 0;
    size_t best = 0;
    double v = 0;
    for (size_t t = 0; t < n; t++) {
        size_t i = dim == 0 ? t / m->cols : dim == 1 ? t : k;
        size_t j = dim == 0 ? t % m->cols : dim == 1 ? k : t;
        double x = *loom_at(m, i, j);
        sum += x;
        int better = op == LOOM_MAXV || op == LOOM_ARGMAX ? x > v : x < v;
        if (t == 0 || (!isnan(v) && (isnan(x) || better))) {
            v = x;
            best = t;
        }
    }
    switch (op) {
    case LOOM_SUM: return (double)sum;
    case LOOM_MEAN: return (double)(sum / n);
    case LOOM_MAXV:
    case LOOM_MINV: return v;
    case LOOM_ARGMAX:
    case LOOM_ARGMIN: return (double)best + 1;
    }
    return NAN;
}

static double abs_sum(const loom_matrix *m, int dim, size_t k)
{
    size_t n = dim == 0 ? loom_numel(m) : dim == 1 ? m->rows : m->cols;
    double s = 0;
    for (size_t t = 0; t < n; t++) {
        size_t i = dim == 0 ? t / m->cols : dim == 1 ? t : k;
        size_t j = dim == 0 ? t % m->cols : dim == 1 ? k : t;
        s += fabs(*loom_at(m, i, j));
    }
    return s;
}

/* values: 0 uniform, 1 small integers (ties), 2 with NaNs. */
static void check_reductions(size_t r, size_t c, size_t pad, int values)
{
    test_matrix a = test_matrix_new(r, c, pad, -3, 3);
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) {
            if (values == 1)
                *loom_at(&a.m, i, j) = floor(test_uniform(0, 3));
            if (values == 2 && test_uniform(0, 1) < 0.05)
                *loom_at(&a.m, i, j) = NAN;
        }
    for (int op = LOOM_SUM; op <= LOOM_ARGMIN; op++)
        for (int dim = 0; dim <= 2; dim++) {
            size_t orows = dim == 2 ? r : 1, ocols = dim == 1 ? c : 1;
            size_t along = dim == 0 ? r * c : dim == 1 ? r : c;
            test_matrix out = test_matrix_new(orows, ocols, 1, 0, 1);
            loom_status st = loom_matrix_reduce(&out.m, &a.m, (loom_reduce)op, dim);
            if (along == 0 && op != LOOM_SUM) {
                ck_assert_int_eq(st, LOOM_EDIM);
                test_matrix_free(&out);
                continue;
            }
            ck_assert_msg(st == LOOM_OK, "op %d dim %d on %zux%zu: status %d", op, dim, r, c, (int)st);
            size_t count = dim == 0 ? 1 : dim == 1 ? c : r;
            for (size_t k = 0; k < count; k++) {
                double got = dim == 2 ? *loom_at(&out.m, k, 0) : *loom_at(&out.m, 0, k);
                double want = reduce_ref(&a.m, dim, k, (loom_reduce)op);
                if (op == LOOM_SUM || op == LOOM_MEAN) {
                    double tol = 4 * DBL_EPSILON * (abs_sum(&a.m, dim, k) + 1)
                                 / (op == LOOM_MEAN ? (double)along : 1.0);
                    ck_assert_msg(test_same(got, want) || fabs(got - want) <= tol,
                                  "op %d dim %d %zux%zu pad %zu k %zu: %.17g != %.17g", op, dim, r, c,
                                  pad, k, got, want);
                } else {
                    ck_assert_msg(test_same(got, want), "op %d dim %d %zux%zu pad %zu values %d k %zu: %.17g != %.17g",
                                  op, dim, r, c, pad, values, k, got, want);
                }
            }
            test_padding_intact(&out);
            test_matrix_free(&out);
        }
    test_matrix_free(&a);
}

START_TEST(test_reduce_all)
{
    size_t extra[][2] = {{1000, 3}, {3, 1000}, {200, 65}};
    for (int k = 0; k < TEST_SHAPE_COUNT + 3; k++)
        for (int values = 0; values < 3; values++)
            for (size_t pad = 0; pad < 4; pad += 3) {
                size_t r, c;
                if (k < TEST_SHAPE_COUNT)
                    test_shape(k, &r, &c);
                else
                    r = extra[k - TEST_SHAPE_COUNT][0], c = extra[k - TEST_SHAPE_COUNT][1];
                check_reductions(r, c, pad, values);
            }
}
END_TEST

START_TEST(test_reduce_nan_and_ties)
{
    /* numpy: max/min propagate NaN; argmax/argmin give the first NaN; ties go to the first. */
    double data[] = {1, 5, NAN, 5,
                     5, 2, 3, NAN,
                     0, 5, 1, 2};
    loom_matrix m = loom_matrix_wrap(data, 3, 4);
    double v, row[4], col[3];
    loom_matrix one = loom_matrix_wrap(&v, 1, 1), r = loom_matrix_wrap(row, 1, 4), c = loom_matrix_wrap(col, 3, 1);
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_MAXV, 0), LOOM_OK);
    ck_assert(isnan(v));
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_ARGMAX, 0), LOOM_OK);
    ck_assert(v == 3);
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_ARGMIN, 0), LOOM_OK);
    ck_assert(v == 3);
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_SUM, 0), LOOM_OK);
    ck_assert(isnan(v));
    ck_assert_int_eq(loom_matrix_reduce(&r, &m, LOOM_ARGMAX, 1), LOOM_OK);
    ck_assert(row[0] == 2 && row[1] == 1 && row[2] == 1 && row[3] == 2);
    ck_assert_int_eq(loom_matrix_reduce(&r, &m, LOOM_MAXV, 1), LOOM_OK);
    ck_assert(row[0] == 5 && row[1] == 5 && isnan(row[2]) && isnan(row[3]));
    ck_assert_int_eq(loom_matrix_reduce(&c, &m, LOOM_ARGMAX, 2), LOOM_OK);
    ck_assert(col[0] == 3 && col[1] == 4 && col[2] == 2); /* first of the tied 5s in row 3 */
    ck_assert_int_eq(loom_matrix_reduce(&c, &m, LOOM_MINV, 2), LOOM_OK);
    ck_assert(isnan(col[0]) && isnan(col[1]) && col[2] == 0);

    /* The same through a strided view (dim 0 takes the row-by-row path). */
    loom_matrix v3;
    loom_matrix_view(&v3, &m, 1, 0, 2, 3); /* {5,2,3; 0,5,1} */
    ck_assert_int_eq(loom_matrix_reduce(&one, &v3, LOOM_ARGMAX, 0), LOOM_OK);
    ck_assert(v == 1);
    ck_assert_int_eq(loom_matrix_reduce(&one, &v3, LOOM_ARGMIN, 0), LOOM_OK);
    ck_assert(v == 4);
    loom_matrix_view(&v3, &m, 0, 1, 3, 2); /* {5,NaN; 2,3; 5,1} */
    ck_assert_int_eq(loom_matrix_reduce(&one, &v3, LOOM_ARGMAX, 0), LOOM_OK);
    ck_assert(v == 2);
    ck_assert_int_eq(loom_matrix_reduce(&one, &v3, LOOM_MINV, 0), LOOM_OK);
    ck_assert(isnan(v));
    /* Long rows take the vectorised pass unless they hold a NaN or an infinity. */
    double longrow[200];
    for (int k = 0; k < 200; k++)
        longrow[k] = (k * 37) % 101;
    loom_matrix lr = loom_matrix_wrap(longrow, 1, 200);
    ck_assert_int_eq(loom_matrix_reduce(&one, &lr, LOOM_ARGMAX, 0), LOOM_OK);
    ck_assert(v == 31); /* the first 100 is at k = 30 (30 * 37 = 11 * 101 - 1); 131 repeats it */
    ck_assert(longrow[30] == 100 && longrow[131] == 100);
    longrow[150] = INFINITY;
    longrow[160] = -INFINITY;
    ck_assert_int_eq(loom_matrix_reduce(&one, &lr, LOOM_MAXV, 0), LOOM_OK);
    ck_assert(v == INFINITY);
    ck_assert_int_eq(loom_matrix_reduce(&one, &lr, LOOM_ARGMIN, 0), LOOM_OK);
    ck_assert(v == 161);
    longrow[150] = 1e308; /* huge but finite: the fast pass */
    longrow[151] = 1.5e308;
    longrow[160] = 0;
    ck_assert_int_eq(loom_matrix_reduce(&one, &lr, LOOM_ARGMAX, 0), LOOM_OK);
    ck_assert(v == 152);
    ck_assert_int_eq(loom_matrix_reduce(&one, &lr, LOOM_MINV, 0), LOOM_OK);
    ck_assert(v == 0);
    /* A NaN first element wins at once. */
    data[0] = NAN;
    loom_matrix_view(&v3, &m, 0, 0, 3, 2);
    ck_assert_int_eq(loom_matrix_reduce(&one, &v3, LOOM_ARGMIN, 0), LOOM_OK);
    ck_assert(v == 1);
}
END_TEST

START_TEST(test_reduce_errors)
{
    test_matrix a = test_matrix_new(3, 4, 0, 0, 1);
    double buf[12];
    loom_matrix wrong = loom_matrix_wrap(buf, 1, 3), one = loom_matrix_wrap(buf, 1, 1);
    ck_assert_int_eq(loom_matrix_reduce(&wrong, &a.m, LOOM_SUM, 1), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_reduce(&wrong, &a.m, LOOM_SUM, 2), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_reduce(&wrong, &a.m, LOOM_SUM, 0), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_reduce(&one, &a.m, LOOM_SUM, 3), LOOM_EARG);
    ck_assert_int_eq(loom_matrix_reduce(&one, &a.m, LOOM_SUM, -1), LOOM_EARG);
    test_matrix_free(&a);
    /* Empty: a sum is 0, the rest have no answer. */
    loom_matrix empty = loom_matrix_wrap(NULL, 0, 4);
    buf[0] = 7;
    ck_assert_int_eq(loom_matrix_reduce(&one, &empty, LOOM_SUM, 0), LOOM_OK);
    ck_assert(buf[0] == 0);
    ck_assert_int_eq(loom_matrix_reduce(&one, &empty, LOOM_MEAN, 0), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_reduce(&one, &empty, LOOM_MAXV, 0), LOOM_EDIM);
    loom_matrix four = loom_matrix_wrap(buf, 1, 4);
    ck_assert_int_eq(loom_matrix_reduce(&four, &empty, LOOM_SUM, 1), LOOM_OK);
    ck_assert(buf[3] == 0);
    ck_assert_int_eq(loom_matrix_reduce(&four, &empty, LOOM_ARGMAX, 1), LOOM_EDIM);
}
END_TEST

/* Naive left-to-right summation, the baseline pairwise summation beats. */
static double naive_sum(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

START_TEST(test_pairwise_sum_accuracy)
{
    enum { N = 1000000 };
    loom_matrix m;
    ck_assert_int_eq(loom_matrix_init(&m, N, 1), LOOM_OK);
    loom_matrix_fill(&m, 0.1);
    /* The exact sum of 10^6 copies of the double nearest 0.1 is 100000.0000000000055...,
     * which rounds to 100000. */
    double exact = 100000.0, ulp = nextafter(exact, INFINITY) - exact;
    double naive = naive_sum(m.data, N);
    ck_assert_msg(fabs(naive - exact) > 1000 * ulp, "naive sum %.17g is unexpectedly good", naive);
    double v;
    loom_matrix one = loom_matrix_wrap(&v, 1, 1);
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_SUM, 0), LOOM_OK);
    ck_assert_msg(fabs(v - exact) <= 4 * ulp, "dim 0: %.17g (naive %.17g)", v, naive);
    /* Down one column the rows are summed plainly in blocks of 64 and the block sums
     * combined with compensation: the error is bounded by the block length, not by n. */
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_SUM, 1), LOOM_OK);
    ck_assert_msg(fabs(v - exact) <= 16 * ulp, "dim 1: %.17g", v);
    ck_assert_int_eq(loom_matrix_reduce(&one, &m, LOOM_MEAN, 1), LOOM_OK);
    ck_assert_msg(fabs(v - 0.1) <= 16 * (nextafter(0.1, 1) - 0.1), "mean: %.17g", v);
    loom_matrix row;
    ck_assert_int_eq(loom_matrix_reshape_view(&row, &m, 1, N), LOOM_OK);
    ck_assert_int_eq(loom_matrix_reduce(&one, &row, LOOM_SUM, 2), LOOM_OK); /* along one row */
    ck_assert_msg(fabs(v - exact) <= 4 * ulp, "dim 2: %.17g", v);
    /* A strided view: 1000 rows of 999 of 1000 columns. */
    loom_matrix square, strided;
    ck_assert_int_eq(loom_matrix_reshape_view(&square, &m, 1000, 1000), LOOM_OK);
    ck_assert_int_eq(loom_matrix_view(&strided, &square, 0, 0, 1000, 999), LOOM_OK);
    ck_assert_int_eq(loom_matrix_reduce(&one, &strided, LOOM_SUM, 0), LOOM_OK);
    ck_assert_msg(fabs(v - 99900.0) <= 4 * ulp, "strided: %.17g", v);
    loom_matrix_release(&m);
}
END_TEST

/* ---- norm and allclose ---- */

START_TEST(test_norm)
{
    for (int k = 0; k < TEST_SHAPE_COUNT; k++)
        for (size_t pad = 0; pad < 3; pad += 2) {
            size_t r, c;
            test_shape(k, &r, &c);
            test_matrix a = test_matrix_new(r, c, pad, -3, 3);
            double s = 0;
            for (size_t i = 0; i < r; i++)
                for (size_t j = 0; j < c; j++)
                    s += *loom_at(&a.m, i, j) * *loom_at(&a.m, i, j);
            ck_assert(test_near(loom_matrix_norm(&a.m), sqrt(s), 1e-14));
            test_matrix_free(&a);
        }
    /* Values whose squares overflow or underflow. */
    double scales[] = {1e200, 1e-200, 1e300, 4.9e-324};
    for (size_t t = 0; t < 4; t++) {
        test_matrix a = test_matrix_new(10, 10, 1, 0, 1);
        loom_matrix_fill(&a.m, scales[t]);
        double naive = 0;
        for (int q = 0; q < 100; q++)
            naive += scales[t] * scales[t];
        ck_assert(naive == 0.0 || isinf(naive)); /* the naive sum of squares fails */
        double want = 10 * scales[t];
        ck_assert_msg(test_near(loom_matrix_norm(&a.m) / want, 1.0, 1e-15) || (scales[t] < 1e-320),
                      "norm at scale %g: %.17g", scales[t], loom_matrix_norm(&a.m));
        ck_assert(loom_matrix_norm(&a.m) > 0 && isfinite(loom_matrix_norm(&a.m)));
        test_matrix_free(&a);
    }
    double mixed[] = {3e200, -4e200, 0, 1e-200};
    loom_matrix m = loom_matrix_wrap(mixed, 2, 2);
    ck_assert(test_near(loom_matrix_norm(&m) / 5e200, 1.0, 1e-15));
    mixed[1] = INFINITY;
    ck_assert(isinf(loom_matrix_norm(&m)));
    mixed[2] = NAN;
    ck_assert(isnan(loom_matrix_norm(&m)));
    mixed[1] = 1;
    ck_assert(isnan(loom_matrix_norm(&m)));
    loom_matrix empty = loom_matrix_wrap(NULL, 0, 3);
    ck_assert(loom_matrix_norm(&empty) == 0.0);
    double zeros[3] = {0, 0, 0};
    m = loom_matrix_wrap(zeros, 3, 1);
    ck_assert(loom_matrix_norm(&m) == 0.0);
}
END_TEST

START_TEST(test_allclose)
{
    test_matrix a = test_matrix_new(4, 5, 2, -1, 1), b = test_matrix_new(4, 5, 0, 0, 1);
    loom_matrix_copy(&b.m, &a.m);
    ck_assert(loom_matrix_allclose(&a.m, &b.m, 0, 0));
    *loom_at(&b.m, 2, 3) += 1e-9;
    ck_assert(!loom_matrix_allclose(&a.m, &b.m, 0, 0));
    ck_assert(loom_matrix_allclose(&a.m, &b.m, 0, 1e-8));
    ck_assert(loom_matrix_allclose(&a.m, &b.m, 1e-7, 0) == (fabs(1e-9) <= 1e-7 * fabs(*loom_at(&b.m, 2, 3))));
    *loom_at(&a.m, 0, 0) = *loom_at(&b.m, 0, 0) = INFINITY;
    ck_assert(loom_matrix_allclose(&a.m, &b.m, 0, 1e-8));
    *loom_at(&b.m, 0, 0) = -INFINITY;
    ck_assert(!loom_matrix_allclose(&a.m, &b.m, 1, 1));
    *loom_at(&b.m, 0, 0) = 5; /* a finite value is not close to infinity, whatever rtol */
    ck_assert(!loom_matrix_allclose(&a.m, &b.m, 1, 1));
    ck_assert(!loom_matrix_allclose(&b.m, &a.m, 1, 1));
    *loom_at(&a.m, 0, 0) = *loom_at(&b.m, 0, 0) = NAN;
    ck_assert(!loom_matrix_allclose(&a.m, &b.m, 1, 1)); /* NaN is never close */
    loom_matrix v;
    loom_matrix_view(&v, &b.m, 0, 0, 4, 4);
    ck_assert(!loom_matrix_allclose(&a.m, &v, 1, 1));
    loom_matrix e1 = loom_matrix_wrap(NULL, 0, 3), e2 = loom_matrix_wrap(NULL, 0, 3);
    ck_assert(loom_matrix_allclose(&e1, &e2, 0, 0));
    test_matrix_free(&a);
    test_matrix_free(&b);
}
END_TEST

/* ---- concatenation and gathering ---- */

START_TEST(test_hcat_vcat)
{
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 1 + (size_t)loom_rng_below(test_rng(), 4), fixed = (size_t)loom_rng_below(test_rng(), 5);
        test_matrix parts[4];
        loom_matrix views[4];
        size_t total = 0;
        int horizontal = trial % 2;
        for (size_t k = 0; k < n; k++) {
            size_t along = (size_t)loom_rng_below(test_rng(), 4); /* 0 too: empty parts */
            parts[k] = horizontal ? test_matrix_new(fixed, along, k % 2, -1, 1)
                                  : test_matrix_new(along, fixed, k % 2, -1, 1);
            views[k] = parts[k].m;
            total += along;
        }
        test_matrix out = horizontal ? test_matrix_new(fixed, total, 2, 0, 1)
                                     : test_matrix_new(total, fixed, 2, 0, 1);
        ck_assert_int_eq(horizontal ? loom_matrix_hcat(&out.m, views, n) : loom_matrix_vcat(&out.m, views, n),
                         LOOM_OK);
        size_t at = 0;
        for (size_t k = 0; k < n; k++) {
            for (size_t i = 0; i < views[k].rows; i++)
                for (size_t j = 0; j < views[k].cols; j++) {
                    double got = horizontal ? *loom_at(&out.m, i, at + j) : *loom_at(&out.m, at + i, j);
                    ck_assert(got == *loom_at(&views[k], i, j));
                }
            at += horizontal ? views[k].cols : views[k].rows;
        }
        test_padding_intact(&out);
        /* A part of the wrong size, and an output of the wrong size. */
        if (horizontal) {
            ck_assert_int_eq(loom_matrix_vcat(&out.m, views, n),
                             n == 1 || (fixed == total) ? loom_matrix_vcat(&out.m, views, n) : LOOM_EDIM);
        }
        test_matrix bigger = horizontal ? test_matrix_new(fixed, total + 1, 0, 0, 1)
                                        : test_matrix_new(total + 1, fixed, 0, 0, 1);
        ck_assert_int_eq(horizontal ? loom_matrix_hcat(&bigger.m, views, n) : loom_matrix_vcat(&bigger.m, views, n),
                         LOOM_EDIM);
        test_matrix_free(&bigger);
        test_matrix_free(&out);
        for (size_t k = 0; k < n; k++)
            test_matrix_free(&parts[k]);
    }
    double a[2] = {1, 2}, b[3] = {3, 4, 5}, out[5];
    loom_matrix parts[2] = {loom_matrix_wrap(a, 2, 1), loom_matrix_wrap(b, 3, 1)};
    loom_matrix o = loom_matrix_wrap(out, 5, 1);
    ck_assert_int_eq(loom_matrix_hcat(&o, parts, 2), LOOM_EDIM);
    ck_assert_int_eq(loom_matrix_vcat(&o, parts, 2), LOOM_OK);
    ck_assert(out[4] == 5);
    loom_matrix none = loom_matrix_wrap(NULL, 0, 0);
    ck_assert_int_eq(loom_matrix_hcat(&none, parts, 0), LOOM_OK);
}
END_TEST

START_TEST(test_gather_rows)
{
    for (int k = 0; k < TEST_SHAPE_COUNT; k++) {
        size_t r, c;
        test_shape(k, &r, &c);
        if (r == 0)
            continue;
        test_matrix src = test_matrix_new(r, c, 3, -1, 1);
        size_t idx[20];
        size_t count = 1 + (size_t)loom_rng_below(test_rng(), 20);
        for (size_t t = 0; t < count; t++)
            idx[t] = (size_t)loom_rng_below(test_rng(), r);
        test_matrix out = test_matrix_new(count, c, 1, 0, 1);
        ck_assert_int_eq(loom_matrix_gather_rows(&out.m, &src.m, idx, count), LOOM_OK);
        for (size_t t = 0; t < count; t++)
            for (size_t j = 0; j < c; j++)
                ck_assert(*loom_at(&out.m, t, j) == *loom_at(&src.m, idx[t], j));
        test_padding_intact(&out);
        idx[count - 1] = r; /* one past the end */
        ck_assert_int_eq(loom_matrix_gather_rows(&out.m, &src.m, idx, count), LOOM_EARG);
        ck_assert_int_eq(loom_matrix_gather_rows(&out.m, &src.m, idx, count + 1), LOOM_EDIM);
        test_matrix_free(&src);
        test_matrix_free(&out);
    }
}
END_TEST

/* ---- allocation failures ---- */

START_TEST(test_alloc_failure)
{
    int64_t live = test_live_blocks();
    loom_matrix m;
    loom_alloc_fail_after(1);
    ck_assert_int_eq(loom_matrix_init(&m, 10, 10), LOOM_ENOMEM);
    ck_assert_uint_eq(m.rows, 0);
    ck_assert_ptr_null(m.data);
    ck_assert_int_eq(test_live_blocks(), live);
    ck_assert_int_eq(loom_matrix_init(&m, 10, 10), LOOM_OK); /* only that one failed */
    loom_matrix_fill(&m, 1.0);

    /* Column sums allocate scratch; on failure nothing leaks and out is untouched. */
    double row[10] = {0};
    loom_matrix out = loom_matrix_wrap(row, 1, 10);
    for (int op = LOOM_SUM; op <= LOOM_MEAN; op++) {
        loom_alloc_fail_after(1);
        ck_assert_int_eq(loom_matrix_reduce(&out, &m, (loom_reduce)op, 1), LOOM_ENOMEM);
        ck_assert_int_eq(test_live_blocks(), live + 1);
        loom_alloc_fail_after(0);
        ck_assert_int_eq(loom_matrix_reduce(&out, &m, (loom_reduce)op, 1), LOOM_OK);
        ck_assert(row[9] == (op == LOOM_SUM ? 10.0 : 1.0));
        ck_assert_int_eq(test_live_blocks(), live + 1);
    }
    /* Everything else allocates nothing: an armed failure stays armed. */
    uint64_t allocs = loom_alloc_get_stats().allocations;
    loom_alloc_fail_after(1);
    double col[10], v;
    loom_matrix c = loom_matrix_wrap(col, 10, 1), one = loom_matrix_wrap(&v, 1, 1);
    for (int op = LOOM_SUM; op <= LOOM_ARGMIN; op++) {
        ck_assert_int_eq(loom_matrix_reduce(&one, &m, (loom_reduce)op, 0), LOOM_OK);
        ck_assert_int_eq(loom_matrix_reduce(&c, &m, (loom_reduce)op, 2), LOOM_OK);
        if (op > LOOM_MEAN)
            ck_assert_int_eq(loom_matrix_reduce(&out, &m, (loom_reduce)op, 1), LOOM_OK);
    }
    ck_assert_int_eq(loom_matrix_binop(&m, &m, LOOM_ADD, &m), LOOM_OK);
    ck_assert_int_eq(loom_matrix_map(&m, &m, LOOM_EXP), LOOM_OK);
    ck_assert(loom_matrix_norm(&m) > 0);
    ck_assert_uint_eq(loom_alloc_get_stats().allocations, allocs);
    loom_alloc_fail_after(0);
    loom_matrix_release(&m);
    ck_assert_int_eq(test_live_blocks(), live);
}
END_TEST

static Suite *matrix_suite(void)
{
    Suite *s = suite_create("matrix");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_init_release);
    tcase_add_test(tc, test_init_overflow);
    tcase_add_test(tc, test_init_dimension_bound);
    tcase_add_test(tc, test_init_injected_failure);
    tcase_add_test(tc, test_view_and_reshape);
    tcase_add_test(tc, test_wrap);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_copy_overlapping_rows);
    tcase_add_test(tc, test_transpose);
    tcase_add_test(tc, test_fill_eye);
    tcase_add_test(tc, test_rand_randn);
    tcase_add_test(tc, test_binop_all);
    tcase_add_test(tc, test_binop_shape_errors);
    tcase_add_test(tc, test_binop_scalar);
    tcase_add_test(tc, test_axpy);
    tcase_add_test(tc, test_unop_names);
    tcase_add_test(tc, test_unop_apply1_vs_libm);
    tcase_add_test(tc, test_map_vs_apply1);
    tcase_add_test(tc, test_reduce_all);
    tcase_add_test(tc, test_reduce_nan_and_ties);
    tcase_add_test(tc, test_reduce_errors);
    tcase_add_test(tc, test_pairwise_sum_accuracy);
    tcase_add_test(tc, test_norm);
    tcase_add_test(tc, test_allclose);
    tcase_add_test(tc, test_hcat_vcat);
    tcase_add_test(tc, test_gather_rows);
    tcase_add_test(tc, test_alloc_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(matrix_suite());
}
