/* common.c: helpers every binding file uses: matrix checkers and constructors, error
 * raising, and the module's random generator. Not any one Lua type's methods. */
#include "bind.h"

#include <limits.h>
#include <stdio.h>

static const char RNG_KEY[] = "loom.rng";

Matrix *loom_testmatrix(lua_State *L, int idx)
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

Matrix *loom_checkmatrix(lua_State *L, int idx)
{
    Matrix *a = loom_testmatrix(L, idx);
    if (!a)
        luaL_typeerror(L, idx, "matrix");
    return a;
}

/* The userdata is in a safe empty state, metatable set, before any storage exists. */
static Matrix *push_empty(lua_State *L)
{
    Matrix *a = lua_newuserdatauv(L, sizeof *a, 1);
    a->m = (loom_matrix){NULL, 0, 0, 1, NULL};
    a->released = 0;
    luaL_setmetatable(L, LOOM_MATRIX_T);
    return a;
}

/* The collector sees only the small userdata, not the storage behind it, so a loop making
 * big temporaries (W - lr * G) would pile up gigabytes before a cycle ran. A step sized
 * like the storage keeps collection in pace with what the engine allocates. */
static void account_storage(lua_State *L, size_t rows, size_t cols)
{
    size_t kb = rows * cols / (1024 / sizeof(double));
    if (kb >= 64)
        lua_gc(L, LUA_GCSTEP, kb < INT_MAX ? (int)kb : INT_MAX);
}

static Matrix *new_matrix(lua_State *L, size_t rows, size_t cols, int zero)
{
    Matrix *a = push_empty(L);
    account_storage(L, rows, cols); /* first: the garbage it frees can serve this block */
    loom_status st = zero ? loom_matrix_init(&a->m, rows, cols)
                          : loom_matrix_init_uninit(&a->m, rows, cols);
    if (st != LOOM_OK)
        luaL_error(L, "not enough memory for a %Ix%I matrix", (lua_Integer)rows, (lua_Integer)cols);
    return a;
}

Matrix *loom_newmatrix(lua_State *L, size_t rows, size_t cols)
{
    return new_matrix(L, rows, cols, 1);
}

Matrix *loom_newmatrix_uninit(lua_State *L, size_t rows, size_t cols)
{
    return new_matrix(L, rows, cols, 0);
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

size_t loom_checksize(lua_State *L, int idx, const char *fn, const char *what)
{
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n < 0)
        luaL_error(L, "%s: %s must be >= 0, got %I", fn, what, n);
    return (size_t)n;
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
