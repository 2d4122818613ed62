-- loom.runs.plot: line plots through gnuplot: PNG (pngcairo, else libgd png), SVG, or text
-- on the terminal (`set terminal dumb`). Not a plotting library: series of (x, y) lines only.
local store = require "loom.runs.store"

local plot = {}

local DEFAULT_SIZE = {800, 500}

local function gnuplot_ok(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- The best PNG terminal this gnuplot has (cached): "pngcairo" or "png", or nil.
local png_terminal
function plot.png_terminal()
  if png_terminal == nil then
    png_terminal = false
    for _, t in ipairs{"pngcairo", "png"} do
      if gnuplot_ok("gnuplot -e " .. store.quote("set terminal " .. t)) then
        png_terminal = t
        break
      end
    end
  end
  return png_terminal or nil
end

local has_gnuplot
function plot.available()
  if has_gnuplot == nil then has_gnuplot = gnuplot_ok("gnuplot --version") end
  return has_gnuplot
end

-- A gnuplot string literal (single quotes: no escapes except '' for a quote).
local function str(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end

local function number(v)
  if type(v) ~= "number" or v ~= v then return "NaN" end
  if v == math.huge then return "Inf" end
  if v == -math.huge then return "-Inf" end
  return string.format("%.17g", v)
end

local function terminal_line(output, size)
  local w, h = size[1], size[2]
  if not output then
    return string.format("set terminal dumb noenhanced size %d,%d", w, h)
  end
  local ext = output:match("%.(%w+)$")
  ext = ext and ext:lower()
  if ext == "png" then
    local t = plot.png_terminal()
    if not t then return nil, "gnuplot has no PNG terminal (apt-get install gnuplot-nox)" end
    return string.format("set terminal %s noenhanced size %d,%d", t, w, h)
  elseif ext == "svg" then
    return string.format("set terminal svg noenhanced size %d,%d", w, h)
  end
  return nil, string.format("cannot tell the format of '%s': use a .png or .svg file name", output)
end

-- Run gnuplot on the script lines; the data file is removed afterwards.
-- -> true, text (the terminal plot) | nil, message
local function run_gnuplot(lines, data)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  local err_file = os.tmpname()
  local p = io.popen("gnuplot " .. store.quote(script) .. " 2>" .. store.quote(err_file))
  local text = p:read("a")
  local ok = p:close()
  local ef = io.open(err_file)
  local err = ef and ef:read("a") or ""
  if ef then ef:close() end
  os.remove(data); os.remove(script); os.remove(err_file)
  if not ok then return nil, "gnuplot failed: " .. err end
  return true, text
end

-- plot.draw{output = "f.png"|"f.svg"|nil (terminal), series = {{title =, x = {...}, y = {...}}},
--           title =, xlabel =, ylabel =, logy = false, size = {w, h}} -> true | nil, message
-- Without output the text plot is returned as the second value (and not printed).
function plot.draw(spec)
  if not plot.available() then return nil, "gnuplot not found (apt-get install gnuplot-nox)" end
  local size = spec.size or (spec.output and DEFAULT_SIZE or {math.min(require("loom.core").process.columns() or 100, 120), 30})
  local term, terr = terminal_line(spec.output, size)
  if not term then return nil, terr end
  local data = os.tmpname()
  local f = assert(io.open(data, "w"))
  local plots = {}
  for i, s in ipairs(spec.series) do
    if #s.x ~= #s.y then
      f:close(); os.remove(data)
      return nil, string.format("series %d has %d x values and %d y values", i, #s.x, #s.y)
    end
    for k = 1, #s.x do f:write(number(s.x[k]), " ", number(s.y[k]), "\n") end
    if #s.x == 0 then f:write("NaN NaN\n") end
    f:write("\n\n")
    plots[#plots + 1] = string.format("%s index %d using 1:2 with %s title %s", str(data), i - 1,
      s.style or (#s.x == 1 and "points" or "lines"), str(s.title or ("series " .. i)))
  end
  f:close()
  local lines = {term, spec.output and ("set output " .. str(spec.output)) or "set output",
    "set grid", "set key outside right top", "set datafile missing 'NaN'"}
  if spec.title then lines[#lines + 1] = "set title " .. str(spec.title) end
  if spec.xlabel then lines[#lines + 1] = "set xlabel " .. str(spec.xlabel) end
  if spec.ylabel then lines[#lines + 1] = "set ylabel " .. str(spec.ylabel) end
  if spec.logy then lines[#lines + 1] = "set logscale y" end
  lines[#lines + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  return run_gnuplot(lines, data)
end

-- plot.heatmap{output = "f.png"|"f.svg"|nil, values = {{...}, ...} (rows top to bottom),
--              xlabels = {...}, ylabels = {...}, title =, xlabel =, ylabel =, size = {w, h}}
--   -> true | nil, message
-- A matrix drawn as coloured cells (gnuplot's `matrix with image`), e.g. attention weights
-- with source words along x and output words along y. Labels are optional.
function plot.heatmap(spec)
  if not plot.available() then return nil, "gnuplot not found (apt-get install gnuplot-nox)" end
  local rows = spec.values or {}
  if #rows == 0 or #rows[1] == 0 then return nil, "heatmap: no values to draw" end
  local ncols = #rows[1]
  for i, r in ipairs(rows) do
    if #r ~= ncols then return nil, string.format("heatmap: row %d has %d values, row 1 has %d", i, #r, ncols) end
  end
  local size = spec.size or (spec.output and DEFAULT_SIZE or {math.min(require("loom.core").process.columns() or 100, 120), 30})
  local term, terr = terminal_line(spec.output, size)
  if not term then return nil, terr end
  local data = os.tmpname()
  local f = assert(io.open(data, "w"))
  for _, r in ipairs(rows) do
    local cells = {}
    for j, v in ipairs(r) do cells[j] = number(v) end
    f:write(table.concat(cells, " "), "\n")
  end
  f:close()
  local function tics(axis, labels)
    if not labels then return nil end
    local parts = {}
    for i, l in ipairs(labels) do parts[i] = string.format("%s %d", str(l), i - 1) end
    return string.format("set %stics (%s)%s", axis, table.concat(parts, ", "), axis == "x" and " rotate by 45 right" or "")
  end
  local lines = {term, spec.output and ("set output " .. str(spec.output)) or "set output",
    "set palette grey negative", "set cbrange [0:*]", "set yrange [] reverse",
    string.format("set xrange [-0.5:%g]", ncols - 0.5), string.format("set yrange [%g:-0.5]", #rows - 0.5),
    tics("x", spec.xlabels), tics("y", spec.ylabels)}
  if spec.title then lines[#lines + 1] = "set title " .. str(spec.title) end
  if spec.xlabel then lines[#lines + 1] = "set xlabel " .. str(spec.xlabel) end
  if spec.ylabel then lines[#lines + 1] = "set ylabel " .. str(spec.ylabel) end
  lines[#lines + 1] = "plot " .. str(data) .. " matrix with image notitle"
  return run_gnuplot(lines, data)
end

return plot
