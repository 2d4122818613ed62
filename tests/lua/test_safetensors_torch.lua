-- test_safetensors_torch.lua: weights move both ways between PyTorch (float64) and loom
-- through safetensors files: nn.Linear, nn.Sequential and nn.LSTM give the same outputs
-- to 1e-12. PyTorch's side reads and writes with tests/lua/safetensors_ref.py (json + numpy).
local loom = require "loom"
local nn = loom.nn

local TOL = 1e-12

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/loom-st-torch-XXXXXX")
  local dir = p:read("l")
  p:close()
  return dir
end

local worst, compared = 0, 0
local function max_rel_diff(a, b)
  local d = (a - b):map("abs"):max() / math.max(1, b:map("abs"):max())
  worst = math.max(worst, d)
  compared = compared + 1
  return d
end

local T, B, I, H = 6, 3, 4, 5

-- PyTorch script: (1) torch-initialised models and their outputs -> files for loom;
-- (2) loom-saved models -> torch (strict load_state_dict) -> outputs for loom.
local SCRIPT = [[
import sys, torch
sys.path.insert(0, %q)
import numpy as np
import safetensors_ref as st
d, T, B, I, H = %q, %d, %d, %d, %d
torch.manual_seed(0)

def models():
    return {"linear": torch.nn.Linear(I, H),
            "mlp": torch.nn.Sequential(torch.nn.Linear(I, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)),
            "lstm": torch.nn.LSTM(I, H, num_layers=2)}

def run(name, m, x):
    with torch.no_grad():
        if name == "lstm":
            out, (h, c) = m(torch.from_numpy(x).reshape(T, B, I))
            return {"out": out.reshape(T * B, H).numpy(), "h": h.reshape(2 * B, H).numpy(),
                    "c": c.reshape(2 * B, H).numpy()}
        return {"out": m(torch.from_numpy(x)).numpy()}

inputs = st.read(d + "/inputs.safetensors")[0]
for name, m in models().items():
    m = m.double()
    x = inputs[name]
    st.write("%%s/torch_%%s.safetensors" %% (d, name),
             {k: v.numpy() for k, v in m.state_dict().items()}, {"framework": "pt"})
    st.write("%%s/torch_%%s_out.safetensors" %% (d, name), run(name, m, x))
    # The other way: loom's file into a fresh torch module, strictly.
    tensors, meta, _ = st.read("%%s/loom_%%s.safetensors" %% (d, name))
    fresh = models()[name].double()
    fresh.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    st.write("%%s/loom_%%s_out.safetensors" %% (d, name), run(name, fresh, x))
]]

local function build(name)
  if name == "linear" then return nn.Linear(I, H) end
  if name == "mlp" then return nn.Sequential{nn.Linear(I, 8), nn.Tanh(), nn.Linear(8, 2)} end
  return nn.LSTM(I, H, {layers = 2})
end

local function forward(name, m, x)
  if name == "lstm" then
    local out, h, c = m:forward(x, {batch = B})
    return {out = out, h = h, c = c}
  end
  return {out = m:forward(x)}
end

local NAMES = {"linear", "mlp", "lstm"}
local dir = tmpdir()
local py, why = reference_python({"torch", "numpy"})
local ran = false

-- Everything loom writes first, then one python run (torch takes seconds to import).
local loom_models, inputs = {}, {}
loom.seed(21)
for _, name in ipairs(NAMES) do
  loom_models[name] = build(name)
  inputs[name] = loom.randn(name == "lstm" and T * B or 7, I)
  assert(loom.checkpoint.save_model(dir .. "/loom_" .. name .. ".safetensors", loom_models[name],
    {framework = "loom"}))
end
assert(loom.save(dir .. "/inputs.safetensors", inputs))
if py then
  local file = dir .. "/torch_side.py"
  local f = assert(io.open(file, "w"))
  f:write(string.format(SCRIPT, PROJECT_DIR .. "/tests/lua", dir, T, B, I, H))
  f:close()
  ran = os.execute(py .. " " .. file)
  if not ran then py, why = nil, "the PyTorch side of the test failed (see above)" end
end

for _, name in ipairs(NAMES) do
  test(string.format("PyTorch's %s loads into loom and gives the same outputs", name), function()
    if not py then skip(why) end
    local t, meta, shapes = loom.load(string.format("%s/torch_%s.safetensors", dir, name))
    check(t, "load: %s", tostring(meta))
    equal(meta.framework, "pt", "metadata")
    for k, s in pairs(shapes) do
      equal(#s, k:match("bias") and 1 or 2, k .. " rank in PyTorch's file")
    end
    local m = build(name)
    m:load_state_dict(t, {strict = true})
    local want = loom.load(string.format("%s/torch_%s_out.safetensors", dir, name))
    for k, y in pairs(forward(name, m, inputs[name])) do
      local d = max_rel_diff(y, want[k])
      check(d <= TOL, "%s %s differs from torch by %.3g", name, k, d)
    end
  end)

  test(string.format("loom's %s loads into PyTorch strictly and gives the same outputs", name), function()
    if not py then skip(why) end
    local got = loom.load(string.format("%s/loom_%s_out.safetensors", dir, name))
    check(got, "torch did not produce outputs for loom's %s", name)
    for k, y in pairs(forward(name, loom_models[name], inputs[name])) do
      local d = max_rel_diff(y, got[k])
      check(d <= TOL, "%s %s differs from torch by %.3g", name, k, d)
    end
  end)
end

test("a PyTorch LSTM state_dict missing a key is refused with the key's name", function()
  if not py then skip(why) end
  local t = loom.load(dir .. "/torch_lstm.safetensors")
  t.bias_hh_l1 = nil
  checkerror_like("bias_hh_l1", function() nn.LSTM(I, H, {layers = 2}):load_state_dict(t, {strict = true}) end)
end)

test("every model was compared both ways; cleanup", function()
  os.execute("rm -rf '" .. dir .. "'")
  check(not io.open(dir .. "/inputs.safetensors"), "%s is still there", dir)
  if not py then skip(why) end
  print(string.format("  worst relative difference from PyTorch: %.3g", worst))
  -- linear and mlp compare one output each way, the LSTM three (out, h, c)
  equal(compared, 2 * (1 + 1 + 3), "outputs compared")
  check(worst <= TOL, "worst relative difference %.3g", worst)
end)
