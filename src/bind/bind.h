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

/* The float64 matrix at idx; raises on a wrong type, on a released matrix (or view of
 * one) and on a float32 matrix (saying to convert): what code that reads m.data uses. */
Matrix *loom_checkmatrix(lua_State *L, int idx);
/* The float64 matrix at idx or NULL when idx holds something else (released ones and
 * float32 ones still raise). */
Matrix *loom_testmatrix(lua_State *L, int idx);
/* The same two for functions that handle every dtype themselves. */
Matrix *loom_checkmatrix_any(lua_State *L, int idx);
Matrix *loom_testmatrix_any(lua_State *L, int idx);
/* Push a new rows x cols float64 matrix of zeros; raises "not enough memory" on failure. */
Matrix *loom_newmatrix(lua_State *L, size_t rows, size_t cols);
/* The same without zeroing, for results the caller overwrites entirely before Lua sees
 * them (elementwise results, copies, products with beta = 0). */
Matrix *loom_newmatrix_uninit(lua_State *L, size_t rows, size_t cols);
/* The same two for any dtype. */
Matrix *loom_newmatrix_dtype(lua_State *L, size_t rows, size_t cols, loom_dtype dtype);
Matrix *loom_newmatrix_uninit_dtype(lua_State *L, size_t rows, size_t cols, loom_dtype dtype);
/* Raise "<fn>: cannot mix float64 and float32" unless a and b share a dtype (no silent
 * promotion anywhere). */
void loom_check_same_dtype(lua_State *L, const loom_matrix *a, const loom_matrix *b,
                           const char *fn);
/* Append {name = name, value = view, grad = view} as entry n of the table on top: one entry
 * of a layer's parameters(), the views owned by the layer at stack index 1. */
void loom_push_parameter(lua_State *L, int n, const char *name, loom_matrix value, loom_matrix grad);
/* m:to(dtype) for a layer whose parameters (values and gradients) live in one matrix, user
 * value uv_params of the userdata at idx: that store is replaced by a copy converted to
 * dtype, and the old one joins the list in user value uv_retired, so parameter views taken
 * before still point into live storage. Returns the new store; the stack is as it was. */
Matrix *loom_convert_store(lua_State *L, int idx, int uv_params, int uv_retired, loom_dtype dtype);
/* Push a view sharing storage with the userdata at owner_idx (kept alive by the view). */
Matrix *loom_pushview(lua_State *L, int owner_idx, loom_matrix view);
/* "3x4" into buf (at least 48 bytes); returns buf. */
const char *loom_shape(const loom_matrix *m, char *buf);
/* Raise "<fn>: <loom_strerror(st)>" unless st is LOOM_OK. */
void loom_check(lua_State *L, loom_status st, const char *fn);
/* Raise a Lua error from a C printf format (%zu, %g, %.3f: lua_pushfstring knows none of
 * them), checked by the compiler; the message is cut at 1000 bytes. Never returns. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int loom_error(lua_State *L, const char *fmt, ...);
/* A non-negative integer argument (a size or a count). */
size_t loom_checksize(lua_State *L, int idx, const char *fn, const char *what);
/* A matrix dimension argument: an integer in 0..LOOM_MAX_DIM. */
size_t loom_checkdim(lua_State *L, int idx, const char *fn, const char *what);
/* The matrix at idx again after a call back into Lua (a user function, a metamethod of an
 * option table or list), which may have released it or the owner of its storage: raises
 * "<fn>: <what> was released during the call" then. Pointers into a matrix taken before
 * such a call must be taken anew from what this returns. */
Matrix *loom_recheck(lua_State *L, int idx, const char *fn, const char *what);
/* loom_recheck for functions that handle every dtype (float32 does not raise). */
Matrix *loom_recheck_any(lua_State *L, int idx, const char *fn, const char *what);

/* ---- options: each reads field `key` of the table at opts once (0: no table, the
 * default is used) and raises "<fn>: <key> must be ..., got <type>" on a wrong type.
 * Read every option before taking pointers into matrices: a field read may run Lua. ---- */
lua_Integer loom_opt_integer(lua_State *L, int opts, const char *key, lua_Integer dflt,
                             const char *fn);
double loom_opt_number(lua_State *L, int opts, const char *key, double dflt, const char *fn);
/* nil gives dflt; any other value counts as Lua truth. */
int loom_opt_boolean(lua_State *L, int opts, const char *key, int dflt);
/* The string stays valid while the options table holds it. */
const char *loom_opt_string(lua_State *L, int opts, const char *key, const char *dflt,
                            const char *fn);
/* Field "dtype" ("float64" or "float32"; nil gives dflt); raises "<fn>: dtype must be
 * \"float64\" or \"float32\", got \"x\"" otherwise. */
loom_dtype loom_opt_dtype(lua_State *L, int opts, loom_dtype dflt, const char *fn);
/* Push field `key` when it is a matrix and return its stack index; when it is nil (or
 * opts is 0) push nothing and return 0. Resolve the matrix with loom_recheck once every
 * option is read. */
int loom_opt_matrix(lua_State *L, int opts, const char *key, const char *fn);
/* The options argument at idx: its index when it is a table, 0 when none or nil; raises
 * "<fn>: options must be a table, got <type>" otherwise. */
int loom_opt_table(lua_State *L, int idx, const char *fn);

/* ---- classes: one way to define a userdata type (Lua's createmeta) ---- */
typedef struct loom_class {
    const char *tname;        /* registry key of the metatable */
    const char *name;         /* __name, shown in messages ("bad argument ... (matrix
                                 expected)"); NULL: tname */
    const luaL_Reg *methods;  /* reached through __index; also the metatable's "methods" */
    const luaL_Reg *meta;     /* other metamethods (__add, __tostring, ...), or NULL */
    lua_CFunction release;    /* __gc, and __close unless no_close: safe to call twice */
    int no_close;             /* the object may not be closed by hand (views point into it) */
    /* Read-only fields after the methods: called as field(L) with (object, key) on the
     * stack, pushes the value or nil; NULL when the type has none. */
    lua_CFunction fields;
} loom_class;
/* Create the metatable of c (once) and push it. */
void loom_newclass(lua_State *L, const loom_class *c);
/* The module's generator (created, seeded with 42, on first use). */
loom_rng *loom_getrng(lua_State *L);
/* Register the functions of l into the table on top, like luaL_setfuncs with no upvalues. */
void loom_setfuncs(lua_State *L, const luaL_Reg *l);

/* Each src/bind/<name>.c defines loom_open_<name>, which pushes a table of functions that
 * ends up as require("loom.core").<name>; core.c lists them. */
int loom_open_matrix(lua_State *L);
int loom_open_linalg(lua_State *L);
int loom_open_nn(lua_State *L);
int loom_open_rnn(lua_State *L);
int loom_open_safetensors(lua_State *L);
int loom_open_audio(lua_State *L);
int loom_open_sqlite(lua_State *L);
int loom_open_process(lua_State *L);
int loom_open_data(lua_State *L);
int loom_open_attention(lua_State *L);
int loom_open_numwords(lua_State *L);
int loom_open_conv(lua_State *L);
int loom_open_subword(lua_State *L);
int loom_open_decoder(lua_State *L);

#endif
