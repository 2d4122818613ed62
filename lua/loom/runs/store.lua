-- loom.runs.store: the SQLite run store: schema, recording a run (params, metrics batched in
-- transactions, results, artifacts, status), queries, removal and merging of databases.
-- Not the command line (loom.runs.cli) nor the run object experiments see (loom.runner).
local core = require "loom.core"
local json = require "loom.runs.json"

local sqlite, process = core.sqlite, core.process

local store = {}

local Store = {}
Store.__index = Store

store.SCHEMA_VERSION = 1
store.STATUSES = {"running", "completed", "failed", "interrupted", "died"}
local TERMINAL = {completed = true, failed = true, interrupted = true, died = true}
store.TERMINAL = TERMINAL

local SCHEMA = [[
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,          -- 8 hex digits, unique across machines (merging keeps it)
  name TEXT NOT NULL,           -- the experiment's name
  script TEXT,                  -- absolute path of the script
  script_hash TEXT,             -- SHA-256 of the script's content
  seed INTEGER,
  status TEXT NOT NULL,         -- running, completed, failed, interrupted, died
  started REAL,                 -- Unix time
  ended REAL,
  host TEXT,
  pid INTEGER,
  loom_version TEXT,
  sweep TEXT,                   -- sweep id when started by loom sweep
  sweep_point INTEGER,          -- 0-based index of the point in the sweep's grid
  artifacts_dir TEXT,           -- absolute path of runs/<id>/
  error TEXT                    -- the error message of a failed or interrupted run
);
CREATE TABLE IF NOT EXISTS params (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, value, type TEXT NOT NULL,  -- type: number, string, boolean
  PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS param_docs (  -- the one-line description of each param
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, doc TEXT NOT NULL,
  PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL, name TEXT NOT NULL, value REAL);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, name, step);
CREATE TABLE IF NOT EXISTS results (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, value, type TEXT NOT NULL,  -- type: number, string, boolean, json
  PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS artifacts (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, path TEXT NOT NULL, created REAL,
  PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS sweeps (
  id TEXT PRIMARY KEY, name TEXT, script TEXT, mode TEXT NOT NULL,  -- mode: local, slurm
  job_id TEXT, dir TEXT, created REAL, points INTEGER, sort TEXT);
CREATE TABLE IF NOT EXISTS sweep_points (
  sweep TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL, args TEXT NOT NULL,  -- "k=v k2=v2" as given to loom run
  PRIMARY KEY (sweep, idx));
CREATE TABLE IF NOT EXISTS provenance (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, value,   -- git_commit, git_dirty, blas_config, cpu_model, env.LOOM_DB, ...
  PRIMARY KEY (run_id, name));
CREATE INDEX IF NOT EXISTS runs_by_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs (sweep);
]]

-- Metrics are written in one transaction per batch: this many rows or this many seconds.
local BATCH_ROWS, BATCH_SECONDS = 2000, 2.0

-- The database path from --db, else $LOOM_DB, else runs.db in the working directory.
function store.default_path(db)
  if db and db ~= "" then return db end
  local env = os.getenv("LOOM_DB")
  if env and env ~= "" then return env end
  return "runs.db"
end

-- "/a/b/../c/./d" -> "/a/c/d": the path as a person would write it (no symlinks resolved).
function store.normalize(path)
  local absolute = path:sub(1, 1) == "/"
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." and #parts > 0 and parts[#parts] ~= ".." then
      parts[#parts] = nil
    elseif part ~= "." and not (part == ".." and absolute) then
      parts[#parts + 1] = part
    end
  end
  local text = table.concat(parts, "/")
  if absolute then return "/" .. text end
  return text ~= "" and text or "."
end

function store.absolute(path)
  if path:sub(1, 1) == "/" then return store.normalize(path) end
  local cwd = assert(process.cwd())
  return store.normalize(cwd .. "/" .. path)
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end
store.dirname = dirname

function store.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- store.mkdir(dir) -> true | nil, message: dir and its missing parents (no shell).
function store.mkdir(dir)
  return process.mkdir_p(dir)
end

-- 8 random hex digits from the kernel (the experiment's generator must stay untouched).
function store.new_id()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(4)
  if f then f:close() end
  if not bytes or #bytes < 4 then
    return string.format("%08x", math.random(0, 0xffffffff))
  end
  return string.format("%08x", string.unpack("<I4", bytes))
end

-- SQLite's own words in an error from the binding, without position and function name.
function store.sqlite_message(err)
  return (tostring(err):gsub("^[^\n]-:%d+: ", ""):gsub("^sqlite %a+: ", ""):gsub("\n.*", ""))
end

-- Tables whose structure is checked at every open: all but metrics, so the check costs
-- what the number of runs costs, not the number of metric rows.
local CHECKED_TABLES = {"meta", "runs", "params", "results", "artifacts", "sweeps", "sweep_points"}
local RUN_COLUMNS

-- nil when db is a loom run database (nil, true when it has no tables yet), else why not.
-- Both readers and writers ask, so `loom runs` and `loom run` refuse the same files with the
-- same message. Damage is SQLite's corrupt/not-a-database errors or a failed quick_check;
-- other failures (a busy or unreadable file) are said as they are.
local function not_a_run_database(db, path)
  local ok, why, empty = pcall(function()
    local tables = {}
    for _, r in ipairs(db:rows("SELECT name FROM sqlite_master WHERE type = 'table'")) do
      tables[r.name] = true
    end
    if next(tables) == nil then return nil, true end
    local version = tables.meta and db:rows("SELECT value FROM meta WHERE key = 'schema_version'")[1]
    if not version or not tables.runs then
      return "not a loom run database (no loom schema_version in a meta table, or no runs table)"
    end
    local columns = {}
    for _, c in ipairs(db:rows("PRAGMA table_info(runs)")) do columns[c.name] = true end
    for _, c in ipairs(RUN_COLUMNS) do
      if not columns[c] then return "not a loom run database (its runs table has no column " .. c .. ")" end
    end
    if math.tointeger(version.value) ~= store.SCHEMA_VERSION then
      return string.format("a loom run database of schema %s; this loom reads schema %d",
        tostring(version.value), store.SCHEMA_VERSION)
    end
    for _, t in ipairs(CHECKED_TABLES) do
      if tables[t] then
        local r = db:rows("PRAGMA quick_check(" .. t .. ")")[1]
        local first = r and (r.quick_check or select(2, next(r)))
        if first ~= "ok" then error({damage = first or "no answer from quick_check"}, 0) end
      end
    end
    return nil
  end)
  if not ok then
    local msg = type(why) == "table" and why.damage or store.sqlite_message(why)
    if type(why) == "table" or msg:find("malformed", 1, true) or msg:find("not a database", 1, true) then
      return "the database is damaged (" .. msg .. "); refusing to use it (`sqlite3 " .. path
        .. " .recover` may save what is readable)"
    end
    return "cannot read it (" .. msg .. ")"
  end
  return why, empty
end

-- store.open(path [, {readonly = true, journal = "delete", timeout = ms}]) -> Store | nil, message
-- readonly: never writes nor takes a write lock (a database on a read-only mount works);
-- anything that is not a loom run database, or is damaged, is refused the same either way.
function store.open(path, opts)
  opts = opts or {}
  path = store.default_path(path)
  local journal = opts.journal or os.getenv("LOOM_DB_JOURNAL") or "wal"
  -- The journal mode is set once the file is known to be ours: a refused file stays untouched.
  local db, err = sqlite.open(path, {journal = "keep", readonly = opts.readonly,
    timeout = opts.timeout or 60000})
  if not db then
    -- Writers fail earlier than readers on some damage: give the reader's message.
    local ro = not opts.readonly and sqlite.open(path, {readonly = true, journal = "keep"})
    local why = ro and not_a_run_database(ro, path)
    if ro then ro:close() end
    if why then return nil, string.format("cannot use %s: %s", path, why) end
    return nil, err
  end
  local self = setmetatable({db = db, path = store.absolute(path), pending = {},
    last_flush = process.now(), readonly = opts.readonly or nil}, Store)
  local why, empty = not_a_run_database(db, path)
  if why then
    db:close()
    return nil, string.format("cannot use %s: %s", path, why)
  end
  if opts.readonly and empty then
    -- A file without tables yet: readers see the schema, in memory, and no runs.
    db:close()
    self.db = assert(sqlite.open(":memory:", {journal = "delete"}))
    self.db:exec(SCHEMA)
  end
  if not opts.readonly then
    local ok, serr = pcall(db.journal, db, journal)
    if ok then
      ok, serr = pcall(self.transaction, self, function()
        db:exec(SCHEMA)
        db:run("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", store.SCHEMA_VERSION)
      end)
    end
    if not ok then
      db:close()
      return nil, string.format("cannot open database %s: %s", path, serr)
    end
  end
  return self
end

-- A store that can write, or nil: self when it is writable, else a second connection that
-- waits at most timeout ms for the lock (default 0: never; a writer holds the lock, the file
-- or its mount is read-only: nil).
function Store:writer(timeout)
  if not self.readonly then return self end
  -- Keep the database's journal mode: a reader never converts a rollback journal to WAL.
  local mode = self.db:rows("PRAGMA journal_mode")[1]
  -- Its open takes the write lock once (the schema), so a busy database gives nil here.
  return (store.open(self.path, {timeout = timeout or 0,
    journal = (mode and mode.journal_mode == "wal") and "wal" or "delete"}))
end

-- On a read-only store, fn(writer, ...) through a second connection when one can write
-- within timeout ms; otherwise nothing happens and the result is 0.
local function through_writer(self, timeout, fn, ...)
  local w = self:writer(timeout)
  if not w then return 0 end
  local ok, n = pcall(fn, w, ...)
  w:close()
  return ok and n or 0
end

-- What readers do on the side, when they can without waiting: mark runs whose process is
-- gone as died, merge the databases of finished Slurm tasks.
function Store:upkeep()
  pcall(self.mark_died, self)
  pcall(self.sync_sweeps, self)
end

function Store:close()
  if self.db then
    local ok, err = pcall(self.flush, self)
    self.db:close()
    self.db = nil
    if not ok then error(err, 0) end
  end
end

-- Run fn inside BEGIN IMMEDIATE ... COMMIT (the write lock is taken up front, so a busy
-- database waits for the timeout instead of failing on the upgrade), ROLLBACK on error.
function Store:transaction(fn, ...)
  local db = self.db
  db:exec("BEGIN IMMEDIATE")
  local ok, err = pcall(fn, ...)
  if ok then
    ok, err = pcall(db.exec, db, "COMMIT")
  end
  if not ok then
    if db:in_transaction() then pcall(db.exec, db, "ROLLBACK") end
    error(err, 0)
  end
end

-- The directory of runs/<id>/ next to the database.
function Store:artifacts_dir(id)
  return dirname(self.path) .. "/runs/" .. id
end

local function value_type(v)
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" then return t end
  return "json"
end

local function stored_value(v)
  local t = value_type(v)
  if t == "boolean" then return v and "true" or "false", t end
  if t == "json" then return json.encode(v), t end
  return v, t
end

-- A stored (value, type) back to Lua: booleans come back as booleans, JSON as its text.
function store.decode(value, vtype)
  if vtype == "boolean" then return value == "true" end
  return value
end

-- Store:create_run{name, script, script_text, params, param_docs, seed, sweep, sweep_point,
-- version} -> id
function Store:create_run(r)
  local id = store.new_id()
  local script = r.script and store.absolute(r.script)
  local hash = r.script_text and require("loom.runs.sha256")(r.script_text)
  self:transaction(function()
    self.db:run([[INSERT INTO runs (id, name, script, script_hash, seed, status, started, host, pid,
      loom_version, sweep, sweep_point, artifacts_dir) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)]],
      id, r.name, script, hash, r.seed, process.time(), process.hostname(), process.pid(),
      r.version, r.sweep, r.sweep_point, self:artifacts_dir(id))
    local insert = self.db:prepare("INSERT INTO params (run_id, name, value, type) VALUES (?, ?, ?, ?)")
    for k, v in pairs(r.params or {}) do
      local sv, t = stored_value(v)
      insert:exec(id, k, sv, t)
    end
    insert:close()
    for k, doc in pairs(r.param_docs or {}) do
      self.db:run("INSERT INTO param_docs (run_id, name, doc) VALUES (?, ?, ?)", id, k, doc)
    end
  end)
  return id
end

-- Queue one metric; batches are written when large or old enough (Store:flush forces it).
function Store:log_metric(id, step, name, value)
  local p = self.pending
  p[#p + 1] = {id, step, name, value}
  if #p >= BATCH_ROWS or process.now() - self.last_flush >= BATCH_SECONDS then
    self:flush()
  end
end

function Store:flush()
  local p = self.pending
  self.last_flush = process.now()
  if #p == 0 then return end
  self.pending = {}
  local ok, err = pcall(self.transaction, self, function()
    local insert = self.db:prepare("INSERT INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)")
    for _, row in ipairs(p) do insert:exec(row[1], row[2], row[3], row[4]) end
    insert:close()
  end)
  if not ok then
    -- Rolled back (Ctrl-C mid-batch, a full disk): keep the rows for the next flush.
    table.move(self.pending, 1, #self.pending, #p + 1, p)
    self.pending = p
    error(string.format("cannot record metrics in %s: %s", self.path, store.sqlite_message(err)), 0)
  end
end

function Store:set_results(id, results)
  if type(results) ~= "table" then return end
  self:transaction(function()
    local insert = self.db:prepare("INSERT OR REPLACE INTO results (run_id, name, value, type) VALUES (?, ?, ?, ?)")
    for k, v in pairs(results) do
      local sv, t = stored_value(v)
      insert:exec(id, tostring(k), sv, t)
    end
    insert:close()
  end)
end

function Store:add_artifact(id, name, path)
  self:transaction(function()
    self.db:run("INSERT OR REPLACE INTO artifacts (run_id, name, path, created) VALUES (?, ?, ?, ?)",
      id, name, store.absolute(path), process.time())
  end)
end

-- Store:finish(id, status [, error]) -> status, error as recorded: flush metrics and record
-- the end. Metrics that cannot be written (a full disk) are dropped so the end still can
-- be, and the run is then recorded failed with the reason, never completed with holes.
function Store:finish(id, status, err)
  local ok, ferr = pcall(self.flush, self)
  if not ok then
    local lost = #self.pending
    self.pending = {}
    if status == "completed" then status = "failed" end
    local lost_text = string.format(" (%d metric rows lost)", lost)
    if err and err:find(ferr, 1, true) then
      err = err .. lost_text
    else
      err = (err and (err .. "; ") or "") .. ferr .. lost_text
    end
  end
  local function record()
    self:transaction(function()
      self.db:run("UPDATE runs SET status = ?, ended = ?, error = ? WHERE id = ?",
        status, process.time(), err, id)
    end)
  end
  if not pcall(record) then
    -- A full disk may still let the log be rewritten from its start: make room, try again.
    pcall(self.db.exec, self.db, "PRAGMA wal_checkpoint(RESTART)")
    record()
  end
  return status, err
end

-- ---- queries ----

-- The comm name of this process, to tell a recycled pid from our own program.
local own_comm
local function comm_of(pid)
  local f = io.open("/proc/" .. pid .. "/comm")
  if not f then return nil end
  local c = f:read("l")
  f:close()
  return c
end

local function zombie(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return false end
  local stat = f:read("a")
  f:close()
  return stat:match("%) (%a)") == "Z"
end

-- True when the run's process is gone from this host (its run can never finish).
local function process_gone(pid)
  if not process.alive(pid) or zombie(pid) then return true end
  own_comm = own_comm or comm_of("self")
  local c = comm_of(pid)
  return own_comm ~= nil and c ~= nil and c ~= own_comm
end

-- Runs still 'running' whose process is gone from this host become 'died' (on a read-only
-- store: when a writer can be had without waiting). -> the number marked
function Store:mark_died(gone)
  if not gone then
    local host = process.hostname()
    gone = {}
    for _, r in ipairs(self.db:rows("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", host)) do
      if r.pid and process_gone(r.pid) then gone[#gone + 1] = r.id end
    end
  end
  if #gone == 0 then return 0 end
  if self.readonly then return through_writer(self, 0, Store.mark_died, gone) end
  local ok = pcall(self.transaction, self, function()
    for _, id in ipairs(gone) do
      self.db:run([[UPDATE runs SET status = 'died', error = 'the process ended without recording
        an end (killed?)' WHERE id = ? AND status = 'running']], id)
    end
  end)
  return ok and #gone or 0
end

-- The id a user typed: a unique prefix of an id, or "last" (the most recent run).
function Store:resolve(text)
  if text == "last" then
    local r = self.db:rows("SELECT id FROM runs ORDER BY started DESC LIMIT 1")[1]
    if not r then return nil, "no runs in " .. self.path end
    return r.id
  end
  if not text:match("^%x+$") then return nil, string.format("'%s' is not a run id", text) end
  -- A range on the primary key (ids are lowercase hex; 'g' sorts after every hex digit).
  local rows = self.db:rows("SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 3",
    text:lower(), text:lower() .. "g")
  if #rows == 0 then return nil, string.format("no run with id '%s' in %s", text, self.path) end
  if #rows > 1 then
    return nil, string.format("run id '%s' is ambiguous (%s, %s%s)", text, rows[1].id, rows[2].id,
      rows[3] and ", ..." or "")
  end
  return rows[1].id
end

-- Params and results of a run as Lua tables (typed back).
function Store:params(id)
  local p = {}
  for _, r in ipairs(self.db:rows("SELECT name, value, type FROM params WHERE run_id = ?", id)) do
    p[r.name] = store.decode(r.value, r.type)
  end
  return p
end

-- The descriptions of a run's params: name -> text (runs recorded before they existed: {}).
function Store:param_docs(id)
  local docs = {}
  for _, r in ipairs(self.db:rows("SELECT name, doc FROM param_docs WHERE run_id = ?", id)) do
    docs[r.name] = r.doc
  end
  return docs
end

function Store:results(id)
  local res, types = {}, {}
  for _, r in ipairs(self.db:rows("SELECT name, value, type FROM results WHERE run_id = ?", id)) do
    res[r.name] = store.decode(r.value, r.type)
    types[r.name] = r.type
  end
  return res, types
end

function Store:artifacts(id)
  return self.db:rows("SELECT name, path, created FROM artifacts WHERE run_id = ? ORDER BY name", id)
end

-- One run's row with params, results and artifacts, or nil.
function Store:get(id)
  local r = self.db:rows("SELECT * FROM runs WHERE id = ?", id)[1]
  if not r then return nil end
  r.params = self:params(id)
  r.results, r.result_types = self:results(id)
  r.artifacts = self:artifacts(id)
  return r
end

-- Store:list{name = "...", status = "...", sweep = "...", params = {k = "v"}, limit = n,
--            where = loom.runs.where.compile(text)}
-- -> runs (oldest first) with params and results.
function Store:list(filter)
  filter = filter or {}
  local where, args = {}, {}
  if filter.name then where[#where + 1] = "name = ?"; args[#args + 1] = filter.name end
  if filter.status then where[#where + 1] = "status = ?"; args[#args + 1] = filter.status end
  if filter.sweep then where[#where + 1] = "sweep = ?"; args[#args + 1] = filter.sweep end
  for k, v in pairs(filter.params or {}) do
    -- Text matches strings and booleans; numbers compare as numbers, so 1e-3 finds 0.001.
    where[#where + 1] = [[id IN (SELECT run_id FROM params WHERE name = ? AND (CAST(value AS TEXT) = ?
      OR (typeof(value) IN ('integer', 'real') AND value = ?)))]]
    args[#args + 1] = k
    args[#args + 1] = tostring(v)
    args[#args + 1] = tonumber(v) or (0 / 0) -- NaN binds as NULL: matches nothing
  end
  if filter.where then
    -- A compiled --where (loom.runs.where): fixed SQL text, values bound.
    where[#where + 1] = filter.where.sql
    table.move(filter.where.args, 1, #filter.where.args, #args + 1, args)
  end
  local sql = "SELECT * FROM runs" .. (#where > 0 and (" WHERE " .. table.concat(where, " AND ")) or "")
    .. " ORDER BY started DESC" .. (filter.limit and (" LIMIT " .. math.tointeger(filter.limit)) or "")
  local rows = self.db:rows(sql, table.unpack(args))
  local out = {}
  for i = #rows, 1, -1 do out[#out + 1] = rows[i] end
  return self:attach(out)
end

-- Metric names of a run, and one metric's (steps, values).
function Store:metric_names(id)
  local names = {}
  for _, r in ipairs(self.db:rows("SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name", id)) do
    names[#names + 1] = r.name
  end
  return names
end

function Store:metric(id, name)
  local steps, values = {}, {}
  local stmt <close> = self.db:prepare("SELECT step, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step, rowid")
  stmt:bind(id, name)
  while stmt:step() do
    local s, v = stmt:values()
    steps[#steps + 1] = s
    values[#values + 1] = v or (0 / 0)
  end
  return steps, values
end

-- Per metric: count, first, last, min, max.
function Store:metric_summary(id)
  return self.db:rows([[SELECT name, COUNT(*) AS count, MIN(value) AS min, MAX(value) AS max,
    MAX(step) AS last_step FROM metrics WHERE run_id = ? GROUP BY name ORDER BY name]], id)
end

function Store:last_metric(id, name)
  local r = self.db:rows("SELECT value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step DESC, rowid DESC LIMIT 1", id, name)[1]
  return r and r.value
end

-- Remove runs with their rows; returns the artifact directories to delete.
function Store:remove(ids)
  local dirs = {}
  self:transaction(function()
    for _, id in ipairs(ids) do
      local r = self.db:rows("SELECT artifacts_dir FROM runs WHERE id = ?", id)[1]
      if r and r.artifacts_dir then dirs[#dirs + 1] = r.artifacts_dir end
      for _, t in ipairs{"metrics", "params", "param_docs", "results", "artifacts", "provenance"} do
        self.db:run("DELETE FROM " .. t .. " WHERE run_id = ?", id)
      end
      self.db:run("DELETE FROM runs WHERE id = ?", id)
    end
  end)
  return dirs
end

-- ---- merging ----

RUN_COLUMNS = {"id", "name", "script", "script_hash", "seed", "status", "started", "ended",
  "host", "pid", "loom_version", "sweep", "sweep_point", "artifacts_dir", "error"}

local function copy_rows(from, to, sql_select, sql_insert, id)
  local src <close> = from.db:prepare(sql_select)
  src:bind(id)
  local dst <close> = to.db:prepare(sql_insert)
  while src:step() do dst:exec(src:values()) end
end

-- Copy one run (row, params, metrics, results, artifacts) from another store, replacing ours.
local function copy_run(from, to, row)
  local id = row.id
  for _, t in ipairs{"metrics", "params", "param_docs", "results", "artifacts", "provenance"} do
    to.db:run("DELETE FROM " .. t .. " WHERE run_id = ?", id)
  end
  local values = {}
  for i, c in ipairs(RUN_COLUMNS) do values[i] = row[c] end
  to.db:run("INSERT OR REPLACE INTO runs (" .. table.concat(RUN_COLUMNS, ", ") .. ") VALUES ("
    .. string.rep("?", #RUN_COLUMNS, ", ") .. ")", table.unpack(values, 1, #RUN_COLUMNS))
  copy_rows(from, to, "SELECT run_id, name, value, type FROM params WHERE run_id = ?",
    "INSERT INTO params (run_id, name, value, type) VALUES (?, ?, ?, ?)", id)
  -- A database older than param descriptions has no such table.
  if #from.db:rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'param_docs'") > 0 then
    copy_rows(from, to, "SELECT run_id, name, doc FROM param_docs WHERE run_id = ?",
      "INSERT INTO param_docs (run_id, name, doc) VALUES (?, ?, ?)", id)
  end
  copy_rows(from, to, "SELECT run_id, step, name, value FROM metrics WHERE run_id = ? ORDER BY rowid",
    "INSERT INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)", id)
  copy_rows(from, to, "SELECT run_id, name, value, type FROM results WHERE run_id = ?",
    "INSERT INTO results (run_id, name, value, type) VALUES (?, ?, ?, ?)", id)
  copy_rows(from, to, "SELECT run_id, name, path, created FROM artifacts WHERE run_id = ?",
    "INSERT INTO artifacts (run_id, name, path, created) VALUES (?, ?, ?, ?)", id)
  if from.db:rows("SELECT name FROM sqlite_master WHERE name = 'provenance'")[1] then
    copy_rows(from, to, "SELECT run_id, name, value FROM provenance WHERE run_id = ?",
      "INSERT INTO provenance (run_id, name, value) VALUES (?, ?, ?)", id)
  end
end

-- Store:merge(path) -> number of runs copied: runs of the other database that we lack or
-- that changed since (a run we hold in a final state with the same end is skipped).
function Store:merge(path)
  local from, err = store.open(path, {readonly = true})
  if not from then return nil, err end
  local copied = 0
  local ok, merr = pcall(function()
    local theirs = from.db:rows("SELECT * FROM runs")
    self:transaction(function()
      for _, row in ipairs(theirs) do
        local mine = self.db:rows("SELECT status, ended FROM runs WHERE id = ?", row.id)[1]
        if not (mine and TERMINAL[mine.status] and mine.status == row.status and mine.ended == row.ended) then
          copy_run(from, self, row)
          copied = copied + 1
        end
      end
    end)
  end)
  from.db:close()
  if not ok then return nil, string.format("cannot merge %s: %s", path, merr) end
  return copied
end

-- Merge the per-task databases of this store's Slurm sweeps (see docs/runs.md). A read-only
-- store merges only if it can without waiting, unless wait (sweep --status must see them).
function Store:sync_sweeps(wait)
  if self.readonly then
    if not self.db:rows("SELECT id FROM sweeps WHERE mode = 'slurm' LIMIT 1")[1] then return 0 end
    return through_writer(self, wait and 60000 or 0, Store.sync_sweeps)
  end
  local total = 0
  for _, s in ipairs(self.db:rows("SELECT id, dir FROM sweeps WHERE mode = 'slurm'")) do
    for _, file in ipairs(process.list_dir(s.dir .. "/tasks") or {}) do
      if file:match("%.db$") then
        local n = self:merge(s.dir .. "/tasks/" .. file)
        total = total + (n or 0)
      end
    end
  end
  return total
end

-- ---- provenance and bulk queries (loom.runs.provenance, reports, --where) ----

-- Store:set_provenance(id, {name = value, ...}): values are text, numbers or booleans
-- (booleans are stored as "true"/"false").
function Store:set_provenance(id, t)
  self:transaction(function()
    local insert = self.db:prepare("INSERT OR REPLACE INTO provenance (run_id, name, value) VALUES (?, ?, ?)")
    for k, v in pairs(t) do
      if type(v) == "boolean" then v = v and "true" or "false" end
      insert:exec(id, k, v)
    end
    insert:close()
  end)
end

-- Store:provenance(id) -> {name = value} (empty for runs recorded before provenance existed).
function Store:provenance(id)
  local out = {}
  for _, r in ipairs(self.db:rows("SELECT name, value FROM provenance WHERE run_id = ?", id)) do
    out[r.name] = r.value
  end
  return out
end

-- Run ids in chunks that stay under SQLite's limit of bound variables.
local function id_chunks(ids, size)
  local chunks = {}
  for i = 1, #ids, size do chunks[#chunks + 1] = table.move(ids, i, math.min(i + size - 1, #ids), 1, {}) end
  return chunks
end

-- Rows of `sql .. " IN (?, ...)"` for every id, a few hundred ids per query.
function Store:rows_for_ids(sql, ids)
  local out = {}
  for _, chunk in ipairs(id_chunks(ids, 500)) do
    local stmt <close> = self.db:prepare(sql .. " IN (" .. string.rep("?", #chunk, ", ") .. ")")
    stmt:bind(table.unpack(chunk))
    while stmt:step() do out[#out + 1] = stmt:row() end
  end
  return out
end

-- Each row (as values) of `sql` restricted to ids: `sql .. " IN (?, ...)"` a few hundred ids
-- at a time, or for many ids one pass over the whole table (cheaper than thousands of lookups).
local function each_for_ids(self, sql, ids, wanted, fn)
  if #ids > 2000 then
    local stmt <close> = self.db:prepare((sql:gsub(" WHERE run_id$", "")))
    while stmt:step() do
      local id, a, b, c = stmt:values()
      if wanted[id] then fn(id, a, b, c) end
    end
    return
  end
  for _, chunk in ipairs(id_chunks(ids, 500)) do
    local stmt <close> = self.db:prepare(sql .. " IN (" .. string.rep("?", #chunk, ", ") .. ")")
    stmt:bind(table.unpack(chunk))
    while stmt:step() do fn(stmt:values()) end
  end
end

-- Fill r.params, r.results and r.result_types of many run rows in a few queries.
function Store:attach(runs)
  local by_id, ids = {}, {}
  for i, r in ipairs(runs) do
    by_id[r.id], ids[i] = r, r.id
    r.params, r.results, r.result_types = {}, {}, {}
  end
  local decode = store.decode
  each_for_ids(self, "SELECT run_id, name, value, type FROM params WHERE run_id", ids, by_id,
    function(id, name, value, vtype) by_id[id].params[name] = decode(value, vtype) end)
  each_for_ids(self, "SELECT run_id, name, value, type FROM results WHERE run_id", ids, by_id,
    function(id, name, value, vtype)
      local r = by_id[id]
      r.results[name], r.result_types[name] = decode(value, vtype), vtype
    end)
  return runs
end

-- Store:get_many(ids) -> run rows with params, results and artifacts, in the order of ids.
function Store:get_many(ids)
  local by_id = {}
  for _, r in ipairs(self:rows_for_ids("SELECT * FROM runs WHERE id", ids)) do by_id[r.id] = r end
  local runs = {}
  for _, id in ipairs(ids) do
    if by_id[id] then runs[#runs + 1] = by_id[id]; by_id[id].artifacts = {} end
  end
  self:attach(runs)
  for _, a in ipairs(self:rows_for_ids("SELECT run_id, name, path, created FROM artifacts WHERE run_id", ids)) do
    if by_id[a.run_id] then table.insert(by_id[a.run_id].artifacts, a) end
  end
  for _, r in ipairs(runs) do table.sort(r.artifacts, function(a, b) return a.name < b.name end) end
  return runs
end

-- Store:metrics_of(ids) -> {[run_id] = {[name] = {steps = {...}, values = {...}}}}, one query
-- per few hundred runs.
function Store:metrics_of(ids)
  local out = {}
  for _, id in ipairs(ids) do out[id] = {} end
  for _, chunk in ipairs(id_chunks(ids, 500)) do
    local stmt <close> = self.db:prepare("SELECT run_id, name, step, value FROM metrics WHERE run_id IN ("
      .. string.rep("?", #chunk, ", ") .. ") ORDER BY run_id, name, step, rowid")
    stmt:bind(table.unpack(chunk))
    while stmt:step() do
      local id, name, step, value = stmt:values()
      local m = out[id][name]
      if not m then m = {steps = {}, values = {}}; out[id][name] = m end
      m.steps[#m.steps + 1] = step
      m.values[#m.values + 1] = value or (0 / 0)
    end
  end
  return out
end

-- Store:resolve_sweep(text) -> sweep id | nil, message: a sweep id or unique prefix, or a
-- sweep's experiment name (its most recent sweep).
function Store:resolve_sweep(text)
  local rows = text:match("^%x+$") and self.db:rows("SELECT id FROM sweeps WHERE id LIKE ? ORDER BY id LIMIT 2",
    text:lower() .. "%") or {}
  if #rows == 1 then return rows[1].id end
  if #rows > 1 then return nil, string.format("sweep id '%s' is ambiguous", text) end
  local named = self.db:rows("SELECT id FROM sweeps WHERE name = ? ORDER BY created DESC LIMIT 1", text)[1]
  if named then return named.id end
  return nil, string.format("no sweep '%s' in %s", text, self.path)
end

return store
