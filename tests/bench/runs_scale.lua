-- bench/runs_scale.lua: the run store at scale: a database of 10,000 runs with 100 logged
-- steps each (two metrics a step), then the wall time of `loom runs`, `loom runs compare` of
-- 1,000 runs (side by side, and --group-by), `loom runs --where` and `loom report --last 100`,
-- each as the user runs it (a fresh loom process). Target: each under one second.
-- Usage: build/bin/loom tests/bench/runs_scale.lua [runs, default 10000] [steps, default 100]
local store = require "loom.runs.store"
local process = require("loom.core").process

local n_runs = math.tointeger(tonumber(arg and arg[1]) or 10000)
local n_steps = math.tointeger(tonumber(arg and arg[2]) or 100)
local loom_bin = os.getenv("LOOM_BIN") or "build/bin/loom"
local dir = (os.getenv("TMPDIR") or "/tmp") .. "/loom-bench-runs-" .. process.pid()
assert(process.capture{"mkdir", "-p", dir} == 0)
local db = dir .. "/runs.db"

-- Rows written straight into the schema in one transaction (recording speed is not measured
-- here; test_runs.lua covers the recording path).
local function build()
  local s = assert(store.open(db))
  local t0 = process.now()
  local ids = {}
  s:transaction(function()
    local run = s.db:prepare([[INSERT INTO runs (id, name, script, seed, status, started, ended, host, pid,
      loom_version, artifacts_dir) VALUES (?, 'scale', '/bench/scale.lua', ?, 'completed', ?, ?, 'bench', 1, '0', ?)]])
    local param = s.db:prepare("INSERT INTO params (run_id, name, value, type) VALUES (?, ?, ?, 'number')")
    local result = s.db:prepare("INSERT INTO results (run_id, name, value, type) VALUES (?, ?, ?, 'number')")
    local metric = s.db:prepare("INSERT INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)")
    for i = 1, n_runs do
      local id = string.format("%08x", i * 2654435761 % 0x100000000)
      ids[i] = id
      local lr, hidden, seed = 10.0 ^ -(1 + i % 10), 8 * (1 + (i // 10) % 10), i // 100
      run:exec(id, seed, 1.7e9 + i, 1.7e9 + i + 0.5, dir .. "/runs/" .. id)
      param:exec(id, "lr", lr)
      param:exec(id, "hidden", hidden)
      param:exec(id, "seed", seed)
      local loss = 1.0
      for step = 1, n_steps do
        loss = loss * (1 - lr)
        metric:exec(id, step, "loss", loss)
        metric:exec(id, step, "acc", 1 - loss)
      end
      result:exec(id, "loss", loss)
      result:exec(id, "test_acc", 1 - loss + (i % 7) * 1e-3)
    end
    run:close(); param:close(); result:close(); metric:close()
  end)
  s:close()
  return ids, process.now() - t0
end

-- Wall and CPU seconds of one loom command (the best of three runs), and its output size.
-- Both are shown because a loaded machine stretches wall time but not CPU time.
local function time(label, args)
  local best, best_cpu, bytes = math.huge, math.huge, 0
  for _ = 1, 3 do
    local argv = {loom_bin}
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local _, _, cu0, cs0 = process.cpu_time()
    local t0 = process.now()
    local code, out, err = process.capture(argv)
    local dt = process.now() - t0
    local _, _, cu1, cs1 = process.cpu_time()
    assert(code == 0, label .. " failed: " .. tostring(err))
    best, best_cpu, bytes = math.min(best, dt), math.min(best_cpu, cu1 + cs1 - cu0 - cs0), #out
  end
  print(string.format("  %-46s wall %6.3f s  cpu %6.3f s %s (%d bytes of output)", label, best, best_cpu,
    best_cpu < 1 and "  " or "!!", bytes))
  return best, best_cpu
end

local ids, build_time = build()
print(string.format("runs_scale: %d runs x %d steps x 2 metrics (%d metric rows) built in %.1f s",
  n_runs, n_steps, n_runs * n_steps * 2, build_time))
local thousand = {"runs", "compare", "--db", db}
for i = 1, math.min(1000, #ids) do thousand[#thousand + 1] = ids[#ids - i + 1] end
local commands = {
  {"loom runs (all " .. n_runs .. ")", {"runs", "--db", db}},
  {"loom runs --where 'test_acc > 0.9 or hidden = 8'", {"runs", "--db", db, "--where", "test_acc > 0.9 or hidden = 8"}},
  {"loom runs compare (1,000 ids)", thousand},
  {"loom runs compare --group-by lr --last 1000", {"runs", "--db", db, "compare", "--group-by", "lr", "--last", "1000"}},
  {"loom runs export --csv (all)", {"runs", "--db", db, "export", "--csv"}},
  {"loom report --last 100", {"report", "--db", db, "--last", "100", "-o", dir .. "/report.html"}},
}
local slowest, slowest_cpu = 0, 0
for _, c in ipairs(commands) do
  local wall, cpu = time(c[1], c[2])
  slowest, slowest_cpu = math.max(slowest, wall), math.max(slowest_cpu, cpu)
end
print(string.format("slowest: wall %.3f s, cpu %.3f s: %s", slowest, slowest_cpu,
  slowest < 1 and "every command under one second" or
  (slowest_cpu < 1 and "under one second of CPU (wall time stretched by other load)" or "OVER one second")))
if os.getenv("LOOM_BENCH_KEEP") then print("kept " .. db) else process.capture{"rm", "-rf", dir} end
