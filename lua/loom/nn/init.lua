-- loom.nn: neural-network modules: constructors of the native layers and losses, the
-- Sequential container, the behaviour every module shares (state_dict, load_state_dict,
-- tostring with parameter counts) and gradcheck. Not the kernels (src/core/nn.c).
local core = require "loom.core"
local loom = require "loom"

local cnn = core.nn
local nn = {}

local module_mt, loss_mt = cnn.module_metatable, cnn.loss_metatable
local native = module_mt.methods

-- ---- what every module shares: written over m:parameters(), so it serves userdata,
-- ---- Lua containers and the modules of other areas alike.

local Module = {}
nn.Module = Module

-- Number of parameter values (weights and biases, not gradients).
function Module.num_parameters(m)
  local n = 0
  for _, p in ipairs(m:parameters()) do n = n + p.value:numel() end
  return n
end

-- m:state_dict() -> {name = copy of the parameter}, PyTorch's names ("0.weight").
function Module.state_dict(m)
  local t = {}
  for _, p in ipairs(m:parameters()) do t[p.name] = p.value:copy() end
  return t
end

-- The keys of a table as sorted strings (keys of any type, so errors can list them).
local function sorted_keys(set)
  local keys = {}
  for k in pairs(set) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  return keys
end

-- m:load_state_dict(t [, {strict = true}]) -> missing, unexpected (lists of names).
-- Shape mismatches are always errors; with strict, missing and unexpected names too. The
-- error lists every problem at once; nothing is copied unless the whole load is valid.
function Module.load_state_dict(m, t, opts)
  if type(t) ~= "table" then error("load_state_dict: expected a table of matrices", 2) end
  local strict = not (opts and opts.strict == false)
  local params, seen = m:parameters(), {}
  local missing, unexpected, mismatched = {}, {}, {}
  for _, p in ipairs(params) do
    seen[p.name] = true
    local v = t[p.name]
    if v == nil then
      missing[#missing + 1] = p.name
    elseif not loom.is_matrix(v) then
      mismatched[#mismatched + 1] = string.format("%s (a %s, not a matrix)", p.name, type(v))
    else
      local r, c = p.value:shape()
      local vr, vc = v:shape()
      if r ~= vr or c ~= vc then
        mismatched[#mismatched + 1] = string.format("%s (model %dx%d, given %dx%d)", p.name, r, c, vr, vc)
      end
    end
  end
  for _, k in ipairs(sorted_keys(t)) do
    if not seen[k] then unexpected[#unexpected + 1] = k end
  end
  local problems = {}
  if strict and #missing > 0 then problems[#problems + 1] = "missing keys: " .. table.concat(missing, ", ") end
  if strict and #unexpected > 0 then
    problems[#problems + 1] = "unexpected keys: " .. table.concat(unexpected, ", ")
  end
  if #mismatched > 0 then problems[#problems + 1] = "shape mismatch: " .. table.concat(mismatched, ", ") end
  if #problems > 0 then error("load_state_dict: " .. table.concat(problems, "; "), 2) end
  for _, p in ipairs(params) do
    if t[p.name] ~= nil then p.value:copy_(t[p.name]) end
  end
  return missing, unexpected
end

-- Integer with thousands separators: 9610 -> "9,610".
local function grouped(n)
  local s = tostring(n)
  repeat
    local k
    s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2")
  until k == 0
  return s
end


local function count_text(n)
  return grouped(n) .. (n == 1 and " parameter" or " parameters")
end

-- One module's architecture without counts (PyTorch's repr); a module may define m:repr().
local function repr(m)
  if type(m.repr) == "function" then return m:repr() end
  return tostring(m)
end
nn.repr = repr

function Module.__tostring(m)
  return string.format("%s  -- %s", repr(m), count_text(Module.num_parameters(m)))
end

-- ---- native layers ----

local function py_bool(b) return b and "True" or "False" end

function native.repr(m)
  local c = m:config()
  if c.kind == "Linear" then
    return string.format("Linear(in_features=%d, out_features=%d, bias=%s)", c.in_features,
      c.out_features, py_bool(c.bias))
  elseif c.kind == "Embedding" then
    return string.format("Embedding(%d, %d%s)", c.num_embeddings, c.embedding_dim,
      c.padding_idx and (", padding_idx=" .. c.padding_idx) or "")
  elseif c.kind == "Dropout" then
    return string.format("Dropout(p=%g)", c.p)
  elseif c.kind == "Softmax" or c.kind == "LogSoftmax" then
    return c.kind .. "(dim=-1)"
  end
  return c.kind .. "()"
end

native.num_parameters = Module.num_parameters
native.state_dict = Module.state_dict
native.load_state_dict = Module.load_state_dict
module_mt.__tostring = Module.__tostring

local function check_opts(opts, fn)
  if opts ~= nil and type(opts) ~= "table" then
    error(string.format("%s: options must be a table, got %s", fn, type(opts)), 3)
  end
  return opts or {}
end

-- nn.Linear(in, out [, {bias = true}])
function nn.Linear(in_features, out_features, opts)
  opts = check_opts(opts, "nn.Linear")
  return cnn.linear(in_features, out_features, opts.bias ~= false)
end

function nn.Sigmoid() return cnn.sigmoid() end
function nn.Tanh() return cnn.tanh() end
function nn.ReLU() return cnn.relu() end
-- Softmax and LogSoftmax work along each row (PyTorch's dim = -1 for B x C input).
function nn.Softmax() return cnn.softmax() end
function nn.LogSoftmax() return cnn.log_softmax() end
-- nn.Dropout(p = 0.5): zeroes with probability p and scales by 1/(1-p) in training mode,
-- the identity in eval mode. Masks come from the seeded generator.
function nn.Dropout(p) return cnn.dropout(p) end
-- nn.Embedding(vocab, dim [, {padding_idx = id}]): ids are 1-based.
function nn.Embedding(vocab, dim, opts)
  opts = check_opts(opts, "nn.Embedding")
  return cnn.embedding(vocab, dim, opts.padding_idx)
end

-- ---- losses ----

function loss_mt.__index.repr(c)
  local cfg = c:config()
  local extra = cfg.reduction ~= "mean" and ("reduction='" .. cfg.reduction .. "'") or ""
  if cfg.ignore_index then
    extra = extra .. (extra ~= "" and ", " or "") .. "ignore_index=" .. string.format("%g", cfg.ignore_index)
  end
  return cfg.kind .. "(" .. extra .. ")"
end
loss_mt.__tostring = loss_mt.__index.repr

local function loss_ctor(kind, allow_ignore)
  return function(opts)
    opts = check_opts(opts, "nn." .. kind)
    if opts.ignore_index ~= nil and not allow_ignore then
      error("nn." .. kind .. ": ignore_index is only for CrossEntropyLoss", 2)
    end
    local reduction = opts.reduction or "mean"
    if reduction ~= "mean" and reduction ~= "sum" then
      error(string.format("nn.%s: reduction must be \"mean\" or \"sum\", got %s", kind, tostring(reduction)), 2)
    end
    return cnn.loss(kind, reduction, opts.ignore_index)
  end
end

nn.MSELoss = loss_ctor("MSELoss")
nn.BCELoss = loss_ctor("BCELoss")
nn.BCEWithLogitsLoss = loss_ctor("BCEWithLogitsLoss")
nn.CrossEntropyLoss = loss_ctor("CrossEntropyLoss", true)

function nn.is_loss(x) return getmetatable(x) == loss_mt end
function nn.is_native(x) return getmetatable(x) == module_mt end

-- ---- Sequential: a Lua table holding its modules at 1..n ----

local Sequential = {}
Sequential.__index = Sequential
Sequential.__tostring = Module.__tostring
for k, f in pairs(Module) do
  if k ~= "__tostring" then Sequential[k] = f end
end

-- nn.Sequential{m1, m2, ...}: forward runs them in order; backward in reverse, each module
-- getting the input it saw in the last forward call.
function nn.Sequential(list)
  if list ~= nil and type(list) ~= "table" then
    error("nn.Sequential: expected a list of modules", 2)
  end
  local self = setmetatable({training = true, _inputs = {}}, Sequential)
  for i, m in ipairs(list or {}) do self:add(m, i) end
  return self
end

function Sequential:add(m, position)
  position = position or #self + 1
  if (type(m) ~= "table" and type(m) ~= "userdata") or type(m.forward) ~= "function" then
    error(string.format("nn.Sequential: item %d is not a module (it has no forward method)", position), 2)
  end
  self[#self + 1] = m
  return self
end

function Sequential:forward(x)
  local inputs = self._inputs
  for i = 1, #self do
    inputs[i] = x
    x = self[i]:forward(x)
  end
  return x
end

-- seq:backward(x, dy [, need_input_grad = true]) -> dx (nil when need_input_grad is false:
-- the first module then skips the input's gradient, as PyTorch does for inputs that do
-- not require grad).
function Sequential:backward(x, dy, need_input_grad)
  local inputs = self._inputs
  if #inputs < #self then error("nn.Sequential:backward: call forward first", 2) end
  for i = #self, 2, -1 do dy = self[i]:backward(inputs[i], dy) end
  if #self >= 1 then dy = self[1]:backward(x, dy, need_input_grad) end
  return dy
end

-- Parameters of the children named "<index from 0>.<name>", as PyTorch names them.
function Sequential:parameters()
  local list = {}
  for i = 1, #self do
    for _, p in ipairs(self[i]:parameters()) do
      list[#list + 1] = {name = (i - 1) .. "." .. p.name, value = p.value, grad = p.grad}
    end
  end
  return list
end

function Sequential:zero_grad()
  for i = 1, #self do self[i]:zero_grad() end
  return self
end

function Sequential:train(mode)
  self.training = mode == nil or not not mode
  for i = 1, #self do self[i]:train(self.training) end
  return self
end

function Sequential:eval() return self:train(false) end
function Sequential:is_training() return self.training end

function Sequential:repr()
  if #self == 0 then return "Sequential()" end
  local lines = {"Sequential("}
  for i = 1, #self do
    local m = self[i]
    local text = repr(m):gsub("\n", "\n  ")
    local n = m.parameters and Module.num_parameters(m) or 0
    lines[#lines + 1] = string.format("  (%d): %s%s", i - 1, text, n > 0 and ("  -- " .. grouped(n)) or "")
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

function Sequential.__tostring(self)
  return repr(self) .. "\n" .. count_text(Module.num_parameters(self))
end

-- ---- gradcheck ----

-- A scalar objective and the analytic gradients of it, for each kind of target:
--   a loss (opts.target required):  L(x) = loss:forward(x, target)
--   a function f(x) -> value, dvalue/dx
--   a module:  L(x) = sum(forward(x) .* R) for a fixed random R, so dL/dy = R.
local function objective(target, x, opts)
  if type(target) == "function" then
    return {value = function() return (target(x)) end,
      analytic = function() local _, g = target(x); return g end, params = {}}
  end
  if nn.is_loss(target) then
    if not opts.target then error("nn.gradcheck: checking a loss needs opts.target", 3) end
    return {value = function() return target:forward(x, opts.target) end,
      analytic = function() return target:backward(x, opts.target) end, params = {}}
  end
  if type(target.forward) ~= "function" then
    error("nn.gradcheck: expected a module, a loss or a function", 3)
  end
  local y = target:forward(x)
  local R = loom.randn(y:rows(), y:cols())
  return {
    value = function() return target:forward(x):dot(R) end,
    analytic = function()
      target:zero_grad()
      target:forward(x)
      return target:backward(x, R)
    end,
    params = target.parameters and target:parameters() or {}}
end

-- nn.gradcheck(module_or_function, input [, {eps = 1e-6, target = t, floor = 1e-3}])
--   -> worst relative error, where
-- Compares analytic gradients with central differences (f(v+eps) - f(v-eps)) / 2eps for
-- every entry of the input and of every parameter. The relative error of one entry is
-- |analytic - numeric| / max(|analytic|, |numeric|, floor). `where` says which entry:
-- {kind = "input"|"parameter", name = ..., index = {i, j}, analytic = .., numeric = ..}.
-- The generator's state is restored before each evaluation (so Dropout draws the same
-- mask each time) and at the end.
function nn.gradcheck(target, x, opts)
  opts = opts or {}
  local eps, floor = opts.eps or 1e-6, opts.floor or 1e-3
  local saved = loom.rng_state()
  local obj = objective(target, x, opts)
  local start = loom.rng_state()
  local function value()
    loom.rng_state(start)
    return obj.value()
  end
  loom.rng_state(start)
  local g = obj.analytic()
  local checks = {}
  if g ~= nil then checks[1] = {kind = "input", name = "input", value = x, grad = g:copy()} end
  for _, p in ipairs(obj.params) do
    checks[#checks + 1] = {kind = "parameter", name = p.name, value = p.value, grad = p.grad:copy()}
  end
  local worst, where = 0, nil
  for _, c in ipairs(checks) do
    local v = c.value
    for i = 1, v:rows() do
      for j = 1, v:cols() do
        local orig = v:get(i, j)
        v:set(i, j, orig + eps)
        local fp = value()
        v:set(i, j, orig - eps)
        local fm = value()
        v:set(i, j, orig)
        local numeric = (fp - fm) / (2 * eps)
        local analytic = c.grad:get(i, j)
        local err = math.abs(analytic - numeric) /
          math.max(math.abs(analytic), math.abs(numeric), floor)
        if err > worst or where == nil then
          worst = math.max(worst, err)
          where = {kind = c.kind, name = c.name, index = {i, j}, analytic = analytic, numeric = numeric}
        end
      end
    end
  end
  loom.rng_state(saved)
  return worst, where
end

require("loom.nn.recurrent")(nn)
require("loom.nn.conv")(nn)

return nn
