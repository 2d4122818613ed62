/* subword.c (binding): loom.text.sentencepiece: train a sentencepiece model file, load one
 * (checked: a damaged file is nil and a message, never a crash), encode text into pieces
 * and ids, decode ids or pieces into text. Ids are 1-based like every loom id (the
 * library's id + 1). Not the library wrapper (src/core/subword.cpp). */
#include "bind.h"
#include "subword.h"

#include <string.h>

#define SPM_T "loom.sentencepiece"
#define SPM_OUT_T "loom.sentencepiece.output"
#define MAX_MODEL_BYTES ((size_t)1 << 30)

typedef struct Spm {
    loom_spm *sp; /* NULL once closed */
} Spm;

/* C memory of one call's result, owned by a userdata so that an error while Lua copies it
 * (not enough memory) frees it through __gc. */
typedef struct Output {
    loom_spm_segments seg;
    char *text;
} Output;

static int output_release(lua_State *L)
{
    Output *o = luaL_checkudata(L, 1, SPM_OUT_T);
    loom_spm_segments_free(&o->seg);
    loom_free(o->text);
    o->text = NULL;
    return 0;
}

static Output *new_output(lua_State *L)
{
    Output *o = lua_newuserdatauv(L, sizeof *o, 0);
    memset(o, 0, sizeof *o);
    luaL_setmetatable(L, SPM_OUT_T);
    return o;
}

static Spm *check_spm(lua_State *L, const char *method)
{
    Spm *s = luaL_testudata(L, 1, SPM_T);
    if (!s)
        loom_error(L, "sentencepiece:%s: expected a sentencepiece model (call it as sp:%s(...)), got %s",
                   method, method, luaL_typename(L, 1));
    if (!s->sp)
        luaL_error(L, "attempt to use a closed sentencepiece model");
    return s;
}

/* ---- training ---- */

/* The flag value of opts[key] (on top of the stack) as a string pushed on the stack. */
static void push_flag(lua_State *L, const char *key)
{
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        lua_pushvalue(L, -1);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1))
            lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, -1));
        else
            lua_pushfstring(L, "%f", (LUAI_UACNUMBER)lua_tonumber(L, -1));
        break;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
        break;
    default:
        loom_error(L, "sentencepiece.train: %s must be a string, number or boolean, got %s", key,
                   luaL_typename(L, -1));
    }
}

/* The sentences list at stack index idx as arrays of pointers and lengths (in userdata
 * left on the stack); the strings stay valid while the list is on the stack. */
static size_t collect_sentences(lua_State *L, int idx, const char ***texts, size_t **lens)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        loom_error(L, "sentencepiece.train: sentences must be a list of strings, got %s", luaL_typename(L, idx));
    size_t n = lua_rawlen(L, idx);
    *texts = lua_newuserdatauv(L, sizeof **texts * (n + 1), 0);
    *lens = lua_newuserdatauv(L, sizeof **lens * (n + 1), 0);
    for (size_t i = 0; i < n; i++) {
        if (lua_rawgeti(L, idx, (lua_Integer)i + 1) != LUA_TSTRING)
            loom_error(L, "sentencepiece.train: sentences[%zu] must be a string, got %s", i + 1,
                       luaL_typename(L, -1));
        (*texts)[i] = lua_tolstring(L, -1, &(*lens)[i]);
        lua_pop(L, 1);
    }
    return n;
}

/* sentencepiece.train{model_prefix = "m", vocab_size = 8000, input = "a.txt" | sentences =
 * {...}, ... any spm_train flag} -> "m.model" */
static int l_train(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L); /* 2: flag name -> value text */
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            loom_error(L, "sentencepiece.train: option names must be strings, got %s", luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        if (strcmp(key, "sentences") != 0) {
            push_flag(L, key);
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_rawset(L, 2);
        }
        lua_pop(L, 1);
    }
    if (lua_getfield(L, 2, "model_prefix") != LUA_TSTRING)
        luaL_error(L, "sentencepiece.train: model_prefix (where to write <prefix>.model) is required");
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "minloglevel") == LUA_TNIL) { /* the library's INFO lines: off */
        lua_pushstring(L, "1");
        lua_setfield(L, 2, "minloglevel");
    }
    lua_pop(L, 1);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        n++;
        lua_pop(L, 1);
    }
    const char **keys = lua_newuserdatauv(L, sizeof *keys * 2 * n, 0);
    const char **values = keys + n;
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        keys[i] = lua_tostring(L, -2);
        values[i++] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    const char **texts = NULL;
    size_t *lens = NULL, count = 0;
    if (lua_getfield(L, 1, "sentences") != LUA_TNIL) {
        count = collect_sentences(L, lua_gettop(L), &texts, &lens);
        if (count == 0)
            luaL_error(L, "sentencepiece.train: sentences is an empty list");
    } else if (lua_getfield(L, 2, "input") == LUA_TNIL) {
        luaL_error(L, "sentencepiece.train: give the training text as input = \"file\" or sentences = {...}");
    }
    char msg[512];
    if (loom_spm_train(keys, values, n, texts, lens, count, msg, sizeof msg) != LOOM_OK)
        return loom_error(L, "sentencepiece.train: %s", msg);
    lua_getfield(L, 2, "model_prefix");
    lua_pushfstring(L, "%s.model", lua_tostring(L, -1));
    return 1;
}

/* ---- loading ---- */

/* sentencepiece.load(path) -> model | nil, "path: message" */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    Spm *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->sp = NULL;
    luaL_setmetatable(L, SPM_T);
    char *bytes = NULL, msg[512];
    size_t len = 0;
    loom_status st = loom_read_text(path, MAX_MODEL_BYTES, &bytes, &len, msg, sizeof msg);
    if (st == LOOM_OK) {
        s->sp = loom_spm_load(bytes, len, &st, msg, sizeof msg);
        loom_free(bytes);
    }
    if (st == LOOM_ENOMEM)
        return luaL_error(L, "not enough memory");
    if (st != LOOM_OK) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, msg);
        return 2;
    }
    return 1;
}

/* ---- methods ---- */

/* sp:encode(text) -> {piece, ...}, {id, ...} */
static int m_encode(lua_State *L)
{
    Spm *s = check_spm(L, "encode");
    if (lua_type(L, 2) != LUA_TSTRING)
        return loom_error(L, "sentencepiece:encode: text must be a string, got %s", luaL_typename(L, 2));
    size_t len;
    const char *text = lua_tolstring(L, 2, &len);
    Output *o = new_output(L);
    char msg[512];
    loom_status st = loom_spm_encode(s->sp, text, len, &o->seg, msg, sizeof msg);
    if (st == LOOM_ENOMEM)
        return luaL_error(L, "not enough memory");
    if (st != LOOM_OK)
        return loom_error(L, "sentencepiece:encode: %s", msg);
    size_t n = o->seg.n;
    lua_createtable(L, (int)n, 0);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, o->seg.text + o->seg.offsets[i], o->seg.offsets[i + 1] - o->seg.offsets[i]);
        lua_rawseti(L, -3, (lua_Integer)i + 1);
        lua_pushinteger(L, (lua_Integer)o->seg.ids[i] + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 2;
}

/* The ids of a list of ids (1-based) or pieces, 0-based, in a userdata left on the stack. */
static uint32_t *decode_ids(lua_State *L, Spm *s, size_t *n)
{
    if (lua_type(L, 2) != LUA_TTABLE)
        loom_error(L, "sentencepiece:decode: expected a list of ids or pieces, got %s", luaL_typename(L, 2));
    *n = lua_rawlen(L, 2);
    size_t size = loom_spm_size(s->sp);
    uint32_t *ids = lua_newuserdatauv(L, sizeof *ids * (*n + 1), 0);
    for (size_t i = 0; i < *n; i++) {
        int t = lua_rawgeti(L, 2, (lua_Integer)i + 1);
        if (t == LUA_TSTRING) {
            size_t len;
            const char *piece = lua_tolstring(L, -1, &len);
            ids[i] = (uint32_t)loom_spm_piece_id(s->sp, piece, len);
        } else {
            int ok = 0;
            lua_Integer id = lua_tointegerx(L, -1, &ok);
            if (!ok || id < 1 || (size_t)id > size)
                loom_error(L, "sentencepiece:decode: item %zu must be a piece or an id in 1..%zu, got %s",
                           i + 1, size, t == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
            ids[i] = (uint32_t)(id - 1);
        }
        lua_pop(L, 1);
    }
    return ids;
}

/* sp:decode({id or piece, ...}) -> text */
static int m_decode(lua_State *L)
{
    Spm *s = check_spm(L, "decode");
    size_t n;
    uint32_t *ids = decode_ids(L, s, &n);
    Output *o = new_output(L);
    char msg[512];
    size_t len;
    loom_status st = loom_spm_decode(s->sp, ids, n, &o->text, &len, msg, sizeof msg);
    if (st == LOOM_ENOMEM)
        return luaL_error(L, "not enough memory");
    if (st != LOOM_OK)
        return loom_error(L, "sentencepiece:decode: %s", msg);
    lua_pushlstring(L, o->text, len);
    return 1;
}

/* sp:size() -> pieces in the vocabulary */
static int m_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)loom_spm_size(check_spm(L, "size")->sp));
    return 1;
}

/* sp:piece(id) -> piece */
static int m_piece(lua_State *L)
{
    Spm *s = check_spm(L, "piece");
    size_t size = loom_spm_size(s->sp), len;
    int ok = 0;
    lua_Integer id = lua_tointegerx(L, 2, &ok);
    if (!ok || id < 1 || (size_t)id > size)
        return loom_error(L, "sentencepiece:piece: id must be an integer in 1..%zu, got %s", size,
                          lua_type(L, 2) == LUA_TNUMBER ? lua_tostring(L, 2) : luaL_typename(L, 2));
    const char *piece = loom_spm_piece(s->sp, (size_t)id - 1, &len);
    lua_pushlstring(L, piece, len);
    return 1;
}

/* sp:id(piece) -> id (the unknown piece's id when the vocabulary lacks it) */
static int m_id(lua_State *L)
{
    Spm *s = check_spm(L, "id");
    if (lua_type(L, 2) != LUA_TSTRING)
        return loom_error(L, "sentencepiece:id: piece must be a string, got %s", luaL_typename(L, 2));
    size_t len;
    const char *piece = lua_tolstring(L, 2, &len);
    lua_pushinteger(L, (lua_Integer)loom_spm_piece_id(s->sp, piece, len) + 1);
    return 1;
}

/* sp:unk_id() -> the unknown piece's id */
static int m_unk_id(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)loom_spm_unk_id(check_spm(L, "unk_id")->sp) + 1);
    return 1;
}

static int m_release(lua_State *L)
{
    Spm *s = luaL_checkudata(L, 1, SPM_T);
    loom_spm_free(s->sp);
    s->sp = NULL;
    return 0;
}

static const luaL_Reg methods[] = {
    {"encode", m_encode}, {"decode", m_decode}, {"size", m_size}, {"piece", m_piece},
    {"id", m_id}, {"unk_id", m_unk_id}, {"close", m_release}, {NULL, NULL},
};

static const loom_class spm_class = {
    .tname = SPM_T, .name = "sentencepiece", .methods = methods, .release = m_release,
};

static const loom_class output_class = {
    .tname = SPM_OUT_T, .name = "sentencepiece output", .release = output_release, .no_close = 1,
};

static const luaL_Reg functions[] = {{"train", l_train}, {"load", l_load}, {NULL, NULL}};

int loom_open_subword(lua_State *L)
{
    loom_newclass(L, &spm_class);
    loom_newclass(L, &output_class);
    lua_pop(L, 2);
    luaL_newlib(L, functions);
    return 1;
}
