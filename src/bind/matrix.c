/* matrix.c (binding): the loom.matrix userdata: constructors, views, arithmetic
 * metamethods, maps, reductions, CSV and the generator. Not the kernels (src/core). */
#include "bind.h"
#include "blas.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define tomatrix(L, i) (&loom_checkmatrix_any(L, i)->m)

/* More BLAS threads than this is a typo, not a machine (OpenBLAS caps its own pool lower). */
#define LOOM_MAX_THREADS 4096

/* ---- construction ---- */

static size_t check_dim(lua_State *L, int idx, const char *fn)
{
    return loom_checkdim(L, idx, fn, idx == 1 ? "rows" : "cols");
}

/* loom.matrix{{1, 2}, {3, 4}}, loom.matrix{1, 2, 3} (a column), or loom.matrix(A) (a copy);
 * options {dtype = "float32"} (a copy of A keeps A's dtype unless one is given). */
static int l_matrix(lua_State *L)
{
    int opts = loom_opt_table(L, 2, "loom.matrix");
    Matrix *src = loom_testmatrix_any(L, 1);
    if (src) {
        loom_dtype dtype = loom_opt_dtype(L, opts, src->m.dtype, "loom.matrix");
        src = loom_recheck_any(L, 1, "loom.matrix", "the matrix");
        Matrix *a = loom_newmatrix_uninit_dtype(L, src->m.rows, src->m.cols, dtype);
        loom_matrix_copy(&a->m, &loom_recheck_any(L, 1, "loom.matrix", "the matrix")->m);
        return 1;
    }
    loom_dtype dtype = loom_opt_dtype(L, opts, LOOM_F64, "loom.matrix");
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t rows = (size_t)luaL_len(L, 1), cols = 0;
    int nested = 0;
    if (rows > 0) {
        lua_geti(L, 1, 1);
        nested = lua_istable(L, -1);
        cols = nested ? (size_t)luaL_len(L, -1) : 1;
        lua_pop(L, 1);
    }
    Matrix *a = loom_newmatrix_dtype(L, rows, cols, dtype);
    for (size_t i = 0; i < rows; i++) {
        lua_geti(L, 1, (lua_Integer)i + 1);
        if (nested) {
            if (!lua_istable(L, -1))
                return luaL_error(L, "loom.matrix: row %I is a %s, expected a table", (lua_Integer)i + 1,
                                  luaL_typename(L, -1));
            if ((size_t)luaL_len(L, -1) != cols)
                return luaL_error(L, "loom.matrix: row %I has %I values, row 1 has %I", (lua_Integer)i + 1,
                                  luaL_len(L, -1), (lua_Integer)cols);
            for (size_t j = 0; j < cols; j++) {
                lua_geti(L, -1, (lua_Integer)j + 1);
                int ok;
                double v = lua_tonumberx(L, -1, &ok);
                if (!ok)
                    return luaL_error(L, "loom.matrix: value at (%I, %I) is a %s, expected a number",
                                      (lua_Integer)i + 1, (lua_Integer)j + 1, luaL_typename(L, -1));
                loom_put(&a->m, i, j, v);
                lua_pop(L, 1);
            }
        } else {
            int ok;
            double v = lua_tonumberx(L, -1, &ok);
            if (!ok)
                return luaL_error(L, "loom.matrix: value %I is a %s, expected a number", (lua_Integer)i + 1,
                                  luaL_typename(L, -1));
            loom_put(&a->m, i, 0, v);
        }
        lua_pop(L, 1);
    }
    return 1;
}

/* The dtype option of a constructor whose options table is argument idx. */
static loom_dtype check_dtype_arg(lua_State *L, int idx, const char *fn)
{
    return loom_opt_dtype(L, loom_opt_table(L, idx, fn), LOOM_F64, fn);
}

static int l_zeros(lua_State *L)
{
    size_t r = check_dim(L, 1, "loom.zeros"), c = check_dim(L, 2, "loom.zeros");
    loom_newmatrix_dtype(L, r, c, check_dtype_arg(L, 3, "loom.zeros"));
    return 1;
}

static int l_ones(lua_State *L)
{
    size_t r = check_dim(L, 1, "loom.ones"), c = check_dim(L, 2, "loom.ones");
    Matrix *a = loom_newmatrix_dtype(L, r, c, check_dtype_arg(L, 3, "loom.ones"));
    loom_matrix_fill(&a->m, 1.0);
    return 1;
}

static int l_fill(lua_State *L)
{
    size_t r = check_dim(L, 1, "loom.fill"), c = check_dim(L, 2, "loom.fill");
    double v = luaL_checknumber(L, 3);
    Matrix *a = loom_newmatrix_dtype(L, r, c, check_dtype_arg(L, 4, "loom.fill"));
    loom_matrix_fill(&a->m, v);
    return 1;
}

/* loom.eye(n [, cols] [, {dtype = ...}]) */
static int l_eye(lua_State *L)
{
    size_t n = loom_checkdim(L, 1, "loom.eye", "n");
    int opts_idx = lua_istable(L, 2) ? 2 : 3;
    size_t m = lua_isnoneornil(L, 2) || opts_idx == 2 ? n : loom_checkdim(L, 2, "loom.eye", "cols");
    Matrix *a = loom_newmatrix_dtype(L, n, m, check_dtype_arg(L, opts_idx, "loom.eye"));
    loom_matrix_eye(&a->m);
    return 1;
}

/* rand and randn draw the same numbers for both dtypes (float32 rounds them). */
static int l_rand(lua_State *L)
{
    size_t r = check_dim(L, 1, "loom.rand"), c = check_dim(L, 2, "loom.rand");
    Matrix *a = loom_newmatrix_dtype(L, r, c, check_dtype_arg(L, 3, "loom.rand"));
    loom_matrix_rand(&a->m, loom_getrng(L));
    return 1;
}

static int l_randn(lua_State *L)
{
    size_t r = check_dim(L, 1, "loom.randn"), c = check_dim(L, 2, "loom.randn");
    Matrix *a = loom_newmatrix_dtype(L, r, c, check_dtype_arg(L, 3, "loom.randn"));
    loom_matrix_randn(&a->m, loom_getrng(L));
    return 1;
}

static int l_seed(lua_State *L)
{
    lua_Integer s = luaL_checkinteger(L, 1);
    loom_rng_seed(loom_getrng(L), (uint64_t)s);
    return 0;
}

/* The generator's state as 32 bytes (for checkpoints), and back. */
static int l_rng_state(lua_State *L)
{
    loom_rng *rng = loom_getrng(L);
    if (lua_isnoneornil(L, 1)) {
        unsigned char bytes[32];
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 8; k++)
                bytes[i * 8 + k] = (unsigned char)(rng->s[i] >> (8 * k));
        lua_pushlstring(L, (const char *)bytes, sizeof bytes);
        return 1;
    }
    size_t len;
    const unsigned char *bytes = (const unsigned char *)luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, len == 32, 1, "expected the 32-byte string loom.rng_state() returned");
    loom_rng state;
    for (int i = 0; i < 4; i++) {
        state.s[i] = 0;
        for (int k = 0; k < 8; k++)
            state.s[i] |= (uint64_t)bytes[i * 8 + k] << (8 * k);
    }
    /* xoshiro256** never leaves the all-zero state: it would return zeros forever. */
    if ((state.s[0] | state.s[1] | state.s[2] | state.s[3]) == 0)
        return luaL_error(L, "loom.rng_state: an all-zero state is not a generator state "
                             "(it would return zeros forever)");
    *rng = state;
    return 0;
}

/* loom.random_int(n) -> uniform integer in 1..n from the module's generator. */
static int l_random_int(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1, 1, "n must be >= 1");
    lua_pushinteger(L, (lua_Integer)loom_rng_below(loom_getrng(L), (uint64_t)n) + 1);
    return 1;
}

/* loom.permutation(n) -> a table holding a random permutation of 1..n. */
static int l_permutation(lua_State *L)
{
    size_t n = loom_checkdim(L, 1, "loom.permutation", "n");
    loom_rng *rng = loom_getrng(L);
    lua_createtable(L, (int)(n < 1u << 30 ? n : 0), 0);
    for (size_t i = 1; i <= n; i++) {
        lua_pushinteger(L, (lua_Integer)i);
        lua_seti(L, -2, (lua_Integer)i);
    }
    for (size_t i = n; i > 1; i--) {
        lua_Integer j = (lua_Integer)loom_rng_below(rng, i) + 1;
        lua_geti(L, -1, (lua_Integer)i);
        lua_geti(L, -2, j);
        lua_seti(L, -3, (lua_Integer)i);
        lua_seti(L, -2, j);
    }
    return 1;
}

/* ---- shape and elements ---- */

static int m_rows(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tomatrix(L, 1)->rows);
    return 1;
}

static int m_cols(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)tomatrix(L, 1)->cols);
    return 1;
}

static int m_shape(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_pushinteger(L, (lua_Integer)a->rows);
    lua_pushinteger(L, (lua_Integer)a->cols);
    return 2;
}

static int m_numel(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)loom_numel(tomatrix(L, 1)));
    return 1;
}

static int m_dtype(lua_State *L)
{
    lua_pushstring(L, loom_dtype_name(tomatrix(L, 1)->dtype));
    return 1;
}

/* A:float(), A:double(): A itself when it already has that dtype, else a converted copy. */
static int convert_to(lua_State *L, loom_dtype dtype)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_settop(L, 1);
    if (a->dtype == dtype)
        return 1;
    Matrix *b = loom_newmatrix_uninit_dtype(L, a->rows, a->cols, dtype);
    /* Allocating may run finalizers, which may close A: take it anew. */
    loom_matrix_copy(&b->m, &loom_recheck_any(L, 1, "matrix:float", "the matrix")->m);
    return 1;
}

static int m_float(lua_State *L) { return convert_to(L, LOOM_F32); }
static int m_double(lua_State *L) { return convert_to(L, LOOM_F64); }

/* A:to("float32" | "float64"): float() or double() by name. */
static int m_to(lua_State *L)
{
    loom_checkmatrix_any(L, 1);
    const char *name = luaL_checkstring(L, 2);
    int dtype = loom_dtype_from_name(name);
    if (dtype < 0)
        return luaL_error(L, "matrix:to: dtype must be \"float64\" or \"float32\", got \"%s\"", name);
    return convert_to(L, (loom_dtype)dtype);
}

static int m_is_view(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_pushboolean(L, a->block == NULL && a->data != NULL);
    return 1;
}

/* 1-based (i, j) into 0-based, raising with both the index and the shape. */
static void check_index(lua_State *L, const loom_matrix *a, const char *fn, size_t *i, size_t *j)
{
    lua_Integer li = luaL_checkinteger(L, 2), lj = luaL_checkinteger(L, 3);
    if (li < 1 || lj < 1 || (size_t)li > a->rows || (size_t)lj > a->cols) {
        char s[48];
        luaL_error(L, "%s: index (%I, %I) out of range for a %s matrix", fn, li, lj, loom_shape(a, s));
    }
    *i = (size_t)li - 1;
    *j = (size_t)lj - 1;
}

static int m_get(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    size_t i, j;
    if (lua_isnoneornil(L, 3) && (a->rows == 1 || a->cols == 1)) {
        /* One index into a vector. */
        lua_Integer k = luaL_checkinteger(L, 2);
        if (k < 1 || (size_t)k > loom_numel(a)) {
            char s[48];
            return luaL_error(L, "matrix:get: index %I out of range for a %s matrix", k, loom_shape(a, s));
        }
        size_t kk = (size_t)k - 1;
        lua_pushnumber(L, a->rows == 1 ? loom_get(a, 0, kk) : loom_get(a, kk, 0));
        return 1;
    }
    check_index(L, a, "matrix:get", &i, &j);
    lua_pushnumber(L, loom_get(a, i, j));
    return 1;
}

static int m_set(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    size_t i, j;
    check_index(L, a, "matrix:set", &i, &j);
    loom_put(a, i, j, luaL_checknumber(L, 4));
    lua_settop(L, 1);
    return 1;
}

/* ---- views ---- */

static size_t check_range_index(lua_State *L, int idx, size_t n, const char *fn, const char *what)
{
    lua_Integer k = luaL_checkinteger(L, idx);
    if (k < 1 || (size_t)k > n)
        luaL_error(L, "%s: %s %I out of range 1..%I", fn, what, k, (lua_Integer)n);
    return (size_t)k - 1;
}

static int m_row(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    size_t i = check_range_index(L, 2, a->rows, "matrix:row", "row");
    loom_matrix v;
    loom_matrix_view(&v, a, i, 0, 1, a->cols);
    loom_pushview(L, 1, v);
    return 1;
}

static int m_col(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    size_t j = check_range_index(L, 2, a->cols, "matrix:col", "column");
    loom_matrix v;
    loom_matrix_view(&v, a, 0, j, a->rows, 1);
    loom_pushview(L, 1, v);
    return 1;
}

/* A:slice(r1, r2, c1, c2): rows r1..r2 and columns c1..c2, inclusive, 1-based; c1 and c2
 * default to all columns. An empty range (r2 = r1 - 1) is allowed. */
static int m_slice(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_Integer r1 = luaL_checkinteger(L, 2), r2 = luaL_checkinteger(L, 3);
    lua_Integer c1 = luaL_optinteger(L, 4, 1), c2 = luaL_optinteger(L, 5, (lua_Integer)a->cols);
    if (r1 < 1 || r2 < r1 - 1 || (size_t)r2 > a->rows || c1 < 1 || c2 < c1 - 1 || (size_t)c2 > a->cols) {
        char s[48];
        return luaL_error(L, "matrix:slice: rows %I..%I, columns %I..%I out of range for a %s matrix",
                          r1, r2, c1, c2, loom_shape(a, s));
    }
    loom_matrix v;
    loom_matrix_view(&v, a, (size_t)r1 - 1, (size_t)c1 - 1, (size_t)(r2 - r1 + 1), (size_t)(c2 - c1 + 1));
    loom_pushview(L, 1, v);
    return 1;
}

static int m_copy(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    Matrix *b = loom_newmatrix_uninit_dtype(L, a->rows, a->cols, a->dtype);
    loom_matrix_copy(&b->m, a);
    return 1;
}

static int m_t(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    Matrix *b = loom_newmatrix_uninit_dtype(L, a->cols, a->rows, a->dtype);
    loom_matrix_transpose(&b->m, a);
    return 1;
}

/* Reshape shares storage when the matrix is contiguous, else copies. */
static int m_reshape(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    size_t r = loom_checkdim(L, 2, "matrix:reshape", "rows");
    size_t c = loom_checkdim(L, 3, "matrix:reshape", "cols");
    int overflow = c != 0 && r > SIZE_MAX / c;
    if (overflow || r * c != loom_numel(a)) {
        char s[48];
        return luaL_error(L, "matrix:reshape: cannot reshape %s (%I values) into %Ix%I",
                          loom_shape(a, s), (lua_Integer)loom_numel(a), luaL_checkinteger(L, 2),
                          luaL_checkinteger(L, 3));
    }
    loom_matrix v;
    if (loom_matrix_reshape_view(&v, a, r, c) == LOOM_OK) {
        loom_pushview(L, 1, v);
        return 1;
    }
    Matrix *b = loom_newmatrix_uninit_dtype(L, r, c, a->dtype);
    loom_matrix flat, whole;
    loom_matrix_reshape_view(&whole, &b->m, a->rows, a->cols); /* b is contiguous */
    for (size_t i = 0; i < a->rows; i++) {
        loom_matrix_view(&flat, &whole, i, 0, 1, a->cols);
        loom_matrix arow;
        loom_matrix_view(&arow, a, i, 0, 1, a->cols);
        loom_matrix_copy(&flat, &arow);
    }
    return 1;
}

/* ---- elementwise arithmetic ---- */

static const char *const binop_verbs[] = {"add", "subtract", "multiply", "divide", "raise",
                                           "take the maximum of", "take the minimum of"};
static const char *const binop_joins[] = {"and", "and", "by", "by", "to", "and", "and"};

/* Do storage ranges of a and b overlap? (A broadcast operand inside out must be copied.) */
static int overlaps(const loom_matrix *a, const loom_matrix *b)
{
    if (!a->data || !b->data || !a->rows || !b->rows)
        return 0;
    const char *a_end = (const char *)a->data
                        + ((a->rows - 1) * a->ld + a->cols) * loom_dtype_size(a->dtype);
    const char *b_end = (const char *)b->data
                        + ((b->rows - 1) * b->ld + b->cols) * loom_dtype_size(b->dtype);
    return (const char *)a->data < b_end && (const char *)b->data < a_end;
}

/* Does small spread over target's shape (a row, a column or a single value)? */
static int broadcasts(const loom_matrix *small, const loom_matrix *target)
{
    return (small->rows == 1 && small->cols == 1)
        || (small->rows == 1 && small->cols == target->cols)
        || (small->cols == 1 && small->rows == target->rows);
}

static void raise_binop(lua_State *L, const char *fn, loom_binop op, const loom_matrix *a,
                        const loom_matrix *b)
{
    char sa[48], sb[48];
    luaL_error(L, "%s: cannot %s %s %s %s", fn, binop_verbs[op], loom_shape(a, sa),
               binop_joins[op], loom_shape(b, sb));
}

/* out = a op b where either of a and b may be a number; out NULL makes a new matrix. */
static int binop(lua_State *L, loom_binop op, const char *fn, int in_place)
{
    Matrix *ma = loom_testmatrix_any(L, 1), *mb = loom_testmatrix_any(L, 2);
    if (!ma && !mb)
        return luaL_error(L, "%s: expected a matrix", fn);
    if (!ma || !mb) {
        int scalar_first = ma == NULL;
        loom_matrix *a = scalar_first ? &mb->m : &ma->m;
        int sidx = scalar_first ? 1 : 2;
        if (!lua_isnumber(L, sidx))
            return luaL_error(L, "%s: expected a matrix or a number, got %s", fn, luaL_typename(L, sidx));
        double s = lua_tonumber(L, sidx);
        if (in_place && scalar_first)
            return luaL_error(L, "%s: the target of an in-place operation must be a matrix", fn);
        loom_matrix *out = in_place ? a : &loom_newmatrix_uninit_dtype(L, a->rows, a->cols, a->dtype)->m;
        loom_matrix_binop_scalar(out, a, op, s, scalar_first);
        if (in_place)
            lua_settop(L, 1);
        return 1;
    }
    loom_matrix *a = &ma->m, *b = &mb->m;
    loom_check_same_dtype(L, a, b, fn);
    if (!in_place && !loom_same_shape(a, b) && broadcasts(a, b)) {
        /* The left operand is the small one: spread it over the result, then apply. */
        loom_matrix *out = &loom_newmatrix_dtype(L, b->rows, b->cols, b->dtype)->m;
        loom_matrix_binop(out, out, LOOM_ADD, a);
        loom_matrix_binop(out, out, op, b);
        return 1;
    }
    loom_matrix scratch = {0};
    /* Only out == b exactly is safe in place; any other overlap would be read after the
     * kernel has written it (a shifted slice, or a broadcast row inside the target). */
    int same_storage = a->data == b->data && a->ld == b->ld && loom_same_shape(a, b);
    if (in_place && !same_storage && overlaps(a, b)) {
        if (loom_matrix_init_dtype(&scratch, b->rows, b->cols, b->dtype) != LOOM_OK)
            return luaL_error(L, "not enough memory");
        loom_matrix_copy(&scratch, b);
        b = &scratch;
    }
    loom_matrix *out = a;
    if (!loom_same_shape(a, b) && !broadcasts(b, a)) {
        loom_matrix_release(&scratch);
        raise_binop(L, fn, op, &ma->m, &mb->m);
    }
    if (!in_place)
        out = &loom_newmatrix_uninit_dtype(L, a->rows, a->cols, a->dtype)->m;
    loom_matrix_binop(out, a, op, b);
    loom_matrix_release(&scratch);
    if (in_place)
        lua_settop(L, 1);
    return 1;
}

static int m_add(lua_State *L) { return binop(L, LOOM_ADD, "matrix:add", 0); }
static int m_sub(lua_State *L) { return binop(L, LOOM_SUB, "matrix:sub", 0); }
static int m_mul(lua_State *L) { return binop(L, LOOM_MUL, "matrix:mul", 0); }
static int m_div(lua_State *L) { return binop(L, LOOM_DIV, "matrix:div", 0); }
static int m_pow(lua_State *L) { return binop(L, LOOM_POW, "matrix:pow", 0); }
static int m_maximum(lua_State *L) { return binop(L, LOOM_MAX, "matrix:maximum", 0); }
static int m_minimum(lua_State *L) { return binop(L, LOOM_MIN, "matrix:minimum", 0); }
static int m_add_(lua_State *L) { return binop(L, LOOM_ADD, "matrix:add_", 1); }
static int m_sub_(lua_State *L) { return binop(L, LOOM_SUB, "matrix:sub_", 1); }
static int m_mul_(lua_State *L) { return binop(L, LOOM_MUL, "matrix:mul_", 1); }
static int m_div_(lua_State *L) { return binop(L, LOOM_DIV, "matrix:div_", 1); }
static int m_pow_(lua_State *L) { return binop(L, LOOM_POW, "matrix:pow_", 1); }
static int m_maximum_(lua_State *L) { return binop(L, LOOM_MAX, "matrix:maximum_", 1); }
static int m_minimum_(lua_State *L) { return binop(L, LOOM_MIN, "matrix:minimum_", 1); }
static int mm_add(lua_State *L) { return binop(L, LOOM_ADD, "matrix +", 0); }
static int mm_sub(lua_State *L) { return binop(L, LOOM_SUB, "matrix -", 0); }
static int mm_div(lua_State *L) { return binop(L, LOOM_DIV, "matrix /", 0); }

/* A:axpy_(alpha, B): A += alpha * B, the update step of optimisers written in Lua. */
static int m_axpy_(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    double alpha = luaL_checknumber(L, 2);
    loom_matrix *b = tomatrix(L, 3);
    if (!loom_same_shape(a, b)) {
        char sa[48], sb[48];
        return luaL_error(L, "matrix:axpy_: cannot add %s to %s", loom_shape(b, sb), loom_shape(a, sa));
    }
    loom_check_same_dtype(L, a, b, "matrix:axpy_");
    loom_matrix_axpy(a, alpha, b);
    lua_settop(L, 1);
    return 1;
}

static int m_fill_(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    loom_matrix_fill(a, luaL_checknumber(L, 2));
    lua_settop(L, 1);
    return 1;
}

static int m_zero_(lua_State *L)
{
    loom_matrix_fill(tomatrix(L, 1), 0.0);
    lua_settop(L, 1);
    return 1;
}

/* A:copy_(B): copy B's values into A (same shape), e.g. into a view. */
static int m_copy_(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1), *b = tomatrix(L, 2);
    if (!loom_same_shape(a, b)) {
        char sa[48], sb[48];
        return luaL_error(L, "matrix:copy_: cannot copy %s into %s", loom_shape(b, sb), loom_shape(a, sa));
    }
    loom_check_same_dtype(L, a, b, "matrix:copy_");
    loom_matrix_copy(a, b);
    lua_settop(L, 1);
    return 1;
}

static int mm_unm(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    Matrix *b = loom_newmatrix_uninit_dtype(L, a->rows, a->cols, a->dtype);
    loom_matrix_map(&b->m, a, LOOM_NEG);
    return 1;
}

/* ---- matrix products ---- */

static void raise_product(lua_State *L, const char *fn, const loom_matrix *a, int ta,
                          const loom_matrix *b, int tb)
{
    char sa[48], sb[48];
    loom_matrix ea = *a, eb = *b;
    if (ta) { ea.rows = a->cols; ea.cols = a->rows; }
    if (tb) { eb.rows = b->cols; eb.cols = b->rows; }
    luaL_error(L, "%s: cannot multiply %s by %s", fn, loom_shape(&ea, sa), loom_shape(&eb, sb));
}

/* A * B: the matrix product (dgemm); with a number on either side, scaling. */
static int mm_mul(lua_State *L)
{
    Matrix *ma = loom_testmatrix_any(L, 1), *mb = loom_testmatrix_any(L, 2);
    if (!ma || !mb)
        return binop(L, LOOM_MUL, "matrix *", 0);
    loom_matrix *a = &ma->m, *b = &mb->m;
    if (a->cols != b->rows)
        raise_product(L, "matrix *", a, 0, b, 0);
    loom_check_same_dtype(L, a, b, "matrix *");
    Matrix *c = loom_newmatrix_uninit_dtype(L, a->rows, b->cols, a->dtype);
    loom_check(L, loom_gemm(&c->m, 1.0, a, 0, b, 0, 0.0), "matrix *");
    return 1;
}

/* C:matmul_(A, B, {alpha=1, beta=0, ta=false, tb=false}): C = alpha op(A) op(B) + beta C
 * without allocating. C must not share storage with A or B. */
static int m_matmul_(lua_State *L)
{
    const char *fn = "matrix:matmul_";
    for (int i = 1; i <= 3; i++) /* types first, pointers after the options */
        loom_checkmatrix_any(L, i);
    int opts = loom_opt_table(L, 4, fn);
    double alpha = loom_opt_number(L, opts, "alpha", 1.0, fn);
    double beta = loom_opt_number(L, opts, "beta", 0.0, fn);
    int ta = loom_opt_boolean(L, opts, "ta", 0), tb = loom_opt_boolean(L, opts, "tb", 0);
    loom_matrix *c = &loom_recheck_any(L, 1, fn, "the output")->m;
    loom_matrix *a = &loom_recheck_any(L, 2, fn, "A")->m, *b = &loom_recheck_any(L, 3, fn, "B")->m;
    loom_check_same_dtype(L, c, a, fn);
    loom_check_same_dtype(L, c, b, fn);
    if (overlaps(c, a) || overlaps(c, b))
        return luaL_error(L, "matrix:matmul_: the output shares storage with an input");
    loom_status st = loom_gemm(c, alpha, a, ta, b, tb, beta);
    if (st == LOOM_EDIM) {
        size_t m = ta ? a->cols : a->rows, n = tb ? b->rows : b->cols;
        size_t ka = ta ? a->rows : a->cols, kb = tb ? b->cols : b->rows;
        if (ka != kb)
            raise_product(L, "matrix:matmul_", a, ta, b, tb);
        char sc[48];
        return luaL_error(L, "matrix:matmul_: the product is %Ix%I but the output is %s",
                          (lua_Integer)m, (lua_Integer)n,
                          loom_shape(c, sc));
    }
    loom_check(L, st, "matrix:matmul_");
    lua_settop(L, 1);
    return 1;
}

/* A:dot(B): the sum of the elementwise product (shapes equal). */
static int m_dot(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1), *b = tomatrix(L, 2);
    if (!loom_same_shape(a, b)) {
        char sa[48], sb[48];
        return luaL_error(L, "matrix:dot: cannot take the dot product of %s and %s",
                          loom_shape(a, sa), loom_shape(b, sb));
    }
    loom_check_same_dtype(L, a, b, "matrix:dot");
    double s = 0.0;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++)
            s += loom_get(a, i, j) * loom_get(b, i, j);
    lua_pushnumber(L, s);
    return 1;
}

/* ---- maps ---- */

static loom_unop check_unop(lua_State *L, int idx, const char *fn)
{
    const char *name = luaL_checkstring(L, idx);
    int op = loom_unop_from_name(name);
    if (op < 0) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int k = 0; k < LOOM_UNOP_COUNT; k++) {
            luaL_addstring(&b, k ? ", " : "");
            luaL_addstring(&b, loom_unop_name((loom_unop)k));
        }
        luaL_pushresult(&b);
        luaL_error(L, "%s: unknown function \"%s\" (known: %s)", fn, name, lua_tostring(L, -1));
    }
    return (loom_unop)op;
}

static int m_map(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    loom_unop op = check_unop(L, 2, "matrix:map");
    Matrix *b = loom_newmatrix_uninit_dtype(L, a->rows, a->cols, a->dtype);
    loom_matrix_map(&b->m, a, op);
    return 1;
}

static int m_map_(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    loom_matrix_map(a, a, check_unop(L, 2, "matrix:map_"));
    lua_settop(L, 1);
    return 1;
}

/* A:apply(fn): fn(value, i, j) for every element into a new matrix (the slow path). fn may
 * release A or the matrix that owns A's storage: both are looked at after every call (the
 * owner is pinned on the stack, so its flag stays readable; two loads, not a stack walk). */
static int m_apply(lua_State *L)
{
    Matrix *self = loom_checkmatrix_any(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    const Matrix *owner = NULL;
    if (!self->m.block && self->m.data) {
        lua_getiuservalue(L, 1, 1); /* 3 */
        owner = luaL_testudata(L, 3, LOOM_MATRIX_T);
    } else {
        lua_pushnil(L);
    }
    const loom_matrix *a = &self->m;
    const size_t rows = a->rows, cols = a->cols;
    Matrix *b = loom_newmatrix_dtype(L, rows, cols, a->dtype); /* 4 */
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            if (self->released || (owner && owner->released))
                return luaL_error(L, "matrix:apply: the matrix was released during the call");
            lua_pushvalue(L, 2);
            lua_pushnumber(L, loom_get(a, i, j));
            lua_pushinteger(L, (lua_Integer)i + 1);
            lua_pushinteger(L, (lua_Integer)j + 1);
            lua_call(L, 3, 1);
            if (self->released || (owner && owner->released))
                return luaL_error(L, "matrix:apply: the matrix was released during the call");
            int ok;
            double v = lua_tonumberx(L, -1, &ok);
            if (!ok)
                return luaL_error(L, "matrix:apply: the function returned a %s at (%I, %I), expected a number",
                                  luaL_typename(L, -1), (lua_Integer)i + 1, (lua_Integer)j + 1);
            loom_put(&b->m, i, j, v);
            lua_pop(L, 1);
        }
    return 1;
}

/* A:clamp(lo, hi): a copy with values limited to [lo, hi]. */
static int m_clamp(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    double lo = luaL_optnumber(L, 2, -HUGE_VAL), hi = luaL_optnumber(L, 3, HUGE_VAL);
    if (lo > hi)
        return luaL_error(L, "matrix:clamp: lower bound %f is above upper bound %f", lo, hi);
    Matrix *b = loom_newmatrix_uninit_dtype(L, a->rows, a->cols, a->dtype);
    loom_matrix_binop_scalar(&b->m, a, LOOM_MAX, lo, 0);
    loom_matrix_binop_scalar(&b->m, &b->m, LOOM_MIN, hi, 0);
    return 1;
}

/* ---- reductions ---- */

static int reduce(lua_State *L, loom_reduce op, const char *fn)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_Integer dim = luaL_optinteger(L, 2, 0);
    if (dim < 0 || dim > 2)
        return luaL_error(L, "%s: dim must be 1 (down the rows) or 2 (along the columns), got %I", fn, dim);
    if (op != LOOM_SUM) {
        size_t along = dim == 0 ? loom_numel(a) : dim == 1 ? a->rows : a->cols;
        if (along == 0) {
            char s[48];
            return luaL_error(L, "%s: empty %s matrix has no %s", fn, loom_shape(a, s),
                              op == LOOM_MEAN ? "mean" : "extreme value");
        }
    }
    if (dim == 0) {
        double v;
        loom_matrix out = loom_matrix_wrap(&v, 1, 1);
        loom_check(L, loom_matrix_reduce(&out, a, op, 0), fn);
        if (op == LOOM_ARGMAX || op == LOOM_ARGMIN) {
            /* The (row, column) of the extreme value. */
            size_t k = (size_t)v - 1;
            lua_pushinteger(L, (lua_Integer)(k / a->cols) + 1);
            lua_pushinteger(L, (lua_Integer)(k % a->cols) + 1);
            return 2;
        }
        /* A float32 matrix's sum is a float32 value (accumulated in double, rounded once). */
        lua_pushnumber(L, a->dtype == LOOM_F32 ? (double)(float)v : v);
        return 1;
    }
    /* Indices stay float64 (exact beyond float32's 2^24); values keep the dtype. */
    int arg = op == LOOM_ARGMAX || op == LOOM_ARGMIN;
    Matrix *b = loom_newmatrix_dtype(L, dim == 2 ? a->rows : 1, dim == 1 ? a->cols : 1,
                                     arg ? LOOM_F64 : a->dtype);
    loom_check(L, loom_matrix_reduce(&b->m, a, op, (int)dim), fn);
    return 1;
}

static int m_sum(lua_State *L) { return reduce(L, LOOM_SUM, "matrix:sum"); }
static int m_mean(lua_State *L) { return reduce(L, LOOM_MEAN, "matrix:mean"); }
static int m_max(lua_State *L) { return reduce(L, LOOM_MAXV, "matrix:max"); }
static int m_min(lua_State *L) { return reduce(L, LOOM_MINV, "matrix:min"); }
static int m_argmax(lua_State *L) { return reduce(L, LOOM_ARGMAX, "matrix:argmax"); }
static int m_argmin(lua_State *L) { return reduce(L, LOOM_ARGMIN, "matrix:argmin"); }

static int m_norm(lua_State *L)
{
    lua_pushnumber(L, loom_matrix_norm(tomatrix(L, 1)));
    return 1;
}

static int m_allclose(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1), *b = tomatrix(L, 2);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    if (!loom_same_shape(a, b)) {
        char sa[48], sb[48];
        return luaL_error(L, "matrix:allclose: cannot compare %s with %s", loom_shape(a, sa), loom_shape(b, sb));
    }
    loom_check_same_dtype(L, a, b, "matrix:allclose");
    lua_pushboolean(L, loom_matrix_allclose(a, b, rtol, atol));
    return 1;
}

/* ---- conversion ---- */

static int m_totable(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_createtable(L, (int)a->rows, 0);
    for (size_t i = 0; i < a->rows; i++) {
        lua_createtable(L, (int)a->cols, 0);
        for (size_t j = 0; j < a->cols; j++) {
            lua_pushnumber(L, loom_get(a, i, j));
            lua_seti(L, -2, (lua_Integer)j + 1);
        }
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* A:tolist(): the values in row-major order as one flat table. */
static int m_tolist(lua_State *L)
{
    loom_matrix *a = tomatrix(L, 1);
    lua_createtable(L, (int)loom_numel(a), 0);
    lua_Integer k = 1;
    for (size_t i = 0; i < a->rows; i++)
        for (size_t j = 0; j < a->cols; j++) {
            lua_pushnumber(L, loom_get(a, i, j));
            lua_seti(L, -2, k++);
        }
    return 1;
}

/* The list at idx as 0-based row numbers of a matrix with `rows` rows, in a userdata pushed
 * on the stack (freed by the collector if a later check raises). Reading the list may run
 * Lua (__index, __len): nothing else may hold a pointer into a matrix meanwhile. */
static size_t *read_row_list(lua_State *L, int idx, size_t rows, size_t *count, const char *fn)
{
    lua_Integer len = luaL_len(L, idx);
    if (len < 0 || (lua_Unsigned)len > LOOM_MAX_DIM)
        loom_error(L, "%s: a list of %lld indices is too long", fn, (long long)len);
    size_t n = (size_t)len;
    size_t *rows_out = lua_newuserdatauv(L, (n ? n : 1) * sizeof *rows_out, 0);
    for (size_t k = 0; k < n; k++) {
        lua_geti(L, idx, (lua_Integer)k + 1);
        int ok;
        lua_Integer i = lua_tointegerx(L, -1, &ok);
        if (!ok || lua_type(L, -1) != LUA_TNUMBER || i < 1 || (size_t)i > rows) {
            if (lua_type(L, -1) == LUA_TNUMBER)
                loom_error(L, "%s: index %zu is %s, not a row of a matrix with %zu rows", fn, k + 1,
                           lua_tostring(L, -1), rows);
            loom_error(L, "%s: index %zu is a %s, expected a row number in 1..%zu", fn, k + 1,
                       luaL_typename(L, -1), rows);
        }
        lua_pop(L, 1);
        rows_out[k] = (size_t)i - 1;
    }
    *count = n;
    return rows_out;
}

/* X:index_rows(idx [, out]): rows idx[1], idx[2], ... of X (1-based) into out, which is
 * reused when given (no allocation per mini-batch). idx is a table of integers, read whole
 * before any storage is touched. */
static int m_index_rows(lua_State *L)
{
    const char *fn = "matrix:index_rows";
    size_t rows = tomatrix(L, 1)->rows;
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 3);
    size_t n;
    const size_t *idx = read_row_list(L, 2, rows, &n, fn); /* 4 */
    loom_matrix *a = &loom_recheck_any(L, 1, fn, "the matrix")->m;
    if (a->rows != rows)
        return luaL_error(L, "%s: the matrix changed during the call", fn);
    loom_matrix *out;
    if (lua_isnil(L, 3)) {
        out = &loom_newmatrix_uninit_dtype(L, n, a->cols, a->dtype)->m;
        a = &loom_recheck_any(L, 1, fn, "the matrix")->m; /* a collection step may run finalizers */
    } else {
        out = &loom_recheck_any(L, 3, fn, "the output")->m;
        if (out->rows != n || out->cols != a->cols) {
            char so[48];
            return luaL_error(L, "%s: %I indices of %I columns do not fit a %s output", fn,
                              (lua_Integer)n, (lua_Integer)a->cols, loom_shape(out, so));
        }
        loom_check_same_dtype(L, out, a, fn);
        if (overlaps(out, a))
            return luaL_error(L, "%s: the output shares storage with the input", fn);
        lua_pushvalue(L, 3);
    }
    loom_check(L, loom_matrix_gather_rows(out, a, idx, n), fn);
    return 1;
}

/* ---- concatenation ---- */

static int concat(lua_State *L, int horizontal)
{
    const char *fn = horizontal ? "loom.hcat" : "loom.vcat";
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = (size_t)luaL_len(L, 1);
    if (n == 0)
        return luaL_error(L, "%s: expected a non-empty list of matrices", fn);
    size_t total = 0, fixed = 0;
    loom_dtype dtype = LOOM_F64;
    for (size_t k = 0; k < n; k++) {
        lua_geti(L, 1, (lua_Integer)k + 1);
        Matrix *p = loom_testmatrix_any(L, -1);
        if (!p)
            return luaL_error(L, "%s: item %I is a %s, expected a matrix", fn, (lua_Integer)k + 1,
                              luaL_typename(L, -1));
        size_t along = horizontal ? p->m.cols : p->m.rows, across = horizontal ? p->m.rows : p->m.cols;
        if (k == 0) {
            fixed = across;
            dtype = p->m.dtype;
        } else if (p->m.dtype != dtype) {
            return luaL_error(L, "%s: cannot mix %s and %s (item %I)", fn, loom_dtype_name(dtype),
                              loom_dtype_name(p->m.dtype), (lua_Integer)k + 1);
        } else if (across != fixed) {
            char s0[48], sk[48];
            lua_geti(L, 1, 1);
            loom_shape(&loom_checkmatrix_any(L, -1)->m, s0);
            return luaL_error(L, "%s: item %I is %s but item 1 is %s (%s must match)", fn, (lua_Integer)k + 1,
                              loom_shape(&p->m, sk), s0, horizontal ? "rows" : "columns");
        }
        if (along > LOOM_MAX_DIM - total)
            return loom_error(L, "%s: the result would have more than %zu %s", fn, LOOM_MAX_DIM,
                              horizontal ? "columns" : "rows");
        total += along;
        lua_pop(L, 1);
    }
    Matrix *out = loom_newmatrix_uninit_dtype(L, horizontal ? fixed : total,
                                              horizontal ? total : fixed, dtype);
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        lua_geti(L, 1, (lua_Integer)k + 1); /* may run __index: each item is checked again */
        loom_matrix *p = &loom_recheck_any(L, -1, fn, "an item")->m, dst;
        if ((horizontal ? p->rows : p->cols) != fixed || (horizontal ? p->cols : p->rows) > total - at
            || p->dtype != dtype)
            return luaL_error(L, "%s: the list changed during the call", fn);
        if (horizontal)
            loom_matrix_view(&dst, &out->m, 0, at, fixed, p->cols);
        else
            loom_matrix_view(&dst, &out->m, at, 0, p->rows, fixed);
        loom_matrix_copy(&dst, p);
        at += horizontal ? p->cols : p->rows;
        lua_pop(L, 1);
    }
    return 1;
}

static int l_hcat(lua_State *L) { return concat(L, 1); }
static int l_vcat(lua_State *L) { return concat(L, 0); }

/* ---- CSV ---- */

static void push_strings(lua_State *L, char **list, size_t n)
{
    if (!list) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, list[i]);
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
}

/* A CSV being read: the collector frees what it holds if anything raises meanwhile. */
#define CSV_T "loom.csv_file"

static int csv_release(lua_State *L)
{
    loom_csv *csv = luaL_checkudata(L, 1, CSV_T);
    loom_csv_release(csv);
    return 0;
}

/* loom.read_csv(path, {header = true, rownames = false, sep = ",", max_bytes = 2^30})
 * -> matrix, column names, row names | nil, "path:line:field: message" */
static int l_read_csv(lua_State *L)
{
    const char *fn = "loom.read_csv";
    const char *path = luaL_checkstring(L, 1);
    int opts = loom_opt_table(L, 2, fn);
    loom_csv_options o = {loom_opt_boolean(L, opts, "header", 1),
                          loom_opt_boolean(L, opts, "rownames", 0), ',', LOOM_CSV_MAX_BYTES};
    const char *sep = loom_opt_string(L, opts, "sep", ",", fn);
    if (strlen(sep) != 1)
        return luaL_error(L, "%s: sep must be one character, got \"%s\"", fn, sep);
    o.sep = sep[0];
    lua_Integer max_bytes = loom_opt_integer(L, opts, "max_bytes", (lua_Integer)LOOM_CSV_MAX_BYTES, fn);
    if (max_bytes < 1)
        return luaL_error(L, "%s: max_bytes must be >= 1, got %I", fn, max_bytes);
    o.max_bytes = (size_t)max_bytes;
    loom_dtype dtype = loom_opt_dtype(L, opts, LOOM_F64, fn);
    lua_settop(L, 2);
    loom_csv *csv = lua_newuserdatauv(L, sizeof *csv, 0); /* 3 */
    memset(csv, 0, sizeof *csv);
    luaL_setmetatable(L, CSV_T);
    if (loom_csv_read(csv, path, &o) != LOOM_OK) {
        lua_pushnil(L);
        /* "path:3:2: expected number" for a place in the file, "path: cannot open: ..." else */
        lua_pushfstring(L, isdigit((unsigned char)csv->error[0]) ? "%s:%s" : "%s: %s", path, csv->error);
        return 2;
    }
    /* Move the values into a matrix; the strings go into tables; the userdata frees the
     * rest (now, or when a table allocation raises). */
    size_t rows = csv->values.rows;
    Matrix *a = loom_newmatrix(L, 0, 0); /* 4 */
    if (dtype == LOOM_F64) {
        a->m = csv->values;
    } else {
        /* Numbers are parsed as doubles and rounded once. */
        loom_matrix converted;
        if (loom_matrix_init_uninit_dtype(&converted, csv->values.rows, csv->values.cols, dtype) != LOOM_OK)
            return luaL_error(L, "not enough memory"); /* csv is freed by its collector */
        loom_matrix_copy(&converted, &csv->values);
        loom_matrix_release(&csv->values);
        a->m = converted;
    }
    csv->values = (loom_matrix){.ld = 1};
    csv->values.rows = rows; /* loom_csv_release counts the row names by it */
    push_strings(L, csv->names, csv->name_count);
    push_strings(L, csv->rownames, rows);
    loom_csv_release(csv);
    return 3;
}

/* ---- lifetime ---- */

/* __gc: free the storage once; later uses raise. The userdata is unreachable, so nothing
 * can hold a pointer into its storage (views keep their owner alive). */
static int m_gc(lua_State *L)
{
    Matrix *a = luaL_checkudata(L, 1, LOOM_MATRIX_T);
    loom_matrix_release(&a->m);
    a->released = 1;
    return 0;
}

/* __close and A:close(): from then on every use raises. The storage is freed now, except
 * inside a finalizer (__gc metamethods run during any allocation, in the middle of a call
 * that holds pointers into this storage): then the collector frees it with the userdata.
 * lua_gc answers -1 inside a finalizer (0 on Lua 5.4.0-5.4.3, or with the collector
 * stopped by the user, where the storage waits for collection too). */
static int m_close(lua_State *L)
{
    Matrix *a = luaL_checkudata(L, 1, LOOM_MATRIX_T);
    if (!a->released && lua_gc(L, LUA_GCISRUNNING) == 1)
        loom_matrix_release(&a->m);
    a->released = 1;
    return 0;
}

static int l_threads(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        if (n < 1 || n > LOOM_MAX_THREADS)
            return luaL_error(L, "loom.threads: thread count must be in 1..%d, got %I",
                              LOOM_MAX_THREADS, n);
        loom_blas_set_threads((int)n);
    }
    lua_pushinteger(L, loom_blas_get_threads());
    return 1;
}

/* loom.alloc_stats() -> {allocations, frees, live_blocks, live_bytes} of the engine. */
static int l_alloc_stats(lua_State *L)
{
    loom_alloc_stats s = loom_alloc_get_stats();
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)s.allocations);
    lua_setfield(L, -2, "allocations");
    lua_pushinteger(L, (lua_Integer)s.frees);
    lua_setfield(L, -2, "frees");
    lua_pushinteger(L, (lua_Integer)s.live_blocks);
    lua_setfield(L, -2, "live_blocks");
    lua_pushinteger(L, (lua_Integer)s.live_bytes);
    lua_setfield(L, -2, "live_bytes");
    return 1;
}

static int l_is_matrix(lua_State *L)
{
    lua_pushboolean(L, luaL_testudata(L, 1, LOOM_MATRIX_T) != NULL);
    return 1;
}

static const luaL_Reg matrix_methods[] = {
    {"rows", m_rows}, {"cols", m_cols}, {"shape", m_shape}, {"numel", m_numel},
    {"dtype", m_dtype}, {"float", m_float}, {"double", m_double}, {"to", m_to},
    {"is_view", m_is_view}, {"get", m_get}, {"set", m_set}, {"row", m_row}, {"col", m_col},
    {"slice", m_slice}, {"copy", m_copy}, {"t", m_t}, {"reshape", m_reshape},
    {"add", m_add}, {"sub", m_sub}, {"mul", m_mul}, {"div", m_div}, {"pow", m_pow},
    {"maximum", m_maximum}, {"minimum", m_minimum},
    {"add_", m_add_}, {"sub_", m_sub_}, {"mul_", m_mul_}, {"div_", m_div_}, {"pow_", m_pow_},
    {"maximum_", m_maximum_}, {"minimum_", m_minimum_}, {"axpy_", m_axpy_},
    {"fill_", m_fill_}, {"zero_", m_zero_}, {"copy_", m_copy_}, {"matmul_", m_matmul_},
    {"dot", m_dot}, {"map", m_map}, {"map_", m_map_}, {"apply", m_apply}, {"clamp", m_clamp},
    {"sum", m_sum}, {"mean", m_mean}, {"max", m_max}, {"min", m_min}, {"argmax", m_argmax},
    {"argmin", m_argmin}, {"norm", m_norm}, {"allclose", m_allclose}, {"totable", m_totable},
    {"tolist", m_tolist}, {"index_rows", m_index_rows}, {"close", m_close},
    {NULL, NULL}};

static const luaL_Reg matrix_meta[] = {
    {"__add", mm_add}, {"__sub", mm_sub}, {"__mul", mm_mul}, {"__div", mm_div},
    {"__unm", mm_unm}, {"__close", m_close}, {NULL, NULL}};

static const luaL_Reg module_functions[] = {
    {"matrix", l_matrix}, {"zeros", l_zeros}, {"ones", l_ones}, {"fill", l_fill},
    {"eye", l_eye}, {"rand", l_rand}, {"randn", l_randn}, {"seed", l_seed},
    {"rng_state", l_rng_state}, {"random_int", l_random_int}, {"permutation", l_permutation},
    {"hcat", l_hcat}, {"vcat", l_vcat}, {"read_csv", l_read_csv}, {"threads", l_threads},
    {"alloc_stats", l_alloc_stats}, {"is_matrix", l_is_matrix}, {NULL, NULL}};

int loom_open_matrix(lua_State *L)
{
    static const loom_class matrix_class = {LOOM_MATRIX_T, "matrix", matrix_methods,
                                            matrix_meta, m_gc, 1, NULL};
    static const loom_class csv_class = {CSV_T, NULL, NULL, NULL, csv_release, 1, NULL};
    loom_newclass(L, &matrix_class);
    loom_newclass(L, &csv_class);
    lua_pop(L, 2);
    luaL_newlib(L, module_functions);
    /* The metatable, so lua/loom can add __tostring and Lua-side methods. */
    luaL_getmetatable(L, LOOM_MATRIX_T);
    lua_setfield(L, -2, "metatable");
    return 1;
}
