-- resume.lua: checkpoints and exact resume. An LSTM learns to remember the first value of
-- a sequence through 10 noisy steps (a long-range dependency), checkpointing every
-- `every` steps into its run's artifacts. Kill it (Ctrl-C, kill -9, a Slurm preemption),
-- then `loom run --resume ID`: it continues from its last checkpoint and ends with the same
-- parameters, bit for bit, as a run never interrupted (compare `checksum`).
--   loom run scripts/experiments/resume.lua [steps=2000 every=100 hidden=16 lr=0.01 T=10 quick=false dtype=float64]
--   loom run --resume last
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

-- A batch: x is T*B x 1 (time-major), the target is each sequence's first value.
local function batch(T, B, dtype)
  local x = loom.randn(T * B, 1, {dtype = dtype}) * 0.5
  return x, x:slice(1, B, 1, 1):copy()
end

-- The LSTM and its head as one module for the optimiser and the checkpoint.
local function model(hidden, dtype)
  local lstm, head = nn.LSTM(1, hidden):to(dtype), nn.Linear(hidden, 1):to(dtype)
  local m = {lstm = lstm, head = head, state_dict = nn.Module.state_dict,
    load_state_dict = nn.Module.load_state_dict}
  function m:parameters()
    local list = {}
    for _, part in ipairs{{"lstm", lstm}, {"head", head}} do
      for _, p in ipairs(part[2]:parameters()) do
        list[#list + 1] = {name = part[1] .. "." .. p.name, value = p.value, grad = p.grad}
      end
    end
    return list
  end
  return m
end

-- Sum of every parameter, printed with all its digits: equal runs give equal checksums.
local function checksum(m)
  local s = 0
  for _, p in ipairs(m:parameters()) do s = s + p.value:sum() end
  return string.format("%.17g", s)
end

return loom.experiment{
  name = "resume",
  description = "an LSTM remembers the first value; checkpoints every `every` steps, resumes exactly",
  params = {
    seed = 42,
    quick = {false, "the demo setting: at most 200 steps"},
    steps = {2000, "training steps"},
    every = {100, "checkpoint (and log) every this many steps"},
    hidden = {16, "LSTM hidden units"},
    lr = {0.01, "Adam's learning rate"},
    T = {10, "sequence length"},
    batch = {16, "sequences per batch"},
    dtype = {"float64", "float32 trains in single precision; checkpoints keep it (F32 tensors)"},
  },
  run = function(p, run)
    if p.quick then p.steps = math.min(p.steps, 200) end
    local m = model(p.hidden, p.dtype)
    local opt = optim.adam(m, {lr = p.lr})
    local loss = nn.MSELoss()
    local start = loom.checkpoint.resume(run, {model = m, optim = opt})
    if start > 0 then print(string.format("resumed from the checkpoint of step %d", start)) end
    local l
    for step = start + 1, p.steps do
      local x, y = batch(p.T, p.batch, p.dtype)
      opt:zero_grad()
      local _, h = m.lstm:forward(x, {batch = p.batch})
      local pred = m.head:forward(h)
      l = loss:forward(pred, y)
      m.lstm:backward(nil, {dh_T = m.head:backward(h, loss:backward(pred, y)), input_grad = false})
      opt:step()
      run:log{step = step, loss = l}
      run:progress(step, p.steps)
      if step % p.every == 0 or step == p.steps then
        assert(loom.checkpoint(loom.checkpoint.path(run), {model = m, optim = opt, step = step}))
      end
    end
    local x, y = batch(p.T, 256, p.dtype)
    local _, h = m.lstm:forward(x, {batch = 256})
    return {final_loss = l, test_mse = loss:forward(m.head:forward(h), y),
      baseline_mse = y:map("square"):mean(), checksum = checksum(m)}
  end}
