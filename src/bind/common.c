/* common.c: helpers every binding file uses: matrix checkers and constructors, error
 * raising, and the module's random generator. Not any one Lua type's methods. */
#include "bind.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char RNG_KEY[] = "loom.rng";

Matrix *loom_testmatrix_any(lua_State *L, int idx)
{
    Matrix *a = luaL_testudata(L, idx, LOOM_MATRIX_T);
    if (!a)
        return NULL;
    if (a->released)
        luaL_error(L, "attempt to use a released matrix");
    if (!a->m.block && a->m.data) {
        /* A view is dead when the matrix that owns its storage was closed. */
        lua_getiuservalue(L, idx, 1);
        Matrix *owner = luaL_testudata(L, -1, LOOM_MATRIX_T);
        int dead = owner && owner->released;
        lua_pop(L, 1);
        if (dead)
            luaL_error(L, "attempt to use a released matrix");
    }
    return a;
}

Matrix *loom_checkmatrix_any(lua_State *L, int idx)
{
    Matrix *a = loom_testmatrix_any(L, idx);
    if (!a)
        luaL_typeerror(L, idx, "matrix");
    return a;
}

/* Functions that compute in double only see float64 matrices: a float32 one is an error
 * that says how to convert, never a misread buffer. */
static Matrix *need_float64(lua_State *L, int idx, Matrix *a)
{
    if (a && a->m.dtype != LOOM_F64)
        luaL_argerror(L, idx, "float64 matrix expected, got float32; this function computes "
                              "in double, convert with m:double()");
    return a;
}

Matrix *loom_testmatrix(lua_State *L, int idx)
{
    return need_float64(L, idx, loom_testmatrix_any(L, idx));
}

Matrix *loom_checkmatrix(lua_State *L, int idx)
{
    return need_float64(L, idx, loom_checkmatrix_any(L, idx));
}

/* The userdata is in a safe empty state, metatable set, before any storage exists. */
static Matrix *push_empty(lua_State *L)
{
    Matrix *a = lua_newuserdatauv(L, sizeof *a, 1);
    a->m = (loom_matrix){.ld = 1};
    a->released = 0;
    luaL_setmetatable(L, LOOM_MATRIX_T);
    return a;
}

/* The collector sees only the small userdata, not the storage behind it, so a loop making
 * big temporaries (W - lr * G) would pile up gigabytes before a cycle ran. Each new block
 * of 64 KiB or more therefore adds to the collector's debt, as if it were Lua heap, a part
 * of its size: a cycle once the engine has allocated the larger of the Lua heap and an
 * eighth of its live storage, but at least once per four heaps' worth (the part is
 * 8 * heap / storage, kept between a quarter and the whole block). A cycle's work grows
 * with the heap (its objects), not with the storage:
 *   - the whole block as debt, as before, traversed a heap of 20,000 live matrices (a
 *     speech corpus, 3 MB of heap beside 700 MB of storage) for every megabyte allocated,
 *     and the collector took over half of a training step (10.2 s of CPU for 158 steps,
 *     3.8 s with a quarter);
 *   - a quarter everywhere let agreement.lua (a big heap of sentences beside its storage)
 *     peak at 3.7 GB instead of 2.2: there the eighth of the storage keeps the old pace;
 *   - much less than a quarter lets freed blocks go back to the system before they are
 *     reused, and fresh pages fault: on the 2-core VM of docs/rnn.md, 100 dropped 8 MB sums
 *     beside 2.6 MB of heap took 5.4 ms each with a cycle every 13 sums (a 32nd), 1.9 ms
 *     with one every 2 (a quarter) and 1.6 ms with one each (the whole). */
static void account_storage(lua_State *L, size_t rows, size_t cols, loom_dtype dtype)
{
    double kb = (double)rows * (double)cols * (double)loom_dtype_size(dtype) / 1024;
    if (kb < 64)
        return;
    double heap_kb = lua_gc(L, LUA_GCCOUNT);
    double live_kb = (double)loom_alloc_get_stats().live_bytes / 1024;
    double share = 8 * heap_kb / (live_kb + kb);
    double debt = kb * (share < 0.25 ? 0.25 : share > 1 ? 1 : share);
    lua_gc(L, LUA_GCSTEP, debt < INT_MAX ? (int)debt : INT_MAX);
}

static Matrix *new_matrix(lua_State *L, size_t rows, size_t cols, int zero, loom_dtype dtype)
{
    Matrix *a = push_empty(L);
    account_storage(L, rows, cols, dtype); /* first: the garbage it frees can serve this block */
    loom_status st = zero ? loom_matrix_init_dtype(&a->m, rows, cols, dtype)
                          : loom_matrix_init_uninit_dtype(&a->m, rows, cols, dtype);
    if (st == LOOM_ERANGE)
        loom_error(L, "a %zux%zu matrix is too large (at most %zu rows and %zu columns)", rows,
                   cols, LOOM_MAX_DIM, LOOM_MAX_DIM);
    if (st != LOOM_OK)
        loom_error(L, "not enough memory for a %zux%zu matrix", rows, cols);
    return a;
}

Matrix *loom_newmatrix(lua_State *L, size_t rows, size_t cols)
{
    return new_matrix(L, rows, cols, 1, LOOM_F64);
}

Matrix *loom_newmatrix_uninit(lua_State *L, size_t rows, size_t cols)
{
    return new_matrix(L, rows, cols, 0, LOOM_F64);
}

Matrix *loom_newmatrix_dtype(lua_State *L, size_t rows, size_t cols, loom_dtype dtype)
{
    return new_matrix(L, rows, cols, 1, dtype);
}

Matrix *loom_newmatrix_uninit_dtype(lua_State *L, size_t rows, size_t cols, loom_dtype dtype)
{
    return new_matrix(L, rows, cols, 0, dtype);
}

Matrix *loom_pushview(lua_State *L, int owner_idx, loom_matrix view)
{
    owner_idx = lua_absindex(L, owner_idx);
    Matrix *parent = luaL_testudata(L, owner_idx, LOOM_MATRIX_T);
    Matrix *a = push_empty(L);
    a->m = view;
    a->m.block = NULL;
    /* A view of a view points at the storage's owner, so one look finds it. */
    if (parent && !parent->m.block)
        lua_getiuservalue(L, owner_idx, 1);
    else
        lua_pushvalue(L, owner_idx);
    lua_setiuservalue(L, -2, 1);
    return a;
}

const char *loom_shape(const loom_matrix *m, char *buf)
{
    snprintf(buf, 48, "%zux%zu", m->rows, m->cols);
    return buf;
}

void loom_check(lua_State *L, loom_status st, const char *fn)
{
    if (st != LOOM_OK)
        luaL_error(L, "%s: %s", fn, loom_strerror(st));
}

int loom_error(lua_State *L, const char *fmt, ...)
{
    char buf[1000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return luaL_error(L, "%s", buf);
}

size_t loom_checksize(lua_State *L, int idx, const char *fn, const char *what)
{
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 0)
        luaL_error(L, "%s: %s must be >= 0, got %I", fn, what, n);
    return (size_t)n;
}

size_t loom_checkdim(lua_State *L, int idx, const char *fn, const char *what)
{
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 0 || (lua_Unsigned)n > LOOM_MAX_DIM)
        luaL_error(L, "%s: %s must be in 0..%I, got %I", fn, what, (lua_Integer)LOOM_MAX_DIM, n);
    return (size_t)n;
}

Matrix *loom_recheck_any(lua_State *L, int idx, const char *fn, const char *what)
{
    Matrix *a = luaL_testudata(L, idx, LOOM_MATRIX_T);
    int dead = !a || a->released;
    if (!dead && !a->m.block && a->m.data) {
        lua_getiuservalue(L, idx, 1);
        Matrix *owner = luaL_testudata(L, -1, LOOM_MATRIX_T);
        dead = owner && owner->released;
        lua_pop(L, 1);
    }
    if (dead)
        luaL_error(L, "%s: %s was released during the call", fn, what);
    return a;
}

Matrix *loom_recheck(lua_State *L, int idx, const char *fn, const char *what)
{
    return need_float64(L, idx, loom_recheck_any(L, idx, fn, what));
}

loom_dtype loom_opt_dtype(lua_State *L, int opts, loom_dtype dflt, const char *fn)
{
    const char *name = loom_opt_string(L, opts, "dtype", NULL, fn);
    if (!name)
        return dflt;
    int dtype = loom_dtype_from_name(name);
    if (dtype < 0)
        luaL_error(L, "%s: dtype must be \"float64\" or \"float32\", got \"%s\"", fn, name);
    return (loom_dtype)dtype;
}

void loom_check_same_dtype(lua_State *L, const loom_matrix *a, const loom_matrix *b,
                           const char *fn)
{
    if (a->dtype != b->dtype)
        luaL_error(L, "%s: cannot mix %s and %s", fn, loom_dtype_name(a->dtype),
                   loom_dtype_name(b->dtype));
}

/* ---- options ---- */

int loom_opt_table(lua_State *L, int idx, const char *fn)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: options must be a table, got %s", fn, luaL_typename(L, idx));
    return lua_absindex(L, idx);
}

/* Push opts[key] and return its type; with no table push nil. */
static int get_option(lua_State *L, int opts, const char *key)
{
    if (opts == 0) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, opts, key);
}

static void wrong_option(lua_State *L, const char *fn, const char *key, const char *expected)
{
    luaL_error(L, "%s: %s must be %s, got %s", fn, key, expected, luaL_typename(L, -1));
}

lua_Integer loom_opt_integer(lua_State *L, int opts, const char *key, lua_Integer dflt,
                             const char *fn)
{
    lua_Integer v = dflt;
    if (get_option(L, opts, key) != LUA_TNIL) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok || lua_type(L, -1) != LUA_TNUMBER)
            wrong_option(L, fn, key, "an integer");
    }
    lua_pop(L, 1);
    return v;
}

double loom_opt_number(lua_State *L, int opts, const char *key, double dflt, const char *fn)
{
    double v = dflt;
    if (get_option(L, opts, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            wrong_option(L, fn, key, "a number");
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int loom_opt_boolean(lua_State *L, int opts, const char *key, int dflt)
{
    int v = get_option(L, opts, key) == LUA_TNIL ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *loom_opt_string(lua_State *L, int opts, const char *key, const char *dflt,
                            const char *fn)
{
    const char *v = dflt;
    if (get_option(L, opts, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            wrong_option(L, fn, key, "a string");
        v = lua_tostring(L, -1);
    }
    lua_pop(L, 1); /* the options table keeps the string alive */
    return v;
}

int loom_opt_matrix(lua_State *L, int opts, const char *key, const char *fn)
{
    if (get_option(L, opts, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (!luaL_testudata(L, -1, LOOM_MATRIX_T))
        wrong_option(L, fn, key, "a matrix");
    return lua_gettop(L);
}

/* ---- classes ---- */

/* __index of a class with fields: the methods table (upvalue 1), then the fields function
 * (upvalue 2). */
static int class_index(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    lua_CFunction fields = lua_tocfunction(L, lua_upvalueindex(2));
    return fields(L);
}

void loom_newclass(lua_State *L, const loom_class *c)
{
    if (!luaL_newmetatable(L, c->tname))
        return;
    if (c->name) {
        lua_pushstring(L, c->name);
        lua_setfield(L, -2, "__name");
    }
    if (c->meta)
        luaL_setfuncs(L, c->meta, 0);
    if (c->release) {
        lua_pushcfunction(L, c->release);
        lua_setfield(L, -2, "__gc");
        if (!c->no_close) {
            lua_pushcfunction(L, c->release);
            lua_setfield(L, -2, "__close");
        }
    }
    lua_newtable(L);
    if (c->methods)
        luaL_setfuncs(L, c->methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods"); /* for the Lua half to add methods written in Lua */
    if (c->fields) {
        lua_pushcfunction(L, c->fields);
        lua_pushcclosure(L, class_index, 2);
    }
    lua_setfield(L, -2, "__index");
}

loom_rng *loom_getrng(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, RNG_KEY);
    loom_rng *rng = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!rng) {
        rng = lua_newuserdatauv(L, sizeof *rng, 0);
        loom_rng_seed(rng, 42);
        lua_setfield(L, LUA_REGISTRYINDEX, RNG_KEY);
    }
    return rng;
}

void loom_setfuncs(lua_State *L, const luaL_Reg *l)
{
    luaL_setfuncs(L, l, 0);
}

void loom_push_parameter(lua_State *L, int n, const char *name, loom_matrix value, loom_matrix grad)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    loom_pushview(L, 1, value);
    lua_setfield(L, -2, "value");
    loom_pushview(L, 1, grad);
    lua_setfield(L, -2, "grad");
    lua_seti(L, -2, n);
}

Matrix *loom_convert_store(lua_State *L, int idx, int uv_params, int uv_retired, loom_dtype dtype)
{
    int top = lua_gettop(L);
    idx = lua_absindex(L, idx);
    lua_getiuservalue(L, idx, uv_params); /* top + 1: the old store */
    const loom_matrix *old = &loom_checkmatrix_any(L, top + 1)->m;
    Matrix *store = loom_newmatrix_uninit_dtype(L, old->rows, old->cols, dtype); /* top + 2 */
    old = &loom_checkmatrix_any(L, top + 1)->m; /* the allocation may have run the collector */
    loom_matrix_copy(&store->m, old);
    if (lua_getiuservalue(L, idx, uv_retired) != LUA_TTABLE) { /* top + 3 */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, idx, uv_retired);
    }
    lua_pushvalue(L, top + 1);
    lua_rawseti(L, top + 3, (lua_Integer)luaL_len(L, top + 3) + 1);
    lua_pushvalue(L, top + 2);
    lua_setiuservalue(L, idx, uv_params);
    lua_settop(L, top);
    return store; /* alive: it is the userdata's user value now */
}
