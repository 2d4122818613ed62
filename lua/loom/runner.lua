-- loom.runner: executes an experiment: `loom run script.lua key=value ...`. It gives
-- run(p, run) its run object (log, progress, artifact, plot), records it in the run store,
-- shows progress and prints the result table. Not the store itself (loom.runs.store).
local loom = require "loom"
local core = require "loom.core"
local experiment = require "loom.experiment"
local cli = require "loom.cli"
local store = require "loom.runs.store"
local progress = require "loom.runs.progress"

local process = core.process

local runner = {}

local Run = {}
Run.__index = Run
runner.Run = Run

-- runner.new_run(e, p [, {store = Store, sweep = id, sweep_point = i, quiet = bool}]) -> run.
-- Without a store the run keeps its metrics in run.metrics (for tests and the REPL).
function runner.new_run(e, p, opts)
  opts = opts or {}
  local self = setmetatable({experiment = e, name = e.name, params = p, store = opts.store,
    last_metrics = {}, metric_recency = {}, log_calls = 0, next_step = 1, quiet = opts.quiet}, Run)
  if self.store and opts.resume then
    -- loom run --resume ID: the same run continues (checkpoint hook: Run:rewind).
    self.id = opts.resume
    self.dir = self.store:artifacts_dir(self.id)
    self.must_rewind = true -- until loom.checkpoint.resume says from where: a restart from 0
    self.store:transaction(function()
      self.store.db:run("UPDATE runs SET status = 'running', ended = NULL, error = NULL, pid = ?, "
        .. "host = ? WHERE id = ?", process.pid(), process.hostname(), self.id)
    end)
  elseif self.store then
    local text
    local f = e.script and io.open(e.script, "rb")
    if f then text = f:read("a"); f:close() end
    self.id = self.store:create_run{name = e.name, script = e.script, script_text = text, params = p,
      param_docs = e.param_docs, seed = p.seed, version = loom.version, sweep = opts.sweep, sweep_point = opts.sweep_point}
    self.dir = self.store:artifacts_dir(self.id)
  else
    self.id = store.new_id()
    self.dir = "runs/" .. self.id
    self.metrics = {}
  end
  if self.store then
    -- Provenance (git, BLAS, CPU, environment) must never stop an experiment from running.
    local ok, clocks = pcall(require("loom.runs.provenance").start, self.store, self.id,
      e.script and store.dirname(store.absolute(e.script)), self.dir)
    self.clocks = ok and clocks or nil
  end
  self.display = progress.new{label = e.name, out = opts.progress_out}
  return self
end

-- Ctrl-C (or SIGTERM) seen while the experiment runs C code ends the run at the next call.
local function check_interrupt()
  if process.caught() then error("interrupted!", 3) end
end

-- run:log{step = n, name = value, ...}: numeric metrics at a step (default: the next step).
function Run:log(t)
  if type(t) ~= "table" then
    error("run:log: expected a table {step = n, name = value, ...}, got " .. type(t), 2)
  end
  check_interrupt()
  if self.must_rewind then self:rewind(0) end
  local step = t.step
  if step == nil then
    step = self.next_step
  elseif math.type(step) ~= "integer" then
    if type(step) ~= "number" or step ~= math.floor(step) then
      error(string.format("run:log: step must be an integer, got %s", tostring(step)), 2)
    end
    step = math.tointeger(step)
  end
  self.next_step = math.max(self.next_step, step + 1)
  self.log_calls = self.log_calls + 1
  for k, v in pairs(t) do
    if k ~= "step" then
      if type(v) ~= "number" then
        error(string.format("run:log: metric '%s' must be a number, got %s", tostring(k), type(v)), 2)
      end
      if self.store then
        local ok, err = pcall(self.store.log_metric, self.store, self.id, step, tostring(k), v)
        if not ok then
          -- Said now, on stderr, not only in the end status: a full disk ends the run here.
          err = string.format("run %s (%s): %s (at step %d)", self.id, self.name, err, step)
          self.display:done() -- the message on a line of its own, not inside the bar
          io.stderr:write("loom run: ", err, "\n")
          error(err, 2)
        end
      else
        self.metrics[#self.metrics + 1] = {step = step, name = k, value = v}
      end
      self.last_metrics[k] = v
      self.metric_recency[k] = self.log_calls
    end
  end
  -- The progress line stays on time between run:progress calls (long steps that log).
  if not self.quiet then self.display:tick(self.last_metrics, self.metric_recency) end
end

-- Metric rows of the run recorded up to step (all of them when step is nil).
function Run:recorded_metrics(step)
  local sql = "SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?" .. (step and " AND step <= ?" or "")
  return self.store.db:rows(sql, self.id, step)[1].n
end

-- run:checkpointing(step) -> metadata: a checkpoint of this run is about to be written at
-- step. Its buffered metrics are written first (a kill after the checkpoint then cannot lose
-- them), and the checkpoint records how many metric rows the run holds up to step, so a
-- resume can tell a complete history from one with holes.
function Run:checkpointing(step)
  if not self.store then return {} end
  self.store:flush()
  return {["loom.run"] = self.id, ["loom.run_metrics"] = tostring(self:recorded_metrics(step))}
end

-- run:rewind(step [, expected]): forget the metrics logged after step; loom.checkpoint.resume
-- calls it when a resumed run continues from a checkpoint taken at step. expected is the
-- number of metric rows up to step the checkpoint saw recorded: fewer now means the history
-- has holes, and the run is not continued (it could only end "completed" with steps missing).
function Run:rewind(step, expected)
  self.must_rewind = nil
  self.next_step = step + 1
  if self.store then
    self.store:flush()
    self.store:transaction(function()
      self.store.db:run("DELETE FROM metrics WHERE run_id = ? AND step > ?", self.id, step)
    end)
    local have = expected and self:recorded_metrics(step)
    if have and have < expected then
      error(string.format("run %s lost metrics before its checkpoint at step %d (%d of the %d rows "
        .. "recorded then are left): resuming would leave holes in its steps", self.id, step, have,
        expected), 0)
    end
  else
    local kept = {}
    for _, m in ipairs(self.metrics) do
      if m.step <= step then kept[#kept + 1] = m end
    end
    self.metrics = kept
  end
end

-- run:progress(i, n): drive the progress display (bar on a terminal, plain lines otherwise).
function Run:progress(i, n)
  check_interrupt()
  if self.quiet then return end
  self.display:update(i, n, self.last_metrics, nil, self.metric_recency)
end

-- for i in run:steps(n) do ... end: 1..n with the progress display driven for you.
function Run:steps(n)
  local i = 0
  return function()
    if i > 0 then self:progress(i, n) end
    i = i + 1
    if i <= n then return i end
  end
end

-- run:artifact(name) -> a path under runs/<id>/ (the folder is created, the file recorded).
function Run:artifact(name)
  if type(name) ~= "string" or name == "" or name:find("..", 1, true) or name:sub(1, 1) == "/" then
    error("run:artifact: expected a file name inside the run's folder, got " .. tostring(name), 2)
  end
  local path = self.dir .. "/" .. name
  local made, err = store.mkdir(store.dirname(path))
  if not made then error("run:artifact: cannot create its folder: " .. err, 2) end
  if self.store then self.store:add_artifact(self.id, name, path) end
  return path
end

-- run:plot{file = "loss.png", metrics = {"loss"}, series = {...}, title = ...} -> path
-- (see loom.runs.plot: metrics of this run, or series of your own numbers).
function Run:plot(spec)
  if type(spec) ~= "table" then error("run:plot: expected a table {file = ..., metrics = {...}}", 2) end
  local plot = require "loom.runs.plot"
  local series = {}
  for _, s in ipairs(spec.series or {}) do series[#series + 1] = s end
  for _, name in ipairs(spec.metrics or {}) do
    local steps, values = {}, {}
    if self.store then
      self.store:flush()
      steps, values = self.store:metric(self.id, name)
    else
      for _, m in ipairs(self.metrics) do
        if m.name == name then steps[#steps + 1] = m.step; values[#values + 1] = m.value end
      end
    end
    series[#series + 1] = {title = name, x = steps, y = values}
  end
  if #series == 0 then error("run:plot: nothing to draw: give metrics = {...} or series = {...}", 2) end
  local path = self:artifact(spec.file or "plot.png")
  local draw = {output = path, series = series, title = spec.title or self.name,
    xlabel = spec.xlabel or (spec.metrics and "step" or nil)}
  for _, k in ipairs{"ylabel", "y2label", "logx", "logy", "xrange", "yrange", "y2range", "xtics", "ytics", "key",
    "vlines", "size"} do
    draw[k] = spec[k]
  end
  local ok, err = plot.draw(draw)
  if not ok then error("run:plot: " .. err, 2) end
  return path
end

-- run:heatmap{file = "confusion.png", values = {{...}, ...}, xlabels =, ylabels =, title = ...}
-- -> path (see loom.runs.plot.heatmap: a matrix as coloured cells with their counts).
function Run:heatmap(spec)
  if type(spec) ~= "table" then error("run:heatmap: expected a table {file = ..., values = {{...}, ...}}", 2) end
  local draw = {output = self:artifact(spec.file or "heatmap.png"), title = spec.title or self.name}
  for _, k in ipairs{"values", "xlabels", "ylabels", "counts", "xlabel", "ylabel", "cblabel", "size"} do
    draw[k] = spec[k]
  end
  local ok, err = require("loom.runs.plot").heatmap(draw)
  if not ok then error("run:heatmap: " .. err, 2) end
  return draw.output
end

-- The result table, keys in natural order (fastest_100000x10 before fastest_1000000x10),
-- on out (default stdout).
function runner.print_result(result, out)
  if type(result) ~= "table" then return end
  out = out or io.stdout
  local keys = {}
  for k in pairs(result) do keys[#keys + 1] = tostring(k) end
  cli.natural_sort(keys)
  local function print(line) out:write(line, "\n") end
  print("result:")
  for _, k in ipairs(keys) do
    local v = result[k]
    if v == nil then v = result[tonumber(k)] end
    if type(v) == "number" then
      v = string.format("%.6g", v)
    elseif type(v) == "table" then
      v = require("loom.runs.json").encode(v)
    end
    print(string.format("  %-20s %s", k, tostring(v)))
  end
end

-- The message of a failure without the traceback Lua appended.
local function first_line(msg)
  return (tostring(msg):match("^[^\n]*"))
end

-- The failure as the user needs it: at their line, without loom's runner frames. A message
-- the script raised with error(msg, 0) (no position: a bad param, a missing file) is meant
-- for the user as it is, so it stays one line.
local function run_traceback(err)
  if type(err) == "string" and debug.getinfo(2, "f").func == error and not err:find("^%S+:%d+: ") then
    return err
  end
  local text = cli.user_traceback(err, 2) -- not a tail call: the level counts this frame
  return text
end

-- runner.execute(e, p, opts) -> status, result_or_error, run. status is completed, failed
-- or interrupted; the run is recorded when opts.store is given.
function runner.execute(e, p, opts)
  opts = opts or {}
  local run = runner.new_run(e, p, opts)
  loom.seed(p.seed)
  math.randomseed(p.seed)
  process.catch_signals(true)
  runner.current = run -- loom.checkpoint asks it to write its metrics first
  -- With --print-id and --json stdout carries one document: the script's own output
  -- (print, io.write) goes to opts.script_out instead.
  local real_print, real_output = print, io.output()
  if opts.script_out then
    local out = opts.script_out
    print = function(...)
      local parts = table.pack(...)
      for i = 1, parts.n do parts[i] = tostring(parts[i]) end
      out:write(table.concat(parts, "\t"), "\n")
    end
    io.output(out)
  end
  local ok, result = xpcall(e.run, run_traceback, p, run)
  print = real_print
  io.output(real_output)
  runner.current = nil
  local signal = process.caught()
  -- From here on a second Ctrl-C only sets the flag, so the run's end is always written.
  process.catch_signals(false)
  run.display:done()
  local status = ok and "completed" or (signal and "interrupted" or "failed")
  if run.store then
    if run.store.db:in_transaction() then pcall(run.store.db.exec, run.store.db, "ROLLBACK") end
    local err = (not ok) and (signal and ("interrupted by " .. signal) or first_line(result)) or nil
    if ok then
      local stored, rerr = pcall(run.store.set_results, run.store, run.id, result)
      if not stored then
        status, ok, err = "failed", false, "cannot record the results: " .. first_line(rerr)
        result = err
      end
    end
    local saved, serr = pcall(function()
      local recorded, rerr = run.store:finish(run.id, status, err)
      if recorded ~= status then status, ok, result = recorded, false, rerr end
      if run.clocks then require("loom.runs.provenance").finish(run.store, run.id, run.clocks) end
    end)
    if not saved then
      io.stderr:write("loom run: cannot record the end of run ", run.id, ": ", tostring(serr), "\n")
    end
  end
  process.release_signals()
  return status, result, run, signal
end

local RUN_USAGE = [[
usage: loom run [options] script.lua [key=value ...]
options:
  --help        list the script's params with their defaults and meaning
  --db PATH     record into this database (default $LOOM_DB, else runs.db)
  --quiet       no progress display
  --print-id    print only the new run's id on stdout (progress and results go to stderr)
  --json        print {"id", "name", "status", "results", "error"} as JSON on stdout
  --resume ID   continue run ID (script and params as recorded) from its last checkpoint
The run is recorded with its params, seed, metrics, results and status; artifacts go to
runs/<id>/ next to the database. Exit status: 0 completed, 1 failed, 2 bad params,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).]]

-- Options before the script; everything after the script is key=value.
local function parse_args(args)
  local o = {overrides = {}}
  local i = 1
  while i <= #args do
    local a = args[i]
    if o.script then
      if a == "--help" then o.help = true else o.overrides[#o.overrides + 1] = a end
    elseif a == "--help" or a == "-h" then
      o.help = true
    elseif a == "--db" then
      o.db = args[i + 1]; i = i + 1
      if not o.db then return nil, "'--db' needs a path" end
    elseif a == "--quiet" then
      o.quiet = true
    elseif a == "--print-id" then
      o.print_id = true
    elseif a == "--json" then
      o.json = true
    elseif a == "--resume" then
      o.resume = args[i + 1]; i = i + 1
      if not o.resume then return nil, "'--resume' needs a run id" end
    elseif a == "--sweep" then
      local spec = args[i + 1] or ""
      o.sweep, o.sweep_point = spec:match("^(%x+):(%d+)$")
      if not o.sweep then return nil, "'--sweep' needs SWEEP:INDEX" end
      o.sweep_point = math.tointeger(o.sweep_point)
      i = i + 1
    elseif a:sub(1, 2) == "--" then
      return nil, "unknown option '" .. a .. "'"
    else
      o.script = a
    end
    i = i + 1
  end
  return o
end

-- Report how a run ended, close the store, and give the exit status: 0 completed, 130
-- (SIGINT) or 143 (SIGTERM) interrupted, 1 failed. how is "" or "resumed, ".
-- For --print-id and --json: stdout carries only the id or the JSON document.
local function machine_report(o, e, status, result, run)
  if o.print_id then
    io.stdout:write(run.id, "\n")
  elseif o.json then
    local json = require "loom.runs.json"
    local doc = {id = run.id, name = e.name, status = status}
    if status == "completed" then
      doc.results = type(result) == "table" and result or {}
      if next(doc.results) == nil then doc.results = setmetatable({}, {}) end
    else
      doc.error = tostring(result):match("^[^\n]*")
    end
    io.stdout:write(json.encode(doc), "\n")
  end
  io.stdout:flush()
end

local function exit_status(status, signal)
  if status == "completed" then return 0 end
  if status == "interrupted" then return signal == "SIGTERM" and 143 or 130 end
  return 1
end

local function finish(e, s, how, status, result, run, signal, o)
  local elapsed = progress.duration((s.db:rows("SELECT ended - started AS d FROM runs WHERE id = ?", run.id)[1] or {}).d or 0)
  s:close()
  if o and (o.print_id or o.json) then
    -- The human report goes to stderr so that stdout stays machine-readable.
    if status == "completed" then
      runner.print_result(result, io.stderr)
      io.stderr:write(string.format("run %s (%s) %scompleted in %s, recorded in %s\n", run.id, e.name, how, elapsed, s.path))
    end
    machine_report(o, e, status, result, run)
    if status == "completed" then return 0 end
  end
  if status == "completed" then
    runner.print_result(result)
    print(string.format("run %s (%s) %scompleted in %s, recorded in %s", run.id, e.name, how, elapsed, s.path))
    return 0
  elseif status == "interrupted" then
    io.stderr:write(string.format("loom run: run %s (%s) %sinterrupted by %s after %s; what it logged is kept\n",
      run.id, e.name, how, signal, elapsed))
    return exit_status(status, signal)
  end
  io.stderr:write(string.format("loom run: run %s (%s) %sfailed: %s\n", run.id, e.name, how, tostring(result)))
  return exit_status(status, signal)
end

-- loom run [options] script.lua key=value ...
function runner.main(args)
  local o, err = parse_args(args)
  if o and o.resume then return runner.resume(o) end
  if o and o.help and not o.script then
    print(RUN_USAGE)
    return 0
  end
  if not o or not o.script then
    io.stderr:write(o and "" or ("loom run: " .. err .. "\n"), RUN_USAGE, "\n")
    return 2
  end
  if o.print_id and o.json then
    io.stderr:write("loom run: choose one of --print-id and --json\n")
    return 2
  end
  local e, lerr = experiment.load(o.script)
  if not e then
    io.stderr:write("loom run: ", lerr, "\n")
    return 1
  end
  if o.help then
    print(experiment.help(e))
    return 0
  end
  local p, perr = experiment.resolve(e, o.overrides)
  if not p then
    io.stderr:write("loom run: ", perr, "\n")
    return 2
  end
  local s, serr = store.open(o.db)
  if not s then
    io.stderr:write("loom run: ", serr, "\n")
    return 1
  end
  local status, result, run, signal = runner.execute(e, p, {store = s, quiet = o.quiet,
    sweep = o.sweep, sweep_point = o.sweep_point, progress_out = (o.print_id or o.json) and io.stderr or nil,
    script_out = (o.print_id or o.json) and io.stderr or nil})
  return finish(e, s, "", status, result, run, signal, o)
end

-- loom run --resume ID [--db PATH] [--quiet] [script.lua]: the recorded run again, same id,
-- same params (the script from the record unless one is given); the experiment restores its
-- checkpoint with loom.checkpoint.resume(run, ...), which also drops metrics logged after it.
function runner.resume(o)
  if #o.overrides > 0 then
    io.stderr:write("loom run: --resume takes no key=value: the run's recorded params are used\n")
    return 2
  end
  local s, serr = store.open(o.db)
  if not s then
    io.stderr:write("loom run: ", serr, "\n")
    return 1
  end
  local id, rerr = s:resolve(o.resume)
  local r = id and s:get(id)
  local e, lerr
  if r then e, lerr = experiment.load(o.script or r.script) end
  if not e then
    io.stderr:write("loom run: ", rerr or lerr, "\n")
    s:close()
    return 1
  end
  if r.status == "running" then s:mark_died(); r = s:get(id) end
  if r.status == "running" or r.status == "completed" then
    io.stderr:write(string.format("loom run: run %s is %s, nothing to resume\n", id, r.status))
    s:close()
    return 1
  end
  local p = experiment.resolve(e, {})
  for k, v in pairs(r.params) do p[k] = v end
  local status, result, run, signal = runner.execute(e, p, {store = s, quiet = o.quiet, resume = id,
    progress_out = (o.print_id or o.json) and io.stderr or nil, script_out = (o.print_id or o.json) and io.stderr or nil})
  return finish(e, s, "resumed, ", status, result, run, signal, o)
end

cli.register("run", "run an experiment script: loom run script.lua key=value ...", runner.main)

return runner
