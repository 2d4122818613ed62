-- mlp.lua: one epoch of the digits MLP 64-128-10 (ReLU, cross-entropy, Adam, batch 32) in
-- loom, against the same model in PyTorch (tests/bench/mlp.py) of the same dtype, both on
-- one thread, best CPU time of several epochs; float64 then float32 unless a dtype is given.
-- Prints the ratio and loom's allocations per step.
--   build/bin/loom tests/bench/mlp.lua [repeats] [float64|float32]
local loom = require "loom"
local nn, optim, data = loom.nn, loom.optim, loom.data

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "tests/bench"
local path = data.require("digits") .. "/digits.csv.gz"
local repeats = tonumber(arg and arg[1]) or 20
local dtypes = arg and arg[2] and {arg[2]} or {"float64", "float32"}

local all, err = loom.read_csv(path, {header = false})
if not all then
  print("mlp bench: skipped, " .. err)
  return
end
loom.threads(1)
for _, dtype in ipairs(dtypes) do
print(string.format("-- %s", dtype))
loom.seed(42)
local n = all:rows()
local train = data.split(n, {test = 0.2})
local X = (all:slice(1, n, 1, 64):index_rows(train) / 16):to(dtype)
local y = all:slice(1, n, 65, 65):index_rows(train) + 1

local model = nn.Sequential{nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)}:to(dtype)
local loss = nn.CrossEntropyLoss()
local opt = optim.adam(model, {lr = 1e-3})
local loader = data.loader(X, y, 32)

local function epoch()
  for xb, yb in loader:epoch() do
    opt:zero_grad()
    local out = model:forward(xb)
    model:backward(xb, (loss:backward(out, yb)), false)
    opt:step()
  end
end

epoch() -- warm-up: buffers for both batch sizes are made here
local steps, best = 0, math.huge
collectgarbage("stop") -- to count the Lua garbage a step makes
local lua_kb = collectgarbage("count")
local before = loom.alloc_stats().allocations
for _ = 1, repeats do
  local t0 = loom.linalg.wall_time()
  epoch()
  best = math.min(best, loom.linalg.wall_time() - t0)
  steps = steps + #loader
end
local allocations = loom.alloc_stats().allocations - before
lua_kb = collectgarbage("count") - lua_kb
collectgarbage("restart")
local loom_ms = best * 1000
print(string.format("loom_epoch_ms %.3f  (%d steps of batch 32, best of %d epochs)", loom_ms, #loader, repeats))
print(string.format("loom_allocations_per_step %.3f  (%d allocations in %d steps after warm-up)",
  allocations / steps, allocations, steps))
print(string.format("lua_bytes_per_step %.1f  (Lua garbage, mostly one iterator per epoch)", lua_kb * 1024 / steps))

-- PyTorch at 1 and 2 threads; the ratio is against the better of the two.
local py = os.getenv("LOOM_REFERENCE_PYTHON") or "/usr/bin/python3"
local torch_ms, each, why = math.huge, {}, nil
for threads = 1, 2 do
  local p = io.popen(string.format("%s %s/mlp.py %s %d %s %d 2>&1", py, here, path, repeats, dtype, threads))
  local text = p and p:read("a") or ""
  if p then p:close() end
  local ms = tonumber(text:match("torch_epoch_ms ([%d%.]+)"))
  if ms then torch_ms = math.min(torch_ms, ms) else why = text end
  each[threads] = ms and string.format("%.3f", ms) or "-"
end
if torch_ms == math.huge then
  print("torch twin: skipped (" .. (why:gsub("\n", " "):sub(1, 200)) .. ")")
else
  print(string.format("torch_epoch_ms %.3f  (1/2 threads: %s/%s)", torch_ms, each[1], each[2]))
  print(string.format("speedup_vs_torch %.2fx", torch_ms / loom_ms))
end
end
