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

return loom.experiment{
  name = "vanishing",
  description = "vanishing gradients in RNNs vs LSTMs: gradient norms, long-lag tasks, forget gates",
  params = {
    seed = 42,
    quick = {false, "the demo setting: fewer seeds, steps and lags"},
    hidden = {32, "hidden units of every RNN and LSTM"},
    seeds = {0, "random networks averaged in the gradient profile (0: 8, quick 3)"},
    distance = {0, "steps back through time in the gradient profile (0: 80, quick 40)"},
    scales = {"1,2,3", "weight scales of the gradient profile's networks, comma-separated"},
    lags = {"", "lags T of the long-lag tasks, comma-separated (empty: 10,20,40,80,120; quick 10,20,40)"},
    iterations = {0, "training steps per task and lag (0: 2000, quick 500)"},
    batch = {32, "sequences per training step"},
    lr = {0.1, "learning rate of the long-lag tasks"},
    optimizer = {"sgd", "sgd (momentum 0.9) or adam"},
    forget_bias = {2, "initial forget-gate bias of the trained LSTMs", type = "number"},
    noise = {1, "standard deviation of the distractor inputs", type = "number"},
    tasks = {"memory,adding", "long-lag tasks to train, comma-separated"},
  },
  run = function(p, run)
    local H = p.hidden
    local seeds = p.seeds > 0 and p.seeds or (p.quick and 3 or 8)
    local T = p.distance > 0 and p.distance or (p.quick and 40 or 80)
    local scales = list(p.scales, tonumber)
    local lags = list(p.lags ~= "" and p.lags or (p.quick and "10,20,40" or "10,20,40,80,120"), tonumber)
    local iterations = p.iterations > 0 and p.iterations or (p.quick and 500 or 2000)
    noise = p.noise
    local tasks = list(p.tasks)
    local result = {}
    local total = #lags * 2 * #tasks * iterations
    local done = 0

    -- (1) gradient norms, geometric mean over seeds
    local columns = {}
    for _, s in ipairs(scales) do columns[#columns + 1] = {kind = "RNN", scale = s} end
    for _, s in ipairs(scales) do columns[#columns + 1] = {kind = "LSTM", scale = s} end
    columns[#columns + 1] = {kind = "LSTM", scale = 1, forget_bias = 1}
    local logsum = {}
    for ci, col in ipairs(columns) do
      logsum[ci] = {}
      for s = 1, seeds do
        loom.seed(p.seed * 1000 + s)
        local norms = gradient_profile(col.kind, H, T, col.scale, col.forget_bias)
        for k = 0, T do logsum[ci][k] = (logsum[ci][k] or 0) + math.log(math.max(norms[k], 1e-300)) end
      end
    end
    local header = {string.format("%8s", "distance")}
    for _, col in ipairs(columns) do
      header[#header + 1] = string.format("%12s", string.format("%s x%g%s", col.kind, col.scale,
        col.forget_bias and " fb1" or ""))
    end
    print("(1) |dL/dh_{T-k}| / |dL/dh_T|, geometric mean over " .. seeds .. " seeds, H = " .. H)
    print(table.concat(header, " "))
    local grad_table = {}
    local data = io.open(run:artifact("gradient_norms.dat"), "w")
    for k = 0, T do
      local row, line = {distance = k}, {string.format("%8d", k)}
      for ci, col in ipairs(columns) do
        local v = math.exp(logsum[ci][k] / seeds)
        row[ci] = v
        line[#line + 1] = string.format("%12.3e", v)
      end
      data:write(table.concat(line, " "), "\n")
      if k % math.max(1, T // 8) == 0 or k == T then
        print(table.concat(line, " "))
        grad_table[#grad_table + 1] = row
      end
    end
    data:close()
    -- flat numbers for the run store: the gradient ratio at the largest distance per column
    local column_names = {}
    for ci, col in ipairs(columns) do
      column_names[ci] = header[ci + 1]:match("^%s*(.-)$")
      local key = string.format("grad_%s_x%g%s_d%d", col.kind, col.scale, col.forget_bias and "_fb1" or "", T)
      result[key:gsub("%.", "_")] = grad_table[#grad_table][ci]
    end

    -- (2) long-lag tasks: accuracy on a fresh batch after training
    local ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()
    local trained -- an LSTM trained on the memory task, for (3)
    print(string.format("(2) accuracy after %d " .. p.optimizer .. " steps (batch %d): memory task (chance %.2f) " ..
      "and adding problem (|error| < 0.04)", iterations, p.batch, 1 / K))
    print(string.format("%6s %10s %10s %10s %10s", "T", "mem RNN", "mem LSTM", "add RNN", "add LSTM"))
    for _, lag in ipairs(lags) do
      local row = {}
      for _, task in ipairs(tasks) do
        for _, kind in ipairs{"RNN", "LSTM"} do
          loom.seed(p.seed + lag)
          local m = task == "memory" and model(kind, K + D, H, K, p.batch, p)
            or model(kind, 2, H, 1, p.batch, p)
          local loss
          for it = 1, iterations do
            local x, y
            if task == "memory" then x, y = memory_batch(lag, p.batch) else x, y = adding_batch(lag, p.batch) end
            loss = train_step(m, x, y, task == "memory" and ce or mse)
            done = done + 1
            -- matrices live outside Lua's heap, so its collector needs a nudge
            if it % 100 == 0 then collectgarbage() end
            if it % 50 == 0 then
              run:log{step = done, [task .. "_" .. kind .. "_T" .. lag .. "_loss"] = loss}
              run:progress(done, total)
            end
          end
          local x, y
          if task == "memory" then x, y = memory_batch(lag, 256) else x, y = adding_batch(lag, 256) end
          local acc = evaluate(m, x, y, task)
          row[task .. "_" .. kind] = acc
          run:log{step = done, [task .. "_" .. kind .. "_T" .. lag .. "_accuracy"] = acc}
          -- (3) looks at the LSTM that remembered best over the longest lag
          if task == "memory" and kind == "LSTM" and (not trained or acc >= trained.acc) then
            trained = {m = m, lag = lag, acc = acc}
          end
        end
      end
      print(string.format("%6d %10.2f %10.2f %10.2f %10.2f", lag, row.memory_RNN or 0 / 0,
        row.memory_LSTM or 0 / 0, row.adding_RNN or 0 / 0, row.adding_LSTM or 0 / 0))
      for key, acc in pairs(row) do result[string.format("%s_T%d", key, lag)] = acc end
    end

    -- (3) the trained LSTM's forget gate and cell state along one long sequence
    local long = 2 * trained.lag + 1
    loom.seed(p.seed)
    local lstm = nn.LSTM(K + D, H, {batch = 1})
    lstm:load_state_dict(trained.m.rnn:state_dict())
    local x = memory_batch(long - 1, 1)
    lstm:eval()
    lstm:forward(x)
    -- the unit whose cell holds the most at the end carries the memory
    local _, _, c_last = lstm:forward(x)
    local unit, best = 1, -1
    for j = 1, H do
      if math.abs(c_last:get(1, j)) > best then unit, best = j, math.abs(c_last:get(1, j)) end
    end
    print(string.format("(3) trained LSTM (memory task, T = %d, accuracy %.2f) on a sequence of %d steps: " ..
      "mean forget gate, forget gate and cell of unit %d", trained.lag, trained.acc, long, unit))
    print(string.format("%6s %12s %12s %12s", "step", "mean f", "f[unit]", "c[unit]"))
    local trace = {}
    local data3 = io.open(run:artifact("forget_gate.dat"), "w")
    local cells = {}
    -- cell states come from running the sequence prefix by prefix through state()
    local h, c
    for t = 1, long do
      local _, h1, c1 = lstm:forward(x:slice(t, t, 1, K + D), {h0 = h, c0 = c})
      h, c = h1, c1
      local g = lstm:gates(1)
      local f = g:slice(1, 1, H + 1, 2 * H)
      cells[t] = c:get(1, unit)
      local row = {step = t, mean_forget = f:mean(), forget = f:get(1, unit), cell = cells[t]}
      trace[#trace + 1] = row
      data3:write(string.format("%d %.6f %.6f %.6f\n", t, row.mean_forget, row.forget, row.cell))
      if t == 1 or t % math.max(1, long // 10) == 0 or t == long then
        print(string.format("%6d %12.4f %12.4f %12.4f", t, row.mean_forget, row.forget, row.cell))
      end
    end
    data3:close()
    result.forget_unit = unit
    result.forget_mean_first, result.forget_mean_last = trace[1].mean_forget, trace[#trace].mean_forget
    result.cell_unit_last = trace[#trace].cell

    -- plots, when gnuplot is there
    if os.execute("command -v gnuplot >/dev/null 2>&1") then
      local png = run:artifact("gradient_norms.png")
      local using = {}
      for ci = 1, #columns do
        using[#using + 1] = string.format("'%s' using 1:%d with lines title '%s'",
          run:artifact("gradient_norms.dat"), ci + 1, column_names[ci])
      end
      local script = string.format("set terminal png size 900,600; set output '%s'; set logscale y; " ..
        "set xlabel 'distance from the loss (steps)'; set ylabel '|dL/dh|'; plot %s", png, table.concat(using, ", "))
      os.execute(string.format("gnuplot -e \"%s\" 2>/dev/null", script))
      local png3 = run:artifact("forget_gate.png")
      local f3 = run:artifact("forget_gate.dat")
      script = string.format("set terminal png size 900,600; set output '%s'; set xlabel 'step'; " ..
        "plot '%s' using 1:2 with lines title 'mean forget gate', '%s' using 1:3 with lines title 'forget gate (unit)', " ..
        "'%s' using 1:4 with lines title 'cell (unit)'", png3, f3, f3, f3)
      os.execute(string.format("gnuplot -e \"%s\" 2>/dev/null", script))
      result.plot_gradients, result.plot_forget = png, png3
    end
    return result
  end,
}
