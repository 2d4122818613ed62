-- loom.runs.plot: line plots and heat maps through gnuplot: PNG (pngcairo, else libgd png), SVG,
-- or text on the terminal (`set terminal dumb`). Not a plotting library: xy series and matrices only.
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

-- Axis settings beyond labels: log scales, ranges, explicit ticks, the legend's place and
-- dashed vertical markers (e.g. "iterative methods overtake here").
local function axis_lines(spec)
  local lines = {}
  -- %g keeps log-axis labels short (1e+06, 0.001) instead of gnuplot's fixed six decimals
  if spec.logx then lines[#lines + 1] = "set logscale x"; lines[#lines + 1] = "set format x '%g'" end
  if spec.logy then lines[#lines + 1] = "set logscale y"; lines[#lines + 1] = "set format y '%g'" end
  for _, axis in ipairs{"x", "y"} do
    local range = spec[axis .. "range"]
    if range then
      lines[#lines + 1] = string.format("set %srange [%s:%s]", axis,
        range[1] and number(range[1]) or "*", range[2] and number(range[2]) or "*")
    end
    local tics = spec[axis .. "tics"]
    if tics then
      local t = {}
      for i, v in ipairs(tics) do t[i] = string.format("%s %s", str(string.format("%g", v)), number(v)) end
      lines[#lines + 1] = string.format("set %stics (%s)", axis, table.concat(t, ", "))
    end
  end
  if spec.key then lines[#lines + 1] = "set key " .. spec.key end
  for i, m in ipairs(spec.vlines or {}) do
    lines[#lines + 1] = string.format("set arrow %d from %s, graph 0 to %s, graph 1 nohead dashtype 2 linecolor rgb 'gray40'",
      i, number(m.x), number(m.x))
    if m.title then
      local right = m.align == "right"
      lines[#lines + 1] = string.format("set label %d %s at %s, graph 0.97 %s offset %s, 0 textcolor rgb 'gray30'",
        i, str(m.title), number(m.x), right and "right" or "left", right and "-0.5" or "0.5")
    end
  end
  return lines
end

-- Run a gnuplot script given as lines -> true, its standard output | nil, "gnuplot failed: ...".
local function run_gnuplot(lines)
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
  os.remove(script); os.remove(err_file)
  if not ok then return nil, "gnuplot failed: " .. err end
  return true, text
end

-- Line colours, in series order: the Okabe-Ito palette (told apart with colour-blindness too)
-- without its yellow, which gnuplot's default sequence has fifth and is hard to see on white.
local COLOURS = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"}

local STYLES = {lines = true, linespoints = true, points = true, steps = true, impulses = true}

-- plot.draw{output = "f.png"|"f.svg"|nil (terminal), series = {{title =, x = {...}, y = {...},
--           style = "lines"|"linespoints"|"points"|"steps"|"impulses", dashed = false,
--           right_axis = false}}, title =, xlabel =, ylabel =, y2label =, y2range = {lo, hi},
--           logx =, logy =, xrange = {lo, hi}, yrange =,
--           xtics = {values}, ytics =, key = "left top", vlines = {{x =, title =, align = "right"}},
--           size = {w, h}} -> true | nil, message
-- Without output the text plot is returned as the second value (and not printed).
function plot.draw(spec)
  if not plot.available() then return nil, "gnuplot not found (apt-get install gnuplot-nox)" end
  local size = spec.size or (spec.output and DEFAULT_SIZE or {math.min(require("loom.core").process.columns() or 100, 120), 30})
  local term, terr = terminal_line(spec.output, size)
  if not term then return nil, terr end
  local data = os.tmpname()
  local f = assert(io.open(data, "w"))
  local plots, right_axis = {}, false
  for i, s in ipairs(spec.series) do
    if #s.x ~= #s.y then
      f:close(); os.remove(data)
      return nil, string.format("series %d has %d x values and %d y values", i, #s.x, #s.y)
    end
    local style = s.style or (#s.x == 1 and "points" or "lines")
    if not STYLES[style] then
      f:close(); os.remove(data)
      return nil, string.format("series %d: unknown style '%s' (lines, linespoints, points, steps, impulses)",
        i, tostring(style))
    end
    for k = 1, #s.x do f:write(number(s.x[k]), " ", number(s.y[k]), "\n") end
    if #s.x == 0 then f:write("NaN NaN\n") end
    f:write("\n\n")
    plots[#plots + 1] = string.format("%s index %d using 1:2%s with %s%s linewidth 2 title %s", str(data),
      i - 1, s.right_axis and " axes x1y2" or "", style, s.dashed and " dashtype 2" or "",
      str(s.title or ("series " .. i)))
    if s.right_axis then right_axis = true end
  end
  f:close()
  local lines = {term, spec.output and ("set output " .. str(spec.output)) or "set output",
    "set grid", "set key outside right top", "set datafile missing 'NaN'"}
  for i, c in ipairs(COLOURS) do lines[#lines + 1] = string.format("set linetype %d linecolor rgb '%s'", i, c) end
  if spec.title then lines[#lines + 1] = "set title " .. str(spec.title) end
  if spec.xlabel then lines[#lines + 1] = "set xlabel " .. str(spec.xlabel) end
  if spec.ylabel then lines[#lines + 1] = "set ylabel " .. str(spec.ylabel) end
  for _, line in ipairs(axis_lines(spec)) do lines[#lines + 1] = line end
  if right_axis then
    -- series with right_axis = true are read against their own scale on the right
    lines[#lines + 1] = "set ytics nomirror"
    lines[#lines + 1] = "set y2tics"
    if spec.y2label then lines[#lines + 1] = "set y2label " .. str(spec.y2label) end
    if spec.y2range then
      lines[#lines + 1] = string.format("set y2range [%s:%s]", spec.y2range[1] and number(spec.y2range[1]) or "*",
        spec.y2range[2] and number(spec.y2range[2]) or "*")
    end
  end
  lines[#lines + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  local ok, text = run_gnuplot(lines)
  os.remove(data)
  return ok, text
end

-- plot.heatmap{output = "f.png"|"f.svg"|nil, values = {{...}, ...} (rows, top row first),
--              xlabels = {...}, ylabels = {...} (one per column / row), counts = true (write
--              each nonzero value in its cell), title =, xlabel =, ylabel =, cblabel =,
--              size = {w, h}} -> true | nil, message. A matrix as coloured cells (white to blue),
-- e.g. a confusion matrix.
function plot.heatmap(spec)
  if not plot.available() then return nil, "gnuplot not found (apt-get install gnuplot-nox)" end
  local rows = spec.values
  if type(rows) ~= "table" or #rows == 0 or type(rows[1]) ~= "table" or #rows[1] == 0 then
    return nil, "heatmap: values must be a non-empty table of rows"
  end
  local ncol = #rows[1]
  for i, row in ipairs(rows) do
    if #row ~= ncol then return nil, string.format("heatmap: row %d has %d values, row 1 has %d", i, #row, ncol) end
  end
  local size = spec.size or (spec.output and {640, 560} or {math.min(require("loom.core").process.columns() or 100, 120), 30})
  local term, terr = terminal_line(spec.output, size)
  if not term then return nil, terr end
  local data = os.tmpname()
  local f = assert(io.open(data, "w"))
  for i, row in ipairs(rows) do
    for j, v in ipairs(row) do f:write(string.format("%d %d %s\n", j - 1, i - 1, number(v))) end
    f:write("\n")
  end
  f:close()
  local function tics(axis, labels, n)
    if not labels then return string.format("set %stics 0,1,%d", axis, n - 1) end
    local t = {}
    for k = 1, n do t[k] = string.format("%s %d", str(labels[k] or ""), k - 1) end
    return string.format("set %stics (%s)", axis, table.concat(t, ", "))
  end
  local lines = {term, spec.output and ("set output " .. str(spec.output)) or "set output", "unset key",
    string.format("set xrange [-0.5:%g]", ncol - 0.5), string.format("set yrange [%g:-0.5]", #rows - 0.5),
    tics("x", spec.xlabels, ncol), tics("y", spec.ylabels, #rows),
    "set palette defined (0 'white', 1 '#3060c0')"}
  if spec.title then lines[#lines + 1] = "set title " .. str(spec.title) end
  if spec.xlabel then lines[#lines + 1] = "set xlabel " .. str(spec.xlabel) end
  if spec.ylabel then lines[#lines + 1] = "set ylabel " .. str(spec.ylabel) end
  if spec.cblabel then lines[#lines + 1] = "set cblabel " .. str(spec.cblabel) end
  local image = str(data) .. " using 1:2:3 with image"
  if spec.counts ~= false then
    image = image .. ", '' using 1:2:($3 != 0 ? sprintf('%g', $3) : '') with labels"
  end
  lines[#lines + 1] = "plot " .. image
  local ok, text = run_gnuplot(lines)
  os.remove(data)
  return ok, text
end

return plot
