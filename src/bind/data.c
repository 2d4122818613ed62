/* data.c (binding): the C half of loom.data's dataset registry: sha256_file, read_text
 * (plain or checked gzip, loom_read_text) and a download session. Not the registry logic
 * (lua/loom/datasets.lua). */
#include "bind.h"

#include "datafile.h"


#define LOOM_FETCHER_T "loom.data.fetcher"

typedef struct Fetcher {
    loom_fetcher *f; /* NULL once closed */
} Fetcher;

/* data.sha256_file(path) -> 64 hex digits | nil, "path: message" */
static int l_sha256_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char hex[65], error[256];
    if (loom_sha256_file(path, hex, error, sizeof error) != LOOM_OK) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, error);
        return 2;
    }
    lua_pushstring(L, hex);
    return 1;
}

static int push_text(lua_State *L)
{
    lua_pushlstring(L, lua_touserdata(L, 1), (size_t)lua_tointeger(L, 2));
    return 1;
}

/* data.read_text(path [, max_bytes]) -> string | nil, "path: message" */
static int l_read_text(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, max >= 0, 2, "max_bytes must be >= 0");
    char *text = NULL, error[256];
    size_t len = 0;
    loom_status st = loom_read_text(path, (size_t)max, &text, &len, error, sizeof error);
    if (st != LOOM_OK) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, error);
        return 2;
    }
    /* Copied into Lua in protected mode: a memory error there must not leak the buffer. */
    lua_pushcfunction(L, push_text);
    lua_pushlightuserdata(L, text);
    lua_pushinteger(L, (lua_Integer)len);
    int rc = lua_pcall(L, 2, 1, 0);
    loom_free(text);
    if (rc != LUA_OK)
        return lua_error(L);
    return 1;
}

static Fetcher *checkfetcher(lua_State *L)
{
    Fetcher *s = luaL_checkudata(L, 1, LOOM_FETCHER_T);
    if (!s->f)
        luaL_error(L, "attempt to use a closed fetcher");
    return s;
}

static int fetcher_release(lua_State *L)
{
    Fetcher *s = luaL_checkudata(L, 1, LOOM_FETCHER_T);
    loom_fetcher_free(s->f);
    s->f = NULL;
    return 0;
}

/* data.fetcher() -> a download session (one connection reused across get calls) */
static int l_fetcher(lua_State *L)
{
    Fetcher *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->f = NULL;
    luaL_setmetatable(L, LOOM_FETCHER_T);
    s->f = loom_fetcher_new();
    if (!s->f)
        return luaL_error(L, "data.fetcher: cannot start libcurl");
    return 1;
}

/* fetcher:get(url, dest [, timeout_seconds = 30]) -> bytes | nil, message */
static int fetcher_get(lua_State *L)
{
    Fetcher *s = checkfetcher(L);
    const char *url = luaL_checkstring(L, 2);
    const char *dest = luaL_checkstring(L, 3);
    lua_Integer timeout = luaL_optinteger(L, 4, 30);
    luaL_argcheck(L, timeout >= 1 && timeout <= 86400, 4, "timeout must be 1..86400 seconds");
    char error[512];
    size_t bytes = 0;
    if (loom_fetcher_get(s->f, url, dest, (long)timeout, &bytes, error, sizeof error) != LOOM_OK) {
        luaL_pushfail(L);
        lua_pushstring(L, error);
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)bytes);
    return 1;
}

static const luaL_Reg fetcher_methods[] = {
    {"get", fetcher_get},
    {"close", fetcher_release},
    {NULL, NULL},
};

static const loom_class fetcher_class = {
    .tname = LOOM_FETCHER_T, .name = "fetcher", .methods = fetcher_methods,
    .release = fetcher_release,
};

static const luaL_Reg functions[] = {
    {"sha256_file", l_sha256_file},
    {"read_text", l_read_text},
    {"fetcher", l_fetcher},
    {NULL, NULL},
};

int loom_open_data(lua_State *L)
{
    loom_newclass(L, &fetcher_class);
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    return 1;
}
