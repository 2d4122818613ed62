/* matrix.c: dense row-major matrices: storage, views, elementwise kernels, reductions and
 * concatenation. Not BLAS (blas.c) and not Lua (src/bind/matrix.c). */
#include "loom.h"

#include <math.h>
#include <string.h>

#include "kernel.h"

const char *loom_dtype_name(loom_dtype dtype)
{
    return dtype == LOOM_F32 ? "float32" : "float64";
}

int loom_dtype_from_name(const char *name)
{
    if (strcmp(name, "float64") == 0)
        return LOOM_F64;
    if (strcmp(name, "float32") == 0)
        return LOOM_F32;
    return -1;
}

/* Allocate rows x cols storage into *m, zeroed when asked. */
static loom_status init_storage(loom_matrix *m, size_t rows, size_t cols, int zero,
                                loom_dtype dtype)
{
    size_t esize = loom_dtype_size(dtype);
    m->data = NULL;
    m->block = NULL;
    m->dtype = dtype;
    m->rows = rows;
    m->cols = cols;
    m->ld = cols > 0 ? cols : 1;
    if (rows > LOOM_MAX_DIM || cols > LOOM_MAX_DIM) {
        m->rows = m->cols = 0;
        m->ld = 1;
        return LOOM_ERANGE;
    }
    if (rows == 0 || cols == 0)
        return LOOM_OK;
    if (rows > SIZE_MAX / esize / cols) {
        m->rows = m->cols = 0;
        return LOOM_ENOMEM;
    }
    m->block = zero ? loom_calloc(rows * cols, esize) : loom_malloc(rows * cols * esize);
    if (!m->block) {
        m->rows = m->cols = 0;
        return LOOM_ENOMEM;
    }
    m->data = m->block;
    return LOOM_OK;
}

loom_status loom_matrix_init(loom_matrix *m, size_t rows, size_t cols)
{
    return init_storage(m, rows, cols, 1, LOOM_F64);
}

loom_status loom_matrix_init_uninit(loom_matrix *m, size_t rows, size_t cols)
{
    return init_storage(m, rows, cols, 0, LOOM_F64);
}

loom_status loom_matrix_init_dtype(loom_matrix *m, size_t rows, size_t cols, loom_dtype dtype)
{
    return init_storage(m, rows, cols, 1, dtype);
}

loom_status loom_matrix_init_uninit_dtype(loom_matrix *m, size_t rows, size_t cols,
                                          loom_dtype dtype)
{
    return init_storage(m, rows, cols, 0, dtype);
}

/* The address of element (i, j) whatever the dtype (for byte copies and views). */
static void *element_address(const loom_matrix *m, size_t i, size_t j)
{
    return (char *)m->data + (i * m->ld + j) * loom_dtype_size(m->dtype);
}

void loom_matrix_release(loom_matrix *m)
{
    loom_free(m->block);
    m->block = NULL;
    m->data = NULL;
    m->rows = m->cols = 0;
    m->ld = 1;
}

loom_status loom_matrix_view(loom_matrix *view, const loom_matrix *src, size_t r0, size_t c0,
                             size_t rows, size_t cols)
{
    if (r0 > src->rows || rows > src->rows - r0 || c0 > src->cols || cols > src->cols - c0)
        return LOOM_EDIM;
    view->rows = rows;
    view->cols = cols;
    view->ld = src->ld;
    view->block = NULL;
    view->dtype = src->dtype;
    view->data = (rows && cols) ? element_address(src, r0, c0) : NULL;
    return LOOM_OK;
}

loom_status loom_matrix_reshape_view(loom_matrix *view, const loom_matrix *src, size_t rows,
                                     size_t cols)
{
    if (!loom_is_contiguous(src) || rows > LOOM_MAX_DIM || cols > LOOM_MAX_DIM
        || rows * cols != loom_numel(src))
        return LOOM_EDIM;
    view->data = src->data;
    view->rows = rows;
    view->cols = cols;
    view->ld = cols > 0 ? cols : 1;
    view->block = NULL;
    view->dtype = src->dtype;
    return LOOM_OK;
}

loom_matrix loom_matrix_wrap(double *data, size_t rows, size_t cols)
{
    loom_matrix m = {.data = data, .rows = rows, .cols = cols, .ld = cols > 0 ? cols : 1,
                     .block = NULL, .dtype = LOOM_F64};
    return m;
}

loom_matrix loom_matrix_wrap_f32(float *data, size_t rows, size_t cols)
{
    loom_matrix m = {.data32 = data, .rows = rows, .cols = cols, .ld = cols > 0 ? cols : 1,
                     .block = NULL, .dtype = LOOM_F32};
    return m;
}

/* out = src converted element by element (the dtypes differ, so no overlap). */
static void convert_copy(loom_matrix *out, const loom_matrix *src)
{
    for (size_t i = 0; i < src->rows; i++) {
        if (out->dtype == LOOM_F32) {
            float *y = loom_at32(out, i, 0);
            const double *x = loom_at(src, i, 0);
            for (size_t j = 0; j < src->cols; j++)
                y[j] = (float)x[j];
        } else {
            double *y = loom_at(out, i, 0);
            const float *x = loom_at32(src, i, 0);
            for (size_t j = 0; j < src->cols; j++)
                y[j] = (double)x[j];
        }
    }
}

loom_status loom_matrix_copy(loom_matrix *out, const loom_matrix *src)
{
    if (!loom_same_shape(out, src))
        return LOOM_EDIM;
    /* Empty matrices have NULL data, which memmove must not see even for 0 bytes. */
    if (loom_numel(src) == 0 || (out->data == src->data && out->ld == src->ld
                                 && out->dtype == src->dtype))
        return LOOM_OK;
    if (out->dtype != src->dtype) {
        convert_copy(out, src);
        return LOOM_OK;
    }
    size_t esize = loom_dtype_size(src->dtype);
    if (loom_is_contiguous(out) && loom_is_contiguous(src)) {
        loom_move_bytes(out->data, src->data, loom_numel(src) * esize);
        return LOOM_OK;
    }
    /* Rows shifted down inside one matrix must be copied bottom-up, as memmove would. */
    if ((char *)out->data > (char *)src->data)
        for (size_t i = src->rows; i-- > 0;)
            loom_move_bytes(element_address(out, i, 0), element_address(src, i, 0),
                            src->cols * esize);
    else
        for (size_t i = 0; i < src->rows; i++)
            loom_move_bytes(element_address(out, i, 0), element_address(src, i, 0),
                            src->cols * esize);
    return LOOM_OK;
}

loom_status loom_matrix_transpose(loom_matrix *out, const loom_matrix *src)
{
    if (out->rows != src->cols || out->cols != src->rows)
        return LOOM_EDIM;
    if (out->dtype != src->dtype)
        return LOOM_EARG;
    if (src->dtype == LOOM_F32) {
        for (size_t i = 0; i < src->rows; i++)
            for (size_t j = 0; j < src->cols; j++)
                *loom_at32(out, j, i) = *loom_at32(src, i, j);
        return LOOM_OK;
    }
    /* Blocked so both sides stay in cache for large matrices. */
    enum { BLOCK = 32 };
    for (size_t i0 = 0; i0 < src->rows; i0 += BLOCK)
        for (size_t j0 = 0; j0 < src->cols; j0 += BLOCK) {
            size_t i1 = i0 + BLOCK < src->rows ? i0 + BLOCK : src->rows;
            size_t j1 = j0 + BLOCK < src->cols ? j0 + BLOCK : src->cols;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++)
                    *loom_at(out, j, i) = *loom_at(src, i, j);
        }
    return LOOM_OK;
}

void loom_matrix_fill(loom_matrix *m, double value)
{
    if (m->dtype == LOOM_F32) {
        for (size_t i = 0; i < m->rows; i++) {
            float *row = loom_at32(m, i, 0);
            for (size_t j = 0; j < m->cols; j++)
                row[j] = (float)value;
        }
        return;
    }
    for (size_t i = 0; i < m->rows; i++) {
        double *row = loom_at(m, i, 0);
        for (size_t j = 0; j < m->cols; j++)
            row[j] = value;
    }
}

void loom_matrix_eye(loom_matrix *m)
{
    loom_matrix_fill(m, 0.0);
    for (size_t i = 0; i < m->rows && i < m->cols; i++)
        loom_put(m, i, i, 1.0);
}

void loom_matrix_rand(loom_matrix *m, loom_rng *rng)
{
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            if (m->dtype == LOOM_F32) {
                /* Rounding may reach 1: the largest float below 1 keeps the range [0, 1). */
                float u = (float)loom_rng_uniform(rng);
                *loom_at32(m, i, j) = u < 1.0f ? u : 0x1.fffffep-1f;
            } else {
                *loom_at(m, i, j) = loom_rng_uniform(rng);
            }
}

void loom_matrix_randn(loom_matrix *m, loom_rng *rng)
{
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            loom_put(m, i, j, loom_rng_normal(rng));
}

/* ---- binary elementwise ---- */

/* out[j] = a[j] op b[j * b_step] for one row; b_step 0 repeats one value. Each case is its
 * own loop so the compiler vectorises the contiguous ones. */
LOOM_CLONES static void binop_row(double *out, const double *a, loom_binop op, const double *b,
                      size_t b_step, size_t n)
{
    switch (op) {
    case LOOM_ADD:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] + b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] + b[0];
        }
        break;
    case LOOM_SUB:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] - b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] - b[0];
        }
        break;
    case LOOM_MUL:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] * b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] * b[0];
        }
        break;
    case LOOM_DIV:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] / b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] / b[0];
        }
        break;
    case LOOM_POW:
        for (size_t j = 0; j < n; j++) out[j] = pow(a[j], b[j * b_step]);
        break;
    case LOOM_MAX:
        for (size_t j = 0; j < n; j++) {
            double x = a[j], y = b[j * b_step];
            out[j] = (x != x || x > y) ? x : y;
        }
        break;
    case LOOM_MIN:
        for (size_t j = 0; j < n; j++) {
            double x = a[j], y = b[j * b_step];
            out[j] = (x != x || x < y) ? x : y;
        }
        break;
    }
}

/* binop_row for float32 rows. */
LOOM_CLONES static void binop_row_f32(float *out, const float *a, loom_binop op, const float *b,
                          size_t b_step, size_t n)
{
    switch (op) {
    case LOOM_ADD:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] + b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] + b[0];
        }
        break;
    case LOOM_SUB:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] - b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] - b[0];
        }
        break;
    case LOOM_MUL:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] * b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] * b[0];
        }
        break;
    case LOOM_DIV:
        if (b_step) {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] / b[j];
        } else {
            LOOM_SIMD
            for (size_t j = 0; j < n; j++) out[j] = a[j] / b[0];
        }
        break;
    case LOOM_POW:
        for (size_t j = 0; j < n; j++) out[j] = powf(a[j], b[j * b_step]);
        break;
    case LOOM_MAX:
        for (size_t j = 0; j < n; j++) {
            float x = a[j], y = b[j * b_step];
            out[j] = (x != x || x > y) ? x : y;
        }
        break;
    case LOOM_MIN:
        for (size_t j = 0; j < n; j++) {
            float x = a[j], y = b[j * b_step];
            out[j] = (x != x || x < y) ? x : y;
        }
        break;
    }
}

/* loom_matrix_binop for float32 operands, shapes checked. */
static loom_status binop_f32(loom_matrix *out, const loom_matrix *a, loom_binop op,
                             const loom_matrix *b, int full)
{
    if (full && loom_is_contiguous(out) && loom_is_contiguous(a) && loom_is_contiguous(b)) {
        binop_row_f32(out->data32, a->data32, op, b->data32, 1, loom_numel(a));
        return LOOM_OK;
    }
    int row_vector = b->rows == 1 && b->cols == a->cols;
    for (size_t i = 0; i < a->rows; i++) {
        const float *brow;
        size_t step;
        if (full || row_vector) {
            brow = loom_at32(b, full ? i : 0, 0);
            step = (b->cols == 1 && a->cols != 1) ? 0 : 1;
        } else {
            brow = loom_at32(b, b->rows == 1 ? 0 : i, 0);
            step = 0;
        }
        binop_row_f32(loom_at32(out, i, 0), loom_at32(a, i, 0), op, brow, step, a->cols);
    }
    return LOOM_OK;
}

loom_status loom_matrix_binop(loom_matrix *out, const loom_matrix *a, loom_binop op,
                              const loom_matrix *b)
{
    if (!loom_same_shape(out, a))
        return LOOM_EDIM;
    int full = loom_same_shape(a, b);
    int row_vector = b->rows == 1 && b->cols == a->cols;
    int col_vector = b->cols == 1 && b->rows == a->rows;
    int scalar = b->rows == 1 && b->cols == 1;
    if (!full && !row_vector && !col_vector && !scalar)
        return LOOM_EDIM;
    if (out->dtype != a->dtype || b->dtype != a->dtype)
        return LOOM_EARG;
    if (loom_numel(a) == 0)
        return LOOM_OK;
    if (a->dtype == LOOM_F32)
        return binop_f32(out, a, op, b, full);
    /* out == a or out == b is fine: each row is read before it is written, element by
     * element. A broadcast b that lives inside out would change under our feet. */
    if (full && loom_is_contiguous(out) && loom_is_contiguous(a) && loom_is_contiguous(b)) {
        binop_row(out->data, a->data, op, b->data, 1, loom_numel(a));
        return LOOM_OK;
    }
    for (size_t i = 0; i < a->rows; i++) {
        const double *brow;
        size_t step;
        if (full || row_vector) {
            brow = loom_at(b, full ? i : 0, 0);
            step = (b->cols == 1 && a->cols != 1) ? 0 : 1;
        } else {
            brow = loom_at(b, col_vector ? i : 0, 0);
            step = 0;
        }
        binop_row(loom_at(out, i, 0), loom_at(a, i, 0), op, brow, step, a->cols);
    }
    return LOOM_OK;
}

/* loom_matrix_binop_scalar for float32: the scalar is rounded to float first, as
 * PyTorch does for a Python number with a float32 tensor. */
static loom_status binop_scalar_f32(loom_matrix *out, const loom_matrix *a, loom_binop op,
                                    float s, int scalar_first)
{
    for (size_t i = 0; i < a->rows; i++) {
        const float *x = loom_at32(a, i, 0);
        float *y = loom_at32(out, i, 0);
        if (!scalar_first) {
            binop_row_f32(y, x, op, &s, 0, a->cols);
            continue;
        }
        switch (op) {
        case LOOM_SUB: for (size_t j = 0; j < a->cols; j++) y[j] = s - x[j]; break;
        case LOOM_DIV: for (size_t j = 0; j < a->cols; j++) y[j] = s / x[j]; break;
        case LOOM_POW: for (size_t j = 0; j < a->cols; j++) y[j] = powf(s, x[j]); break;
        default: binop_row_f32(y, x, op, &s, 0, a->cols); break; /* commutative: a op s */
        }
    }
    return LOOM_OK;
}

loom_status loom_matrix_binop_scalar(loom_matrix *out, const loom_matrix *a, loom_binop op,
                                     double s, int scalar_first)
{
    if (!loom_same_shape(out, a))
        return LOOM_EDIM;
    if (out->dtype != a->dtype)
        return LOOM_EARG;
    if (a->dtype == LOOM_F32)
        return binop_scalar_f32(out, a, op, (float)s, scalar_first);
    if (!scalar_first) {
        loom_matrix b = loom_matrix_wrap(&s, 1, 1);
        return loom_matrix_binop(out, a, op, &b);
    }
    for (size_t i = 0; i < a->rows; i++) {
        const double *x = loom_at(a, i, 0);
        double *y = loom_at(out, i, 0);
        switch (op) {
        case LOOM_SUB: for (size_t j = 0; j < a->cols; j++) y[j] = s - x[j]; break;
        case LOOM_DIV: for (size_t j = 0; j < a->cols; j++) y[j] = s / x[j]; break;
        case LOOM_POW: for (size_t j = 0; j < a->cols; j++) y[j] = pow(s, x[j]); break;
        default: binop_row(y, x, op, &s, 0, a->cols); break; /* commutative: a op s */
        }
    }
    return LOOM_OK;
}

loom_status loom_matrix_axpy(loom_matrix *out, double alpha, const loom_matrix *a)
{
    if (!loom_same_shape(out, a))
        return LOOM_EDIM;
    if (out->dtype != a->dtype)
        return LOOM_EARG;
    if (a->dtype == LOOM_F32) {
        float alpha32 = (float)alpha;
        for (size_t i = 0; i < a->rows; i++) {
            float *restrict y = loom_at32(out, i, 0);
            const float *x = loom_at32(a, i, 0);
            for (size_t j = 0; j < a->cols; j++)
                y[j] += alpha32 * x[j];
        }
        return LOOM_OK;
    }
    for (size_t i = 0; i < a->rows; i++) {
        double *restrict y = loom_at(out, i, 0);
        const double *x = loom_at(a, i, 0);
        for (size_t j = 0; j < a->cols; j++)
            y[j] += alpha * x[j];
    }
    return LOOM_OK;
}

/* ---- unary maps ---- */

static const char *const unop_names[LOOM_UNOP_COUNT] = {
    "neg", "exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt", "square", "sin", "cos",
    "log1p", "expm1", "floor", "ceil", "round", "sign", "reciprocal",
};

const char *loom_unop_name(loom_unop op)
{
    return (unsigned)op < LOOM_UNOP_COUNT ? unop_names[op] : "?";
}

int loom_unop_from_name(const char *name)
{
    for (int i = 0; i < LOOM_UNOP_COUNT; i++)
        if (strcmp(name, unop_names[i]) == 0)
            return i;
    return -1;
}

/* The logistic function without overflow for large |x|. */
static inline double sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

double loom_unop_apply1(loom_unop op, double x)
{
    switch (op) {
    case LOOM_NEG: return -x;
    case LOOM_EXP: return exp(x);
    case LOOM_LOG: return log(x);
    case LOOM_TANH: return tanh(x);
    case LOOM_SIGMOID: return sigmoid(x);
    case LOOM_RELU: return x > 0 ? x : (x != x ? x : 0.0);
    case LOOM_ABS: return fabs(x);
    case LOOM_SQRT: return sqrt(x);
    case LOOM_SQUARE: return x * x;
    case LOOM_SIN: return sin(x);
    case LOOM_COS: return cos(x);
    case LOOM_LOG1P: return log1p(x);
    case LOOM_EXPM1: return expm1(x);
    case LOOM_FLOOR: return floor(x);
    case LOOM_CEIL: return ceil(x);
    case LOOM_ROUND: return nearbyint(x); /* half to even, like numpy */
    case LOOM_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    case LOOM_RECIPROCAL: return 1.0 / x;
    case LOOM_UNOP_COUNT: break;
    }
    return x;
}

/* y = exp(x) with every element through the same (vector) exp, also the last n % 8: a
 * value's exp must not depend on where it sits in a row. */
static inline void exp_row(double *y, const double *x, size_t n)
{
    size_t body = n / 8 * 8;
    LOOM_SIMD
    for (size_t j = 0; j < body; j++)
        y[j] = exp(x[j]);
    if (body < n) {
        double tail[8] = {0};
        loom_copy_bytes(tail, x + body, (n - body) * sizeof(double));
        LOOM_SIMD
        for (size_t k = 0; k < 8; k++)
            tail[k] = exp(tail[k]);
        loom_copy_bytes(y + body, tail, (n - body) * sizeof(double));
    }
}

LOOM_CLONES static void map_row(double *y, const double *x, loom_unop op, size_t n)
{
    switch (op) {
    case LOOM_NEG: for (size_t j = 0; j < n; j++) y[j] = -x[j]; break;
    case LOOM_EXP: exp_row(y, x, n); break;
    case LOOM_LOG: for (size_t j = 0; j < n; j++) y[j] = log(x[j]); break;
    case LOOM_TANH: for (size_t j = 0; j < n; j++) y[j] = tanh(x[j]); break;
    case LOOM_SQRT: for (size_t j = 0; j < n; j++) y[j] = sqrt(x[j]); break;
    case LOOM_SQUARE: for (size_t j = 0; j < n; j++) y[j] = x[j] * x[j]; break;
    case LOOM_ABS: for (size_t j = 0; j < n; j++) y[j] = fabs(x[j]); break;
    case LOOM_RECIPROCAL: for (size_t j = 0; j < n; j++) y[j] = 1.0 / x[j]; break;
    default: for (size_t j = 0; j < n; j++) y[j] = loom_unop_apply1(op, x[j]); break;
    }
}

/* map_row for float32: the float functions of libm for the common ops, the double
 * reference rounded to float for the rest. */
LOOM_CLONES static void map_row_f32(float *y, const float *x, loom_unop op, size_t n)
{
    switch (op) {
    case LOOM_NEG: for (size_t j = 0; j < n; j++) y[j] = -x[j]; break;
    case LOOM_EXP: for (size_t j = 0; j < n; j++) y[j] = expf(x[j]); break;
    case LOOM_LOG: for (size_t j = 0; j < n; j++) y[j] = logf(x[j]); break;
    case LOOM_TANH: for (size_t j = 0; j < n; j++) y[j] = tanhf(x[j]); break;
    case LOOM_SQRT: for (size_t j = 0; j < n; j++) y[j] = sqrtf(x[j]); break;
    case LOOM_SQUARE: for (size_t j = 0; j < n; j++) y[j] = x[j] * x[j]; break;
    case LOOM_ABS: for (size_t j = 0; j < n; j++) y[j] = fabsf(x[j]); break;
    case LOOM_RECIPROCAL: for (size_t j = 0; j < n; j++) y[j] = 1.0f / x[j]; break;
    default:
        for (size_t j = 0; j < n; j++)
            y[j] = (float)loom_unop_apply1(op, (double)x[j]);
        break;
    }
}

loom_status loom_matrix_map(loom_matrix *out, const loom_matrix *src, loom_unop op)
{
    if (!loom_same_shape(out, src) || (unsigned)op >= LOOM_UNOP_COUNT)
        return LOOM_EDIM;
    if (out->dtype != src->dtype)
        return LOOM_EARG;
    if (src->dtype == LOOM_F32) {
        if (loom_is_contiguous(out) && loom_is_contiguous(src)) {
            map_row_f32(out->data32, src->data32, op, loom_numel(src));
            return LOOM_OK;
        }
        for (size_t i = 0; i < src->rows; i++)
            map_row_f32(loom_at32(out, i, 0), loom_at32(src, i, 0), op, src->cols);
        return LOOM_OK;
    }
    if (loom_is_contiguous(out) && loom_is_contiguous(src)) {
        map_row(out->data, src->data, op, loom_numel(src));
        return LOOM_OK;
    }
    for (size_t i = 0; i < src->rows; i++)
        map_row(loom_at(out, i, 0), loom_at(src, i, 0), op, src->cols);
    return LOOM_OK;
}

/* ---- reductions ---- */

/* Pairwise summation of x[0], x[step], ...: blocks of 128 with eight accumulators (which
 * vectorise when step is 1), combined pairwise; error grows like log2(n / 128). */
LOOM_CLONES static double pairwise_sum(const double *x, size_t n, size_t step)
{
    if (n <= 128) {
        double acc[8] = {0};
        size_t j = 0;
        if (step == 1)
            for (; j + 8 <= n; j += 8)
                for (int k = 0; k < 8; k++)
                    acc[k] += x[j + (size_t)k];
        double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; j < n; j++)
            s += x[j * step];
        return s;
    }
    size_t half = n / 2 / 8 * 8;
    return pairwise_sum(x, half, step) + pairwise_sum(x + half * step, n - half, step);
}

/* Neumaier's compensated running sum, for combining per-row partial sums. */
typedef struct compensated {
    double sum, carry;
} compensated;

static void compensated_add(compensated *c, double x)
{
    double t = c->sum + x;
    if (fabs(c->sum) >= fabs(x))
        c->carry += (c->sum - t) + x;
    else
        c->carry += (x - t) + c->sum;
    c->sum = t;
}

/* Reduce n values x[0], x[step], ... into one. Arg ops give a 0-based index. */
/* The largest (want_max) or smallest of x[0..n), n >= 1, in one vectorised pass whose
 * order does not matter for finite values. *finite is cleared when x holds a NaN or an
 * infinity (x - x is then not 0): the caller then decides with the exact loop. */
LOOM_CLONES static double extreme_contiguous(const double *x, size_t n, int want_max, int *finite)
{
    double v = x[0], probe = 0.0;
    if (want_max) {
        LOOM_SIMD_REDUCE2(max, v, +, probe)
        for (size_t j = 0; j < n; j++) {
            v = x[j] > v ? x[j] : v;
            probe += x[j] - x[j];
        }
    } else {
        LOOM_SIMD_REDUCE2(min, v, +, probe)
        for (size_t j = 0; j < n; j++) {
            v = x[j] < v ? x[j] : v;
            probe += x[j] - x[j];
        }
    }
    *finite = probe == 0.0;
    return v;
}

static double reduce_strided(const double *x, size_t n, size_t step, loom_reduce op)
{
    switch (op) {
    case LOOM_SUM: return pairwise_sum(x, n, step);
    case LOOM_MEAN: return pairwise_sum(x, n, step) / (double)n;
    case LOOM_MAXV:
    case LOOM_MINV:
    case LOOM_ARGMAX:
    case LOOM_ARGMIN: {
        int want_max = op == LOOM_MAXV || op == LOOM_ARGMAX;
        int finite = 0;
        double v = step == 1 && n >= 64 ? extreme_contiguous(x, n, want_max, &finite) : 0.0;
        if (finite) {
            /* The fast pass gave the value; the first equal element gives its index. */
            if (op == LOOM_MAXV || op == LOOM_MINV)
                return v;
            size_t j = 0;
            while (x[j] != v)
                j++;
            return (double)j;
        }
        size_t best = 0;
        v = x[0];
        for (size_t j = 1; j < n && v == v; j++) {
            double y = x[j * step];
            if (y != y || (want_max ? y > v : y < v)) {
                v = y;
                best = j;
            }
        }
        return (op == LOOM_MAXV || op == LOOM_MINV) ? v : (double)best;
    }
    }
    return 0.0;
}

static int is_arg(loom_reduce op)
{
    return op == LOOM_ARGMAX || op == LOOM_ARGMIN;
}

static loom_status reduce_all(loom_matrix *out, const loom_matrix *src, loom_reduce op)
{
    size_t n = loom_numel(src);
    if (loom_is_contiguous(src)) {
        double v = reduce_strided(src->data, n, 1, op);
        *out->data = is_arg(op) ? v + 1 : v;
        return LOOM_OK;
    }
    if (op == LOOM_SUM || op == LOOM_MEAN) {
        compensated c = {0, 0};
        for (size_t i = 0; i < src->rows; i++)
            compensated_add(&c, pairwise_sum(loom_at(src, i, 0), src->cols, 1));
        *out->data = (c.sum + c.carry) / (op == LOOM_MEAN ? (double)n : 1.0);
        return LOOM_OK;
    }
    int want_max = op == LOOM_MAXV || op == LOOM_ARGMAX;
    size_t best = 0;
    double v = *src->data;
    for (size_t i = 0; i < src->rows && v == v; i++) {
        const double *row = loom_at(src, i, 0);
        size_t j = (size_t)reduce_strided(row, src->cols, 1, want_max ? LOOM_ARGMAX : LOOM_ARGMIN);
        if (row[j] != row[j] || (want_max ? row[j] > v : row[j] < v)) {
            v = row[j];
            best = i * src->cols + j;
        }
    }
    *out->data = is_arg(op) ? (double)best + 1 : v;
    return LOOM_OK;
}

/* acc += row for one block row of a column sum. */
LOOM_CLONES static void add_row(double *restrict acc, const double *restrict row, size_t n)
{
    LOOM_SIMD
    for (size_t j = 0; j < n; j++)
        acc[j] += row[j];
}

/* Sums down the rows, column by column, in blocks of rows: each block is summed plainly
 * into a scratch row and the block sums are combined with compensation. */
LOOM_CLONES static loom_status sum_columns(loom_matrix *out, const loom_matrix *src, int mean)
{
    enum { BLOCK = 64 };
    size_t cols = src->cols;
    if (cols == 0)
        return LOOM_OK; /* nothing to write, and src->data may be NULL */
    double *scratch = loom_calloc(3 * cols, sizeof(double));
    if (!scratch)
        return LOOM_ENOMEM;
    double *block = scratch, *sum = scratch + cols, *carry = scratch + 2 * cols;
    for (size_t i0 = 0; i0 < src->rows; i0 += BLOCK) {
        size_t i1 = i0 + BLOCK < src->rows ? i0 + BLOCK : src->rows;
        loom_copy_bytes(block, loom_at(src, i0, 0), cols * sizeof(double));
        for (size_t i = i0 + 1; i < i1; i++)
            add_row(block, loom_at(src, i, 0), cols);
        for (size_t j = 0; j < cols; j++) {
            compensated c = {sum[j], carry[j]};
            compensated_add(&c, block[j]);
            sum[j] = c.sum;
            carry[j] = c.carry;
        }
    }
    double scale = mean ? 1.0 / (double)src->rows : 1.0;
    for (size_t j = 0; j < cols; j++)
        *loom_at(out, 0, j) = (sum[j] + carry[j]) * scale;
    loom_free(scratch);
    return LOOM_OK;
}

/* ---- float32 reductions: values are accumulated in double, results rounded once ---- */

/* pairwise_sum for float32 values, with double accumulators. */
static double pairwise_sum_f32(const float *x, size_t n, size_t step)
{
    if (n <= 128) {
        double acc[8] = {0};
        size_t j = 0;
        if (step == 1)
            for (; j + 8 <= n; j += 8)
                for (int k = 0; k < 8; k++)
                    acc[k] += x[j + (size_t)k];
        double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; j < n; j++)
            s += x[j * step];
        return s;
    }
    size_t half = n / 2 / 8 * 8;
    return pairwise_sum_f32(x, half, step) + pairwise_sum_f32(x + half * step, n - half, step);
}

/* reduce_strided for float32: a value, or a 0-based index for the arg ops. n >= 1. */
static double reduce_strided_f32(const float *x, size_t n, size_t step, loom_reduce op)
{
    if (op == LOOM_SUM)
        return pairwise_sum_f32(x, n, step);
    if (op == LOOM_MEAN)
        return pairwise_sum_f32(x, n, step) / (double)n;
    int want_max = op == LOOM_MAXV || op == LOOM_ARGMAX;
    size_t best = 0;
    float v = x[0];
    for (size_t j = 1; j < n && v == v; j++) {
        float y = x[j * step];
        if (y != y || (want_max ? y > v : y < v)) {
            v = y;
            best = j;
        }
    }
    return is_arg(op) ? (double)best : (double)v;
}

static void reduce_all_f32(loom_matrix *out, const loom_matrix *src, loom_reduce op)
{
    size_t n = loom_numel(src);
    if (loom_is_contiguous(src)) {
        double v = reduce_strided_f32(src->data32, n, 1, op);
        loom_put(out, 0, 0, is_arg(op) ? v + 1 : v);
        return;
    }
    if (op == LOOM_SUM || op == LOOM_MEAN) {
        compensated c = {0, 0};
        for (size_t i = 0; i < src->rows; i++)
            compensated_add(&c, pairwise_sum_f32(loom_at32(src, i, 0), src->cols, 1));
        loom_put(out, 0, 0, (c.sum + c.carry) / (op == LOOM_MEAN ? (double)n : 1.0));
        return;
    }
    int want_max = op == LOOM_MAXV || op == LOOM_ARGMAX;
    size_t best = 0;
    float v = *src->data32;
    for (size_t i = 0; i < src->rows && v == v; i++) {
        const float *row = loom_at32(src, i, 0);
        size_t j = (size_t)reduce_strided_f32(row, src->cols, 1, want_max ? LOOM_ARGMAX : LOOM_ARGMIN);
        if (row[j] != row[j] || (want_max ? row[j] > v : row[j] < v)) {
            v = row[j];
            best = i * src->cols + j;
        }
    }
    loom_put(out, 0, 0, is_arg(op) ? (double)best + 1 : (double)v);
}

/* loom_matrix_reduce for a float32 src, shapes checked and src not empty along dim. */
static void reduce_f32(loom_matrix *out, const loom_matrix *src, loom_reduce op, int dim)
{
    if (dim == 0) {
        reduce_all_f32(out, src, op);
        return;
    }
    size_t along = dim == 1 ? src->rows : src->cols;
    size_t count = dim == 1 ? src->cols : src->rows;
    for (size_t k = 0; k < count; k++) {
        const float *start = dim == 1 ? loom_at32(src, 0, k) : loom_at32(src, k, 0);
        double v = reduce_strided_f32(start, along, dim == 1 ? src->ld : 1, op);
        loom_put(out, dim == 1 ? 0 : k, dim == 1 ? k : 0, is_arg(op) ? v + 1 : v);
    }
}

loom_status loom_matrix_reduce(loom_matrix *out, const loom_matrix *src, loom_reduce op, int dim)
{
    size_t want_rows = dim == 2 ? src->rows : 1;
    size_t want_cols = dim == 1 ? src->cols : 1;
    if (dim < 0 || dim > 2)
        return LOOM_EARG;
    if (out->rows != want_rows || out->cols != want_cols)
        return LOOM_EDIM;
    int summing = op == LOOM_SUM || op == LOOM_MEAN;
    size_t along = dim == 0 ? loom_numel(src) : dim == 1 ? src->rows : src->cols;
    if (along == 0) {
        if (op != LOOM_SUM)
            return LOOM_EDIM;
        loom_matrix_fill(out, 0.0);
        return LOOM_OK;
    }
    if (src->dtype == LOOM_F32 || out->dtype == LOOM_F32) {
        if (src->dtype != LOOM_F32) /* a float64 source only reduces into float64 */
            return LOOM_EARG;
        reduce_f32(out, src, op, dim);
        return LOOM_OK;
    }
    if (dim == 0)
        return reduce_all(out, src, op);
    if (dim == 1 && summing)
        return sum_columns(out, src, op == LOOM_MEAN);
    size_t count = dim == 1 ? src->cols : src->rows;
    for (size_t k = 0; k < count; k++) {
        const double *start = dim == 1 ? loom_at(src, 0, k) : loom_at(src, k, 0);
        double v = reduce_strided(start, along, dim == 1 ? src->ld : 1, op);
        *(dim == 1 ? loom_at(out, 0, k) : loom_at(out, k, 0)) = is_arg(op) ? v + 1 : v;
    }
    return LOOM_OK;
}

/* loom_matrix_norm for float32, in double. */
static double norm_f32(const loom_matrix *m)
{
    compensated c = {0, 0};
    for (size_t i = 0; i < m->rows; i++) {
        const float *row = loom_at32(m, i, 0);
        double s = 0.0;
        for (size_t j = 0; j < m->cols; j++)
            s += (double)row[j] * (double)row[j];
        compensated_add(&c, s);
    }
    return sqrt(c.sum + c.carry); /* float32 squares cannot overflow a double */
}

double loom_matrix_norm(const loom_matrix *m)
{
    if (m->dtype == LOOM_F32)
        return norm_f32(m);
    double scale = 0.0;
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++) {
            double a = fabs(*loom_at(m, i, j));
            if (a > scale || a != a)
                scale = a;
        }
    if (scale == 0.0 || scale != scale || isinf(scale))
        return scale;
    compensated c = {0, 0};
    for (size_t i = 0; i < m->rows; i++) {
        const double *row = loom_at(m, i, 0);
        double s = 0.0;
        for (size_t j = 0; j < m->cols; j++) {
            double x = row[j] / scale;
            s += x * x;
        }
        compensated_add(&c, s);
    }
    return scale * sqrt(c.sum + c.carry);
}

int loom_matrix_allclose(const loom_matrix *a, const loom_matrix *b, double rtol, double atol)
{
    if (!loom_same_shape(a, b))
        return 0;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++) {
            double x = loom_get(a, i, j), y = loom_get(b, i, j);
            if (x == y)
                continue; /* equal infinities too */
            /* An infinity is close only to itself: rtol * |inf| would accept anything. */
            if (isinf(x) || isinf(y) || !(fabs(x - y) <= atol + rtol * fabs(y)))
                return 0;
        }
    return 1;
}

/* ---- concatenation and gathering ---- */

loom_status loom_matrix_hcat(loom_matrix *out, const loom_matrix *parts, size_t count)
{
    size_t cols = 0;
    for (size_t k = 0; k < count; k++) {
        if (parts[k].rows != out->rows)
            return LOOM_EDIM;
        cols += parts[k].cols;
    }
    if (cols != out->cols)
        return LOOM_EDIM;
    size_t c0 = 0;
    for (size_t k = 0; k < count; k++) {
        loom_matrix dst;
        loom_matrix_view(&dst, out, 0, c0, out->rows, parts[k].cols);
        loom_matrix_copy(&dst, &parts[k]);
        c0 += parts[k].cols;
    }
    return LOOM_OK;
}

loom_status loom_matrix_vcat(loom_matrix *out, const loom_matrix *parts, size_t count)
{
    size_t rows = 0;
    for (size_t k = 0; k < count; k++) {
        if (parts[k].cols != out->cols)
            return LOOM_EDIM;
        rows += parts[k].rows;
    }
    if (rows != out->rows)
        return LOOM_EDIM;
    size_t r0 = 0;
    for (size_t k = 0; k < count; k++) {
        loom_matrix dst;
        loom_matrix_view(&dst, out, r0, 0, parts[k].rows, out->cols);
        loom_matrix_copy(&dst, &parts[k]);
        r0 += parts[k].rows;
    }
    return LOOM_OK;
}

loom_status loom_matrix_gather_rows(loom_matrix *out, const loom_matrix *src, const size_t *idx,
                                    size_t count)
{
    if (out->rows != count || out->cols != src->cols)
        return LOOM_EDIM;
    for (size_t k = 0; k < count; k++)
        if (idx[k] >= src->rows)
            return LOOM_EARG;
    if (out->dtype != src->dtype)
        return LOOM_EARG;
    if (src->cols == 0)
        return LOOM_OK; /* NULL data: no memcpy, not even of 0 bytes */
    for (size_t k = 0; k < count; k++)
        loom_copy_bytes(element_address(out, k, 0), element_address(src, idx[k], 0),
                        src->cols * loom_dtype_size(src->dtype));
    return LOOM_OK;
}
