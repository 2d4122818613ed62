-- test_attention.lua: nn.Attention (dot, general, concat, bahdanau) against a naive Lua
-- reference, central differences for every input and parameter, and PyTorch float64
-- (skips without torch); padding masks, parameter names, errors.
local loom = require "loom"
local nn = loom.nn

local KINDS = {
  {kind = "dot", args = {4}, Hq = 4, Hk = 4},
  {kind = "general", args = {3, 4}, Hq = 3, Hk = 4},
  {kind = "concat", args = {3, 4, 5}, Hq = 3, Hk = 4},
  {kind = "bahdanau", args = {3, 4, 5}, Hq = 3, Hk = 4},
}

local function params_by_name(m)
  local t = {}
  for _, p in ipairs(m:parameters()) do t[p.name] = p.value end
  return t
end

-- The score of query row b against key row r, written from the formulas, one loop each.
local function naive_score(kind, P, q, b, K, r, Hq, Hk)
  if kind == "dot" or kind == "general" then
    local s = 0
    for j = 1, Hk do
      local qj = 0
      if kind == "general" then
        for i = 1, Hq do qj = qj + P["linear_in.weight"]:get(j, i) * q:get(b, i) end
      else
        qj = q:get(b, j)
      end
      s = s + qj * K:get(r, j)
    end
    return s
  end
  local W = kind == "concat" and P["linear.weight"] or P["query_layer.weight"]
  local v = P["v.weight"]
  local s = 0
  for a = 1, v:cols() do
    local pre = 0
    for i = 1, Hq do pre = pre + W:get(a, i) * q:get(b, i) end
    for j = 1, Hk do
      local w = kind == "concat" and W:get(a, Hq + j) or P["key_layer.weight"]:get(a, j)
      pre = pre + w * K:get(r, j)
    end
    if kind == "bahdanau" then pre = pre + P["query_layer.bias"]:get(a, 1) end
    s = s + v:get(1, a) * math.tanh(pre)
  end
  return s
end

local function naive_forward(kind, m, q, K, lengths, Hq, Hk)
  local P, B = params_by_name(m), q:rows()
  local S = K:rows() // B
  local C, A = loom.zeros(B, Hk), loom.zeros(B, S)
  for b = 1, B do
    local n = lengths and lengths[b] or S
    local sc, mx, sum = {}, -math.huge, 0
    for s = 1, n do
      sc[s] = naive_score(kind, P, q, b, K, (s - 1) * B + b, Hq, Hk)
      mx = math.max(mx, sc[s])
    end
    for s = 1, n do sc[s] = math.exp(sc[s] - mx); sum = sum + sc[s] end
    for s = 1, n do
      A:set(b, s, sc[s] / sum)
      for j = 1, Hk do C:set(b, j, C:get(b, j) + A:get(b, s) * K:get((s - 1) * B + b, j)) end
    end
  end
  return C, A
end

for _, k in ipairs(KINDS) do
  test("attention " .. k.kind .. ": forward equals the naive reference, with and without masks", function()
    loom.seed(7)
    local m = nn.Attention(k.kind, table.unpack(k.args))
    local B, S = 3, 4
    local q, K = loom.randn(B, k.Hq), loom.randn(S * B, k.Hk)
    for _, lengths in ipairs{false, {4, 1, 3}} do
      local C, A = m:forward(q, K, lengths and {lengths = lengths} or nil)
      local Cn, An = naive_forward(k.kind, m, q, K, lengths or nil, k.Hq, k.Hk)
      check(max_rel_diff(C, Cn) < 1e-13, "context differs by %g", max_rel_diff(C, Cn))
      check(max_rel_diff(A, An) < 1e-13, "weights differ by %g", max_rel_diff(A, An))
      if lengths then
        equal(A:get(2, 2), 0, "masked weight")
        equal(A:get(2, 1), 1, "one valid position takes all the weight")
      end
      for b = 1, B do close(A:row(b):sum(), 1, 1e-14, "weights sum to one") end
    end
  end)

  test("attention " .. k.kind .. ": gradients of query, keys and every parameter (central differences)", function()
    loom.seed(11)
    local m = nn.Attention(k.kind, table.unpack(k.args))
    local B, S = 2, 3
    local q, K = loom.randn(B, k.Hq), loom.randn(S * B, k.Hk)
    local lengths = {3, 2}
    local R1, R2 = loom.randn(B, k.Hk), loom.randn(B, S)
    local function f()
      local C, A = m:forward(q, K, {lengths = lengths})
      return C:dot(R1) + A:dot(R2)
    end
    m:zero_grad()
    local dq, dK = m:backward(q, K, R1, {lengths = lengths, dweights = R2})
    local checks = {{"query", q, dq:copy()}, {"keys", K, dK:copy()}}
    for _, p in ipairs(m:parameters()) do checks[#checks + 1] = {p.name, p.value, p.grad:copy()} end
    local eps, worst = 1e-6, 0
    for _, c in ipairs(checks) do
      local v, g = c[2], c[3]
      for i = 1, v:rows() do
        for j = 1, v:cols() do
          local orig = v:get(i, j)
          v:set(i, j, orig + eps); local fp = f()
          v:set(i, j, orig - eps); local fm = f()
          v:set(i, j, orig)
          local num, ana = (fp - fm) / (2 * eps), g:get(i, j)
          local err = math.abs(num - ana) / math.max(math.abs(num), math.abs(ana), 1e-3)
          check(err < 1e-6, "%s (%d,%d): analytic %g numeric %g", c[1], i, j, ana, num)
          worst = math.max(worst, err)
        end
      end
    end
    equal(dK:row(6):norm(), 0, "a masked key gets no gradient")
    check(#checks == 2 + #m:parameters(), "every parameter checked")
  end)
end

test("attention: parameter names, shapes, state_dict round trip, repr", function()
  local names = {}
  for _, k in ipairs(KINDS) do
    local m = nn.Attention(k.kind, table.unpack(k.args))
    local parts = {}
    for _, p in ipairs(m:parameters()) do
      parts[#parts + 1] = string.format("%s %dx%d", p.name, p.value:rows(), p.value:cols())
    end
    names[k.kind] = table.concat(parts, ", ")
    local m2 = nn.Attention(k.kind, table.unpack(k.args))
    m2:load_state_dict(m:state_dict())
    local q, K = loom.randn(2, k.Hq), loom.randn(4, k.Hk)
    check(m2:forward(q, K):allclose(m:forward(q, K), 0, 0), "state_dict round trip")
  end
  equal(names.dot, "", "dot has no parameters")
  equal(names.general, "linear_in.weight 4x3", "general")
  equal(names.concat, "linear.weight 5x7, v.weight 1x5", "concat")
  equal(names.bahdanau, "query_layer.weight 5x3, query_layer.bias 5x1, key_layer.weight 5x4, v.weight 1x5", "bahdanau")
  equal(tostring(nn.Attention("concat", 3, 4, 5)), "Attention('concat', 3, 4, 5)  -- 40 parameters", "repr")
end)

test("attention: outputs into given matrices, dkeys accumulates, zero_grad", function()
  local m = nn.Attention("general", 3, 3)
  local q, K = loom.randn(2, 3), loom.randn(6, 3)
  local C, A = loom.zeros(2, 3), loom.zeros(2, 3)
  local C2, A2 = m:forward(q, K, {context = C, weights = A})
  check(rawequal(C2, C) and rawequal(A2, A), "the given matrices are returned")
  local dC = loom.randn(2, 3)
  local _, dK1 = m:backward(q, K, dC)
  local acc = dK1:copy()
  m:backward(q, K, dC, {dkeys = acc})
  check(acc:allclose(dK1 * 2, 1e-14, 0), "dkeys accumulates")
  m:zero_grad()
  equal(m:parameters()[1].grad:norm(), 0, "zero_grad")
end)

test("attention: errors name the function and the shapes", function()
  checkerror("nn.Attention: kind must be one of dot, general, concat, bahdanau, got luong", nn.Attention, "luong", 3)
  checkerror("nn.Attention: dot scores need equal query and key sizes, got 3 and 4", nn.Attention, "dot", 3, 4)
  checkerror("nn.Attention: query size must be an integer >= 1, got 0", nn.Attention, "general", 0)
  checkerror("nn.Attention: key size must be an integer >= 1, got 1.5", nn.Attention, "concat", 3, 1.5)
  checkerror("nn.Attention: attention size must be an integer >= 1, got \"4\"", nn.Attention, "bahdanau", 3, 3, "4")
  checkerror("nn.Attention: kind must be one of dot, general, concat, bahdanau, got 3", nn.Attention, 3, 3)
  local m = nn.Attention("general", 3, 4)
  checkerror("nn.Attention:forward: expected a query with 3 columns, got 2x2", m.forward, m, loom.zeros(2, 2), loom.zeros(4, 4))
  checkerror("nn.Attention:forward: expected keys with 4 columns, got 4x3", m.forward, m, loom.zeros(2, 3), loom.zeros(4, 3))
  checkerror("nn.Attention:forward: keys 5x4 do not split into source steps of the query's 2x3 rows",
    m.forward, m, loom.zeros(2, 3), loom.zeros(5, 4))
  checkerror("nn.Attention:forward: 1 lengths for a batch of 2", m.forward, m, loom.zeros(2, 3), loom.zeros(4, 4), {lengths = {1}})
  checkerror("nn.Attention:forward: lengths[2] must be an integer in 0..2", m.forward, m, loom.zeros(2, 3),
    loom.zeros(4, 4), {lengths = {1, 3}})
  checkerror("nn.Attention:forward: context must be 2x4, got 2x3", m.forward, m, loom.zeros(2, 3), loom.zeros(4, 4),
    {context = loom.zeros(2, 3)})
  checkerror("nn.Attention:backward: expected a context gradient 2x4, got 2x3", m.backward, m, loom.zeros(2, 3),
    loom.zeros(4, 4), loom.zeros(2, 3))
  checkerror("nn.Attention:backward: dweights must be 2x2, got 1x2", m.backward, m, loom.zeros(2, 3),
    loom.zeros(4, 4), loom.zeros(2, 4), {dweights = loom.zeros(1, 2)})
  -- every matrix of a call has the module's dtype: float32 is refused by name, never read as doubles
  local f32 = {dtype = "float32"}
  checkerror("nn.Attention:forward: the query is float32 but the module is float64 (convert one of them with :to)",
    m.forward, m, loom.zeros(2, 3, f32), loom.zeros(4, 4))
  checkerror("nn.Attention:forward: the key matrix is float32 but the module is float64 (convert one of them with :to)",
    m.forward, m, loom.zeros(2, 3), loom.zeros(4, 4, f32))
  checkerror("nn.Attention:forward: context is float32 but the module is float64 (convert one of them with :to)",
    m.forward, m, loom.zeros(2, 3), loom.zeros(4, 4), {context = loom.zeros(2, 4, f32)})
  m:to("float32")
  checkerror("nn.Attention:backward: the context gradient is float64 but the module is float32 (convert one of them with :to)",
    m.backward, m, loom.zeros(2, 3, f32), loom.zeros(4, 4, f32), loom.zeros(2, 4))
  checkerror('nn.Attention:to: dtype must be "float64" or "float32", got "float16"', m.to, m, "float16")
end)

test("attention: a zero-length source row gets zero weights and context", function()
  local m = nn.Attention("dot", 2)
  local C, A = m:forward(loom.randn(2, 2), loom.randn(6, 2), {lengths = {0, 3}})
  equal(A:row(1):norm(), 0, "weights")
  equal(C:row(1):norm(), 0, "context")
end)

---- PyTorch float64 ----


local PROGRAM = [==[
import sys, torch
dtype = torch.float32 if sys.argv[3] == "float32" else torch.float64
torch.set_default_dtype(dtype)
d = {}
for line in open(sys.argv[1]):
    p = line.split()
    d[p[0]] = torch.tensor([float(v) for v in p[3:]], dtype=torch.float64).reshape(int(p[1]), int(p[2])).to(dtype)
kind = sys.argv[2]
B, S = int(d["dims"][0, 0]), int(d["dims"][0, 1])
lengths = d["lengths"].reshape(-1).long()
q = d["q"].clone().requires_grad_(True)
K = d["K"].clone().requires_grad_(True)
params = {k: d[k].clone().requires_grad_(True) for k in d if "." in k}
Kb = K.reshape(S, B, -1).transpose(0, 1)          # B x S x Hk
if kind == "dot":
    scores = torch.einsum("bh,bsh->bs", q, Kb)
elif kind == "general":
    scores = torch.einsum("bh,bsh->bs", q @ params["linear_in.weight"].t(), Kb)
else:
    if kind == "concat":
        W = params["linear.weight"]; Hq = q.shape[1]
        qp, kp = q @ W[:, :Hq].t(), Kb @ W[:, Hq:].t()
    else:
        qp = q @ params["query_layer.weight"].t() + params["query_layer.bias"].reshape(-1)
        kp = Kb @ params["key_layer.weight"].t()
    scores = (torch.tanh(qp.unsqueeze(1) + kp) @ params["v.weight"].t()).squeeze(2)
mask = torch.arange(S).unsqueeze(0) >= lengths.unsqueeze(1)
A = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=1)
C = torch.einsum("bs,bsh->bh", A, Kb)
(C * d["R1"]).sum().add((A * d["R2"]).sum()).backward()
def emit(name, x):
    x = x.detach().reshape(x.shape[0], -1) if x.dim() > 1 else x.detach().reshape(-1, 1)
    print(name, x.shape[0], x.shape[1], " ".join(repr(float(v)) for v in x.reshape(-1)))
emit("C", C); emit("A", A); emit("dq", q.grad); emit("dK", K.grad)
for k, v in params.items(): emit("d:" + k, v.grad)
]==]


local torch = dofile(TEST_DIR .. "/torch_helpers.lua")
local serialize = torch.serialize
local py, why = reference_python({"torch"})
for _, k in ipairs(KINDS) do
  test("attention " .. k.kind .. ": equals PyTorch float64 to 1e-10 (context, weights, every gradient)", function()
    if not py then skip(why) end
    loom.seed(23)
    local m = nn.Attention(k.kind, table.unpack(k.args))
    local B, S = 3, 4
    local q, K = loom.randn(B, k.Hq), loom.randn(S * B, k.Hk)
    local R1, R2 = loom.randn(B, k.Hk), loom.randn(B, S)
    local lengths = {4, 2, 3}
    local lines = {}
    serialize(lines, "dims", loom.matrix{{B, S}})
    serialize(lines, "lengths", loom.matrix{lengths})
    serialize(lines, "q", q); serialize(lines, "K", K); serialize(lines, "R1", R1); serialize(lines, "R2", R2)
    for _, p in ipairs(m:parameters()) do serialize(lines, p.name, p.value) end
    local ref, text = torch.run(py, PROGRAM, lines, k.kind .. " float64")
    check(ref.C, "python failed:\n%s", text)
    local C, A = m:forward(q, K, {lengths = lengths})
    m:zero_grad()
    local dq, dK = m:backward(q, K, R1, {lengths = lengths, dweights = R2})
    local got = {C = C, A = A, dq = dq, dK = dK}
    for _, prm in ipairs(m:parameters()) do got["d:" .. prm.name] = prm.grad end
    for name, g in pairs(got) do
      check(ref[name], "torch did not report %s", name)
      local d = max_rel_diff(g, ref[name], name)
      check(d <= 1e-10, "%s differs from torch by %.3g", name, d)
    end
  end)
end

---- float32 ----

-- The module and its inputs in float32, rounded from float64 ones.
local function float32_case(k, seed)
  loom.seed(seed)
  local m = nn.Attention(k.kind, table.unpack(k.args))
  local B, S = 3, 4
  local c = {m = m, q = loom.randn(B, k.Hq):float(), K = loom.randn(S * B, k.Hk):float(),
    R1 = loom.randn(B, k.Hk):float(), R2 = loom.randn(B, S):float(), lengths = {4, 2, 3}}
  m:to("float32")
  return c
end

-- context, weights, dquery, dkeys and every parameter gradient of one call pair
local function run_case(m, c)
  m:zero_grad()
  local C, A = m:forward(c.q, c.K, {lengths = c.lengths})
  local dq, dK = m:backward(c.q, c.K, c.R1, {lengths = c.lengths, dweights = c.R2})
  local got = {C = C, A = A, dq = dq, dK = dK}
  for _, prm in ipairs(m:parameters()) do got["d:" .. prm.name] = prm.grad end
  return got
end

for _, k in ipairs(KINDS) do
  test("attention " .. k.kind .. ": float32 kernels equal the float64 ones on the same values to float32 precision", function()
    local c = float32_case(k, 29)
    local m64 = nn.Attention(k.kind, table.unpack(k.args)):to("float64")
    m64:load_state_dict(c.m:state_dict())
    equal(c.m:dtype(), "float32", "module dtype")
    local got = run_case(c.m, c)
    local want = run_case(m64, {q = c.q:double(), K = c.K:double(), R1 = c.R1:double(), R2 = c.R2:double(),
      lengths = c.lengths})
    for name, g in pairs(got) do
      equal(g:dtype(), "float32", name .. " dtype")
      local d = (g:double() - want[name]):norm() / math.max(want[name]:norm(), 1e-6)
      check(d <= 2e-6, "%s: float32 off by %.3g (relative, Frobenius)", name, d)
    end
  end)

  test("attention " .. k.kind .. ": float32 equals PyTorch float32 (context, weights, every gradient)", function()
    if not py then skip(why) end
    local c = float32_case(k, 37)
    local lines = {}
    serialize(lines, "dims", loom.matrix{{3, 4}})
    serialize(lines, "lengths", loom.matrix{c.lengths})
    for _, name in ipairs{"q", "K", "R1", "R2"} do serialize(lines, name, c[name]) end
    for _, p in ipairs(c.m:parameters()) do serialize(lines, p.name, p.value) end
    local ref, text = torch.run(py, PROGRAM, lines, k.kind .. " float32")
    check(ref.C, "python failed:\n%s", text)
    for name, g in pairs(run_case(c.m, c)) do
      check(ref[name], "torch did not report %s", name)
      local d = (g:double() - ref[name]):norm() / math.max(ref[name]:norm(), 1e-6)
      check(d <= 2e-6, "%s differs from torch float32 by %.3g (relative, Frobenius)", name, d)
    end
  end)
end
