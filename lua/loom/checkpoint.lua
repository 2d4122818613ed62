-- loom.checkpoint: training state in one safetensors file (model, optimiser, generator,
-- step, extras) and PyTorch-layout model files. Not the file format (loom.save/loom.load, C).
--
-- A checkpoint's tensors: "model.<state_dict key>" (PyTorch layout: biases 1-D),
-- "optim.<path>" and "extra.<path>" for the optimiser's state and the caller's extras,
-- flattened with "." (numbers and booleans are 0-D tensors: F64, I64 for integers, BOOL).
-- Its metadata: "loom.format", "loom.step", "loom.rng" (hex), strings of the flattened
-- tables as "s:<text>", empty tables as "t:", and the caller's own metadata.
local loom = require "loom"

local checkpoint = {}

local FORMAT = "loom.checkpoint/1"
local FILE = "checkpoint.safetensors"

-- Shapes that make a loom state_dict PyTorch's: n x 1 biases become 1-D {n}.
function checkpoint.torch_shapes(state_dict)
  local shapes = {}
  for name, m in pairs(state_dict) do
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
  local sd = model:state_dict()
  local shapes = checkpoint.torch_shapes(sd)
  for k, v in pairs(opts and opts.shapes or {}) do shapes[k] = v end
  return loom.save(path, sd, metadata, {dtype = opts and opts.dtype, shapes = shapes})
end

-- Load a state_dict file into model (strict by default). -> model, metadata | nil, message
function checkpoint.load_model(path, model, opts)
  local tensors, metadata = loom.load(path)
  if not tensors then return nil, metadata end
  model:load_state_dict(tensors, {strict = not (opts and opts.strict == false)})
  return model, metadata
end

-- ---- flattening tables of matrices, numbers, booleans and strings ----

local function segment_ok(k)
  if math.type(k) == "integer" then return k >= 1 end
  return type(k) == "string" and k ~= "" and not k:find(".", 1, true)
    and not k:match("^[1-9]%d*$")
end

local function flatten(prefix, t, tensors, meta, shapes, dtypes, seen)
  if seen[t] then error("loom.checkpoint: " .. prefix .. " contains a cycle", 0) end
  seen[t] = true
  local empty = true
  for k, v in pairs(t) do
    empty = false
    if not segment_ok(k) then
      error(string.format("loom.checkpoint: key %q in %s cannot be stored (keys are positive "
        .. "integers or strings without '.' that do not look like integers)", tostring(k), prefix), 0)
    end
    local name = prefix .. "." .. tostring(k)
    local ty = type(v)
    if loom.is_matrix(v) then
      tensors[name] = v
    elseif ty == "number" then
      tensors[name] = loom.fill(1, 1, v)
      shapes[name] = {}
      dtypes[name] = math.type(v) == "integer" and "I64" or "F64"
    elseif ty == "boolean" then
      tensors[name] = loom.fill(1, 1, v and 1 or 0)
      shapes[name], dtypes[name] = {}, "BOOL"
    elseif ty == "string" then
      meta[name] = "s:" .. v
    elseif ty == "table" then
      flatten(name, v, tensors, meta, shapes, dtypes, seen)
    else
      error(string.format("loom.checkpoint: %s is a %s, which cannot be stored", name, ty), 0)
    end
  end
  if empty then meta[prefix] = "t:" end
  seen[t] = nil
end

-- Set root[path] = v, creating the tables on the way ("a.1.b" -> root.a[1].b).
local function unflatten(root, path, v)
  local t = root
  local keys = {}
  for seg in path:gmatch("[^.]+") do keys[#keys + 1] = math.tointeger(tonumber(seg)) or seg end
  for i = 1, #keys - 1 do
    local k = keys[i]
    if type(t[k]) ~= "table" then t[k] = {} end
    t = t[k]
  end
  if #keys > 0 then t[keys[#keys]] = v end
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
  if type(path) ~= "string" then error("loom.checkpoint: path must be a string", 2) end
  if type(state) ~= "table" then
    error("loom.checkpoint: expected {model = ..., optim = ..., step = ...}", 2)
  end
  local tensors, meta, shapes, dtypes = {}, {}, {}, {}
  for k, v in pairs(state.metadata or {}) do
    if type(k) == "string" and (k:match("^loom%.") or k:match("^optim%.") or k:match("^extra%.")
        or k == "optim" or k == "extra") then
      error(string.format("loom.checkpoint: metadata key '%s' is reserved", k), 2)
    end
    meta[k] = v
  end
  if state.model then
    local sd = state.model:state_dict()
    local torch = checkpoint.torch_shapes(sd)
    for k, m in pairs(sd) do
      tensors["model." .. k] = m
      shapes["model." .. k] = torch[k]
    end
  end
  if state.optim then
    flatten("optim", state.optim:state_dict(), tensors, meta, shapes, dtypes, {})
  end
  if state.extra then flatten("extra", state.extra, tensors, meta, shapes, dtypes, {}) end
  meta["loom.format"] = FORMAT
  if state.step ~= nil then
    if math.type(state.step) ~= "integer" then
      error("loom.checkpoint: step must be an integer, got " .. tostring(state.step), 2)
    end
    meta["loom.step"] = tostring(state.step)
  end
  if state.rng ~= false then meta["loom.rng"] = hex(loom.rng_state()) end
  if state.dtype then
    for name in pairs(tensors) do
      if name:match("^model%.") or not dtypes[name] then dtypes[name] = state.dtype end
    end
  end
  return loom.save(path, tensors, meta, {shapes = shapes, dtypes = dtypes})
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
-- optim = state}. Mismatched model keys or shapes raise (load_state_dict's errors).
function checkpoint.load(path, targets)
  targets = targets or {}
  local tensors, meta, shapes, dtypes = loom.load(path)
  if not tensors then return nil, meta end
  if meta["loom.format"] ~= FORMAT then
    return nil, string.format("%s: not a loom checkpoint (metadata loom.format is %s)", path,
      meta["loom.format"] and ("'" .. meta["loom.format"] .. "'") or "missing")
  end
  local info = {model = {}, optim = {}, extra = {}, metadata = {}}
  for name, m in pairs(tensors) do
    local key = name:match("^model%.(.*)$")
    if key then
      info.model[key] = m
    elseif name:match("^optim%.") or name:match("^extra%.") then
      unflatten(info, name, #shapes[name] == 0 and scalar(m, dtypes[name]) or m)
    else
      return nil, string.format("%s: unexpected tensor '%s' in a checkpoint", path, name)
    end
  end
  for k, v in pairs(meta) do
    local root = k:match("^(%a+)") 
    if (root == "optim" or root == "extra") and (k == root or k:sub(#root + 1, #root + 1) == ".") then
      local kind, text = v:sub(1, 2), v:sub(3)
      if kind == "s:" then unflatten(info, k, text)
      elseif kind == "t:" then unflatten(info, k, {})
      else return nil, string.format("%s: bad metadata %s = '%s'", path, k, v) end
    elseif not k:match("^loom%.") then
      info.metadata[k] = v
    end
  end
  if meta["loom.step"] then
    info.step = math.tointeger(tonumber(meta["loom.step"]))
    if not info.step then
      return nil, string.format("%s: bad loom.step '%s'", path, meta["loom.step"])
    end
  end
  local rng = meta["loom.rng"] and unhex(meta["loom.rng"])
  if meta["loom.rng"] and not rng then
    return nil, string.format("%s: bad loom.rng '%s'", path, meta["loom.rng"])
  end
  if targets.model then
    targets.model:load_state_dict(info.model, {strict = targets.strict ~= false})
  end
  if targets.optim then targets.optim:load_state_dict(info.optim) end
  if rng and targets.rng ~= false then loom.rng_state(rng) end
  return info
end

-- The checkpoint file of a run: run:artifact(name), "checkpoint.safetensors" by default.
function checkpoint.path(run, name)
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
  local path = type(run) == "string" and run or checkpoint.path(run, name)
  if not exists(path) then return 0, nil end
  local info, err = checkpoint.load(path, targets)
  if not info then error("loom.checkpoint.resume: " .. err, 2) end
  return info.step or 0, info
end

return setmetatable(checkpoint, {__call = function(_, path, state) return checkpoint.save(path, state) end})
