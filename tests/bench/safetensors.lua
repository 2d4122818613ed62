-- bench/safetensors.lua: loom.save / loom.load throughput (F64 and F32, 10M values) against
-- the numpy reader and writer of tests/lua/safetensors_ref.py (its twin safetensors.py).
-- Usage: build/bin/loom tests/bench/safetensors.lua [millions of values, default 10]
local loom = require "loom"

local millions = tonumber(arg and arg[1]) or 10
local n = math.floor(millions * 1e6)
local dir = os.getenv("TMPDIR") or "/tmp"
local path = dir .. "/loom-bench.safetensors"
local x = loom.randn(n // 1000, 1000)

local function clock(f)
  local best = math.huge
  for _ = 1, 3 do
    local t0 = os.clock()
    f()
    best = math.min(best, os.clock() - t0)
  end
  return best
end

local results = {}
for _, dtype in ipairs{"F64", "F32"} do
  local save = clock(function() assert(loom.save(path, {x = x}, nil, {dtype = dtype})) end)
  local load = clock(function() assert(loom.load(path)) end)
  results[dtype] = {save = save, load = load}
  print(string.format("loom  %s  %dM values: save %.3f s, load %.3f s (CPU time, fsync excluded)",
    dtype, millions, save, load))
end
os.remove(path)

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local py = "/usr/bin/python3"
local pipe = io.popen(string.format("%s %s/safetensors.py %s 2>&1", py, here, tostring(millions)))
local out = pipe:read("a")
pipe:close()
io.write(out)
for dtype, save, load in out:gmatch("numpy (%w+) +%d+M values: save ([%d.]+) s, load ([%d.]+) s") do
  local r = results[dtype]
  if r then
    print(string.format("ratio %s: save %.2fx, load %.2fx numpy's time", dtype, r.save / tonumber(save),
      r.load / tonumber(load)))
  end
end
