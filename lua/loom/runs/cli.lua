-- loom.runs.cli: the `loom runs`, `loom plot` and `loom sweep` commands over the run store.
-- Not the store (loom.runs.store), plotting (loom.runs.plot) nor sweeping (loom.runs.sweep).
local cli = require "loom.cli"
local store = require "loom.runs.store"
local json = require "loom.runs.json"
local progress = require "loom.runs.progress"

local M = {}

local function fail(cmd, msg, code)
  io.stderr:write("loom ", cmd, ": ", msg, "\n")
  return code or 1
end

-- ---- text helpers ----

function M.value_text(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.4g", v)
  end
  if v == nil then return "-" end
  return tostring(v)
end

-- Keys in natural order (n_9 before n_10).
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  return cli.natural_sort(keys)
end
M.sorted_keys = sorted_keys

-- The width of text on a terminal (characters, not bytes: "…" is one).
local function text_width(c)
  return utf8.len(c) or #c
end
M.text_width = text_width

-- Columns padded to their widest cell; the last column is not padded.
function M.table_text(headers, rows)
  local widths = {}
  for j, h in ipairs(headers) do widths[j] = text_width(h) end
  for _, r in ipairs(rows) do
    for j = 1, #headers do widths[j] = math.max(widths[j], text_width(tostring(r[j] or ""))) end
  end
  local lines = {}
  local function line(cells)
    local parts = {}
    for j = 1, #headers do
      local c = tostring(cells[j] or "")
      parts[j] = j < #headers and (c .. string.rep(" ", widths[j] - text_width(c))) or c
    end
    lines[#lines + 1] = (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  line(headers)
  for _, r in ipairs(rows) do line(r) end
  return table.concat(lines, "\n")
end

local function when(t)
  return t and os.date("%Y-%m-%d %H:%M:%S", math.floor(t)) or "-"
end

local function duration(r)
  if not r.started then return "-" end
  local t = r.ended or (r.status == "running" and require("loom.core").process.time()) or nil
  return t and progress.duration(t - r.started) or "-"
end
M.duration = duration

-- Param names whose values differ between runs (none for a single run).
function M.differing_params(runs)
  local names, differ = {}, {}
  for _, r in ipairs(runs) do
    for k in pairs(r.params) do names[k] = true end
  end
  for k in pairs(names) do
    local first = runs[1] and tostring(runs[1].params[k])
    for _, r in ipairs(runs) do
      if tostring(r.params[k]) ~= first then differ[#differ + 1] = k; break end
    end
  end
  table.sort(differ)
  return differ
end

local function kv_text(t, keys)
  local parts = {}
  for _, k in ipairs(keys or sorted_keys(t)) do
    if t[k] ~= nil then parts[#parts + 1] = k .. "=" .. M.value_text(t[k]) end
  end
  return table.concat(parts, " ")
end
M.kv_text = kv_text

-- Scalar results only (tables stored as JSON are left to `show`).
local function scalar_results(r)
  local out = {}
  for k, v in pairs(r.results) do
    if r.result_types[k] ~= "json" then out[k] = v end
  end
  return out
end

-- ---- option parsing shared by the subcommands ----

-- Split args into options (--db PATH, --limit N, flags) and positional words.
local function parse(args, with_value)
  local o, words = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name = a:match("^%-%-([%w%-]+)$") or (a == "-o" and "output") or (a == "-j" and "jobs")
    if name and with_value[name] then
      if args[i + 1] == nil then return nil, "'" .. a .. "' needs a value" end
      o[name] = args[i + 1]
      i = i + 1
    elseif name then
      o[name] = true
    else
      words[#words + 1] = a
    end
    i = i + 1
  end
  return o, words
end
M.parse = parse

-- The store for a command: a missing database is an error, never created empty. Reading
-- commands open it read-only (no write lock: they list behind a writer and on a read-only
-- mount) and mark dead runs only when they can without waiting; `write` is for rm and merge.
local function open_store(o, cmd, write)
  local path = store.default_path(o.db)
  local f = io.open(path)
  if not f then
    return nil, fail(cmd, string.format("no run database %s (record runs with `loom run`, or give --db PATH)", path))
  end
  f:close()
  local s, err = store.open(path, {readonly = not write})
  if not s then return nil, fail(cmd, err) end
  s:upkeep()
  return s
end
M.open_store = open_store

-- name=, status=, sweep= and any other key=value as a param filter.
local function filters(words)
  local f = {params = {}}
  for _, w in ipairs(words) do
    local k, v = w:match("^([%w_%.%-]+)=(.*)$")
    if not k then return nil, "expected a filter key=value, got '" .. w .. "'" end
    if k == "name" or k == "status" or k == "sweep" then f[k] = v else f.params[k] = v end
  end
  return f
end

-- ---- loom runs ----

local selection_filter
local function columns_has(columns, name)
  for _, c in ipairs(columns) do if c == name then return true end end
  return false
end

-- ---- loom runs (the listing) ----

-- The width to fit: $COLUMNS, else the terminal's; nil (no limit) when stdout is not one.
function M.terminal_width()
  local env = tonumber(os.getenv("COLUMNS") or "")
  if env and env >= 20 then return math.floor(env) end
  return require("loom.core").process.columns()
end

-- Results that say how a run went come first when there are many (accuracy, loss, error...).
local MAIN_RESULT = {"acc", "loss", "err", "r2", "score", "bleu", "chrf", "digits"}

local function result_rank(name)
  local lower = name:lower()
  for i, word in ipairs(MAIN_RESULT) do
    if lower:find(word, 1, true) then return i end
  end
  return #MAIN_RESULT + 1
end

-- The result names shown for runs: --results all, --results a,b (names or Lua patterns),
-- --results N (the N main ones), default 3 main ones.
function M.shown_results(runs, spec)
  local names = {}
  for _, r in ipairs(runs) do
    for k in pairs(scalar_results(r)) do names[k] = true end
  end
  local list = sorted_keys(names)
  if spec == "all" then return list end
  local count = spec == nil and 3 or tonumber(spec)
  if not count then
    local chosen = {}
    for want in tostring(spec):gmatch("[^,]+") do
      for _, k in ipairs(list) do
        if k == want or (not names[want] and k:find(want)) then chosen[#chosen + 1] = k end
      end
    end
    return chosen
  end
  local order = {}
  for i, k in ipairs(list) do order[k] = i end
  table.sort(list, function(a, b)
    local ra, rb = result_rank(a), result_rank(b)
    if ra ~= rb then return ra < rb end
    return order[a] < order[b]
  end)
  for i = #list, count + 1, -1 do list[i] = nil end
  return list, #sorted_keys(names) - #list
end

-- Cut text to width characters, ending in "…" when cut.
local function clip(text, width)
  if not width or text_width(text) <= width then return text end
  if width <= 1 then return width == 1 and "…" or "" end
  local cut = utf8.offset(text, width) or (#text + 1)
  return text:sub(1, cut - 1) .. "…"
end
M.clip = clip

local LIST_COLUMNS = {"id", "name", "status", "started", "time", "params", "results"}

-- Params shown for each experiment: those that differ among its listed runs; a lone run of
-- its experiment shows all its params but the seed; --wide shows every param.
local function shown_params(runs, wide)
  local by_name = {}
  for _, r in ipairs(runs) do
    by_name[r.name] = by_name[r.name] or {}
    table.insert(by_name[r.name], r)
  end
  local shown = {}
  for name, group in pairs(by_name) do
    if #group > 1 and not wide then
      shown[name] = M.differing_params(group)
    else
      shown[name] = {}
      for _, k in ipairs(sorted_keys(group[1].params)) do
        if k ~= "seed" or wide then table.insert(shown[name], k) end
      end
    end
  end
  return shown
end

-- Split the room left after the fixed columns between params and results, so that neither
-- starves: each gets what it needs when that fits, else a fair share.
local function share(room, need_a, need_b)
  if need_a + need_b <= room then return need_a, need_b end
  local half = room // 2
  if need_a <= half then return need_a, room - need_a end
  if need_b <= room - half then return room - need_b, need_b end
  return half, room - half
end

local function runs_list(s, o, words)
  local f, err = selection_filter(s, o, words)
  if not f then return fail("runs", err, 2) end
  f.limit = o.limit and tonumber(o.limit) or f.limit
  local columns = LIST_COLUMNS
  if o.columns then
    columns = {}
    local known = {}
    for _, c in ipairs(LIST_COLUMNS) do known[c] = true end
    for c in tostring(o.columns):gmatch("[^,]+") do
      if not known[c] then
        return fail("runs", string.format("unknown column '%s' (columns: %s)", c, table.concat(LIST_COLUMNS, ",")), 2)
      end
      columns[#columns + 1] = c
    end
  end
  local runs = s:list(f)
  if #runs == 0 then
    print("no runs" .. ((next(f.params) or f.name or f.status) and " match" or " yet") .. " in " .. s.path)
    return 0
  end
  local width = (not o.wide) and M.terminal_width() or nil
  if width and width < 100 and not o.columns then
    -- A narrow terminal keeps room for params and results: when is for `loom runs show`.
    columns = {"id", "name", "status", "time", "params", "results"}
  end
  local shown = shown_params(runs, o.wide)
  local results, hidden = M.shown_results(runs, o.wide and "all" or o.results)
  local date_format = (width and width < 110) and "%m-%d %H:%M" or "%Y-%m-%d %H:%M:%S"
  local cells = {}
  for _, r in ipairs(runs) do
    local res = scalar_results(r)
    cells[#cells + 1] = {id = r.id, name = r.name, status = r.status,
      started = r.started and os.date(date_format, math.floor(r.started)) or "-", time = duration(r),
      params = kv_text(r.params, shown[r.name]), results = kv_text(res, results)}
  end
  -- Fit the width: fixed columns as they are, params and results share what is left.
  if width then
    local fixed, need = 0, {params = 0, results = 0}
    for _, c in ipairs(columns) do
      local w = #c
      for _, row in ipairs(cells) do w = math.max(w, text_width(row[c])) end
      if need[c] then need[c] = w else fixed = fixed + w end
      fixed = fixed + 2
    end
    local room = math.max(0, width - 1 - fixed + 2)
    local wp, wr = need.params, need.results
    if not (columns_has(columns, "params") and columns_has(columns, "results")) then
      wp, wr = room, room
    else
      wp, wr = share(room, need.params, need.results)
    end
    for _, row in ipairs(cells) do
      row.params, row.results = clip(row.params, math.max(wp, 6)), clip(row.results, math.max(wr, 6))
      row.name = clip(row.name, 24)
    end
  end
  local headers, rows = {}, {}
  for j, c in ipairs(columns) do headers[j] = c:upper() end
  for i, row in ipairs(cells) do
    rows[i] = {}
    for j, c in ipairs(columns) do rows[i][j] = row[c] end
  end
  print(M.table_text(headers, rows))
  if hidden and hidden > 0 and not o.results then
    print(string.format("(%d more result%s: --results all or NAME,..., --wide)",
      hidden, hidden == 1 and "" or "s"))
  end
  return 0
end

local function resolve_all(s, ids, cmd)
  local out = {}
  for _, text in ipairs(ids) do
    local id, err = s:resolve(text)
    if not id then return nil, fail(cmd, err) end
    out[#out + 1] = id
  end
  return out
end

-- The provenance block of `loom runs show`: fields in provenance.FIELDS order, then env.*.
local function provenance_lines(s, id)
  local prov = s:provenance(id)
  if next(prov) == nil then return {} end
  local fields = require("loom.runs.provenance").FIELDS
  local lines, seen = {"provenance:"}, {}
  local function add(k)
    local v = prov[k]
    if k == "wall_time" or k == "cpu_time" then v = string.format("%.3f s", v) end
    lines[#lines + 1] = string.format("  %-20s %s", k, M.value_text(v))
    seen[k] = true
  end
  for _, k in ipairs(fields) do if prov[k] ~= nil then add(k) end end
  for _, k in ipairs(sorted_keys(prov)) do if not seen[k] then add(k) end end
  return lines
end

local function runs_show(s, o, words)
  if #words ~= 1 then return fail("runs show", "usage: loom runs show ID", 2) end
  local ids, code = resolve_all(s, words, "runs show")
  if not ids then return code end
  local r = s:get(ids[1])
  local lines = {
    string.format("run %s  %s  %s", r.id, r.name, r.status),
    string.format("  script      %s", r.script or "-"),
    string.format("  sha256      %s", r.script_hash or "-"),
    string.format("  seed        %s", M.value_text(r.seed)),
    string.format("  host        %s (pid %s)", r.host or "-", M.value_text(r.pid)),
    string.format("  started     %s", when(r.started)),
    string.format("  ended       %s (%s)", when(r.ended), duration(r)),
    string.format("  loom        %s", r.loom_version or "-"),
  }
  if r.sweep then lines[#lines + 1] = string.format("  sweep       %s point %d", r.sweep, r.sweep_point or -1) end
  if r.error then lines[#lines + 1] = "  error       " .. r.error end
  lines[#lines + 1] = "params:"
  local docs = s:param_docs(r.id)
  for _, k in ipairs(sorted_keys(r.params)) do
    local v = M.value_text(r.params[k])
    lines[#lines + 1] = docs[k] and string.format("  %-20s %-10s %s", k, v, docs[k])
      or string.format("  %-20s %s", k, v)
  end
  lines[#lines + 1] = "results:"
  for _, k in ipairs(sorted_keys(r.results)) do
    lines[#lines + 1] = string.format("  %-20s %s", k, M.value_text(r.results[k]))
  end
  local summary = s:metric_summary(r.id)
  if #summary > 0 then
    lines[#lines + 1] = "metrics:"
    local rows = {}
    for _, m in ipairs(summary) do
      rows[#rows + 1] = {"  " .. m.name, m.count, m.last_step, M.value_text(s:last_metric(r.id, m.name)),
        M.value_text(m.min), M.value_text(m.max)}
    end
    lines[#lines + 1] = M.table_text({"  name", "count", "last step", "last", "min", "max"}, rows)
  end
  if #r.artifacts > 0 then
    lines[#lines + 1] = "artifacts:"
    for _, a in ipairs(r.artifacts) do lines[#lines + 1] = string.format("  %-20s %s", a.name, a.path) end
  end
  for _, l in ipairs(provenance_lines(s, r.id)) do lines[#lines + 1] = l end
  print(table.concat(lines, "\n"))
  return 0
end

local runs_compare_grouped
local function runs_compare(s, o, words)
  if o["group-by"] then return runs_compare_grouped(s, o, words) end
  if #words < 1 then return fail("runs compare", "usage: loom runs compare ID ID ...", 2) end
  local ids, code = resolve_all(s, words, "runs compare")
  if not ids then return code end
  local runs = {}
  for i, id in ipairs(ids) do runs[i] = s:get(id) end
  local headers = {""}
  for i, r in ipairs(runs) do headers[i + 1] = r.id end
  local rows = {}
  local function add(label, get)
    local row, first, differ = {label}, nil, false
    for i, r in ipairs(runs) do
      local v = M.value_text(get(r))
      row[i + 1] = v
      if i == 1 then first = v elseif v ~= first then differ = true end
    end
    if differ and #runs > 1 then row[1] = "* " .. label else row[1] = "  " .. label end
    rows[#rows + 1] = row
  end
  add("name", function(r) return r.name end)
  add("status", function(r) return r.status end)
  add("time", duration)
  local pnames, rnames = {}, {}
  for _, r in ipairs(runs) do
    for k in pairs(r.params) do pnames[k] = true end
    for k in pairs(r.results) do rnames[k] = true end
  end
  rows[#rows + 1] = {"params:"}
  for _, k in ipairs(sorted_keys(pnames)) do add(k, function(r) return r.params[k] end) end
  rows[#rows + 1] = {"results:"}
  for _, k in ipairs(sorted_keys(rnames)) do add(k, function(r) return r.results[k] end) end
  print(M.table_text(headers, rows))
  print("(* marks values that differ)")
  return 0
end

local function csv_cell(v)
  if v == nil then return "" end
  local t = type(v) == "number" and (math.type(v) == "integer" and tostring(v) or json.number(v)) or tostring(v)
  if t:find('[,"\n\r]') then t = '"' .. t:gsub('"', '""') .. '"' end
  return t
end
M.csv_cell = csv_cell

local RUN_FIELDS = {"id", "name", "status", "started", "ended", "seed", "host", "script", "script_hash",
  "loom_version", "sweep", "error"}

-- loom runs export --csv|--json [--metrics] [-o file] [filters]
local function runs_export(s, o, words)
  if not (o.csv or o.json) or (o.csv and o.json) then
    return fail("runs export", "choose one format: --csv or --json", 2)
  end
  local f, err = selection_filter(s, o, words)
  if not f then return fail("runs export", err, 2) end
  local runs = s:list(f)
  local out = io.stdout
  if o.output then
    local ferr
    out, ferr = io.open(o.output, "w")
    if not out then return fail("runs export", ferr) end
  end
  if o.json then
    local list = {}
    for i, r in ipairs(runs) do
      local e = {}
      for _, k in ipairs(RUN_FIELDS) do e[k] = r[k] end
      e.params, e.results = r.params, r.results
      if next(e.params) == nil then e.params = setmetatable({}, {}) end
      e.artifacts = {}
      for _, a in ipairs(s:artifacts(r.id)) do e.artifacts[a.name] = a.path end
      if o.metrics then
        e.metrics = {}
        for _, name in ipairs(s:metric_names(r.id)) do
          local steps, values = s:metric(r.id, name)
          e.metrics[name] = {step = steps, value = values}
        end
      end
      list[i] = e
    end
    out:write(#list == 0 and "[]" or json.encode(list, "  "), "\n")
  elseif o.metrics then
    out:write("run_id,step,name,value\n")
    for _, r in ipairs(runs) do
      local stmt <close> = s.db:prepare("SELECT step, name, value FROM metrics WHERE run_id = ? ORDER BY name, step, rowid")
      stmt:bind(r.id)
      while stmt:step() do
        local step, name, value = stmt:values()
        out:write(r.id, ",", step, ",", csv_cell(name), ",", csv_cell(value), "\n")
      end
    end
  else
    local pnames, rnames = {}, {}
    for _, r in ipairs(runs) do
      for k in pairs(r.params) do pnames[k] = true end
      for k, t in pairs(r.result_types) do if t ~= "json" then rnames[k] = true end end
    end
    pnames, rnames = sorted_keys(pnames), sorted_keys(rnames)
    local header = {}
    for _, k in ipairs(RUN_FIELDS) do header[#header + 1] = k end
    for _, k in ipairs(pnames) do header[#header + 1] = "param." .. k end
    for _, k in ipairs(rnames) do header[#header + 1] = "result." .. k end
    local cells = {}
    for i, h in ipairs(header) do cells[i] = csv_cell(h) end
    out:write(table.concat(cells, ","), "\n")
    for _, r in ipairs(runs) do
      cells = {}
      for _, k in ipairs(RUN_FIELDS) do cells[#cells + 1] = csv_cell(r[k]) end
      for _, k in ipairs(pnames) do cells[#cells + 1] = csv_cell(r.params[k]) end
      for _, k in ipairs(rnames) do cells[#cells + 1] = csv_cell(r.results[k]) end
      out:write(table.concat(cells, ","), "\n")
    end
  end
  if out ~= io.stdout then out:close() end
  return 0
end

local function runs_rm(s, o, words)
  if #words == 0 then return fail("runs rm", "usage: loom runs rm ID ...", 2) end
  local ids, code = resolve_all(s, words, "runs rm")
  if not ids then return code end
  for _, id in ipairs(ids) do
    local r = s:get(id)
    if r.status == "running" and not o.force then
      return fail("runs rm", string.format("run %s is still running (use --force to remove it anyway)", id))
    end
  end
  local dirs = s:remove(ids)
  for _, d in ipairs(dirs) do
    -- Only ever a runs/<8 hex digits> folder: never let a bad row point rm elsewhere.
    if d:match("/runs/%x%x%x%x%x%x%x%x$") then require("loom.core").process.remove_tree(d) end
  end
  print(string.format("removed %d run%s", #ids, #ids == 1 and "" or "s"))
  return 0
end

local function runs_merge(s, o, words)
  if #words == 0 then return fail("runs merge", "usage: loom runs merge OTHER.db ...", 2) end
  local total = 0
  for _, path in ipairs(words) do
    local n, err = s:merge(path)
    if not n then return fail("runs merge", err) end
    total = total + n
  end
  print(string.format("merged %d run%s into %s", total, total == 1 and "" or "s", s.path))
  return 0
end


-- ---- selections, --where and grouped statistics (also used by loom report) ----

-- key=value filters plus --where EXPR, --last N and --sweep NAME as one store filter.
function selection_filter(s, o, words)
  local f, err = filters(words)
  if not f then return nil, err end
  if o.where then
    local w, werr = require("loom.runs.where").compile(o.where)
    if not w then return nil, "--where: " .. werr end
    f.where = w
  end
  if o.last then
    local n = math.tointeger(tonumber(o.last))
    if not n or n < 1 then return nil, "--last expects a number of runs >= 1, got '" .. tostring(o.last) .. "'" end
    f.limit = n
  end
  if o.sweep then
    local id, serr = s:resolve_sweep(o.sweep)
    if not id then return nil, serr end
    f.sweep = id
  end
  return f
end
M.selection_filter = selection_filter

-- M.select_runs(s, o, words) -> runs | nil, message: the runs named by ids (or `last`) among
-- words, else every run the key=value words, --where, --last and --sweep select.
function M.select_runs(s, o, words)
  local ids, rest = {}, {}
  for _, w in ipairs(words) do
    if w:find("=", 1, true) then rest[#rest + 1] = w else ids[#ids + 1] = w end
  end
  if #ids > 0 then
    if #rest > 0 or o.where or o.last or o.sweep then
      return nil, "give run ids or a selection (filters, --where, --last, --sweep), not both"
    end
    local resolved = {}
    for i, text in ipairs(ids) do
      local id, err = s:resolve(text)
      if not id then return nil, err end
      resolved[i] = id
    end
    return s:get_many(resolved)
  end
  local f, err = selection_filter(s, o, rest)
  if not f then return nil, err end
  return s:list(f)
end

-- "mean ± sd [lo, hi]" of a stats.summary (the value alone for one run, "-" for none).
function M.summary_text(sm)
  if sm.n == 0 then return "-" end
  if sm.n == 1 then return M.value_text(sm.mean) end
  return string.format("%.4g ± %.2g [%.4g, %.4g]", sm.mean, sm.sd, sm.lo, sm.hi)
end

-- Params other than seed and the grouping ones whose values differ inside some group.
function M.mixed_params(groups, names)
  local skip, mixed = {seed = true}, {}
  for _, k in ipairs(names) do skip[k] = true end
  for _, g in ipairs(groups) do
    for _, k in ipairs(M.differing_params(g.runs)) do
      if not skip[k] then mixed[k] = true end
    end
  end
  return sorted_keys(mixed)
end

-- loom runs compare --group-by P[,Q] [IDS | filters --where --sweep --last]
function runs_compare_grouped(s, o, words)
  local names = {}
  for k in tostring(o["group-by"]):gmatch("[^,%s]+") do names[#names + 1] = k end
  if #names == 0 then return fail("runs compare", "--group-by needs a param name", 2) end
  local runs, err = M.select_runs(s, o, words)
  if not runs then return fail("runs compare", err) end
  if #runs == 0 then return fail("runs compare", "no runs selected") end
  local known = {}
  for _, r in ipairs(runs) do for k in pairs(r.params) do known[k] = true end end
  for _, k in ipairs(names) do
    if not known[k] then return fail("runs compare", string.format("no selected run has a param '%s'", k)) end
  end
  local stats = require "loom.runs.stats"
  local groups, results = stats.group_summaries(runs, names)
  local headers = {}
  for _, k in ipairs(names) do headers[#headers + 1] = k end
  headers[#headers + 1] = "n"
  for _, k in ipairs(results) do headers[#headers + 1] = k end
  local rows = {}
  for _, g in ipairs(groups) do
    local row = {}
    for _, k in ipairs(names) do row[#row + 1] = M.value_text(g.key[k]) end
    row[#row + 1] = #g.runs
    for _, k in ipairs(results) do row[#row + 1] = M.summary_text(g.summary[k]) end
    rows[#rows + 1] = row
  end
  print(M.table_text(headers, rows))
  print("(mean ± standard deviation [95% Student t interval of the mean] over each group's runs)")
  local mixed = M.mixed_params(groups, names)
  if #mixed > 0 then print("note: runs within a group also differ in " .. table.concat(mixed, ", ")) end
  return 0
end

local RUNS_USAGE = [[
usage: loom runs [--db PATH] [options] [filters]   list runs (filters: name=X status=Y sweep=S k=v)
         --where 'acc > 0.9 and lr < 0.1'  runs whose results (else params) compare so
         --sweep NAME | --last N   the runs of a sweep, the N most recent runs
         --results N|all|NAME,...  which results to list (default: the 3 main ones)
         --columns id,name,status,started,time,params,results    which columns
         --wide                    every param and result, no fitting to the terminal width
         --limit N                 the N most recent runs
       loom runs show ID                          everything about one run
       loom runs compare ID ID ...                params and results side by side
       loom runs compare --group-by P [IDS|--sweep S|--last N|filters]
                                                  mean, sd and 95% t interval of results per value of P
       loom runs export --csv|--json [--metrics] [-o FILE] [filters]
       loom runs rm ID ... [--force]              remove runs and their runs/<id>/ folders
       loom runs merge OTHER.db ...               copy runs from other databases
IDs may be abbreviated to a unique prefix; `last` is the most recent run.
The database is --db PATH, else $LOOM_DB, else runs.db.]]

local SUBCOMMANDS = {show = runs_show, compare = runs_compare, export = runs_export, rm = runs_rm,
  merge = runs_merge, list = runs_list}

function M.runs(args)
  local o, words = parse(args, {db = true, limit = true, output = true, results = true, columns = true,
    where = true, last = true, sweep = true, ["group-by"] = true})
  if not o then return fail("runs", words, 2) end
  if o.help or o.h then print(RUNS_USAGE); return 0 end
  local sub = SUBCOMMANDS[words[1]] and table.remove(words, 1) or "list"
  local s, code = open_store(o, "runs", sub == "rm" or sub == "merge")
  if not s then return code end
  local ok, result = pcall(SUBCOMMANDS[sub], s, o, words)
  s:close()
  if not ok then return fail("runs " .. sub, tostring(result)) end
  return result
end

-- ---- loom plot ----

local PLOT_USAGE = [[
usage: loom plot ID... METRIC... [-o FILE.png|FILE.svg] [--size WxH] [--logy] [--title T] [--band]
       loom plot --sweep NAME|--last N|--where EXPR [key=value ...] [METRIC...] [options]
Draws each metric against step, one line per run labelled by the params that differ.
--band: runs that differ only in the seed become one line (their mean) with a shaded band of
± one standard deviation.
Without -o the plot is drawn as text on the terminal.]]

-- loom plot --band: one series per group of runs that differ only in the seed: the mean over
-- the group's runs at each step with a band of ± one standard deviation.
function M.band_series(s, runs, metrics)
  local stats = require "loom.runs.stats"
  local names = {}
  for _, k in ipairs(M.differing_params(runs)) do if k ~= "seed" then names[#names + 1] = k end end
  local series = {}
  for _, g in ipairs(stats.group(runs, names)) do
    local label = #names > 0 and kv_text(g.key, names) or g.runs[1].name
    for _, m in ipairs(metrics) do
      local curves = {}
      for _, r in ipairs(g.runs) do
        local steps, values = s:metric(r.id, m)
        if #steps > 0 then curves[#curves + 1] = {steps = steps, values = values} end
      end
      if #curves > 0 then
        local x, mean, lo, hi = stats.band(curves)
        local title = (#metrics > 1 and (m .. " ") or "") .. label .. string.format(" (n=%d)", #curves)
        series[#series + 1] = {title = title, x = x, y = mean, lo = lo, hi = hi}
      end
    end
  end
  return series
end

-- loom plot --sweep NAME | --last N | --where EXPR [key=value ...] [METRIC ...]: the runs
-- come from the selection, every other word is a metric they logged.
function M.plot_selection(s, o, words)
  local filter_words, metrics = {}, {}
  for _, w in ipairs(words) do
    if w:find("=", 1, true) then filter_words[#filter_words + 1] = w else metrics[#metrics + 1] = w end
  end
  local runs, err = M.select_runs(s, o, filter_words)
  if not runs then return nil, err end
  if #runs == 0 then return nil, "no runs selected" end
  local known = {}
  for _, r in ipairs(runs) do
    for _, name in ipairs(s:metric_names(r.id)) do known[name] = true end
  end
  for _, m in ipairs(metrics) do
    if not known[m] then return nil, string.format("'%s' is not a metric of the selected runs", m) end
  end
  if #metrics == 0 then metrics = sorted_keys(known) end
  return runs, nil, metrics
end

function M.plot(args)
  local o, words = parse(args, {db = true, output = true, size = true, title = true, sweep = true, last = true,
    where = true})
  if not o then return fail("plot", words, 2) end
  if o.help then print(PLOT_USAGE); return 0 end
  local selecting = o.sweep or o.last or o.where
  if #words == 0 and not selecting then io.stderr:write(PLOT_USAGE, "\n"); return 2 end
  local s, code = open_store(o, "plot")
  if not s then return code end
  -- Words naming a metric of a run already given are metrics; the rest must be run ids.
  local runs, metrics, known = {}, {}, {}
  if selecting then
    local selected, serr, rest = M.plot_selection(s, o, words)
    if not selected then s:close(); return fail("plot", serr) end
    runs, metrics, words = selected, rest, {}
  end
  for _, w in ipairs(words) do
    if known[w] then
      metrics[#metrics + 1] = w
    else
      local id, err = s:resolve(w)
      if not id then
        s:close()
        return fail("plot", #runs > 0 and string.format("'%s' is neither a run id nor a metric of the runs given", w) or err)
      end
      local r = s:get(id)
      runs[#runs + 1] = r
      for _, name in ipairs(s:metric_names(id)) do known[name] = true end
    end
  end
  if #runs == 0 then s:close(); return fail("plot", "no run given", 2) end
  if #metrics == 0 then
    metrics = sorted_keys(known)
    if #metrics == 0 then s:close(); return fail("plot", "the runs have no metrics") end
  end
  local differ = M.differing_params(runs)
  local series = {}
  if o.band then series = M.band_series(s, runs, metrics) end
  for _, r in ipairs(o.band and {} or runs) do
    local label = #runs > 1 and (#differ > 0 and kv_text(r.params, differ) or r.id) or nil
    for _, m in ipairs(metrics) do
      local steps, values = s:metric(r.id, m)
      if #steps > 0 then
        local title = label and (#metrics > 1 and (m .. " " .. label) or label) or m
        series[#series + 1] = {title = title, x = steps, y = values}
      end
    end
  end
  s:close()
  if #series == 0 then return fail("plot", "none of the runs logged " .. table.concat(metrics, ", ")) end
  local size
  if o.size then
    local w, h = o.size:match("^(%d+)x(%d+)$")
    if not w then return fail("plot", "--size expects WxH, e.g. 800x500", 2) end
    size = {tonumber(w), tonumber(h)}
  end
  local title = o.title or (#runs == 1 and (runs[1].name .. " " .. runs[1].id) or runs[1].name)
  local ok, text = require("loom.runs.plot").draw{output = o.output, series = series, title = title,
    xlabel = "step", ylabel = #metrics == 1 and metrics[1] or nil, logy = o.logy, size = size}
  if not ok then return fail("plot", text) end
  if o.output then print("wrote " .. o.output) else io.write(text) end
  return 0
end

cli.register("runs", "list, show, compare, export, remove recorded runs: loom runs --help", M.runs)
cli.register("plot", "plot metrics of runs with gnuplot: loom plot ID... METRIC... -o f.png", M.plot)
cli.register("report", "one self-contained HTML page about runs: loom report --last 10 -o r.html",
  function(args) return require("loom.runs.report").main(args) end)
cli.register("sweep", "run a parameter grid locally (-j N) or on Slurm: loom sweep --help",
  function(args) return require("loom.runs.sweep").main(args) end)

return M
