-- loom.runs.sweep: `loom sweep`: a parameter grid run as `loom run` worker processes, locally
-- (-j N) or as one Slurm job array (--slurm), and `--status` to follow it. Not a scheduler:
-- local workers are plain child processes; on Slurm each array task runs one grid point.
local core = require "loom.core"
local experiment = require "loom.experiment"
local store = require "loom.runs.store"
local progress = require "loom.runs.progress"
local rcli = require "loom.runs.cli"

local process = core.process
local quote = store.quote

local sweep = {}

local function fail(msg, code)
  io.stderr:write("loom sweep: ", msg, "\n")
  return code or 1
end

-- The loom executable for workers: $LOOM_BIN, else this process's own binary.
function sweep.loom_bin()
  local env = os.getenv("LOOM_BIN")
  if env and env ~= "" then return store.absolute(env) end
  return process.readlink("/proc/self/exe") or "loom"
end

-- sweep.grid{"lr=0.1,0.01", "hidden=32,64", "quick=true"} -> list of points, each a list of
-- "key=value" strings, in row-major order (the last key varies fastest).
function sweep.grid(specs)
  local axes = {}
  for _, spec in ipairs(specs) do
    local key, values = spec:match("^([%w_%.%-]+)=(.*)$")
    if not key then return nil, string.format("expected key=v1,v2,..., got '%s'", spec) end
    local list = {}
    for v in (values .. ","):gmatch("([^,]*),") do list[#list + 1] = v end
    axes[#axes + 1] = {key = key, values = list}
  end
  local points = {{}}
  for _, axis in ipairs(axes) do
    local next_points = {}
    for _, p in ipairs(points) do
      for _, v in ipairs(axis.values) do
        local q = table.move(p, 1, #p, 1, {})
        q[#q + 1] = axis.key .. "=" .. v
        next_points[#next_points + 1] = q
      end
    end
    points = next_points
  end
  return points, axes
end

-- Sort direction for a result name: "name:asc" / "name:desc" say it; otherwise smaller is
-- better for losses and errors, larger for everything else.
function sweep.sort_spec(text)
  if not text then return nil end
  local name, dir = text:match("^(.-):(%a+)$")
  if name and (dir == "asc" or dir == "desc") then return name, dir == "desc" end
  local lower = text:lower()
  for _, w in ipairs{"loss", "err", "mse", "rmse", "mae", "nll", "perplexity", "time", "residual"} do
    if lower:find(w, 1, true) then return text, false end
  end
  return text, true
end

-- For sorting by a name that is a logged metric rather than a result: its last value.
function sweep.attach_metric(s, runs, sort)
  local name = sweep.sort_spec(sort)
  if not name then return end
  for _, r in ipairs(runs) do
    if r.results[name] == nil then
      local v = s:last_metric(r.id, name)
      if v then r.results[name], r.result_types[name] = v, "number" end
    end
  end
end

-- The results table of a sweep's runs, sorted by a result (runs without it last).
function sweep.results_text(runs, sort)
  local name, desc = sweep.sort_spec(sort)
  if name then
    local any = false
    for _, r in ipairs(runs) do any = any or type(r.results[name]) == "number" end
    if not any and #runs > 0 then
      io.stderr:write("loom sweep: no run has a result or metric '", name, "' to sort by\n")
    end
    table.sort(runs, function(a, b)
      -- Runs without a number (or with NaN) go last, so the order stays consistent.
      local x, y = a.results[name], b.results[name]
      if type(x) ~= "number" or x ~= x then return false end
      if type(y) ~= "number" or y ~= y then return true end
      if desc then return x > y end
      return x < y
    end)
  end
  local differ = rcli.differing_params(runs)
  local rnames = {}
  for _, r in ipairs(runs) do
    for k, t in pairs(r.result_types) do if t ~= "json" then rnames[k] = true end end
  end
  rnames = rcli.sorted_keys(rnames)
  if name then
    -- The sort key first among the results.
    for i, k in ipairs(rnames) do if k == name then table.remove(rnames, i); table.insert(rnames, 1, k) end end
  end
  local headers = {"ID", "STATUS"}
  for _, k in ipairs(differ) do headers[#headers + 1] = k end
  for _, k in ipairs(rnames) do headers[#headers + 1] = k end
  local rows = {}
  for _, r in ipairs(runs) do
    local row = {r.id, r.status}
    for _, k in ipairs(differ) do row[#row + 1] = rcli.value_text(r.params[k]) end
    for _, k in ipairs(rnames) do row[#row + 1] = rcli.value_text(r.results[k]) end
    rows[#rows + 1] = row
  end
  return rcli.table_text(headers, rows)
end

local function record_sweep(s, sw, points)
  s:transaction(function()
    s.db:run([[INSERT INTO sweeps (id, name, script, mode, job_id, dir, created, points, sort)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)]], sw.id, sw.name, sw.script, sw.mode, sw.job_id, sw.dir,
      process.time(), #points, sw.sort)
    for i, p in ipairs(points) do
      s.db:run("INSERT INTO sweep_points (sweep, idx, args) VALUES (?, ?, ?)", sw.id, i - 1, table.concat(p, " "))
    end
  end)
end

local function point_args(point)
  local q = {}
  for i, a in ipairs(point) do q[i] = quote(a) end
  return table.concat(q, " ")
end

-- ---- local workers ----

-- Start one `loom run` for task {idx = point index, args = {"k=v", ...} [, resume = run id]}
-- as a child process (no shell: any character in a path is safe), its output in
-- logs/point-<idx>.log. -> worker {index, pid} | nil, message
local function launch(sw, task, db)
  local argv = {sw.bin, "run", "--db", db}
  if task.resume then
    argv[#argv + 1] = "--resume"
    argv[#argv + 1] = task.resume
  else
    argv[#argv + 1] = "--sweep"
    argv[#argv + 1] = sw.id .. ":" .. task.idx
    argv[#argv + 1] = sw.script
    for _, a in ipairs(task.args) do argv[#argv + 1] = a end
  end
  local log = sw.dir .. "/logs/point-" .. task.idx .. ".log"
  local pid, err = process.spawn(argv, {stdout = log, stderr = "stdout"})
  if not pid then return nil, err end
  return {index = task.idx, pid = pid, started = process.now()}
end

local function run_local(s, sw, tasks, jobs)
  local made, merr = store.mkdir(sw.dir .. "/logs")
  if not made then error("loom sweep: " .. merr, 0) end
  local total, next_point, running, done, failed = #tasks, 1, {}, 0, 0
  local display = progress.new{label = "sweep " .. sw.name, unit = "run", plain_seconds = 10}
  process.catch_signals(false)
  local stopping = false
  while next_point <= total or #running > 0 do
    if process.caught() and not stopping then
      -- Ctrl-C reached the workers too (same process group); SIGTERM is forwarded.
      stopping = true
      for _, w in ipairs(running) do
        process.kill(w.pid, process.caught() == "SIGTERM" and "TERM" or "INT")
      end
    end
    while not stopping and #running < jobs and next_point <= total do
      local w, err = launch(sw, tasks[next_point], s.path)
      if w then
        running[#running + 1] = w
      else
        io.stderr:write(string.format("loom sweep: cannot start point %d: %s\n", tasks[next_point].idx, err))
        done, failed = done + 1, failed + 1
      end
      next_point = next_point + 1
    end
    process.sleep(0.2)
    for k = #running, 1, -1 do
      local code, werr = process.wait(running[k].pid)
      if code or werr then -- werr: no longer our child to wait for (counted as failed)
        table.remove(running, k)
        done = done + 1
        if code ~= 0 then failed = failed + 1 end
      end
    end
    display:update(done, total, nil, string.format("(%d running, %d failed)", #running, failed))
    if stopping and #running == 0 then break end
  end
  display:done()
  local signal = process.caught()
  process.release_signals()
  return failed, signal
end

-- After the workers of a local sweep: mark runs that died, close the store, print the
-- results table; -> the exit status (130/143 interrupted, 1 when a point failed).
local function report_local(s, sw, total, failed, signal)
  s:mark_died()
  local runs = s:list{sweep = sw.id}
  sweep.attach_metric(s, runs, sw.sort)
  s:close()
  print(sweep.results_text(runs, sw.sort))
  if signal then return fail("interrupted by " .. signal, signal == "SIGTERM" and 143 or 130) end
  if failed > 0 then return fail(string.format("%d of %d points failed (logs in %s/logs)", failed, total, sw.dir)) end
  return 0
end

-- ---- Slurm ----

-- The sbatch script: one array task per grid point, each `loom run` into its own database.
function sweep.slurm_script(sw, points, o)
  local lines = {"#!/bin/bash",
    "#SBATCH --job-name=" .. ("loom-" .. sw.name):gsub("[^%w%-_.]", "_"),
    string.format("#SBATCH --array=0-%d%s", #points - 1, o.max_parallel and ("%" .. o.max_parallel) or ""),
    "#SBATCH --output=" .. sw.dir .. "/logs/slurm-%A_%a.out",
    "#SBATCH --cpus-per-task=" .. (o.cpus or "1"),
  }
  if o.partition then lines[#lines + 1] = "#SBATCH --partition=" .. o.partition end
  if o.time then lines[#lines + 1] = "#SBATCH --time=" .. o.time end
  if o.mem then lines[#lines + 1] = "#SBATCH --mem=" .. o.mem end
  if o.account then lines[#lines + 1] = "#SBATCH --account=" .. o.account end
  local body = {
    "",
    "# loom sweep " .. sw.id .. ": " .. #points .. " points of " .. sw.script,
    "# Each task writes its own SQLite database (rollback journal, one writer, no shared locks",
    "# across hosts); `loom runs --db " .. sw.db .. "` merges them.",
    "set -eu",
    "case \"$SLURM_ARRAY_TASK_ID\" in",
  }
  for _, l in ipairs(body) do lines[#lines + 1] = l end
  for i, p in ipairs(points) do
    lines[#lines + 1] = string.format("  %d) set -- %s ;;", i - 1, point_args(p))
  end
  local tail = {
    "  *) echo \"no grid point $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;",
    "esac",
    "export OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}",
    "export LOOM_DB_JOURNAL=delete",
    string.format("exec %s run --quiet --db %s --sweep %s:\"$SLURM_ARRAY_TASK_ID\" %s \"$@\"",
      quote(sw.bin), quote(sw.dir .. "/tasks/task-") .. "\"$SLURM_ARRAY_TASK_ID\".db", sw.id, quote(sw.script)),
  }
  for _, l in ipairs(tail) do lines[#lines + 1] = l end
  return table.concat(lines, "\n") .. "\n"
end

-- Run a program (no shell) and wait for it: -> exit status, its output (stdout and stderr)
-- | nil, message. The output goes through a temporary file (os.tmpname).
local function capture(argv)
  local out = os.tmpname()
  local pid, err = process.spawn(argv, {stdout = out, stderr = "stdout"})
  if not pid then os.remove(out); return nil, err end
  local code = process.wait(pid, true)
  local f = io.open(out, "rb")
  local text = f and f:read("a") or ""
  if f then f:close() end
  os.remove(out)
  return code, text
end

local function run_slurm(s, sw, points, o)
  local script = sweep.slurm_script(sw, points, o)
  if o["dry-run"] then
    io.write(script)
    return 0
  end
  store.mkdir(sw.dir .. "/logs")
  store.mkdir(sw.dir .. "/tasks")
  local path = sw.dir .. "/sweep.sbatch"
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local code, out = capture({"sbatch", "--parsable", path})
  local job = code and out:match("^(%d+)")
  if code ~= 0 or not job then return fail("sbatch failed: " .. out:gsub("%s+$", "")) end
  sw.job_id = job
  record_sweep(s, sw, points)
  print(string.format("sweep %s: submitted Slurm job array %s (%d tasks); follow with: loom sweep --status %s",
    sw.id, job, #points, sw.id))
  return 0
end

-- ---- status ----

-- Slurm states of a job array's tasks still queued or running: {[task index] = "RUNNING"}.
local function squeue_states(job)
  local states = {}
  local code, out = capture({"squeue", "-h", "-r", "-j", job, "-o", "%K %T"})
  if code ~= 0 then return states end
  for line in out:gmatch("[^\n]+") do
    local idx, state = line:match("^(%d+)%s+(%S+)")
    if idx then states[tonumber(idx)] = state end
  end
  return states
end

-- Status rows of a sweep: per point the run (if any) and where it is.
function sweep.status(s, id)
  local sw = s.db:rows("SELECT * FROM sweeps WHERE id = ?", id)[1]
  if not sw then return nil, "no sweep " .. id .. " in " .. s.path end
  -- Ask Slurm first, then merge: a task that ends in between is then seen with its result.
  local queued = sw.mode == "slurm" and sw.job_id and squeue_states(sw.job_id) or {}
  if sw.mode == "slurm" then s:sync_sweeps(true) end
  local points = s.db:rows("SELECT idx, args FROM sweep_points WHERE sweep = ? ORDER BY idx", id)
  local runs = s:list{sweep = id}
  local by_point = {}
  for _, r in ipairs(runs) do by_point[r.sweep_point] = r end
  sweep.attach_metric(s, runs, sw.sort)
  local counts, rows = {}, {}
  for _, pt in ipairs(points) do
    local r = by_point[pt.idx]
    local state = (r and r.status) or (queued[pt.idx] and queued[pt.idx]:lower()) or "not started"
    if r and r.status == "running" and sw.mode == "slurm" and not queued[pt.idx] then
      -- The task left the queue without recording an end (killed on a compute node).
      state = "died"
    end
    if not r and sw.mode == "slurm" and not queued[pt.idx] then state = "no run (see logs/slurm-*_" .. pt.idx .. ".out)" end
    counts[state] = (counts[state] or 0) + 1
    rows[#rows + 1] = {pt.idx, state, r and r.id or "-", pt.args}
  end
  return {sweep = sw, rows = rows, counts = counts, runs = runs, queued = next(queued) ~= nil}
end

local function print_status(st)
  local sw = st.sweep
  print(string.format("sweep %s  %s  %s%s  %d points  %s", sw.id, sw.name, sw.mode,
    sw.job_id and (" job " .. sw.job_id) or "", sw.points, os.date("%Y-%m-%d %H:%M", math.floor(sw.created))))
  print(rcli.table_text({"POINT", "STATE", "RUN", "PARAMS"}, st.rows))
  local parts = {}
  for _, k in ipairs(rcli.sorted_keys(st.counts)) do parts[#parts + 1] = st.counts[k] .. " " .. k end
  print(table.concat(parts, ", "))
  local finished = {}
  for _, r in ipairs(st.runs) do if r.status == "completed" then finished[#finished + 1] = r end end
  if #finished > 0 then
    print("")
    print(sweep.results_text(finished, sw.sort))
  end
end

-- Done when no point is queued, running, or waiting to start.
local function settled(st)
  for _, row in ipairs(st.rows) do
    local state = row[2]
    if state == "running" or state == "pending" or state == "configuring" or state == "completing"
      or state == "not started" then
      if not (state == "not started" and st.sweep.mode == "local") then return false end
    end
  end
  return not st.queued
end

-- The sweep a user named: a unique id prefix, "last" (or nil) for the latest, or an
-- experiment's name for its latest sweep. -> id | nil, message
local function find_sweep(s, text)
  if not text or text == "last" then
    local last = s.db:rows("SELECT id FROM sweeps ORDER BY created DESC LIMIT 1")[1]
    if not last then return nil, "no sweeps in " .. s.path end
    return last.id
  end
  local rows = text:match("^%x+$") and s.db:rows("SELECT id FROM sweeps WHERE id LIKE ?", text:lower() .. "%") or {}
  if #rows > 1 then return nil, "sweep id '" .. text .. "' is ambiguous" end
  if #rows == 1 then return rows[1].id end
  local named = s.db:rows("SELECT id FROM sweeps WHERE name = ? ORDER BY created DESC LIMIT 1", text)[1]
  if named then return named.id end
  return nil, "no sweep " .. text
end

local function status_main(o, words)
  local s, code = rcli.open_store(o, "sweep")
  if not s then return code end
  local id, ferr = find_sweep(s, words[1])
  if not id then s:close(); return fail(ferr) end
  local deadline = o.wait and (process.now() + (tonumber(o.timeout) or math.huge))
  local st, err = sweep.status(s, id)
  while st and o.wait and not settled(st) and process.now() < deadline do
    process.sleep(1)
    s:mark_died()
    st, err = sweep.status(s, id)
  end
  s:close()
  if not st then return fail(err) end
  print_status(st)
  if o.wait and not settled(st) then return fail("timed out waiting for sweep " .. id) end
  for state in pairs(st.counts) do
    if state ~= "completed" and (o.wait or store.TERMINAL[state]) then return 1 end
  end
  return 0
end

-- "k=v k2=v2" as recorded for a point -> {"k=v", "k2=v2"} (a value may hold spaces).
local function split_args(text)
  local args, start = {}, 1
  while start <= #text do
    local next_key = text:find(" [%w_%.%-]+=", start)
    args[#args + 1] = text:sub(start, (next_key or #text + 1) - 1)
    start = next_key and next_key + 1 or #text + 1
  end
  return args
end

-- The points of a sweep without a completed run: a point that never started runs fresh; one
-- whose run died, was interrupted or failed continues as that run (`loom run --resume`, from
-- its checkpoint if it keeps one). Points still running elsewhere are left alone.
function sweep.unfinished(s, id)
  local by_point = {}
  for _, r in ipairs(s:list{sweep = id}) do by_point[r.sweep_point] = r end
  local tasks, running = {}, 0
  for _, pt in ipairs(s.db:rows("SELECT idx, args FROM sweep_points WHERE sweep = ? ORDER BY idx", id)) do
    local r = by_point[pt.idx]
    if r and r.status == "running" then
      running = running + 1
    elseif not r or r.status ~= "completed" then
      tasks[#tasks + 1] = {idx = pt.idx, args = split_args(pt.args), resume = r and r.id}
    end
  end
  return tasks, running
end

-- loom sweep --resume SWEEP [-j N]: finish a local sweep whose coordinator was killed.
local function resume_main(o)
  local jobs = math.tointeger(tonumber(o.jobs or "1"))
  if not jobs or jobs < 1 then return fail("-j expects a positive integer", 2) end
  local s, code = rcli.open_store(o, "sweep", true)
  if not s then return code end
  local id, ferr = find_sweep(s, o.resume)
  local sw = id and s.db:rows("SELECT * FROM sweeps WHERE id = ?", id)[1]
  if sw and sw.mode ~= "local" then
    ferr = string.format("sweep %s ran on Slurm: its tasks are resubmitted with sbatch, not --resume", id)
  end
  if not sw or sw.mode ~= "local" then s:close(); return fail(ferr) end
  sw.bin = sweep.loom_bin()
  s:mark_died()
  local tasks, running = sweep.unfinished(s, id)
  print(string.format("sweep %s: %d of %d points to run%s, %d worker%s, logs in %s/logs", id, #tasks,
    sw.points, running > 0 and string.format(" (%d still running, left alone)", running) or "", jobs,
    jobs == 1 and "" or "s", sw.dir))
  return report_local(s, sw, #tasks, run_local(s, sw, tasks, jobs))
end

local USAGE = [==[
usage: loom sweep script.lua key=v1,v2 ... [-j N] [--sort METRIC[:asc|:desc]] [--db PATH]
       loom sweep script.lua key=v1,v2 ... --slurm [--partition P] [--time T] [--cpus N]
                  [--mem M] [--account A] [--max-parallel K] [--dry-run] [--wait]
       loom sweep --status [SWEEP] [--wait [--timeout SECONDS]]
       loom sweep --resume SWEEP|NAME|last [-j N]   run the points of a local sweep that did not complete
Runs every combination of the values (a grid) with `loom run`. Locally, N worker processes
(default 1) share the database; with --slurm, one job array task per point, each into its
own database under runs/sweeps/<id>/tasks/, merged by `loom runs` (docs/runs.md).]==]

function sweep.main(args)
  local o, words = rcli.parse(args, {db = true, jobs = true, sort = true, partition = true, time = true,
    cpus = true, mem = true, account = true, ["max-parallel"] = true, timeout = true, resume = true})
  if not o then return fail(words, 2) end
  if o.help or o.h then print(USAGE); return 0 end
  if o.status then return status_main(o, words) end
  if o.resume then return resume_main(o) end
  local script = table.remove(words, 1)
  if not script then io.stderr:write(USAGE, "\n"); return 2 end
  local e, lerr = experiment.load(script)
  if not e then return fail(lerr) end
  local points, gerr = sweep.grid(words)
  if not points then return fail(gerr, 2) end
  for _, p in ipairs(points) do
    local ok, perr = experiment.resolve(e, p)
    if not ok then return fail(perr, 2) end
  end
  local jobs = math.tointeger(tonumber(o.jobs or "1"))
  if not jobs or jobs < 1 then return fail("-j expects a positive integer", 2) end
  local db = store.absolute(store.default_path(o.db))
  local id = store.new_id()
  local sw = {id = id, name = e.name, script = store.absolute(script), bin = sweep.loom_bin(), db = db,
    dir = store.dirname(db) .. "/runs/sweeps/" .. id, sort = o.sort, mode = o.slurm and "slurm" or "local"}
  if o.slurm and o["dry-run"] then return run_slurm(nil, sw, points, o) end
  local s, serr = store.open(db)
  if not s then return fail(serr) end
  if o.slurm then
    local code = run_slurm(s, sw, points, o)
    s:close()
    if code ~= 0 or not o.wait then return code end
    return status_main({db = db, wait = true, timeout = o.timeout}, {id})
  end
  record_sweep(s, sw, points)
  print(string.format("sweep %s: %d points of %s, %d worker%s, logs in %s/logs", id, #points, e.name,
    jobs, jobs == 1 and "" or "s", sw.dir))
  local tasks = {}
  for i, p in ipairs(points) do tasks[i] = {idx = i - 1, args = p} end
  return report_local(s, sw, #points, run_local(s, sw, tasks, jobs))
end

return sweep
