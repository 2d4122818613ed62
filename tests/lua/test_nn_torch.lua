-- test_nn_torch.lua: loom against PyTorch (float64, Debian's python3-torch): an MLP with the
-- same initial weights gives the same outputs, loss, gradients, and parameters after 3
-- optimiser steps (Adam, AdamW, SGD with Nesterov momentum) to 1e-10; losses and
-- activations agree too. Skips with the reason when torch is absent.
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

local TOL = 1e-10

-- "name rows cols v1 v2 ..." lines, row-major, 17 significant digits.
local function serialize(out, name, m)
  local vals = {}
  for _, v in ipairs(m:tolist()) do vals[#vals + 1] = string.format("%.17g", v) end
  out[#out + 1] = string.format("%s %d %d %s", name, m:rows(), m:cols(), table.concat(vals, " "))
end

local function parse(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local name, r, c, rest = line:match("^(%S+) (%d+) (%d+) ?(.*)$")
    if name then
      local vals = {}
      for v in rest:gmatch("%S+") do vals[#vals + 1] = tonumber(v) end
      local m = loom.zeros(tonumber(r), tonumber(c))
      for k, v in ipairs(vals) do m:set((k - 1) // m:cols() + 1, (k - 1) % m:cols() + 1, v) end
      t[name] = m
    end
  end
  return t
end

-- Run the Python program with the serialized inputs; parse what it prints.
local function run_torch(py, program, lines)
  local dir = os.tmpname()
  local input, script = dir .. ".in", dir .. ".py"
  local f = assert(io.open(input, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  f = assert(io.open(script, "w"))
  f:write(program)
  f:close()
  local p = assert(io.popen(string.format("%s %s %s 2>&1", py, script, input)))
  local text = p:read("a")
  local ok = p:close()
  os.remove(input); os.remove(script); os.remove(dir)
  check(ok, "python failed:\n%s", text)
  return parse(text)
end

local function agree(got, want, what)
  check(want, "torch did not report %s", what)
  equal(got:rows() .. "x" .. got:cols(), want:rows() .. "x" .. want:cols(), what .. " shape")
  local d = max_rel_diff(got, want)
  check(d <= TOL, "%s differs from torch by %.3g", what, d)
  return d
end

local PROGRAM = [==[
import sys, torch
torch.set_default_dtype(torch.float64)
def read(path):
    t = {}
    for line in open(path):
        p = line.split()
        r, c = int(p[1]), int(p[2])
        t[p[0]] = torch.tensor([float(v) for v in p[3:]]).reshape(r, c)
    return t
def emit(name, x):
    x = x.detach()
    if x.dim() == 0: x = x.reshape(1, 1)
    if x.dim() == 1: x = x.reshape(-1, 1)
    print(name, x.shape[0], x.shape[1], " ".join(repr(float(v)) for v in x.reshape(-1)))
d = read(sys.argv[1])
def model():
    m = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 6),
                            torch.nn.ReLU(), torch.nn.Linear(6, 3))
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(d[name].reshape(p.shape))
    return m
x, target = d["x"], d["target"].reshape(-1).long() - 1   # 1-based ids -> 0-based; 0 -> -1
ce = torch.nn.CrossEntropyLoss(ignore_index=-1)
m = model()
out = m(x); loss = ce(out, target); loss.backward()
emit("out", out); emit("loss", loss)
for name, p in m.named_parameters(): emit("grad." + name, p.grad)
opts = {"adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)}
for kind, make in opts.items():
    m = model(); opt = make(m.parameters())
    for step in range(3):
        opt.zero_grad(); l = ce(m(x), target); l.backward(); opt.step()
    emit(kind + ".loss", l)
    for name, p in m.named_parameters(): emit(kind + "." + name, p)
z, t01, p01 = d["z"], d["t01"], torch.sigmoid(d["z"])
emit("f.mse", torch.nn.functional.mse_loss(z, t01))
emit("f.bce", torch.nn.functional.binary_cross_entropy(p01, t01, reduction="sum"))
emit("f.bcel", torch.nn.functional.binary_cross_entropy_with_logits(z, t01))
emit("f.softmax", torch.softmax(z, 1)); emit("f.log_softmax", torch.log_softmax(z, 1))
emit("f.sigmoid", p01); emit("f.tanh", torch.tanh(z))
]==]

-- One Python run serves both tests (importing torch takes seconds on a loaded machine).
local cached
local function reference()
  if cached then return cached end
  local py, why = reference_python({"torch"})
  if not py then skip(why) end
  loom.seed(2024)
  local c = {}
  c.model = function()
    return nn.Sequential{nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3)}
  end
  c.init = c.model():state_dict()
  c.x = loom.randn(8, 5)
  c.target = loom.matrix{1, 2, 3, 3, 0, 2, 1, 3} -- 0 is ignored (padding)
  c.z, c.t01 = loom.randn(4, 3), loom.rand(4, 3):map("round")
  local lines = {}
  for name, v in pairs(c.init) do serialize(lines, name, v) end
  serialize(lines, "x", c.x); serialize(lines, "target", c.target)
  serialize(lines, "z", c.z); serialize(lines, "t01", c.t01)
  c.ref = run_torch(py, PROGRAM, lines)
  cached = c
  return c
end

test("MLP: outputs, loss, gradients and 3 optimiser steps match PyTorch float64", function()
  local c = reference()
  local ref, x, target = c.ref, c.x, c.target
  local m = c.model()
  m:load_state_dict(c.init)
  local ce = nn.CrossEntropyLoss{ignore_index = 0}
  local out = m:forward(x)
  local loss = ce:forward(out, target)
  local worst = agree(out, ref.out, "output")
  close(loss, ref.loss:get(1, 1), TOL, "loss")
  m:zero_grad()
  m:backward(x, ce:backward(out, target))
  for _, p in ipairs(m:parameters()) do
    worst = math.max(worst, agree(p.grad, ref["grad." .. p.name], "gradient of " .. p.name))
  end

  local makers = {
    adam = function(ps) return optim.adam(ps, {lr = 0.01}) end,
    adamw = function(ps) return optim.adamw(ps, {lr = 0.01, weight_decay = 0.1}) end,
    sgd = function(ps) return optim.sgd(ps, {lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01}) end,
  }
  for kind, make in pairs(makers) do
    local mk = c.model()
    mk:load_state_dict(c.init)
    local opt = make(mk)
    local l
    for _ = 1, 3 do
      opt:zero_grad()
      local o = mk:forward(x)
      local d
      d, l = ce:backward(o, target)
      mk:backward(x, d)
      opt:step()
    end
    close(l, ref[kind .. ".loss"]:get(1, 1), TOL, kind .. " loss at step 3")
    for _, p in ipairs(mk:parameters()) do
      worst = math.max(worst, agree(p.value, ref[kind .. "." .. p.name], kind .. " " .. p.name .. " after 3 steps"))
    end
  end
  print(string.format("worst relative difference from torch: %.3g", worst))
end)

test("losses and activations match PyTorch float64", function()
  local c = reference()
  local ref, z, t01 = c.ref, c.z, c.t01
  close(nn.MSELoss():forward(z, t01), ref["f.mse"]:get(1, 1), TOL, "MSELoss")
  close(nn.BCELoss{reduction = "sum"}:forward(nn.Sigmoid():forward(z), t01), ref["f.bce"]:get(1, 1), TOL, "BCELoss")
  close(nn.BCEWithLogitsLoss():forward(z, t01), ref["f.bcel"]:get(1, 1), TOL, "BCEWithLogitsLoss")
  agree(nn.Softmax():forward(z), ref["f.softmax"], "Softmax")
  agree(nn.LogSoftmax():forward(z), ref["f.log_softmax"], "LogSoftmax")
  agree(nn.Sigmoid():forward(z), ref["f.sigmoid"], "Sigmoid")
  agree(nn.Tanh():forward(z), ref["f.tanh"], "Tanh")
end)
