/* core.c: luaopen_loom_core, the one symbol the module exports: it gathers every binding
 * file's table into require("loom.core"). Not the public API (lua/loom/init.lua). */
#include "bind.h"

#if defined(__GNUC__)
#define LOOM_EXPORT __attribute__((visibility("default")))
#else
#define LOOM_EXPORT
#endif

/* The bindings, as Lua's linit.c lists its libraries: a new src/bind file adds a line. */
static const luaL_Reg bindings[] = {
    {"attention", loom_open_attention},
    {"audio", loom_open_audio},
    {"conv", loom_open_conv},
    {"data", loom_open_data},
    {"decoder", loom_open_decoder},
    {"linalg", loom_open_linalg},
    {"matrix", loom_open_matrix},
    {"nn", loom_open_nn},
    {"numwords", loom_open_numwords},
    {"process", loom_open_process},
    {"rnn", loom_open_rnn},
    {"safetensors", loom_open_safetensors},
    {"sqlite", loom_open_sqlite},
    {"subword", loom_open_subword},
    {NULL, NULL}};

LOOM_EXPORT int luaopen_loom_core(lua_State *L);

LOOM_EXPORT int luaopen_loom_core(lua_State *L)
{
    lua_newtable(L);
    for (const luaL_Reg *b = bindings; b->name; b++) {
        b->func(L);
        lua_setfield(L, -2, b->name);
    }
    lua_pushstring(L, LOOM_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
