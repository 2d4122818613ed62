-- loom.check: the one argument and options checker of loom's Lua half. Every check raises
-- "<public name>: <what> must be ..., got ..." at the first caller outside lua/loom/, so the
-- message names the function and points at the user's line. Not for the C bindings (they
-- check their own arguments in C, src/bind/common.c).
local core = require "loom.core"

local is_matrix = core.matrix.is_matrix
local check = {}

-- The directory of loom's Lua files ("@/.../lua/loom/"): frames from there are loom's own.
local own_prefix = debug.getinfo(1, "S").source:match("^(@.*[/\\])[^/\\]*$")

-- The stack level (as error() counts from its caller) of the first frame that is not a Lua
-- function of loom's own: the user's line, or a C function such as pcall (no position).
local function user_level()
  local level = 3
  while true do
    local info = debug.getinfo(level, "S")
    if not info then return 1 end
    if not (info.what ~= "C" and own_prefix and info.source:sub(1, #own_prefix) == own_prefix) then
      return level - 1
    end
    level = level + 1
  end
end

-- fail(fn, fmt, ...): raise "fn: <formatted message>" at the user's line.
function check.fail(fn, fmt, ...)
  error(fn .. ": " .. string.format(fmt, ...), user_level())
end

local function reraise(fn, ok, ...)
  if ok then return ... end
  local err = ...
  -- A C function reached through a wrapper has no name of its own ("to '?'"): the wrapper's
  -- public name takes its place, at the user's line.
  local n, why
  if type(err) == "string" then n, why = err:match("^bad argument #(%d+) to '%?' (%(.*%))$") end
  if n then error(string.format("%s: bad argument #%s %s", fn, n, why), user_level()) end
  if type(err) ~= "string" or err:find("attempt to", 1, true) or err:find("bad argument", 1, true) then
    error(err, 0) -- Lua's own words: a bug to see as it is, with its position
  end
  -- loom's own position (a C error raised from a wrapper's line) gives way to the user's
  local src, rest = err:match("^([^\n:]*):%d+: (.*)$")
  if src and own_prefix and ("@" .. src):sub(1, #own_prefix) == own_prefix then err = rest end
  if err:sub(1, #fn + 2) ~= fn .. ": " then err = fn .. ": " .. err end
  error(err, user_level())
end

-- call(fn, f, ...) -> f(...): a C function (or a callback) called on behalf of the public
-- function fn. Its error is raised at the user's line and starts with fn.
function check.call(fn, f, ...)
  return reraise(fn, pcall(f, ...))
end

-- What a value is, for "got ...": "matrix", or its Lua type.
function check.kind(v)
  if is_matrix(v) then return "matrix" end
  return type(v)
end
local kind = check.kind

-- A value as a message shows it: numbers and strings themselves, others their kind.
local function shown(v)
  if type(v) == "number" then return v ~= v and "nan" or string.format("%.14g", v) end
  if type(v) == "string" then return string.format("%q", v) end
  return kind(v)
end
check.shown = shown

function check.matrix(fn, what, v)
  if not is_matrix(v) then check.fail(fn, "%s must be a matrix, got %s", what, kind(v)) end
  return v
end

-- table(fn, what, v), string(...), func(...): v of that Lua type, returned.
local function of_type(lua_type, name)
  return function(fn, what, v)
    if type(v) ~= lua_type then check.fail(fn, "%s must be a %s, got %s", what, name, kind(v)) end
    return v
  end
end
check.table = of_type("table", "table")
check.string = of_type("string", "string")
check.func = of_type("function", "function")

-- The range part of a message: " >= 1", " in 0..8", "".
local function range_text(min, max)
  if min and max then return string.format(" in %s..%s", shown(min), shown(max)) end
  if min then return " >= " .. shown(min) end
  if max then return " <= " .. shown(max) end
  return ""
end

-- integer(fn, what, v [, min [, max]]) -> v as an integer (whole floats are accepted).
function check.integer(fn, what, v, min, max)
  local i = type(v) == "number" and math.tointeger(v) or nil
  if not i or (min and i < min) or (max and i > max) then
    check.fail(fn, "%s must be an integer%s, got %s", what, range_text(min, max), shown(v))
  end
  return i
end

-- number(fn, what, v [, min [, max]]) -> v, a finite number within the bounds.
function check.number(fn, what, v, min, max)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge
      or (min and v < min) or (max and v > max) then
    check.fail(fn, "%s must be a finite number%s, got %s", what, range_text(min, max), shown(v))
  end
  return v
end

-- list(fn, what, v [, nonempty]) -> v, a table used as a sequence.
function check.list(fn, what, v, nonempty)
  if type(v) ~= "table" or is_matrix(v) then
    check.fail(fn, "%s must be a %slist, got %s", what, nonempty and "non-empty " or "", kind(v))
  end
  if nonempty and #v == 0 then check.fail(fn, "%s must be a non-empty list, got an empty one", what) end
  return v
end

-- ---- options tables ----

-- Levenshtein distance, for "did you mean".
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- The known name closest to `name` when it is a plausible misspelling, else nil.
function check.suggest(name, names)
  if type(name) ~= "string" then return nil end
  local best, best_d
  for _, known in ipairs(names) do
    local d = distance(name:lower(), known:lower())
    if d < (best_d or math.huge) or (d == best_d and known < best) then best, best_d = known, d end
  end
  if best and best_d <= (#name <= 3 and 1 or 2) then return best end
  return nil
end

local function sorted_names(spec)
  local names = {}
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- Whether v has the kind a spec entry names: a Lua type, "matrix", "integer" (a whole
-- number), "list" (a table that is not a matrix) or "any".
local function has_kind(v, want)
  if want == "any" then return true end
  if want == "matrix" then return is_matrix(v) end
  if want == "integer" then return type(v) == "number" and math.tointeger(v) ~= nil end
  if want == "list" then return type(v) == "table" end
  return type(v) == want
end

-- options(fn, opts, spec) -> opts (a fresh empty table for nil). spec maps each option
-- name to its kind (see has_kind); an unknown name raises with a "did you mean" hint.
function check.options(fn, opts, spec)
  if opts == nil then return {} end
  if type(opts) ~= "table" or is_matrix(opts) then
    check.fail(fn, "options must be a table, got %s", kind(opts))
  end
  for k, v in pairs(opts) do
    local want = spec[k]
    if not want then
      local hint = check.suggest(k, sorted_names(spec))
      check.fail(fn, "unknown option %s%s", type(k) == "string" and ("'" .. k .. "'") or shown(k),
        hint and string.format(" (did you mean '%s'?)", hint) or "")
    end
    if not has_kind(v, want) then
      check.fail(fn, "option '%s' must be a%s %s, got %s", k, want:match("^[aeiou]") and "n" or "",
        want, kind(v))
    end
  end
  return opts
end

return check
