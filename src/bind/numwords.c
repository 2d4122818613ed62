/* numwords.c (binding): the speller userdata (loom.spellout(locale)) over src/core/numwords.c.
 * Not the dataset generator (datasets/numbers.lua). */
#include "bind.h"
#include "numwords.h"

#include <string.h>

#define SPELLER_T "loom.speller"

typedef struct Speller {
    loom_speller *s; /* NULL once released */
    char locale[32];
} Speller;

static Speller *check_speller(lua_State *L)
{
    Speller *sp = luaL_checkudata(L, 1, SPELLER_T);
    if (!sp->s)
        luaL_error(L, "attempt to use a released speller");
    return sp;
}

/* open(locale) -> speller; the userdata exists (empty) before ICU is asked. */
static int l_open(lua_State *L)
{
    size_t n;
    const char *locale = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n > 0 && n < sizeof(((Speller *)0)->locale), 1, "a locale such as \"fr\"");
    Speller *sp = lua_newuserdatauv(L, sizeof *sp, 0);
    sp->s = NULL;
    memcpy(sp->locale, locale, n + 1);
    luaL_setmetatable(L, SPELLER_T);
    loom_status st;
    sp->s = loom_speller_open(locale, &st);
    if (!sp->s)
        return luaL_error(L, "loom.spellout: no spell-out rules for locale '%s' (%s)", locale, loom_strerror(st));
    return 1;
}

/* speller:format(n) -> words (UTF-8, soft hyphens removed) */
static int m_format(lua_State *L)
{
    Speller *sp = check_speller(L);
    int ok = 0;
    lua_Integer n = lua_tointegerx(L, 2, &ok);
    if (!ok)
        return luaL_error(L, "speller:format: expected an integer, got %s", luaL_typename(L, 2));
    char buf[1024];
    size_t len = 0;
    loom_check(L, loom_speller_format(sp->s, (int64_t)n, buf, sizeof buf, &len), "speller:format");
    lua_pushlstring(L, buf, len);
    return 1;
}

static int m_locale(lua_State *L)
{
    lua_pushstring(L, check_speller(L)->locale);
    return 1;
}

static int m_release(lua_State *L)
{
    Speller *sp = luaL_checkudata(L, 1, SPELLER_T);
    loom_speller_free(sp->s);
    sp->s = NULL;
    return 0;
}

static const luaL_Reg methods[] = {
    {"format", m_format}, {"locale", m_locale}, {"close", m_release}, {NULL, NULL}};

static const luaL_Reg functions[] = {{"open", l_open}, {NULL, NULL}};

int loom_open_numwords(lua_State *L)
{
    luaL_newlib(L, functions);
    if (luaL_newmetatable(L, SPELLER_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, m_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, m_release);
        lua_setfield(L, -2, "__close");
        lua_pushstring(L, "loom.speller");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    return 1;
}
