/* safetensors.c (binding): loom.save and loom.load, safetensors files as tables of matrices
 * with metadata, true shapes and dtypes. Not the format itself (src/core/safetensors.c). */
#include "bind.h"
#include "safetensors.h"

#include <string.h>

/* A loaded file while its tensors move into matrices: the collector frees what is left
 * if building the tables raises. */
#define LOADED_T "loom.safetensors_file"

static int loaded_release(lua_State *L)
{
    loom_safetensors *st = luaL_checkudata(L, 1, LOADED_T);
    loom_safetensors_release(st);
    return 0;
}

/* Push {d1, d2, ...}. */
static void push_shape(lua_State *L, const loom_st_tensor *t)
{
    lua_createtable(L, (int)t->ndim, 0);
    for (size_t k = 0; k < t->ndim; k++) {
        lua_pushinteger(L, (lua_Integer)t->shape[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
}

/* loom.load(path) -> tensors, metadata, shapes, dtypes | nil, "path: message" */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    loom_safetensors *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    luaL_setmetatable(L, LOADED_T);
    int file_idx = lua_gettop(L);
    if (loom_safetensors_read(st, path) != LOOM_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, st->error);
        return 2;
    }
    lua_createtable(L, 0, (int)st->count);
    lua_createtable(L, 0, (int)st->meta_count);
    lua_createtable(L, 0, (int)st->count);
    lua_createtable(L, 0, (int)st->count);
    int tensors = file_idx + 1, meta = file_idx + 2, shapes = file_idx + 3, dtypes = file_idx + 4;
    for (size_t i = 0; i < st->count; i++) {
        loom_st_tensor *t = &st->tensors[i];
        Matrix *m = loom_newmatrix(L, 0, 0);
        m->m = t->values; /* the matrix now owns the storage */
        t->values = (loom_matrix){.ld = 1};
        lua_setfield(L, tensors, t->name);
        push_shape(L, t);
        lua_setfield(L, shapes, t->name);
        lua_pushstring(L, loom_st_dtype_name(t->dtype));
        lua_setfield(L, dtypes, t->name);
    }
    for (size_t i = 0; i < st->meta_count; i++) {
        lua_pushstring(L, st->meta_values[i]);
        lua_setfield(L, meta, st->meta_keys[i]);
    }
    loom_safetensors_release(st);
    return 4;
}

static loom_st_dtype check_dtype(lua_State *L, int idx, const char *name)
{
    const char *s = lua_tostring(L, idx);
    int dtype = s ? loom_st_dtype_from_name(s) : -1;
    if (dtype < 0)
        luaL_error(L, "loom.save: dtype for '%s' must be one of F64, F32, F16, BF16, I64, I32, "
                   "I16, I8, U8, BOOL, got %s", name, s ? s : luaL_typename(L, idx));
    return (loom_st_dtype)dtype;
}

/* opts.<field>[name], or opts.<fallback>, pushed (nil when neither is there). */
static int push_option(lua_State *L, int opts, const char *field, const char *name,
                       const char *fallback)
{
    if (lua_isnil(L, opts)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    if (lua_getfield(L, opts, field) == LUA_TTABLE) {
        if (lua_getfield(L, -1, name) != LUA_TNIL) {
            lua_remove(L, -2);
            return lua_type(L, -1);
        }
        lua_pop(L, 1);
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "loom.save: opts.%s must be a table of names, got %s", field,
                   luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    if (!fallback) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, opts, fallback);
}

/* The shape to save: opts.shapes[name] (any rank with the matrix's element count) or
 * [rows, cols]. */
static void entry_shape(lua_State *L, int opts, loom_st_entry *e)
{
    const loom_matrix *m = e->values;
    char buf[48];
    int type = push_option(L, opts, "shapes", e->name, NULL);
    if (type == LUA_TNIL) {
        e->ndim = 2;
        e->shape[0] = m->rows;
        e->shape[1] = m->cols;
        lua_pop(L, 1);
        return;
    }
    if (type != LUA_TTABLE)
        luaL_error(L, "loom.save: shape for '%s' must be a list of sizes, got %s", e->name,
                   luaL_typename(L, -1));
    lua_Integer n = luaL_len(L, -1);
    if (n > LOOM_ST_MAX_DIMS)
        luaL_error(L, "loom.save: shape for '%s' has %I dimensions, at most %d", e->name, n,
                   LOOM_ST_MAX_DIMS);
    uint64_t count = 1;
    e->ndim = (size_t)n;
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, -1, k);
        int ok;
        lua_Integer d = lua_tointegerx(L, -1, &ok);
        if (!ok || d < 0)
            luaL_error(L, "loom.save: shape for '%s': size %I is not a non-negative integer",
                       e->name, k);
        lua_pop(L, 1);
        e->shape[k - 1] = (uint64_t)d;
        count = d && count > UINT64_MAX / (uint64_t)d ? UINT64_MAX : count * (uint64_t)d;
    }
    if (count != loom_numel(m))
        luaL_error(L, "loom.save: shape for '%s' holds %s elements, the matrix is %s", e->name,
                   count == UINT64_MAX ? "too many" : lua_pushfstring(L, "%I", (lua_Integer)count),
                   loom_shape(m, buf));
    lua_pop(L, 1);
}

/* Fill the entry for the key/value pair at the top of the stack (key -2, value -1). */
static void fill_entry(lua_State *L, int opts, loom_st_entry *e)
{
    if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "loom.save: tensor names must be strings, got %s", luaL_typename(L, -2));
    size_t len;
    e->name = lua_tolstring(L, -2, &len); /* kept alive by the tensors table */
    if (strlen(e->name) != len)
        luaL_error(L, "loom.save: tensor name contains a NUL byte");
    Matrix *m = loom_testmatrix_any(L, -1);
    if (!m)
        luaL_error(L, "loom.save: tensor '%s' must be a matrix, got %s", e->name,
                   luaL_typename(L, -1));
    e->values = &m->m;
    push_option(L, opts, "dtypes", e->name, "dtype");
    /* Each matrix is written in its own dtype unless an option says otherwise. */
    loom_st_dtype own = m->m.dtype == LOOM_F32 ? LOOM_DT_F32 : LOOM_DT_F64;
    e->dtype = lua_isnil(L, -1) ? own : check_dtype(L, -1, e->name);
    lua_pop(L, 1);
    entry_shape(L, opts, e);
}

/* Metadata strings, borrowed from the table at idx (which outlives the call). */
static size_t collect_metadata(lua_State *L, int idx, const char ***keys, const char ***values)
{
    size_t n = 0;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_argexpected(L, lua_istable(L, idx), idx, "table of strings or nil");
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        n++;
    *keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof **keys, 0);
    *values = lua_newuserdatauv(L, (n ? n : 1) * sizeof **values, 0);
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1), i++) {
        size_t klen, vlen;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "loom.save: metadata must map strings to strings, got %s = %s",
                       luaL_typename(L, -2), luaL_typename(L, -1));
        (*keys)[i] = lua_tolstring(L, -2, &klen);
        (*values)[i] = lua_tolstring(L, -1, &vlen);
        if (strlen((*keys)[i]) != klen || strlen((*values)[i]) != vlen)
            luaL_error(L, "loom.save: metadata '%s' contains a NUL byte", (*keys)[i]);
    }
    return n;
}

/* After every option is read (option tables may run Lua through metamethods and release a
 * matrix or the owner of a view's storage), take each entry's matrix anew from the anchor
 * list at refs (name, matrix, name, matrix, ...) and check it still has the shape read. */
static void recheck_entries(lua_State *L, int refs, loom_st_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        lua_rawgeti(L, refs, (lua_Integer)(2 * i + 2));
        loom_st_entry *e = &entries[i];
        Matrix *m = loom_recheck_any(L, -1, "loom.save", "a tensor");
        uint64_t n = 1;
        for (size_t k = 0; k < e->ndim; k++)
            n *= e->shape[k];
        if (n != loom_numel(&m->m))
            luaL_error(L, "loom.save: tensor '%s' changed shape during the call", e->name);
        e->values = &m->m;
        lua_pop(L, 1);
    }
}

/* loom.save(path, tensors [, metadata [, opts]]) -> true | nil, "path: message"
 * opts: dtype = "F64" (for all; default: F32 for float32 matrices, F64 for the others),
 * dtypes = {name = dtype}, shapes = {name = {...}}. */
static int l_save(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!lua_isnoneornil(L, 3))
        luaL_argexpected(L, lua_istable(L, 3), 3, "table of strings or nil");
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    size_t count = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1))
        count++;
    loom_st_entry *entries = lua_newuserdatauv(L, (count ? count : 1) * sizeof *entries, 0); /* 5 */
    lua_createtable(L, (int)(count < 1u << 20 ? 2 * count : 0), 0); /* 6: anchors names, matrices */
    int refs = 6;
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        if (i == count)
            return luaL_error(L, "loom.save: the tensors table changed during the call");
        lua_pushvalue(L, -2);
        lua_rawseti(L, refs, (lua_Integer)(2 * i + 1));
        lua_pushvalue(L, -1);
        lua_rawseti(L, refs, (lua_Integer)(2 * i + 2));
        fill_entry(L, 4, &entries[i++]);
    }
    count = i;
    /* The metadata after the options (whose metamethods could change the metadata table),
     * and no call into Lua from here on. */
    const char **keys = NULL, **values = NULL;
    size_t meta_count = collect_metadata(L, 3, &keys, &values);
    recheck_entries(L, refs, entries, count);
    char error[256];
    loom_status st = loom_safetensors_write(path, entries, count, keys, values, meta_count, error,
                                            sizeof error);
    if (st == LOOM_EARG || st == LOOM_EDIM)
        return luaL_error(L, "loom.save: %s", error);
    if (st != LOOM_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, error);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg functions[] = {{"save", l_save}, {"load", l_load}, {NULL, NULL}};

int loom_open_safetensors(lua_State *L)
{
    static const loom_class loaded_class = {LOADED_T, NULL, NULL, NULL, loaded_release, 1, NULL};
    loom_newclass(L, &loaded_class);
    lua_pop(L, 1);
    lua_newtable(L);
    loom_setfuncs(L, functions);
    return 1;
}
