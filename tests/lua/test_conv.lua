-- test_conv.lua: nn.Conv1d, nn.MaxPool1d and nn.AvgPool1d on time-major batches: im2col +
-- gemm against the naive loops, gradcheck, PyTorch (float64) to 1e-10, lengths, names, errors;
-- float32: against the naive loops and float64 on the same values, :to, mixing errors, and
-- PyTorch float32 within float32 tolerance.
local loom = require "loom"
local nn = loom.nn
local cconv = require("loom.core").conv

-- A nested table of numbers as text, so equal() compares contents.
local function text(t)
  if type(t) ~= "table" then return string.format("%.12g", t) end
  local parts = {}
  for i = 1, #t do parts[i] = text(t[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- x (T*B x C, time-major) as PyTorch's (B, C, T), and back.
local function geometries()
  return {
    {B = 1, T = 7, C = 1, O = 1, K = 1, stride = 1, padding = 0, dilation = 1},
    {B = 3, T = 9, C = 4, O = 5, K = 3, stride = 1, padding = 1, dilation = 1},
    {B = 2, T = 11, C = 3, O = 2, K = 4, stride = 2, padding = 2, dilation = 1},
    {B = 2, T = 10, C = 2, O = 3, K = 3, stride = 3, padding = 0, dilation = 2},
  }
end

test("Conv1d forward and backward equal the naive loops on odd shapes", function()
  for _, g in ipairs(geometries()) do
    loom.seed(7)
    local conv = nn.Conv1d(g.C, g.O, g.K, {stride = g.stride, padding = g.padding, dilation = g.dilation})
    local x = loom.randn(g.T * g.B, g.C)
    local w, b = conv:parameters()[1].value, conv:parameters()[2].value
    equal(w:rows() .. "x" .. w:cols(), g.O .. "x" .. g.C * g.K, "weight is out x (in*kernel)")
    local y = conv:forward(x, {batch = g.B})
    local want = cconv.forward_naive(x, w, b, g.B, g.K, g.stride, g.padding, g.dilation)
    local steps = cconv.out_steps(g.T, g.K, g.stride, g.padding, g.dilation)
    equal(y:rows(), steps * g.B, "output rows")
    check(max_rel_diff(y, want) < 1e-12, "forward differs by %g", max_rel_diff(y, want))
    local dy = loom.randn(y:rows(), y:cols())
    conv:zero_grad()
    local dx = conv:backward(x, dy)
    local ndx, ndw, ndb = cconv.backward_naive(x, w, true, dy, g.B, g.K, g.stride, g.padding, g.dilation)
    check(max_rel_diff(dx, ndx) < 1e-12, "dx differs by %g", max_rel_diff(dx, ndx))
    local p = conv:parameters()
    check(max_rel_diff(p[1].grad, ndw) < 1e-12, "dweight differs")
    check(max_rel_diff(p[2].grad, ndb) < 1e-12, "dbias differs")
    -- gradients accumulate over calls
    conv:backward(x, dy, false)
    check(max_rel_diff(p[1].grad, 2 * ndw) < 1e-12, "dweight accumulates")
  end
end)

test("Conv1d, MaxPool1d and AvgPool1d pass gradcheck", function()
  loom.seed(3)
  local conv = nn.Conv1d(3, 4, 3, {padding = 1, stride = 2, batch = 2})
  local err, where = nn.gradcheck(conv, loom.randn(14, 3))
  check(err < 1e-6, "conv gradcheck %g at %s %s", err, where.kind, where.name)
  local mp = nn.MaxPool1d(3, {stride = 2, batch = 2})
  check(nn.gradcheck(mp, loom.randn(14, 3)) < 1e-6, "max pool gradcheck")
  local ap = nn.AvgPool1d(2, {batch = 2})
  check(nn.gradcheck(ap, loom.randn(14, 3)) < 1e-6, "avg pool gradcheck")
  local net = nn.Sequential{nn.Conv1d(3, 4, 3, {batch = 2}), nn.ReLU(), nn.MaxPool1d(2, {batch = 2})}
  check(nn.gradcheck(net, loom.randn(14, 3)) < 1e-6, "conv -> relu -> pool gradcheck")
end)

test("pooling takes the earliest maximum and averages whole windows", function()
  local x = loom.matrix{{1, 5}, {3, 5}, {2, 0}, {2, 9}} -- T = 4, B = 1
  local mp = nn.MaxPool1d(2)
  local y = mp:forward(x, {batch = 1})
  equal(text(y:totable()), text({{3, 5}, {2, 9}}), "max")
  local dx = mp:backward(x, loom.ones(2, 2))
  equal(text(dx:totable()), text({{0, 1}, {1, 0}, {1, 0}, {0, 1}}), "gradient to the first maximum")
  local ap = nn.AvgPool1d(3, {stride = 1})
  equal(text(ap:forward(x, {batch = 1}):totable()), text({{2, 10 / 3}, {7 / 3, 14 / 3}}), "average")
end)

test("lengths give each sequence's output length; padded steps do not leak into valid outputs", function()
  loom.seed(5)
  local conv = nn.Conv1d(2, 3, 3, {padding = 1})
  local a, b = loom.randn(6, 2), loom.randn(4, 2)
  local X, lengths = loom.seq.pad{a, b}
  local y, out = conv:forward(X, {lengths = lengths})
  equal(text(out), text({6, 4}), "output lengths")
  local yb = conv:forward(b, {batch = 1}):copy()
  for t = 1, 4 do
    for o = 1, 3 do close(y:get((t - 1) * 2 + 2, o), yb:get(t, o), 1e-12, "step " .. t) end
  end
  local _, pooled = nn.MaxPool1d(2):forward(y, {lengths = out})
  equal(text(pooled), text({3, 2}), "pooled lengths")
end)

test("state_dict uses PyTorch's names; weight is out x (in*kernel) in PyTorch's memory order", function()
  local conv = nn.Conv1d(2, 3, 4)
  local sd = conv:state_dict()
  equal(sd.weight:rows() .. "x" .. sd.weight:cols(), "3x8", "weight")
  equal(sd.bias:rows() .. "x" .. sd.bias:cols(), "3x1", "bias")
  local net = nn.Sequential{nn.Conv1d(2, 3, 4), nn.ReLU()}
  check(net:state_dict()["0.weight"], "0.weight")
  local other = nn.Conv1d(2, 3, 4)
  other:load_state_dict(sd)
  equal(text(other:parameters()[1].value:totable()), text(sd.weight:totable()), "loaded")
  equal(nn.Conv1d(2, 3, 4, {bias = false}):parameters()[2], nil, "no bias")
end)

test("Conv1d and pooling errors name the layer and the shapes", function()
  local conv = nn.Conv1d(3, 4, 3)
  checkerror("nn.Conv1d:forward: say how the 12 rows of x split into sequences: {batch = B} or {lengths = {...}}",
    conv.forward, conv, loom.zeros(12, 3))
  checkerror("nn.Conv1d:forward: 12 rows do not split into 5 sequences of equal length",
    conv.forward, conv, loom.zeros(12, 3), {batch = 5})
  checkerror("nn.Conv1d:forward: expected input with 3 columns (channels), got 12x2",
    conv.forward, conv, loom.zeros(12, 2), {batch = 2})
  checkerror("nn.Conv1d:forward: 2 steps are shorter than the kernel", conv.forward, conv, loom.zeros(4, 3),
    {batch = 2})
  checkerror("nn.Conv1d:forward: sequence 2 (2 steps) is shorter than the kernel", conv.forward, conv,
    loom.zeros(12, 3), {lengths = {6, 2}})
  checkerror("nn.Conv1d:forward: length 9 of sequence 1 is not in 1..6", conv.forward, conv,
    loom.zeros(12, 3), {lengths = {9, 2}})
  checkerror("nn.Conv1d: kernel_size must be an integer >= 1, got 0", nn.Conv1d, 3, 4, 0)
  checkerror("nn.Conv1d: channels, kernel_size, stride and dilation must be >= 1", nn.Conv1d, 3, 4, 3, {stride = 0})
  checkerror("nn.MaxPool1d: kernel_size must be an integer >= 1, got 0", nn.MaxPool1d, 0)
  checkerror("nn.MaxPool1d: kernel_size and stride must be >= 1", nn.MaxPool1d, 2, {stride = 0})
  checkerror("nn.Conv1d: options must be a table, got number", nn.Conv1d, 3, 4, 3, 5)
  local fresh = nn.Conv1d(3, 4, 3)
  checkerror("nn.Conv1d:backward: no forward pass on a 12x3 input to go back through", fresh.backward, fresh,
    loom.zeros(12, 3), loom.zeros(8, 4))
  conv:forward(loom.zeros(12, 3), {batch = 2})
  checkerror("nn.Conv1d:backward: expected a gradient of the output's shape 8x4, got 8x3", conv.backward, conv,
    loom.zeros(12, 3), loom.zeros(8, 3))
  equal(tostring(nn.MaxPool1d(2, {stride = 1})):match("^[^ ]+"), "MaxPool1d(kernel_size=2,", "repr")
end)

local TORCH = [==[
import sys, torch
torch.set_default_dtype(torch.float64)
vals = {}
for line in open(sys.argv[1]):
    p = line.split()
    vals[p[0]] = torch.tensor([float(v) for v in p[3:]]).reshape(int(p[1]), int(p[2]))
B, T, C, O, K, S, P, D = [int(v) for v in vals["geom"][0]]
x = vals["x"].reshape(T, B, C).permute(1, 2, 0).contiguous().requires_grad_(True)  # (B, C, T)
conv = torch.nn.Conv1d(C, O, K, stride=S, padding=P, dilation=D)
with torch.no_grad():
    conv.weight.copy_(vals["w"].reshape(O, C, K)); conv.bias.copy_(vals["b"].reshape(O))
y = conv(x)
pool = torch.nn.MaxPool1d(2)(y)
avg = torch.nn.AvgPool1d(2, stride=1)(y)
loss = (pool * vals["r"].reshape(pool.shape[2], B, O).permute(1, 2, 0)).sum() + avg.sum()
loss.backward()
def out(name, t):  # (B, X, T) -> (T*B) x X time-major
    t = t.detach().permute(2, 0, 1).reshape(-1, t.shape[1])
    print(name, t.shape[0], t.shape[1], " ".join("%.17g" % v for v in t.flatten().tolist()))
out("y", y); out("pool", pool); out("dx", x.grad)
gw = conv.weight.grad.reshape(O, C * K)
print("dw", O, C * K, " ".join("%.17g" % v for v in gw.flatten().tolist()))
print("db", O, 1, " ".join("%.17g" % v for v in conv.bias.grad.tolist()))
]==]

test("Conv1d -> MaxPool1d / AvgPool1d equal PyTorch in float64 to 1e-10", function()
  local py, why = reference_python({"torch"})
  if not py then skip(why) end
  local g = {B = 3, T = 13, C = 4, O = 5, K = 3, stride = 2, padding = 1, dilation = 2}
  loom.seed(11)
  local conv = nn.Conv1d(g.C, g.O, g.K, {stride = g.stride, padding = g.padding, dilation = g.dilation})
  local pool, avg = nn.MaxPool1d(2), nn.AvgPool1d(2, {stride = 1})
  local x = loom.randn(g.T * g.B, g.C)
  local y = conv:forward(x, {batch = g.B}):copy()
  local pooled = pool:forward(y, {batch = g.B})
  local a = avg:forward(y, {batch = g.B})
  local r = loom.randn(pooled:rows(), pooled:cols())
  local dy = pool:backward(y, r):copy() + avg:backward(y, loom.ones(a:rows(), a:cols()))
  conv:zero_grad()
  local dx = conv:backward(x, dy)
  local p = conv:parameters()
  local lines = {}
  local function put(name, m)
    local v = {}
    for _, e in ipairs(m:tolist()) do v[#v + 1] = string.format("%.17g", e) end
    lines[#lines + 1] = string.format("%s %d %d %s", name, m:rows(), m:cols(), table.concat(v, " "))
  end
  put("geom", loom.matrix{{g.B, g.T, g.C, g.O, g.K, g.stride, g.padding, g.dilation}})
  put("x", x); put("w", p[1].value); put("b", p[2].value); put("r", r)
  local base = os.tmpname()
  local fin, fpy = assert(io.open(base .. ".in", "w")), assert(io.open(base .. ".py", "w"))
  fin:write(table.concat(lines, "\n"), "\n"); fin:close()
  fpy:write(TORCH); fpy:close()
  local pipe = io.popen(string.format("%s %s.py %s.in 2>&1", py, base, base))
  local text = pipe:read("a")
  local ok = pipe:close()
  os.remove(base); os.remove(base .. ".in"); os.remove(base .. ".py")
  check(ok, "python failed:\n%s", text)
  local want = {}
  for line in text:gmatch("[^\n]+") do
    local name, rr, cc, rest = line:match("^(%S+) (%d+) (%d+) (.*)$")
    local m = loom.zeros(tonumber(rr), tonumber(cc))
    local k = 0
    for v in rest:gmatch("%S+") do
      m:set(k // m:cols() + 1, k % m:cols() + 1, tonumber(v)); k = k + 1
    end
    want[name] = m
  end
  for name, got in pairs{y = y, pool = pooled, dx = dx, dw = p[1].grad, db = p[2].grad} do
    check(want[name], "torch did not report %s", name)
    local d = max_rel_diff(got, want[name])
    check(d <= 1e-10, "%s differs from torch by %g", name, d)
  end
end)

-- ---- float32 ----

local F32 = {dtype = "float32"}
local TOL32 = 1e-5 -- a few float32 roundings of sums of ~30 terms, relative to max(1, |reference|)

test("float32 Conv1d and pools equal the naive loops (summed in double) and float64 on the same values", function()
  for _, g in ipairs(geometries()) do
    loom.seed(17)
    local c64 = nn.Conv1d(g.C, g.O, g.K, {stride = g.stride, padding = g.padding, dilation = g.dilation})
    local c32 = nn.Conv1d(g.C, g.O, g.K, {stride = g.stride, padding = g.padding, dilation = g.dilation})
    c32:load_state_dict(c64:state_dict())
    c32:to("float32")
    c64:load_state_dict(c32:state_dict()) -- the float64 layer holds the rounded weights
    equal(c32:dtype(), "float32", "converted")
    equal(c64:dtype(), "float64", "the other stays")
    local p32, p64 = c32:parameters(), c64:parameters()
    equal(p32[1].value:dtype() .. p32[1].grad:dtype() .. p32[2].value:dtype(), "float32float32float32",
      "weight, its gradient and the bias are float32")
    local x32 = loom.randn(g.T * g.B, g.C, F32)
    local x64 = x32:double()
    local y32 = c32:forward(x32, {batch = g.B})
    equal(y32:dtype(), "float32", "output dtype")
    local naive = cconv.forward_naive(x32, p32[1].value, p32[2].value, g.B, g.K, g.stride, g.padding, g.dilation)
    equal(naive:dtype(), "float32", "naive output dtype")
    check(max_rel_diff(y32, naive) < TOL32, "forward differs from the naive loops by %g", max_rel_diff(y32, naive))
    local y64 = c64:forward(x64, {batch = g.B})
    check(max_rel_diff(y32, y64) < TOL32, "forward differs from float64 by %g", max_rel_diff(y32, y64))
    local dy32 = loom.randn(y32:rows(), y32:cols(), F32)
    c32:zero_grad(); c64:zero_grad()
    local dx32 = c32:backward(x32, dy32)
    local dx64 = c64:backward(x64, dy32:double())
    local ndx, ndw, ndb = cconv.backward_naive(x32, p32[1].value, true, dy32, g.B, g.K, g.stride, g.padding,
      g.dilation)
    for name, pair in pairs{dx = {dx32, ndx, dx64}, dweight = {p32[1].grad, ndw, p64[1].grad},
      dbias = {p32[2].grad, ndb, p64[2].grad}} do
      equal(pair[1]:dtype(), "float32", name .. " dtype")
      check(max_rel_diff(pair[1], pair[2]) < TOL32, "%s differs from the naive loops by %g", name,
        max_rel_diff(pair[1], pair[2]))
      check(max_rel_diff(pair[1], pair[3]) < TOL32, "%s differs from float64 by %g", name,
        max_rel_diff(pair[1], pair[3]))
    end
    -- pools: max picks the same element (exact), average within rounding
    local mp32, mp64 = nn.MaxPool1d(2), nn.MaxPool1d(2)
    local ap32, ap64 = nn.AvgPool1d(3, {stride = 1}), nn.AvgPool1d(3, {stride = 1})
    if g.T >= 3 then
      local m32, m64 = mp32:forward(x32, {batch = g.B}), mp64:forward(x64, {batch = g.B})
      equal(m32:dtype(), "float32", "max pool keeps float32")
      equal(max_rel_diff(m32, m64), 0, "max pool is exact")
      local dm = loom.randn(m32:rows(), m32:cols(), F32)
      equal(max_rel_diff(mp32:backward(x32, dm), mp64:backward(x64, dm:double())), 0, "max pool backward is exact")
      local a32, a64 = ap32:forward(x32, {batch = g.B}), ap64:forward(x64, {batch = g.B})
      check(max_rel_diff(a32, a64) < TOL32, "avg pool forward")
      local da = loom.randn(a32:rows(), a32:cols(), F32)
      check(max_rel_diff(ap32:backward(x32, da), ap64:backward(x64, da:double())) < TOL32, "avg pool backward")
    end
  end
end)

test("float32 Conv1d: :to round-trips, mixing dtypes is an error naming both, no allocation in steady steps", function()
  loom.seed(4)
  local conv = nn.Conv1d(3, 4, 3, {padding = 1})
  local w64 = conv:parameters()[1].value:copy()
  equal(conv:to("float32"), conv, ":to returns the module")
  check(max_rel_diff(conv:parameters()[1].value:double(), w64) < 1e-7, "values rounded to float32")
  conv:to("float64")
  equal(conv:dtype(), "float64", "back to float64")
  check(max_rel_diff(conv:parameters()[1].value, w64) < 1e-7, "float64 again")
  conv:to("float32")
  checkerror("nn.Conv1d:forward: cannot mix float64 and float32", conv.forward, conv, loom.zeros(12, 3), {batch = 2})
  local x = loom.randn(12, 3, F32)
  local y = conv:forward(x, {batch = 2})
  checkerror("nn.Conv1d:backward: cannot mix float32 and float64", conv.backward, conv, x, loom.zeros(y:rows(), 4))
  checkerror('nn.Conv1d:to: dtype must be "float64" or "float32", got "half"', conv.to, conv, "half")
  equal(nn.MaxPool1d(2):to("float32"):dtype(), nil, "pools have no dtype of their own")
  local mp = nn.MaxPool1d(2)
  mp:forward(x, {batch = 2})
  checkerror("nn.MaxPool1d:backward: cannot mix float32 and float64", mp.backward, mp, x, loom.zeros(6, 3))
  -- a float32 Sequential trains with no allocation per step after the first
  local net = nn.Sequential{nn.Conv1d(3, 4, 3, {padding = 1, batch = 2}), nn.ReLU(), nn.MaxPool1d(2, {batch = 2})}
  net:to("float32")
  local dy = loom.randn(6, 4, F32)
  local function step()
    net:zero_grad()
    local out = net:forward(x)
    net:backward(x, dy)
    return out
  end
  step()
  local before = loom.alloc_stats().allocations
  for _ = 1, 3 do step() end
  equal(loom.alloc_stats().allocations - before, 0, "engine allocations in steady steps")
  equal(step():dtype(), "float32", "the network's output is float32")
  check(nn.gradcheck ~= nil, "gradcheck exists")
  checkerror_like("float32", nn.gradcheck, net, x)
end)

local TORCH32 = [==[
import sys, torch
vals = {}
for line in open(sys.argv[1]):
    p = line.split()
    vals[p[0]] = torch.tensor([float(v) for v in p[3:]], dtype=torch.float32).reshape(int(p[1]), int(p[2]))
B, T, C, O, K, S, P, D = [int(v) for v in vals["geom"][0]]
x = vals["x"].reshape(T, B, C).permute(1, 2, 0).contiguous().requires_grad_(True)  # (B, C, T)
conv = torch.nn.Conv1d(C, O, K, stride=S, padding=P, dilation=D)
with torch.no_grad():
    conv.weight.copy_(vals["w"].reshape(O, C, K)); conv.bias.copy_(vals["b"].reshape(O))
y = conv(x)
pool = torch.nn.MaxPool1d(2)(y)
avg = torch.nn.AvgPool1d(2, stride=1)(y)
loss = (pool * vals["r"].reshape(pool.shape[2], B, O).permute(1, 2, 0)).sum() + avg.sum()
loss.backward()
def out(name, t):  # (B, X, T) -> (T*B) x X time-major
    t = t.detach().permute(2, 0, 1).reshape(-1, t.shape[1])
    print(name, t.shape[0], t.shape[1], " ".join("%.9g" % v for v in t.flatten().tolist()))
out("y", y); out("pool", pool); out("dx", x.grad)
gw = conv.weight.grad.reshape(O, C * K)
print("dw", O, C * K, " ".join("%.9g" % v for v in gw.flatten().tolist()))
print("db", O, 1, " ".join("%.9g" % v for v in conv.bias.grad.tolist()))
print("dtype", 1, 1, 1 if y.dtype == torch.float32 else 0)
]==]

test("float32 Conv1d -> MaxPool1d / AvgPool1d equal PyTorch float32 within float32 tolerance", function()
  local py, why = reference_python({"torch"})
  if not py then skip(why) end
  local h = dofile(TEST_DIR .. "/torch_helpers.lua")
  local g = {B = 4, T = 21, C = 13, O = 16, K = 5, stride = 1, padding = 2, dilation = 1}
  loom.seed(12)
  local conv = nn.Conv1d(g.C, g.O, g.K, {stride = g.stride, padding = g.padding, dilation = g.dilation}):to("float32")
  local pool, avg = nn.MaxPool1d(2), nn.AvgPool1d(2, {stride = 1})
  local x = loom.randn(g.T * g.B, g.C, F32)
  local y = conv:forward(x, {batch = g.B}):copy()
  local pooled = pool:forward(y, {batch = g.B}):copy()
  local a = avg:forward(y, {batch = g.B})
  local r = loom.randn(pooled:rows(), pooled:cols(), F32)
  local dy = pool:backward(y, r):copy() + avg:backward(y, loom.ones(a:rows(), a:cols(), F32))
  conv:zero_grad()
  local dx = conv:backward(x, dy)
  local p = conv:parameters()
  local lines = {}
  h.serialize(lines, "geom", loom.matrix{{g.B, g.T, g.C, g.O, g.K, g.stride, g.padding, g.dilation}})
  h.serialize(lines, "x", x); h.serialize(lines, "w", p[1].value); h.serialize(lines, "b", p[2].value)
  h.serialize(lines, "r", r)
  local want, text = h.run(py, TORCH32, lines)
  check(want.dtype and want.dtype:get(1, 1) == 1, "torch computed in float32:\n%s", text)
  for name, got in pairs{y = y, pool = pooled, dx = dx, dw = p[1].grad, db = p[2].grad} do
    check(want[name], "torch did not report %s:\n%s", name, text)
    equal(got:dtype(), "float32", name .. " is float32")
    local d = max_rel_diff(got:double(), want[name])
    -- both sides round every product and sum to float32, in different orders
    check(d <= 2e-5, "%s differs from torch float32 by %g", name, d)
  end
end)
