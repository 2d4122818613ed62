-- vanishing.lua: the course's claim made measurable: gradients vanish through a vanilla
-- RNN's time steps, and an LSTM's cell state gives them a path. (1) the norm of dL/dh_t
-- against the distance from the loss, (2) long-lag memory and adding tasks as T grows,
-- (3) an LSTM's forget gate and cell state along one long sequence.
-- Run: build/bin/loom run scripts/experiments/vanishing.lua quick=true
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

local function list(text, convert)
  local out = {}
  for v in tostring(text):gmatch("[^,]+") do out[#out + 1] = convert and convert(v) or v end
  return out
end

-- ---- (1) gradient norm against distance, step by step with cells ----

-- Norms of dL/dh_{T-k} for k = 0..T, L = <r, h_T>, r random of unit norm; averaged (in log
-- space) over the batch. Runs the cell forward over T steps, then backward step by step.
local function gradient_profile(kind, H, T, scale, forget_bias)
  local cell = kind == "LSTM" and nn.LSTMCell(H, H) or nn.RNNCell(H, H)
  for _, p in ipairs(cell:parameters()) do p.value:mul_(scale) end
  if forget_bias then
    for _, p in ipairs(cell:parameters()) do
      if p.name == "bias_ih" then p.value:slice(H + 1, 2 * H, 1, 1):fill_(forget_bias) end
      if p.name == "bias_hh" then p.value:slice(H + 1, 2 * H, 1, 1):fill_(0) end
    end
  end
  local B = 8
  local xs, hs, cs = {}, {}, {}
  local h, c = loom.zeros(B, H), loom.zeros(B, H)
  for t = 1, T do
    xs[t], hs[t], cs[t] = loom.randn(B, H), h, c
    if kind == "LSTM" then h, c = cell:forward(xs[t], {h = h, c = c}) else h = cell:forward(xs[t], {h = h}) end
  end
  local dh = loom.randn(B, H)
  dh = dh / dh:norm()
  local dc = kind == "LSTM" and loom.zeros(B, H) or nil
  local norms = {[0] = dh:norm()}
  for t = T, 1, -1 do
    local _
    if kind == "LSTM" then
      _, dh, dc = cell:backward(xs[t], dh, {h = hs[t], c = cs[t], dc = dc})
    else
      _, dh = cell:backward(xs[t], dh, {h = hs[t]})
    end
    norms[T - t + 1] = dh:norm()
  end
  return norms
end

-- ---- (2) long-lag tasks ----

-- Memory task: step 1 shows one of K symbols (one-hot over the first K inputs), then T
-- distractor steps of Gaussian noise on the D other inputs; the label is the first symbol.
local K, D = 4, 4
local noise = 1
local function memory_batch(T, B)
  local symbols, y = loom.zeros((T + 1) * B, K), loom.zeros(B, 1)
  local distract = loom.randn((T + 1) * B, D) * noise
  distract:slice(1, B, 1, D):fill_(0)
  for b = 1, B do
    local s = loom.random_int(K)
    y:set(b, 1, s)
    symbols:set(b, s, 1)
  end
  return loom.hcat{symbols, distract}, y
end

-- Adding problem (Hochreiter & Schmidhuber): inputs (value in [0,1), marker); two steps are
-- marked, one in each half; the target is the sum of their values.
local function adding_batch(T, B)
  local values, markers, y = loom.rand(T * B, 1), loom.zeros(T * B, 1), loom.zeros(B, 1)
  local half = T // 2
  for b = 1, B do
    local m1, m2 = loom.random_int(half), half + loom.random_int(T - half)
    markers:set((m1 - 1) * B + b, 1, 1)
    markers:set((m2 - 1) * B + b, 1, 1)
    y:set(b, 1, values:get((m1 - 1) * B + b, 1) + values:get((m2 - 1) * B + b, 1))
  end
  return loom.hcat{values, markers}, y
end

local function model(kind, I, H, out, B, p)
  local lr, forget_bias = p.lr, p.forget_bias
  local rnn = kind == "LSTM" and nn.LSTM(I, H, {batch = B}) or nn.RNN(I, H, {batch = B})
  if kind == "LSTM" then
    -- a positive forget-gate bias (Jozefowicz et al. 2015 use 1) keeps the cell open at first
    for _, p in ipairs(rnn:parameters()) do
      if p.name == "bias_ih_l0" then p.value:slice(H + 1, 2 * H, 1, 1):fill_(forget_bias) end
    end
  end
  local head = nn.Linear(H, out)
  local params = {}
  for _, p in ipairs(rnn:parameters()) do params[#params + 1] = p end
  for _, p in ipairs(head:parameters()) do params[#params + 1] = p end
  local opt = p.optimizer == "sgd" and optim.sgd(params, {lr = lr, momentum = 0.9})
    or optim.adam(params, {lr = lr})
  return {rnn = rnn, head = head, params = params, opt = opt}
end

-- One training step on the final state; returns the loss and the predictions.
local function train_step(m, x, y, loss_fn)
  m.opt:zero_grad()
  local _, h = m.rnn:forward(x)
  local pred = m.head:forward(h)
  local loss = loss_fn:forward(pred, y)
  local dh = m.head:backward(h, loss_fn:backward(pred, y))
  m.rnn:backward(nil, {dh_T = dh, input_grad = false})
  optim.clip_grad_norm(m.params, 1)
  m.opt:step()
  return loss, pred
end

local function evaluate(m, x, y, task)
  m.rnn:eval()
  local _, h = m.rnn:forward(x, {batch = y:rows()})
  local pred = m.head:forward(h)
  m.rnn:train()
  local hits = 0
  for b = 1, y:rows() do
    if task == "memory" then
      local _, class = pred:slice(b, b, 1, K):argmax() -- (row, column) of the maximum
      if class == y:get(b, 1) then hits = hits + 1 end
    elseif math.abs(pred:get(b, 1) - y:get(b, 1)) < 0.04 then
      hits = hits + 1
    end
  end
  return hits / y:rows()
end

-- The settings the params imply (quick or full).
local function settings(p)
  noise = p.noise
  return {
    H = p.hidden,
    seeds = p.seeds > 0 and p.seeds or (p.quick and 3 or 8),
    T = p.distance > 0 and p.distance or (p.quick and 40 or 80),
    scales = list(p.scales, tonumber),
    lags = list(p.lags ~= "" and p.lags or (p.quick and "10,20,40" or "10,20,40,80,120"), tonumber),
    iterations = p.iterations > 0 and p.iterations or (p.quick and 500 or 2000),
    tasks = list(p.tasks),
  }
end

-- (1) |dL/dh_{T-k}| / |dL/dh_T| for RNN and LSTM at each weight scale, geometric mean over seeds:
-- printed every T/8 steps, drawn in full (log scale), largest-distance ratio in the result.
local function gradient_norms(cfg, p, run, result)
  local columns = {}
  for _, s in ipairs(cfg.scales) do columns[#columns + 1] = {kind = "RNN", scale = s} end
  for _, s in ipairs(cfg.scales) do columns[#columns + 1] = {kind = "LSTM", scale = s} end
  columns[#columns + 1] = {kind = "LSTM", scale = 1, forget_bias = 1}
  local T, series = cfg.T, {}
  for ci, col in ipairs(columns) do
    local logsum = {}
    for s = 1, cfg.seeds do
      loom.seed(p.seed * 1000 + s)
      local norms = gradient_profile(col.kind, cfg.H, T, col.scale, col.forget_bias)
      for k = 0, T do logsum[k] = (logsum[k] or 0) + math.log(math.max(norms[k], 1e-300)) end
    end
    col.name = string.format("%s x%g%s", col.kind, col.scale, col.forget_bias and " fb1" or "")
    local xs, ys = {}, {}
    for k = 0, T do xs[k + 1], ys[k + 1] = k, math.exp(logsum[k] / cfg.seeds) end
    series[ci] = {title = col.name, x = xs, y = ys, dashed = col.kind == "LSTM"}
    local key = string.format("grad_%s_x%g%s_d%d", col.kind, col.scale, col.forget_bias and "_fb1" or "", T)
    result[key:gsub("%.", "_")] = ys[T + 1]
  end
  print("(1) |dL/dh_{T-k}| / |dL/dh_T|, geometric mean over " .. cfg.seeds .. " seeds, H = " .. cfg.H)
  local header = {string.format("%8s", "distance")}
  for _, col in ipairs(columns) do header[#header + 1] = string.format("%12s", col.name) end
  print(table.concat(header, " "))
  for k = 0, T do
    if k % math.max(1, T // 8) == 0 or k == T then
      local line = {string.format("%8d", k)}
      for ci = 1, #columns do line[#line + 1] = string.format("%12.3e", series[ci].y[k + 1]) end
      print(table.concat(line, " "))
    end
  end
  result.plot_gradients = run:plot{file = "gradient_norms.png", series = series, logy = true,
    title = "gradient norm against distance from the loss (x: weight scale, fb1: forget bias 1)",
    xlabel = "distance from the loss (steps)", ylabel = "|dL/dh| relative to the last step", size = {900, 600}}
end

-- One model trained on one task at one lag; its accuracy on a fresh batch of 256.
local function train_one(task, kind, lag, cfg, p, run, progress)
  local ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()
  loom.seed(p.seed + lag)
  local m = task == "memory" and model(kind, K + D, cfg.H, K, p.batch, p) or model(kind, 2, cfg.H, 1, p.batch, p)
  local make = task == "memory" and memory_batch or adding_batch
  for it = 1, cfg.iterations do
    local x, y = make(lag, p.batch)
    local loss = train_step(m, x, y, task == "memory" and ce or mse)
    progress.done = progress.done + 1
    -- matrices live outside Lua's heap, so its collector needs a nudge
    if it % 100 == 0 then collectgarbage() end
    if it % 50 == 0 then
      run:log{step = progress.done, [task .. "_" .. kind .. "_T" .. lag .. "_loss"] = loss}
      run:progress(progress.done, progress.total)
    end
  end
  local x, y = make(lag, 256)
  local acc = evaluate(m, x, y, task)
  run:log{step = progress.done, [task .. "_" .. kind .. "_T" .. lag .. "_accuracy"] = acc}
  return m, acc
end

-- (2) the memory task and the adding problem at each lag, RNN against LSTM. Returns the LSTM
-- that remembered best over the longest lag (for (3)).
local function long_lag_tasks(cfg, p, run, result)
  print(string.format("(2) accuracy after %d " .. p.optimizer .. " steps (batch %d): memory task (chance %.2f) " ..
    "and adding problem (|error| < 0.04)", cfg.iterations, p.batch, 1 / K))
  print(string.format("%6s %10s %10s %10s %10s", "T", "mem RNN", "mem LSTM", "add RNN", "add LSTM"))
  local progress = {done = 0, total = #cfg.lags * 2 * #cfg.tasks * cfg.iterations}
  local trained
  for _, lag in ipairs(cfg.lags) do
    local row = {}
    for _, task in ipairs(cfg.tasks) do
      for _, kind in ipairs{"RNN", "LSTM"} do
        local m, acc = train_one(task, kind, lag, cfg, p, run, progress)
        row[task .. "_" .. kind] = acc
        if task == "memory" and kind == "LSTM" and (not trained or acc >= trained.acc) then
          trained = {m = m, lag = lag, acc = acc}
        end
      end
    end
    print(string.format("%6d %10.2f %10.2f %10.2f %10.2f", lag, row.memory_RNN or 0 / 0,
      row.memory_LSTM or 0 / 0, row.adding_RNN or 0 / 0, row.adding_LSTM or 0 / 0))
    for key, acc in pairs(row) do result[string.format("%s_T%d", key, lag)] = acc end
  end
  return trained
end

-- (3) the trained LSTM on one sequence twice its lag long: the mean forget gate, and the forget
-- gate and cell of the unit holding the most at the end, read from the fused layer (its gates
-- per step and cell_states()) after one forward.
local function forget_gate_trace(trained, cfg, p, run, result)
  local H, long = cfg.H, 2 * trained.lag + 1
  loom.seed(p.seed)
  local lstm = nn.LSTM(K + D, H, {batch = 1})
  lstm:load_state_dict(trained.m.rnn:state_dict())
  lstm:eval()
  local x = memory_batch(long - 1, 1)
  lstm:forward(x)
  local cells = lstm:cell_states() -- long x H: the cell after each step
  local unit, best = 1, -1
  for j = 1, H do
    if math.abs(cells:get(long, j)) > best then unit, best = j, math.abs(cells:get(long, j)) end
  end
  print(string.format("(3) trained LSTM (memory task, T = %d, accuracy %.2f) on a sequence of %d steps: " ..
    "mean forget gate, forget gate and cell of unit %d", trained.lag, trained.acc, long, unit))
  print(string.format("%6s %12s %12s %12s", "step", "mean f", "f[unit]", "c[unit]"))
  local steps, mean_f, f_unit, c_unit = {}, {}, {}, {}
  for t = 1, long do
    local f = lstm:gates(t):slice(1, 1, H + 1, 2 * H) -- gates i | f | g | o
    steps[t], mean_f[t], f_unit[t], c_unit[t] = t, f:mean(), f:get(1, unit), cells:get(t, unit)
    if t == 1 or t % math.max(1, long // 10) == 0 or t == long then
      print(string.format("%6d %12.4f %12.4f %12.4f", t, mean_f[t], f_unit[t], c_unit[t]))
    end
  end
  result.forget_unit = unit
  result.forget_mean_first, result.forget_mean_last = mean_f[1], mean_f[long]
  result.cell_unit_last = c_unit[long]
  result.plot_forget = run:plot{file = "forget_gate.png", xlabel = "step", ylabel = "forget gate (0 forgets, 1 keeps)",
    y2label = "cell state", yrange = {0, 1.05}, xrange = {1, long}, key = "inside right bottom",
    title = string.format("trained LSTM along %d steps: the symbol is shown at step 1, asked for at the end", long),
    size = {900, 600}, series = {{title = "mean forget gate (left)", x = steps, y = mean_f},
      {title = string.format("forget gate of unit %d (left)", unit), x = steps, y = f_unit},
      {title = string.format("cell of unit %d (right)", unit), x = steps, y = c_unit, right_axis = true, dashed = true}}}
end

return loom.experiment{
  name = "vanishing",
  description = "vanishing gradients in RNNs vs LSTMs: gradient norms, long-lag tasks, forget gates",
  params = {seed = 42, quick = false, hidden = 32, seeds = 0, distance = 0, scales = "1,2,3",
    lags = "", iterations = 0, batch = 32, lr = 0.1, optimizer = "sgd", forget_bias = 2, noise = 1, tasks = "memory,adding"},
  run = function(p, run)
    local cfg, result = settings(p), {}
    gradient_norms(cfg, p, run, result)
    local trained = long_lag_tasks(cfg, p, run, result)
    forget_gate_trace(trained, cfg, p, run, result)
    return result
  end,
}
