/* process.c (binding): what the run store and progress display need from the OS that Lua
 * lacks: pid, liveness, terminal checks, clocks, sleep, SIGINT/SIGTERM catching, and the file
 * system work Lua would otherwise shell out for (mkdir -p, rm -rf, ls, readlink), and running
 * programs by argv (spawn, capture): no shell. */
#define _GNU_SOURCE /* pipe2, and everything _XOPEN_SOURCE 700 gives */
#include "bind.h"
#include "blas.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
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

/* ---- file system: every failure of the OS is nil, "path: reason"; bad arguments raise ---- */

/* A path argument: a string without NUL bytes (the OS would silently cut it there). */
static const char *checkpath(lua_State *L, int idx, const char *fn)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "process.%s: path must be a string, got %s", fn, luaL_typename(L, idx));
    const char *path = lua_tolstring(L, idx, &len);
    if (strlen(path) != len)
        luaL_error(L, "process.%s: path contains a NUL byte", fn);
    if (len == 0)
        luaL_error(L, "process.%s: path is empty", fn);
    return path;
}

static int push_oserror(lua_State *L, const char *path, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(err));
    return 2;
}

/* process.mkdir_p(path) -> true | nil, "prefix: reason": path and its missing parents. */
static int l_mkdir_p(lua_State *L)
{
    const char *path = checkpath(L, 1, "mkdir_p");
    size_t len = strlen(path);
    /* The scratch copy is a userdata: an error leaves nothing to free. */
    char *buf = lua_newuserdatauv(L, len + 1, 0);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')
            continue; /* "a//b": the empty component is the same directory */
        char saved = buf[i];
        buf[i] = '\0';
        struct stat sb;
        if (mkdir(buf, 0777) != 0) {
            int err = errno;
            if (err != EEXIST)
                return push_oserror(L, buf, err);
            if (stat(buf, &sb) != 0)
                return push_oserror(L, buf, errno);
            if (!S_ISDIR(sb.st_mode))
                return push_oserror(L, buf, ENOTDIR);
        }
        buf[i] = saved;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* nftw has no user pointer: the first failure of one remove_tree call (one at a time). */
static int remove_errno;
static char remove_path[PATH_MAX];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) {
        remove_errno = errno;
        snprintf(remove_path, sizeof remove_path, "%s", path);
        return 1;
    }
    return 0;
}

/* process.remove_tree(path) -> true | nil, "path: reason": path and everything under it
 * (like rm -rf; symbolic links are removed, never followed; a missing path is no error). */
static int l_remove_tree(lua_State *L)
{
    const char *path = checkpath(L, 1, "remove_tree");
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? (lua_pushboolean(L, 1), 1) : push_oserror(L, path, errno);
    remove_errno = 0;
    int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc != 0)
        return remove_errno ? push_oserror(L, remove_path, remove_errno) : push_oserror(L, path, errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* An open directory as a userdata, so an error while listing still closes it (liolib's way). */
#define LOOM_DIR_T "loom.process.dir"

static int dir_release(lua_State *L)
{
    DIR **d = luaL_checkudata(L, 1, LOOM_DIR_T);
    if (*d) {
        closedir(*d);
        *d = NULL;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* process.list_dir(path) -> {names, sorted, without . and ..} | nil, "path: reason" */
static int l_list_dir(lua_State *L)
{
    const char *path = checkpath(L, 1, "list_dir");
    DIR **d = lua_newuserdatauv(L, sizeof *d, 0);
    *d = NULL;
    if (luaL_newmetatable(L, LOOM_DIR_T)) {
        lua_pushcfunction(L, dir_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    *d = opendir(path);
    if (!*d)
        return push_oserror(L, path, errno);
    lua_newtable(L); /* the names, unsorted */
    lua_Integer n = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(*d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            lua_pushstring(L, e->d_name);
            lua_rawseti(L, -2, ++n);
        }
        errno = 0;
    }
    int err = errno;
    closedir(*d);
    *d = NULL;
    if (err)
        return push_oserror(L, path, err);
    /* Sort pointers to the strings the table keeps alive, then build the result. */
    const char **names = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *names, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        names[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof *names, by_name);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_pushstring(L, names[i - 1]);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

/* process.readlink(path) -> the link's text | nil, "path: reason" */
static int l_readlink(lua_State *L)
{
    const char *path = checkpath(L, 1, "readlink");
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf);
    if (n < 0)
        return push_oserror(L, path, errno);
    if ((size_t)n == sizeof buf)
        return push_oserror(L, path, ENAMETOOLONG);
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

/* process.realpath(path) -> the absolute path, links resolved | nil, "path: reason" */
static int l_realpath(lua_State *L)
{
    const char *path = checkpath(L, 1, "realpath");
    char buf[PATH_MAX];
    if (!realpath(path, buf))
        return push_oserror(L, path, errno);
    lua_pushstring(L, buf);
    return 1;
}

static const char *type_name(mode_t mode)
{
    return S_ISREG(mode)    ? "file"
           : S_ISDIR(mode)  ? "directory"
           : S_ISLNK(mode)  ? "link"
           : S_ISFIFO(mode) ? "fifo"
           : S_ISSOCK(mode) ? "socket"
           : S_ISCHR(mode)  ? "character device"
           : S_ISBLK(mode)  ? "block device"
                            : "unknown";
}

/* process.file_type(path [, follow = true]) -> "file" | "directory" | "link" | "fifo" |
 * "socket" | "character device" | "block device" | nil, "path: reason" (a link is only
 * reported with follow = false). */
static int l_file_type(lua_State *L)
{
    const char *path = checkpath(L, 1, "file_type");
    int follow = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    struct stat sb;
    if ((follow ? stat(path, &sb) : lstat(path, &sb)) != 0)
        return push_oserror(L, path, errno);
    lua_pushstring(L, type_name(sb.st_mode));
    return 1;
}

/* process.is_regular_file(path) -> true when path (links followed) is a regular file. */
static int l_is_regular_file(lua_State *L)
{
    const char *path = checkpath(L, 1, "is_regular_file");
    struct stat sb;
    lua_pushboolean(L, stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
    return 1;
}

/* ---- child processes without a shell ---- */

extern char **environ;

/* A redirection option: a path string, or nil for the default. The value stays on the
 * stack (an __index may return a string nothing else holds). */
static const char *redirect(lua_State *L, int opts, const char *field, const char *def)
{
    int t = lua_isnil(L, opts) ? (lua_pushnil(L), LUA_TNIL) : lua_getfield(L, opts, field);
    if (t == LUA_TSTRING)
        return lua_tostring(L, -1);
    if (t != LUA_TNIL)
        luaL_error(L, "process.spawn: opts.%s must be a path, got %s", field, luaL_typename(L, -1));
    return def;
}

/* process.spawn({program, arg, ...} [, {stdin = path, stdout = path, stderr = path | "stdout"}])
 *   -> pid | nil, message
 * Starts program (looked up in PATH when it has no slash) with exactly these arguments: no
 * shell, so a path may hold any character. stdin defaults to /dev/null, stdout and stderr to
 * ours; an output file is created or truncated. Reap it with process.wait. */
static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    /* Everything that may run Lua code (metamethods) comes before any raw pointer is kept. */
    const char *in = redirect(L, 2, "stdin", "/dev/null");
    const char *out = redirect(L, 2, "stdout", NULL);
    const char *err = redirect(L, 2, "stderr", NULL);
    lua_Integer n = luaL_len(L, 1);
    if (n < 1)
        return luaL_error(L, "process.spawn: the argument list is empty");
    if (n > 65536)
        return luaL_error(L, "process.spawn: %I arguments, at most 65536", n);
    /* argv points into the strings of the table at 1 (raw reads only from here on). */
    char **argv = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *argv, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
            return luaL_error(L, "process.spawn: argument %I must be a string, got %s", i,
                              luaL_typename(L, -1));
        size_t len;
        const char *arg = lua_tolstring(L, -1, &len);
        memcpy(&argv[i - 1], &arg, sizeof arg); /* posix_spawn's argv is char *const[] */
        if (strlen(arg) != len)
            return luaL_error(L, "process.spawn: argument %I contains a NUL byte", i);
        lua_pop(L, 1);
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return luaL_error(L, "not enough memory");
    int rc = posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
    if (rc == 0 && out)
        rc = posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (rc == 0 && err && strcmp(err, "stdout") == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else if (rc == 0 && err)
        rc = posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    pid_t pid = -1;
    if (rc == 0)
        rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return push_oserror(L, argv[0], rc);
    lua_pushinteger(L, (lua_Integer)pid);
    return 1;
}

/* process.wait(pid [, block = false]) -> exit status (128 + signal number when a signal
 * ended it) | nil while it runs (without block) | nil, message (not our child). */
static int l_wait(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    luaL_argcheck(L, pid > 0, 1, "pid must be > 0");
    int block = lua_toboolean(L, 2), status = 0;
    pid_t got;
    do
        got = waitpid((pid_t)pid, &status, block ? 0 : WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "process %I: %s", pid, strerror(errno));
        return 2;
    }
    if (got == 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 1;
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
    {"mkdir_p", l_mkdir_p},
    {"remove_tree", l_remove_tree},
    {"list_dir", l_list_dir},
    {"readlink", l_readlink},
    {"realpath", l_realpath},
    {"file_type", l_file_type},
    {"is_regular_file", l_is_regular_file},
    {"spawn", l_spawn},
    {"wait", l_wait},
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
