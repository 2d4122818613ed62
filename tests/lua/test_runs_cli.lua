-- test_runs_cli.lua: what a user of `loom run` and `loom runs` meets: param descriptions,
-- types and typos, --print-id/--json, failure messages at the user's line, the listing
-- fitted to the terminal width, natural order of results, progress lines off a terminal.
local loom = require "loom"
local experiment = require "loom.experiment"
local store = require "loom.runs.store"
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- An experiment with described params, many results and an optional failure in a library call.
local SCRIPT = [[
local loom = require "loom"
return loom.experiment{
  name = "described",
  description = "a test experiment",
  params = {hidden = {64, "hidden units"}, noise = {1, "noise scale", type = "number"},
    lr = 0.1, path = {"", "data file (empty: generated)"}, fail = false},
  run = function(p, run)
    local out = {acc = 0.75, loss = 0.25}
    for i = 1, 12 do out["fastest_1" .. string.rep("0", i) .. "x10"] = i end
    if p.fail then
      local X = loom.zeros(5, 3)
      local beta = loom.linalg.lstsq(X, loom.zeros(3, 1))
      out.beta = beta:get(1, 1)
    end
    return out
  end,
}
]]

local function script_dir()
  local dir = H.tempdir()
  write(dir .. "/described.lua", SCRIPT)
  return dir
end

-- ---- params ----

test("params take descriptions; --help shows meaning, integer and number", function()
  local dir = script_dir()
  local rc, out = H.sh(string.format("cd %s && %s run --help described.lua 2>/dev/null", H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, "rc")
  check(out:find("experiment described: a test experiment\nparams (key=value):\n", 1, true), "head: %s", out)
  check(out:find("  hidden  integer  default 64     hidden units\n", 1, true), "integer param: %s", out)
  check(out:find("  noise   number   default 1.0    noise scale\n", 1, true), "number param: %s", out)
  check(out:find("  path    string   default \"\"     data file (empty: generated)\n", 1, true), "string: %s", out)
  check(out:find("  lr      number   default 0.1\n", 1, true), "plain default: %s", out)
  check(out:find("  seed    integer  default 42     seed of loom's generator and math.random", 1, true), "seed: %s", out)
  H.cleanup(dir)
end)

test("a number param takes 1.5, an integer one says it wants an integer", function()
  local e = loom.experiment{name = "t", params = {noise = {1, "noise", type = "number"}, hidden = {50, "units"}},
    run = print}
  local p = assert(experiment.resolve(e, {"noise=1.5"}))
  equal(p.noise, 1.5, "noise")
  p = assert(experiment.resolve(e, {}))
  equal(math.type(p.noise), "float", "a declared number stays a float")
  equal(math.type(p.hidden), "integer", "hidden")
  local _, err = experiment.resolve(e, {"hidden=1.5"})
  equal(err:match("^[^\n]*"), "param 'hidden' expects an integer, got '1.5'", "message")
  check(err:find("hidden  integer  default 50", 1, true), "help says integer: %s", err)
  checkerror("loom.experiment: param a is declared integer but its default 1.5 is a number",
    loom.experiment, {name = "t", params = {a = {1.5, "x", type = "integer"}}, run = print})
  checkerror("loom.experiment: param a: the description must be a string, got number",
    loom.experiment, {name = "t", params = {a = {1, 2}}, run = print})
  checkerror("loom.experiment: param a: type must be integer, number, string or boolean, got int",
    loom.experiment, {name = "t", params = {a = {1, "x", type = "int"}}, run = print})
end)

test("a mistyped param name suggests the nearest one", function()
  local e = loom.experiment{name = "t", params = {noise = 1.0, hidden = 8, lr = 0.1}, run = print}
  local _, err = experiment.resolve(e, {"nosie=2"})
  equal(err:match("^[^\n]*"), "unknown param 'nosie' (did you mean 'noise'?)", "swap")
  _, err = experiment.resolve(e, {"hiden=2"})
  equal(err:match("^[^\n]*"), "unknown param 'hiden' (did you mean 'hidden'?)", "missing letter")
  _, err = experiment.resolve(e, {"momentum=2"})
  equal(err:match("^[^\n]*"), "unknown param 'momentum'", "nothing near")
end)

test("param descriptions are stored with the run and shown by runs show", function()
  local dir = script_dir()
  local rc, out = H.loom(dir, "run --quiet described.lua hidden=32")
  equal(rc, 0, "run: " .. out)
  local s = assert(store.open(dir .. "/runs.db"))
  local docs = s:param_docs(s:list()[1].id)
  s:close()
  equal(docs.hidden, "hidden units", "stored")
  equal(docs.lr, nil, "no description, nothing stored")
  rc, out = H.loom(dir, "runs show last")
  check(out:find("  hidden               32         hidden units\n", 1, true), "show: %s", out)
  H.cleanup(dir)
end)

-- ---- loom run for scripts ----

test("loom run --print-id and --json write only that on stdout", function()
  local dir = script_dir()
  local rc, out = H.sh(string.format("cd %s && %s run --print-id described.lua 2>/dev/null", H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, "rc")
  check(out:match("^%x%x%x%x%x%x%x%x\n$"), "the id alone: %q", out)
  local s = assert(store.open(dir .. "/runs.db"))
  equal(s:list()[1].id, out:sub(1, 8), "the recorded run")
  s:close()
  rc, out = H.sh(string.format("cd %s && %s run --json described.lua 2>/dev/null", H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, "json rc")
  check(out:match('^{"id":"%x+","name":"described","results":{"acc":0.75,.*},"status":"completed"}\n$'), "json: %s", out)
  rc, out = H.sh(string.format("cd %s && %s run --json described.lua fail=true 2>/dev/null", H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 1, "failed rc")
  check(out:match('^{"error":"described.lua:12: linalg.lstsq: X is 5x3 but y is 3x1 %(rows differ%)","id":"%x+","name":"described","status":"failed"}\n$'),
    "json failure: %s", out)
  -- what the script itself prints goes to stderr too
  write(dir .. "/talky.lua", [[
return require("loom").experiment{name = "talky", params = {}, run = function()
  print("epoch", 1)
  io.write("loss 0.5\n")
  return {acc = 1}
end}
]])
  local err = dir .. "/stderr.txt"
  rc, out = H.sh(string.format("cd %s && %s run --print-id talky.lua 2>%s", H.quote(dir), H.quote(H.LOOM), H.quote(err)))
  equal(rc, 0, "talky rc")
  check(out:match("^%x%x%x%x%x%x%x%x\n$"), "the id alone although the script prints: %q", out)
  local f = assert(io.open(err))
  local said = f:read("a")
  f:close()
  check(said:find("epoch\t1\nloss 0.5\n", 1, true), "the script's output on stderr: %q", said)
  rc, out = H.sh(string.format("cd %s && %s run --json talky.lua 2>/dev/null", H.quote(dir), H.quote(H.LOOM)))
  check(out:match('^{"id":"%x+","name":"talky",.*}\n$'), "json alone: %s", out)
  rc, out = H.loom(dir, "run --print-id --json described.lua")
  equal(rc, 2, "both")
  check(out:find("loom run: choose one of --print-id and --json", 1, true), "message: %s", out)
  H.cleanup(dir)
end)

test("loom run --help without a script writes usage to stdout", function()
  local rc, out = H.sh(H.quote(H.LOOM) .. " run --help 2>/dev/null")
  equal(rc, 0, "rc")
  check(out:find("^usage: loom run %[options%] script.lua"), "usage on stdout: %s", out)
  check(out:find("--print-id", 1, true) and out:find("--json", 1, true), "new options: %s", out)
  rc, out = H.sh(H.quote(H.LOOM) .. " run 2>&1 >/dev/null")
  equal(rc, 2, "no script is still a usage error")
  check(out:find("^usage: loom run"), "on stderr: %s", out)
end)

test("a failed run blames the user's line, without loom's runner frames", function()
  local dir = script_dir()
  local rc, out = H.loom(dir, "run --quiet described.lua fail=true")
  equal(rc, 1, "rc")
  check(out:find("failed: described.lua:12: linalg.lstsq: X is 5x3 but y is 3x1 (rows differ)\n", 1, true), "message: %s", out)
  check(out:find("described.lua:12: in function <described.lua:7>", 1, true), "user frame kept: %s", out)
  check(not out:find("runner.lua", 1, true) and not out:find("cli.lua", 1, true) and not out:find("xpcall", 1, true),
    "loom's frames trimmed: %s", out)
  local s = assert(store.open(dir .. "/runs.db"))
  equal(s:get(s:list()[1].id).error, "described.lua:12: linalg.lstsq: X is 5x3 but y is 3x1 (rows differ)", "stored")
  s:close()
  write(dir .. "/plain.lua", "local loom = require 'loom'\nlocal x = loom.linalg.lstsq(loom.zeros(5, 3), loom.zeros(3, 1))\nprint(x)\n")
  rc, out = H.loom(dir, "plain.lua")
  equal(rc, 1, "script rc")
  check(out:find("^loom: plain.lua:2: linalg.lstsq: X is 5x3 but y is 3x1 %(rows differ%)\nstack traceback:\n"), "script: %s", out)
  check(out:find("\tplain.lua:2: in main chunk\n$"), "ends at the user's chunk: %s", out)
  H.cleanup(dir)
end)

test("a message the script raises with error(msg, 0) is one line; error(msg) keeps the traceback", function()
  local dir = H.tempdir()
  write(dir .. "/user.lua", [[
return require("loom").experiment{name = "user", params = {level = 0}, run = function(p)
  error("user: no such split 'x'", p.level)
end}
]])
  local rc, out = H.loom(dir, "run --quiet user.lua")
  equal(rc, 1, "rc")
  check(out:find("failed: user: no such split 'x'\n$"), "one line: %s", out)
  check(not out:find("traceback", 1, true), "no traceback: %s", out)
  rc, out = H.loom(dir, "run --quiet user.lua level=1")
  check(out:find("failed: user.lua:2: user: no such split 'x'\nstack traceback:\n", 1, true), "a positioned error: %s", out)
  H.cleanup(dir)
end)

test("results print in natural order", function()
  local dir = script_dir()
  local rc, out = H.loom(dir, "run --quiet described.lua")
  equal(rc, 0, "rc")
  local a = out:find("fastest_10000000000x10", 1, true)
  local b = out:find("fastest_100000000000x10", 1, true)
  check(a and b and a < b, "natural order: %s", out)
  equal(require("loom.cli").natural_sort{"fastest_1000000x10", "fastest_100000x10", "n10", "n9"}[2],
    "fastest_1000000x10", "sort")
  equal(table.concat(require("loom.cli").natural_sort{"n10", "n9", "a"}, " "), "a n9 n10", "numbers in names")
  H.cleanup(dir)
end)

-- ---- loom runs: the listing ----

-- Three runs of one experiment (hidden 8, 16, 32) and one of the counter.
local function listing_dir()
  local dir = script_dir()
  for _, h in ipairs{8, 16, 32} do
    local rc, out = H.loom(dir, "run --quiet described.lua noise=2 hidden=" .. h)
    equal(rc, 0, "run: " .. out)
  end
  local rc, out = H.loom(dir, "run --quiet " .. H.quote(H.COUNTER) .. " n=3")
  equal(rc, 0, "counter: " .. out)
  return dir
end

local function lines_of(text)
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  return lines
end

test("loom runs fits the terminal width and shows what differs", function()
  local dir = listing_dir()
  for _, cols in ipairs{80, 140} do
    local rc, out = H.sh(string.format("cd %s && COLUMNS=%d %s runs", H.quote(dir), cols, H.quote(H.LOOM)))
    equal(rc, 0, "rc")
    for _, l in ipairs(lines_of(out)) do
      check(utf8.len(l) <= cols - 1, "%d columns: a %d-character line: %s", cols, utf8.len(l), l)
    end
    local rows = lines_of(out)
    check(rows[1]:find(cols < 100 and "^ID%s+NAME%s+STATUS%s+TIME%s+PARAMS%s+RESULTS$" or "^ID%s+NAME%s+STATUS%s+STARTED%s+TIME%s+PARAMS%s+RESULTS$"), "header: %s", rows[1])
    check(rows[2]:find("hidden=8", 1, true) and not rows[2]:find("noise=", 1, true), "differing params only: %s", rows[2])
    check(rows[2]:find("acc=0.75 loss=0.25", 1, true), "main results first: %s", rows[2])
    check(rows[5]:find("counter", 1, true) and rows[5]:find("fail=false", 1, true) and not rows[5]:find("seed=", 1, true), "a lone run shows its params but the seed: %s", rows[5])
    check(out:find("(13 more results: --results all", 1, true), "says what is hidden: %s", out)
  end
  local _, out = H.sh(string.format("cd %s && COLUMNS=80 %s runs", H.quote(dir), H.quote(H.LOOM)))
  check(out:find("…", 1, true), "cut cells end in an ellipsis at 80 columns: %s", out)
  H.cleanup(dir)
end)

test("loom runs --wide, --columns and --results", function()
  local dir = listing_dir()
  local rc, out = H.sh(string.format("cd %s && COLUMNS=80 %s runs --wide", H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, "wide")
  check(out:find("fastest_1000000000000x10=12", 1, true) and out:find("noise=2.0", 1, true) or out:find("noise=2", 1, true),
    "wide shows everything: %s", out)
  check(not out:find("…", 1, true), "nothing cut: %s", out)
  rc, out = H.sh(string.format("cd %s && COLUMNS=80 %s runs --columns id,results --results loss,fastest_10x10 name=described",
    H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, "columns")
  local rows = lines_of(out)
  equal(rows[1], "ID        RESULTS", "header")
  check(rows[2]:find("^%x+  loss=0.25 fastest_10x10=1$"), "chosen results: %s", rows[2])
  rc, out = H.loom(dir, "runs --columns id,bogus")
  equal(rc, 2, "bad column")
  check(out:find("loom runs: unknown column 'bogus' (columns: id,name,status,started,time,params,results)", 1, true), "message: %s", out)
  H.cleanup(dir)
end)

-- ---- progress off a terminal ----

-- A display writing into a list, timed by a clock the test moves.
local function fake_display(opts)
  local progress = require "loom.runs.progress"
  local now = 1000
  local saved = progress.clock
  progress.clock = function() return now end
  local lines = {}
  local out = {write = function(_, ...) lines[#lines + 1] = table.concat({...}) end, flush = function() end}
  opts = opts or {}
  opts.out, opts.tty, opts.label = out, false, "x"
  local p = progress.new(opts)
  local function advance(s) now = now + s end
  local function restore() progress.clock = saved end
  return p, lines, advance, restore
end

test("progress: a plain line every five seconds, also during a long step", function()
  local p, lines, advance, restore = fake_display()
  local ok, err = pcall(function()
    p:update(1, 100, {loss = 1})
    equal(#lines, 0, "the first line waits one interval")
    advance(4.9)
    p:tick({loss = 0.9})
    equal(#lines, 0, "not yet")
    advance(0.2)
    p:tick({loss = 0.8})
    equal(#lines, 1, "a tick on time prints the line though no item finished")
    check(lines[1]:find("1/100", 1, true) and lines[1]:find("loss=0.8", 1, true), "line: %s", lines[1])
    for _ = 1, 10 do advance(1); p:tick({loss = 0.7}) end
    equal(#lines, 3, "every five seconds")
  end)
  restore()
  if not ok then error(err, 0) end
end)

test("progress: short lines with the latest metrics, honest ETA, a rate for fast loops", function()
  local p, lines, advance, restore = fake_display()
  local ok, err = pcall(function()
    local m, recency = {}, {}
    for i = 1, 40 do m["metric_" .. i] = i; recency["metric_" .. i] = i end
    -- items that take longer and longer: 1 s, 2 s, ... the ETA must not promise the early rate
    for i = 1, 20 do
      advance(i)
      p:update(i, 40, m, nil, recency)
    end
    local last = lines[#lines]
    check(#last <= 160, "short: %d characters", #last)
    check(last:find("metric_40=40", 1, true) and last:find("metric_37=37", 1, true) and not last:find("metric_36=", 1, true),
      "the four latest metrics: %s", last)
    check(last:find("ETA >", 1, true), "slowing is said: %s", last)
    local eta = last:match("ETA >(%d+:%d+)")
    local m1, s1 = eta:match("(%d+):(%d+)")
    check(tonumber(m1) * 60 + tonumber(s1) >= 20 * 15, "ETA from the recent rate (%s)", eta)
  end)
  restore()
  if not ok then error(err, 0) end
  -- a loop done before the clock moved shows no "- it/s"
  p, lines, advance, restore = fake_display()
  ok, err = pcall(function()
    for i = 1, 1000 do p:update(i, 1000, {loss = 1}) end
    advance(0.01)
    equal(#lines, 1, "one line")
    check(not lines[1]:find("- it/s", 1, true), "no dash rate: %s", lines[1])
  end)
  restore()
  if not ok then error(err, 0) end
end)

-- ---- paths ----

test("paths are stored and printed normalised", function()
  equal(store.normalize("/a/b/../c/./d"), "/a/c/d", "absolute")
  equal(store.normalize("scripts/experiments/../../../data/x"), "../data/x", "relative above the start")
  equal(store.normalize("./x/"), "x", "dot")
  equal(store.normalize("/.."), "/", "root")
  local dir = script_dir()
  os.execute("mkdir -p " .. H.quote(dir .. "/sub"))
  local rc, out = H.loom(dir .. "/sub", "run --quiet ../sub/../described.lua")
  equal(rc, 0, "run: " .. out)
  check(out:find("recorded in " .. dir .. "/sub/runs.db\n", 1, true), "db path: %s", out)
  rc, out = H.loom(dir .. "/sub", "runs show last")
  check(out:find("  script      " .. dir .. "/described.lua\n", 1, true), "script path: %s", out)
  H.cleanup(dir)
end)

test("every param of every experiment script has a description", function()
  local dir = TEST_DIR .. "/../../scripts/experiments"
  local p = io.popen("ls " .. H.quote(dir))
  local count = 0
  for file in p:lines() do
    if file:match("%.lua$") then
      local e = assert(experiment.load(dir .. "/" .. file))
      for _, k in ipairs(experiment.param_names(e)) do
        check(type(e.param_docs[k]) == "string" and e.param_docs[k] ~= "", "%s: param %s has no description", file, k)
      end
      count = count + 1
    end
  end
  p:close()
  check(count >= 6, "found %d scripts", count)
end)
