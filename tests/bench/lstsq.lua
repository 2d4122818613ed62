-- lstsq.lua: loom.linalg.lstsq timing and peak memory against numpy (tests/bench/lstsq.py)
-- on tall X. Each measurement runs in its own process so VmHWM (peak resident memory) is its
-- own. Usage: loom tests/bench/lstsq.lua [quick]   (quick: 200000x100 only)
-- Prints times and the ratios issue 3 sets: qr/normal <= 4, numpy qr / loom qr >= 3,
-- numpy lstsq / loom svd >= 2, loom normal / numpy normal <= 1.2. Not a test: no asserts.
local loom = require "loom"

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "tests/bench"
local LOOM = os.getenv("LOOM_BIN") or "build/bin/loom"
local PY = os.getenv("LOOM_REFERENCE_PYTHON") or "/usr/bin/python3"

local function vmhwm_kb()
  local f = io.open("/proc/self/status")
  if not f then return -1 end
  for line in f:lines() do
    local kb = line:match("^VmHWM:%s+(%d+)")
    if kb then f:close() return tonumber(kb) end
  end
  f:close()
  return -1
end

-- Child mode: one method on one size, printed like the python twin.
if arg and arg[1] == "--one" then
  local method, m, n = arg[2], tonumber(arg[3]), tonumber(arg[4])
  loom.seed(1)
  local X = loom.randn(m, n)
  local y = X * loom.randn(n, 1) + loom.randn(m, 1)
  local s0 = loom.linalg.wall_time()
  local beta = loom.linalg.lstsq(X, y, {method = method, max_iter = 200})
  local seconds = loom.linalg.wall_time() - s0
  assert(beta:norm() == beta:norm())
  print(string.format("seconds %.6f vmhwm_kb %d x_kb %d", seconds, vmhwm_kb(), m * n * 8 // 1024))
  return
end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  local s, hwm, x = out:match("seconds (%S+) vmhwm_kb (%d+) x_kb (%d+)")
  if not s then return nil, out end
  return {seconds = tonumber(s), hwm = tonumber(hwm), x = tonumber(x)}
end

local quick = arg and arg[1] == "quick"
local sizes = quick and {{200000, 100}} or {{200000, 100}, {1000000, 200}}
local have_numpy = os.execute(PY .. " -c 'import numpy' 2>/dev/null")

for _, size in ipairs(sizes) do
  local m, n = size[1], size[2]
  print(string.format("X %dx%d (%.0f MB), threads %d", m, n, m * n * 8 / 2 ^ 20, loom.threads()))
  local r = {}
  for _, method in ipairs{"normal", "qr", "svd", "cg"} do
    local res, err = run(string.format("%s %s/lstsq.lua --one %s %d %d", LOOM, here, method, m, n))
    if not res then error("loom " .. method .. ": " .. err) end
    r["loom_" .. method] = res
    print(string.format("  loom  %-7s %8.3f s   peak %7.0f MB (X itself %4.0f MB)", method,
      res.seconds, res.hwm / 1024, res.x / 1024))
  end
  if have_numpy then
    for _, method in ipairs{"normal", "qr", "svd"} do
      local res, err = run(string.format("%s %s/lstsq.py %s %d %d", PY, here, method, m, n))
      if not res then error("numpy " .. method .. ": " .. err) end
      r["numpy_" .. method] = res
      print(string.format("  numpy %-7s %8.3f s   peak %7.0f MB", method, res.seconds, res.hwm / 1024))
    end
  else
    print("  numpy: " .. PY .. " cannot import numpy; ratios against numpy skipped")
  end
  local function ratio(a, b) return r[a] and r[b] and r[a].seconds / r[b].seconds or 0 / 0 end
  print(string.format("  ratio loom qr / loom normal        %6.2f  (target <= 4)", ratio("loom_qr", "loom_normal")))
  print(string.format("  ratio numpy qr / loom qr           %6.2f  (target >= 3)", ratio("numpy_qr", "loom_qr")))
  print(string.format("  ratio numpy lstsq / loom svd       %6.2f  (target >= 2)", ratio("numpy_svd", "loom_svd")))
  print(string.format("  ratio loom normal / numpy normal   %6.2f  (target <= 1.2)", ratio("loom_normal", "numpy_normal")))
end
