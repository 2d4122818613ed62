-- experiment_helpers.lua: run an experiment script's run(p, run) inside a test, with a real
-- run object (no store) whose artifacts go to a scratch folder. Not a test file itself.
local loom = require "loom"
local experiment = require "loom.experiment"
local runner = require "loom.runner"

local E = {}

-- E.run(script, {key = "value", ...}) -> result, printed lines (a list), the run's folder.
-- Params are resolved as `loom run script key=value` would; the run prints nothing to the
-- terminal (its lines are captured). The caller removes the folder with E.cleanup.
function E.run(script, overrides)
  local e = assert(experiment.load(PROJECT_DIR .. "/scripts/experiments/" .. script))
  local p = assert(experiment.resolve(e, overrides or {}))
  local run = runner.new_run(e, p, {quiet = true})
  local p_dir = io.popen("mktemp -d /tmp/loom-test-XXXXXX")
  run.dir = p_dir:read("l")
  p_dir:close()
  loom.seed(p.seed)
  math.randomseed(p.seed)
  local lines, real_print = {}, print
  print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    lines[#lines + 1] = table.concat(parts, "\t")
  end
  local ok, result = pcall(e.run, p, run)
  print = real_print
  if not ok then
    E.cleanup(run.dir)
    error(result, 0)
  end
  return result, lines, run.dir
end

-- The first printed line containing text (plain), or nil.
function E.line(lines, text)
  for _, l in ipairs(lines) do
    if l:find(text, 1, true) then return l end
  end
end

-- The width and height of a PNG file (from its IHDR chunk), or nil.
function E.png_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local head = f:read(24)
  f:close()
  if not head or #head < 24 or head:sub(2, 4) ~= "PNG" then return nil end
  return string.unpack(">I4I4", head, 17)
end

-- E.cli(script) -> run, dir, bin, path: run(args) is `loom run --quiet` of
-- scripts/experiments/<script> with the key=value text args, in a fresh folder dir with its
-- own runs.db (removed after the test file), returning its output (stdout and stderr) and exit code.
function E.cli(script)
  local bin = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")
  local path = PROJECT_DIR .. "/scripts/experiments/" .. script
  local mk = io.popen("mktemp -d /tmp/loom-test-XXXXXX")
  local dir = mk:read("l")
  mk:close()
  at_exit(function() E.cleanup(dir) end)
  local function run(args)
    local cmd = string.format("cd '%s' && LOOM_DB='%s/runs.db' '%s' run --quiet '%s' %s 2>&1", dir, dir,
      bin, path, args)
    local p = io.popen(cmd)
    local out = p:read("a")
    local ok, _, code = p:close()
    return out, ok and 0 or code
  end
  return run, dir, bin, path
end

function E.cleanup(dir)
  if dir and dir:match("^/tmp/loom%-test%-") then os.execute("rm -rf '" .. dir .. "'") end
end

return E
