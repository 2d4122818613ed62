-- backprop.lua: backpropagation as the chain rule, with numbers. The course's two-layer scalar
-- network (z1 = w1 x + b1, a1 = sigmoid(z1), z2 = w2 a1 + b2, a2 = sigmoid(z2), binary
-- cross-entropy) is derived step by step; each gradient is shown three ways: the closed
-- form, loom's backward pass, and central finite differences. Then a small MLP learns XOR.
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

return loom.experiment{
  name = "backprop",
  description = "the chain rule step by step on the course's two-layer network, then XOR",
  params = {
    seed = 42,
    quick = {false, "the demo setting: at most 500 XOR epochs"},
    epochs = {2000, "XOR training epochs (full batch)"},
    lr = {0.1, "Adam's learning rate for XOR"},
    hidden = {4, "tanh units in the XOR network's hidden layer"},
  },
  run = function(p, run)
    if p.quick then p.epochs = math.min(p.epochs, 500) end
    local w = {w1 = 0.5, b1 = -0.3, w2 = 1.2, b2 = 0.1}
    local worst_cf, worst_fd = derivation(w, 1.5, 1)
    local final_loss, accuracy = train_xor(p, run)
    return {max_closed_form_error = worst_cf, max_finite_difference_error = worst_fd,
      xor_final_loss = final_loss, xor_accuracy = accuracy}
  end,
}
