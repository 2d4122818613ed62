-- loom.runs.provenance: what produced a run: git commit, dirty flag and diff, loom version,
-- BLAS build and threads, CPU, host, command line, LOOM_/OMP_/OPENBLAS_ environment, times.
-- Not the store (loom.runs.store keeps the rows) nor the run object (loom.runner calls us).
local core = require "loom.core"

local process = core.process

local provenance = {}

-- Environment variables recorded with a run: their names start with one of these.
provenance.ENV_PREFIXES = {"LOOM_", "OMP_", "OPENBLAS_"}

-- The order `loom runs show` prints the fields in (env.* follow, sorted).
provenance.FIELDS = {"git_commit", "git_dirty", "git_root", "loom_version", "blas_config",
  "blas_core", "blas_threads", "cpu_model", "cpus", "host", "command_line", "wall_time", "cpu_time"}

-- The git repository holding dir: {commit =, dirty =, root =, diff =} or nil, why.
-- git runs through process.capture (argv, no shell), so paths need no quoting.
function provenance.git(dir)
  local function git(...)
    local ok, code, out, err = pcall(process.capture, {"git", "-C", dir, ...})
    if not ok then return nil, code end
    if code == nil then return nil, out end
    if code ~= 0 then return nil, (err:match("^[^\n]*")) end
    return out
  end
  local commit, err = git("rev-parse", "HEAD")
  if not commit then return nil, err end
  local root = git("rev-parse", "--show-toplevel")
  local status = git("status", "--porcelain", "--untracked-files=no") or ""
  local info = {commit = commit:match("%x+"), root = root and root:match("^[^\n]*"), dirty = status ~= ""}
  if info.dirty then info.diff = git("diff", "--no-color", "HEAD") end
  return info
end

-- "model name" of /proc/cpuinfo, and the number of processors listed there.
function provenance.cpu()
  local f = io.open("/proc/cpuinfo")
  if not f then return nil, nil end
  local model, count = nil, 0
  for line in f:lines() do
    if line:match("^processor%s*:") then count = count + 1 end
    model = model or line:match("^model name%s*:%s*(.-)%s*$")
  end
  f:close()
  return model, count > 0 and count or nil
end

-- The command line of this process, words separated by spaces (from /proc/self/cmdline).
function provenance.command_line()
  local f = io.open("/proc/self/cmdline", "rb")
  if not f then return nil end
  local raw = f:read("a")
  f:close()
  local words = {}
  for w in raw:gmatch("([^%z]*)%z") do
    words[#words + 1] = w:find("[%s'\"]") and ("'" .. w:gsub("'", "'\\''") .. "'") or w
  end
  return table.concat(words, " ")
end

-- The environment variables worth recording, as {["env.NAME"] = value}.
function provenance.environment()
  local out = {}
  for k, v in pairs(process.environ()) do
    for _, prefix in ipairs(provenance.ENV_PREFIXES) do
      if k:sub(1, #prefix) == prefix then out["env." .. k] = v end
    end
  end
  return out
end

-- provenance.collect(dir) -> fields, diff_text|nil: everything known when a run starts.
function provenance.collect(dir)
  local t = provenance.environment()
  local git, why = provenance.git(dir)
  if git then
    t.git_commit, t.git_dirty, t.git_root = git.commit, git.dirty, git.root
  else
    t.git_commit = "none (" .. tostring(why) .. ")"
  end
  t.loom_version = core.version
  local blas = process.blas()
  t.blas_config, t.blas_core, t.blas_threads = blas.config, blas.core, blas.threads
  t.cpu_model, t.cpus = provenance.cpu()
  t.host = process.hostname()
  t.command_line = provenance.command_line()
  return t, git and git.diff
end

-- provenance.start(store, id, script_dir, artifacts_dir): record at the start of a run; the
-- diff of a dirty tree becomes the artifact git.diff. Returns the clocks for provenance.finish.
function provenance.start(s, id, script_dir, artifacts_dir)
  local fields, diff = provenance.collect(script_dir or assert(process.cwd()))
  s:set_provenance(id, fields)
  if diff and diff ~= "" then
    local path = artifacts_dir .. "/git.diff"
    require("loom.runs.store").mkdir(artifacts_dir)
    local f = io.open(path, "wb")
    if f then
      f:write(diff)
      f:close()
      s:add_artifact(id, "git.diff", path)
    end
  end
  local user, system = process.cpu_time()
  return {wall = process.now(), cpu = user + system}
end

-- provenance.finish(store, id, clocks): the run's wall and CPU seconds.
function provenance.finish(s, id, clocks)
  local user, system = process.cpu_time()
  s:set_provenance(id, {wall_time = process.now() - clocks.wall, cpu_time = user + system - clocks.cpu})
end

return provenance
