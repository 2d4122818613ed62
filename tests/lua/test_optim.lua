-- test_optim.lua: loom.optim (SGD, Adam, AdamW, clipping, schedules, saved state) against
-- plain-Lua reference updates. Not the layers (test_nn.lua) nor mini-batches (test_data.lua).
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

-- A parameter list of one matrix with a fixed gradient sequence.
local function one_param(values)
  local v = loom.matrix(values)
  return {{name = "w", value = v, grad = loom.zeros(v:shape())}}
end

-- Reference updates in plain Lua over flat lists, written from PyTorch's documentation.
local function ref_sgd(p, g, buf, o, first)
  for k = 1, #p do
    local d = g[k] + o.weight_decay * p[k]
    if o.momentum ~= 0 then
      buf[k] = first and d or o.momentum * buf[k] + (1 - o.dampening) * d
      d = o.nesterov and d + o.momentum * buf[k] or buf[k]
    end
    p[k] = p[k] - o.lr * d
  end
end

local function ref_adam(p, g, m, v, o, t, decoupled)
  for k = 1, #p do
    local gk = g[k]
    if decoupled then p[k] = p[k] * (1 - o.lr * o.weight_decay) else gk = gk + o.weight_decay * p[k] end
    m[k] = o.betas[1] * m[k] + (1 - o.betas[1]) * gk
    v[k] = o.betas[2] * v[k] + (1 - o.betas[2]) * gk * gk
    local mhat, vhat = m[k] / (1 - o.betas[1] ^ t), v[k] / (1 - o.betas[2] ^ t)
    p[k] = p[k] - o.lr * mhat / (math.sqrt(vhat) + o.eps)
  end
end

local function gradient_at(t)
  return {math.sin(t), math.cos(2 * t), 0.5 - t / 10, 1 / t}
end

local function compare(params, ref, tol, what)
  local got = params[1].value:tolist()
  for k = 1, #ref do close(got[k], ref[k], tol, what .. " entry " .. k) end
end

test("sgd: plain, momentum, dampening, Nesterov, weight decay", function()
  local cases = {
    {lr = 0.1, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false},
    {lr = 0.05, momentum = 0.9, dampening = 0, weight_decay = 0, nesterov = false},
    {lr = 0.05, momentum = 0.9, dampening = 0.3, weight_decay = 0.01, nesterov = false},
    {lr = 0.05, momentum = 0.8, dampening = 0, weight_decay = 0.1, nesterov = true},
  }
  for ci, o in ipairs(cases) do
    local params = one_param{{1, -2}, {3, 0.5}}
    local opt = optim.sgd(params, o)
    local p, buf = params[1].value:tolist(), {0, 0, 0, 0}
    for t = 1, 6 do
      local g = gradient_at(t)
      params[1].grad:copy_(loom.matrix{{g[1], g[2]}, {g[3], g[4]}})
      opt:step()
      ref_sgd(p, g, buf, o, t == 1)
    end
    compare(params, p, 1e-14, "sgd case " .. ci)
  end
  checkerror("optim.sgd: Nesterov momentum requires a momentum and zero dampening",
    optim.sgd, one_param{{1}}, {nesterov = true})
  checkerror("optim.sgd: invalid lr -1", optim.sgd, one_param{{1}}, {lr = -1})
end)

test("adam and adamw against the textbook update", function()
  for _, decoupled in ipairs{false, true} do
    local o = {lr = 0.01, betas = {0.8, 0.99}, eps = 1e-8, weight_decay = 0.05}
    local params = one_param{{1, -2}, {3, 0.5}}
    local opt = (decoupled and optim.adamw or optim.adam)(params, o)
    local p, m, v = params[1].value:tolist(), {0, 0, 0, 0}, {0, 0, 0, 0}
    for t = 1, 8 do
      local g = gradient_at(t)
      params[1].grad:copy_(loom.matrix{{g[1], g[2]}, {g[3], g[4]}})
      opt:step()
      ref_adam(p, g, m, v, o, t, decoupled)
    end
    compare(params, p, 1e-13, decoupled and "adamw" or "adam")
    equal(opt.state[1].step, 8, "step count")
  end
  checkerror("optim.adam: betas must be two numbers in [0, 1)", optim.adam, one_param{{1}}, {betas = {1, 0.5}})
  checkerror("optim.adam: expected a module or a list of parameters, got number", optim.adam, 3)
  checkerror("optim.adam: parameter 1 is not a {name, value = matrix, grad = matrix} entry",
    optim.adam, {{value = 1}})
end)

test("adam_step: shape errors name both shapes", function()
  local core = require "loom.core"
  checkerror("optim.adam: parameter 2x2 and its gradient 2x3 differ in shape", core.nn.adam_step,
    loom.zeros(2, 2), loom.zeros(2, 3), loom.zeros(2, 2), loom.zeros(2, 2), 1, 0.1, 0.9, 0.999, 1e-8, 0, false)
  checkerror("optim.sgd: parameter 2x2 and its momentum buffer 1x1 differ in shape", core.nn.sgd_step,
    loom.zeros(2, 2), loom.zeros(2, 2), loom.zeros(1, 1), true, 0.1, 0.9, 0, 0, false)
end)

test("tostring of an optimiser shows its settings", function()
  local opt = optim.adam(nn.Linear(3, 2), {lr = 0.01})
  equal(tostring(opt), "adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0) over 2 parameters (8 values)", "adam")
  equal(tostring(optim.sgd(nn.Linear(1, 1), {lr = 0.1, momentum = 0.9})),
    "sgd(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=false) over 2 parameters (2 values)", "sgd")
end)

test("zero_grad and optimisers over a module", function()
  loom.seed(1)
  local m = nn.Sequential{nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)}
  local opt = optim.sgd(m, {lr = 0.1})
  local x, y = loom.randn(8, 3), loom.randn(8, 1)
  local loss = nn.MSELoss()
  local first, last
  for i = 1, 50 do
    opt:zero_grad()
    local out = m:forward(x)
    local d, l = loss:backward(out, y)
    m:backward(x, d)
    opt:step()
    first = first or l
    last = l
  end
  check(last < first * 0.8, "loss went down: %g -> %g", first, last)
  opt:zero_grad()
  for _, p in ipairs(m:parameters()) do equal(p.grad:norm(), 0, p.name .. " gradient zeroed") end
end)

test("clip_grad_norm scales all gradients together", function()
  local params = {{name = "a", value = loom.zeros(1, 2), grad = loom.matrix{{3, 0}}},
    {name = "b", value = loom.zeros(1, 1), grad = loom.matrix{{4}}}}
  close(optim.clip_grad_norm(params, 10), 5, 1e-15, "norm below the limit")
  equal(params[2].grad:get(1, 1), 4, "untouched below the limit")
  close(optim.clip_grad_norm(params, 1), 5, 1e-15, "norm before clipping")
  close(params[1].grad:get(1, 1), 3 / (5 + 1e-6), 1e-15, "scaled")
  close(params[1].grad:norm() ^ 2 + params[2].grad:norm() ^ 2, 1, 1e-6, "new total norm")
  checkerror("optim.clip_grad_norm: max_norm must be a number >= 0", optim.clip_grad_norm, params, -1)
end)

test("schedules: step and cosine", function()
  local opt = optim.sgd(one_param{{1}}, {lr = 1})
  local s = optim.step_lr(opt, {step_size = 2, gamma = 0.5})
  local seen = {}
  for _ = 1, 5 do seen[#seen + 1] = s:step() end
  equal(table.concat(seen, " "), "1.0 0.5 0.5 0.25 0.25", "step_lr")
  opt.lr = 0.1
  local c = optim.cosine_lr(opt, {t_max = 4, eta_min = 0.01})
  c:step(); c:step()
  close(opt.lr, 0.01 + 0.09 * 0.5, 1e-15, "cosine at half way")
  c:step(); c:step()
  close(opt.lr, 0.01, 1e-15, "cosine at t_max")
  checkerror("optim.step_lr: step_size must be an integer >= 1", optim.step_lr, opt, {step_size = 0})
end)

test("optimiser state: a table of matrices, saved and restored", function()
  local function run(opt, params, from, to)
    for t = from, to do
      local g = gradient_at(t)
      params[1].grad:copy_(loom.matrix{{g[1], g[2]}, {g[3], g[4]}})
      opt:step()
    end
  end
  local pa = one_param{{1, 2}, {3, 4}}
  local a = optim.adam(pa, {lr = 0.05})
  run(a, pa, 1, 3)
  local tensors, meta = a:state_dict()
  check(loom.is_matrix(tensors["1.exp_avg"]) and loom.is_matrix(tensors["1.step"]), "matrices")
  equal(tensors["1.step"]:get(1, 1), 3, "step saved")
  equal(meta.kind, "adam", "kind")
  equal(meta.lr, "0.05", "lr as text")
  local pb = one_param{{0, 0}, {0, 0}}
  pb[1].value:copy_(pa[1].value)
  local b = optim.adam(pb, {lr = 1})
  b:load_state_dict(tensors, meta)
  equal(b.lr, 0.05, "lr restored")
  run(a, pa, 4, 6)
  run(b, pb, 4, 6)
  check(pa[1].value:allclose(pb[1].value, 0, 0), "same trajectory after restoring")
  checkerror("adam:load_state_dict: unexpected key 2.exp_avg", b.load_state_dict, b, {["2.exp_avg"] = loom.zeros(1, 1)})
  checkerror("adam:load_state_dict: 1.exp_avg is 1x1, the parameter's state is 2x2",
    b.load_state_dict, b, {["1.exp_avg"] = loom.zeros(1, 1)})
  local s = optim.sgd(one_param{{1}}, {lr = 0.1, momentum = 0.9})
  local st = s:state_dict()
  check(loom.is_matrix(st["1.momentum_buffer"]), "sgd momentum buffer saved")
end)

test("error messages of the less common paths", function()
  local core = require "loom.core"
  checkerror("optim.sgd: momentum needs a momentum buffer", core.nn.sgd_step,
    loom.zeros(1, 1), loom.zeros(1, 1), nil, true, 0.1, 0.9, 0, 0, false)
  checkerror("optim.adam: step must be >= 1, got 0", core.nn.adam_step,
    loom.zeros(1, 1), loom.zeros(1, 1), loom.zeros(1, 1), loom.zeros(1, 1), 0, 0.1, 0.9, 0.999, 1e-8, 0, false)
  checkerror("optim.adamw: parameter 1x1 and its second moment 1x2 differ in shape", core.nn.adam_step,
    loom.zeros(1, 1), loom.zeros(1, 1), loom.zeros(1, 1), loom.zeros(1, 2), 1, 0.1, 0.9, 0.999, 1e-8, 0, true)
  local opt = optim.sgd(one_param{{1}})
  checkerror("optim.cosine_lr: t_max must be > 0", optim.cosine_lr, opt, {t_max = 0})
  checkerror("optim.step_lr: expected an optimiser", optim.step_lr, {}, {step_size = 1})
end)
