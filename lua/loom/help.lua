-- loom.help: the one docstring source read back: help(x) in the REPL and scripts, `loom help`,
-- and the API reference generator. Not the docstrings themselves (lua/loom/doc/<area>.lua).
local help = {}

-- The areas, in the order help() and docs/api.md show them. A new area adds its name here
-- and writes lua/loom/doc/<area>.lua; areas whose file does not exist yet are skipped.
help.AREAS = {"matrix", "linalg", "regress", "nn", "optim", "rnn", "seq", "runs", "checkpoint",
  "audio", "data", "text", "metrics", "seq2seq", "experiment", "repl"}

-- Check one doc file's list; raises naming the file and the entry.
local function validate(area, path, list)
  if type(list) ~= "table" then
    error(string.format("%s: expected the file to return a list of entries, got %s", path, type(list)), 0)
  end
  for i, e in ipairs(list) do
    local where = string.format("%s: entry %d", path, i)
    if type(e) ~= "table" then error(where .. " is not a table", 0) end
    if type(e.name) ~= "string" or e.name == "" then error(where .. ": 'name' must be a non-empty string", 0) end
    if type(e.doc) ~= "string" or e.doc == "" then
      error(string.format("%s (%s): 'doc' must be a non-empty string", where, e.name), 0)
    end
    if e.signature ~= nil and type(e.signature) ~= "string" then
      error(string.format("%s (%s): 'signature' must be a string", where, e.name), 0)
    end
    e.area = area
  end
  return list
end

-- The entries of one area, or nil when the area has no doc file (yet).
function help.load_area(area)
  local path = package.searchpath("loom.doc." .. area, package.path)
  if not path then return nil end
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  return validate(area, path, chunk())
end

local cache -- {areas = {{area = name, entries = list}}, by_name = {name = entry}}

-- Every entry of every area, loaded once: {areas = ..., by_name = ...}. Two entries with
-- one name are an error (help could not tell which to print).
function help.index()
  if cache then return cache end
  local areas, by_name = {}, {}
  for _, area in ipairs(help.AREAS) do
    local list = help.load_area(area)
    if list then
      areas[#areas + 1] = {area = area, entries = list}
      for _, e in ipairs(list) do
        local other = by_name[e.name]
        if other then
          error(string.format("loom.help: '%s' is documented twice (areas %s and %s)",
            e.name, other.area, e.area), 0)
        end
        by_name[e.name] = e
      end
    end
  end
  cache = {areas = areas, by_name = by_name}
  return cache
end

-- Forget loaded docs (tests that write doc files; a REPL session after editing one).
function help.reload() cache = nil end

---- names of values ----

-- Visit every function and table reachable from the loom table as visit(path, value),
-- with matrix methods as "matrix:name". Paths are "loom.a.b"; private "_x" names skipped.
function help.walk(visit)
  local loom = require "loom"
  local seen = {}
  local function walk(t, path, depth)
    if seen[t] or depth > 4 then return end
    seen[t] = true
    local keys = {}
    for k in pairs(t) do
      if type(k) == "string" and not k:match("^_") then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v, full = t[k], path .. "." .. k
      if k == "matrix_methods" and t == loom then
        local methods = {}
        for name in pairs(v) do methods[#methods + 1] = name end
        table.sort(methods)
        for _, name in ipairs(methods) do
          if type(v[name]) == "function" then visit("matrix:" .. name, v[name]) end
        end
      elseif type(v) == "function" then
        visit(full, v)
      elseif type(v) == "table" and v ~= loom then
        visit(full, v)
        walk(v, full, depth + 1)
      end
    end
  end
  walk(loom, "loom", 1)
end

-- Names a documentation entry may use for the path "loom.a.b.c": as is, without "loom.",
-- and with the last '.' as ':' (a method reached through a class table).
function help.aliases(path)
  local list = {path}
  local short = path:match("^loom%.(.+)$")
  if short then list[#list + 1] = short end
  for i = 1, #list do
    local method = list[i]:match("^(.+)%.[^%.:]+$") and list[i]:gsub("%.([^%.:]+)$", ":%1")
    if method then list[#list + 1] = method end
  end
  return list
end

-- The entry documenting path, trying its aliases.
local function entry_for_path(path)
  local by_name = help.index().by_name
  for _, name in ipairs(help.aliases(path)) do
    if by_name[name] then return by_name[name] end
  end
end

-- Functions, and tables called like functions (classes with __call).
local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- Paths of loom functions and methods (and callable tables) that no entry documents.
function help.undocumented()
  local missing = {}
  help.walk(function(path, v)
    if callable(v) and not entry_for_path(path) then missing[#missing + 1] = path end
  end)
  return missing
end

-- The path of a value reachable from the loom table, or nil.
function help.name_of(value)
  local found
  help.walk(function(path, v)
    if v == value and not found then found = path end
  end)
  return found
end

---- text ----

function help.entry_text(e)
  local lines = {e.name .. "  (" .. e.area .. ")"}
  if e.signature then lines[#lines + 1] = "  " .. e.signature end
  lines[#lines + 1] = ""
  for line in (e.doc:gsub("%s+$", "") .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = (line == "" and "" or "  " .. line)
  end
  return table.concat(lines, "\n")
end

-- A list of the entries whose names start with prefix ("loom.linalg." or "matrix:").
local function listing(title, prefix)
  local found, width = {}, 22
  for _, a in ipairs(help.index().areas) do
    for _, e in ipairs(a.entries) do
      if e.name:sub(1, #prefix) == prefix then
        found[#found + 1] = e
        width = math.max(width, #e.name)
      end
    end
  end
  if #found == 0 then return nil end
  local lines = {}
  for i, e in ipairs(found) do
    lines[i] = (string.format("  %-" .. width .. "s  %s", e.name, e.signature or "")):gsub("%s+$", "")
  end
  return title .. "\n" .. table.concat(lines, "\n")
end

function help.overview()
  local out = {"loom: Lua-scripted least squares, neural networks and recurrent nets on OpenBLAS.",
    "help(x) documents a function, method or type: help(loom.zeros), help(\"matrix:sum\"),",
    "help(A) for a matrix A, help(\"loom.linalg\") for an area's names. `loom help` in a shell.", "",
    "areas:"}
  for _, a in ipairs(help.index().areas) do
    local text = ""
    for i, e in ipairs(a.entries) do
      local more = (i > 1 and ", " or "") .. e.name
      if #text + #more > 64 then text = text .. ", ..." break end
      text = text .. more
    end
    out[#out + 1] = string.format("  %-11s %s", a.area, text)
  end
  out[#out + 1] = ""
  out[#out + 1] = "help(\"<area>\") lists every name of one area."
  return table.concat(out, "\n")
end

local function area_listing(area)
  for _, a in ipairs(help.index().areas) do
    if a.area == area then
      local lines = {"area " .. area .. ":"}
      for _, e in ipairs(a.entries) do
        lines[#lines + 1] = string.format("  %-32s %s", e.name, e.signature or "")
      end
      return table.concat(lines, "\n")
    end
  end
end

---- instances ----

-- Where the methods of an instance are documented when its own page lists none: the
-- recurrent layers share nn.LSTM's, cells nn.LSTMCell's, native modules nn.Module's.
local METHODS_OF = {["loom.nn.rnn"] = "nn.LSTM:", ["loom.nn.cell"] = "nn.LSTMCell:",
  ["nn.Module"] = "loom.nn.Module:", ["loom.nn.Sequential"] = "loom.nn.Module:",
  ["nn.Loss"] = "loom.nn.Loss:"}

local function type_name(x)
  local mt = getmetatable(x)
  local name = type(mt) == "table" and rawget(mt, "__name")
  return type(name) == "string" and name or nil
end

-- The entry documenting an instance (a layer, a container, an optimiser), and where its
-- methods are listed, or nil: a module says what it is in config().kind, an optimiser in
-- its kind field; otherwise the type's name.
local function instance_entry(x)
  local tname = type_name(x)
  local ok, config = pcall(function() return x:config() end)
  if ok and type(config) == "table" and type(config.kind) == "string" then
    local e = entry_for_path("loom.nn." .. config.kind) or entry_for_path("nn." .. config.kind)
    if e then return e, tname and METHODS_OF[tname] end
  end
  local kind = type(x) == "table" and rawget(x, "kind")
  local optim = package.loaded["loom.optim"]
  if type(kind) == "string" and optim and type(x.step) == "function" then
    local e = entry_for_path("loom.optim." .. kind)
    if e then return e, "loom.optim.Optimizer:" end
  end
  if tname then
    local e = entry_for_path(tname) or entry_for_path(tname:gsub("^loom%.", ""))
      or entry_for_path("loom." .. tname)
    if e then return e, METHODS_OF[tname] end
  end
end

-- Entries whose last name is short ("lstsq" -> loom.linalg.lstsq), for help("lstsq").
local function entries_named(short)
  local found = {}
  for _, a in ipairs(help.index().areas) do
    for _, e in ipairs(a.entries) do
      local last = e.name:match("[%.:]([^%.:]+)$") or e.name
      if last == short then found[#found + 1] = e end
    end
  end
  return found
end

local function page(e, methods_prefix)
  local text = help.entry_text(e)
  local methods = listing("methods:", e.name .. ":")
  if methods_prefix and methods_prefix ~= e.name .. ":" then
    local shared = listing(methods ~= nil and ("more methods (" .. methods_prefix:gsub(":$", "") .. "):")
      or "methods:", methods_prefix)
    if shared then methods = methods and (methods .. "\n\n" .. shared) or shared end
  end
  return methods and (text .. "\n\n" .. methods) or text
end

-- The documentation of x (a name or a value) as text, or nil and a message.
function help.text(x)
  if x == nil or x == package.loaded["loom"] then return help.overview() end
  local name
  if type(x) == "string" then
    name = x:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%(%)$", "")
  else
    name = help.name_of(x)
    if not name then
      local e, methods = instance_entry(x)
      if e then return page(e, methods) end
      local tname = type_name(x)
      if tname then name = tname:gsub("^loom%.", "") end
    end
    if not name then return nil, "no documentation for this " .. type(x) end
  end
  local e = entry_for_path(name)
  local area = not e and area_listing(name)
  if area then return area end
  e = e or entry_for_path("loom." .. name)
  if e then return page(e) end
  local prefix = name:gsub("^loom%.", "")
  local list = listing(name .. ":", "loom." .. prefix .. ".") or listing(name .. ":", prefix .. ".")
    or listing(name .. ":", prefix .. ":")
  if list then return list end
  if name:match("^[%w_]+$") then
    local found = entries_named(name)
    if #found == 1 then return page(found[1]) end
    if #found > 1 then
      local lines = {name .. " is documented as:"}
      for _, f in ipairs(found) do lines[#lines + 1] = string.format("  %-32s %s", f.name, f.signature or "") end
      return table.concat(lines, "\n")
    end
  end
  return nil, "no documentation for " .. name
end

---- the pager ----

-- The terminal's height: $LINES, else what tput says, else 24.
local function terminal_rows()
  local rows = tonumber(os.getenv("LINES") or "")
  if rows then return rows end
  local p = io.popen("tput lines 2>/dev/null")
  if p then
    rows = tonumber(p:read("l") or "")
    p:close()
  end
  return rows or 24
end

-- Print text, through $PAGER (default `less -R`) when stdout is a terminal and the text is
-- taller than it; plain print otherwise (pipes, files, tests).
function help.show(text)
  local process = require("loom.core").process
  local lines = select(2, text:gsub("\n", "")) + 1
  local pager = os.getenv("PAGER")
  if pager == nil then pager = "less -R" end
  if pager ~= "" and process.isatty(io.stdout) and lines > terminal_rows() - 2 then
    io.stdout:flush()
    local p = io.popen(pager, "w")
    if p then
      p:write(text, "\n")
      if p:close() then return end
    end
  end
  print(text)
end

-- help([x]): print the documentation of x (or the overview), paged when long.
function help.help(x)
  local text, err = help.text(x)
  help.show(text or err)
end

return help
