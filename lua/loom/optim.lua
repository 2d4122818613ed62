-- loom.optim: optimisers (SGD with momentum/Nesterov/weight decay, Adam, AdamW), gradient
-- clipping and learning-rate schedules. The updates run in C, one call per parameter, with
-- state in matrices allocated once. Not the modules (loom.nn).
local core = require "loom.core"
local loom = require "loom"
local check = require "loom.check"

local adam_step, sgd_step = core.nn.adam_step, core.nn.sgd_step
local optim = {}

-- A list of {name, value, grad} from a module (anything with :parameters()) or a list.
local function param_list(params, fn)
  if (type(params) == "userdata" or type(params) == "table") and type(params.parameters) == "function" then
    params = params:parameters()
  end
  if type(params) ~= "table" or loom.is_matrix(params) then
    check.fail(fn, "expected a module or a list of parameters, got %s", check.kind(params))
  end
  local list = {}
  for i, p in ipairs(params) do
    if type(p) ~= "table" or not loom.is_matrix(p.value) or not loom.is_matrix(p.grad) then
      check.fail(fn, "parameter %d is not a {name, value = matrix, grad = matrix} entry", i)
    end
    list[i] = {name = p.name or tostring(i), value = p.value, grad = p.grad}
  end
  return list
end

local function number_opt(opts, key, default, fn, valid)
  local v = opts[key]
  if v == nil then v = default end
  if valid and not valid(v) then check.fail(fn, "invalid %s %s", key, tostring(v)) end
  return v
end

local function nonneg(v) return v >= 0 end

local Optimizer = {}
Optimizer.__index = Optimizer
optim.Optimizer = Optimizer

-- A method called with a dot (opt.step()) or on something else.
local function check_self(self, method)
  if type(self) ~= "table" or type(self.params) ~= "table" or type(self.kind) ~= "string" then
    check.fail("optim.Optimizer:" .. method, "expected an optimiser (call it as opt:%s()), got %s",
      method, check.kind(self))
  end
end

-- "adam(lr=0.001, beta1=0.9, ...) over 4 parameters (9610 values)"
function Optimizer.__tostring(self)
  local hyper, values = {}, 0
  for _, k in ipairs(self.hyper) do hyper[#hyper + 1] = k .. "=" .. tostring(self[k]) end
  for _, p in ipairs(self.params) do values = values + p.value:numel() end
  return string.format("%s(%s) over %d parameters (%d values)", self.kind, table.concat(hyper, ", "),
    #self.params, values)
end

-- Zero every parameter's gradient.
function Optimizer:zero_grad()
  check_self(self, "zero_grad")
  local params = self.params
  for i = 1, #params do params[i].grad:zero_() end
end

-- The state as a flat table of matrices, ready for loom.save: "<i>.<buffer>" for each
-- parameter i (1-based) and "<i>.step" as a 1x1 matrix; the hyperparameters come second,
-- as strings (safetensors metadata).
function Optimizer:state_dict()
  check_self(self, "state_dict")
  local tensors, meta = {}, {kind = self.kind}
  for i, s in ipairs(self.state) do
    for k, v in pairs(s) do
      if loom.is_matrix(v) then
        tensors[i .. "." .. k] = v:copy()
      else
        tensors[i .. "." .. k] = loom.matrix{{v}}
      end
    end
  end
  for _, k in ipairs(self.hyper) do meta[k] = tostring(self[k]) end
  return tensors, meta
end

-- Restore what state_dict gave (the hyperparameters too when meta is given).
function Optimizer:load_state_dict(tensors, meta)
  check_self(self, "load_state_dict")
  local fn = self.kind .. ":load_state_dict"
  check.table(fn, "the state (argument 1)", tensors)
  if meta ~= nil then check.table(fn, "the metadata (argument 2)", meta) end
  -- Check every entry before changing any: a bad state leaves the optimiser as it was.
  for key, v in pairs(tensors) do
    local i, k = tostring(key):match("^(%d+)%.([%w_]+)$")
    local s = i and self.state[tonumber(i)]
    if not s or s[k] == nil then check.fail(fn, "unexpected key %s", tostring(key)) end
    if not loom.is_matrix(v) then check.fail(fn, "%s must be a matrix, got %s", key, check.kind(v)) end
    local r, c = 1, 1
    if loom.is_matrix(s[k]) then r, c = s[k]:shape() end
    local vr, vc = v:shape()
    if r ~= vr or c ~= vc then
      check.fail(fn, "%s is %dx%d, the parameter's state is %dx%d", key, vr, vc, r, c)
    end
  end
  for key, v in pairs(tensors) do
    local i, k = tostring(key):match("^(%d+)%.([%w_]+)$")
    local s = self.state[tonumber(i)]
    if loom.is_matrix(s[k]) then
      s[k]:copy_(v:to(s[k]:dtype()))
    else
      s[k] = math.tointeger(v:get(1, 1)) or v:get(1, 1)
    end
  end
  if meta then
    for _, k in ipairs(self.hyper) do
      if meta[k] ~= nil then
        local v = meta[k]
        if type(self[k]) == "number" then
          v = tonumber(v) or check.fail(fn, "metadata %s must be a number, got %s", k, check.shown(meta[k]))
        elseif type(self[k]) == "boolean" then v = (v == true or v == "true") end
        self[k] = v
      end
    end
  end
end

-- ---- SGD ----

local SGD = setmetatable({}, {__index = Optimizer})
SGD.__index = SGD
SGD.__tostring = Optimizer.__tostring

-- optim.sgd(params, {lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false})
function optim.sgd(params, opts)
  local fn = "optim.sgd"
  opts = check.options(fn, opts, {lr = "number", momentum = "number", dampening = "number",
    weight_decay = "number", nesterov = "boolean"})
  local self = setmetatable({kind = "sgd", params = param_list(params, fn), state = {},
    hyper = {"lr", "momentum", "dampening", "weight_decay", "nesterov"}}, SGD)
  self.lr = number_opt(opts, "lr", 0.01, fn, nonneg)
  self.momentum = number_opt(opts, "momentum", 0, fn, nonneg)
  self.dampening = number_opt(opts, "dampening", 0, fn)
  self.weight_decay = number_opt(opts, "weight_decay", 0, fn, nonneg)
  self.nesterov = opts.nesterov == true
  if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
    check.fail(fn, "Nesterov momentum requires a momentum and zero dampening")
  end
  for i, p in ipairs(self.params) do
    local s = {step = 0}
    if self.momentum ~= 0 then
      local r, c = p.value:shape()
      s.momentum_buffer = loom.zeros(r, c, {dtype = p.value:dtype()})
    end
    self.state[i] = s
  end
  return self
end

function SGD:step()
  check_self(self, "step")
  local params, state = self.params, self.state
  local lr, mom, damp, wd, nesterov = self.lr, self.momentum, self.dampening, self.weight_decay, self.nesterov
  for i = 1, #params do
    local p, s = params[i], state[i]
    s.step = s.step + 1
    sgd_step(p.value, p.grad, mom ~= 0 and s.momentum_buffer or nil, s.step == 1, lr, mom, damp, wd, nesterov)
  end
end

-- ---- Adam and AdamW ----

local Adam = setmetatable({}, {__index = Optimizer})
Adam.__index = Adam
Adam.__tostring = Optimizer.__tostring

local function adam(params, opts, decoupled)
  local fn = decoupled and "optim.adamw" or "optim.adam"
  opts = check.options(fn, opts, {lr = "number", betas = "table", eps = "number", weight_decay = "number"})
  local betas = opts.betas or {0.9, 0.999}
  if type(betas[1]) ~= "number" or type(betas[2]) ~= "number"
      or betas[1] < 0 or betas[1] >= 1 or betas[2] < 0 or betas[2] >= 1 then
    check.fail(fn, "betas must be two numbers in [0, 1)")
  end
  local self = setmetatable({kind = decoupled and "adamw" or "adam", params = param_list(params, fn),
    state = {}, decoupled = decoupled,
    hyper = {"lr", "beta1", "beta2", "eps", "weight_decay"}}, Adam)
  self.lr = number_opt(opts, "lr", 1e-3, fn, nonneg)
  self.beta1, self.beta2 = betas[1], betas[2]
  self.eps = number_opt(opts, "eps", 1e-8, fn, nonneg)
  self.weight_decay = number_opt(opts, "weight_decay", decoupled and 1e-2 or 0, fn, nonneg)
  for i, p in ipairs(self.params) do
    local r, c = p.value:shape()
    local like = {dtype = p.value:dtype()} -- state in the parameter's dtype
    self.state[i] = {step = 0, exp_avg = loom.zeros(r, c, like), exp_avg_sq = loom.zeros(r, c, like)}
  end
  return self
end

-- optim.adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0})
function optim.adam(params, opts) return adam(params, opts, false) end
-- optim.adamw(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2})
function optim.adamw(params, opts) return adam(params, opts, true) end

function Adam:step()
  check_self(self, "step")
  local params, state = self.params, self.state
  local lr, b1, b2, eps, wd, dec = self.lr, self.beta1, self.beta2, self.eps, self.weight_decay, self.decoupled
  for i = 1, #params do
    local p, s = params[i], state[i]
    local step = s.step + 1
    s.step = step
    adam_step(p.value, p.grad, s.exp_avg, s.exp_avg_sq, step, lr, b1, b2, eps, wd, dec)
  end
end

-- ---- clipping ----

-- optim.clip_grad_norm(params, max_norm) -> total norm (2-norm of all gradients together,
-- before clipping). Gradients are scaled by max_norm / (total + 1e-6) when that is < 1.
function optim.clip_grad_norm(params, max_norm)
  local list = param_list(params, "optim.clip_grad_norm")
  if type(max_norm) ~= "number" or not (max_norm >= 0) then
    check.fail("optim.clip_grad_norm", "max_norm must be a number >= 0")
  end
  local sq = 0
  for i = 1, #list do sq = sq + list[i].grad:norm() ^ 2 end
  local total = math.sqrt(sq)
  local coef = max_norm / (total + 1e-6)
  if coef < 1 then
    for i = 1, #list do list[i].grad:mul_(coef) end
  end
  return total
end

-- ---- learning-rate schedules: sched:step() once per epoch sets opt.lr ----

local Schedule = {}
Schedule.__index = Schedule

local function schedule(opt, lr_at, fn)
  if type(opt) ~= "table" or type(opt.lr) ~= "number" then check.fail(fn, "expected an optimiser") end
  return setmetatable({opt = opt, base_lr = opt.lr, last_epoch = 0, lr_at = lr_at}, Schedule)
end

local function check_schedule(self, method)
  if type(self) ~= "table" or getmetatable(self) ~= Schedule then
    check.fail("optim.Schedule:" .. method, "expected a schedule (call it as sched:%s()), got %s",
      method, check.kind(self))
  end
end

function Schedule:step()
  check_schedule(self, "step")
  self.last_epoch = self.last_epoch + 1
  self.opt.lr = self.lr_at(self.last_epoch)
  return self.opt.lr
end

function Schedule:get_lr()
  check_schedule(self, "get_lr")
  return self.opt.lr
end

-- optim.step_lr(opt, {step_size = n, gamma = 0.1}): lr = base * gamma^floor(epoch / n)
function optim.step_lr(opt, opts)
  local fn = "optim.step_lr"
  opts = check.options(fn, opts, {step_size = "number", gamma = "number"})
  local n, gamma = opts.step_size, opts.gamma or 0.1
  if math.type(n) ~= "integer" or n < 1 then check.fail(fn, "step_size must be an integer >= 1") end
  local sched
  sched = schedule(opt, function(epoch) return sched.base_lr * gamma ^ (epoch // n) end, "optim.step_lr")
  return sched
end

-- optim.cosine_lr(opt, {t_max = n, eta_min = 0}):
-- lr = eta_min + (base - eta_min) (1 + cos(pi epoch / t_max)) / 2
function optim.cosine_lr(opt, opts)
  local fn = "optim.cosine_lr"
  opts = check.options(fn, opts, {t_max = "number", eta_min = "number"})
  local t_max, eta_min = opts.t_max, opts.eta_min or 0
  if type(t_max) ~= "number" or t_max <= 0 then check.fail(fn, "t_max must be > 0") end
  local sched
  sched = schedule(opt, function(epoch)
    return eta_min + (sched.base_lr - eta_min) * (1 + math.cos(math.pi * epoch / t_max)) / 2
  end, "optim.cosine_lr")
  return sched
end

return optim
