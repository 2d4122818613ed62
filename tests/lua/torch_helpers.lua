-- torch_helpers.lua: what the PyTorch reference tests of attention and seq2seq share:
-- matrices to and from "name rows cols v1 v2 ..." lines, and one run of a Python program
-- over them. Not a test file (no test_ prefix).
local loom = require "loom"

local h = {}

-- Append m as one line (row-major, 17 significant digits) to the list `lines`.
function h.serialize(lines, name, m)
  local vals = {}
  for _, v in ipairs(m:tolist()) do vals[#vals + 1] = string.format("%.17g", v) end
  lines[#lines + 1] = string.format("%s %d %d %s", name, m:rows(), m:cols(), table.concat(vals, " "))
end

-- The matrices of the lines Python printed, by name.
function h.parse(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local name, r, c, rest = line:match("^(%S+) (%d+) (%d+) ?(.*)$")
    if name then
      local m, k = loom.zeros(tonumber(r), tonumber(c)), 0
      for v in rest:gmatch("%S+") do m:set(k // m:cols() + 1, k % m:cols() + 1, tonumber(v)); k = k + 1 end
      t[name] = m
    end
  end
  return t
end

-- Run program with python py on the serialized lines (its first argument is their file,
-- then args): -> the parsed matrices, the raw output.
function h.run(py, program, lines, args)
  local base = os.tmpname()
  local f = assert(io.open(base .. ".in", "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  f = assert(io.open(base .. ".py", "w"))
  f:write(program)
  f:close()
  local p = assert(io.popen(string.format("%s %s.py %s.in %s 2>&1", py, base, base, args or "")))
  local text = p:read("a")
  p:close()
  os.remove(base .. ".in"); os.remove(base .. ".py"); os.remove(base)
  return h.parse(text), text
end

return h
