/* process.c (binding): what the run store and progress display need from the OS that Lua
 * lacks: pid, liveness, terminal checks, clocks, sleep, and SIGINT/SIGTERM catching. */
#define _GNU_SOURCE /* pipe2 */
#define _POSIX_C_SOURCE 200809L
#include "bind.h"
#include "blas.h"

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

static void open_run_functions(lua_State *L);

int loom_open_process(lua_State *L)
{
    luaL_newlib(L, module_functions);
    open_run_functions(L);
    return 1;
}

/* ---- running programs and describing this process (run provenance) ---- */

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

/* A growing byte buffer in C memory (never a Lua buffer: nothing may raise while a child
 * runs and its pipes are open). */
typedef struct {
    char *data;
    size_t len, cap;
} byte_buffer;

static int buffer_append(byte_buffer *b, const char *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* Child side of capture: stdin from /dev/null, stdout and stderr to the pipes, then exec.
 * An exec failure reports its errno through the close-on-exec status pipe. */
static void capture_child(char **argv, int out_fd, int err_fd, int status_fd)
{
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execvp(argv[0], argv);
    int e = errno;
    ssize_t w = write(status_fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Read both pipes to their end (poll, so a child filling one cannot block on the other). */
static int capture_drain(int out_fd, int err_fd, byte_buffer *out, byte_buffer *err)
{
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    byte_buffer *bufs[2] = {out, err};
    int open_count = 2, failed = 0;
    char chunk[65536];
    while (open_count > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fds[i].fd = -1;
                open_count--;
            } else if (!failed && buffer_append(bufs[i], chunk, (size_t)n) != 0) {
                failed = 1; /* keep reading so the child can finish */
            }
        }
    }
    return failed ? -2 : 0;
}

static void close_pipe(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
}

/* Fork and exec argv, collecting its output. Returns 0 with *code set (exit status, or
 * 128 + signal), or an errno value (ENOMEM when a buffer could not grow). */
static int capture_run(char **argv, byte_buffer *out, byte_buffer *err, int *code)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, ps[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC) || pipe2(ps, O_CLOEXEC)) {
        int e = errno;
        close_pipe(po), close_pipe(pe), close_pipe(ps);
        return e;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close_pipe(po), close_pipe(pe), close_pipe(ps);
        return e;
    }
    if (pid == 0)
        capture_child(argv, po[1], pe[1], ps[1]);
    close(po[1]), close(pe[1]), close(ps[1]);
    int drained = capture_drain(po[0], pe[0], out, err);
    int exec_errno = 0;
    ssize_t n = read(ps[0], &exec_errno, sizeof exec_errno);
    close(po[0]), close(pe[0]), close(ps[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof exec_errno && exec_errno != 0)
        return exec_errno;
    if (drained != 0)
        return drained == -2 ? ENOMEM : EIO;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

/* The C memory of one capture, owned by a userdata so that a Lua error at any point (a
 * failed push) frees it through __gc. */
#define CAPTURE_BOX_T "loom.process.capture"
typedef struct {
    char **argv;
    byte_buffer out, err;
} capture_box;

static int capture_box_release(lua_State *L)
{
    capture_box *b = luaL_checkudata(L, 1, CAPTURE_BOX_T);
    free(b->argv), free(b->out.data), free(b->err.data);
    b->argv = NULL, b->out.data = NULL, b->err.data = NULL;
    return 0;
}

/* process.capture({"git", "-C", dir, "rev-parse", "HEAD"}) -> exit code, stdout, stderr
 * | nil, message. Runs the program directly (PATH lookup, no shell), stdin from /dev/null;
 * the code is the exit status, or 128 + the signal that ended it. */
static int l_capture(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer argc = luaL_len(L, 1);
    if (argc < 1)
        return luaL_error(L, "process.capture: expected a list {program, arg, ...}, got an empty table");
    for (lua_Integer i = 1; i <= argc; i++) {
        if (lua_geti(L, 1, i) != LUA_TSTRING)
            return luaL_error(L, "process.capture: argument %d must be a string, got %s", (int)i,
                              luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    capture_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    luaL_setmetatable(L, CAPTURE_BOX_T);
    /* One block: the pointer array, then copies of the strings (exec wants them mutable). */
    size_t chars = 0;
    for (lua_Integer i = 1; i <= argc; i++) {
        lua_geti(L, 1, i);
        chars += lua_rawlen(L, -1) + 1;
        lua_pop(L, 1);
    }
    box->argv = malloc(sizeof *box->argv * (size_t)(argc + 1) + chars);
    if (!box->argv)
        return luaL_error(L, "not enough memory");
    char *text = (char *)(box->argv + argc + 1);
    for (lua_Integer i = 1; i <= argc; i++) {
        size_t len;
        lua_geti(L, 1, i);
        const char *a = lua_tolstring(L, -1, &len);
        memcpy(text, a, len + 1);
        box->argv[i - 1] = text;
        text += len + 1;
        lua_pop(L, 1);
    }
    box->argv[argc] = NULL;
    int code = 0;
    int e = capture_run(box->argv, &box->out, &box->err, &code);
    if (e != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "process.capture: cannot run '%s': %s", box->argv[0], strerror(e));
        return 2;
    }
    lua_pushinteger(L, code);
    lua_pushlstring(L, box->out.data ? box->out.data : "", box->out.len);
    lua_pushlstring(L, box->err.data ? box->err.data : "", box->err.len);
    return 3;
}

/* process.cpu_time() -> user seconds, system seconds this process has used, then the same
 * for its children that have ended and been waited for. */
static int l_cpu_time(lua_State *L)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    lua_pushnumber(L, (double)self.ru_utime.tv_sec + (double)self.ru_utime.tv_usec * 1e-6);
    lua_pushnumber(L, (double)self.ru_stime.tv_sec + (double)self.ru_stime.tv_usec * 1e-6);
    lua_pushnumber(L, (double)children.ru_utime.tv_sec + (double)children.ru_utime.tv_usec * 1e-6);
    lua_pushnumber(L, (double)children.ru_stime.tv_sec + (double)children.ru_stime.tv_usec * 1e-6);
    return 4;
}

/* process.environ() -> {NAME = value, ...}: this process's environment. */
static int l_environ(lua_State *L)
{
    lua_newtable(L);
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        lua_pushlstring(L, *e, (size_t)(eq - *e));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    return 1;
}

/* process.blas() -> {config = "OpenBLAS 0.3.21 ...", core = "Haswell", threads = n} */
static int l_blas(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, loom_blas_config());
    lua_setfield(L, -2, "config");
    lua_pushstring(L, loom_blas_corename());
    lua_setfield(L, -2, "core");
    lua_pushinteger(L, loom_blas_get_threads());
    lua_setfield(L, -2, "threads");
    return 1;
}

static const luaL_Reg run_functions[] = {
    {"capture", l_capture},
    {"cpu_time", l_cpu_time},
    {"environ", l_environ},
    {"blas", l_blas},
    {NULL, NULL},
};

/* Adds run_functions to the module table on top of the stack. */
static void open_run_functions(lua_State *L)
{
    if (luaL_newmetatable(L, CAPTURE_BOX_T)) {
        lua_pushcfunction(L, capture_box_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, run_functions, 0);
}
