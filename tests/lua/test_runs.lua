-- test_runs.lua: experiments and the run store: param parsing and its errors, the schema,
-- recording through `loom run`, concurrent writers, SIGINT/SIGKILL statuses, export, plots.
local loom = require "loom"
local experiment = require "loom.experiment"
local store = require "loom.runs.store"
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

local function exp()
  return loom.experiment{name = "t", params = {lr = 0.1, epochs = 10, quick = false, mode = "fast"},
    run = function() end}
end

-- ---- params ----

test("resolve converts overrides to the defaults' types", function()
  local p = assert(experiment.resolve(exp(), {"lr=0.5", "epochs=3", "quick=true", "mode=slow"}))
  equal(p.lr, 0.5, "lr")
  equal(math.type(p.epochs), "integer", "epochs type")
  equal(p.epochs, 3, "epochs")
  equal(p.quick, true, "quick")
  equal(p.mode, "slow", "mode")
  equal(p.seed, 42, "default seed")
  p = assert(experiment.resolve(exp(), {"epochs=4.0", "quick=no", "lr=1e-3"}))
  equal(p.epochs, 4, "4.0 is an integer")
  equal(p.quick, false, "no")
  equal(p.lr, 1e-3, "lr")
end)

test("bad overrides are errors that list the params", function()
  local e = exp()
  local p, err = experiment.resolve(e, {"bogus=1"})
  equal(p, nil, "result")
  check(err:find("unknown param 'bogus'", 1, true), "message: %s", err)
  check(err:find("epochs", 1, true) and err:find("default 0.1", 1, true), "lists params: %s", err)
  _, err = experiment.resolve(e, {"lr=fast"})
  check(err:find("param 'lr' expects a number, got 'fast'", 1, true), "number: %s", err)
  _, err = experiment.resolve(e, {"epochs=2.5"})
  check(err:find("param 'epochs' expects an integer, got '2.5'", 1, true), "integer: %s", err)
  _, err = experiment.resolve(e, {"quick=maybe"})
  check(err:find("param 'quick' expects true or false, got 'maybe'", 1, true), "boolean: %s", err)
  _, err = experiment.resolve(e, {"lr"})
  check(err:find("expected key=value, got 'lr'", 1, true), "shape: %s", err)
end)

test("resolve takes key = value fields from Lua, checked the same way", function()
  local p = assert(experiment.resolve(exp(), {lr = 0.25, epochs = 7, quick = true}))
  equal(p.lr, 0.25, "lr")
  equal(p.epochs, 7, "epochs")
  equal(p.quick, true, "quick")
  local bad, err = experiment.resolve(exp(), {epochs = 2.5})
  equal(bad, nil, "bad")
  check(err:find("param 'epochs' expects an integer", 1, true), "message: %s", err)
  _, err = experiment.resolve(exp(), {nope = 1})
  check(err:find("unknown param 'nope'", 1, true), "message: %s", err)
end)

test("adjust sets defaults that depend on other params, never a given one", function()
  local function tasked(adjust)
    return loom.experiment{name = "tasked", params = {task = "small", hidden = 64, lr = 0.002, deep = false},
      run = function() end, adjust = adjust}
  end
  local big = {hidden = 256, lr = 0.003, deep = true}
  local e = tasked(function(p, given)
    if p.task == "big" then
      for k, v in pairs(big) do if not given[k] then p[k] = v end end
    end
  end)
  local p = assert(experiment.resolve(e, {"task=big"}))
  equal(p.hidden .. " " .. p.lr .. " " .. tostring(p.deep), "256 0.003 true", "the task's defaults")
  p = assert(experiment.resolve(e, {"task=big", "hidden=128", "deep=false"}))
  equal(p.hidden .. " " .. p.lr .. " " .. tostring(p.deep), "128 0.003 false", "given params stay")
  p = assert(experiment.resolve(e, {task = "big", lr = 0.01}))
  equal(p.hidden .. " " .. p.lr, "256 0.01", "from Lua too")
  p = assert(experiment.resolve(e, {}))
  equal(p.hidden, 64, "other tasks keep the defaults")
  -- what adjust may not do
  checkerror("tasked: adjust changed the param 'hidden', which was given", experiment.resolve,
    tasked(function(q) q.hidden = 1 end), {"hidden=5"})
  checkerror("tasked: adjust removed the param 'lr'", experiment.resolve, tasked(function(q) q.lr = nil end), {})
  checkerror("tasked: adjust added the param 'width', which has no default", experiment.resolve,
    tasked(function(q) q.width = 1 end), {})
  checkerror("tasked: adjust gave the integer param 'hidden' the value 1.5", experiment.resolve,
    tasked(function(q) q.hidden = 1.5 end), {})
  checkerror("tasked: adjust gave the boolean param 'deep' the value yes", experiment.resolve,
    tasked(function(q) q.deep = "yes" end), {})
  local ok, err = pcall(loom.experiment, {name = "x", run = function() end, adjust = 5})
  check(not ok and err:find("loom.experiment: 'adjust' must be a function(p, given)", 1, true), "%s", tostring(err))
end)

test("loom.runs.run records a run from Lua", function()
  local dir = H.tempdir()
  local result, id = loom.runs.run(H.COUNTER, {n = 5, lr = 0.5}, {db = dir .. "/lua.db", quiet = true})
  check(result, "run failed: %s", tostring(id))
  equal(result.steps, 5, "result")
  local s = assert(loom.runs.open(dir .. "/lua.db"))
  local r = s:get(id)
  equal(r.status, "completed", "status")
  equal(r.params.lr, 0.5, "param")
  s:close()
  local none, err = loom.runs.run(H.COUNTER, {n = "x"}, {db = dir .. "/lua.db"})
  equal(none, nil, "bad params")
  check(err:find("expects a number", 1, true), "message: %s", err)
  local failed, ferr, fid = loom.runs.run(H.COUNTER, {n = 10, fail = true}, {db = dir .. "/lua.db", quiet = true})
  equal(failed, nil, "failed run")
  check(ferr:find("^failed: ") and fid, "failure: %s", ferr)
  H.cleanup(dir)
end)

test("loom.experiment checks its table", function()
  checkerror("loom.experiment: 'name' must be a non-empty string", loom.experiment, {run = print})
  checkerror("loom.experiment: 'run' must be a function(p, run)", loom.experiment, {name = "x"})
  checkerror("loom.experiment: param x must be a number, string or boolean, got table",
    loom.experiment, {name = "x", params = {x = {}}, run = print})
end)

test("experiment.parse_command: INPUT, options with values, flags; the usage line for anything else", function()
  local parse = require("loom.experiment").parse_command
  local spec = {usage = "usage: x predict FILE --model PATH [--probe]", options = {"model"}, flags = {"probe"},
    required = {"model"}}
  local input, opts = parse({"predict", "in.txt", "--model", "m.safetensors", "--probe"}, spec)
  equal(input, "in.txt", "the input")
  equal(opts.model .. " " .. tostring(opts.probe), "m.safetensors true", "options")
  input, opts = parse({"predict", "--model", "m", "-"}, spec)
  equal(input .. " " .. opts.model .. " " .. tostring(opts.probe), "- m nil", "any order; '-' is an input")
  for _, args in ipairs{{"predict"}, {"predict", "a"}, {"predict", "a", "b", "--model", "m"},
      {"predict", "a", "--model"}, {"predict", "a", "--model", "m", "--color"}, {"predict", "a", "--probe", "x", "--model", "m"}} do
    local none, usage = parse(args, spec)
    equal(none, nil, table.concat(args, " "))
    equal(usage, spec.usage .. "\n", "the usage line for " .. table.concat(args, " "))
  end
  checkerror("loom.experiment.parse_command: args must be a list, got string", parse, "predict", spec)
  checkerror("loom.experiment.command: spec.run must be a function, got nil", require("loom.experiment").command,
    "predict", {usage = "u"})
  checkerror("loom.experiment.parse_command: spec.usage must be a string, got nil", parse, {"predict", "a"}, {})
  checkerror("loom.experiment.command: word must be a string, got number", require("loom.experiment").command,
    1, spec)
end)

-- ---- the store ----

test("store schema: tables, columns, WAL", function()
  local dir = H.tempdir()
  local s = assert(store.open(dir .. "/a.db"))
  local tables = {}
  for _, r in ipairs(s.db:rows("SELECT name FROM sqlite_master WHERE type = 'table'")) do tables[r.name] = true end
  for _, t in ipairs{"runs", "params", "metrics", "results", "artifacts", "sweeps", "sweep_points", "meta"} do
    check(tables[t], "table %s missing", t)
  end
  local cols = {}
  for _, r in ipairs(s.db:rows("PRAGMA table_info(runs)")) do cols[r.name] = true end
  for _, c in ipairs{"id", "name", "script", "script_hash", "seed", "status", "started", "ended", "host",
    "pid", "loom_version", "sweep", "error"} do
    check(cols[c], "runs.%s missing", c)
  end
  equal(s.db:rows("PRAGMA journal_mode")[1].journal_mode, "wal", "journal mode")
  check(s.db:rows("PRAGMA busy_timeout")[1].timeout >= 1000, "busy timeout set")
  equal(s.db:rows("SELECT value FROM meta WHERE key = 'schema_version'")[1].value, 1, "schema version")
  s:close()
  H.cleanup(dir)
end)

test("a journal switch waits for the lock as long as the timeout, then says so", function()
  local sqlite, process = require("loom.core").sqlite, require("loom.core").process
  local dir = H.tempdir()
  local path = dir .. "/j.db"
  local reader = assert(sqlite.open(path, {journal = "delete"}))
  reader:exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
  reader:exec("BEGIN")
  equal(reader:rows("SELECT x FROM t")[1].x, 1, "the reader holds a shared lock")
  -- Switching to WAL needs the file to itself; SQLite's busy handler does not wait for it.
  local db = assert(sqlite.open(path, {journal = "keep", timeout = 300}))
  local t0 = process.now()
  checkerror_like("sqlite journal: database is locked", db.journal, db, "wal")
  check(process.now() - t0 >= 0.25, "waited %.3f s of the 0.3 s timeout", process.now() - t0)
  equal(db:rows("PRAGMA journal_mode")[1].journal_mode, "delete", "unchanged while locked")
  local opened, why = sqlite.open(path, {journal = "wal", timeout = 100})
  equal(opened, nil, "an open asking for WAL under the lock")
  check(why:find("database is locked", 1, true), "message: %s", why)
  reader:exec("COMMIT")
  db:journal("wal")
  equal(db:rows("PRAGMA journal_mode")[1].journal_mode, "wal", "switched once free")
  db:journal("wal") -- already WAL: nothing to wait for
  checkerror('sqlite journal: mode must be "wal" or "delete", got "off"', db.journal, db, "off")
  db:close()
  reader:close()
  H.cleanup(dir)
end)

test("sqlite binding errors and closed handles", function()
  local sqlite = require("loom.core").sqlite
  local db, err = sqlite.open("/nonexistent-dir/x.db")
  equal(db, nil, "open of a missing dir")
  check(err:find("cannot open database", 1, true), "message: %s", err)
  db = assert(sqlite.open(":memory:", {journal = "delete"}))
  checkerror_like("sqlite prepare:", db.prepare, db, "SELEKT 1")
  checkerror("sqlite bind: value 1 is a table, expected nil, boolean, number or string", db.rows, db, "SELECT ?", {})
  equal(db:rows("SELECT ? AS a, ? AS b, ? AS c", 1, 2.5, "x")[1].b, 2.5, "typed round trip")
  local stmt = db:prepare("SELECT 1 AS one")
  db:close()
  db:close()
  checkerror("attempt to use a closed database", db.exec, db, "SELECT 1")
  stmt:close()
  checkerror("attempt to use a closed statement", stmt.step, stmt)
end)

test("a run records params, metrics, results, hash; exit statuses", function()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "run " .. H.quote(H.COUNTER) .. " n=30 lr=0.2 tag=x")
  equal(rc, 0, "exit status of a completed run: " .. out)
  check(out:find("result:", 1, true) and out:find("tag%s+x"), "result printed: %s", out)
  local s = assert(store.open(dir .. "/runs.db"))
  local runs = s:list()
  equal(#runs, 1, "runs")
  local r = s:get(runs[1].id)
  equal(r.status, "completed", "status")
  equal(r.params.lr, 0.2, "param lr")
  equal(r.params.n, 30, "param n")
  equal(r.params.fail, false, "boolean param")
  equal(r.seed, 42, "seed")
  equal(r.results.steps, 30, "result steps")
  equal(r.results.tag, "x", "result tag")
  equal(r.script_hash, require("loom.runs.sha256")(H.read(H.COUNTER)), "script hash")
  check(r.ended >= r.started, "timings")
  equal(s.db:rows("SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?", r.id)[1].n, 60, "metrics")
  s:close()
  rc, out = H.loom(dir, "run " .. H.quote(H.COUNTER) .. " n=30 fail=true")
  equal(rc, 1, "exit status of a failed run")
  check(out:find("failing on purpose", 1, true), "error shown: %s", out)
  rc, out = H.loom(dir, "run " .. H.quote(H.COUNTER) .. " nope=1")
  equal(rc, 2, "exit status of bad params")
  check(out:find("unknown param 'nope'", 1, true) and out:find("default 100", 1, true), "params listed: %s", out)
  rc, out = H.loom(dir, "run --help " .. H.quote(H.COUNTER))
  equal(rc, 0, "--help")
  check(out:find("lr%s+number%s+default 0.1"), "help lists params: %s", out)
  s = assert(store.open(dir .. "/runs.db"))
  local failed = s:list{status = "failed"}
  equal(#failed, 1, "failed runs")
  check(failed[1].error:find("failing on purpose at step 15", 1, true), "error recorded")
  equal(s.db:rows("SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?", failed[1].id)[1].n, 30, "metrics before the failure kept")
  s:close()
  H.cleanup(dir)
end)

test("--db and LOOM_DB choose the database", function()
  local dir = H.tempdir()
  equal((H.loom(dir, "run --quiet --db other.db " .. H.quote(H.COUNTER) .. " n=3")), 0, "--db")
  equal((H.sh(string.format("cd %s && LOOM_DB=env.db %s run --quiet %s n=3", H.quote(dir), H.quote(H.LOOM),
    H.quote(H.COUNTER)))), 0, "LOOM_DB")
  check(H.read(dir .. "/other.db") and H.read(dir .. "/env.db"), "both databases written")
  equal(H.read(dir .. "/runs.db"), nil, "no default database")
  local rc, out = H.loom(dir, "runs --db other.db")
  equal(rc, 0, "runs --db")
  check(out:find("counter", 1, true), "listed: %s", out)
  H.cleanup(dir)
end)

test("4 concurrent writers of 10,000 metrics each lose nothing", function()
  local dir = H.tempdir()
  local cmd = {}
  for i = 1, 4 do
    -- n = 5000 steps of two metrics (loss, acc) = 10,000 metrics per process.
    cmd[#cmd + 1] = string.format("%s run --quiet %s n=5000 tag=w%d >w%d.log 2>&1 &", H.quote(H.LOOM),
      H.quote(H.COUNTER), i, i)
  end
  local rc, out = H.sh(string.format("cd %s && { %s wait; cat w*.log; }", H.quote(dir), table.concat(cmd, " ")))
  equal(rc, 0, "writers: " .. out)
  local s = assert(store.open(dir .. "/runs.db"))
  local runs = s:list{status = "completed"}
  equal(#runs, 4, "completed runs: " .. out)
  for _, r in ipairs(runs) do
    equal(s.db:rows("SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?", r.id)[1].n, 10000, "metrics of " .. r.id)
    equal(s.db:rows("SELECT COUNT(DISTINCT step) AS n FROM metrics WHERE run_id = ?", r.id)[1].n, 5000, "steps")
  end
  equal(s.db:rows("SELECT COUNT(*) AS n FROM metrics")[1].n, 40000, "all metrics")
  s:close()
  H.cleanup(dir)
end)

-- Start a slow run in the background; -> its pid once it has logged a metric.
local function start_slow_run(dir)
  local rc, out = H.sh(string.format("cd %s && { %s run %s n=100000 sleep=0.01 >slow.log 2>&1 & echo $! ; }",
    H.quote(dir), H.quote(H.LOOM), H.quote(H.COUNTER)))
  equal(rc, 0, "start")
  local pid = tonumber(out:match("(%d+)"))
  local logged = H.wait_for(30, function()
    local s = store.open(dir .. "/runs.db", {readonly = true})
    if not s then return false end
    local ok, rows = pcall(s.db.rows, s.db, "SELECT COUNT(*) AS n FROM metrics")
    s.db:close()
    return ok and rows[1].n > 0
  end)
  check(logged, "the run logged nothing within 30 s")
  return pid
end

test("SIGINT marks the run interrupted and keeps its metrics", function()
  local dir = H.tempdir()
  local pid = start_slow_run(dir)
  os.execute("kill -INT " .. pid)
  check(H.wait_for(20, function() return H.gone(pid) end), "the run did not stop on SIGINT")
  local s = assert(store.open(dir .. "/runs.db"))
  local r = s:list()[1]
  equal(r.status, "interrupted", "status")
  check(r.ended ~= nil, "end recorded")
  equal(r.error, "interrupted by SIGINT", "error")
  check(s.db:rows("SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?", r.id)[1].n > 0, "metrics kept")
  s:close()
  local log = H.read(dir .. "/slow.log")
  check(log:find("interrupted by SIGINT", 1, true), "message: %s", log)
  H.cleanup(dir)
end)

test("SIGKILL leaves a run that shows as died", function()
  local dir = H.tempdir()
  local pid = start_slow_run(dir)
  os.execute("kill -KILL " .. pid)
  check(H.wait_for(20, function() return H.gone(pid) end), "the run did not die")
  local rc, out = H.loom(dir, "runs status=died")
  equal(rc, 0, "runs")
  check(out:find("died", 1, true), "listed as died: %s", out)
  local s = assert(store.open(dir .. "/runs.db"))
  equal(s:list()[1].status, "died", "stored status")
  s:close()
  H.cleanup(dir)
end)

-- Two completed runs with lr 0.1 and 0.3 in a fresh directory.
local function two_runs()
  local dir = H.tempdir()
  for _, lr in ipairs{"0.1", "0.3"} do
    local rc, out = H.loom(dir, "run --quiet " .. H.quote(H.COUNTER) .. " n=20 lr=" .. lr)
    equal(rc, 0, "run: " .. out)
  end
  local s = assert(store.open(dir .. "/runs.db"))
  local runs = s:list()
  s:close()
  return dir, runs[1].id, runs[2].id
end

test("runs list filters, show, compare, rm", function()
  local dir, a, b = two_runs()
  local rc, out = H.loom(dir, "runs lr=0.3")
  equal(rc, 0, "list")
  check(out:find(b, 1, true) and not out:find(a, 1, true), "param filter: %s", out)
  rc, out = H.loom(dir, "runs name=counter status=completed")
  check(out:find(a, 1, true) and out:find(b, 1, true), "name/status filter: %s", out)
  rc, out = H.loom(dir, "runs name=other")
  check(out:find("no runs match", 1, true), "empty filter: %s", out)
  rc, out = H.loom(dir, "runs show " .. a:sub(1, 6))
  equal(rc, 0, "show")
  check(out:find("run " .. a, 1, true) and out:find("sha256", 1, true) and out:find("loss%s+20%s+20"), "show: %s", out)
  rc, out = H.loom(dir, "runs compare " .. a .. " " .. b)
  equal(rc, 0, "compare")
  check(out:find("%* lr%s+0.1%s+0.3"), "differing param marked: %s", out)
  check(out:find("  n%s+20%s+20"), "equal param unmarked: %s", out)
  rc, out = H.loom(dir, "runs show zzz")
  equal(rc, 1, "bad id")
  check(out:find("'zzz' is not a run id", 1, true), "message: %s", out)
  rc, out = H.loom(dir, "runs rm " .. a)
  equal(rc, 0, "rm: " .. out)
  rc, out = H.loom(dir, "runs")
  check(not out:find(a, 1, true) and out:find(b, 1, true), "removed: %s", out)
  H.cleanup(dir)
end)

test("export --csv and --json", function()
  local dir, a, b = two_runs()
  local rc, csv = H.loom(dir, "runs export --csv")
  equal(rc, 0, "csv")
  local lines = {}
  for l in csv:gmatch("[^\n]+") do lines[#lines + 1] = l end
  equal(#lines, 3, "header and two rows")
  local header = {}
  for c in lines[1]:gmatch("[^,]+") do header[#header + 1] = c end
  equal(header[1], "id", "first column")
  local has = {}
  for _, c in ipairs(header) do has[c] = true end
  check(has["param.lr"] and has["result.loss"] and has.status, "columns: %s", lines[1])
  check(lines[2]:find("^" .. a .. ",counter,completed,"), "row: %s", lines[2])
  rc, csv = H.loom(dir, "runs export --csv --metrics lr=0.1")
  equal(rc, 0, "metrics csv")
  local n = 0
  for _ in csv:gmatch("\n") do n = n + 1 end
  equal(n, 41, "header + 40 metric rows")
  check(csv:find("^run_id,step,name,value\n" .. a .. ",1,acc,"), "metrics rows: %s", csv:sub(1, 80))
  rc = H.loom(dir, "runs export --json --metrics -o out.json")
  equal(rc, 0, "json")
  local text = H.read(dir .. "/out.json")
  check(text:find('"id": "' .. b .. '"', 1, true) and text:find('"lr": 0.3', 1, true), "json content")
  check(text:find('"metrics": {', 1, true) and text:find('"step": [', 1, true), "json metrics")
  local py = reference_python({"json"})
  if py then
    local prc, pout = H.sh(string.format("%s -c 'import json,sys; d=json.load(open(sys.argv[1])); "
      .. "assert len(d)==2 and d[1][\"params\"][\"lr\"]==0.3 and len(d[0][\"metrics\"][\"loss\"][\"value\"])==20' %s",
      py, H.quote(dir .. "/out.json")))
    equal(prc, 0, "python parses the JSON: " .. pout)
  end
  rc, csv = H.loom(dir, "runs export")
  equal(rc, 2, "no format")
  H.cleanup(dir)
end)

-- Width and height from a PNG's IHDR chunk, or nil when the signature is wrong.
local function png_size(path)
  local data = H.read(path)
  if not data or data:sub(1, 8) ~= "\137PNG\r\n\26\n" or data:sub(13, 16) ~= "IHDR" then return nil end
  return string.unpack(">I4I4", data, 17)
end

test("loom plot writes a PNG of the requested size, an SVG, and a terminal plot", function()
  local plot = require "loom.runs.plot"
  if not plot.available() then skip("gnuplot not installed (apt-get install gnuplot-nox)") end
  local dir, a, b = two_runs()
  local rc, out = H.loom(dir, string.format("plot %s %s loss -o curve.png --size 640x400", a, b))
  equal(rc, 0, "plot: " .. out)
  local w, h = png_size(dir .. "/curve.png")
  check(w, "not a PNG")
  equal(w, 640, "width")
  equal(h, 400, "height")
  rc, out = H.loom(dir, string.format("plot %s loss acc -o curve.svg", a))
  equal(rc, 0, "svg: " .. out)
  check(H.read(dir .. "/curve.svg"):find("<svg", 1, true), "SVG content")
  rc, out = H.loom(dir, string.format("plot %s %s loss", a, b))
  equal(rc, 0, "terminal plot")
  check(out:find("lr=0.1", 1, true) and out:find("lr=0.3", 1, true), "lines labelled by differing params: %s", out)
  rc, out = H.loom(dir, string.format("plot %s nosuchmetric", a))
  equal(rc, 1, "unknown metric")
  check(out:find("neither a run id nor a metric", 1, true), "message: %s", out)
  H.cleanup(dir)
end)

test("run:plot and run:artifact write into runs/<id>/", function()
  local plot = require "loom.runs.plot"
  if not plot.available() then skip("gnuplot not installed (apt-get install gnuplot-nox)") end
  local dir = H.tempdir()
  local script = dir .. "/plotting.lua"
  local f = assert(io.open(script, "w"))
  f:write([[
local loom = require "loom"
return loom.experiment{name = "plotting", params = {n = 10}, run = function(p, run)
  for i in run:steps(p.n) do run:log{step = i, loss = 1 / i} end
  local path = run:plot{file = "loss.png", metrics = {"loss"}, size = {320, 240}}
  local extra = run:plot{file = "mine.svg", series = {{title = "sq", x = {1, 2, 3}, y = {1, 4, 9}}}}
  local out = assert(io.open(run:artifact("notes/readme.txt"), "w"))
  out:write("hi\n"); out:close()
  return {plot = path, extra = extra}
end}
]])
  f:close()
  local rc, out = H.loom(dir, "run --quiet " .. H.quote(script))
  equal(rc, 0, "run: " .. out)
  local s = assert(store.open(dir .. "/runs.db"))
  local r = s:get(s:list()[1].id)
  equal(#r.artifacts, 3, "artifacts recorded")
  equal(r.results.plot, dir .. "/runs/" .. r.id .. "/loss.png", "artifact path")
  local w, h = png_size(r.results.plot)
  equal(w, 320, "width")
  equal(h, 240, "height")
  check(H.read(dir .. "/runs/" .. r.id .. "/notes/readme.txt"), "nested artifact")
  s:close()
  rc, out = H.loom(dir, "runs rm " .. r.id)
  equal(rc, 0, "rm")
  equal(H.read(r.results.plot), nil, "artifacts removed with the run")
  H.cleanup(dir)
end)

test("plot.draw: log axes, explicit ticks, ranges, markers and styles reach the figure", function()
  local plot = require "loom.runs.plot"
  if not plot.available() then skip("gnuplot not installed (apt-get install gnuplot-nox)") end
  local svg = os.tmpname() .. ".svg"
  local ok, err = plot.draw{output = svg, title = "axes", xlabel = "length", ylabel = "accuracy",
    logx = true, xtics = {3, 12, 48}, yrange = {0, 7}, key = "left bottom",
    vlines = {{x = 12, title = "longest trained"}},
    series = {{title = "lstm", x = {3, 12, 48}, y = {1, 1, 0.9}, style = "linespoints"},
      {title = "chance", x = {3, 48}, y = {0.5, 0.5}, dashed = true}}}
  check(ok, "draw: %s", tostring(err))
  local text = H.read(svg)
  os.remove(svg)
  for _, want in ipairs{"48", "longest trained", "7", "lstm", "chance"} do
    check(text:find(">%s*" .. want .. "<"), "the SVG shows %s", want)
  end
  check(not text:find(">%s*20<"), "only the ticks asked for on a log axis")
  local _, bad = plot.draw{output = svg, series = {{x = {1}, y = {1}, style = "bars"}}}
  equal(bad, "series 1: unknown style 'bars' (lines, linespoints, points, steps, impulses)", "style check")
  ok, err = plot.draw{output = svg, y2label = "cell state", series = {{title = "gate", x = {1, 2}, y = {0.5, 0.9}},
    {title = "cell", x = {1, 2}, y = {10, 30}, right_axis = true}}}
  check(ok, "right axis: %s", tostring(err))
  text = H.read(svg)
  os.remove(svg)
  check(text:find(">%s*cell state<") and text:find(">%s*30<"), "the right axis is labelled and scaled to its series")
end)

test("plot.heatmap and run:heatmap: a matrix as cells with their counts and labels", function()
  local plot = require "loom.runs.plot"
  if not plot.available() then skip("gnuplot not installed (apt-get install gnuplot-nox)") end
  local svg = os.tmpname() .. ".svg"
  local ok, err = plot.heatmap{output = svg, values = {{7, 0}, {2, 41}}, xlabels = {"cat", "dog"},
    ylabels = {"CAT", "DOG"}, xlabel = "predicted", ylabel = "true", title = "confusion"}
  check(ok, "heatmap: %s", tostring(err))
  local text = H.read(svg)
  os.remove(svg)
  for _, want in ipairs{"41", "7", "2", "dog", "DOG", "predicted", "confusion"} do
    check(text:find(">%s*" .. want .. "<"), "the SVG shows %s", want)
  end
  ok = plot.heatmap{output = svg, values = {{7, 0}, {2, 41}}, counts = false}
  check(ok and not H.read(svg):find(">%s*41<"), "counts = false writes no values in the cells")
  os.remove(svg)
  local _, bad = plot.heatmap{output = svg, values = {{1, 2}, {3}}}
  equal(bad, "heatmap: row 2 has 1 values, row 1 has 2", "ragged rows")
  _, bad = plot.heatmap{output = svg, values = {}}
  equal(bad, "heatmap: values must be a non-empty table of rows", "empty")
  local runner = require "loom.runner"
  local e = require("loom.experiment").new{name = "hm", params = {}, run = function() end}
  local run = runner.new_run(e, {}, {quiet = true})
  run.dir = H.tempdir()
  local path = run:heatmap{file = "c.png", values = {{1, 2}, {3, 4}}, size = {300, 280}}
  equal(path, run.dir .. "/c.png", "artifact path")
  check(H.read(path):sub(2, 4) == "PNG", "a PNG is written")
  checkerror("run:heatmap: heatmap: values must be a non-empty table of rows", run.heatmap, run, {values = {}})
  H.cleanup(run.dir)
end)

test("merging another database copies runs once", function()
  local dir, a = two_runs()
  local other = H.tempdir()
  local s = assert(store.open(other .. "/main.db"))
  equal(s:merge(dir .. "/runs.db"), 2, "copied")
  equal(s:merge(dir .. "/runs.db"), 0, "nothing new")
  equal(s.db:rows("SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?", a)[1].n, 40, "metrics copied")
  equal(s:get(a).params.lr, 0.1, "params copied")
  s:close()
  H.cleanup(dir)
  H.cleanup(other)
end)

test("progress: plain lines off a terminal, a bar with ETA on one", function()
  local progress = require "loom.runs.progress"
  local buf = {}
  local out = {write = function(self, ...) for _, s in ipairs{...} do buf[#buf + 1] = s end end,
    flush = function() end}
  local p = progress.new{label = "x", out = out, tty = false, plain_seconds = 1e9}
  for i = 1, 100 do p:update(i, 100, {loss = 0.5}) end
  local text = table.concat(buf)
  local n = select(2, text:gsub("\n", ""))
  equal(n, 1, "one line at the end: " .. text)
  check(text:find("100/100", 1, true) and text:find("loss=0.5", 1, true), "plain line: %s", text)
  buf = {}
  p = progress.new{label = "x", out = out, tty = true}
  p:update(1, 10, {loss = 1})
  text = table.concat(buf)
  check(text:find("\r", 1, true) and text:find("%[##") or text:find("%[%."), "bar: %q", text)
  check(text:find("ETA", 1, true) and text:find("it/s", 1, true), "ETA and rate: %q", text)
  equal(progress.duration(3725), "1:02:05", "duration")
end)

test("a run object without a store keeps metrics in memory", function()
  local runner = require "loom.runner"
  local e = exp()
  local run = runner.new_run(e, assert(experiment.resolve(e, {})), {quiet = true})
  run:log{step = 1, loss = 2}
  run:log{loss = 1}
  equal(#run.metrics, 2, "metrics")
  equal(run.metrics[2].step, 2, "next step")
  checkerror("run:log: metric 'loss' must be a number, got string", run.log, run, {loss = "x"})
  checkerror("run:log: step must be an integer, got 1.5", run.log, run, {step = 1.5, loss = 1})
  checkerror("run:artifact: expected a file name inside the run's folder, got ../x", run.artifact, run, "../x")
end)

test("process helper: pids, clocks, and SIGINT raising in Lua", function()
  local process = require("loom.core").process
  check(process.alive(process.pid()), "this process is alive")
  local _, out = H.sh("sh -c 'echo $$'")
  local gone = tonumber(out:match("%d+"))
  equal(process.alive(gone), false, "a finished process")
  local ok, err = process.kill(gone, "TERM")
  equal(ok, nil, "kill of a finished process")
  check(type(err) == "string", "kill message")
  checkerror_like("pid must be > 0", process.alive, 0)
  equal(type(process.isatty(io.stdout)), "boolean", "isatty")
  equal(process.cwd(), (io.popen("pwd"):read("l")), "cwd")
  local t0 = process.now()
  process.sleep(0.01)
  check(process.now() - t0 >= 0.009, "monotonic clock and sleep")
  check(math.abs(process.time() - os.time()) < 2, "wall clock")
  equal(process.caught(), nil, "no signal yet")
  -- With raise, the signal becomes the error "interrupted!" at the next Lua call.
  process.catch_signals(true)
  local raised, msg = pcall(function()
    process.kill(process.pid(), "INT")
    for _ = 1, 1e6 do local _ = math.abs(1) end
  end)
  local caught = process.caught()
  process.release_signals()
  equal(raised, false, "the loop was interrupted")
  check(tostring(msg):find("interrupted!", 1, true), "message: %s", tostring(msg))
  equal(caught, "SIGINT", "caught")
  equal(process.caught(), nil, "released")
  -- Without raise, only the flag is set.
  process.catch_signals(false)
  process.kill(process.pid(), "TERM")
  process.sleep(0.01)
  equal(process.caught(), "SIGTERM", "flag only")
  process.release_signals()
end)
