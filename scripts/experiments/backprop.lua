-- backprop.lua: backpropagation as the chain rule, with numbers. The course's two-layer scalar
-- network (z1 = w1 x + b1, a1 = sigmoid(z1), z2 = w2 a1 + b2, a2 = sigmoid(z2), binary
-- cross-entropy) is derived step by step; each gradient is shown three ways: the closed
-- form, loom's backward pass, and central finite differences. Then a small MLP learns XOR.
-- Then the cost claim: forward and backward time of MLPs from 10^3 to 10^7 connections (both
-- linear, backward about twice forward) against finite differences (quadratic).
--   loom run scripts/experiments/backprop.lua [epochs=2000 lr=0.1 hidden=4 quick=false]
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

local function sigmoid(z) return 1 / (1 + math.exp(-z)) end

-- One step of the derivation: the formula, its value by hand, and loom's value (when the
-- step is one loom computes: a layer's output or the gradient a backward pass returns).
local function line(label, formula, value, loom_value)
  local shown = loom_value and string.format("  loom %+.15f", loom_value) or ""
  print(string.format("  %-8s = %-40s = %+.15f%s", label, formula, value, shown))
end

-- The scalar network as loom modules with the given weights.
local function scalar_net(w)
  local l1, l2 = nn.Linear(1, 1), nn.Linear(1, 1)
  l1:load_state_dict{weight = loom.matrix{{w.w1}}, bias = loom.matrix{{w.b1}}}
  l2:load_state_dict{weight = loom.matrix{{w.w2}}, bias = loom.matrix{{w.b2}}}
  return nn.Sequential{l1, nn.Sigmoid(), l2, nn.Sigmoid()}
end

local function scalar(m) return m:get(1, 1) end

-- Print the derivation; return the worst |loom - closed form| and the worst relative
-- difference between finite differences and loom.
local function derivation(w, x, y)
  print("Two-layer scalar network, one example")
  print(string.format("  x = %g, y = %g;  w1 = %g, b1 = %g, w2 = %g, b2 = %g\n", x, y, w.w1, w.b1, w.w2, w.b2))
  local model, loss = scalar_net(w), nn.BCELoss()
  local X, Y = loom.matrix{{x}}, loom.matrix{{y}}

  -- loom's forward, layer by layer, keeping each value.
  local z1m = scalar(model[1]:forward(X))
  local a1m = scalar(model[2]:forward(model[1]:forward(X)))
  local z2m = scalar(model[3]:forward(model[2]:forward(model[1]:forward(X))))
  local out = model:forward(X)
  local a2m, Lm = scalar(out), loss:forward(out, Y)

  print("Forward pass (by hand, and loom's layer outputs)")
  local z1 = w.w1 * x + w.b1
  local a1 = sigmoid(z1)
  local z2 = w.w2 * a1 + w.b2
  local a2 = sigmoid(z2)
  local L = -(y * math.log(a2) + (1 - y) * math.log(1 - a2))
  line("z1", "w1 x + b1", z1, z1m)
  line("a1", "sigmoid(z1)", a1, a1m)
  line("z2", "w2 a1 + b2", z2, z2m)
  line("a2", "sigmoid(z2)", a2, a2m)
  line("L", "-(y log a2 + (1 - y) log(1 - a2))", L, Lm)

  -- loom's backward, module by module, each getting the input its forward saw.
  model:zero_grad()
  local d_a2 = scalar(loss:backward(out, Y))
  local d_z2 = scalar(model[4]:backward(loom.matrix{{z2m}}, loom.matrix{{d_a2}}))
  local d_a1 = scalar(model[3]:backward(loom.matrix{{a1m}}, loom.matrix{{d_z2}}))
  local d_z1 = scalar(model[2]:backward(loom.matrix{{z1m}}, loom.matrix{{d_a1}}))
  model[1]:backward(X, loom.matrix{{d_z1}})
  local grads = {}
  for _, p in ipairs(model:parameters()) do grads[p.name] = scalar(p.grad) end

  print("\nBackward pass: each local derivative, then the product the chain rule forms")
  local dL_da2 = -y / a2 + (1 - y) / (1 - a2)
  local da2_dz2 = a2 * (1 - a2)
  local dz2 = dL_da2 * da2_dz2
  line("dL/da2", "-y/a2 + (1 - y)/(1 - a2)", dL_da2, d_a2)
  line("da2/dz2", "a2 (1 - a2)", da2_dz2)
  line("dL/dz2", "dL/da2 * da2/dz2", dz2, d_z2)
  line("", "which is a2 - y", a2 - y)
  line("dL/dw2", "dL/dz2 * a1       = (a2 - y) a1", dz2 * a1, grads["2.weight"])
  line("dL/db2", "dL/dz2            = a2 - y", dz2, grads["2.bias"])
  local dL_da1 = dz2 * w.w2
  local da1_dz1 = a1 * (1 - a1)
  local dz1 = dL_da1 * da1_dz1
  line("dL/da1", "dL/dz2 * w2", dL_da1, d_a1)
  line("da1/dz1", "a1 (1 - a1)", da1_dz1)
  line("dL/dz1", "dL/da1 * da1/dz1", dz1, d_z1)
  line("dL/dw1", "dL/dz1 * x = (a2 - y) w2 a1 (1 - a1) x", dz1 * x, grads["0.weight"])
  line("dL/db1", "dL/dz1     = (a2 - y) w2 a1 (1 - a1)", dz1, grads["0.bias"])

  local closed = {["0.weight"] = (a2 - y) * w.w2 * a1 * (1 - a1) * x,
    ["0.bias"] = (a2 - y) * w.w2 * a1 * (1 - a1), ["2.weight"] = (a2 - y) * a1, ["2.bias"] = a2 - y}
  local label = {["0.weight"] = "w1", ["0.bias"] = "b1", ["2.weight"] = "w2", ["2.bias"] = "b2"}
  print("\nThree ways to the same gradients")
  print(string.format("  %-4s %-19s %-19s %-19s %-10s %s", "", "closed form", "loom backward",
    "finite difference", "|loom-cf|", "|fd-loom|/|loom|"))
  local worst_cf, worst_fd = 0, 0
  local eps = 1e-6
  for _, p in ipairs(model:parameters()) do
    local v = p.value
    local orig = v:get(1, 1)
    v:set(1, 1, orig + eps)
    local fp = loss:forward(model:forward(X), Y)
    v:set(1, 1, orig - eps)
    local fm = loss:forward(model:forward(X), Y)
    v:set(1, 1, orig)
    local fd, g, cf = (fp - fm) / (2 * eps), p.grad:get(1, 1), closed[p.name]
    local e_cf, e_fd = math.abs(g - cf), math.abs(fd - g) / math.max(math.abs(g), 1e-3)
    worst_cf, worst_fd = math.max(worst_cf, e_cf), math.max(worst_fd, e_fd)
    print(string.format("  %-4s %+.15f %+.15f %+.15f %-10.1e %.1e", label[p.name], cf, g, fd, e_cf, e_fd))
  end
  return worst_cf, worst_fd
end

-- A one-line picture of a curve: eight levels of block characters.
local function sparkline(values)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(values) do lo, hi = math.min(lo, v), math.max(hi, v) end
  local bars = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"}
  local out = {}
  for i, v in ipairs(values) do
    out[i] = bars[math.floor((v - lo) / math.max(hi - lo, 1e-300) * 7 + 0.5) + 1]
  end
  return table.concat(out)
end

local function train_xor(p, run)
  print(string.format("\nXOR with an MLP 2-%d-1 (tanh hidden layer, BCE with logits, Adam lr %g)", p.hidden, p.lr))
  local X = loom.matrix{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
  local Y = loom.matrix{0, 1, 1, 0}
  local model = nn.Sequential{nn.Linear(2, p.hidden), nn.Tanh(), nn.Linear(p.hidden, 1)}
  print(model)
  local loss, opt = nn.BCEWithLogitsLoss(), optim.adam(model, {lr = p.lr})
  local curve, every = {}, math.max(1, p.epochs // 40)
  local shown = {[1] = true, [p.epochs] = true}
  for k = 1, 20 do
    for _, f in ipairs{1, 2, 5} do shown[f * 10 ^ k // 1] = true end
  end
  print(string.format("  %6s  %s", "epoch", "loss"))
  for epoch = 1, p.epochs do
    opt:zero_grad()
    local out = model:forward(X)
    local d, l = loss:backward(out, Y)
    model:backward(X, d)
    opt:step()
    if epoch % every == 0 or epoch == 1 then
      curve[#curve + 1] = math.log(l, 10)
      run:log{step = epoch, loss = l}
    end
    if shown[epoch] then print(string.format("  %6d  %.6f", epoch, l)) end
    run:progress(epoch, p.epochs)
  end
  print(string.format("  log10(loss) from %.2f to %.2f: %s", curve[1], curve[#curve], sparkline(curve)))
  local out = model:forward(X)
  local correct = 0
  print("  x1 x2  target  p(y=1)")
  for i = 1, 4 do
    local prob = sigmoid(out:get(i, 1))
    correct = correct + (((prob > 0.5) and 1 or 0) == Y:get(i, 1) and 1 or 0)
    print(string.format("  %2d %2d  %6d  %.4f", X:get(i, 1), X:get(i, 2), Y:get(i, 1), prob))
  end
  return 10 ^ curve[#curve], correct / 4
end

-- ---- the cost of derivatives: backpropagation against finite differences ----

-- An MLP of `depth` hidden layers of `width` units (tanh) on `width` inputs, one output:
-- about depth * width^2 connections (weights).
local function mlp(width, depth)
  local layers = {}
  for _ = 1, depth do
    layers[#layers + 1] = nn.Linear(width, width)
    layers[#layers + 1] = nn.Tanh()
  end
  layers[#layers + 1] = nn.Linear(width, 1)
  return nn.Sequential(layers)
end

local function connections(width, depth) return depth * width * width + width end

-- CPU seconds per call of f, repeated until at least `budget` seconds have passed (best of 3
-- rounds). The scaling part runs on one BLAS thread, so the process's CPU time is the work
-- itself: other processes on a shared machine take the core away without adding to it
-- (wall time under load had the smaller nets measured slower, bending the exponents).
local function seconds_per_call(f, budget)
  local best = math.huge
  for _ = 1, 3 do
    local calls, t0 = 0, os.clock()
    repeat
      f()
      calls = calls + 1
    until os.clock() - t0 >= budget / 3
    best = math.min(best, (os.clock() - t0) / calls)
  end
  return best
end

-- The gradient of the MSE loss by central differences: two forwards per parameter.
local function finite_difference_gradient(model, X, Y, loss, eps)
  local grads = {}
  for _, p in ipairs(model:parameters()) do
    local v, g = p.value, loom.zeros(p.value:rows(), p.value:cols())
    for i = 1, v:rows() do
      for j = 1, v:cols() do
        local orig = v:get(i, j)
        v:set(i, j, orig + eps)
        local fp = loss:forward(model:forward(X), Y)
        v:set(i, j, orig - eps)
        local fm = loss:forward(model:forward(X), Y)
        v:set(i, j, orig)
        g:set(i, j, (fp - fm) / (2 * eps))
      end
    end
    grads[#grads + 1] = g
  end
  return grads
end

-- The least-squares slope of log(y) against log(x): the exponent of a power law.
local function loglog_slope(xs, ys)
  local n, sx, sy, sxx, sxy = #xs, 0, 0, 0, 0
  for i = 1, n do
    local x, y = math.log(xs[i]), math.log(ys[i])
    sx, sy, sxx, sxy = sx + x, sy + y, sxx + x * x, sxy + x * y
  end
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
end

local function scaling_grid(p)
  local grid = {}
  for _, wd in ipairs{{10, 1}, {32, 1}, {32, 3}, {32, 10}, {100, 1}, {100, 10}, {316, 1}, {316, 10}, {1000, 1}, {1000, 10}} do
    -- connections(w, d) is d w^2 + w: a grid point "10^7" is 10^7 + 10^3
    if connections(wd[1], wd[2]) <= 1.01 * p.max_connections then grid[#grid + 1] = {width = wd[1], depth = wd[2]} end
  end
  return grid
end

-- Time forward and backward over the grid (CPU time on one BLAS thread); finite
-- differences on the smallest sizes.
local function measure_scaling(p, run)
  local B, budget = 64, p.quick and 0.15 or 0.6
  local fd_max = p.fd_max_connections > 0 and p.fd_max_connections or (p.quick and 3.2e3 or 1.1e4)
  local loss, rows = nn.MSELoss(), {}
  for i, g in ipairs(scaling_grid(p)) do
    local model = mlp(g.width, g.depth)
    local X, Y = loom.randn(B, g.width), loom.randn(B, 1)
    local r = {width = g.width, depth = g.depth, connections = connections(g.width, g.depth)}
    r.forward = seconds_per_call(function() model:forward(X) end, budget)
    local dY = loss:backward(model:forward(X), Y)
    r.backward = seconds_per_call(function() model:backward(X, dY) end, budget)
    if r.connections <= fd_max then
      local t0 = os.clock()
      local fd = finite_difference_gradient(model, X, Y, loss, 1e-6)
      r.fd = os.clock() - t0
      model:zero_grad()
      model:forward(X)
      model:backward(X, loss:backward(model:forward(X), Y))
      r.fd_error = 0
      for k, prm in ipairs(model:parameters()) do
        r.fd_error = math.max(r.fd_error, (fd[k] - prm.grad):norm() / math.max(prm.grad:norm(), 1e-12))
      end
    end
    rows[#rows + 1] = r
    run:log{step = i, connections = r.connections, t_forward = r.forward, t_backward = r.backward, t_fd = r.fd}
    run:progress(i, #scaling_grid(p))
  end
  return rows
end

local function fmt_seconds(t)
  if t >= 86400 * 365 then return string.format("%.1f years", t / (86400 * 365)) end
  if t >= 86400 then return string.format("%.1f days", t / 86400) end
  if t >= 3600 then return string.format("%.1f hours", t / 3600) end
  if t >= 1 then return string.format("%.2f s", t) end
  return string.format("%.3g ms", t * 1e3)
end

-- Print the table, draw the plot, return the measured exponents and ratios.
local function report_scaling(rows, run)
  print("\nCost of the gradient of an MLP (tanh, batch 64): seconds per pass, and by finite differences")
  print(string.format("%7s %6s %12s %11s %11s %9s %17s %9s", "width", "depth", "connections", "forward",
    "backward", "bwd/fwd", "finite diff.", "fd error"))
  local measured_fd, big = {}, {}
  for _, r in ipairs(rows) do
    local fd_text = r.fd and fmt_seconds(r.fd) or "-"
    print(string.format("%7d %6d %12d %11s %11s %9.2f %17s %9s", r.width, r.depth, r.connections,
      fmt_seconds(r.forward), fmt_seconds(r.backward), r.backward / r.forward, fd_text,
      r.fd_error and string.format("%.1e", r.fd_error) or "-"))
    if r.fd then measured_fd[#measured_fd + 1] = r end
    if r.connections >= 1e5 then big[#big + 1] = r end
  end
  if #big < 2 then big = rows end
  local xs, fwd, bwd, ratio = {}, {}, {}, 0
  for _, r in ipairs(big) do
    xs[#xs + 1], fwd[#fwd + 1], bwd[#bwd + 1] = r.connections, r.forward, r.backward
    ratio = ratio + math.log(r.backward / r.forward)
  end
  local out = {forward_exponent = loglog_slope(xs, fwd), backward_exponent = loglog_slope(xs, bwd),
    backward_over_forward = math.exp(ratio / #big), fd_max_error = 0}
  -- finite differences: 2 forwards per parameter, so t_fd(P) ~ 2 P t_forward(P), calibrated
  -- on the sizes measured and extrapolated to the others
  local calib = 0
  for _, r in ipairs(measured_fd) do
    calib = calib + math.log(r.fd / (2 * r.connections * r.forward))
    out.fd_max_error = math.max(out.fd_max_error, r.fd_error)
  end
  calib = #measured_fd > 0 and math.exp(calib / #measured_fd) or 1
  local series_x, s_fwd, s_bwd, fd_x, fd_y, ex_x, ex_y = {}, {}, {}, {}, {}, {}, {}
  for _, r in ipairs(rows) do
    series_x[#series_x + 1], s_fwd[#s_fwd + 1], s_bwd[#s_bwd + 1] = r.connections, r.forward, r.backward
    if r.fd then fd_x[#fd_x + 1], fd_y[#fd_y + 1] = r.connections, r.fd end
    ex_x[#ex_x + 1], ex_y[#ex_y + 1] = r.connections, calib * 2 * r.connections * r.forward
  end
  -- the exponents over the sizes past the per-call overhead (>= 1000 connections) when there are two
  local fx, fy = {}, {}
  for i = 1, #fd_x do
    if fd_x[i] >= 1000 then fx[#fx + 1], fy[#fy + 1] = fd_x[i], fd_y[i] end
  end
  if #fx < 2 then fx, fy = fd_x, fd_y end
  if #fx >= 2 then out.fd_exponent = loglog_slope(fx, fy) end
  local bx, by = {}, {}
  for i = 1, #ex_x do
    if ex_x[i] >= big[1].connections then bx[#bx + 1], by[#by + 1] = ex_x[i], ex_y[i] end
  end
  out.fd_extrapolated_exponent = loglog_slope(bx, by)
  local last = rows[#rows]
  out.fd_extrapolated_largest = ex_y[#ex_y]
  out.fd_over_backprop_largest = ex_y[#ex_y] / (last.forward + last.backward)
  local png = run:plot{file = "gradient_cost.png", logx = true, logy = true, key = "inside left top Left reverse",
    title = "seconds for one gradient of an MLP: backpropagation vs finite differences",
    xlabel = "connections (weights)", ylabel = "seconds", size = {900, 600},
    series = {{title = "forward (measured)", x = series_x, y = s_fwd, style = "linespoints"},
      {title = "backward (measured)", x = series_x, y = s_bwd, style = "linespoints"},
      {title = "finite differences (measured)", x = fd_x, y = fd_y, style = "points"},
      {title = "finite differences, extrapolated (2 forwards per weight)", x = ex_x, y = ex_y, dashed = true}}}
  local function growth(e)
    if e < 0.7 then return "less than linearly" end
    return e <= 1.2 and "about linearly" or "faster than linearly"
  end
  print(string.format("=> from %d to %d connections, forward time grows as connections^%.2f and backward as " ..
    "connections^%.2f (%s), and backward/forward = %.2f.", big[1].connections, big[#big].connections,
    out.forward_exponent, out.backward_exponent, growth(math.max(out.forward_exponent, out.backward_exponent)),
    out.backward_over_forward))
  print(string.format("=> finite differences (2 forwards per weight) %s; extrapolated from there they grow as " ..
    "connections^%.2f from %d to %d connections and would take %s at %d, %.3gx one forward and backward.",
    out.fd_exponent and string.format("grew as connections^%.2f from %d to %d connections (measured)",
    out.fd_exponent, fx[1], fx[#fx]) or "were not measured", out.fd_extrapolated_exponent, bx[1], bx[#bx],
    fmt_seconds(out.fd_extrapolated_largest), last.connections, out.fd_over_backprop_largest))
  print("wrote " .. png)
  return out
end

local PARTS = {derivation = true, xor = true, scaling = true}

return loom.experiment{
  name = "backprop",
  description = "the chain rule step by step on the course's two-layer network, then XOR",
  params = {
    seed = 42,
    quick = {false, "the demo setting: at most 500 XOR epochs"},
    epochs = {2000, "XOR training epochs (full batch)"},
    lr = {0.1, "Adam's learning rate for XOR"},
    hidden = {4, "tanh units in the XOR network's hidden layer"},
    parts = {"derivation,xor,scaling", "which parts to run, comma-separated (derivation, xor, scaling)"},
    max_connections = {1e7, "the largest MLP (weights) timed in the scaling part", type = "number"},
    fd_max_connections = {0, "the largest MLP whose gradient is timed by finite differences (0: automatic)",
      type = "number"},
  },
  run = function(p, run)
    if p.quick then p.epochs = math.min(p.epochs, 500) end
    local want = {}
    for part in p.parts:gmatch("[^,%s]+") do
      if not PARTS[part] then error("param parts: unknown part '" .. part .. "' (derivation, xor, scaling)") end
      want[part] = true
    end
    local result = {}
    if want.derivation then
      local w = {w1 = 0.5, b1 = -0.3, w2 = 1.2, b2 = 0.1}
      result.max_closed_form_error, result.max_finite_difference_error = derivation(w, 1.5, 1)
    end
    if want.xor then result.xor_final_loss, result.xor_accuracy = train_xor(p, run) end
    if want.scaling then
      local threads = loom.threads()
      loom.threads(1)
      local ok, rows = pcall(measure_scaling, p, run)
      loom.threads(threads)
      if not ok then error(rows, 0) end
      for k, v in pairs(report_scaling(rows, run)) do result[k] = v end
    end
    return result
  end,
}
