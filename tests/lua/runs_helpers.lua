-- runs_helpers.lua: what the run store, sweep and Slurm tests share: the loom binary, a
-- scratch directory, shell commands with their exit status. Not a test file itself.
local H = {}

H.LOOM = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")
H.COUNTER = TEST_DIR .. "/experiments/counter.lua"

function H.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- sh(cmd) -> exit status, combined stdout and stderr
function H.sh(cmd)
  local p = io.popen("{ " .. cmd .. " ; } 2>&1; echo \"::rc=$?\"")
  local out = p:read("a")
  p:close()
  local rc = tonumber(out:match("::rc=(%d+)%s*$"))
  return rc, (out:gsub("::rc=%d+%s*$", ""))
end

-- A fresh scratch directory under /tmp (removed by H.cleanup).
function H.tempdir()
  local p = io.popen("mktemp -d /tmp/loom-test-XXXXXX")
  local dir = p:read("l")
  p:close()
  return dir
end

function H.cleanup(dir)
  if dir and dir:match("^/tmp/loom%-test%-") then os.execute("rm -rf " .. H.quote(dir)) end
end

-- `loom <args>` run in dir; -> exit status, output
function H.loom(dir, args)
  return H.sh(string.format("cd %s && %s %s", H.quote(dir), H.quote(H.LOOM), args))
end

function H.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- True when pid has ended: no such process, or a zombie nobody reaped yet (its parent, a
-- shell from io.popen, is gone; some container inits reap late).
function H.gone(pid)
  if not require("loom.core").process.alive(pid) then return true end
  local stat = H.read("/proc/" .. pid .. "/stat")
  return stat ~= nil and stat:match("%) (%a)") == "Z"
end

-- Poll cond() every 0.1 s for at most seconds; -> true when it held.
function H.wait_for(seconds, cond)
  local process = require("loom.core").process
  local deadline = process.now() + seconds
  while process.now() < deadline do
    if cond() then return true end
    process.sleep(0.1)
  end
  return cond()
end

return H
