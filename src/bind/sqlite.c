/* sqlite.c (binding): a small SQLite binding for the run store: open (WAL + busy timeout),
 * exec, prepared statements (bind/step/row), rows/run helpers. Not an ORM, not the schema. */
#include "bind.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define LOOM_DB_T "loom.sqlite.db"
#define LOOM_STMT_T "loom.sqlite.stmt"

typedef struct Db {
    sqlite3 *db; /* NULL once closed */
    int timeout; /* ms to wait for a lock (busy timeout, and journal switches) */
} Db;

/* A statement's first user value is its Db userdata, so the connection outlives it. */
typedef struct Stmt {
    sqlite3_stmt *stmt; /* NULL once finalized */
} Stmt;

static Db *checkdb(lua_State *L, int idx)
{
    Db *d = luaL_checkudata(L, idx, LOOM_DB_T);
    if (!d->db)
        luaL_error(L, "attempt to use a closed database");
    return d;
}

static Stmt *checkstmt(lua_State *L, int idx)
{
    Stmt *s = luaL_checkudata(L, idx, LOOM_STMT_T);
    if (!s->stmt)
        luaL_error(L, "attempt to use a closed statement");
    return s;
}

/* ---- connections ---- */

static int db_release(lua_State *L)
{
    Db *d = luaL_checkudata(L, 1, LOOM_DB_T);
    if (d->db) {
        /* close_v2 waits for statements still alive to be finalized by their __gc. */
        sqlite3_close_v2(d->db);
        d->db = NULL;
    }
    return 0;
}

/* Run one pragma or statement during open; on failure, close and return the message. */
static const char *setup_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sqlite3_errmsg(db);
    return NULL;
}

/* The connection's journal mode, lower case, into out (size bytes); SQLITE_OK or a code. */
static int journal_mode(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    out[0] = '\0';
    if (rc == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(st, 0);
        size_t i = 0;
        for (; m && m[i] && i + 1 < size; i++)
            out[i] = (char)tolower(m[i]);
        out[i] = '\0';
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* PRAGMA journal_mode=mode ("wal" or "delete"). The switch needs the file to itself, and
 * SQLite does not call the busy handler for it: four processes opening a new run database
 * at once failed with "database is locked" at once. So the mode is read first (a WAL file
 * stays WAL: the usual open takes no lock for it), and a busy switch is tried again every
 * 10 ms for up to timeout_ms. A mode the file cannot take (":memory:" stays "memory") is
 * left as SQLite leaves it, as before. NULL, or the message. */
static const char *set_journal(sqlite3 *db, const char *mode, int timeout_ms)
{
    char sql[32], now[16];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    for (int waited = 0;; waited += 10) {
        int rc = journal_mode(db, "PRAGMA journal_mode", now, sizeof now);
        if (rc == SQLITE_OK && strcmp(now, mode) != 0)
            rc = journal_mode(db, sql, now, sizeof now);
        if (rc == SQLITE_OK)
            return NULL;
        if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) || waited >= timeout_ms)
            return sqlite3_errmsg(db);
        sqlite3_sleep(10);
    }
}

/* A read-only connection to a WAL database needs its -shm file; on a read-only mount it
 * cannot be created, and SQLite can then only read the file as immutable (no locks: right
 * for a mount nobody can write to). The URI for that, percent-encoded, in a Lua buffer. */
static const char *immutable_uri(lua_State *L, const char *path)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (isalnum(*p) || strchr("/-._~", *p)) {
            luaL_addchar(&b, (char)*p);
        } else {
            char hex[4];
            snprintf(hex, sizeof hex, "%%%02X", (unsigned)*p);
            luaL_addlstring(&b, hex, 3);
        }
    }
    luaL_addstring(&b, "?immutable=1");
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* A read on a fresh read-only connection: SQLITE_CANTOPEN when a WAL database's -shm file
 * can be neither opened nor created. */
static int first_read(sqlite3 *db)
{
    return sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
}

/* sqlite.open(path [, {timeout = ms, journal = "wal"|"delete"|"keep", readonly = false}])
 *   -> db | nil, message ("keep": the file's journal mode is left as it is) */
static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int timeout = 30000, readonly = 0;
    const char *journal = "wal";
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        /* The three values stay on the stack: journal points into one of them. */
        if (lua_getfield(L, 2, "timeout") != LUA_TNIL)
            timeout = (int)luaL_checkinteger(L, -1);
        if (lua_getfield(L, 2, "journal") != LUA_TNIL)
            journal = luaL_checkstring(L, -1);
        lua_getfield(L, 2, "readonly");
        readonly = lua_toboolean(L, -1);
    }
    luaL_argcheck(L, strcmp(journal, "wal") == 0 || strcmp(journal, "delete") == 0 ||
                         strcmp(journal, "keep") == 0, 2,
                  "journal must be \"wal\", \"delete\" or \"keep\"");
    const char *uri = readonly ? immutable_uri(L, path) : NULL;
    Db *d = lua_newuserdatauv(L, sizeof *d, 0);
    d->db = NULL;
    luaL_setmetatable(L, LOOM_DB_T);
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &d->db, flags, NULL);
    if (rc == SQLITE_OK && readonly && (first_read(d->db) & 0xff) == SQLITE_CANTOPEN) {
        sqlite3_close_v2(d->db);
        d->db = NULL;
        rc = sqlite3_open_v2(uri, &d->db, flags | SQLITE_OPEN_URI, NULL);
    }
    if (rc != SQLITE_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open database %s: %s", path,
                        d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(d->db);
        d->db = NULL;
        return 2;
    }
    sqlite3_busy_timeout(d->db, timeout);
    d->timeout = timeout;
    const char *err = NULL;
    if (!readonly && strcmp(journal, "keep") != 0)
        err = set_journal(d->db, journal, timeout);
    if (!err && !readonly)
        err = setup_exec(d->db, "PRAGMA synchronous=NORMAL");
    if (!err)
        err = setup_exec(d->db, "PRAGMA foreign_keys=ON");
    if (err) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open database %s: %s", path, err);
        sqlite3_close_v2(d->db);
        d->db = NULL;
        return 2;
    }
    return 1;
}

/* Raise the connection's last error; the caller holds no C memory. */
static int raise_db(lua_State *L, sqlite3 *db, const char *fn)
{
    return luaL_error(L, "sqlite %s: %s", fn, sqlite3_errmsg(db));
}

/* db:journal(mode): PRAGMA journal_mode=mode ("wal" or "delete"), waiting for the file as
 * long as the connection's timeout (set_journal). */
static int db_journal(lua_State *L)
{
    Db *d = checkdb(L, 1);
    const char *mode = luaL_checkstring(L, 2);
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "delete") != 0)
        return luaL_error(L, "sqlite journal: mode must be \"wal\" or \"delete\", got \"%s\"", mode);
    const char *err = set_journal(d->db, mode, d->timeout);
    if (err)
        return luaL_error(L, "sqlite journal: %s", err);
    return 0;
}

/* db:exec(sql): one or more statements without parameters or results. */
static int db_exec(lua_State *L)
{
    Db *d = checkdb(L, 1);
    const char *sql = luaL_checkstring(L, 2);
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lua_pushstring(L, msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return luaL_error(L, "sqlite exec: %s", lua_tostring(L, -1));
    }
    return 0;
}

/* Push a statement userdata for sql (empty first, so a failed prepare leaves nothing). */
static Stmt *push_stmt(lua_State *L, int db_idx, const char *sql)
{
    Db *d = checkdb(L, db_idx);
    Stmt *s = lua_newuserdatauv(L, sizeof *s, 1);
    s->stmt = NULL;
    luaL_setmetatable(L, LOOM_STMT_T);
    lua_pushvalue(L, db_idx);
    lua_setiuservalue(L, -2, 1);
    const char *tail = NULL;
    if (sqlite3_prepare_v2(d->db, sql, -1, &s->stmt, &tail) != SQLITE_OK)
        raise_db(L, d->db, "prepare");
    if (!s->stmt)
        luaL_error(L, "sqlite prepare: no statement in '%s'", sql);
    return s;
}

/* db:prepare(sql) -> stmt */
static int db_prepare(lua_State *L)
{
    luaL_checkstring(L, 2);
    push_stmt(L, 1, lua_tostring(L, 2));
    return 1;
}

/* ---- statements ---- */

static int stmt_release(lua_State *L)
{
    Stmt *s = luaL_checkudata(L, 1, LOOM_STMT_T);
    if (s->stmt) {
        sqlite3_finalize(s->stmt);
        s->stmt = NULL;
    }
    return 0;
}

/* Bind Lua values first..top to the statement's parameters 1..n, after a reset. */
static void bind_values(lua_State *L, Stmt *s, int first)
{
    sqlite3_reset(s->stmt);
    sqlite3_clear_bindings(s->stmt);
    int top = lua_gettop(L), want = sqlite3_bind_parameter_count(s->stmt);
    if (top - first + 1 > want)
        luaL_error(L, "sqlite bind: %d values for %d parameters", top - first + 1, want);
    for (int i = first; i <= top; i++) {
        int k = i - first + 1, rc = SQLITE_OK;
        switch (lua_type(L, i)) {
        case LUA_TNIL:
            rc = sqlite3_bind_null(s->stmt, k);
            break;
        case LUA_TBOOLEAN:
            rc = sqlite3_bind_int(s->stmt, k, lua_toboolean(L, i));
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, i))
                rc = sqlite3_bind_int64(s->stmt, k, (sqlite3_int64)lua_tointeger(L, i));
            else
                rc = sqlite3_bind_double(s->stmt, k, lua_tonumber(L, i));
            break;
        case LUA_TSTRING: {
            size_t n;
            const char *text = lua_tolstring(L, i, &n);
            rc = sqlite3_bind_text(s->stmt, k, text, (int)n, SQLITE_TRANSIENT);
            break;
        }
        default:
            luaL_error(L, "sqlite bind: value %d is a %s, expected nil, boolean, number or string",
                       k, luaL_typename(L, i));
        }
        if (rc != SQLITE_OK)
            luaL_error(L, "sqlite bind: %s", sqlite3_errstr(rc));
    }
}

/* stmt:bind(v1, v2, ...) -> stmt: reset and bind positional parameters. */
static int stmt_bind(lua_State *L)
{
    Stmt *s = checkstmt(L, 1);
    bind_values(L, s, 2);
    lua_settop(L, 1);
    return 1;
}

/* Step once: 1 for a row, 0 when done; raises on error (after resetting the statement). */
static int step(lua_State *L, Stmt *s)
{
    int rc = sqlite3_step(s->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    sqlite3 *db = sqlite3_db_handle(s->stmt);
    lua_pushstring(L, sqlite3_errmsg(db));
    sqlite3_reset(s->stmt);
    luaL_error(L, "sqlite step: %s", lua_tostring(L, -1));
    return 0;
}

/* stmt:step() -> true when a row is ready, false when the statement is done. */
static int stmt_step(lua_State *L)
{
    lua_pushboolean(L, step(L, checkstmt(L, 1)));
    return 1;
}

static void push_column(lua_State *L, sqlite3_stmt *stmt, int i)
{
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
        lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(stmt, i));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, sqlite3_column_double(stmt, i));
        break;
    case SQLITE_NULL:
        lua_pushnil(L);
        break;
    default:
        lua_pushlstring(L, (const char *)sqlite3_column_blob(stmt, i),
                        (size_t)sqlite3_column_bytes(stmt, i));
    }
}

/* Push the current row as {column_name = value, ...}. */
static void push_row(lua_State *L, sqlite3_stmt *stmt)
{
    int n = sqlite3_column_count(stmt);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        push_column(L, stmt, i);
        lua_setfield(L, -2, sqlite3_column_name(stmt, i));
    }
}

/* stmt:row() -> {column = value} of the current row. */
static int stmt_row(lua_State *L)
{
    push_row(L, checkstmt(L, 1)->stmt);
    return 1;
}

/* stmt:values() -> v1, v2, ... of the current row, in column order. */
static int stmt_values(lua_State *L)
{
    Stmt *s = checkstmt(L, 1);
    int n = sqlite3_column_count(s->stmt);
    luaL_checkstack(L, n, "too many columns");
    for (int i = 0; i < n; i++)
        push_column(L, s->stmt, i);
    return n;
}

/* stmt:columns() -> {"name1", "name2", ...} */
static int stmt_columns(lua_State *L)
{
    Stmt *s = checkstmt(L, 1);
    int n = sqlite3_column_count(s->stmt);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, sqlite3_column_name(s->stmt, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int stmt_reset(lua_State *L)
{
    sqlite3_reset(checkstmt(L, 1)->stmt);
    return 0;
}

/* stmt:exec(v1, ...) -> changes: bind, step to the end, reset (for INSERT/UPDATE). */
static int stmt_exec(lua_State *L)
{
    Stmt *s = checkstmt(L, 1);
    bind_values(L, s, 2);
    while (step(L, s))
        ;
    sqlite3_reset(s->stmt);
    lua_pushinteger(L, sqlite3_changes(sqlite3_db_handle(s->stmt)));
    return 1;
}

/* ---- connection helpers over a temporary statement ---- */

/* db:rows(sql, v1, ...) -> list of {column = value} rows. */
static int db_rows(lua_State *L)
{
    const char *sql = luaL_checkstring(L, 2);
    Stmt *s = push_stmt(L, 1, sql);
    lua_insert(L, 3); /* stack: db sql stmt v1 ... */
    bind_values(L, s, 4);
    lua_settop(L, 3);
    lua_newtable(L);
    for (lua_Integer i = 1; step(L, s); i++) {
        push_row(L, s->stmt);
        lua_rawseti(L, -2, i);
    }
    sqlite3_finalize(s->stmt);
    s->stmt = NULL;
    return 1;
}

/* db:run(sql, v1, ...) -> changes: one statement with parameters and no result rows. */
static int db_run(lua_State *L)
{
    const char *sql = luaL_checkstring(L, 2);
    Stmt *s = push_stmt(L, 1, sql);
    lua_replace(L, 2); /* stack: db stmt v1 ... */
    bind_values(L, s, 3);
    while (step(L, s))
        ;
    sqlite3_finalize(s->stmt);
    s->stmt = NULL;
    lua_pushinteger(L, sqlite3_changes(checkdb(L, 1)->db));
    return 1;
}

static int db_changes(lua_State *L)
{
    lua_pushinteger(L, sqlite3_changes(checkdb(L, 1)->db));
    return 1;
}

static int db_last_insert_rowid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sqlite3_last_insert_rowid(checkdb(L, 1)->db));
    return 1;
}

/* db:in_transaction() -> true between BEGIN and COMMIT/ROLLBACK. */
static int db_in_transaction(lua_State *L)
{
    lua_pushboolean(L, !sqlite3_get_autocommit(checkdb(L, 1)->db));
    return 1;
}

static int db_tostring(lua_State *L)
{
    Db *d = luaL_checkudata(L, 1, LOOM_DB_T);
    const char *file = d->db ? sqlite3_db_filename(d->db, "main") : NULL;
    lua_pushfstring(L, "sqlite database (%s)", d->db ? (file ? file : "memory") : "closed");
    return 1;
}

static int stmt_tostring(lua_State *L)
{
    Stmt *s = luaL_checkudata(L, 1, LOOM_STMT_T);
    lua_pushfstring(L, "sqlite statement (%s)", s->stmt ? sqlite3_sql(s->stmt) : "closed");
    return 1;
}

static const luaL_Reg db_methods[] = {
    {"exec", db_exec},
    {"journal", db_journal},
    {"prepare", db_prepare},
    {"rows", db_rows},
    {"run", db_run},
    {"changes", db_changes},
    {"last_insert_rowid", db_last_insert_rowid},
    {"in_transaction", db_in_transaction},
    {"close", db_release},
    {NULL, NULL},
};

static const luaL_Reg db_meta[] = {
    {"__tostring", db_tostring},
    {NULL, NULL},
};

static const loom_class db_class = {
    .tname = LOOM_DB_T, .name = "sqlite database", .methods = db_methods, .meta = db_meta,
    .release = db_release,
};

static const luaL_Reg stmt_methods[] = {
    {"bind", stmt_bind},
    {"step", stmt_step},
    {"row", stmt_row},
    {"values", stmt_values},
    {"columns", stmt_columns},
    {"reset", stmt_reset},
    {"exec", stmt_exec},
    {"close", stmt_release},
    {NULL, NULL},
};

static const luaL_Reg stmt_meta[] = {
    {"__tostring", stmt_tostring},
    {NULL, NULL},
};

static const loom_class stmt_class = {
    .tname = LOOM_STMT_T, .name = "sqlite statement", .methods = stmt_methods, .meta = stmt_meta,
    .release = stmt_release,
};

static const luaL_Reg module_functions[] = {
    {"open", l_open},
    {NULL, NULL},
};


int loom_open_sqlite(lua_State *L)
{
    loom_newclass(L, &db_class);
    loom_newclass(L, &stmt_class);
    lua_pop(L, 2);
    luaL_newlib(L, module_functions);
    lua_pushstring(L, sqlite3_libversion());
    lua_setfield(L, -2, "version");
    return 1;
}
