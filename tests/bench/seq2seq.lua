-- tests/bench/seq2seq.lua: the SCAN-sized attention encoder-decoder (embed 32, hidden 64,
-- general attention with input feeding, batch 16, source 9, target 30 steps): a training
-- step in float64 and float32 against PyTorch (tests/bench/seq2seq.py, same sizes) at 1 and
-- 2 threads each, greedy and beam-5 decoding speed, and the allocations per training step
-- and per decoding call after warm-up. Wall-clock time (CPU time would add up the threads),
-- the best of 5 blocks of reps calls: on a busy machine read the ratios, not the times, and
-- take medians of several runs. Not a test.
--   build/bin/loom tests/bench/seq2seq.lua [reps=10] [torch=1]
local loom = require "loom"
local s2s = require "loom.seq2seq"

local args = {}
for _, a in ipairs(arg) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then args[k] = v end
end
local reps = tonumber(args.reps or "10")

local B, S, T, E, H, VS, VT = 16, 9, 30, 32, 64, 17, 10
local function ids(rows, cols, V)
  local m = loom.zeros(rows, cols)
  for i = 1, rows do for j = 1, cols do m:set(i, j, 4 + loom.random_int(V - 4)) end end
  return m
end
loom.seed(1)
local lengths = {}
for b = 1, B do lengths[b] = S end
local batch = {src = ids(S, B, VS), src_lengths = lengths, tgt_in = ids(T, B, VT), tgt_out = ids(T, B, VT), size = B}

-- Wall-clock seconds; a popen costs about a millisecond, so it brackets whole blocks.
local function wall()
  local f = io.popen("date +%s.%N")
  local t = tonumber(f:read("l"))
  f:close()
  return t
end

local function best_of_5(fn, n)
  fn()
  local best = math.huge
  for _ = 1, 5 do
    local t0 = wall()
    for _ = 1, n do fn() end
    best = math.min(best, (wall() - t0) / n)
  end
  return best
end

local function allocations(fn, n)
  fn() -- warm-up
  local before = loom.alloc_stats().allocations
  for _ = 1, n do fn() end
  return (loom.alloc_stats().allocations - before) / n
end

local function torch_ms(threads, dtype)
  local py = os.getenv("LOOM_REFERENCE_PYTHON") or "/usr/bin/python3"
  local script = (debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/seq2seq.py"
  local p = io.popen(string.format("%s %s %d %d %s 2>&1", py, script, reps, threads, dtype))
  local out = p:read("a")
  p:close()
  return tonumber(out:match("step_ms (%S+)")), out
end

local loom_step = {}
for _, dtype in ipairs{"float64", "float32"} do
  loom.seed(1)
  local model = s2s.model{src_vocab = VS, tgt_vocab = VT, embed = E, hidden = H, attention = "general", dtype = dtype}
  local function train_step() model:zero_grad(); model:forward_backward(batch) end
  for _, threads in ipairs{1, 2} do
    loom.threads(threads)
    local ms = best_of_5(train_step, reps) * 1000
    loom_step[dtype] = math.min(loom_step[dtype] or math.huge, ms)
    print(string.format("training step %s (B=%d, S=%d, T=%d, H=%d), %d thread%s: loom %.2f ms", dtype, B, S, T, H,
      threads, threads > 1 and "s" or "", ms))
  end
  loom.threads(1)
  print(string.format("allocations per training step after warm-up (%s): %.1f (encoder and decoder write "
    .. "into the model's buffers)", dtype, allocations(train_step, 10)))
  if dtype == "float64" then
    local tokens = 0
    local greedy = best_of_5(function()
      local out = model:greedy(batch.src, lengths, {max_len = T})
      tokens = 0
      for _, o in ipairs(out) do tokens = tokens + math.max(#o, 1) end
    end, reps)
    print(string.format("greedy decoding: %.0f target tokens/s (%d tokens per batch of %d); allocations per call: %.1f",
      tokens / greedy, tokens, B, allocations(function() model:greedy(batch.src, lengths, {max_len = T}) end, 5)))
    local beam_tokens = 0
    local beam = best_of_5(function()
      local res = model:beam(batch.src, lengths, {beam = 5, max_len = T})
      beam_tokens = 0
      for _, r in ipairs(res) do beam_tokens = beam_tokens + math.max(#r[1].ids, 1) end
    end, math.max(1, reps // 2))
    print(string.format("beam 5 decoding: %.0f target tokens/s; allocations per call: %.1f", beam_tokens / beam,
      allocations(function() model:beam(batch.src, lengths, {beam = 5, max_len = T}) end, 5)))
  end
end

if args.torch ~= "0" then
  for _, dtype in ipairs{"float64", "float32"} do
    local best, why = math.huge, nil
    for _, threads in ipairs{1, 2} do
      local ms, out = torch_ms(threads, dtype)
      if ms then
        print(string.format("training step %s: PyTorch %d thread%s %.2f ms", dtype, threads, threads > 1 and "s" or "", ms))
        best = math.min(best, ms)
      else
        why = out
      end
    end
    if best < math.huge then
      print(string.format("training step %s: loom (best) %.2f ms, PyTorch (best) %.2f ms: loom is %.2fx faster", dtype,
        loom_step[dtype], best, best / loom_step[dtype]))
    else
      print("PyTorch reference not run: " .. tostring(why):gsub("\n", " "))
    end
  end
end
