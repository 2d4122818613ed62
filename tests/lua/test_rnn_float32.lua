-- test_rnn_float32.lua: the fused recurrent layers in float32 (src/core/rnn.c's float twins):
-- every kind, layers, directions, lengths and dropout against the float64 layers with the
-- same (rounded) weights; m:to; mixing errors; no allocation per step; PyTorch float32.
local loom = require "loom"
local nn = loom.nn

local F = {dtype = "float32"}

local function agree(got, want, what, tol)
  equal(got:dtype(), "float32", what .. " dtype")
  local d = max_rel_diff(got:double(), want)
  check(d <= (tol or 3e-5), "%s differs from float64 by %.3g", what, d)
end

-- A float32 layer and a float64 twin holding the same rounded weights.
local function twins(make)
  local a = make()
  a:to("float32")
  local b = make()
  b:load_state_dict(a:state_dict())
  return a, b
end

local CASES = {
  {"LSTM", function() return nn.LSTM(5, 7) end},
  {"GRU", function() return nn.GRU(5, 7) end},
  {"RNN", function() return nn.RNN(5, 7) end},
  {"RNN relu", function() return nn.RNN(5, 7, {nonlinearity = "relu"}) end},
  {"LSTM 2 layers bidirectional", function() return nn.LSTM(5, 7, {layers = 2, bidirectional = true}) end},
  {"GRU 2 layers bidirectional", function() return nn.GRU(5, 7, {layers = 2, bidirectional = true}) end},
}

test("every kind agrees with float64: outputs, final states, all gradients", function()
  for _, case in ipairs(CASES) do
    loom.seed(10)
    local name = case[1]
    local a, b = twins(case[2])
    equal(a:dtype(), "float32", name .. " dtype")
    local T, B = 6, 3
    local x32 = loom.randn(T * B, 5, F)
    local x64 = x32:double()
    local opts = {lengths = {6, 4, 1}}
    local out32, h32, c32 = a:forward(x32, opts)
    local out64, h64, c64 = b:forward(x64, opts)
    agree(out32, out64, name .. " out")
    agree(h32, h64, name .. " h_T")
    if c32 then agree(c32, c64, name .. " c_T") end
    local dout32 = loom.randn(out32:rows(), out32:cols(), F)
    local dh32 = loom.randn(h32:rows(), h32:cols(), F)
    local dx32, dh0_32 = a:backward(dout32, {dh_T = dh32})
    local dx64, dh0_64 = b:backward(dout32:double(), {dh_T = dh32:double()})
    agree(dx32, dx64, name .. " dx")
    agree(dh0_32, dh0_64, name .. " dh0")
    local pa, pb = a:parameters(), b:parameters()
    for i = 1, #pa do agree(pa[i].grad, pb[i].grad, name .. " d" .. pa[i].name, 1e-4) end
    equal(a:gates():dtype(), "float32", name .. " gates")
  end
end)

test("dropout between layers draws the same masks in both dtypes", function()
  local a, b = twins(function() return nn.LSTM(4, 6, {layers = 3, dropout = 0.3}) end)
  local x32 = loom.randn(10, 4, F)
  loom.seed(3)
  local o32 = a:forward(x32, {batch = 2})
  loom.seed(3)
  local o64 = b:forward(x32:double(), {batch = 2})
  agree(o32, o64, "dropout forward")
  local d32 = a:backward(o32:copy())
  local d64 = b:backward(o32:double())
  agree(d32, d64, "dropout backward")
end)

test("mixing dtypes is an error; :to converts back exactly", function()
  local a = nn.LSTM(3, 4):to("float32")
  checkerror("nn.LSTM:forward: cannot mix float64 and float32", a.forward, a, loom.randn(4, 3), {batch = 2})
  a:forward(loom.randn(4, 3, F), {batch = 2})
  checkerror("nn.LSTM:backward: cannot mix float64 and float32", a.backward, a, loom.randn(4, 4))
  checkerror('nn.LSTM:to: dtype must be "float64" or "float32", got "x"', a.to, a, "x")
  local w = a:parameters()[1].value:copy()
  local old = a:parameters()[1].value
  a:to("float64")
  collectgarbage(); collectgarbage()
  equal(old:get(1, 1), w:get(1, 1), "a view taken before :to still reads its (old) storage")
  check(a:parameters()[1].value:allclose(w:double(), 0, 0), "back to float64 exactly")
  local cell = nn.LSTMCell(3, 4):to("float32")
  local h, c = cell:forward(loom.randn(2, 3, F))
  equal(h:dtype() .. c:dtype(), "float32float32", "cells run in float32")
end)

test("a float32 LSTM training step allocates nothing after warm-up", function()
  local m = nn.LSTM(8, 16):to("float32")
  local x = loom.randn(20 * 4, 8, F)
  local dout = loom.randn(20 * 4, 16, F)
  local opt = loom.optim.adam(m)
  local function step()
    opt:zero_grad()
    m:forward(x, {batch = 4})
    m:backward(dout)
    opt:step()
  end
  step(); step()
  collectgarbage("stop")
  local before = loom.alloc_stats()
  for _ = 1, 3 do step() end
  local after = loom.alloc_stats()
  collectgarbage("restart")
  -- forward returns fresh out/h/c matrices (as in float64); the kernels allocate nothing else
  local per_step = (after.allocations - before.allocations) / 3
  check(per_step <= 6, "%.1f engine allocations per step", per_step)
end)

test("PyTorch float32 agrees on LSTM and GRU outputs and gradients", function()
  local py, why = reference_python{"torch"}
  if not py then skip(why) end
  for _, kind in ipairs{"LSTM", "GRU"} do
    loom.seed(21)
    local m = nn[kind](4, 6):to("float32")
    local T, B = 5, 3
    local x = loom.randn(T * B, 4, F)
    local out = m:forward(x, {batch = B})
    local dout = loom.randn(T * B, 6, F)
    local dx = m:backward(dout)
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local t = m:state_dict()
    t.x, t.dout = x, dout
    loom.save(dir .. "/in.safetensors", t)
    local f = assert(io.open(dir .. "/ref.py", "w"))
    f:write(string.format([[
import sys, json, struct, torch
raw = open(sys.argv[1] + "/in.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
def get(k):
    t = head[k]; b, e = t["data_offsets"]
    return torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(t["shape"])
m = torch.nn.%s(4, 6)
with torch.no_grad():
    for name, p in m.named_parameters():
        p.copy_(get(name).reshape(p.shape))
x = get("x").reshape(%d, %d, 4).clone().requires_grad_(True)
out, _ = m(x)
out.backward(get("dout").reshape(%d, %d, 6))
with open(sys.argv[1] + "/out.txt", "w") as o:
    o.write("out " + " ".join(repr(float(v)) for v in out.detach().reshape(-1)) + "\n")
    o.write("dx " + " ".join(repr(float(v)) for v in x.grad.reshape(-1)) + "\n")
    for name, p in m.named_parameters():
        o.write(name + " " + " ".join(repr(float(v)) for v in p.grad.reshape(-1)) + "\n")
]], kind, T, B, T, B))
    f:close()
    local ok = os.execute(py .. " " .. dir .. "/ref.py " .. dir .. " > " .. dir .. "/log 2>&1")
    if not ok then error("torch failed: " .. io.open(dir .. "/log"):read("a")) end
    local ref = {}
    for line in io.lines(dir .. "/out.txt") do
      local name, rest = line:match("^(%S+) (.*)$")
      local vals = {}
      for v in rest:gmatch("%S+") do vals[#vals + 1] = tonumber(v) end
      ref[name] = vals
    end
    os.execute("rm -r " .. dir)
    local function same(got, want, what)
      local g = got:tolist()
      equal(#g, #want, what .. " size")
      for k = 1, #g do close(g[k], want[k], 2e-5, what) end
    end
    same(out, ref.out, kind .. " out")
    same(dx, ref.dx, kind .. " dx")
    for _, p in ipairs(m:parameters()) do same(p.grad, ref[p.name], kind .. " grad " .. p.name) end
  end
end)

test("loom.seq pads and places gradients in the sequences' dtype", function()
  local a, b = loom.randn(3, 2, F), loom.randn(5, 2, F)
  local X, lengths = loom.seq.pad{a, b}
  equal(X:dtype(), "float32", "padded batch")
  equal(X:get(3, 2), a:get(2, 2), "values")
  local Xb = loom.seq.batch({a, b}, {2, 1})
  equal(Xb:dtype(), "float32", "seq.batch")
  local d = loom.seq.last_backward(loom.ones(2, 2, F), lengths, 5)
  equal(d:dtype(), "float32", "last_backward")
  checkerror("matrix:copy_: cannot mix float32 and float64", loom.seq.pad, {a, loom.randn(2, 2)})
end)
