-- test_rnn_torch.lua: nn.RNN/LSTM/GRU against torch.nn.RNN/LSTM/GRU in double precision with
-- identical weights: outputs, final states and every gradient (weights, input, h0, c0) to
-- 1e-10, packed variable-length batches, 2 layers, bidirectional. Skips without torch.
local loom = require "loom"
local nn = loom.nn

local TOL = 1e-10

-- Matrices to and from a text file: "name rows cols" then the values, row-major, %.17g.
local function write_matrices(path, list)
  local f = assert(io.open(path, "w"))
  for _, item in ipairs(list) do
    local name, m = item[1], item[2]
    f:write(string.format("%s %d %d\n", name, m:rows(), m:cols()))
    local vals = {}
    for i = 1, m:rows() do
      for j = 1, m:cols() do vals[#vals + 1] = string.format("%.17g", m:get(i, j)) end
    end
    f:write(table.concat(vals, " "), "\n")
  end
  f:close()
end

local function read_matrices(path)
  local f = assert(io.open(path))
  local out = {}
  while true do
    local header = f:read("l")
    if not header then break end
    local name, r, c = header:match("^(%S+) (%d+) (%d+)$")
    r, c = tonumber(r), tonumber(c)
    local line = f:read("l")
    local m, k = loom.zeros(r, c), 0
    for v in line:gmatch("%S+") do
      m:set(k // c + 1, k % c + 1, tonumber(v))
      k = k + 1
    end
    out[name] = m
  end
  f:close()
  return out
end

local PY = [[
import sys, torch
torch.set_default_dtype(torch.float64)
def read(path):
    out, lines = {}, open(path).read().split("\n")
    for k in range(0, len(lines) - 1, 2):
        name, r, c = lines[k].split()
        vals = [float(v) for v in lines[k + 1].split()]
        out[name] = torch.tensor(vals, dtype=torch.float64).reshape(int(r), int(c))
    return out
def run(inpath, outpath):
  m = read(inpath)
  cfg = m.pop("config")[0].tolist()
  kind, I, H, L, bidi, T, B, packed = [int(v) for v in cfg]
  D = 2 if bidi else 1
  if kind == 0: mod = torch.nn.RNN(I, H, L, nonlinearity="tanh", bidirectional=bool(bidi))
  elif kind == 1: mod = torch.nn.RNN(I, H, L, nonlinearity="relu", bidirectional=bool(bidi))
  elif kind == 2: mod = torch.nn.LSTM(I, H, L, bidirectional=bool(bidi))
  else: mod = torch.nn.GRU(I, H, L, bidirectional=bool(bidi))
  mod = mod.double()
  with torch.no_grad():
      for name, p in mod.named_parameters():
          p.copy_(m[name].reshape(p.shape))
  x = m["x"].reshape(T, B, I).clone().requires_grad_(True)
  h0 = m["h0"].reshape(L * D, B, H).clone().requires_grad_(True)
  c0 = m["c0"].reshape(L * D, B, H).clone().requires_grad_(True)
  lengths = m["lengths"].reshape(-1).long()
  inp = x
  if packed:
      inp = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
  state = (h0, c0) if kind == 2 else h0
  out, hn = mod(inp, state)
  if packed:
      out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
  if kind == 2:
      hn, cn = hn
  loss = (out * m["dout"].reshape(T, B, H * D)).sum() + (hn * m["dh_T"].reshape(L * D, B, H)).sum()
  if kind == 2:
      loss = loss + (cn * m["dc_T"].reshape(L * D, B, H)).sum()
  loss.backward()
  res = [("out", out.reshape(T * B, H * D)), ("h_T", hn.reshape(L * D * B, H)),
         ("dx", x.grad.reshape(T * B, I)), ("dh0", h0.grad.reshape(L * D * B, H))]
  if kind == 2:
      res += [("c_T", cn.reshape(L * D * B, H)), ("dc0", c0.grad.reshape(L * D * B, H))]
  for name, p in mod.named_parameters():
      res.append(("grad." + name, p.grad.reshape(p.shape[0], -1)))
  with open(outpath, "w") as f:
      for name, t in res:
          t = t.detach()
          f.write("%s %d %d\n" % (name, t.shape[0], t.shape[1]))
          f.write(" ".join("%.17g" % v for v in t.reshape(-1).tolist()) + "\n")
for k in range(1, len(sys.argv), 2):
    run(sys.argv[k], sys.argv[k + 1])
]]

local max_diff = max_rel_diff

local KINDS = {
  {code = 0, make = function(I, H, o) o.nonlinearity = "tanh"; return nn.RNN(I, H, o) end, name = "RNN tanh"},
  {code = 1, make = function(I, H, o) o.nonlinearity = "relu"; return nn.RNN(I, H, o) end, name = "RNN relu"},
  {code = 2, make = nn.LSTM, name = "LSTM"},
  {code = 3, make = nn.GRU, name = "GRU"},
}

local CASES = {
  {name = "one layer", I = 3, H = 4, L = 1, bidi = false, T = 6, lengths = {6, 6, 6}},
  {name = "packed variable lengths", I = 3, H = 4, L = 1, bidi = false, T = 6, lengths = {4, 6, 1, 3}},
  {name = "two layers, bidirectional, packed", I = 3, H = 5, L = 2, bidi = true, T = 5, lengths = {2, 5, 3}},
  {name = "two layers", I = 2, H = 3, L = 2, bidi = false, T = 7, lengths = {7, 7}},
  {name = "bidirectional, one sequence", I = 4, H = 3, L = 1, bidi = true, T = 8, lengths = {8}},
}

local py, why = reference_python({"torch"})
local tmp = os.tmpname()
local worst_overall, compared = 0, 0

-- Build every case (layer, inputs, weights on disk) first, so one python run (torch takes
-- seconds to import) serves them all; then each test compares one case.
local prepared, files = {}, {}
if py then
  loom.seed(11)
  for _, kind in ipairs(KINDS) do
    for _, case in ipairs(CASES) do
      local I, H, L, T, B = case.I, case.H, case.L, case.T, #case.lengths
      local D = case.bidi and 2 or 1
      local m = kind.make(I, H, {layers = L, bidirectional = case.bidi})
      local packed = false
      for _, len in ipairs(case.lengths) do packed = packed or len ~= T end
      local c = {m = m, kind = kind, case = case, packed = packed, D = D,
        x = loom.randn(T * B, I), h0 = loom.randn(L * D * B, H), c0 = loom.randn(L * D * B, H),
        dout = loom.randn(T * B, H * D), dh_T = loom.randn(L * D * B, H), dc_T = loom.randn(L * D * B, H)}
      local lengths = loom.zeros(B, 1)
      for b, len in ipairs(case.lengths) do lengths:set(b, 1, len) end
      local list = {{"config", loom.matrix{{kind.code, I, H, L, case.bidi and 1 or 0, T, B, packed and 1 or 0}}},
        {"x", c.x}, {"h0", c.h0}, {"c0", c.c0}, {"lengths", lengths}, {"dout", c.dout},
        {"dh_T", c.dh_T}, {"dc_T", c.dc_T}}
      for _, p in ipairs(m:parameters()) do list[#list + 1] = {p.name, p.value} end
      c.input, c.output = string.format("%s.%d.in", tmp, #prepared + 1), string.format("%s.%d.out", tmp, #prepared + 1)
      write_matrices(c.input, list)
      files[#files + 1] = c.input .. " " .. c.output
      prepared[#prepared + 1] = c
    end
  end
  local script = io.open(tmp .. ".py", "w")
  script:write(PY)
  script:close()
  if not os.execute(string.format("%s %s.py %s", py, tmp, table.concat(files, " "))) then
    py, why = nil, "the torch reference script failed"
  end
end

for k = 1, #KINDS * #CASES do
  local kind, case = KINDS[(k - 1) // #CASES + 1], CASES[(k - 1) % #CASES + 1]
  test(string.format("torch agreement: %s, %s", kind.name, case.name), function()
    if not py then skip(why) end
    local c = prepared[k]
    local ref = read_matrices(c.output)
    local m, lstm, L = c.m, kind.code == 2, case.L
    local opts = {lengths = c.packed and case.lengths or nil, batch = #case.lengths, h0 = c.h0,
      c0 = lstm and c.c0 or nil}
    local out, h_T, c_T = m:forward(c.x, opts)
    m:zero_grad()
    local dx, dh0, dc0 = m:backward(c.dout, {dh_T = c.dh_T, dc_T = lstm and c.dc_T or nil})
    local results = {out = out, h_T = h_T, c_T = lstm and c_T or nil, dx = dx, dh0 = dh0,
      dc0 = lstm and dc0 or nil}
    for _, p in ipairs(m:parameters()) do results["grad." .. p.name] = p.grad end
    local count = 0
    for name, want in pairs(ref) do
      local got = results[name]
      check(got, "no loom value for %s", name)
      local d = max_diff(got, want, name)
      worst_overall = math.max(worst_overall, d)
      check(d <= TOL, "%s: %s differs from torch by %.3g", case.name, name, d)
      count = count + 1
    end
    check(count == 4 + (lstm and 2 or 0) + 4 * L * c.D, "compared %d values", count)
    os.remove(c.input); os.remove(c.output)
    compared = compared + 1
  end)
end

test("torch agreement: worst difference", function()
  if not py then skip(why) end
  print(string.format("  worst relative difference from torch over %d cases: %.3g", #prepared, worst_overall))
  os.remove(tmp); os.remove(tmp .. ".py")
  equal(compared, #KINDS * #CASES, "cases compared with torch")
  check(worst_overall <= TOL, "worst relative difference %.3g", worst_overall)
end)
