-- loom.runs.report: `loom report`: one self-contained HTML page about a set of runs: the
-- runs table, group statistics with error bars, metric curves as inline SVG, each run's
-- params, results, provenance and artifacts (images inlined). Not a server, no scripts.
local rcli = require "loom.runs.cli"
local stats = require "loom.runs.stats"
local svg = require "loom.runs.svg"

local report = {}

local esc = svg.escape

-- Images larger than this are listed, not inlined, so one huge plot cannot bloat the page.
report.MAX_INLINE_BYTES = 8 * 1024 * 1024
-- Text artifacts (the git diff) shown inline up to this size.
report.MAX_TEXT_BYTES = 256 * 1024

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Standard base64 (RFC 4648, padded).
function report.base64(data)
  local out = {}
  local chars = {}
  for i = 1, 64 do chars[i - 1] = B64:sub(i, i) end
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = chars[(n >> 18) & 63] .. chars[(n >> 12) & 63]
      .. (b and chars[(n >> 6) & 63] or "=") .. (c and chars[n & 63] or "=")
  end
  return table.concat(out)
end

local IMAGE_TYPES = {png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  svg = "image/svg+xml", webp = "image/webp"}

local CSS = [[
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px;
  color: #222; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px 0; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px 0; }
.meta { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; background: #fff; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-completed { color: #2a7d2a; } .status-failed, .status-died { color: #b22; } .status-interrupted { color: #b60; }
.scroll { max-height: 60vh; overflow: auto; display: inline-block; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid #ddd; }
svg.chart text { font-family: inherit; fill: #222; }
svg.chart .title { font-size: 14px; font-weight: 600; } svg.chart .tick { font-size: 11px; fill: #555; }
svg.chart .axis { font-size: 12px; } svg.chart .legend { font-size: 12px; }
svg.chart .grid { stroke: #eee; stroke-width: 1; }
section.run { background: #fff; border: 1px solid #ddd; padding: 8px 14px; margin: 12px 0; }
img.artifact { max-width: 640px; border: 1px solid #ddd; display: block; margin: 4px 0; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; max-height: 400px; }
.kv td:first-child { color: #555; } .kv td.num { text-align: left; }
a { color: #2a5ea8; }
]]

local function cell(v, class)
  local text = rcli.value_text(v)
  local numeric = type(v) == "number"
  return string.format("<td%s>%s</td>", (numeric or class) and (' class="' .. (class or "num") .. '"') or "", esc(text))
end

local function header_row(names)
  local out = {}
  for i, n in ipairs(names) do out[i] = "<th>" .. esc(n) .. "</th>" end
  return "<tr>" .. table.concat(out) .. "</tr>"
end

-- Runs' labels in legends: the params that differ, with the id where that is not unique.
local function run_labels(runs, differ)
  local labels, count = {}, {}
  for _, r in ipairs(runs) do
    local l = #differ > 0 and rcli.kv_text(r.params, differ) or r.id
    labels[r.id] = l
    count[l] = (count[l] or 0) + 1
  end
  for _, r in ipairs(runs) do
    if count[labels[r.id]] > 1 then labels[r.id] = labels[r.id] .. " (" .. r.id .. ")" end
  end
  return labels
end

local function runs_table(runs, differ, results)
  local h = {"id", "name", "status", "time"}
  for _, k in ipairs(differ) do h[#h + 1] = k end
  for _, k in ipairs(results) do h[#h + 1] = k end
  local rows = {'<div class="scroll"><table class="runs">', header_row(h)}
  for _, r in ipairs(runs) do
    local cells = {string.format('<td><a href="#run-%s">%s</a></td>', esc(r.id), esc(r.id)), cell(r.name),
      string.format('<td class="status-%s">%s</td>', esc(r.status), esc(r.status)), cell(rcli.duration(r))}
    for _, k in ipairs(differ) do cells[#cells + 1] = cell(r.params[k]) end
    for _, k in ipairs(results) do cells[#cells + 1] = cell(r.results[k]) end
    rows[#rows + 1] = "<tr>" .. table.concat(cells) .. "</tr>"
  end
  rows[#rows + 1] = "</table></div>"
  return table.concat(rows, "\n")
end

-- A table of groups: their key params, n, and "mean ± sd [lo, hi]" per result.
local function groups_table(groups, names, results)
  local h = {}
  for _, k in ipairs(names) do h[#h + 1] = k end
  h[#h + 1] = "n"
  for _, k in ipairs(results) do h[#h + 1] = k end
  local out = {'<table class="groups">', header_row(h)}
  for _, g in ipairs(groups) do
    local cells = {}
    for _, k in ipairs(names) do cells[#cells + 1] = cell(g.key[k]) end
    cells[#cells + 1] = cell(#g.runs)
    for _, k in ipairs(results) do cells[#cells + 1] = cell(rcli.summary_text(g.summary[k]), "num") end
    out[#out + 1] = "<tr>" .. table.concat(cells) .. "</tr>"
  end
  out[#out + 1] = "</table>"
  return table.concat(out, "\n")
end

-- Per result, the group means with their 95% intervals as error bars and each run as a dot.
local function errorbar_charts(groups, names, results)
  local out = {'<div class="charts">'}
  for _, res in ipairs(results) do
    local bars = {}
    for i, g in ipairs(groups) do
      local values = {}
      for _, r in ipairs(g.runs) do values[#values + 1] = r.results[res] end
      local sm = g.summary[res]
      bars[i] = {label = #names > 0 and rcli.kv_text(g.key, names) or "all", mean = sm.mean, lo = sm.lo or sm.mean,
        hi = sm.hi or sm.mean, values = values}
    end
    out[#out + 1] = svg.errorbars{title = res .. " (mean, 95% interval)", ylabel = res,
      xlabel = #names > 0 and table.concat(names, ", ") or nil, groups = bars}
  end
  out[#out + 1] = "</div>"
  return table.concat(out, "\n")
end

local SUMMARY_NOTE = "mean ± standard deviation [95% Student t interval of the mean] over the runs of each group"

-- "By param value": runs that repeat a point (seeds) grouped by the other params that differ,
-- with error bars; and with two or more such params, each one's values averaged over the rest.
local function groups_section(runs, differ, results)
  if #results == 0 then return nil end
  local names = {}
  for _, k in ipairs(differ) do if k ~= "seed" then names[#names + 1] = k end end
  local groups = stats.group_summaries(runs, names)
  local repeated = false
  for _, g in ipairs(groups) do repeated = repeated or #g.runs > 1 end
  if not repeated and #names < 2 then return nil end
  local out = {"<h2>By param value</h2>", '<p class="meta">' .. SUMMARY_NOTE .. "</p>"}
  if repeated then
    out[#out + 1] = "<h3>" .. (#names > 0 and ("by " .. esc(table.concat(names, ", "))) or "all runs") .. "</h3>"
    out[#out + 1] = groups_table(groups, names, results)
    out[#out + 1] = errorbar_charts(groups, names, results)
  end
  if #names >= 2 then
    for _, k in ipairs(names) do
      local others = {}
      for _, o in ipairs(names) do if o ~= k then others[#others + 1] = o end end
      out[#out + 1] = "<h3>by " .. esc(k) .. " (over every value of " .. esc(table.concat(others, ", ")) .. ")</h3>"
      out[#out + 1] = groups_table(stats.group_summaries(runs, {k}), {k}, results)
    end
  end
  return table.concat(out, "\n")
end

-- Runs that repeat a point (differing only in the seed) as groups; nil when none repeats.
local function seed_groups(runs, differ)
  local names = {}
  for _, k in ipairs(differ) do if k ~= "seed" then names[#names + 1] = k end end
  local groups = stats.group(runs, names)
  for _, g in ipairs(groups) do
    if #g.runs > 1 then return groups, names end
  end
  return nil
end

-- One chart series per group: the mean over its runs with a band of ± one standard deviation.
local function band_series(groups, names, metrics, name)
  local series = {}
  for _, g in ipairs(groups) do
    local curves = {}
    for _, r in ipairs(g.runs) do curves[#curves + 1] = metrics[r.id][name] end
    if #curves > 0 then
      local steps, mean, lo, hi = stats.band(curves)
      local label = (#names > 0 and rcli.kv_text(g.key, names) or "all runs") .. string.format(" (n=%d)", #curves)
      series[#series + 1] = {label = label, x = steps, y = mean, lo = lo, hi = hi}
    end
  end
  return series
end

local function metrics_section(runs, metrics, differ)
  local names = {}
  for _, r in ipairs(runs) do
    for name in pairs(metrics[r.id]) do names[name] = true end
  end
  names = rcli.sorted_keys(names)
  if #names == 0 then return nil end
  local groups, gnames = seed_groups(runs, differ)
  local out = {"<h2>Metrics</h2>", groups and ('<p class="meta">runs that differ only in the seed are drawn as '
    .. "their mean with a band of ± one standard deviation</p>") or "", '<div class="charts">'}
  for _, name in ipairs(names) do
    local series = {}
    if groups then
      series = band_series(groups, gnames, metrics, name)
    else
      local labels = run_labels(runs, differ)
      for _, r in ipairs(runs) do
        local m = metrics[r.id][name]
        if m then series[#series + 1] = {label = labels[r.id], x = m.steps, y = m.values} end
      end
    end
    out[#out + 1] = svg.lines{title = name, xlabel = "step", ylabel = name, series = series}
  end
  out[#out + 1] = "</div>"
  return table.concat(out, "\n")
end

local function read_file(path, limit)
  local f = io.open(path, "rb")
  if not f then return nil, "missing" end
  local size = f:seek("end")
  if size > limit then f:close(); return nil, string.format("%.1f MB, not inlined", size / 1e6) end
  f:seek("set")
  local data = f:read("a")
  f:close()
  return data
end

local function artifact_html(a)
  local ext = (a.name:match("%.(%w+)$") or ""):lower()
  local mime = IMAGE_TYPES[ext]
  if mime then
    local data, why = read_file(a.path, report.MAX_INLINE_BYTES)
    if data then
      return string.format('<h4>%s</h4><img class="artifact" alt="%s" src="data:%s;base64,%s">', esc(a.name),
        esc(a.name), mime, report.base64(data))
    end
    return string.format("<p>%s: %s (%s)</p>", esc(a.name), esc(a.path), esc(why))
  end
  if ext == "diff" or ext == "txt" or ext == "log" then
    local data, why = read_file(a.path, report.MAX_TEXT_BYTES)
    if data then
      return string.format("<details><summary>%s</summary><pre>%s</pre></details>", esc(a.name), esc(data))
    end
    return string.format("<p>%s: %s (%s)</p>", esc(a.name), esc(a.path), esc(why))
  end
  return string.format("<p>%s: <code>%s</code></p>", esc(a.name), esc(a.path))
end

local function kv_table(t, keys)
  local rows = {'<table class="kv">'}
  for _, k in ipairs(keys or rcli.sorted_keys(t)) do
    if t[k] ~= nil then rows[#rows + 1] = "<tr><td>" .. esc(k) .. "</td>" .. cell(t[k]) .. "</tr>" end
  end
  rows[#rows + 1] = "</table>"
  return table.concat(rows)
end

local function run_section(s, r)
  local out = {string.format('<section class="run" id="run-%s"><h3>%s %s <span class="status-%s">%s</span></h3>',
    esc(r.id), esc(r.id), esc(r.name), esc(r.status), esc(r.status))}
  out[#out + 1] = string.format('<p class="meta">script %s · started %s · %s%s</p>', esc(r.script or "-"),
    esc(r.started and os.date("%Y-%m-%d %H:%M:%S", math.floor(r.started)) or "-"), esc(rcli.duration(r)),
    r.error and (" · error: " .. esc(r.error)) or "")
  out[#out + 1] = '<div class="charts"><div><b>params</b>' .. kv_table(r.params) .. "</div><div><b>results</b>"
    .. kv_table(r.results) .. "</div>"
  local prov = s:provenance(r.id)
  if next(prov) then
    local keys = {}
    for _, k in ipairs(require("loom.runs.provenance").FIELDS) do keys[#keys + 1] = k end
    for _, k in ipairs(rcli.sorted_keys(prov)) do if k:match("^env%.") then keys[#keys + 1] = k end end
    out[#out + 1] = "<div><b>provenance</b>" .. kv_table(prov, keys) .. "</div>"
  end
  out[#out + 1] = "</div>"
  for _, a in ipairs(r.artifacts or s:artifacts(r.id)) do out[#out + 1] = artifact_html(a) end
  out[#out + 1] = "</section>"
  return table.concat(out, "\n")
end

-- report.html(store, runs, {title =}) -> the page's text.
function report.html(s, runs, opts)
  opts = opts or {}
  local differ = rcli.differing_params(runs)
  local results = stats.numeric_results(runs)
  local ids = {}
  for i, r in ipairs(runs) do ids[i] = r.id end
  local metrics = s:metrics_of(ids)
  local names = {}
  for _, r in ipairs(runs) do names[r.name] = true end
  local title = opts.title or ("loom report: " .. table.concat(rcli.sorted_keys(names), ", "))
  local parts = {"<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    -- Nothing may come from outside the file: inline styles and data: images only.
    [[<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">]],
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>" .. esc(title) .. "</title><style>" .. CSS .. "</style></head><body>",
    "<h1>" .. esc(title) .. "</h1>",
    string.format('<p class="meta">%d run%s from %s · written %s by loom %s</p>', #runs, #runs == 1 and "" or "s",
      esc(s.path), os.date("%Y-%m-%d %H:%M:%S"), esc(require("loom.core").version)),
    "<h2>Runs</h2>",
    #differ > 0 and ('<p class="meta">params that differ: ' .. esc(table.concat(differ, ", ")) .. "</p>") or "",
    runs_table(runs, differ, results)}
  parts[#parts + 1] = groups_section(runs, differ, results)
  parts[#parts + 1] = metrics_section(runs, metrics, differ)
  parts[#parts + 1] = "<h2>Runs in detail</h2>"
  for _, r in ipairs(runs) do parts[#parts + 1] = run_section(s, r) end
  parts[#parts + 1] = "</body></html>\n"
  local out = {}
  for i = 1, #parts do if parts[i] then out[#out + 1] = parts[i] end end
  return table.concat(out, "\n")
end

local USAGE = [[
usage: loom report [IDS | --sweep NAME | --last N | filters] [--where EXPR] -o report.html [--title T]
Writes one self-contained HTML file (no network: styles inline, images as data: URIs): the
runs with the params that differ and their results, mean ± sd and 95% intervals by param
value with error bars when runs repeat (seeds), metric curves of all runs, and each run's
params, results, provenance and artifacts. Without a selection: the last 20 runs.]]

function report.main(args)
  local o, words = rcli.parse(args, {db = true, output = true, where = true, last = true, sweep = true,
    title = true})
  if not o then io.stderr:write("loom report: ", words, "\n"); return 2 end
  if o.help or o.h then print(USAGE); return 0 end
  if not o.output then io.stderr:write("loom report: give the output file: -o report.html\n"); return 2 end
  local s, code = rcli.open_store(o, "report")
  if not s then return code end
  if #words == 0 and not (o.where or o.last or o.sweep) then o.last = "20" end
  local ok, n, err = pcall(function()
    local runs, err = rcli.select_runs(s, o, words)
    if not runs then return nil, err end
    if #runs == 0 then return nil, "no runs selected" end
    local f, ferr = io.open(o.output, "w")
    if not f then return nil, ferr end
    f:write(report.html(s, runs, {title = o.title}))
    f:close()
    return #runs
  end)
  s:close()
  if not ok then n, err = nil, n end
  if not n then
    io.stderr:write("loom report: ", tostring(err), "\n")
    return 1
  end
  print(string.format("wrote %s (%d run%s)", o.output, n, n == 1 and "" or "s"))
  return 0
end

return report
