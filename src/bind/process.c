/* process.c (binding): what the run store and progress display need from the OS that Lua
 * lacks: pid, liveness, terminal checks, clocks, sleep, and SIGINT/SIGTERM catching. */
#define _POSIX_C_SOURCE 200809L
#include "bind.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Signal state is process-wide by nature: one handler, one flag, one state to interrupt. */
static volatile sig_atomic_t caught_signal = 0;
static lua_State *volatile hook_state = NULL;
static struct sigaction saved_int, saved_term;
static int catching = 0;

/* Runs at the next Lua call, return or instruction after a signal: raise in Lua code. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* lua_sethook is the one Lua API function that is safe from a signal handler (lua.c). */
static void on_signal(int sig)
{
    caught_signal = sig;
    lua_State *L = hook_state;
    if (L)
        lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* process.catch_signals([raise = true]): catch SIGINT and SIGTERM; with raise, the running
 * Lua code gets the error "interrupted!", otherwise only process.caught() tells. */
static int l_catch_signals(lua_State *L)
{
    int raise = lua_isnoneornil(L, 1) ? 1 : lua_toboolean(L, 1);
    if (!raise && hook_state)
        lua_sethook(hook_state, NULL, 0, 0); /* a raise still pending is dropped */
    hook_state = raise ? L : NULL;
    if (!catching) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &saved_int);
        sigaction(SIGTERM, &sa, &saved_term);
        catching = 1;
    }
    return 0;
}

/* process.release_signals(): put back the handlers catch_signals found; clear the flag. */
static int l_release_signals(lua_State *L)
{
    if (catching) {
        sigaction(SIGINT, &saved_int, NULL);
        sigaction(SIGTERM, &saved_term, NULL);
        catching = 0;
    }
    if (hook_state)
        lua_sethook(hook_state, NULL, 0, 0);
    hook_state = NULL;
    caught_signal = 0;
    (void)L;
    return 0;
}

/* process.caught() -> "SIGINT" | "SIGTERM" | nil */
static int l_caught(lua_State *L)
{
    int sig = caught_signal;
    if (sig == SIGINT)
        lua_pushliteral(L, "SIGINT");
    else if (sig == SIGTERM)
        lua_pushliteral(L, "SIGTERM");
    else
        lua_pushnil(L);
    return 1;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* process.alive(pid) -> true when a process with that id exists on this host. */
static int l_alive(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    luaL_argcheck(L, pid > 0, 1, "pid must be > 0");
    lua_pushboolean(L, kill((pid_t)pid, 0) == 0 || errno == EPERM);
    return 1;
}

/* process.kill(pid, "INT"|"TERM"|"KILL") -> true | nil, message */
static int l_kill(lua_State *L)
{
    static const char *const names[] = {"INT", "TERM", "KILL", NULL};
    static const int numbers[] = {SIGINT, SIGTERM, SIGKILL};
    lua_Integer pid = luaL_checkinteger(L, 1);
    int which = luaL_checkoption(L, 2, "TERM", names);
    luaL_argcheck(L, pid > 0, 1, "pid must be > 0");
    if (kill((pid_t)pid, numbers[which]) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* process.isatty(io.stdout) -> boolean */
static int l_isatty(lua_State *L)
{
    luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    lua_pushboolean(L, s->closef != NULL && s->f && isatty(fileno(s->f)));
    return 1;
}

/* process.columns() -> the terminal width of stdout, or nil when it is not a terminal. */
static int l_columns(lua_State *L)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        lua_pushinteger(L, ws.ws_col);
    else
        lua_pushnil(L);
    return 1;
}

static int l_hostname(lua_State *L)
{
    char buf[256];
    if (gethostname(buf, sizeof buf) != 0)
        strcpy(buf, "localhost");
    buf[sizeof buf - 1] = '\0';
    lua_pushstring(L, buf);
    return 1;
}

/* process.cwd() -> the working directory | nil, message */
static int l_cwd(lua_State *L)
{
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushstring(L, buf);
    return 1;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* process.now() -> monotonic seconds (for rates); process.time() -> Unix time with fraction. */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_MONOTONIC));
    return 1;
}

static int l_time(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_REALTIME));
    return 1;
}

/* process.sleep(seconds): returns early when a signal arrives. */
static int l_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0, 1, "seconds must be >= 0");
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
    return 0;
}

static const luaL_Reg module_functions[] = {
    {"catch_signals", l_catch_signals},
    {"release_signals", l_release_signals},
    {"caught", l_caught},
    {"pid", l_pid},
    {"alive", l_alive},
    {"kill", l_kill},
    {"isatty", l_isatty},
    {"columns", l_columns},
    {"hostname", l_hostname},
    {"cwd", l_cwd},
    {"now", l_now},
    {"time", l_time},
    {"sleep", l_sleep},
    {NULL, NULL},
};

int loom_open_process(lua_State *L)
{
    luaL_newlib(L, module_functions);
    return 1;
}
