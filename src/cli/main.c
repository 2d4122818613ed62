/* main.c: the `loom` executable: a Lua 5.4 state with loom.core preloaded, the Lua half on
 * package.path, and the terminal pieces the REPL needs (libedit, SIGINT) as loom.cli_native.
 * Not the REPL loop nor the command line (lua/loom/repl.lua, lua/loom/cli.lua). */
#define _XOPEN_SOURCE 700 /* realpath */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

int luaopen_loom_core(lua_State *L);

/* The directory holding loom/init.lua: $LOOM_LUA_DIR, else share/lua/5.4 beside the
 * executable's bin/ (an installed prefix or a LuaRocks tree: the one copy stock lua5.4
 * also reads), else the
 * source tree this binary was built from. Paths are made canonical (no "bin/..") because
 * tracebacks and package.searchpath show them. */
static const char *lua_dir(void)
{
    const char *env = getenv("LOOM_LUA_DIR");
    if (env && *env)
        return env;
    static char buf[4096];
    static char canonical[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 64);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash, "/../share/lua/5.4");
            char probe[4160];
            snprintf(probe, sizeof probe, "%s/loom/init.lua", buf);
            if (access(probe, R_OK) == 0)
                return realpath(buf, canonical) ? canonical : buf;
        }
    }
    if (access(LOOM_SOURCE_LUA_DIR "/loom/init.lua", R_OK) == 0)
        return LOOM_SOURCE_LUA_DIR;
    return LOOM_INSTALL_LUA_DIR;
}

/* ---- interrupting a running chunk (lua.c's technique) ----
 * SIGINT sets a hook on the running state; the hook raises "interrupted!" at the next Lua
 * call, return or instruction count, which the REPL's pcall catches. A second SIGINT before
 * the hook runs (a long C call) takes the default action and ends the process. This state
 * is file static because a signal handler can reach nothing else. */
static lua_State *volatile interrupt_target;
static volatile sig_atomic_t interrupted_at_prompt;
/* Any thread may take the signal (OpenBLAS starts workers), so a blocked read() in the main
 * thread is not reliably interrupted: the handler wakes the prompt through this pipe. */
static int wake_pipe[2] = {-1, -1};

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void on_sigint_running(int sig)
{
    signal(sig, SIG_DFL);
    lua_sethook(interrupt_target, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void on_sigint_at_prompt(int sig)
{
    (void)sig;
    int saved = errno;
    interrupted_at_prompt = 1;
    if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0) {
        /* the pipe is full: the prompt is being woken already */
    }
    errno = saved;
}

/* Install handler for SIGINT without SA_RESTART, so a blocking read returns EINTR. */
static void catch_sigint(void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old);
}

/* native.call(msgh, f, ...) -> ok, results or message: xpcall with Ctrl-C interrupting f. */
static int native_call(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 2;
    struct sigaction old;
    interrupt_target = L;
    catch_sigint(on_sigint_running, &old);
    int status = lua_pcall(L, nargs, LUA_MULTRET, 1);
    sigaction(SIGINT, &old, NULL);
    if (lua_gethook(L) == stop_hook) /* a SIGINT that came after f returned */
        lua_sethook(L, NULL, 0, 0);
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* ---- line editing (libedit) ---- */

/* The state and completer of the current readline call: completion runs inside readline. */
static lua_State *completion_state;
static int completer_ref = LUA_NOREF;
static char **candidates; /* owned: strings from the completer, freed on the next completion */
static size_t candidate_count, candidate_next;

static void free_candidates(void)
{
    for (size_t i = 0; i < candidate_count; i++)
        free(candidates[i]);
    free(candidates);
    candidates = NULL;
    candidate_count = 0;
}

/* Protected: completer(text) -> list of strings, copied into candidates. No Lua call can
 * raise once memory is allocated: the list is read with raw access and type checks. */
static int collect_candidates(lua_State *L)
{
    const char *text = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, completer_ref);
    lua_pushstring(L, text);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    size_t n = (size_t)lua_rawlen(L, -1);
    candidates = n ? calloc(n, sizeof *candidates) : NULL;
    if (!candidates)
        return 0;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            char *copy = strdup(lua_tostring(L, -1));
            if (copy)
                candidates[candidate_count++] = copy;
        }
        lua_pop(L, 1);
    }
    return 0;
}

static char *next_candidate(const char *text, int state)
{
    (void)text;
    if (state == 0)
        candidate_next = 0;
    return candidate_next < candidate_count ? strdup(candidates[candidate_next++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    free_candidates();
    lua_State *L = completion_state;
    if (!L || completer_ref == LUA_NOREF || !lua_checkstack(L, 4))
        return NULL;
    lua_pushcfunction(L, collect_candidates);
    lua_pushlightuserdata(L, (void *)(uintptr_t)text);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        lua_pop(L, 1); /* a failing completer completes nothing */
    return candidate_count ? rl_completion_matches(text, next_candidate) : NULL;
}

/* Push a malloc'd string and free it, raising (if at all) only after the free. */
static int push_string(lua_State *L)
{
    lua_pushstring(L, lua_touserdata(L, 1));
    return 1;
}

static void push_owned_string(lua_State *L, char *s)
{
    luaL_checkstack(L, 3, NULL);
    lua_pushcfunction(L, push_string);
    lua_pushlightuserdata(L, s);
    int status = lua_pcall(L, 1, 1, 0);
    free(s);
    if (status != LUA_OK)
        lua_error(L);
}

/* libedit's input: one byte; Ctrl-C at the prompt ends the line as if at end of input, and
 * native.readline tells the two apart by the flag. */
static int read_key(FILE *stream)
{
    struct pollfd fds[2] = {{fileno(stream), POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
    for (;;) {
        if (interrupted_at_prompt)
            return EOF;
        if (poll(fds, wake_pipe[0] >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return EOF;
        }
        if (fds[1].revents & POLLIN) {
            char drain[16];
            while (read(wake_pipe[0], drain, sizeof drain) > 0) {
            }
            continue;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            unsigned char c;
            ssize_t n = read(fds[0].fd, &c, 1);
            if (n == 1)
                return c;
            if (n < 0 && errno == EINTR)
                continue;
            return EOF;
        }
    }
}

static void open_wake_pipe(void)
{
    if (pipe(wake_pipe) != 0) {
        wake_pipe[0] = wake_pipe[1] = -1; /* Ctrl-C at the prompt then relies on EINTR */
        return;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
    }
}

/* native.readline(prompt) -> line | false (Ctrl-C at the prompt) | nil (end of input). */
static int native_readline(lua_State *L)
{
    const char *prompt = luaL_optstring(L, 1, "> ");
    struct sigaction old;
    completion_state = L;
    interrupted_at_prompt = 0;
    catch_sigint(on_sigint_at_prompt, &old);
    char *line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
    completion_state = NULL;
    free_candidates();
    if (line)
        push_owned_string(L, line);
    else if (interrupted_at_prompt)
        lua_pushboolean(L, 0);
    else
        lua_pushnil(L);
    return 1;
}

static int native_add_history(lua_State *L)
{
    add_history(luaL_checkstring(L, 1));
    return 0;
}

/* native.load_history(path), native.save_history(path) -> true | nil, message */
static int history_result(lua_State *L, int err, const char *path, const char *what)
{
    if (err == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "cannot %s history file %s: %s", what, path, strerror(errno ? errno : EIO));
    return 2;
}

static int native_load_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    stifle_history((int)luaL_optinteger(L, 2, 1000));
    errno = 0;
    return history_result(L, read_history(path), path, "read");
}

static int native_save_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    errno = 0;
    return history_result(L, write_history(path), path, "write");
}

/* native.set_completer(fn): fn(text) -> list of full candidates for the word before the
 * cursor (words include '.' and ':', so "loom.ze" completes to "loom.zeros"). */
static int native_set_completer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_unref(L, LUA_REGISTRYINDEX, completer_ref);
    lua_pushvalue(L, 1);
    completer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* native.isatty("stdin" | "stdout" | "stderr") -> boolean */
static int native_isatty(lua_State *L)
{
    static const char *const streams[] = {"stdin", "stdout", "stderr", NULL};
    lua_pushboolean(L, isatty(luaL_checkoption(L, 1, "stdin", streams)));
    return 1;
}

static int luaopen_cli_native(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"call", native_call}, {"readline", native_readline},
        {"add_history", native_add_history}, {"load_history", native_load_history},
        {"save_history", native_save_history}, {"set_completer", native_set_completer},
        {"isatty", native_isatty}, {NULL, NULL}};
    rl_readline_name = "loom";
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^#~";
    rl_completion_append_character = '\0';
    rl_attempted_completion_function = complete;
    /* libedit restores the terminal around signals (Ctrl-Z and fg, resizing) and then
     * passes SIGINT on to on_sigint_at_prompt. */
    rl_catch_signals = 1;
    rl_getc_function = read_key;
    open_wake_pipe();
    using_history();
    luaL_newlib(L, functions);
    return 1;
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
    lua_pushcfunction(L, luaopen_cli_native);
    lua_setfield(L, -2, "loom.cli_native");
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
    free_candidates();
    return status;
}
