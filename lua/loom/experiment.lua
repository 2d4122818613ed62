-- loom.experiment: the experiment contract: a script returns loom.experiment{name, params,
-- run}; `loom run` parses key=value overrides against params, seeds, and calls run(p, run).
-- Not the run store (loom.runs) nor progress display; those hook in through `recorder`.
local check = require "loom.check"
local experiment = {}

local Experiment = {}
Experiment.__index = Experiment
experiment.Experiment = Experiment

function experiment.is_experiment(x)
  return getmetatable(x) == Experiment
end

local PARAM_TYPES = {integer = true, number = true, string = true, boolean = true}

-- The kind of a default: integer for 50, number for 0.1, else Lua's type name.
local function kind_of(v)
  if type(v) == "number" then return math.type(v) == "integer" and "integer" or "number" end
  return type(v)
end

-- One params entry: a plain default (lr = 0.1), or {default, "description"} with an
-- optional type = "number" (a real-valued param whose default happens to be whole).
-- Returns default, description, kind or raises naming the param.
local function param_spec(k, v)
  local default, doc, kind = v, nil, nil
  if type(v) == "table" then
    default, doc, kind = v[1], v[2], v.type
    if doc ~= nil and type(doc) ~= "string" then
      error(string.format("loom.experiment: param %s: the description must be a string, got %s",
        tostring(k), type(doc)), 3)
    end
    if kind ~= nil and not PARAM_TYPES[kind] then
      error(string.format("loom.experiment: param %s: type must be integer, number, string or boolean, got %s",
        tostring(k), tostring(kind)), 3)
    end
  end
  local t = type(default)
  if type(k) ~= "string" or (t ~= "number" and t ~= "string" and t ~= "boolean") then
    error(string.format("loom.experiment: param %s must be a number, string or boolean, got %s",
      tostring(k), default == nil and type(v) or t), 3)
  end
  local natural = kind_of(default)
  if kind == nil or (kind == "number" and natural == "integer") then kind = kind or natural
  elseif kind ~= natural then
    error(string.format("loom.experiment: param %s is declared %s but its default %s is %s",
      k, kind, tostring(default), natural == "integer" and "an integer" or ("a " .. natural)), 3)
  end
  if kind == "number" then default = default + 0.0 end
  return default, doc, kind
end

-- loom.experiment{name = "...", params = {lr = 0.1, hidden = {64, "hidden units"}, ...},
--                 run = function(p, run) ... end, description = "..."}
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
  if spec.adjust ~= nil and type(spec.adjust) ~= "function" then
    error("loom.experiment: 'adjust' must be a function(p, given)", 2)
  end
  local given = spec.params or {}
  if type(given) ~= "table" then error("loom.experiment: 'params' must be a table", 2) end
  -- e.params stays name -> default, so code that reads defaults sees plain values.
  local params, docs, kinds = {}, {}, {}
  for k, v in pairs(given) do params[k], docs[k], kinds[k] = param_spec(k, v) end
  if params.seed == nil then params.seed, kinds.seed = 42, "integer" end
  docs.seed = docs.seed or "seed of loom's generator and math.random"
  return setmetatable({name = spec.name, params = params, param_docs = docs, param_types = kinds,
    run = spec.run, adjust = spec.adjust, description = spec.description}, Experiment)
end

-- Sorted names of an experiment's params.
function experiment.param_names(e)
  local names = {}
  for k in pairs(e.params) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- The kind of param k: integer, number, string or boolean.
function experiment.param_type(e, k)
  return (e.param_types and e.param_types[k]) or kind_of(e.params[k])
end

local function default_text(v)
  if type(v) == "string" then return v == "" and '""' or v end
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 1e15 then
    return string.format("%.1f", v)
  end
  return tostring(v)
end

function experiment.help(e)
  local lines = {string.format("experiment %s%s", e.name,
    e.description and (": " .. e.description) or ""), "params (key=value):"}
  local names = experiment.param_names(e)
  local wname, wdefault = 4, 4
  for _, k in ipairs(names) do
    wname = math.max(wname, #k)
    wdefault = math.max(wdefault, #default_text(e.params[k]))
  end
  for _, k in ipairs(names) do
    local doc = e.param_docs and e.param_docs[k]
    lines[#lines + 1] = (string.format("  %-" .. wname .. "s  %-7s  default %-" .. wdefault .. "s  %s",
      k, experiment.param_type(e, k), default_text(e.params[k]), doc or "")):gsub("%s+$", "")
  end
  return table.concat(lines, "\n")
end

-- Edit distance between two short names, a swap of neighbours counting as one edit
-- (nosie -> noise), for "did you mean".
local function distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = {[0] = i} end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
      end
    end
  end
  return d[#a][#b]
end

-- The param name nearest to a mistyped one, or nil when none is close.
function experiment.suggest(e, key)
  local best, best_d
  for _, k in ipairs(experiment.param_names(e)) do
    local d = distance(key:lower(), k:lower())
    if d <= math.max(1, #k // 3) and (not best_d or d < best_d) then best, best_d = k, d end
  end
  return best
end

-- Convert one "key=value" override to the type of the param's default.
local function convert(e, key, text)
  local default = e.params[key]
  if default == nil then
    local near = experiment.suggest(e, key)
    return nil, string.format("unknown param '%s'%s\n%s", key,
      near and string.format(" (did you mean '%s'?)", near) or "", experiment.help(e))
  end
  local t = type(default)
  if t == "number" then
    local v = tonumber(text)
    local function bad(what)
      return nil, string.format("param '%s' expects %s, got '%s'\n%s", key, what, text, experiment.help(e))
    end
    if not v then return bad("a number") end
    if experiment.param_type(e, key) == "integer" and math.type(v) ~= "integer" then
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
-- key = value fields (from Lua), both checked against the defaults' types; then the
-- experiment's adjust(p, given), which may change params the overrides did not name (given:
-- the set of names they did). nil and a message on a bad override.
function experiment.resolve(e, overrides)
  local p, given = {}, {}
  for k, v in pairs(e.params) do p[k] = v end
  for k, v in pairs(overrides or {}) do
    if type(k) == "string" then
      local text = type(v) == "number" and math.type(v) == "float" and string.format("%.17g", v) or tostring(v)
      local converted, err = convert(e, k, text)
      if converted == nil then return nil, err end
      p[k], given[k] = converted, true
    end
  end
  for _, item in ipairs(overrides or {}) do
    local key, text = item:match("^([%w_%.%-]+)=(.*)$")
    if not key then
      return nil, string.format("expected key=value, got '%s'\n%s", item, experiment.help(e))
    end
    local v, err = convert(e, key, text)
    if v == nil then return nil, err end
    p[key], given[key] = v, true
  end
  if e.adjust then
    local before = {}
    for k, v in pairs(p) do before[k] = v end
    e.adjust(p, given)
    for k in pairs(before) do
      if p[k] == nil then error(string.format("%s: adjust removed the param '%s'", e.name, k), 0) end
    end
    for k, v in pairs(p) do
      if before[k] == nil then error(string.format("%s: adjust added the param '%s', which has no default", e.name, k), 0) end
      if given[k] and v ~= before[k] then
        error(string.format("%s: adjust changed the param '%s', which was given", e.name, k), 0)
      end
      local kind = experiment.param_type(e, k)
      if type(v) ~= type(before[k]) or (kind == "integer" and math.type(v) ~= "integer") then
        error(string.format("%s: adjust gave the %s param '%s' the value %s", e.name, kind, k, tostring(v)), 0)
      end
    end
  end
  return p
end

-- experiment.parse_command(args, spec) -> input, options | nil, usage: the arguments after a
-- command word (args[1]) as `INPUT [--name VALUE]... [--flag]...`. spec.options lists the
-- options that take a value, spec.flags those that do not (both without "--"), spec.required
-- the options that must be given; spec.usage is the usage line returned for anything else
-- (an unknown option, a second input, a missing value or input).
local COMMAND_SPEC = {usage = "string", options = "list", flags = "list", required = "list", prefix = "string",
  run = "function"}

local function command_spec(fn, spec)
  spec = check.options(fn, spec, COMMAND_SPEC)
  if not spec.usage then check.fail(fn, "spec.usage must be a string, got nil") end
  return spec
end

function experiment.parse_command(args, spec)
  if type(args) ~= "table" then check.fail("loom.experiment.parse_command", "args must be a list, got %s", type(args)) end
  spec = command_spec("loom.experiment.parse_command", spec)
  local usage = spec.usage .. "\n"
  local takes, flag = {}, {}
  for _, name in ipairs(spec.options or {}) do takes[name] = true end
  for _, name in ipairs(spec.flags or {}) do flag[name] = true end
  local input, opts, i = nil, {}, 2
  while i <= #args do
    local a, name = args[i], args[i]:match("^%-%-(.+)$")
    if name and takes[name] and args[i + 1] then opts[name], i = args[i + 1], i + 1
    elseif name and flag[name] then opts[name] = true
    elseif not name and not input then input = a
    else return nil, usage end
    i = i + 1
  end
  if not input then return nil, usage end
  for _, name in ipairs(spec.required or {}) do
    if not opts[name] then return nil, usage end
  end
  return input, opts
end

-- experiment.command(word, spec): lets an experiment script also be a command-line tool.
-- When the calling script is the one `loom SCRIPT word ...` runs, parses its arguments
-- (experiment.parse_command), calls spec.run(input, options) and exits: 0 when it returns,
-- 2 with the usage line on standard error for bad arguments, 1 with the error (after
-- spec.prefix, if any) when it raises. Otherwise (loaded by `loom run`, a test, a sweep)
-- it does nothing.
function experiment.command(word, spec)
  if type(word) ~= "string" then check.fail("loom.experiment.command", "word must be a string, got %s", type(word)) end
  spec = command_spec("loom.experiment.command", spec)
  if not spec.run then check.fail("loom.experiment.command", "spec.run must be a function, got nil") end
  local source = debug.getinfo(2, "S").source
  if not (arg and arg[0] and source == "@" .. arg[0] and arg[1] == word) then return end
  local input, opts = experiment.parse_command(arg, spec)
  if not input then
    io.stderr:write(opts)
    os.exit(2)
  end
  local ok, err = pcall(spec.run, input, opts)
  if not ok then
    io.stderr:write(spec.prefix or "", tostring(err), "\n")
    os.exit(1)
  end
  os.exit(0)
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
