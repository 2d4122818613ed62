-- test_provenance.lua: process.capture (programs run by argv, no shell), the process facts
-- provenance needs, and what `loom run` records: git commit, dirty flag and diff, BLAS,
-- CPU, command line, LOOM_/OMP_/OPENBLAS_ environment, wall and CPU time.
local loom = require "loom"
local process = require("loom.core").process
local store = require "loom.runs.store"
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

-- ---- process.capture ----

test("capture returns the exit code, stdout and stderr", function()
  local code, out, err = process.capture{"sh", "-c", "printf out; printf err >&2; exit 3"}
  equal(code, 3, "exit code")
  equal(out, "out", "stdout")
  equal(err, "err", "stderr")
  code = process.capture{"sh", "-c", "kill -TERM $$"}
  equal(code, 128 + 15, "killed by SIGTERM")
end)

test("capture passes arguments verbatim, without a shell", function()
  local tricky = "a b'c\"d $(echo no) ;|*"
  local code, out = process.capture{"printf", "%s", tricky}
  equal(code, 0, "printf")
  equal(out, tricky, "argument unchanged")
  -- Large output on both pipes does not dead-lock.
  code, out = process.capture{"sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"}
  equal(code, 0, "large")
  equal(#out, 300000, "all of stdout")
end)

test("capture errors", function()
  local none, err = process.capture{"/nonexistent/program"}
  equal(none, nil, "missing program")
  equal(err, "process.capture: cannot run '/nonexistent/program': No such file or directory", "message")
  checkerror("process.capture: argument 2 must be a string, got number", process.capture, {"echo", 1})
  checkerror("process.capture: expected a list {program, arg, ...}, got an empty table", process.capture, {})
  checkerror_like("table expected", process.capture, "echo")
end)

test("environ, cpu_time and blas", function()
  local env = process.environ()
  equal(env.LOOM_BIN, os.getenv("LOOM_BIN"), "LOOM_BIN from the test environment")
  equal(env.PATH, os.getenv("PATH"), "PATH")
  local u0, s0 = process.cpu_time()
  local x = 0
  for i = 1, 3e6 do x = x + i % 7 end
  local u1, s1 = process.cpu_time()
  check(u1 + s1 > u0 + s0, "CPU time grows (%g -> %g)", u0 + s0, u1 + s1)
  check(x > 0, "loop ran")
  local blas = process.blas()
  check(blas.config:find("^OpenBLAS"), "config: %s", blas.config)
  check(#blas.core > 0, "core name")
  equal(blas.threads, loom.threads(), "threads")
end)

-- ---- recorded with a run ----

local SCRIPT = [[
local loom = require "loom"
return loom.experiment{name = "prov", params = {n = 3}, run = function(p, run)
  local x = 0
  for i = 1, 2e6 do x = x + i % 3 end
  run:log{step = 1, loss = x}
  return {x = x}
end}
]]

local function git(dir, ...)
  local args = {"git", "-C", dir, "-c", "user.name=loom test", "-c", "user.email=test@loom", ...}
  local code, out, err = process.capture(args)
  equal(code, 0, "git " .. table.concat({...}, " ") .. ": " .. tostring(err))
  return out
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function last_run(dir)
  local s = assert(store.open(dir .. "/runs.db"))
  local r = s:get(s:resolve("last"))
  local prov = s:provenance(r.id)
  s:close()
  return r, prov
end

-- A scratch git repository with prov.lua committed (the test skips without git).
local function committed_repo()
  if process.capture{"git", "--version"} ~= 0 then skip("git is not installed") end
  local dir = H.tempdir()
  git(dir, "init", "-q")
  write(dir .. "/prov.lua", SCRIPT)
  git(dir, "add", "prov.lua")
  git(dir, "commit", "-q", "-m", "first")
  return dir
end

test("a run in a clean git tree records the commit and what ran it", function()
  local dir = committed_repo()
  local head = git(dir, "rev-parse", "HEAD"):match("%x+")
  local rc, out = H.sh(string.format("cd %s && LOOM_FLAVOUR=mint OMP_NUM_THREADS=1 OPENBLAS_VERBOSE=0 HIDDEN_VAR=x %s run --quiet prov.lua n=4",
    H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, out)
  local r, prov = last_run(dir)
  equal(prov.git_commit, head, "commit")
  equal(prov.git_dirty, "false", "clean")
  equal(prov.git_root, (git(dir, "rev-parse", "--show-toplevel"):match("[^\n]+")), "root")
  equal(prov.loom_version, loom.version, "version")
  equal(prov.blas_threads, 1, "OMP_NUM_THREADS=1 reaches OpenBLAS")
  check(prov.blas_config:find("^OpenBLAS"), "config: %s", prov.blas_config)
  check(prov.cpu_model and #prov.cpu_model > 0, "cpu model")
  equal(prov.host, process.hostname(), "host")
  equal(prov.command_line, H.LOOM .. " run --quiet prov.lua n=4", "command line")
  equal(prov["env.LOOM_FLAVOUR"], "mint", "LOOM_ variable")
  equal(prov["env.OMP_NUM_THREADS"], "1", "OMP_ variable")
  equal(prov["env.OPENBLAS_VERBOSE"], "0", "OPENBLAS_ variable")
  equal(prov["env.HIDDEN_VAR"], nil, "other variables are not recorded")
  equal(prov["env.PATH"], nil, "PATH is not recorded")
  check(type(prov.wall_time) == "number" and prov.wall_time > 0 and prov.wall_time < r.ended - r.started + 1,
    "wall time %s", tostring(prov.wall_time))
  check(type(prov.cpu_time) == "number" and prov.cpu_time > 0, "cpu time %s", tostring(prov.cpu_time))
  for _, a in ipairs(r.artifacts) do check(a.name ~= "git.diff", "no diff for a clean tree") end
  rc, out = H.loom(dir, "runs show last")
  equal(rc, 0, out)
  check(out:find("\nprovenance:\n  git_commit           " .. head .. "\n  git_dirty            false\n", 1, true),
    "runs show: %s", out)
  check(out:find("\n  env.LOOM_FLAVOUR     mint", 1, true), "env in runs show: %s", out)
  check(out:find("\n  wall_time            %d+%.%d%d%d s\n"), "wall time shown: %s", out)
  H.cleanup(dir)
end)

test("a dirty tree is flagged and its diff kept as an artifact", function()
  local dir = committed_repo()
  write(dir .. "/prov.lua", SCRIPT .. "-- an uncommitted change\n")
  local rc, out = H.loom(dir, "run --quiet prov.lua")
  equal(rc, 0, out)
  local r, prov = last_run(dir)
  equal(prov.git_dirty, "true", "dirty")
  local diff
  for _, a in ipairs(r.artifacts) do if a.name == "git.diff" then diff = H.read(a.path) end end
  check(diff and diff:find("+-- an uncommitted change", 1, true), "diff artifact: %s", tostring(diff))
  -- The diff and the provenance travel with the run through export, merge and rm.
  rc, out = H.loom(dir, "report --last 1 -o r.html")
  equal(rc, 0, out)
  check(H.read(dir .. "/r.html"):find("+-- an uncommitted change", 1, true), "diff in the report")
  local other = dir .. "/other.db"
  local s = assert(store.open(other))
  equal(s:merge(dir .. "/runs.db"), 1, "merged")
  equal(s:provenance(r.id).git_dirty, "true", "merged provenance")
  s:close()
  rc, out = H.loom(dir, "runs rm " .. r.id)
  equal(rc, 0, out)
  s = assert(store.open(dir .. "/runs.db"))
  equal(next(s:provenance(r.id)), nil, "rm removes provenance rows")
  s:close()
  H.cleanup(dir)
end)

test("outside a git repository the run says so and still completes", function()
  local dir = H.tempdir()
  write(dir .. "/prov.lua", SCRIPT)
  local rc, out = H.sh(string.format("cd %s && GIT_CEILING_DIRECTORIES=/tmp %s run --quiet prov.lua",
    H.quote(dir), H.quote(H.LOOM)))
  equal(rc, 0, out)
  local _, prov = last_run(dir)
  check(prov.git_commit:find("^none %(fatal: not a git repository"), "git_commit: %s", prov.git_commit)
  equal(prov.git_dirty, nil, "no dirty flag")
  check(prov.blas_config, "the rest is recorded")
  H.cleanup(dir)
end)
