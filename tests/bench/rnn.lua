-- tests/bench/rnn.lua: a training step (forward, backward, SGD update) of a one-layer
-- recurrent net (LSTM, GRU, RNN) with a linear classifier on the last state, loom in float64
-- and float32 against PyTorch (tests/bench/rnn.py, f64 and f32) at the issue's three shapes.
-- PyTorch runs with 1 and with 2 threads (both printed) and is compared at its better one;
-- each time is the best of several timed blocks. The sgemm and dgemm rates come from the
-- same run. Not a test: it prints times and ratios. Usage:
--   build/bin/loom tests/bench/rnn.lua [seconds=1] [kinds=LSTM,GRU,RNN] [shapes=1,2,3] [threads=2] [torch=1]
local loom = require "loom"
local nn = loom.nn

local args = {}
for _, a in ipairs(arg) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then args[k] = v end
end
local budget = tonumber(args.seconds or "1")
local kinds = {}
for k in (args.kinds or "LSTM,GRU,RNN"):gmatch("[^,]+") do kinds[#kinds + 1] = k end
local threads = tonumber(args.threads or "2")
loom.threads(threads)

local SHAPES = {{1, 50, 16, 32}, {32, 50, 32, 128}, {64, 100, 64, 256}}
if args.shapes then -- e.g. shapes=1,2: only those of the three
  local chosen = {}
  for k in args.shapes:gmatch("%d+") do chosen[#chosen + 1] = SHAPES[tonumber(k)] end
  SHAPES = chosen
end
local CLASSES = 10

-- Wall-clock seconds (os.clock counts the CPU time of every BLAS thread). A popen costs
-- about a millisecond, so it brackets whole batches of repetitions, never one call.
local function wall()
  local f = io.popen("date +%s.%N")
  local t = tonumber(f:read("l"))
  f:close()
  return t
end

-- Seconds per call of fn: batches of calls lasting about budget/3 each, the best of 3.
local function measure(fn)
  fn()
  local c0 = os.clock()
  fn()
  local once = math.max(os.clock() - c0, 1e-6)
  -- slow cases (over a third of the budget per call) get two single calls
  local reps = math.max(1, math.floor(budget / 3 / once))
  local best = math.huge
  for _ = 1, reps == 1 and 2 or 3 do
    local a = wall()
    for _ = 1, reps do fn() end
    best = math.min(best, (wall() - a) / reps)
  end
  return best
end

local function step_fn(kind, B, T, I, H, dtype)
  loom.seed(1)
  local rnn = nn[kind](I, H, {batch = B}):to(dtype)
  local head = nn.Linear(H, CLASSES):to(dtype)
  local params = {}
  for _, p in ipairs(rnn:parameters()) do params[#params + 1] = p end
  for _, p in ipairs(head:parameters()) do params[#params + 1] = p end
  local opt = loom.optim.sgd(params, {lr = 0.01})
  local loss_fn = nn.CrossEntropyLoss()
  local x = loom.randn(T * B, I, {dtype = dtype})
  local out = loom.zeros(T * B, H, {dtype = dtype}) -- reused: no allocation per step
  local y = loom.zeros(B, 1)
  for b = 1, B do y:set(b, 1, (b - 1) % CLASSES + 1) end
  return function()
    opt:zero_grad()
    local _, h = rnn:forward(x, {out = out})
    local logits = head:forward(h)
    loss_fn:forward(logits, y)
    local dh = head:backward(h, loss_fn:backward(logits, y))
    rnn:backward(nil, {dh_T = dh, input_grad = false})
    opt:step()
  end
end

-- Floating-point operations of one step of the recurrent layer (gemms only).
local function flops(kind, B, T, I, H)
  local G = kind == "LSTM" and 4 or kind == "GRU" and 3 or 1
  return 2 * T * B * G * H * (2 * I + 3 * H)
end

local function gemm_rate(dtype)
  local n = 512
  local A, Bm = loom.randn(n, n, {dtype = dtype}), loom.randn(n, n, {dtype = dtype})
  local C = loom.zeros(n, n, {dtype = dtype})
  local t = measure(function() C:matmul_(A, Bm) end)
  return 2 * n * n * n / t
end

-- The PyTorch twin at 1 and at 2 threads: lines "kind B T I H f64_ms f32_ms".
local torch = {[1] = {}, [2] = {}}
if args.torch ~= "0" then
  local here = arg[0]:match("^(.*)/[^/]*$") or "."
  for tt = 1, 2 do
    local cmd = string.format("/usr/bin/python3 %s/rnn.py --seconds %g --threads %d --kinds %s --shapes %s 2>&1",
      here, budget, tt, table.concat(kinds, ","), args.shapes or "1,2,3")
    local f = io.popen(cmd)
    for line in f:lines() do
      local k, B, T, I, H, f64, f32 = line:match("^(%S+) (%d+) (%d+) (%d+) (%d+) (%S+) (%S+)$")
      if k then torch[tt][table.concat({k, B, T, I, H}, " ")] = {tonumber(f64), tonumber(f32)}
      else io.stderr:write("rnn.py: ", line, "\n") end
    end
    f:close()
  end
end

local function fmt(v) return v and string.format("%.3f", v) or "-" end
local function ratio(a, b) return (a and b) and string.format("%.2f", a / b) or "-" end

local drate, srate = gemm_rate("float64"), gemm_rate("float32")
print(string.format("dgemm 512x512: %.1f GFLOP/s, sgemm 512x512: %.1f GFLOP/s, loom with %d threads",
  drate / 1e9, srate / 1e9, threads))
print(string.format("%-5s %-16s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s", "kind", "B,T,I,H",
  "loom f64", "loom f32", "pt f64 1t", "pt f64 2t", "pt f32 1t", "pt f32 2t", "x pt f64", "x pt f32",
  "f32/f64", "% sgemm"))
for _, kind in ipairs(kinds) do
  for _, s in ipairs(SHAPES) do
    local B, T, I, H = s[1], s[2], s[3], s[4]
    local t64 = measure(step_fn(kind, B, T, I, H, "float64")) * 1e3
    local t32 = measure(step_fn(kind, B, T, I, H, "float32")) * 1e3
    local key = table.concat({kind, B, T, I, H}, " ")
    local r1, r2 = torch[1][key] or {}, torch[2][key] or {}
    local best64 = (r1[1] and r2[1]) and math.min(r1[1], r2[1]) or r1[1] or r2[1]
    local best32 = (r1[2] and r2[2]) and math.min(r1[2], r2[2]) or r1[2] or r2[2]
    print(string.format("%-5s %-16s %9.3f %9.3f %9s %9s %9s %9s %8s %8s %8s %7.0f%%", kind,
      string.format("%d,%d,%d,%d", B, T, I, H), t64, t32, fmt(r1[1]), fmt(r2[1]), fmt(r1[2]),
      fmt(r2[2]), ratio(best64, t64), ratio(best32, t32), ratio(t64, t32),
      100 * flops(kind, B, T, I, H) / (t32 / 1e3) / srate))
  end
end
