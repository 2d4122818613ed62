-- tests/bench/rnn.lua: a training step (forward, backward, SGD update) of a one-layer
-- recurrent net (LSTM, GRU, RNN) with a linear classifier on the last state, loom in float64
-- and float32 against PyTorch (tests/bench/rnn.py, f64 and f32) and oneDNN's RNN primitives
-- (tests/bench/rnn_onednn.c, f32 only: oneDNN has no f64 RNN) at the issues' three shapes.
-- Every side runs with 1 and with 2 threads (both printed) and is compared at its better
-- one; the OpenMP references run their 2-thread case with OMP_WAIT_POLICY=PASSIVE (their
-- spinning threads are 10-200x slower on a shared 2-core machine otherwise). Each time is the
-- best of several timed blocks; the dgemm and sgemm rates come from the same run. Then a
-- per-phase profile of loom's LSTM step (m:profile()). Not a test: it prints times and
-- ratios. Usage:
--   build/bin/loom tests/bench/rnn.lua [seconds=1] [kinds=LSTM,GRU,RNN] [shapes=1,2,3]
--       [threads=1,2] [gemm=auto|xsmm|blas] [torch=1] [onednn=PATH]
-- onednn: the built tests/bench/rnn_onednn (scripts/bench.sh builds it; default
-- build/bench/rnn_onednn when it exists, none otherwise).
local loom = require "loom"
local nn = loom.nn

local args = {}
for _, a in ipairs(arg) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then args[k] = v end
end
local budget = tonumber(args.seconds or "1")
local function list(s)
  local t = {}
  for k in s:gmatch("[^,]+") do t[#t + 1] = k end
  return t
end
local kinds = list(args.kinds or "LSTM,GRU,RNN")
local thread_counts = {}
for _, t in ipairs(list(args.threads or "1,2")) do thread_counts[#thread_counts + 1] = tonumber(t) end
local gemm = args.gemm or "auto"

local SHAPES = {{1, 50, 16, 32}, {32, 50, 32, 128}, {64, 100, 64, 256}}
if args.shapes then -- e.g. shapes=1,2: only those of the three
  local chosen = {}
  for _, k in ipairs(list(args.shapes)) do chosen[#chosen + 1] = SHAPES[tonumber(k)] end
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

-- A training step of kind at B, T, I, H in dtype, and its recurrent layer.
local function step_fn(kind, B, T, I, H, dtype)
  loom.seed(1)
  local rnn = nn[kind](I, H, {batch = B, gemm = gemm}):to(dtype)
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
  end, rnn
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

-- A reference's lines "kind B T I H ms..." at 1 and 2 threads: ref[threads][key] = {ms...}.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local function reference(command_for)
  local ref = {}
  for _, tt in ipairs(thread_counts) do
    ref[tt] = {}
    local f = io.popen(command_for(tt) .. " 2>&1")
    for line in f:lines() do
      local k, B, T, I, H, rest = line:match("^(%S+) (%d+) (%d+) (%d+) (%d+) (.*)$")
      if k then
        local values = {}
        for v in rest:gmatch("%S+") do values[#values + 1] = tonumber(v) end
        ref[tt][table.concat({k, B, T, I, H}, " ")] = values
      else
        io.stderr:write("reference: ", line, "\n")
      end
    end
    f:close()
  end
  return ref
end
local function omp_env(tt)
  return string.format("OMP_NUM_THREADS=%d%s", tt, tt > 1 and " OMP_WAIT_POLICY=PASSIVE" or "")
end
local shape_list = args.shapes or "1,2,3"
local torch = args.torch ~= "0" and reference(function(tt)
  return string.format("%s /usr/bin/python3 %s/rnn.py --seconds %g --threads %d --kinds %s --shapes %s",
    omp_env(tt), here, budget, tt, table.concat(kinds, ","), shape_list)
end) or {}
local onednn_bin = args.onednn
if not onednn_bin then
  local f = io.open("build/bench/rnn_onednn")
  if f then f:close(); onednn_bin = "build/bench/rnn_onednn" end
end
local onednn = onednn_bin and reference(function(tt)
  return string.format("%s %s %g %s %s", omp_env(tt), onednn_bin, budget, table.concat(kinds, ","),
    shape_list)
end) or {}

-- The better of a reference's thread counts for key and column i, and each count's time.
local function best_of(ref, key, i)
  local best, each = nil, {}
  for _, tt in ipairs(thread_counts) do
    local v = ref[tt] and ref[tt][key] and ref[tt][key][i]
    each[tt] = v
    if v and (not best or v < best) then best = v end
  end
  return best, each
end

-- loom at each thread count: the better time and each one.
local function loom_best(kind, B, T, I, H, dtype)
  local best, each = math.huge, {}
  for _, tt in ipairs(thread_counts) do
    loom.threads(tt)
    each[tt] = measure((step_fn(kind, B, T, I, H, dtype))) * 1e3
    best = math.min(best, each[tt])
  end
  return best, each
end

local function fmt(v) return v and string.format("%.3f", v) or "-" end
local function ratio(a, b) return (a and b) and string.format("%.2f", a / b) or "-" end
local function both(each) -- "t1/t2" for the thread counts
  local parts = {}
  for _, tt in ipairs(thread_counts) do parts[#parts + 1] = fmt(each[tt]) end
  return table.concat(parts, "/")
end

local max_threads = 1
for _, tt in ipairs(thread_counts) do max_threads = math.max(max_threads, tt) end
loom.threads(max_threads)
local drate, srate = gemm_rate("float64"), gemm_rate("float32")
local f = io.open("/proc/loadavg")
local load = f and f:read("l"):match("^(%S+ %S+ %S+)") or "?"
if f then f:close() end
print(string.format("dgemm 512x512: %.1f GFLOP/s, sgemm 512x512: %.1f GFLOP/s (%d threads); load %s",
  drate / 1e9, srate / 1e9, max_threads, load))
print(string.format("times in ms, each side at threads %s (a/b: 1/2 threads); ratios against each reference at its better count",
  table.concat(thread_counts, ",")))
print(string.format("%-5s %-14s %15s %15s %15s %15s %15s %7s %7s %7s %6s %6s %6s %9s",
  "kind", "B,T,I,H", "loom f64", "loom f32", "torch f64", "torch f32", "onednn f32",
  "xpt64", "xpt32", "xdnnl", "f32/64", "%dgemm", "%sgemm", "gemm64/32"))
for _, kind in ipairs(kinds) do
  for _, s in ipairs(SHAPES) do
    local B, T, I, H = s[1], s[2], s[3], s[4]
    local t64, e64 = loom_best(kind, B, T, I, H, "float64")
    local t32, e32 = loom_best(kind, B, T, I, H, "float32")
    local key = table.concat({kind, B, T, I, H}, " ")
    local p64, pe64 = best_of(torch, key, 1)
    local p32, pe32 = best_of(torch, key, 2)
    local d32, de32 = best_of(onednn, key, 1)
    -- what runs the per-step products, float64 / float32 (the choice depends on the dtype)
    local _, layer64 = step_fn(kind, B, T, I, H, "float64")
    local _, layer32 = step_fn(kind, B, T, I, H, "float32")
    local gemm = layer64:config().gemm .. "/" .. layer32:config().gemm
    local fl = flops(kind, B, T, I, H)
    print(string.format("%-5s %-14s %15s %15s %15s %15s %15s %7s %7s %7s %6s %5.0f%% %5.0f%% %9s", kind,
      string.format("%d,%d,%d,%d", B, T, I, H), both(e64), both(e32), both(pe64), both(pe32), both(de32),
      ratio(p64, t64), ratio(p32, t32), ratio(d32, t32), ratio(t64, t32),
      100 * fl / (t64 / 1e3) / drate, 100 * fl / (t32 / 1e3) / srate, gemm))
  end
end

-- Where loom's LSTM step spends its time (ms per step, at the most threads asked for).
local PHASES = {"input_projection", "recurrent", "gates", "gates_backward", "recurrent_backward",
  "weight_gradients", "input_gradient", "other"}
local short = {input_projection = "in_proj", recurrent = "rec", gates = "gates",
  gates_backward = "gates_bw", recurrent_backward = "rec_bw", weight_gradients = "dW",
  input_gradient = "dX", other = "other"}
loom.threads(max_threads)
print(string.format("\nloom LSTM step by phase, ms per step (%d threads; step = the layer's forward and backward + head, loss, SGD)",
  max_threads))
local header = string.format("%-8s %-14s %8s", "dtype", "B,T,I,H", "step")
for _, p in ipairs(PHASES) do header = header .. string.format(" %8s", short[p]) end
print(header .. "  split")
for _, dtype in ipairs{"float64", "float32"} do
  for _, s in ipairs(SHAPES) do
    local B, T, I, H = s[1], s[2], s[3], s[4]
    local fn, layer = step_fn("LSTM", B, T, I, H, dtype)
    fn()
    local step = measure(fn)
    -- the profile of the best of three blocks of steps
    local reps = math.max(1, math.floor(budget / 3 / step))
    local best, best_total = nil, math.huge
    for _ = 1, 3 do
      layer:profile(true)
      for _ = 1, reps do fn() end
      local p = layer:profile()
      local total = 0
      for _, k in ipairs(PHASES) do total = total + p[k] end
      if total < best_total then best, best_total = p, total end
    end
    layer:profile(false)
    local line = string.format("%-8s %-14s %8.3f", dtype, string.format("%d,%d,%d,%d", B, T, I, H), step * 1e3)
    for _, p in ipairs(PHASES) do line = line .. string.format(" %8.3f", best[p] / reps * 1e3) end
    -- how the loop's parts shared the work: rows of the batch, or W_hh's columns
    print(line .. "  " .. tostring(best.split))
  end
end
