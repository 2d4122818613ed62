-- loom.format: numpy-like text for matrices (the REPL's autoprint and tostring).
-- Not a general pretty-printer: values only, truncated with "..." when large.
local format = {}

local THRESHOLD = 1000 -- more elements than this are summarised, like numpy
local EDGE = 3         -- rows and columns kept at each edge of a summary
local PRECISION = 8    -- digits after the point at most

-- Indices to show along one dimension of length n (0 stands for the "..." gap).
local function shown(n, summarise)
  local idx = {}
  if summarise and n > 2 * EDGE then
    for i = 1, EDGE do idx[#idx + 1] = i end
    idx[#idx + 1] = 0
    for i = n - EDGE + 1, n do idx[#idx + 1] = i end
  else
    for i = 1, n do idx[i] = i end
  end
  return idx
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- Fewest digits (<= PRECISION) that print v as it prints with PRECISION digits; for a
-- float32 value, the fewest that read back as the same float32 (0.1, not 0.10000000149).
local function digits_needed(v, conv, single)
  local full = string.format("%." .. PRECISION .. conv, v)
  for p = 0, PRECISION do
    local s = string.format("%." .. p .. conv, v)
    if tonumber(s) == tonumber(full)
      or (single and string.pack("<f", tonumber(s)) == string.pack("<f", v)) then
      return p
    end
  end
  return PRECISION
end

-- Choose fixed or scientific notation for the shown values, like numpy's defaults.
local function chooser(values)
  local maxabs, minabs, all_int = 0, math.huge, true
  for _, v in ipairs(values) do
    if finite(v) then
      local a = math.abs(v)
      if a > maxabs then maxabs = a end
      if a ~= 0 and a < minabs then minabs = a end
      if v ~= math.floor(v) then all_int = false end
    end
  end
  local sci = maxabs >= 1e8 or (minabs < math.huge and (minabs < 1e-4 or maxabs / minabs > 1e3))
  if all_int and maxabs < 1e16 then sci = maxabs >= 1e16 end
  return sci and "e" or "f", all_int and not sci
end

-- digits: a fixed count after the point (scientific notation shares one, like numpy).
local function text_of(v, conv, all_int, digits, single)
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  if all_int then return string.format("%.0f.", v) end
  local s = string.format("%." .. (digits or digits_needed(v, conv, single)) .. conv, v)
  if conv == "f" and not s:find("%.") then s = s .. "." end
  if conv == "e" and not s:find("%.") then s = s:gsub("e", ".e") end
  return s
end

-- Pad so the decimal points line up: numbers right-aligned before the point, fractions
-- left-aligned after it; nan and inf (no point) right-aligned in the whole width.
local function align(texts)
  local before, after, special = 0, 0, 0
  for _, s in ipairs(texts) do
    local p = s:find("%.")
    if p then
      before = math.max(before, p - 1)
      after = math.max(after, #s - p + 1)
    else
      special = math.max(special, #s)
    end
  end
  local width = math.max(before + after, special)
  local out = {}
  for i, s in ipairs(texts) do
    local p = s:find("%.")
    if p then s = string.rep(" ", before - (p - 1)) .. s .. string.rep(" ", after - (#s - p + 1)) end
    out[i] = string.rep(" ", width - #s) .. s
  end
  return out
end

-- The dtype is shown when it is not the default, as numpy does.
function format.matrix(A)
  local rows, cols = A:shape()
  local single = A:dtype() == "float32"
  local dtype = single and ", dtype=float32" or ""
  if rows == 0 or cols == 0 then
    return string.format("matrix([], shape=%dx%d%s)", rows, cols, dtype)
  end
  local summarise = rows * cols > THRESHOLD
  local ri, ci = shown(rows, summarise), shown(cols, summarise)
  local values = {}
  for _, i in ipairs(ri) do
    for _, j in ipairs(ci) do
      if i > 0 and j > 0 then values[#values + 1] = A:get(i, j) end
    end
  end
  local conv, all_int = chooser(values)
  local digits
  if conv == "e" and not all_int then
    digits = 0
    for _, v in ipairs(values) do
      if finite(v) then digits = math.max(digits, digits_needed(v, "e", single)) end
    end
  end
  local texts = {}
  for k, v in ipairs(values) do texts[k] = text_of(v, conv, all_int, digits, single) end
  local padded = align(texts)
  local lines, k = {}, 0
  for _, i in ipairs(ri) do
    local cells = {}
    if i == 0 then
      lines[#lines + 1] = "..."
    else
      for _, j in ipairs(ci) do
        if j == 0 then
          cells[#cells + 1] = "..."
        else
          k = k + 1
          cells[#cells + 1] = padded[k]
        end
      end
      lines[#lines + 1] = "[" .. table.concat(cells, ", ") .. "]"
    end
  end
  local body = table.concat(lines, ",\n        ")
  local suffix = summarise and string.format(", shape=%dx%d", rows, cols) or ""
  return "matrix([" .. body .. "]" .. suffix .. dtype .. ")"
end

return format
