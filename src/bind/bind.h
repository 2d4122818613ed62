/* bind.h: what the binding files share: the matrix userdata, its checkers, error helpers
 * and the module's random generator. Not exported from the module (hidden visibility). */
#ifndef LOOM_BIND_H
#define LOOM_BIND_H

#include <lauxlib.h>
#include <lua.h>

#include "loom.h"

#define LOOM_MATRIX_T "loom.matrix"

/* A matrix userdata. It owns m.block, or it is a view whose first user value is the
 * userdata that owns the storage (a matrix, or a layer for parameter views). */
typedef struct Matrix {
    loom_matrix m;
    int released; /* set by close/gc: any later use raises */
} Matrix;

/* The matrix at idx; raises on a wrong type and on a released matrix (or view of one). */
Matrix *loom_checkmatrix(lua_State *L, int idx);
/* The matrix at idx or NULL when idx holds something else (released ones still raise). */
Matrix *loom_testmatrix(lua_State *L, int idx);
/* Push a new rows x cols matrix of zeros; raises "not enough memory" on failure. */
Matrix *loom_newmatrix(lua_State *L, size_t rows, size_t cols);
/* The same without zeroing, for results the caller overwrites entirely before Lua sees
 * them (elementwise results, copies, products with beta = 0). */
Matrix *loom_newmatrix_uninit(lua_State *L, size_t rows, size_t cols);
/* Push a view sharing storage with the userdata at owner_idx (kept alive by the view). */
Matrix *loom_pushview(lua_State *L, int owner_idx, loom_matrix view);
/* "3x4" into buf (at least 48 bytes); returns buf. */
const char *loom_shape(const loom_matrix *m, char *buf);
/* Raise "<fn>: <loom_strerror(st)>" unless st is LOOM_OK. */
void loom_check(lua_State *L, loom_status st, const char *fn);
/* A non-negative integer argument (a size or a count). */
size_t loom_checksize(lua_State *L, int idx, const char *fn, const char *what);
/* The module's generator (created, seeded with 42, on first use). */
loom_rng *loom_getrng(lua_State *L);
/* Register the functions of l into the table on top, like luaL_setfuncs with no upvalues. */
void loom_setfuncs(lua_State *L, const luaL_Reg *l);

/* Each src/bind/<name>.c defines loom_open_<name>, which pushes a table of functions that
 * ends up as require("loom.core").<name>. */
#define LOOM_BIND(name) int loom_open_##name(lua_State *L);
#include "bind_list.h"
#undef LOOM_BIND

#endif
