-- tests/bench/seq2seq.lua: the SCAN-sized attention encoder-decoder (embed 32, hidden 64,
-- general attention with input feeding, batch 16, source 9, target 30 steps): a training
-- step against PyTorch float64 (tests/bench/seq2seq.py, same sizes, one thread each),
-- greedy and beam-5 decoding speed, and the allocations of one training step. CPU time
-- (os.clock / process_time), so a busy machine slows both sides alike. Not a test.
--   build/bin/loom tests/bench/seq2seq.lua [reps=10] [torch=1]
local loom = require "loom"
local s2s = require "loom.seq2seq"

local args = {}
for _, a in ipairs(arg) do
  local k, v = a:match("^(%w+)=(.*)$")
  if k then args[k] = v end
end
local reps = tonumber(args.reps or "10")
loom.threads(1)

local B, S, T, E, H, VS, VT = 16, 9, 30, 32, 64, 17, 10
loom.seed(1)
local model = s2s.model{src_vocab = VS, tgt_vocab = VT, embed = E, hidden = H, attention = "general"}
local function ids(rows, cols, V)
  local m = loom.zeros(rows, cols)
  for i = 1, rows do for j = 1, cols do m:set(i, j, 4 + loom.random_int(V - 4)) end end
  return m
end
local lengths = {}
for b = 1, B do lengths[b] = S end
local batch = {src = ids(S, B, VS), src_lengths = lengths, tgt_in = ids(T, B, VT), tgt_out = ids(T, B, VT), size = B}

local function best_of_3(fn, n)
  fn()
  local best = math.huge
  for _ = 1, 3 do
    local c0 = os.clock()
    for _ = 1, n do fn() end
    best = math.min(best, (os.clock() - c0) / n)
  end
  return best
end

local step = best_of_3(function() model:zero_grad(); model:forward_backward(batch) end, reps)
print(string.format("training step (B=%d, S=%d, T=%d, H=%d): loom %.2f ms", B, S, T, H, step * 1000))

local a0 = loom.alloc_stats()
model:zero_grad(); model:forward_backward(batch)
local a1 = loom.alloc_stats()
print(string.format("allocations in one training step after warm-up: %d (core allocator)",
  (a1.allocations or a1.count or 0) - (a0.allocations or a0.count or 0)))

local tokens = 0
local greedy = best_of_3(function()
  local out = model:greedy(batch.src, lengths, {max_len = T})
  tokens = 0
  for _, o in ipairs(out) do tokens = tokens + math.max(#o, 1) end
end, math.max(1, reps // 2))
print(string.format("greedy decoding: %.0f target tokens/s (%d tokens per batch of %d)", tokens / greedy, tokens, B))
local beam_tokens = 0
local beam = best_of_3(function()
  local res = model:beam(batch.src, lengths, {beam = 5, max_len = T})
  beam_tokens = 0
  for _, r in ipairs(res) do beam_tokens = beam_tokens + math.max(#r[1].ids, 1) end
end, 1)
print(string.format("beam 5 decoding: %.0f target tokens/s", beam_tokens / beam))

if args.torch ~= "0" then
  local py = "/usr/bin/python3"
  local script = (debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/seq2seq.py"
  local p = io.popen(string.format("%s %s %d 2>&1", py, script, reps))
  local out = p:read("a")
  p:close()
  local ms = tonumber(out:match("step_ms (%S+)"))
  if ms then
    print(string.format("training step: PyTorch float64 %.2f ms; loom is %.2fx faster", ms, ms / (step * 1000)))
  else
    print("PyTorch reference not run: " .. out:gsub("\n", " "))
  end
end
