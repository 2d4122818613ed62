-- test_conv.lua: nn.Conv1d, nn.MaxPool1d and nn.AvgPool1d on time-major batches: im2col +
-- gemm against the naive loops, gradcheck, PyTorch (float64) to 1e-10, lengths, names, errors.
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
