-- run.lua: loom's Lua test runner. Usage: loom tests/lua/run.lua test_x.lua [more.lua ...]
-- Each file calls test(name, fn); the last line printed is "N passed, N failed[, N skipped]".
-- Not a framework: a few helpers in the spirit of Lua's own test suite.
local passed, failed, skipped = 0, 0, 0
local failures = {}

local Skip = {}

-- The message of an error without the "file:line: " prefix Lua adds to string errors.
local function bare(msg)
  if type(msg) ~= "string" then return msg end
  return (msg:gsub("^[^:\n]+:%d+: ", ""))
end

function test(name, fn)
  local ok, err = xpcall(fn, function(e)
    if getmetatable(e) == Skip then return e end
    return debug.traceback(tostring(e), 2)
  end)
  if ok then
    passed = passed + 1
  elseif getmetatable(err) == Skip then
    skipped = skipped + 1
    print(string.format("SKIP %s: %s", name, err.reason))
  else
    failed = failed + 1
    failures[#failures + 1] = name
    print(string.format("FAIL %s\n  %s", name, err:gsub("\n", "\n  ")))
  end
end

-- Skip the current test with a reason that is printed (never silently).
function skip(reason)
  error(setmetatable({reason = reason}, Skip))
end

function check(cond, msg, ...)
  if not cond then error(string.format(msg or "check failed", ...), 2) end
  return cond
end

function equal(got, want, what)
  if got ~= want then
    error(string.format("%s: expected %s, got %s", what or "value", tostring(want), tostring(got)), 2)
  end
end

-- |got - want| <= tol * max(1, |want|)
function close(got, want, tol, what)
  tol = tol or 1e-12
  if not (math.abs(got - want) <= tol * math.max(1, math.abs(want))) then
    error(string.format("%s: expected %.17g, got %.17g (tolerance %g)", what or "value", want, got, tol), 2)
  end
end

-- f(...) must raise exactly msg (after the position prefix).
function checkerror(msg, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("expected error '" .. msg .. "', but the call succeeded", 2) end
  err = bare(err)
  if err ~= msg then
    error(string.format("expected error\n    '%s'\n  got\n    '%s'", msg, tostring(err)), 2)
  end
end

-- f(...) must raise an error whose message contains the plain text part.
function checkerror_like(part, f, ...)
  local ok, err = pcall(f, ...)
  if ok then error("expected an error containing '" .. part .. "', but the call succeeded", 2) end
  if not tostring(err):find(part, 1, true) then
    error(string.format("expected an error containing\n    '%s'\n  got\n    '%s'", part, tostring(err)), 2)
  end
end

-- The largest |a - b| / max(1, |b|) over two matrices of the same shape (b the reference).
function max_rel_diff(a, b, what)
  if a:rows() ~= b:rows() or a:cols() ~= b:cols() then
    error(string.format("%s: shapes %dx%d and %dx%d", what or "matrices", a:rows(), a:cols(),
      b:rows(), b:cols()), 2)
  end
  local worst = 0
  for i = 1, a:rows() do
    for j = 1, a:cols() do
      local x, y = a:get(i, j), b:get(i, j)
      worst = math.max(worst, math.abs(x - y) / math.max(1, math.abs(y)))
    end
  end
  return worst
end

-- Where the test files and the project are.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
TEST_DIR = here
PROJECT_DIR = os.getenv("LOOM_PROJECT_DIR") or (here .. "/../..")
BUILD_DIR = os.getenv("LOOM_BUILD_DIR") or (PROJECT_DIR .. "/build")

-- The folder of a dataset (loom.data.path): bundled sets are always there; a fetched set
-- that is not in the cache skips the calling test with the fetch command.
function data_dir(name)
  local dir, err = require("loom.data").path(name)
  if not dir then skip(err) end
  return dir
end

-- at_exit(fn): fn runs after the last test file (scratch folders shared by a file's tests).
exit_hooks = {}
function at_exit(fn) exit_hooks[#exit_hooks + 1] = fn end

-- The Debian python3 with torch/numpy, or nil with the reason.
function reference_python(modules)
  local py = os.getenv("LOOM_REFERENCE_PYTHON") or "/usr/bin/python3"
  local f = io.open(py)
  if not f then return nil, py .. " not found" end
  f:close()
  local probe = string.format("%s -c 'import %s' 2>/dev/null", py, table.concat(modules, ", "))
  if not os.execute(probe) then
    return nil, string.format("%s cannot import %s (apt-get install python3-torch python3-numpy)",
      py, table.concat(modules, ", "))
  end
  return py
end

for i = 1, #arg do
  local path = arg[i]
  local chunk, err = loadfile(path)
  if not chunk then
    failed = failed + 1
    print("FAIL loading " .. path .. ": " .. err)
  else
    local ok, e = xpcall(chunk, debug.traceback)
    if not ok then
      failed = failed + 1
      print("FAIL " .. path .. " (outside a test): " .. tostring(e))
    end
  end
end

for _, fn in ipairs(exit_hooks) do pcall(fn) end
if #failures > 0 then print("failed: " .. table.concat(failures, ", ")) end
print(string.format("%d passed, %d failed, %d skipped", passed, failed, skipped))
os.exit(failed == 0 and passed + skipped > 0 and 0 or 1)
