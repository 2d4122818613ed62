-- test_checkpoint.lua: loom.checkpoint / loom.load_checkpoint / resume on plain-table
-- modules (the protocol only), PyTorch shapes for biases, and the errors.
local loom = require "loom"

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/loom-ckpt-XXXXXX")
  local dir = p:read("l")
  p:close()
  return dir
end

-- The module protocol in a few lines: parameters named like PyTorch's.
local function fake_model()
  local m = {params = {["0.weight"] = loom.randn(3, 2), ["0.bias"] = loom.randn(3, 1),
    ["2.weight"] = loom.randn(1, 3)}}
  function m:state_dict()
    local t = {}
    for k, v in pairs(self.params) do t[k] = v:copy() end
    return t
  end
  function m:load_state_dict(t, opts)
    for k, v in pairs(self.params) do
      if not t[k] then error("load_state_dict: missing keys: " .. k, 2) end
      v:copy_(t[k])
    end
    if opts.strict then
      for k in pairs(t) do
        if not self.params[k] then error("load_state_dict: unexpected keys: " .. k, 2) end
      end
    end
  end
  return m
end

-- An optimiser's state as the optimisers give it: matrices and numbers, and strings.
local function fake_optim()
  local o = {state = {["1.exp_avg"] = loom.randn(3, 2), ["1.step"] = 7, lr = 0.001,
    nesterov = true}, meta = {kind = "adam", betas = "0.9,0.999"}}
  function o:state_dict()
    local t = {}
    for k, v in pairs(self.state) do t[k] = loom.is_matrix(v) and v:copy() or v end
    return t, self.meta
  end
  function o:load_state_dict(t, meta)
    self.loaded, self.loaded_meta = t, meta
  end
  return o
end

local function fake_run(dir)
  return {artifact = function(_, name) return dir .. "/" .. name end}
end

test("a checkpoint restores model, optimiser, generator, step and extras", function()
  local dir = tmpdir()
  loom.seed(5)
  local model, opt = fake_model(), fake_optim()
  local path = dir .. "/c.safetensors"
  equal(loom.checkpoint(path, {model = model, optim = opt, step = 42,
    extra = {best = 0.25, epoch = 3, note = "warm", done = false, table = loom.ones(2, 2)},
    metadata = {experiment = "xor"}}), true, "save")
  local after = loom.randn(2, 3)            -- what the generator gives next
  local model2, opt2 = fake_model(), fake_optim()
  loom.seed(999)
  local info = assert(loom.load_checkpoint(path, {model = model2, optim = opt2}))
  check(loom.randn(2, 3):allclose(after, 0, 0), "generator state restored")
  for k, v in pairs(model.params) do check(model2.params[k]:allclose(v, 0, 0), "model %s", k) end
  equal(info.step, 42, "step")
  equal(math.type(info.step), "integer", "step type")
  equal(info.extra.best, 0.25, "extra number")
  equal(math.type(info.extra.epoch), "integer", "extra integer")
  equal(info.extra.note, "warm", "extra string")
  equal(info.extra.done, false, "extra boolean")
  check(info.extra.table:allclose(loom.ones(2, 2), 0, 0), "extra matrix")
  equal(info.metadata.experiment, "xor", "user metadata")
  check(opt2.loaded["1.exp_avg"]:allclose(opt.state["1.exp_avg"], 0, 0), "optimiser matrix")
  equal(opt2.loaded["1.step"], 7, "optimiser integer")
  equal(math.type(opt2.loaded["1.step"]), "integer", "optimiser integer type")
  equal(opt2.loaded.lr, 0.001, "optimiser number")
  equal(opt2.loaded.nesterov, true, "optimiser boolean")
  equal(opt2.loaded_meta.kind, "adam", "optimiser metadata")
  equal(opt2.loaded_meta.betas, "0.9,0.999", "optimiser metadata")
  -- The model part is PyTorch's layout: biases 1-D under "model.".
  local _, _, shapes = loom.load(path)
  equal(#shapes["model.0.bias"], 1, "bias is 1-D")
  equal(#shapes["model.0.weight"], 2, "weight is 2-D")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("rng = false leaves the generator alone", function()
  local dir = tmpdir()
  assert(loom.checkpoint(dir .. "/c", {step = 1}))
  loom.seed(77)
  local want = loom.rand(1, 3)
  loom.seed(77)
  assert(loom.load_checkpoint(dir .. "/c", {rng = false}))
  check(loom.rand(1, 3):allclose(want, 0, 0), "generator untouched")
  assert(loom.checkpoint(dir .. "/d", {step = 1, rng = false}))
  local _, meta = loom.load(dir .. "/d")
  equal(meta["loom.rng"], nil, "no generator state saved")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("resume: step 0 on a fresh run, the saved step after a checkpoint", function()
  local dir = tmpdir()
  local run = fake_run(dir)
  local model = fake_model()
  local step, info = loom.checkpoint.resume(run, {model = model})
  equal(step, 0, "fresh run")
  equal(info, nil, "no info")
  assert(loom.checkpoint(loom.checkpoint.path(run), {model = model, step = 17}))
  local other = fake_model()
  step = loom.checkpoint.resume(run, {model = other})
  equal(step, 17, "resumed step")
  check(other.params["0.weight"]:allclose(model.params["0.weight"], 0, 0), "model restored")
  local f = io.open(loom.checkpoint.path(run), "wb")
  f:write("garbage")
  f:close()
  checkerror("loom.checkpoint.resume: " .. dir .. "/checkpoint.safetensors: file is 7 bytes, "
    .. "too short for a header", loom.checkpoint.resume, run, {model = other})
  os.execute("rm -rf '" .. dir .. "'")
end)

test("torch_shapes makes n x 1 biases 1-D and nothing else", function()
  local shapes = loom.checkpoint.torch_shapes{["0.bias"] = loom.zeros(4, 1), bias_ih_l0 = loom.zeros(8, 1),
    ["lstm.bias_hh_l1"] = loom.zeros(8, 1), weight = loom.zeros(5, 1), ["x.bias"] = loom.zeros(1, 4)}
  equal(shapes["0.bias"][1], 4, "bias")
  equal(shapes.bias_ih_l0[1], 8, "rnn bias")
  equal(shapes["lstm.bias_hh_l1"][1], 8, "nested rnn bias")
  equal(shapes.weight, nil, "an n x 1 weight stays 2-D")
  equal(shapes["x.bias"], nil, "a row stays 2-D")
end)

test("checkpoint errors", function()
  local dir = tmpdir()
  assert(loom.save(dir .. "/plain", {a = loom.ones(1, 1)}))
  local ok, err = loom.load_checkpoint(dir .. "/plain")
  equal(ok, nil, "plain file")
  equal(err, dir .. "/plain: not a loom checkpoint (metadata loom.format is missing)", "message")
  ok, err = loom.load_checkpoint(dir .. "/missing")
  equal(err, dir .. "/missing: cannot open: No such file or directory", "missing file")
  checkerror("loom.checkpoint: metadata key 'loom.step' is reserved", loom.checkpoint, dir .. "/x",
    {metadata = {["loom.step"] = "1"}})
  checkerror("loom.checkpoint: step must be an integer, got 1.5", loom.checkpoint, dir .. "/x",
    {step = 1.5})
  checkerror("loom.checkpoint: extra.f is a function, which a checkpoint cannot hold",
    loom.checkpoint, dir .. "/x", {extra = {f = print}})
  checkerror("loom.checkpoint: extra keys must be strings, got number", loom.checkpoint,
    dir .. "/x", {extra = {1, 2}})
  checkerror("loom.checkpoint: expected {model = ..., optim = ..., step = ...}", loom.checkpoint,
    dir .. "/x")
  os.execute("rm -rf '" .. dir .. "'")
end)
