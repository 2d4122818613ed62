-- test_nn_float32.lua: nn in float32 (src/core/nn.c's float32 paths, src/bind/nn.c, optim):
-- every layer, loss and optimiser against the same computation in float64 (which
-- test_nn.lua checks against naive references and gradcheck), module:to, the mixing errors,
-- no allocation per step, and one MLP training step against PyTorch float32.
local loom = require "loom"
local nn, optim = loom.nn, loom.optim

local F = {dtype = "float32"}
local TOL = 2e-6 -- a few float32 roundings, relative to max(1, |reference|)

local function agree(got, want, what, tol)
  equal(got:dtype(), "float32", what .. " dtype")
  local d = max_rel_diff(got:double(), want)
  check(d <= (tol or TOL), "%s differs from float64 by %.3g", what, d)
end

-- A float64 input and its float32 copy holding the same (rounded) values, so both dtypes
-- compute from identical data.
local function pair(r, c, scale)
  local x32 = loom.randn(r, c, F) * (scale or 1)
  return x32, x32:double()
end

test("layers without parameters run in either dtype", function()
  loom.seed(1)
  local x32, x64 = pair(6, 9, 2)
  local dy32, dy64 = pair(6, 9)
  for _, make in ipairs{nn.Sigmoid, nn.Tanh, nn.ReLU, nn.Softmax, nn.LogSoftmax} do
    local a, b = make(), make()
    local name = a:config().kind
    agree(a:forward(x32), b:forward(x64), name .. " forward")
    agree(a:backward(x32, dy32), b:backward(x64, dy64), name .. " backward")
    -- the same layer object takes the other dtype next
    equal(a:forward(x64):dtype(), "float64", name .. " then float64")
    check(a:dtype() == nil, "no parameters, no dtype")
  end
  loom.seed(5)
  local d32 = nn.Dropout(0.4):forward(x32):copy()
  loom.seed(5)
  local d64 = nn.Dropout(0.4):forward(x64)
  agree(d32, d64, "dropout with the same seed drops the same units")
end)

test("Linear and Embedding converted with :to agree with float64", function()
  loom.seed(2)
  local a, b = nn.Linear(9, 4), nn.Linear(9, 4)
  a:to("float32")
  equal(a:dtype(), "float32", "converted")
  equal(a:parameters()[1].value:dtype(), "float32", "weight dtype")
  equal(a:parameters()[2].grad:dtype(), "float32", "bias grad dtype")
  b:load_state_dict(a:state_dict()) -- b holds a's rounded weights in float64
  local x32, x64 = pair(5, 9)
  local dy32, dy64 = pair(5, 4)
  agree(a:forward(x32), b:forward(x64), "Linear forward")
  agree(a:backward(x32, dy32), b:backward(x64, dy64), "Linear dx")
  agree(a:parameters()[1].grad, b:parameters()[1].grad, "Linear dweight")
  agree(a:parameters()[2].grad, b:parameters()[2].grad, "Linear dbias")
  checkerror("nn.Linear:forward: cannot mix float64 and float32", a.forward, a, x64)
  checkerror("nn.Linear:backward: cannot mix float64 and float32", a.backward, a, x32, dy64)
  checkerror('nn.Linear:to: dtype must be "float64" or "float32", got "half"', a.to, a, "half")
  -- back to float64: exact (float32 values widen exactly)
  local w = a:parameters()[1].value:copy()
  a:to("float64")
  equal(a:parameters()[1].value:dtype(), "float64", "back to float64")
  check(a:parameters()[1].value:allclose(w:double(), 0, 0), "widening is exact")

  local e32, e64 = nn.Embedding(7, 3, {padding_idx = 2}), nn.Embedding(7, 3)
  e32:to("float32")
  e64:load_state_dict(e32:state_dict())
  local ids = loom.matrix{{1, 2, 7}, {3, 3, 1}}
  agree(e32:forward(ids), e64:forward(ids), "Embedding forward (float64 ids)")
  agree(e32:forward(ids:float()), e64:forward(ids), "Embedding forward (float32 ids)")
  local g32, g64 = pair(6, 3)
  e32:backward(ids, g32)
  e64:backward(ids, g64)
  local want = e64:parameters()[1].grad:copy()
  want:row(2):zero_() -- the padding row gets no gradient
  agree(e32:parameters()[1].grad, want, "Embedding dweight")
  checkerror("nn.Embedding:backward: cannot mix float64 and float32", e32.backward, e32, ids, g64)
end)

test("parameter views taken before :to stay readable (the old storage is kept)", function()
  local a = nn.Linear(3, 2)
  local old = a:parameters()[1].value
  local before = old:get(1, 1)
  a:to("float32")
  collectgarbage(); collectgarbage()
  equal(old:get(1, 1), before, "old view still reads its storage")
  equal(old:dtype(), "float64", "and keeps its dtype")
  a:close()
  collectgarbage()
  equal(old:get(1, 1), before, "even after the layer is closed")
end)

test("losses agree with float64 and refuse mixed predictions and targets", function()
  loom.seed(3)
  local p32, p64 = pair(8, 5)
  local t32, t64 = pair(8, 5)
  local prob32 = p32:map("sigmoid")
  local prob64 = prob32:double()
  local bin32 = loom.rand(8, 5, F):map("round")
  local bin64 = bin32:double()
  local cases = {
    {nn.MSELoss(), p32, t32, p64, t64},
    {nn.BCELoss(), prob32, bin32, prob64, bin64},
    {nn.BCEWithLogitsLoss(), p32, bin32, p64, bin64},
  }
  for _, c in ipairs(cases) do
    local loss, a32, b32, a64, b64 = c[1], c[2], c[3], c[4], c[5]
    local name = loss:config().kind
    local g32, l32 = loss:backward(a32, b32)
    local g64, l64 = loss:backward(a64, b64)
    close(l32, l64, 1e-6, name .. " value")
    agree(g32, g64, name .. " gradient")
    checkerror(string.format("nn.%s:forward: cannot mix float32 and float64", name), loss.forward, loss, a32, b64)
  end
  local ce = nn.CrossEntropyLoss()
  local ids = loom.matrix{1, 5, 2, 2, 3, 4, 5, 1}
  local g32, l32 = ce:backward(p32, ids) -- class ids may be float64 for float32 logits
  local g64, l64 = ce:backward(p64, ids)
  close(l32, l64, 1e-6, "cross-entropy value")
  agree(g32, g64, "cross-entropy gradient")
  close(ce:forward(p32, ids:float()), l64, 1e-6, "float32 class ids")
  checkerror("nn.CrossEntropyLoss:forward: target 9 at row 1 is not a class id in 1..5", ce.forward, ce,
    p32, loom.matrix({9, 1, 1, 1, 1, 1, 1, 1}, F))
end)

-- An MLP, its float64 twin with the same (rounded) weights, and data.
local function twins()
  loom.seed(4)
  local m32 = nn.Sequential{nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)}
  m32:to("float32")
  local m64 = nn.Sequential{nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)}
  m64:load_state_dict(m32:state_dict())
  local x32, x64 = pair(10, 6)
  return m32, m64, x32, x64, loom.matrix{1, 2, 3, 1, 2, 3, 3, 2, 1, 1}
end

local loss = nn.CrossEntropyLoss()
local function train_step(m, x, target, opt)
  opt:zero_grad()
  local y = m:forward(x)
  local dy, value = loss:backward(y, target)
  m:backward(x, dy, false)
  opt:step()
  return value
end

test("optimisers keep their state in the parameters' dtype and agree with float64", function()
  for _, make in ipairs{
    function(p) return optim.sgd(p, {lr = 0.1, momentum = 0.9, weight_decay = 1e-3}) end,
    function(p) return optim.sgd(p, {lr = 0.1, momentum = 0.9, nesterov = true}) end,
    function(p) return optim.adam(p, {lr = 1e-2, weight_decay = 1e-3}) end,
    function(p) return optim.adamw(p, {lr = 1e-2}) end,
  } do
    local m32, m64, x32, x64, target = twins()
    local o32, o64 = make(m32), make(m64)
    for _, s in ipairs(o32.state) do
      for k, v in pairs(s) do
        if loom.is_matrix(v) then equal(v:dtype(), "float32", o32.kind .. " state " .. k) end
      end
    end
    for _ = 1, 3 do
      close(train_step(m32, x32, target, o32), train_step(m64, x64, target, o64), 1e-5, o32.kind .. " loss")
    end
    local p32, p64 = m32:parameters(), m64:parameters()
    for i = 1, #p32 do agree(p32[i].value, p64[i].value, o32.kind .. " " .. p32[i].name, 1e-5) end
  end
  local p = nn.Linear(2, 2):to("float32"):parameters()[1]
  checkerror("optim.sgd: cannot mix float32 and float64", require("loom.core").nn.sgd_step, p.value, loom.zeros(2, 2),
    nil, true, 0.1, 0, 0, 0, false)
end)

test("a float32 training step allocates nothing after warm-up", function()
  local m32, _, x32, _, target = twins()
  local opt = optim.adam(m32)
  train_step(m32, x32, target, opt)
  train_step(m32, x32, target, opt)
  local before = loom.alloc_stats().allocations
  for _ = 1, 5 do train_step(m32, x32, target, opt) end
  equal(loom.alloc_stats().allocations - before, 0, "engine allocations in 5 steps")
end)

test("checkpoint state round-trips a float32 model and optimiser", function()
  local m32, _, x32, _, target = twins()
  local opt = optim.adam(m32)
  train_step(m32, x32, target, opt)
  local path = os.tmpname()
  loom.save(path, m32:state_dict())
  local t, _, _, dtypes = loom.load(path)
  os.remove(path)
  equal(dtypes["0.weight"], "F32", "saved as F32")
  local m2 = nn.Sequential{nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3)}:to("float32")
  m2:load_state_dict(t)
  check(m2:parameters()[1].value:allclose(m32:parameters()[1].value, 0, 0), "exact")
  local tensors, meta = opt:state_dict()
  local opt2 = optim.adam(m2)
  opt2:load_state_dict(tensors, meta)
  equal(opt2.state[1].exp_avg:dtype(), "float32", "optimiser state stays float32")
  check(opt2.state[1].exp_avg:allclose(opt.state[1].exp_avg, 0, 0), "optimiser state exact")
end)

test("PyTorch float32 agrees on an MLP training step", function()
  local py, why = reference_python{"torch"}
  if not py then skip(why) end
  local m32, _, x32, _, target = twins()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local state = m32:state_dict()
  state.x = x32
  state.target = target
  loom.save(dir .. "/in.safetensors", state)
  local opt = optim.adam(m32, {lr = 1e-2})
  local loss = train_step(m32, x32, target, opt)
  local script = dir .. "/ref.py"
  local f = assert(io.open(script, "w"))
  f:write([[
import sys, json, struct, torch
raw = open(sys.argv[1] + "/in.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
def get(k):
    t = head[k]; b, e = t["data_offsets"]
    dt = torch.float32 if t["dtype"] == "F32" else torch.float64
    return torch.frombuffer(bytearray(data[b:e]), dtype=dt).reshape(t["shape"])
torch.set_num_threads(1)
m = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5),
                        torch.nn.ReLU(), torch.nn.Linear(5, 3))
with torch.no_grad():
    for name, p in m.named_parameters():
        p.copy_(get(name).reshape(p.shape))
opt = torch.optim.Adam(m.parameters(), lr=1e-2)
x = get("x"); t = get("target").reshape(-1).long() - 1
opt.zero_grad()
loss = torch.nn.functional.cross_entropy(m(x), t)
loss.backward()
opt.step()
with open(sys.argv[1] + "/out.txt", "w") as out:
    out.write("loss %r\n" % loss.item())
    for name, p in m.named_parameters():
        out.write(name + " " + " ".join(repr(float(v)) for v in p.detach().reshape(-1)) + "\n")
]])
  f:close()
  local ok = os.execute(py .. " " .. script .. " " .. dir .. " > " .. dir .. "/log.txt 2>&1")
  if not ok then
    local log = io.open(dir .. "/log.txt"):read("a")
    error("torch reference failed: " .. log)
  end
  local ref = {}
  for line in io.lines(dir .. "/out.txt") do
    local name, rest = line:match("^(%S+) (.*)$")
    local vals = {}
    for v in rest:gmatch("%S+") do vals[#vals + 1] = tonumber(v) end
    ref[name] = vals
  end
  os.execute("rm -r " .. dir)
  close(loss, ref.loss[1], 1e-6, "loss")
  for _, p in ipairs(m32:parameters()) do
    local want = ref[p.name]
    local got = p.value:tolist()
    equal(#got, #want, p.name .. " size")
    for k = 1, #got do close(got[k], want[k], 1e-5, p.name .. " after one Adam step") end
  end
end)

test("gradcheck stays in float64", function()
  local m = nn.Linear(3, 2):to("float32")
  checkerror('nn.gradcheck: the input is float32; gradients are checked in float64 (convert with :to("float64"))',
    nn.gradcheck, nn.Tanh(), loom.randn(2, 3, F))
  checkerror('nn.gradcheck: parameter weight is float32; gradients are checked in float64 (convert with :to("float64"))',
    nn.gradcheck, m, loom.randn(2, 3))
  m:to("float64")
  check(nn.gradcheck(m, loom.randn(2, 3)) < 1e-6, "float64 gradcheck after converting back")
end)

test("data.loader batches float32 inputs in float32 (class ids keep their dtype)", function()
  local X = loom.randn(10, 3, F)
  local y = loom.matrix{1, 2, 3, 1, 2, 3, 1, 2, 3, 1}
  local n = 0
  for xb, yb, idx in loom.data.loader(X, y, 4):epoch() do
    equal(xb:dtype(), "float32", "batch dtype")
    equal(yb:dtype(), "float64", "targets dtype")
    equal(xb:get(1, 2), X:get(idx[1], 2), "batch values")
    n = n + 1
  end
  equal(n, 3, "batches")
end)

-- ---- experiments in float32 ----

local function run_experiment(script, overrides)
  local e = dofile(PROJECT_DIR .. "/scripts/experiments/" .. script)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local run = {log = function() end, progress = function() end, rewind = function() end}
  function run.artifact(_, name) return dir .. "/" .. name end
  local p = {}
  for k, v in pairs(e.params) do p[k] = type(v) == "table" and v[1] or v end
  for k, v in pairs(overrides) do p[k] = v end
  loom.seed(p.seed)
  local real_print = print
  print = function() end
  local ok, result = pcall(e.run, p, run)
  print = real_print
  check(ok, "%s failed: %s", script, tostring(result))
  return result, dir
end

test("digits trains in float32 within 0.5 points of float64 (same seed)", function()
  local r64 = run_experiment("digits.lua", {dtype = "float64"})
  local r32, dir = run_experiment("digits.lua", {dtype = "float32"})
  local _, _, _, dtypes = loom.load(dir .. "/digits_mlp.safetensors")
  os.execute("rm -r " .. dir)
  equal(dtypes["0.weight"], "F32", "the float32 model is saved as F32")
  check(r32.test_accuracy >= 0.97, "float32 test accuracy %.4f", r32.test_accuracy)
  check(math.abs(r32.test_accuracy - r64.test_accuracy) <= 0.005,
    "float32 %.4f vs float64 %.4f", r32.test_accuracy, r64.test_accuracy)
end)

test("a float32 run resumed from its checkpoint ends bit for bit where an uninterrupted one does", function()
  local whole = run_experiment("resume.lua", {dtype = "float32", steps = 40, every = 15})
  -- the same run stopped after its checkpoint at step 30, then resumed in a fresh process state
  local first, dir = run_experiment("resume.lua", {dtype = "float32", steps = 30, every = 15})
  check(first.checksum ~= whole.checksum, "the short run differs")
  local info = assert(loom.load_checkpoint(dir .. "/checkpoint.safetensors"))
  equal(info.dtype, "float32", "the checkpoint records the dtype")
  local _, _, _, dtypes = loom.load(dir .. "/checkpoint.safetensors")
  equal(dtypes["model.lstm.weight_ih_l0"], "F32", "parameters stored as F32")
  equal(dtypes["optim.1.exp_avg"], "F32", "optimiser state stored as F32")
  local e = dofile(PROJECT_DIR .. "/scripts/experiments/resume.lua")
  local run = {log = function() end, progress = function() end, rewind = function() end}
  function run.artifact(_, name) return dir .. "/" .. name end
  local p = {}
  for k, v in pairs(e.params) do p[k] = type(v) == "table" and v[1] or v end
  p.dtype, p.steps, p.every = "float32", 40, 15
  loom.seed(999) -- resume restores the generator from the checkpoint
  local real_print = print
  print = function() end
  local ok, resumed = pcall(e.run, p, run)
  print = real_print
  os.execute("rm -r " .. dir)
  check(ok, "resume failed: %s", tostring(resumed))
  equal(resumed.checksum, whole.checksum, "checksum after resume")
end)

test("agreement trains in float32 (synthetic grammar) and predicts from its float32 model", function()
  local bin = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")
  local script = PROJECT_DIR .. "/scripts/experiments/agreement.lua"
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local function run(args)
    local p = io.popen(string.format("cd '%s' && LOOM_DB='%s/runs.db' '%s' run --quiet '%s' %s 2>&1",
      dir, dir, bin, script, args))
    local out = p:read("a")
    local ok = p:close()
    return out, ok
  end
  local out, ok = run("data=synthetic quick=true max_train=800 epochs=2 hidden=16 embed=16 dtype=float32")
  check(ok, "float32 run failed:\n%s", out)
  local model_path = out:match("model%s+(%S+best%.safetensors)")
  check(model_path, "the result names the checkpoint:\n%s", out)
  local _, _, _, dtypes = loom.load(model_path)
  equal(dtypes["rnn.weight_ih_l0"], "F32", "trained weights saved as F32")
  local prefixes = dir .. "/prefixes.txt"
  local f = assert(io.open(prefixes, "w"))
  f:write("the keys to the cabinet\n")
  f:close()
  out, ok = run(string.format("predict='%s' model='%s'", prefixes, model_path))
  os.execute("rm -rf '" .. dir .. "'")
  check(ok, "predict from a float32 model failed:\n%s", out)
  check(out:find("VB[ZP]"), "a label:\n%s", out)
end)
