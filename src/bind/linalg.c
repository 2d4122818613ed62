/* bind/linalg.c: require("loom.core").linalg: least squares and the decompositions on
 * matrix userdata. Not option defaults or warnings text (lua/loom/linalg.lua). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bind.h"
#include "linalg.h"

#define INFO_T "loom.lstsq_info"

static int is_square(const loom_matrix *m)
{
    return m->rows == m->cols;
}

static void check_square(lua_State *L, const loom_matrix *a, const char *fn)
{
    char buf[48];
    if (!is_square(a))
        luaL_error(L, "%s: expected a square matrix, got %s", fn, loom_shape(a, buf));
}

/* Raise "<fn>: <what> has a NaN (or an infinite value) at (i, j)": LAPACK's answer to one is
 * garbage, an error code or (for some SVD paths) a long loop. */
static void check_finite(lua_State *L, const loom_matrix *m, const char *fn, const char *what)
{
    for (size_t i = 0; i < m->rows; i++) {
        const double *row = loom_at(m, i, 0);
        for (size_t j = 0; j < m->cols; j++)
            if (!isfinite(row[j]))
                luaL_error(L, "%s: %s has %s at (%d, %d)", fn, what,
                           row[j] != row[j] ? "a NaN" : "an infinite value", (int)(i + 1), (int)(j + 1));
    }
}

/* ---- lstsq ---- */

/* The C info lives in a userdata whose __gc frees it, so a raise while the result table is
 * built leaks nothing. */
static int info_gc(lua_State *L)
{
    loom_lstsq_info *info = luaL_checkudata(L, 1, INFO_T);
    loom_lstsq_info_release(info);
    return 0;
}

static int parse_method(const char *name, loom_lstsq_method *method)
{
    static const char *const names[] = {"qr", "svd", "normal", "gd", "sgd", "cg", NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) {
            *method = (loom_lstsq_method)i;
            return 1;
        }
    return 0;
}

static void read_options(lua_State *L, int idx, loom_lstsq_options *o, const char *method_name)
{
    loom_lstsq_method method = LOOM_LSTSQ_QR;
    if (!parse_method(method_name, &method))
        luaL_error(L, "linalg.lstsq: unknown method '%s' (qr, svd, normal, gd, sgd, cg)", method_name);
    loom_lstsq_defaults(o, method);
    const char *fn = "linalg.lstsq";
    o->ridge = loom_opt_number(L, idx, "ridge", 0.0, fn);
    o->rcond = loom_opt_number(L, idx, "rcond", 0.0, fn);
    o->tol = loom_opt_number(L, idx, "tol", o->tol, fn);
    double max_iter = loom_opt_number(L, idx, "max_iter", (double)o->max_iter, fn);
    double batch = loom_opt_number(L, idx, "batch", (double)o->batch, fn);
    o->lr = loom_opt_number(L, idx, "lr", 0.0, fn);
    o->decay = loom_opt_number(L, idx, "decay", 0.0, fn);
    o->want_cov = loom_opt_boolean(L, idx, "cov", 0);
    o->skip_residual = !loom_opt_boolean(L, idx, "residual", 1);
    o->refine = loom_opt_boolean(L, idx, "refine", o->refine);
    const char *schedule = loom_opt_string(L, idx, "schedule", "constant", fn);
    if (strcmp(schedule, "constant") == 0)
        o->schedule = LOOM_LR_CONSTANT;
    else if (strcmp(schedule, "inverse") == 0)
        o->schedule = LOOM_LR_INVERSE;
    else if (strcmp(schedule, "exponential") == 0)
        o->schedule = LOOM_LR_EXPONENTIAL;
    else
        luaL_error(L, "linalg.lstsq: unknown schedule '%s' (constant, inverse, exponential)", schedule);
    if (!(o->ridge >= 0.0) || !isfinite(o->ridge))
        luaL_error(L, "linalg.lstsq: ridge must be a finite number >= 0, got %f", o->ridge);
    if (!(o->tol >= 0.0))
        luaL_error(L, "linalg.lstsq: tol must be >= 0, got %f", o->tol);
    if (!(max_iter >= 0.0) || max_iter > 1e15)
        luaL_error(L, "linalg.lstsq: max_iter must be >= 0, got %f", max_iter);
    if (!(batch >= 1.0) || batch > 1e15)
        luaL_error(L, "linalg.lstsq: batch must be >= 1, got %f", batch);
    o->max_iter = (size_t)max_iter;
    o->batch = (size_t)batch;
    if (method == LOOM_LSTSQ_SGD)
        o->rng = loom_getrng(L);
}

/* "column 3 = 1 * column 1 + 1 * column 2" for each dependent column (at most 2, with at
 * most 4 terms each). */
static void describe_dependence(char *msg, size_t size, const loom_lstsq_info *info, size_t p)
{
    size_t used = 0, rank = info->rank;
    for (size_t j = 0; j < p - rank && j < 2 && used < size; j++) {
        used += (size_t)snprintf(msg + used, size - used, "%scolumn %zu =", j ? "; " : "",
                                 info->order[rank + j] + 1);
        int terms = 0;
        double biggest = 0.0;
        for (size_t i = 0; i < rank; i++)
            biggest = fmax(biggest, fabs(*loom_at(&info->depend, i, j)));
        /* Terms in column order, whatever order the pivoting chose; at most 4 shown. */
        int more = 0;
        for (size_t col = 0; col < p && used < size; col++)
            for (size_t i = 0; i < rank; i++) {
                double c = *loom_at(&info->depend, i, j);
                if (info->order[i] != col || fabs(c) <= 1e-6 * biggest)
                    continue;
                if (terms >= 4) {
                    more++;
                    continue;
                }
                const char *sign = terms++ ? (c < 0 ? " - " : " + ") : (c < 0 ? " -" : " ");
                used += (size_t)snprintf(msg + used, size - used, "%s%.6g * column %zu", sign,
                                         fabs(c), col + 1);
            }
        if (more && used < size)
            used += (size_t)snprintf(msg + used, size - used, " + %d more", more);
        if (!terms && used < size)
            used += (size_t)snprintf(msg + used, size - used, " 0 (a zero column)");
    }
    if (p - rank > 2 && used < size)
        snprintf(msg + used, size - used, "; and %zu more dependent columns", p - rank - 2);
}

static void set_number(lua_State *L, const char *key, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, key);
}

static void set_integer(lua_State *L, const char *key, size_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, key);
}

/* lstsq(X, Y, method, opts) -> beta, info */
static int l_lstsq(lua_State *L)
{
    Matrix *x = loom_checkmatrix(L, 1), *y = loom_checkmatrix(L, 2);
    const char *method_name = luaL_checkstring(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    char b1[48], b2[48];
    if (y->m.rows != x->m.rows)
        return luaL_error(L, "linalg.lstsq: X is %s but y is %s (rows differ)", loom_shape(&x->m, b1),
                          loom_shape(&y->m, b2));
    loom_lstsq_options o;
    read_options(L, 4, &o, method_name); /* may run Lua (metamethods): take x and y again */
    lua_settop(L, 4);
    x = loom_recheck(L, 1, "linalg.lstsq", "X");
    y = loom_recheck(L, 2, "linalg.lstsq", "y");
    if (y->m.rows != x->m.rows)
        return luaL_error(L, "linalg.lstsq: X or y changed during the call");
    /* The normal method finds non-finite X in X'X's diagonal, without a pass over X. */
    int normal = o.method == LOOM_LSTSQ_NORMAL;
    if (!normal)
        check_finite(L, &x->m, "linalg.lstsq", "X");
    check_finite(L, &y->m, "linalg.lstsq", "y");
    size_t p = x->m.cols, k = y->m.cols;
    Matrix *beta = loom_newmatrix(L, p, k);                             /* 5 */
    loom_lstsq_info *info = lua_newuserdatauv(L, sizeof *info, 0);      /* 6 */
    memset(info, 0, sizeof *info);
    luaL_setmetatable(L, INFO_T);
    loom_status st = loom_lstsq(&beta->m, info, &x->m, &y->m, &o);
    if (st == LOOM_EFORMAT && normal) {
        check_finite(L, &x->m, "linalg.lstsq", "X"); /* raises with the position */
        return luaL_error(L, "linalg.lstsq: X'X overflows (a column's sum of squares is beyond the "
                             "double range); scale the columns or use method = \"qr\"");
    }
    if (st == LOOM_ESINGULAR && o.method == LOOM_LSTSQ_NORMAL) {
        char deps[400];
        describe_dependence(deps, sizeof deps, info, p);
        char msg[560];
        snprintf(msg, sizeof msg,
                 "linalg.lstsq: X'X is singular (rank %zu of %zu columns): %s; use method = \"qr\" "
                 "or \"svd\"", info->rank, p, deps);
        loom_lstsq_info_release(info);
        return luaL_error(L, "%s", msg);
    }
    if (st != LOOM_OK) {
        loom_lstsq_info_release(info);
        loom_check(L, st, "linalg.lstsq");
    }
    lua_createtable(L, 0, 16);
    if (o.method < LOOM_LSTSQ_GD) /* the iterative methods do not know the rank */
        set_integer(L, "rank", info->rank);
    if (!isnan(info->cond))
        set_number(L, "cond", info->cond);
    if (o.method == LOOM_LSTSQ_NORMAL)
        set_number(L, "cond_normal", info->cond_normal);
    if (!o.skip_residual)
        set_number(L, "residual_norm", info->residual_norm);
    if (o.method >= LOOM_LSTSQ_GD) {
        set_integer(L, "iterations", info->iterations);
        set_number(L, "grad_norm", info->grad_norm);
        lua_pushboolean(L, info->converged);
        lua_setfield(L, -2, "converged");
        lua_pushboolean(L, info->diverged);
        lua_setfield(L, -2, "diverged");
        if (o.method == LOOM_LSTSQ_SGD)
            set_integer(L, "steps", info->steps);
    } else {
        set_integer(L, "iterations", 0);
    }
    if (info->order) {
        lua_createtable(L, (int)p, 0);
        for (size_t i = 0; i < p; i++) {
            lua_pushinteger(L, (lua_Integer)info->order[i] + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "pivots");
    }
    if (info->singular_values) {
        lua_createtable(L, (int)info->sv_count, 0);
        for (size_t i = 0; i < info->sv_count; i++) {
            lua_pushnumber(L, info->singular_values[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "singular_values");
    }
    if (info->cov.data) {
        Matrix *cov = loom_newmatrix(L, p, p);
        loom_matrix_copy(&cov->m, &info->cov);
        lua_setfield(L, -2, "xtx_inv");
    }
    loom_lstsq_info_release(info);
    lua_pushvalue(L, 5);
    lua_insert(L, -2);
    return 2;
}

/* residual_norm(X, beta, y) -> ||y - X beta||_F */
static int l_residual_norm(lua_State *L)
{
    Matrix *x = loom_checkmatrix(L, 1), *beta = loom_checkmatrix(L, 2), *y = loom_checkmatrix(L, 3);
    double r = 0.0;
    loom_check(L, loom_lstsq_residual_norm(&r, &x->m, &beta->m, &y->m), "linalg.residual_norm");
    lua_pushnumber(L, r);
    return 1;
}

static int l_lstsq_naive(lua_State *L)
{
    Matrix *x = loom_checkmatrix(L, 1), *y = loom_checkmatrix(L, 2);
    Matrix *beta = loom_newmatrix(L, x->m.cols, y->m.cols);
    loom_check(L, loom_lstsq_naive(&beta->m, &x->m, &y->m), "linalg.lstsq_naive");
    return 1;
}

/* ---- decompositions ---- */

static int singular_error(lua_State *L, loom_status st, const char *fn, size_t pivot)
{
    if (st == LOOM_ESINGULAR)
        return luaL_error(L, "%s: matrix is singular (U(%d,%d) is exactly zero)", fn, (int)pivot,
                          (int)pivot);
    loom_check(L, st, fn);
    return 0;
}

static int l_solve(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1), *b = loom_checkmatrix(L, 2);
    check_square(L, &a->m, "linalg.solve");
    check_finite(L, &a->m, "linalg.solve", "A");
    check_finite(L, &b->m, "linalg.solve", "B");
    char b1[48], b2[48];
    if (b->m.rows != a->m.rows)
        return luaL_error(L, "linalg.solve: cannot solve a %s system for a right-hand side of %s",
                          loom_shape(&a->m, b1), loom_shape(&b->m, b2));
    Matrix *x = loom_newmatrix(L, a->m.cols, b->m.cols);
    size_t pivot = 0;
    loom_status st = loom_linalg_solve(&x->m, &a->m, &b->m, &pivot);
    singular_error(L, st, "linalg.solve", pivot);
    return 1;
}

static int l_inv(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1);
    check_square(L, &a->m, "linalg.inv");
    check_finite(L, &a->m, "linalg.inv", "A");
    Matrix *x = loom_newmatrix(L, a->m.rows, a->m.cols);
    size_t pivot = 0;
    loom_status st = loom_linalg_inv(&x->m, &a->m, &pivot);
    singular_error(L, st, "linalg.inv", pivot);
    return 1;
}

/* det(A) -> sign, log|det| */
static int l_slogdet(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1);
    check_square(L, &a->m, "linalg.det");
    check_finite(L, &a->m, "linalg.det", "A");
    double logabs;
    int sign;
    loom_check(L, loom_linalg_det(&logabs, &sign, &a->m), "linalg.det");
    lua_pushinteger(L, sign);
    lua_pushnumber(L, logabs);
    return 2;
}

/* svd(A [, vectors = true]) -> U, S, Vt | S */
static int l_svd(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1);
    int vectors = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    check_finite(L, &a->m, "linalg.svd", "A");
    size_t m = a->m.rows, n = a->m.cols, k = m < n ? m : n;
    Matrix *u = vectors ? loom_newmatrix(L, m, k) : NULL;
    Matrix *s = loom_newmatrix(L, k, 1);
    Matrix *vt = vectors ? loom_newmatrix(L, k, n) : NULL;
    loom_status st = loom_linalg_svd(u ? &u->m : NULL, &s->m, vt ? &vt->m : NULL, &a->m);
    if (st == LOOM_ENOCONV)
        return luaL_error(L, "linalg.svd: the SVD did not converge");
    loom_check(L, st, "linalg.svd");
    return vectors ? 3 : 1;
}

static int l_qr(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1);
    check_finite(L, &a->m, "linalg.qr", "A");
    size_t m = a->m.rows, n = a->m.cols, k = m < n ? m : n;
    Matrix *q = loom_newmatrix(L, m, k), *r = loom_newmatrix(L, k, n);
    loom_check(L, loom_linalg_qr(&q->m, &r->m, &a->m), "linalg.qr");
    return 2;
}

static int l_cholesky(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1);
    check_square(L, &a->m, "linalg.cholesky");
    check_finite(L, &a->m, "linalg.cholesky", "A");
    Matrix *l = loom_newmatrix(L, a->m.rows, a->m.rows);
    size_t minor = 0;
    loom_status st = loom_linalg_cholesky(&l->m, &a->m, &minor);
    if (st == LOOM_ENOTPD)
        return luaL_error(L, "linalg.cholesky: matrix is not positive definite (leading minor %d "
                          "is not positive)", (int)minor);
    loom_check(L, st, "linalg.cholesky");
    return 1;
}

/* eigh(A [, vectors = true]) -> w, V | w */
static int l_eigh(lua_State *L)
{
    Matrix *a = loom_checkmatrix(L, 1);
    check_square(L, &a->m, "linalg.eigh");
    check_finite(L, &a->m, "linalg.eigh", "A");
    int vectors = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    Matrix *w = loom_newmatrix(L, a->m.rows, 1);
    Matrix *v = vectors ? loom_newmatrix(L, a->m.rows, a->m.rows) : NULL;
    loom_status st = loom_linalg_eigh(&w->m, v ? &v->m : NULL, &a->m);
    if (st == LOOM_ENOCONV)
        return luaL_error(L, "linalg.eigh: the eigensolver did not converge");
    loom_check(L, st, "linalg.eigh");
    return vectors ? 2 : 1;
}

/* ---- distributions ---- */

static int l_betainc(lua_State *L)
{
    lua_pushnumber(L, loom_betainc(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                                   luaL_checknumber(L, 3)));
    return 1;
}

static int l_t_cdf(lua_State *L)
{
    lua_pushnumber(L, loom_t_cdf(luaL_checknumber(L, 1), luaL_checknumber(L, 2)));
    return 1;
}

static int l_f_sf(lua_State *L)
{
    lua_pushnumber(L, loom_f_sf(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
                                luaL_checknumber(L, 3)));
    return 1;
}

/* wall_time() -> seconds (C11 timespec_get): for timing solvers, which use several threads
 * so os.clock()'s CPU time overstates them. */
static int l_wall_time(lua_State *L)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return luaL_error(L, "linalg.wall_time: no clock");
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

static const luaL_Reg functions[] = {
    {"wall_time", l_wall_time},
    {"lstsq", l_lstsq}, {"lstsq_naive", l_lstsq_naive}, {"residual_norm", l_residual_norm}, {"solve", l_solve}, {"inv", l_inv},
    {"slogdet", l_slogdet}, {"svd", l_svd}, {"qr", l_qr}, {"cholesky", l_cholesky},
    {"eigh", l_eigh}, {"betainc", l_betainc}, {"t_cdf", l_t_cdf}, {"f_sf", l_f_sf},
    {NULL, NULL}};

int loom_open_linalg(lua_State *L)
{
    static const loom_class info_class = {INFO_T, NULL, NULL, NULL, info_gc, 1, NULL};
    loom_newclass(L, &info_class);
    lua_pop(L, 1);
    lua_newtable(L);
    loom_setfuncs(L, functions);
    return 1;
}
