/* core.c: luaopen_loom_core, the one symbol the module exports: it gathers every binding
 * file's table into require("loom.core"). Not the public API (lua/loom/init.lua). */
#include "bind.h"

#if defined(__GNUC__)
#define LOOM_EXPORT __attribute__((visibility("default")))
#else
#define LOOM_EXPORT
#endif

LOOM_EXPORT int luaopen_loom_core(lua_State *L);

LOOM_EXPORT int luaopen_loom_core(lua_State *L)
{
    lua_newtable(L);
#define LOOM_BIND(name)                                                                       \
    loom_open_##name(L);                                                                       \
    lua_setfield(L, -2, #name);
#include "bind_list.h"
#undef LOOM_BIND
    lua_pushstring(L, LOOM_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
