-- ann_vs_rnn.lua: the course's contrast made measurable. An ANN maps a fixed input to an
-- output (information flows one way); an RNN feeds its state back (information flows in a
-- loop), so it can carry what it has seen over any length. The task: the parity of a bit
-- sequence (is the number of ones odd?), which depends on every bit. RNN, LSTM and an MLP
-- over a fixed window of the last L bits train on lengths 1..L and are tested on 1..4L.
--   loom run scripts/experiments/ann_vs_rnn.lua [quick=true] [L=8] [steps=1500] [hidden=16]
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

-- B sequences of T random bits, time-major one-hot (T*B x 2: column 1 a zero, 2 a one), and
-- their parities as class ids (1 even, 2 odd) in a B x 1 matrix.
local function parity_batch(T, B)
  local X, y = loom.zeros(T * B, 2), loom.zeros(B, 1)
  for b = 1, B do
    local ones = 0
    for t = 1, T do
      local bit = loom.random_int(2) - 1
      ones = ones + bit
      X:set((t - 1) * B + b, bit + 1, 1)
    end
    y:set(b, 1, ones % 2 + 1)
  end
  return X, y
end

-- What the MLP sees: the last W bits as +-1, right-aligned, 0 where the sequence is shorter.
-- A sequence longer than W loses its first bits: no fixed window holds every length.
local function window(X, T, B, W)
  local V = loom.zeros(B, W)
  for t = math.max(1, T - W + 1), T do
    local col = W - (T - t)
    for b = 1, B do V:set(b, col, X:get((t - 1) * B + b, 2) == 1 and 1 or -1) end
  end
  return V
end

-- A model: a recurrent layer whose final state feeds a linear layer, or an MLP on the window.
-- predict(X, T, B) -> B x 2 logits; backward(dlogits) after predict.
local function recurrent_model(kind, H)
  local rnn, head = nn[kind](2, H), nn.Linear(H, 2)
  local m = {name = kind, params = {}}
  for _, mod in ipairs{rnn, head} do
    for _, p in ipairs(mod:parameters()) do m.params[#m.params + 1] = p end
  end
  local h
  function m.predict(X, _, B)
    _, h = rnn:forward(X, {batch = B})
    return head:forward(h)
  end
  function m.backward(dlogits)
    rnn:backward(nil, {dh_T = head:backward(h, dlogits), input_grad = false})
  end
  return m
end

local function mlp_model(W, H)
  local net = nn.Sequential{nn.Linear(W, H), nn.Tanh(), nn.Linear(H, H), nn.Tanh(), nn.Linear(H, 2)}
  local m = {name = "MLP", params = net:parameters()}
  local V
  function m.predict(X, T, B)
    V = window(X, T, B, W)
    return net:forward(V)
  end
  function m.backward(dlogits) net:backward(V, dlogits) end
  return m
end

-- Adam on batches whose length is drawn from 1..L (one length per batch).
local function train(m, p, run, progress)
  local opt, ce = optim.adam(m.params, {lr = p.lr}), nn.CrossEntropyLoss()
  local loss
  for step = 1, p.steps do
    local T = loom.random_int(p.L)
    local X, y = parity_batch(T, p.batch)
    opt:zero_grad()
    local logits = m.predict(X, T, p.batch)
    loss = ce:forward(logits, y)
    m.backward(ce:backward(logits, y))
    optim.clip_grad_norm(m.params, 1)
    opt:step()
    if step % 100 == 0 then
      run:log{step = progress.done + step, ["loss_" .. m.name] = loss}
      collectgarbage() -- matrices live outside Lua's heap
    end
    run:progress(progress.done + step, progress.total)
  end
  progress.done = progress.done + p.steps
  return loss
end

local function accuracy(m, T, n)
  local X, y = parity_batch(T, n)
  local pred = m.predict(X, T, n):argmax(2)
  local hits = 0
  for b = 1, n do
    if pred:get(b, 1) == y:get(b, 1) then hits = hits + 1 end
  end
  return hits / n
end

-- Accuracy of every model at every length 1..4L on fresh sequences.
local function evaluate(models, p, run)
  local by_length = {}
  for T = 1, p.test_factor * p.L do
    local row = {length = T}
    local metrics = {step = T}
    for _, m in ipairs(models) do
      row[m.name] = accuracy(m, T, p.eval)
      metrics["accuracy_" .. m.name] = row[m.name]
    end
    by_length[T] = row
    run:log(metrics)
  end
  return by_length
end

local function mean_over(by_length, name, from, to)
  local s = 0
  for T = from, to do s = s + by_length[T][name] end
  return s / (to - from + 1)
end

local function report(models, by_length, p, run)
  local L, top = p.L, p.test_factor * p.L
  local shown = {[1] = true, [L // 2] = true, [L] = true, [L + 1] = true, [2 * L] = true, [3 * L] = true, [top] = true}
  local head = {string.format("%8s", "length")}
  for _, m in ipairs(models) do head[#head + 1] = string.format("%10s", m.name) end
  print(string.format("\naccuracy by sequence length (%d fresh sequences each; trained on lengths 1..%d; chance 0.50)",
    p.eval, L))
  print(table.concat(head, " "))
  for T = 1, top do
    if shown[T] then
      local line = {string.format("%8d", T)}
      for _, m in ipairs(models) do line[#line + 1] = string.format("%10.3f", by_length[T][m.name]) end
      print(table.concat(line, " ") .. (T == L and "   <- longest trained" or ""))
    end
  end
  local result, series, xs = {}, {}, {}
  for T = 1, top do xs[T] = T end
  for _, m in ipairs(models) do
    result["seen_" .. m.name] = mean_over(by_length, m.name, 1, L)
    result["unseen_" .. m.name] = mean_over(by_length, m.name, L + 1, top)
    local ys = {}
    for T = 1, top do ys[T] = by_length[T][m.name] end
    -- RNN as points over the LSTM's line: where both sit at 1.0 each stays visible
    local style = ({RNN = "points", LSTM = "lines"})[m.name] or "linespoints"
    series[#series + 1] = {title = m.name == "MLP" and string.format("MLP over the last %d bits", L) or m.name,
      x = xs, y = ys, style = style}
  end
  series[#series + 1] = {title = "chance", x = {1, top}, y = {0.5, 0.5}, dashed = true}
  local ticks = {1}
  for k = 1, p.test_factor do ticks[#ticks + 1] = k * L end
  result.plot = run:plot{file = "accuracy_by_length.png", series = series, xtics = ticks, yrange = {0, 1.15},
    vlines = {{x = L + 0.5, title = "longer than any training sequence ->"}}, key = "inside left bottom Left reverse",
    title = "parity of a bit sequence: accuracy by length", xlabel = "sequence length (bits)",
    ylabel = "accuracy", size = {900, 550}}
  local parts = {}
  for _, m in ipairs(models) do
    parts[#parts + 1] = string.format("%s %.1f%%", m.name, 100 * result["unseen_" .. m.name])
  end
  local solved, failed = {}, {}
  for _, m in ipairs(models) do
    local into = result["unseen_" .. m.name] >= 0.9 and solved or failed
    into[#into + 1] = m.name
  end
  print(string.format("=> on lengths %d..%d, longer than any seen in training: %s (chance 50%%). %s",
    L + 1, top, table.concat(parts, ", "),
    #solved > 0 and string.format("%s carr%s the parity through %s loop; %s %s.", table.concat(solved, " and "),
      #solved == 1 and "ies" or "y", #solved == 1 and "its" or "their",
      #failed > 0 and table.concat(failed, " and ") or "no model", #failed > 0 and "does not" or "fails")
    or "no model generalises."))
  print("wrote " .. result.plot)
  return result
end

local e = loom.experiment{
  name = "ann_vs_rnn",
  description = "parity of bit sequences: RNN and LSTM generalise to 4x longer sequences, an MLP over a window does not",
  params = {seed = 42, quick = false, L = 8, test_factor = 4, steps = 0, hidden = 16, mlp_hidden = 64, lr = 0.01,
    batch = 64, eval = 0},
  run = function(p, run)
    if p.steps == 0 then p.steps = p.quick and 1000 or 3000 end
    if p.eval == 0 then p.eval = p.quick and 300 or 2000 end
    print(string.format("parity of bit sequences: train on lengths 1..%d (%d Adam steps, batch %d), test on 1..%d",
      p.L, p.steps, p.batch, p.test_factor * p.L))
    local models = {recurrent_model("RNN", p.hidden), recurrent_model("LSTM", p.hidden), mlp_model(p.L, p.mlp_hidden)}
    local progress = {done = 0, total = #models * p.steps}
    local result = {}
    for _, m in ipairs(models) do
      result["final_loss_" .. m.name] = train(m, p, run, progress)
    end
    for k, v in pairs(report(models, evaluate(models, p, run), p, run)) do result[k] = v end
    return result
  end,
}
e.window = window -- for tests/lua/test_ann_vs_rnn.lua
return e
