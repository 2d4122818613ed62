-- matrix.lua: the matrix engine's speed against numpy on the same OpenBLAS: dgemm and
-- sgemm (float32) at n = 1024, elementwise ops and reductions at n = 10^6, and small in-place ops from Lua.
-- Run: build/bin/loom tests/bench/matrix.lua [threads]. Not a test: prints, never asserts.
local loom = require "loom"

local threads = tonumber(arg and arg[1]) or 2
local REPEATS = 7

-- Wall-clock seconds (loom.linalg.wall_time, C11 timespec_get, nanosecond resolution):
-- os.clock is CPU time, which counts every BLAS thread, and io.popen("date") forks, after
-- which every page the next product writes faults again (copy-on-write). (/proc/uptime,
-- used before, ticks every 10 ms: a batch of 3 dgemms took 50 or 60 ms by it, a 20%
-- step in the reported rate.)
local now = loom.linalg.wall_time

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- Median over REPEATS of the mean wall time of `batch` calls, in seconds. Wall time even
-- for the single-threaded ops: os.clock counts the CPU time of the whole process, and after
-- the threaded gemms above OpenBLAS's worker spins for about 0.1 s, which os.clock added to
-- the first elementwise ops (X + Y, add_, mul measured 2x numpy's time that way, 1.0-1.1x
-- by the wall clock).
local function median_time(fn, batch)
  fn()
  local times = {}
  for r = 1, REPEATS do
    local t0 = now()
    for _ = 1, batch do fn() end
    times[r] = (now() - t0) / batch
  end
  return median(times)
end

local ours = {}
loom.threads(threads)
loom.seed(1)
local n = 1024
local A, B = loom.randn(n, n), loom.randn(n, n)
local C = loom.zeros(n, n)
ours.gemm_gflops = 2 * n ^ 3 / median_time(function() return A * B end, 3) / 1e9
collectgarbage()
ours.gemm_out_gflops = 2 * n ^ 3 / median_time(function() C:matmul_(A, B) end, 3) / 1e9
local A32, B32, C32 = A:float(), B:float(), C:float()
ours.sgemm_gflops = 2 * n ^ 3 / median_time(function() return A32 * B32 end, 5) / 1e9
collectgarbage()
ours.sgemm_out_gflops = 2 * n ^ 3 / median_time(function() C32:matmul_(A32, B32) end, 5) / 1e9
A, B, C, A32, B32, C32 = nil, nil, nil, nil, nil, nil
collectgarbage()

local X, Y, Z = loom.rand(1000, 1000), loom.rand(1000, 1000), loom.zeros(1000, 1000)
local ops = {
  {"add_ms", function() return X + Y end},
  {"add_out_ms", function() Z:add_(Y) end},
  {"mul_ms", function() return X:mul(Y) end},
  {"exp_ms", function() return X:map("exp") end},
  {"sum_ms", function() return X:sum() end},
  {"mean_ms", function() return X:mean() end},
  {"max_ms", function() return X:max() end},
  {"sumdim_ms", function() return X:sum(1) end},
}
for _, op in ipairs(ops) do
  -- Results are dropped at once: collect them so the heap does not grow between batches.
  ours[op[1]] = median_time(function() op[2]() end, 5) * 1e3
  collectgarbage()
end

local C, S = loom.zeros(4, 4), loom.rand(4, 4)
local calls = 1000000
local t0 = now()
for _ = 1, calls do C:add_(S) end
ours.small_add_us = (now() - t0) / calls * 1e6

-- numpy's numbers from the twin script.
local theirs, info = {}, {}
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local py = io.popen(string.format("/usr/bin/python3 '%s/matrix.py' %d 2>&1", here, threads))
local output = py:read("a")
py:close()
for key, value in output:gmatch("(%S+) ([^\n]+)") do
  theirs[key] = tonumber(value)
  info[key] = value
end

print(string.format("loom %s vs numpy %s; OpenBLAS kernel %s, %s thread(s) each side",
  loom.version, info.numpy or "?", info.kernel or "?", info.threads or "?"))
if not theirs.gemm_gflops then print("numpy side failed:\n" .. output) end
print(string.format("%-28s %12s %12s %8s  %s", "benchmark", "loom", "numpy", "ratio", "target"))
local function row(label, key, unit, _, target)
  local a, b = ours[key], theirs[key]
  local ratio = b and a / b or nil
  print(string.format("%-28s %9.3f %-2s %9s %-2s %8s  %s", label, a, unit,
    b and string.format("%.3f", b) or "-", unit, ratio and string.format("%.2f", ratio) or "-", target))
end
row("dgemm n=1024 (A * B)", "gemm_gflops", "GF", true, "loom/numpy >= 0.90")
row("dgemm into C (matmul_, out=)", "gemm_out_gflops", "GF", true, "loom/numpy >= 0.90")
row("sgemm n=1024 (A * B, float32)", "sgemm_gflops", "GF", true, "loom/numpy >= 0.90")
row("sgemm into C (matmul_, out=)", "sgemm_out_gflops", "GF", true, "loom/numpy >= 0.90")
row("add 1000x1000 (X + Y)", "add_ms", "ms", false, "<= 1.5")
row("add in place (Z:add_(Y))", "add_out_ms", "ms", false, "<= 1.5")
row("mul 1000x1000 (X:mul(Y))", "mul_ms", "ms", false, "<= 1.5")
row("exp 1000x1000 (X:map)", "exp_ms", "ms", false, "<= 1.5")
row("sum 10^6 (X:sum())", "sum_ms", "ms", false, "<= 1.5")
row("mean 10^6 (X:mean())", "mean_ms", "ms", false, "<= 1.5")
row("max 10^6 (X:max())", "max_ms", "ms", false, "<= 1.5")
row("sum down rows (X:sum(1))", "sumdim_ms", "ms", false, "<= 1.5")
row("4x4 C:add_(A) per call", "small_add_us", "us", false, "loom < 0.2 us")
