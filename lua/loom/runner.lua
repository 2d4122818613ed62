-- loom.runner: executes an experiment: `loom run script.lua key=value ...`. It gives
-- run(p, run) its run object (log, progress, artifact) and prints the result table.
-- Not the run store: the first version records nothing beyond runs/<id>/ artifacts.
local loom = require "loom"
local experiment = require "loom.experiment"
local cli = require "loom.cli"

local runner = {}

local Run = {}
Run.__index = Run

local function new_id()
  return os.date("!%Y%m%d-%H%M%S") .. string.format("-%04x", math.random(0, 0xffff))
end

function runner.new_run(e, p)
  return setmetatable({id = new_id(), experiment = e, params = p, metrics = {},
    last_metrics = {}, started = os.clock(), last_progress = -math.huge}, Run)
end

-- run:log{step = n, name = value, ...}: numeric metrics at a step.
function Run:log(t)
  local step = t.step or (#self.metrics + 1)
  for k, v in pairs(t) do
    if k ~= "step" then
      if type(v) ~= "number" then
        error(string.format("run:log: metric '%s' must be a number, got %s", k, type(v)), 2)
      end
      self.metrics[#self.metrics + 1] = {step = step, name = k, value = v}
      self.last_metrics[k] = v
    end
  end
end

local function metrics_text(m)
  local keys = {}
  for k in pairs(m) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = string.format("%s=%.4g", k, m[k]) end
  return table.concat(parts, " ")
end

-- run:progress(i, n): a plain line every few seconds of CPU time, and at the end.
function Run:progress(i, n)
  local now = os.clock()
  if i >= n or now - self.last_progress >= 2 then
    self.last_progress = now
    io.stdout:write(string.format("[%s] %d/%d %s\n", self.experiment.name, i, n,
      metrics_text(self.last_metrics)))
    io.stdout:flush()
  end
end

-- run:artifact(name) -> a path under runs/<id>/ (the folder is created).
function Run:artifact(name)
  local dir = "runs/" .. self.id
  os.execute(string.format("mkdir -p '%s'", dir))
  return dir .. "/" .. name
end

function runner.print_result(result)
  if type(result) ~= "table" then return end
  local keys = {}
  for k in pairs(result) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  print("result:")
  for _, k in ipairs(keys) do
    local v = result[k]
    if type(v) == "number" then v = string.format("%.6g", v) end
    print(string.format("  %-20s %s", k, tostring(v)))
  end
end

-- loom run [--help] script.lua key=value ...
function runner.main(args)
  local help = args[1] == "--help"
  local path = help and args[2] or args[1]
  if not path then
    io.stderr:write("usage: loom run [--help] script.lua [key=value ...]\n")
    return 2
  end
  local e, err = experiment.load(path)
  if not e then
    io.stderr:write("loom run: ", err, "\n")
    return 1
  end
  if help then
    print(experiment.help(e))
    return 0
  end
  local p, perr = experiment.resolve(e, table.move(args, 2, #args, 1, {}))
  if not p then
    io.stderr:write("loom run: ", perr, "\n")
    return 2
  end
  loom.seed(p.seed)
  local run = runner.new_run(e, p)
  local ok, result = xpcall(e.run, debug.traceback, p, run)
  if not ok then
    io.stderr:write("loom run: ", e.name, " failed: ", tostring(result), "\n")
    return 1
  end
  runner.print_result(result)
  return 0
end

cli.register("run", "run an experiment script: loom run script.lua key=value ...", runner.main)

return runner
