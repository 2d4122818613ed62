-- loom.runs.json: a JSON encoder for `loom runs export --json` and stored result tables.
-- Not a decoder: the store keeps values in typed columns and never reads JSON back.
local json = {}

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}

local function string_literal(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- A table is a JSON array when its keys are exactly 1..n (the empty table is an object).
local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

-- The shortest text that reads back as the same double (0.1, not 0.10000000000000001).
function json.number(v)
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

local function encode(v, indent, depth, seen)
  local t = type(v)
  if v == nil or v == json.null then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    return json.number(v)
  end
  if t == "string" then return string_literal(v) end
  if t ~= "table" then return string_literal(tostring(v)) end
  if seen[v] then error("json.encode: a table contains itself", 0) end
  seen[v] = true
  local nl = indent and ("\n" .. string.rep(indent, depth + 1)) or ""
  local close = indent and ("\n" .. string.rep(indent, depth)) or ""
  local sep = indent and ": " or ":"
  local parts = {}
  if is_array(v) then
    for i = 1, #v do parts[i] = nl .. encode(v[i], indent, depth + 1, seen) end
    seen[v] = nil
    return "[" .. table.concat(parts, ",") .. close .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local value = v[k]
    if value == nil then value = v[tonumber(k)] end
    parts[#parts + 1] = nl .. string_literal(k) .. sep .. encode(value, indent, depth + 1, seen)
  end
  seen[v] = nil
  if #parts == 0 then return "{}" end
  return "{" .. table.concat(parts, ",") .. close .. "}"
end

-- A value that encodes as null inside tables (where nil would vanish).
json.null = setmetatable({}, {__tostring = function() return "null" end})

-- json.encode(value [, indent]) -> text; indent (e.g. "  ") pretty-prints.
function json.encode(v, indent)
  return encode(v, indent, 0, {})
end

return json
