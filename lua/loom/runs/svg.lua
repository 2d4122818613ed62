-- loom.runs.svg: inline SVG charts for the HTML report: line plots (one line per run, a
-- legend, ticks at round numbers) and error-bar plots of group means. Not gnuplot: these are
-- text a browser draws, with no script, font or file outside the page.
local svg = {}

-- Ten colours that stay apart for the colour-blind (Tableau 10); runs past ten get dashes.
svg.PALETTE = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac"}
local DASHES = {"", "6 3", "2 3", "8 3 2 3"}

function svg.escape(s)
  return (tostring(s):gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;"}))
end
local esc = svg.escape

-- Colour and dash pattern of the i-th series.
function svg.style(i)
  local c = svg.PALETTE[(i - 1) % #svg.PALETTE + 1]
  local d = DASHES[((i - 1) // #svg.PALETTE) % #DASHES + 1]
  return c, d
end

local band_polygon

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten.
function svg.ticks(lo, hi, count)
  count = count or 6
  if hi <= lo then
    local pad = lo == 0 and 1 or math.abs(lo) * 0.1
    lo, hi = lo - pad, hi + pad
  end
  local raw = (hi - lo) / count
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs{1, 2, 5, 10} do
    if m * mag >= raw then step = m * mag; break end
  end
  local first = math.floor(lo / step + 1e-9) * step
  local last = math.ceil(hi / step - 1e-9) * step
  local ticks = {}
  for k = 0, math.floor((last - first) / step + 0.5) do ticks[#ticks + 1] = first + k * step end
  return ticks, first, last
end

-- Ticks for a log axis: the powers of ten covering [lo, hi] (both > 0).
local function log_ticks(lo, hi)
  local a, b = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10))
  if a == b then b = a + 1 end
  local ticks = {}
  for e = a, b do ticks[#ticks + 1] = 10.0 ^ e end
  return ticks, 10.0 ^ a, 10.0 ^ b
end

function svg.tick_text(v)
  if v == 0 then return "0" end
  local t = string.format("%.4g", v)
  t = t:gsub("e%+?(%-?)0*(%d)", "e%1%2")
  return t
end

-- The frame shared by both charts: axes, grid, tick labels, axis titles. Returns the parts
-- list and the mapping functions.
local function frame(spec, xr, yr, layout)
  local parts = {}
  local W, H = layout.width, layout.height
  local L, R, T, B = layout.left, layout.right, layout.top, layout.bottom
  local pw, ph = W - L - R, H - T - B
  local function sx(x) return L + (x - xr.lo) / (xr.hi - xr.lo) * pw end
  local ylog = yr.log
  local function sy(y)
    local v, lo, hi = y, yr.lo, yr.hi
    if ylog then v, lo, hi = math.log(y, 10), math.log(lo, 10), math.log(hi, 10) end
    return T + ph - (v - lo) / (hi - lo) * ph
  end
  parts[#parts + 1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" '
    .. 'viewBox="0 0 %d %d" role="img" aria-label="%s">', W, H, W, H, esc(spec.title or ""))
  parts[#parts + 1] = string.format('<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#888"/>', L, T, pw, ph)
  if spec.title then
    parts[#parts + 1] = string.format('<text x="%d" y="18" class="title" text-anchor="middle">%s</text>', L + pw // 2, esc(spec.title))
  end
  for _, y in ipairs(yr.ticks) do
    local py = sy(y)
    parts[#parts + 1] = string.format('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/>', L, L + pw, py, py)
    parts[#parts + 1] = string.format('<text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>', L - 6, py + 4, svg.tick_text(y))
  end
  for _, xt in ipairs(xr.ticks) do
    local px = sx(xt.at)
    parts[#parts + 1] = string.format('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" class="grid"/>', px, px, T, T + ph)
    parts[#parts + 1] = string.format('<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>', px, T + ph + 16, esc(xt.text))
  end
  if spec.xlabel then
    parts[#parts + 1] = string.format('<text x="%d" y="%d" class="axis" text-anchor="middle">%s</text>', L + pw // 2, H - 6, esc(spec.xlabel))
  end
  if spec.ylabel then
    parts[#parts + 1] = string.format('<text x="14" y="%d" class="axis" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>',
      T + ph // 2, T + ph // 2, esc(spec.ylabel))
  end
  return parts, sx, sy, {L = L, T = T, pw = pw, ph = ph}
end

-- The y range of values (finite; positive only for a log axis), with its ticks.
local function y_range(values, log)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(values) do
    if finite(v) and (not log or v > 0) then lo, hi = math.min(lo, v), math.max(hi, v) end
  end
  if lo > hi then lo, hi = log and 0.1 or 0, log and 10 or 1 end
  if log then
    local ticks, a, b = log_ticks(lo, hi)
    return {lo = a, hi = b, ticks = ticks, log = true}
  end
  local ticks, a, b = svg.ticks(lo, hi)
  return {lo = a, hi = b, ticks = ticks}
end

local function legend(parts, entries, x, y, more)
  for i, e in ipairs(entries) do
    local ly = y + (i - 1) * 18
    local label = e.label
    local short = #label > 30 and (label:sub(1, 29) .. "…") or label
    parts[#parts + 1] = string.format('<g class="legend-entry"><title>%s</title><line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" '
      .. 'stroke-width="2.5"%s/><text x="%d" y="%d" class="legend">%s</text></g>', esc(label), x, x + 22, ly, ly, e.color,
      e.dash ~= "" and (' stroke-dasharray="' .. e.dash .. '"') or "", x + 28, ly + 4, esc(short))
  end
  if more and more > 0 then
    parts[#parts + 1] = string.format('<text x="%d" y="%d" class="legend">… and %d more</text>', x, y + #entries * 18 + 4, more)
  end
end

-- At most max_points (x, y) pairs of a series, evenly strided, the last point kept.
local function thin(xs, ys, max_points)
  if #xs <= max_points then return xs, ys end
  local ox, oy = {}, {}
  local stride = #xs / max_points
  for k = 0, max_points - 1 do
    local i = math.floor(k * stride) + 1
    ox[#ox + 1], oy[#oy + 1] = xs[i], ys[i]
  end
  ox[#ox + 1], oy[#oy + 1] = xs[#xs], ys[#ys]
  return ox, oy
end

-- The shaded band between s.lo and s.hi (same length as s.x), light in the series' colour.
function band_polygon(s, sx, sy, yr, color)
  local top, bottom = {}, {}
  for k = 1, #s.x do
    local lo, hi = s.lo[k], s.hi[k]
    if finite(s.x[k]) and finite(lo) and finite(hi) and (not yr.log or lo > 0) then
      top[#top + 1] = string.format("%.1f,%.1f", sx(s.x[k]), sy(hi))
      table.insert(bottom, 1, string.format("%.1f,%.1f", sx(s.x[k]), sy(lo)))
    end
  end
  if #top == 0 then return "" end
  return string.format('<polygon points="%s %s" fill="%s" fill-opacity="0.18" stroke="none"/>',
    table.concat(top, " "), table.concat(bottom, " "), color)
end

-- svg.lines{title, xlabel, ylabel, logy, series = {{label =, x = {...}, y = {...}
--   [, lo = {...}, hi = {...}] (a shaded band)}}} -> text
function svg.lines(spec)
  local LEGEND_MAX = 16
  local series = spec.series
  local has_legend = #series > 1
  local layout = {width = has_legend and 860 or 640, height = 360, left = 70, right = has_legend and 250 or 20,
    top = 28, bottom = 46}
  local xlo, xhi, ys = math.huge, -math.huge, {}
  for _, s in ipairs(series) do
    for i, x in ipairs(s.x) do
      if finite(x) then xlo, xhi = math.min(xlo, x), math.max(xhi, x) end
      ys[#ys + 1] = s.y[i]
      if s.lo then ys[#ys + 1], ys[#ys + 2] = s.lo[i], s.hi[i] end
    end
  end
  if xlo > xhi then xlo, xhi = 0, 1 end
  local xt, a, b = svg.ticks(xlo, xhi)
  local xr = {lo = a, hi = b, ticks = {}}
  for _, t in ipairs(xt) do xr.ticks[#xr.ticks + 1] = {at = t, text = svg.tick_text(t)} end
  local yr = y_range(ys, spec.logy)
  local parts, sx, sy, box = frame(spec, xr, yr, layout)
  local entries = {}
  for i, s in ipairs(series) do
    local color, dash = svg.style(i)
    local xs, vs = thin(s.x, s.y, 600)
    if s.lo and s.hi then parts[#parts + 1] = band_polygon(s, sx, sy, yr, color) end
    local path, pen = {}, "M"
    for k = 1, #xs do
      local y = vs[k]
      if finite(xs[k]) and finite(y) and (not yr.log or y > 0) then
        path[#path + 1] = string.format("%s%.1f %.1f", pen, sx(xs[k]), sy(y))
        pen = "L"
      else
        pen = "M"
      end
    end
    if #xs == 1 and #path == 1 then
      parts[#parts + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>', sx(xs[1]), sy(vs[1]), color)
    elseif #path > 0 then
      parts[#parts + 1] = string.format('<path d="%s" fill="none" stroke="%s" stroke-width="1.6"%s><title>%s</title></path>',
        table.concat(path, " "), color, dash ~= "" and (' stroke-dasharray="' .. dash .. '"') or "", esc(s.label or ""))
    end
    if i <= LEGEND_MAX then entries[#entries + 1] = {label = s.label or ("series " .. i), color = color, dash = dash} end
  end
  if has_legend then legend(parts, entries, box.L + box.pw + 16, box.T + 10, #series - LEGEND_MAX) end
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n")
end

-- svg.errorbars{title, ylabel, xlabel, groups = {{label =, mean =, lo =, hi =, values = {...}}}}
-- -> text: a dot per run, the group mean as a bar mark, the interval as a whisker.
function svg.errorbars(spec)
  local groups = spec.groups
  local layout = {width = math.max(420, math.min(900, 120 + 90 * #groups)), height = 320, left = 70, right = 20,
    top = 28, bottom = 52}
  local ys = {}
  for _, g in ipairs(groups) do
    for _, v in ipairs(g.values) do ys[#ys + 1] = v end
    ys[#ys + 1], ys[#ys + 2] = g.lo, g.hi
  end
  local xr = {lo = 0.5, hi = #groups + 0.5, ticks = {}}
  for i, g in ipairs(groups) do xr.ticks[i] = {at = i, text = g.label} end
  local yr = y_range(ys)
  local parts, sx, sy = frame(spec, xr, yr, layout)
  for i, g in ipairs(groups) do
    local px = sx(i)
    local color = svg.PALETTE[1]
    for k, v in ipairs(g.values) do
      if finite(v) then
        local jitter = (#g.values > 1) and ((k - 1) / (#g.values - 1) - 0.5) * 16 or 0
        parts[#parts + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="2.5" fill="#bbb"/>', px + 18 + jitter, sy(v))
      end
    end
    if finite(g.lo) and finite(g.hi) then
      local top, bottom = sy(g.hi), sy(g.lo)
      parts[#parts + 1] = string.format('<g class="errorbar"><title>%s: %s ± %s</title><line x1="%.1f" x2="%.1f" y1="%.1f" '
        .. 'y2="%.1f" stroke="%s" stroke-width="2"/><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>'
        .. '<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/></g>', esc(g.label),
        svg.tick_text(g.mean), svg.tick_text(g.hi - g.mean), px, px, top, bottom, color, px - 8, px + 8, top, top, color,
        px - 8, px + 8, bottom, bottom, color)
    end
    if finite(g.mean) then
      parts[#parts + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s"/>', px, sy(g.mean), color)
    end
  end
  parts[#parts + 1] = "</svg>"
  return table.concat(parts, "\n")
end

return svg
