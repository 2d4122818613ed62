/* main.c: the `loom` executable: a Lua 5.4 state with loom.core preloaded and the Lua half
 * on package.path; everything else (REPL, subcommands) is lua/loom/cli.lua. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int luaopen_loom_core(lua_State *L);

/* The directory holding loom/init.lua: $LOOM_LUA_DIR, else the installed share directory
 * next to the executable, else the source tree this binary was built from. */
static const char *lua_dir(void)
{
    const char *env = getenv("LOOM_LUA_DIR");
    if (env && *env)
        return env;
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 64);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash, "/../share/loom/lua");
            char probe[4160];
            snprintf(probe, sizeof probe, "%s/loom/init.lua", buf);
            if (access(probe, R_OK) == 0)
                return buf;
        }
    }
    if (access(LOOM_SOURCE_LUA_DIR "/loom/init.lua", R_OK) == 0)
        return LOOM_SOURCE_LUA_DIR;
    return LOOM_INSTALL_LUA_DIR;
}

static void set_path(lua_State *L)
{
    const char *dir = lua_dir();
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_loom_core);
    lua_setfield(L, -2, "loom.core");
    lua_pop(L, 2);
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* require("loom.cli").main(argv) in protected mode; its result is the exit status. */
static int run(lua_State *L, int argc, char **argv)
{
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "loom.cli");
    if (lua_pcall(L, 1, 1, 1) != LUA_OK) {
        fprintf(stderr, "loom: %s\n", lua_tostring(L, -1));
        return 1;
    }
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_seti(L, -2, i);
    }
    if (lua_pcall(L, 1, 1, 1) != LUA_OK) {
        fprintf(stderr, "loom: %s\n", lua_tostring(L, -1));
        return 1;
    }
    return lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
}

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "loom: cannot create a Lua state: not enough memory\n");
        return 1;
    }
    luaL_openlibs(L);
    set_path(L);
    int status = run(L, argc, argv);
    lua_close(L);
    return status;
}
