-- loom.experiment: the experiment contract: a script returns loom.experiment{name, params,
-- run}; `loom run` parses key=value overrides against params, seeds, and calls run(p, run).
-- Not the run store (loom.runs) nor progress display; those hook in through `recorder`.
local experiment = {}

local Experiment = {}
Experiment.__index = Experiment
experiment.Experiment = Experiment

function experiment.is_experiment(x)
  return getmetatable(x) == Experiment
end

-- loom.experiment{name = "...", params = {lr = 0.1, ...}, run = function(p, run) ... end,
--                 description = "..."}
function experiment.new(spec)
  if type(spec) ~= "table" then
    error("loom.experiment: expected a table {name = ..., params = {...}, run = function}", 2)
  end
  if type(spec.name) ~= "string" or spec.name == "" then
    error("loom.experiment: 'name' must be a non-empty string", 2)
  end
  if type(spec.run) ~= "function" then
    error("loom.experiment: 'run' must be a function(p, run)", 2)
  end
  local params = spec.params or {}
  if type(params) ~= "table" then error("loom.experiment: 'params' must be a table", 2) end
  for k, v in pairs(params) do
    local t = type(v)
    if type(k) ~= "string" or (t ~= "number" and t ~= "string" and t ~= "boolean") then
      error(string.format("loom.experiment: param %s must be a number, string or boolean, got %s",
        tostring(k), t), 2)
    end
  end
  if params.seed == nil then params.seed = 42 end
  return setmetatable({name = spec.name, params = params, run = spec.run,
    description = spec.description}, Experiment)
end

-- Sorted names of an experiment's params.
function experiment.param_names(e)
  local names = {}
  for k in pairs(e.params) do names[#names + 1] = k end
  table.sort(names)
  return names
end

function experiment.help(e)
  local lines = {string.format("experiment %s%s", e.name,
    e.description and (": " .. e.description) or ""), "params (key=value):"}
  for _, k in ipairs(experiment.param_names(e)) do
    local v = e.params[k]
    lines[#lines + 1] = string.format("  %-16s %-8s default %s", k, type(v), tostring(v))
  end
  return table.concat(lines, "\n")
end

-- Convert one "key=value" override to the type of the param's default.
local function convert(e, key, text)
  local default = e.params[key]
  if default == nil then
    return nil, string.format("unknown param '%s'\n%s", key, experiment.help(e))
  end
  local t = type(default)
  if t == "number" then
    local v = tonumber(text)
    local function bad(what)
      return nil, string.format("param '%s' expects %s, got '%s'\n%s", key, what, text, experiment.help(e))
    end
    if not v then return bad("a number") end
    if math.type(default) == "integer" and math.type(v) ~= "integer" then
      -- nil for fractions, inf and whole numbers beyond the 64-bit integers (1e400, 2^63)
      v = math.tointeger(v)
      if not v then return bad("an integer") end
    end
    -- 1e400 reads as inf: every param means a finite number.
    if v ~= v or v == math.huge or v == -math.huge then return bad("a finite number") end
    return v
  elseif t == "boolean" then
    if text == "true" or text == "1" or text == "yes" then return true end
    if text == "false" or text == "0" or text == "no" then return false end
    return nil, string.format("param '%s' expects true or false, got '%s'\n%s", key, text, experiment.help(e))
  end
  return text
end

-- Params from defaults and overrides: "key=value" strings (the command line) and/or
-- key = value fields (from Lua), both checked against the defaults' types; nil and a
-- message on a bad override.
function experiment.resolve(e, overrides)
  local p = {}
  for k, v in pairs(e.params) do p[k] = v end
  for k, v in pairs(overrides or {}) do
    if type(k) == "string" then
      local text = type(v) == "number" and math.type(v) == "float" and string.format("%.17g", v) or tostring(v)
      local converted, err = convert(e, k, text)
      if converted == nil then return nil, err end
      p[k] = converted
    end
  end
  for _, item in ipairs(overrides or {}) do
    local key, text = item:match("^([%w_%.%-]+)=(.*)$")
    if not key then
      return nil, string.format("expected key=value, got '%s'\n%s", item, experiment.help(e))
    end
    local v, err = convert(e, key, text)
    if v == nil then return nil, err end
    p[key] = v
  end
  return p
end

-- Load an experiment script: it must return loom.experiment{...}.
function experiment.load(path)
  local chunk, err = loadfile(path)
  if not chunk then return nil, err end
  local ok, e = pcall(chunk)
  if not ok then return nil, tostring(e) end
  if not experiment.is_experiment(e) then
    return nil, path .. ": the script must end with `return loom.experiment{...}`"
  end
  e.script = path
  return e
end

return experiment
