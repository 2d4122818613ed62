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

-- ---- with the real modules, optimisers and `loom run` ----

local nn, optim = loom.nn, loom.optim

-- One training step on a fresh mini-batch from the generator (so its state matters).
local function train(model, opt, loss, from, to)
  for _ = from, to do
    local x = loom.randn(16, 4)
    local y = x:sum(2):map("tanh")
    opt:zero_grad()
    local pred = model:forward(x)
    loss:forward(pred, y)
    model:backward(x, loss:backward(pred, y))
    opt:step()
  end
end

local function mlp()
  return nn.Sequential{nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1)}
end

test("resuming from a checkpoint matches uninterrupted training bitwise (Adam, dropout)", function()
  local dir = tmpdir()
  loom.seed(1)
  local a = mlp()
  local opt_a = optim.adam(a, {lr = 0.01})
  train(a, opt_a, nn.MSELoss(), 1, 30)

  loom.seed(1)
  local b = mlp()
  local opt_b = optim.adam(b, {lr = 0.01})
  train(b, opt_b, nn.MSELoss(), 1, 12)
  assert(loom.checkpoint(dir .. "/c", {model = b, optim = opt_b, step = 12}))
  loom.seed(12345) -- a different process in all but name: other weights, other generator
  local c = mlp()
  local opt_c = optim.adam(c, {lr = 0.5})
  local info = assert(loom.load_checkpoint(dir .. "/c", {model = c, optim = opt_c}))
  equal(info.step, 12, "step")
  equal(opt_c.lr, 0.01, "learning rate restored from the optimiser's metadata")
  train(c, opt_c, nn.MSELoss(), info.step + 1, 30)
  local sa, sc = a:state_dict(), c:state_dict()
  for k, v in pairs(sa) do check(sc[k]:allclose(v, 0, 0), "%s differs after resume", k) end
  os.execute("rm -rf '" .. dir .. "'")
end)

-- Sequence regression: an LSTM's final state through a linear head.
local function lstm_model()
  local lstm, head = nn.LSTM(3, 8), nn.Linear(8, 1)
  local m = {lstm = lstm, head = head, state_dict = nn.Module.state_dict,
    load_state_dict = nn.Module.load_state_dict}
  function m:parameters()
    local list = {}
    for prefix, part in pairs{lstm = lstm, head = head} do
      for _, p in ipairs(part:parameters()) do
        list[#list + 1] = {name = prefix .. "." .. p.name, value = p.value, grad = p.grad}
      end
    end
    table.sort(list, function(x, y) return x.name < y.name end)
    return list
  end
  return m
end

local function train_lstm(m, opt, from, to)
  local loss, T, B = nn.MSELoss(), 5, 4
  for _ = from, to do
    local x = loom.randn(T * B, 3)
    local y = x:slice(1, B, 1, 1) - x:slice((T - 1) * B + 1, T * B, 2, 2)
    opt:zero_grad()
    local _, h = m.lstm:forward(x, {batch = B})
    local pred = m.head:forward(h)
    loss:forward(pred, y)
    m.lstm:backward(nil, {dh_T = m.head:backward(h, loss:backward(pred, y)), input_grad = false})
    opt:step()
  end
end

test("an LSTM resumed from a checkpoint matches uninterrupted training bitwise", function()
  local dir = tmpdir()
  loom.seed(4)
  local a = lstm_model()
  local opt_a = optim.adam(a, {lr = 0.02})
  train_lstm(a, opt_a, 1, 16)
  loom.seed(4)
  local b = lstm_model()
  local opt_b = optim.adam(b, {lr = 0.02})
  train_lstm(b, opt_b, 1, 7)
  assert(loom.checkpoint(dir .. "/c", {model = b, optim = opt_b, step = 7}))
  loom.seed(99)
  local c = lstm_model()
  local opt_c = optim.adam(c, {lr = 0.02})
  local info = assert(loom.load_checkpoint(dir .. "/c", {model = c, optim = opt_c}))
  local _, _, shapes = loom.load(dir .. "/c")
  equal(#shapes["model.lstm.bias_ih_l0"], 1, "LSTM biases 1-D as in PyTorch")
  train_lstm(c, opt_c, info.step + 1, 16)
  local sa, sc = a:state_dict(), c:state_dict()
  for k, v in pairs(sa) do check(sc[k]:allclose(v, 0, 0), "%s differs after resume", k) end
  os.execute("rm -rf '" .. dir .. "'")
end)

test("checkpoint.save_model / load_model: a PyTorch-layout state_dict file", function()
  local dir = tmpdir()
  local m = nn.Sequential{nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)}
  assert(loom.checkpoint.save_model(dir .. "/m.safetensors", m, {note = "x"}))
  local _, meta, shapes = loom.load(dir .. "/m.safetensors")
  equal(meta.note, "x", "metadata")
  check(#shapes["0.bias"] == 1 and #shapes["0.weight"] == 2, "PyTorch ranks")
  local m2 = nn.Sequential{nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)}
  assert(loom.checkpoint.load_model(dir .. "/m.safetensors", m2))
  local x = loom.randn(5, 3)
  check(m2:forward(x):allclose(m:forward(x), 0, 0), "same outputs")
  checkerror_like("missing keys: 4.weight, 4.bias", loom.checkpoint.load_model, dir .. "/m.safetensors",
    nn.Sequential{nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2)})
  os.execute("rm -rf '" .. dir .. "'")
end)

local EXPERIMENT = [[
local loom = require "loom"
local nn, optim = loom.nn, loom.optim
return loom.experiment{
  name = "resume_check",
  params = {seed = 7, steps = 40, every = 10, lr = 0.01, pause = 0.0},
  run = function(p, run)
    local model = nn.Sequential{nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1)}
    local opt = optim.adam(model, {lr = p.lr})
    local loss = nn.MSELoss()
    local start = loom.checkpoint.resume(run, {model = model, optim = opt})
    local die_at = tonumber(os.getenv("LOOM_TEST_DIE_AT") or "")
    local l
    for step = start + 1, p.steps do
      local x = loom.randn(16, 4)
      local y = x:sum(2):map("tanh")
      opt:zero_grad()
      local pred = model:forward(x)
      l = loss:forward(pred, y)
      model:backward(x, loss:backward(pred, y))
      opt:step()
      run:log{step = step, loss = l}
      if p.pause > 0 then require("loom.core").process.sleep(p.pause) end
      if step % p.every == 0 then
        assert(loom.checkpoint(loom.checkpoint.path(run), {model = model, optim = opt, step = step}))
      end
      if step == die_at then
        -- SIGKILL with metrics still buffered: what the checkpoint wrote first must be enough.
        os.execute("kill -9 " .. require("loom.core").process.pid())
      end
    end
    assert(loom.checkpoint.save_model(run:artifact("final.safetensors"), model))
    return {final_loss = l}
  end}
]]

-- A scratch folder with EXPERIMENT in it; -> folder, script, loom binary, sh(cmd) -> ok
local function experiment_dir()
  local dir = tmpdir()
  local script = dir .. "/resume_check.lua"
  local f = assert(io.open(script, "w"))
  f:write(EXPERIMENT)
  f:close()
  local LOOM = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")
  local function sh(cmd) return os.execute(cmd .. " >/dev/null 2>&1") end
  return dir, script, LOOM, sh
end

-- Run the experiment whole (a.db) and killed at step 25 then resumed (b.db); compare.
-- The kill comes with metrics still buffered (no flush by hand): the checkpoint at step 20
-- must have written the metrics up to it, and the resume must leave no hole.
local function resume_case(every)
  local dir, script, LOOM, sh = experiment_dir()
  check(sh(string.format("'%s' run --db '%s/a.db' --quiet '%s' every=%d", LOOM, dir, script, every)),
    "the uninterrupted run failed")
  check(not sh(string.format("LOOM_TEST_DIE_AT=25 '%s' run --db '%s/b.db' --quiet '%s' every=%d",
    LOOM, dir, script, every)), "the run meant to be killed completed")
  local store = require "loom.runs.store"
  local sb = assert(store.open(dir .. "/b.db"))
  local id = sb.db:rows("SELECT id FROM runs")[1].id
  local logged = sb.db:rows("SELECT MAX(step) AS s, COUNT(*) AS n FROM metrics WHERE run_id = ?", id)[1]
  if every == 10 then
    -- Written by the checkpoint at step 20 (the timer may have flushed a few more after it).
    check(logged.s and logged.s >= 20 and logged.s <= 25, "metrics recorded before the kill: up to step %s",
      tostring(logged.s))
    equal(logged.n, logged.s, "metric rows recorded before the kill (one per step, no hole)")
  end
  sb:close()
  check(sh(string.format("'%s' run --db '%s/b.db' --resume %s --quiet", LOOM, dir, id)),
    "the resumed run failed")
  check(not sh(string.format("'%s' run --db '%s/b.db' --resume %s --quiet", LOOM, dir, id)),
    "a completed run resumed again")
  local sa = assert(store.open(dir .. "/a.db"))
  sb = assert(store.open(dir .. "/b.db"))
  local ida = sa.db:rows("SELECT id FROM runs")[1].id
  equal(#sb.db:rows("SELECT id FROM runs"), 1, "runs in the resumed database (one, appended to)")
  equal(sb:get(id).status, "completed", "status of the resumed run")
  local ma = sa.db:rows("SELECT step, name, value FROM metrics WHERE run_id = ? ORDER BY step, name", ida)
  local mb = sb.db:rows("SELECT step, name, value FROM metrics WHERE run_id = ? ORDER BY step, name", id)
  equal(#mb, #ma, "metric rows")
  for i, r in ipairs(ma) do
    check(mb[i].step == r.step and mb[i].name == r.name and mb[i].value == r.value,
      "metric %s at step %d: %.17g uninterrupted, %.17g resumed", r.name, r.step, r.value,
      mb[i].value)
  end
  equal(sb:results(id).final_loss, sa:results(ida).final_loss, "final loss")
  local fa = loom.load(sa:artifacts_dir(ida) .. "/final.safetensors")
  local fb = loom.load(sb:artifacts_dir(id) .. "/final.safetensors")
  for k, v in pairs(fa) do check(fb[k]:allclose(v, 0, 0), "final %s differs", k) end
  sa:close()
  sb:close()
  os.execute("rm -rf '" .. dir .. "'")
end

test("loom run --resume ID after SIGKILL: same parameters and metrics, bitwise, same run", function()
  resume_case(10)
end)

test("loom run --resume ID without a checkpoint restarts the run from step 1", function()
  resume_case(1000)
end)

-- A checkpoint records how many metric rows its run held; a resume that finds fewer (rows
-- lost after the checkpoint was written) refuses to continue, so the run can never end
-- "completed" with holes in its steps.
test("loom run --resume refuses a run whose metrics before the checkpoint have holes", function()
  local dir, script, LOOM, sh = experiment_dir()
  check(not sh(string.format("LOOM_TEST_DIE_AT=25 '%s' run --db '%s/b.db' --quiet '%s' every=10",
    LOOM, dir, script)), "the run meant to be killed completed")
  local store = require "loom.runs.store"
  local sb = assert(store.open(dir .. "/b.db"))
  local id = sb.db:rows("SELECT id FROM runs")[1].id
  local info = assert(loom.load_checkpoint(sb:artifacts_dir(id) .. "/checkpoint.safetensors", {rng = false}))
  equal(info.step, 20, "step of the last checkpoint")
  equal(info.run, id, "the checkpoint names its run")
  equal(info.run_metrics, 20, "metric rows the checkpoint saw recorded")
  sb.db:run("DELETE FROM metrics WHERE run_id = ? AND step IN (7, 8, 9)", id)
  sb:close()
  local p = io.popen(string.format("'%s' run --db '%s/b.db' --resume %s --quiet 2>&1", LOOM, dir, id))
  local out = p:read("a")
  check(not p:close(), "a resume over holes succeeded")
  local want = "run " .. id .. " lost metrics before its checkpoint at step 20 (17 of the 20 rows "
    .. "recorded then are left): resuming would leave holes in its steps"
  check(out:find(want, 1, true), "the resume's message:\n%s", out)
  sb = assert(store.open(dir .. "/b.db"))
  local r = sb:get(id)
  equal(r.status, "failed", "status of the refused resume")
  check(r.error:find(": loom.checkpoint.resume: " .. want, 1, true), "its recorded error: %s", r.error)
  sb:close()
  os.execute("rm -rf '" .. dir .. "'")
end)

-- The review's case: SIGKILL from outside at moments nobody chose, then --resume; three
-- times. Every step's metric must be there exactly once and the run completed.
test("SIGKILL at arbitrary moments then --resume: completed, steps 1..300 each once", function()
  local process = require("loom.core").process
  local store = require "loom.runs.store"
  local H = dofile(TEST_DIR .. "/runs_helpers.lua")
  local dir, script, LOOM = experiment_dir()
  for round, delay in ipairs{0.05, 0.3, 0.7} do
    local db = string.format("%s/k%d.db", dir, round)
    local p = io.popen(string.format("'%s' run --db '%s' --quiet '%s' steps=300 every=7 pause=0.004 "
      .. ">/dev/null 2>&1 & echo $!", LOOM, db, script))
    local pid = tonumber(p:read("l"))
    p:close()
    local s, id
    check(H.wait_for(30, function()
      s = store.open(db, {readonly = true})
      local r = s and s.db:rows("SELECT id FROM runs")[1]
      if s then s:close() end
      id = r and r.id
      return id ~= nil and process.file_type(dir .. "/runs/" .. id .. "/checkpoint.safetensors") ~= nil
    end), "round %d: no checkpoint within 30 s", round)
    process.sleep(delay)
    process.kill(pid, "KILL")
    check(H.wait_for(10, function() return H.gone(pid) end), "round %d: the kill", round)
    local rc, out = H.sh(string.format("'%s' run --db '%s' --resume %s --quiet", LOOM, db, id))
    equal(rc, 0, "round " .. round .. ": resume: " .. out)
    s = assert(store.open(db, {readonly = true}))
    equal(s:get(id).status, "completed", "round " .. round .. ": status")
    local m = s.db:rows([[SELECT COUNT(*) AS n, COUNT(DISTINCT step) AS d, MIN(step) AS lo, MAX(step) AS hi
      FROM metrics WHERE run_id = ? AND name = 'loss']], id)[1]
    s:close()
    check(m.n == 300 and m.d == 300 and m.lo == 1 and m.hi == 300,
      "round %d: %d rows, %d distinct steps, %s..%s (want 300 rows, steps 1..300)", round, m.n, m.d,
      tostring(m.lo), tostring(m.hi))
  end
  os.execute("rm -rf '" .. dir .. "'")
end)

test("a checkpoint outside `loom run` records no run", function()
  local dir = tmpdir()
  local m = fake_model()
  assert(loom.checkpoint(dir .. "/c.safetensors", {model = m, step = 3}))
  local info = assert(loom.load_checkpoint(dir .. "/c.safetensors", {rng = false}))
  equal(info.run, nil, "run")
  equal(info.run_metrics, nil, "run_metrics")
  os.execute("rm -rf '" .. dir .. "'")
end)

test("every public function of the area has a docstring", function()
  local named = {}
  for _, e in ipairs(dofile(PROJECT_DIR .. "/lua/loom/doc/checkpoint.lua")) do
    check(type(e.signature) == "string" and type(e.doc) == "string" and e.doc ~= "",
      "%s entry complete", e.name)
    named[e.name] = true
  end
  for _, name in ipairs{"loom.save", "loom.load", "loom.checkpoint", "loom.load_checkpoint",
      "run:rewind", "loom run --resume"} do
    check(named[name], "%s has no docstring", name)
  end
  for k, v in pairs(loom.checkpoint) do
    if type(v) == "function" and k ~= "save" and k ~= "load" then
      check(named["loom.checkpoint." .. k], "loom.checkpoint.%s has no docstring", k)
    end
  end
end)
