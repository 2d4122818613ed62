-- loom.nn: neural-network modules: constructors of the native layers and losses, the
-- Sequential container, the behaviour every module shares (state_dict, load_state_dict,
-- tostring with parameter counts) and gradcheck. Not the kernels (src/core/nn.c).
local core = require "loom.core"
local loom = require "loom"
local check = require "loom.check"

local cnn = core.nn
local nn = {}

local module_mt, loss_mt = cnn.module_metatable, cnn.loss_metatable
local native = module_mt.methods

-- ---- what every module shares: written over m:parameters(), so it serves userdata,
-- ---- Lua containers and the modules of other areas alike.

local Module = {}
nn.Module = Module

-- The public name of a module's class for messages: "nn.Linear", "nn.Sequential", ...
local function class_name(m)
  local ok, c = pcall(function() return m:config() end)
  if ok and type(c) == "table" and type(c.kind) == "string" then return "nn." .. c.kind end
  if type(m) == "table" and getmetatable(m) and getmetatable(m).__name then
    return (getmetatable(m).__name:gsub("^loom%.", ""))
  end
  return "nn.Module"
end

-- m must be a module (anything with a parameters method): the shared methods are called
-- as m:method(), and a dot call (m.state_dict()) gets a message, not an index error.
local function check_module(m, method)
  if (type(m) ~= "table" and type(m) ~= "userdata") or type(m.parameters) ~= "function" then
    check.fail("nn.Module:" .. method, "expected a module (call it as m:%s()), got %s", method, check.kind(m))
  end
end

-- Number of parameter values (weights and biases, not gradients).
function Module.num_parameters(m)
  check_module(m, "num_parameters")
  local n = 0
  for _, p in ipairs(m:parameters()) do n = n + p.value:numel() end
  return n
end

-- m:state_dict() -> {name = copy of the parameter}, PyTorch's names ("0.weight").
function Module.state_dict(m)
  check_module(m, "state_dict")
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
  check_module(m, "load_state_dict")
  local fn = class_name(m) .. ":load_state_dict"
  if type(t) ~= "table" or loom.is_matrix(t) then
    check.fail(fn, "expected a table of matrices, got %s", check.kind(t))
  end
  opts = check.options(fn, opts, {strict = "boolean"})
  local strict = opts.strict ~= false
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
  if #problems > 0 then check.fail(fn, "%s", table.concat(problems, "; ")) end
  for _, p in ipairs(params) do
    if t[p.name] ~= nil then p.value:copy_(t[p.name]:to(p.value:dtype())) end -- converts, like PyTorch
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
  if (type(m) == "table" or type(m) == "userdata") and type(m.repr) == "function" then return m:repr() end
  return tostring(m)
end
nn.repr = repr

function Module.__tostring(m)
  return string.format("%s  -- %s", repr(m), count_text(Module.num_parameters(m)))
end

-- ---- native layers ----

local function py_bool(b) return b and "True" or "False" end

function native.repr(m)
  if getmetatable(m) ~= module_mt then
    check.fail("nn.Module:repr", "expected a module (call it as m:repr()), got %s", check.kind(m))
  end
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

-- nn.Linear(in, out [, {bias = true}])
function nn.Linear(in_features, out_features, opts)
  local fn = "nn.Linear"
  check.integer(fn, "in_features", in_features, 1)
  check.integer(fn, "out_features", out_features, 1)
  opts = check.options(fn, opts, {bias = "boolean"})
  return check.call("nn.Linear", cnn.linear, in_features, out_features, opts.bias ~= false)
end

function nn.Sigmoid() return cnn.sigmoid() end
function nn.Tanh() return cnn.tanh() end
function nn.ReLU() return cnn.relu() end
-- Softmax and LogSoftmax work along each row (PyTorch's dim = -1 for B x C input).
function nn.Softmax() return cnn.softmax() end
function nn.LogSoftmax() return cnn.log_softmax() end
-- nn.Dropout(p = 0.5): zeroes with probability p and scales by 1/(1-p) in training mode,
-- the identity in eval mode. Masks come from the seeded generator.
function nn.Dropout(p)
  if p ~= nil then check.number("nn.Dropout", "p", p) end
  return check.call("nn.Dropout", cnn.dropout, p)
end
-- nn.Embedding(vocab, dim [, {padding_idx = id}]): ids are 1-based.
function nn.Embedding(vocab, dim, opts)
  local fn = "nn.Embedding"
  check.integer(fn, "vocab", vocab, 1)
  check.integer(fn, "dim", dim, 1)
  opts = check.options(fn, opts, {padding_idx = "integer"})
  return check.call("nn.Embedding", cnn.embedding, vocab, dim, opts.padding_idx)
end

-- ---- losses ----

function loss_mt.__index.repr(c)
  if getmetatable(c) ~= loss_mt then
    check.fail("nn.Loss:repr", "expected a loss (call it as loss:repr()), got %s", check.kind(c))
  end
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
    local fn = "nn." .. kind
    opts = check.options(fn, opts, {reduction = "string", ignore_index = "number"})
    if opts.ignore_index ~= nil and not allow_ignore then
      check.fail(fn, "ignore_index is only for CrossEntropyLoss")
    end
    local reduction = opts.reduction or "mean"
    if reduction ~= "mean" and reduction ~= "sum" then
      check.fail(fn, "reduction must be \"mean\" or \"sum\", got %s", tostring(reduction))
    end
    return check.call(fn, cnn.loss, kind, reduction, opts.ignore_index)
  end
end

nn.MSELoss = loss_ctor("MSELoss")
nn.BCELoss = loss_ctor("BCELoss")
nn.BCEWithLogitsLoss = loss_ctor("BCEWithLogitsLoss")
nn.CrossEntropyLoss = loss_ctor("CrossEntropyLoss", true)

function nn.is_loss(x) return getmetatable(x) == loss_mt end
function nn.is_native(x) return getmetatable(x) == module_mt end

-- ---- Sequential: a Lua table holding its modules at 1..n ----

local function is_module(m)
  return (type(m) == "table" or type(m) == "userdata") and type(m.forward) == "function"
end

local Sequential = {__name = "nn.Sequential"}
Sequential.__index = Sequential
Sequential.__name = "loom.nn.Sequential" -- help(model) finds its page by this name
Sequential.__tostring = Module.__tostring
for k, f in pairs(Module) do
  if k ~= "__tostring" then Sequential[k] = f end
end

-- nn.Sequential{m1, m2, ...}: forward runs them in order; backward in reverse, each module
-- getting the input it saw in the last forward call.
function nn.Sequential(list)
  if list ~= nil and (type(list) ~= "table" or loom.is_matrix(list)) then
    check.fail("nn.Sequential", "expected a list of modules")
  end
  local self = setmetatable({training = true, _inputs = {}}, Sequential)
  for i, m in ipairs(list or {}) do
    if not is_module(m) then check.fail("nn.Sequential", "item %d is not a module (it has no forward method)", i) end
    self[i] = m
  end
  return self
end

local function check_sequential(self, method)
  if getmetatable(self) ~= Sequential then
    check.fail("nn.Sequential:" .. method, "expected a Sequential (call it as seq:%s()), got %s", method,
      check.kind(self))
  end
end

-- seq:add(module) -> seq: append a module.
function Sequential:add(m)
  check_sequential(self, "add")
  if not is_module(m) then
    check.fail("nn.Sequential:add", "expected a module (with a forward method), got %s", check.kind(m))
  end
  self[#self + 1] = m
  return self
end

local function forward(self, x)
  local inputs = self._inputs
  for i = 1, #self do
    inputs[i] = x
    x = self[i]:forward(x)
  end
  return x
end

-- A child's error (a wrong input shape) is raised at the caller's line, named by the
-- Sequential's method and then the child's.
function Sequential:forward(x)
  check_sequential(self, "forward")
  check.matrix("nn.Sequential:forward", "input", x)
  return check.call("nn.Sequential:forward", forward, self, x)
end

local function backward(self, x, dy, need_input_grad)
  local inputs = self._inputs
  for i = #self, 2, -1 do dy = self[i]:backward(inputs[i], dy) end
  if #self >= 1 then dy = self[1]:backward(x, dy, need_input_grad) end
  return dy
end

-- seq:backward(x, dy [, need_input_grad = true]) -> dx (nil when need_input_grad is false:
-- the first module then skips the input's gradient, as PyTorch does for inputs that do
-- not require grad).
function Sequential:backward(x, dy, need_input_grad)
  local fn = "nn.Sequential:backward"
  check_sequential(self, "backward")
  if #self._inputs < #self then check.fail(fn, "call forward first") end
  check.matrix(fn, "input", x)
  check.matrix(fn, "dy", dy)
  return check.call(fn, backward, self, x, dy, need_input_grad)
end

-- Parameters of the children named "<index from 0>.<name>", as PyTorch names them.
function Sequential:parameters()
  check_sequential(self, "parameters")
  local list = {}
  for i = 1, #self do
    for _, p in ipairs(self[i]:parameters()) do
      list[#list + 1] = {name = (i - 1) .. "." .. p.name, value = p.value, grad = p.grad}
    end
  end
  return list
end

function Sequential:zero_grad()
  check_sequential(self, "zero_grad")
  for i = 1, #self do self[i]:zero_grad() end
  return self
end

-- seq:to(dtype) -> seq: every child converted (m:to on each; see the native layers' to).
function Sequential:to(dtype)
  check_sequential(self, "to")
  if dtype ~= "float32" and dtype ~= "float64" then
    check.fail("nn.Sequential:to", "dtype must be \"float32\" or \"float64\", got %s",
      type(dtype) == "string" and ("\"" .. dtype .. "\"") or check.kind(dtype))
  end
  for i = 1, #self do
    if type(self[i].to) ~= "function" then check.fail("nn.Sequential:to", "item %d has no to method", i) end
    check.call("nn.Sequential:to", self[i].to, self[i], dtype)
  end
  return self
end

function Sequential:train(mode)
  check_sequential(self, "train")
  self.training = mode == nil or not not mode
  for i = 1, #self do self[i]:train(self.training) end
  return self
end

function Sequential:eval()
  check_sequential(self, "eval")
  return self:train(false)
end

function Sequential:is_training()
  check_sequential(self, "is_training")
  return self.training
end

function Sequential:repr()
  check_sequential(self, "repr")
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
    if not opts.target then check.fail("nn.gradcheck", "checking a loss needs opts.target") end
    return {value = function() return target:forward(x, opts.target) end,
      analytic = function() return target:backward(x, opts.target) end, params = {}}
  end
  if (type(target) ~= "table" and type(target) ~= "userdata") or type(target.forward) ~= "function" then
    check.fail("nn.gradcheck", "expected a module, a loss or a function")
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
local function gradcheck(target, x, opts)
  check.matrix("nn.gradcheck", "input", x)
  opts = check.options("nn.gradcheck", opts, {eps = "number", floor = "number", target = "matrix"})
  -- finite differences need double: a float32 step of 1e-6 is below the values' resolution
  local function refuse(what)
    check.fail("nn.gradcheck", "%s is float32; gradients are checked in float64 (convert with :to(\"float64\"))", what)
  end
  if x:dtype() == "float32" then refuse("the input") end
  if (type(target) == "table" or type(target) == "userdata") and type(target.parameters) == "function" then
    for _, p in ipairs(target:parameters()) do
      if p.value:dtype() == "float32" then refuse("parameter " .. p.name) end
    end
  end
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

-- Errors of the module's own methods (a wrong input shape) name gradcheck too.
function nn.gradcheck(target, x, opts) return check.call("nn.gradcheck", gradcheck, target, x, opts) end

require("loom.nn.recurrent")(nn)
require("loom.nn.attention")(nn)
require("loom.nn.conv")(nn)

return nn
