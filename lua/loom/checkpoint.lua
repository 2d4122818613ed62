-- loom.checkpoint: training state in one safetensors file (model, optimiser, generator,
-- step, extras) and PyTorch-layout model files. Not the file format (loom.save/loom.load, C).
--
-- A checkpoint's tensors: "model.<state_dict key>" (PyTorch layout: biases 1-D),
-- "optim.<key>" and "extra.<key>" for the optimiser's state and the caller's extras
-- (numbers and booleans as 0-D tensors: I64 for integers, F64, BOOL).
-- Its metadata: "loom.format", "loom.step", "loom.rng" (hex), strings of the optimiser
-- (its second state_dict value) and of the extras under the same prefixes, and the
-- caller's own metadata.
local loom = require "loom"
local check = require "loom.check"

local checkpoint = {}

-- v must have the method (a module's state_dict, an optimiser's load_state_dict, ...).
local function check_has(fn, what, v, method)
  if (type(v) ~= "table" and type(v) ~= "userdata") or type(v[method]) ~= "function" then
    check.fail(fn, "%s must have a %s method, got %s", what, method, check.kind(v))
  end
end

local FORMAT = "loom.checkpoint/1"
local FILE = "checkpoint.safetensors"

-- Shapes that make a loom state_dict PyTorch's: n x 1 biases become 1-D {n}.
function checkpoint.torch_shapes(state_dict)
  check.table("loom.checkpoint.torch_shapes", "state_dict", state_dict)
  local shapes = {}
  for name, m in pairs(state_dict) do
    if type(name) ~= "string" then
      check.fail("loom.checkpoint.torch_shapes", "state_dict keys must be strings, got %s", check.kind(name))
    end
    local last = name:match("([^.]*)$")
    if last:sub(1, 4) == "bias" and loom.is_matrix(m) and m:cols() == 1 then
      shapes[name] = {m:rows()}
    end
  end
  return shapes
end

-- A module's parameters as a file PyTorch's load_state_dict accepts (after
-- safetensors.torch.load_file). opts: dtype ("F64" default, "F32"), shapes (overrides).
function checkpoint.save_model(path, model, metadata, opts)
  local fn = "loom.checkpoint.save_model"
  check.string(fn, "path", path)
  check_has(fn, "model", model, "state_dict")
  if metadata ~= nil then check.table(fn, "metadata", metadata) end
  check.options(fn, opts, {dtype = "string", shapes = "table"})
  local sd = model:state_dict()
  local shapes = checkpoint.torch_shapes(sd)
  for k, v in pairs(opts and opts.shapes or {}) do shapes[k] = v end
  return check.call(fn, loom.save, path, sd, metadata, {dtype = opts and opts.dtype, shapes = shapes})
end

-- Load a state_dict file into model (strict by default). -> model, metadata | nil, message
function checkpoint.load_model(path, model, opts)
  local fn = "loom.checkpoint.load_model"
  check.string(fn, "path", path)
  check_has(fn, "model", model, "load_state_dict")
  check.options(fn, opts, {strict = "boolean"})
  local tensors, metadata = loom.load(path)
  if not tensors then return nil, metadata end
  check.call(fn, model.load_state_dict, model, tensors, {strict = not (opts and opts.strict == false)})
  return model, metadata
end

-- ---- flat tables of matrices, numbers, booleans and strings ----

-- t's entries under prefix: matrices as they are, numbers and booleans as 0-D tensors
-- (I64 for integers, F64, BOOL), strings as metadata. Keys are strings.
local function store(prefix, t, tensors, meta, shapes, dtypes, fn)
  for k, v in pairs(t) do
    if type(k) ~= "string" then
      check.fail(fn, "%s keys must be strings, got %s", prefix, type(k))
    end
    local name = prefix .. "." .. k
    local ty = type(v)
    if loom.is_matrix(v) then
      tensors[name] = v
    elseif ty == "number" then
      tensors[name], shapes[name] = loom.fill(1, 1, v), {}
      dtypes[name] = math.type(v) == "integer" and "I64" or "F64"
    elseif ty == "boolean" then
      tensors[name], shapes[name], dtypes[name] = loom.fill(1, 1, v and 1 or 0), {}, "BOOL"
    elseif ty == "string" then
      meta[name] = v
    else
      check.fail(fn, "%s is a %s, which a checkpoint cannot hold", name, ty)
    end
  end
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function unhex(h)
  if type(h) ~= "string" or #h ~= 64 or h:find("[^0-9a-f]") then return nil end
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

-- ---- saving and loading training state ----

-- loom.checkpoint(path, {model = m, optim = opt, step = n, extra = {...}, metadata = {...},
--                        rng = true, dtype = "F64"}) -> true | nil, message
-- Everything needed to continue training exactly: the model's state_dict, the optimiser's
-- state_dict, the generator state (unless rng = false), the step and the caller's extras.
function checkpoint.save(path, state)
  local fn = "loom.checkpoint"
  if type(path) ~= "string" then check.fail(fn, "path must be a string") end
  if type(state) ~= "table" then check.fail(fn, "expected {model = ..., optim = ..., step = ...}") end
  check.options(fn, state, {model = "any", optim = "any", step = "any", extra = "table", metadata = "table",
    rng = "boolean", dtype = "string"})
  if state.model ~= nil then check_has(fn, "model", state.model, "state_dict") end
  if state.optim ~= nil then check_has(fn, "optim", state.optim, "state_dict") end
  local tensors, meta, shapes, dtypes = {}, {}, {}, {}
  for k, v in pairs(state.metadata or {}) do
    if type(k) == "string" and (k:match("^loom%.") or k:match("^optim%.") or k:match("^extra%.")
        or k:match("^model%.")) then
      check.fail(fn, "metadata key '%s' is reserved", k)
    end
    meta[k] = v
  end
  if state.model then
    local sd = state.model:state_dict()
    -- the training dtype, for readers ("mixed" if the model mixes them); each tensor is
    -- stored in its own dtype anyway
    local dtype
    for _, m in pairs(sd) do
      local d = loom.is_matrix(m) and m:dtype()
      if d then dtype = (dtype == nil or dtype == d) and d or "mixed" end
    end
    meta["loom.dtype"] = dtype
    local torch = checkpoint.torch_shapes(sd)
    for k, m in pairs(sd) do
      tensors["model." .. k] = m
      shapes["model." .. k] = torch[k]
    end
  end
  if state.optim then
    local t, m = state.optim:state_dict()
    store("optim", t, tensors, meta, shapes, dtypes, "loom.checkpoint")
    store("optim", m or {}, tensors, meta, shapes, dtypes, "loom.checkpoint")
  end
  if state.extra then store("extra", state.extra, tensors, meta, shapes, dtypes, "loom.checkpoint") end
  meta["loom.format"] = FORMAT
  if state.step ~= nil then
    if math.type(state.step) ~= "integer" then
      check.fail(fn, "step must be an integer, got %s", tostring(state.step))
    end
    meta["loom.step"] = tostring(state.step)
  end
  if state.rng ~= false then meta["loom.rng"] = hex(loom.rng_state()) end
  -- Inside `loom run`: the run's buffered metrics reach the database before the checkpoint.
  local runner = package.loaded["loom.runner"]
  local run = runner and runner.current
  if run then
    for k, v in pairs(run:checkpointing(state.step)) do meta[k] = v end
  end
  if state.dtype then
    for name in pairs(tensors) do
      if name:match("^model%.") or not dtypes[name] then dtypes[name] = state.dtype end
    end
  end
  return check.call(fn, loom.save, path, tensors, meta, {shapes = shapes, dtypes = dtypes})
end

-- A 0-D tensor back to the Lua value it was.
local function scalar(m, dtype)
  local v = m:get(1, 1)
  if dtype == "BOOL" then return v ~= 0 end
  if dtype == "I64" then return math.tointeger(v) or v end
  return v
end

-- loom.load_checkpoint(path [, {model = m, optim = opt, strict = true, rng = true}])
--   -> info | nil, message
-- Restores what is given (model:load_state_dict, optim:load_state_dict, the generator
-- unless rng = false) and returns info = {step, extra, metadata, model = tensors,
-- optim = state, optim_meta = strings}. Mismatched keys or shapes raise (the
-- load_state_dict errors).
function checkpoint.load(path, targets)
  local fn = "loom.load_checkpoint"
  check.string(fn, "path", path)
  targets = check.options(fn, targets, {model = "any", optim = "any", strict = "boolean", rng = "boolean"})
  if targets.model ~= nil then check_has(fn, "model", targets.model, "load_state_dict") end
  if targets.optim ~= nil then check_has(fn, "optim", targets.optim, "load_state_dict") end
  local tensors, meta, shapes, dtypes = loom.load(path)
  if not tensors then return nil, meta end
  if meta["loom.format"] ~= FORMAT then
    return nil, string.format("%s: not a loom checkpoint (metadata loom.format is %s)", path,
      meta["loom.format"] and ("'" .. meta["loom.format"] .. "'") or "missing")
  end
  local info = {model = {}, optim = {}, optim_meta = {}, extra = {}, metadata = {}}
  for name, m in pairs(tensors) do
    local root, key = name:match("^(%a+)%.(.*)$")
    if root == "model" then
      info.model[key] = m
    elseif root == "optim" or root == "extra" then
      if #shapes[name] == 0 then
        info[root][key] = scalar(m, dtypes[name])
      else
        info[root][key] = m
      end
    else
      return nil, string.format("%s: unexpected tensor '%s' in a checkpoint", path, name)
    end
  end
  for k, v in pairs(meta) do
    local root, key = k:match("^(%a+)%.(.*)$")
    if root == "optim" then
      info.optim_meta[key] = v
    elseif root == "extra" then
      info.extra[key] = v
    elseif root ~= "loom" then
      info.metadata[k] = v
    end
  end
  info.dtype = meta["loom.dtype"]
  if meta["loom.step"] then
    info.step = math.tointeger(tonumber(meta["loom.step"]))
    if not info.step then
      return nil, string.format("%s: bad loom.step '%s'", path, meta["loom.step"])
    end
  end
  info.run = meta["loom.run"]
  info.run_metrics = math.tointeger(tonumber(meta["loom.run_metrics"] or ""))
  local rng = meta["loom.rng"] and unhex(meta["loom.rng"])
  if meta["loom.rng"] and not rng then
    return nil, string.format("%s: bad loom.rng '%s'", path, meta["loom.rng"])
  end
  if rng == string.rep("\0", 32) then -- the generator would return zeros forever
    return nil, string.format("%s: bad loom.rng: an all-zero generator state", path)
  end
  if targets.model then
    check.call(fn, targets.model.load_state_dict, targets.model, info.model, {strict = targets.strict ~= false})
  end
  if targets.optim then check.call(fn, targets.optim.load_state_dict, targets.optim, info.optim, info.optim_meta) end
  if rng and targets.rng ~= false then loom.rng_state(rng) end
  return info
end

-- The checkpoint file of a run: run:artifact(name), "checkpoint.safetensors" by default.
function checkpoint.path(run, name)
  check_has("loom.checkpoint.path", "run", run, "artifact")
  if name ~= nil then check.string("loom.checkpoint.path", "name", name) end
  return run:artifact(name or FILE)
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- checkpoint.resume(run_or_path, targets [, name]) -> step, info
-- Restores the run's checkpoint into targets when there is one and returns its step (0
-- and nil on a fresh run). A checkpoint that exists but does not load raises.
function checkpoint.resume(run, targets, name)
  if type(run) ~= "string" then check_has("loom.checkpoint.resume", "run", run, "artifact") end
  if targets ~= nil then check.table("loom.checkpoint.resume", "targets", targets) end
  local path = type(run) == "string" and run or checkpoint.path(run, name)
  if not exists(path) then return 0, nil end
  local info, err = checkpoint.load(path, targets)
  if not info then error("loom.checkpoint.resume: " .. err, 2) end
  -- A run that logged past its checkpoint before it died forgets those metrics.
  -- The rows it recorded before the checkpoint must all be there (run:checkpointing).
  if type(run) == "table" and type(run.rewind) == "function" then
    local ok, rerr = pcall(run.rewind, run, info.step or 0, info.run == run.id and info.run_metrics or nil)
    if not ok then error("loom.checkpoint.resume: " .. tostring(rerr), 2) end
  end
  return info.step or 0, info
end

return setmetatable(checkpoint, {__call = function(_, path, state) return checkpoint.save(path, state) end})
