-- loom.repl: the interactive loop: reads statements (several lines when incomplete), prints
-- every result, survives errors and Ctrl-C. Not line editing itself (main.c's loom.cli_native).
local repl = {}

-- The terminal pieces exist only in the loom executable; stock lua5.4 gets plain stdio.
local has_native, native = pcall(require, "loom.cli_native")
if not has_native then native = nil end

repl.PROMPT, repl.PROMPT2 = "> ", ">> "

---- the session's variables ----

-- Top-level `local x = ...` lines keep x for the next lines, as in other Lua REPLs: such a
-- chunk ends by handing its top-level locals to the session, and later chunks see them
-- through their environment (reads fall back to the globals; writes to a kept name stay
-- in the session, others go to the globals). Within the line x stays a true local.
local declared, values = {}, {}

local function keep(name, value)
  declared[name] = true
  values[name] = value
end

repl.env = setmetatable({}, {
  __index = function(_, k)
    if k == "__repl_keep" then return keep end
    if declared[k] then return values[k] end
    return _G[k]
  end,
  __newindex = function(_, k, v)
    if declared[k] then values[k] = v else _G[k] = v end
  end,
})

-- Forget the session's locals (tests).
function repl.reset_locals()
  declared, values = {}, {}
end

-- The names a chunk starting with a local declaration declares ("local a, b = 1, 2" ->
-- {"a", "b"}; "local function f" -> {"f"}), or nil (<close> variables keep their scope).
function repl.local_names(source)
  local fname = source:match("^%s*local%s+function%s+([%a_][%w_]*)")
  if fname then return {fname} end
  local pos = source:match("^%s*local%s+()")
  if not pos then return nil end
  local names = {}
  while true do
    local name, attrib, next_pos = source:match("^([%a_][%w_]*)%s*(<?%a*>?)%s*()", pos)
    if not name or (attrib ~= "" and attrib ~= "<const>") then return nil end
    names[#names + 1] = name
    pos = next_pos
    local comma = source:match("^,%s*()", pos)
    if not comma then break end
    pos = comma
  end
  return names
end

---- compiling what was typed ----

-- The chunk for source: an expression first (its values get printed), else a statement.
-- Returns fn, or nil, message, incomplete (true when more lines could finish it).
function repl.compile(source)
  if source:sub(1, 1) == "=" then source = "return " .. source:sub(2) end -- Lua 5.1 habit
  local fn = load("return " .. source, "=stdin", "t", repl.env)
  if fn then return fn end
  local err
  local names = repl.local_names(source)
  if names then
    local tail = {}
    for i, n in ipairs(names) do tail[i] = string.format("__repl_keep(%q, %s)", n, n) end
    fn = load(source .. "\n;" .. table.concat(tail, " "), "=stdin", "t", repl.env)
    if fn then return fn end
  end
  fn, err = load(source, "=stdin", "t", repl.env)
  if fn then return fn end
  return nil, err, err:sub(-5) == "<eof>"
end

---- running it ----

-- Trim the traceback at the REPL's own frames: the user sees their code, not the loop.
local function user_traceback(msg)
  local lines = {}
  for line in (debug.traceback(msg, 2) .. "\n"):gmatch("(.-)\n") do
    if line:find("loom/repl.lua", 1, true) or line:find("loom.cli_native", 1, true) then break end
    lines[#lines + 1] = line
  end
  while #lines > 1 and lines[#lines]:match("^%s*%[C%]: in ") do lines[#lines] = nil end
  -- an error raised inside loom's Lua half is shown at the line typed (stdin:1:)
  local ok, cli = pcall(require, "loom.cli")
  if ok then cli.place_at_user(lines) end
  if lines[#lines] == "stack traceback:" then lines[#lines] = nil end
  return table.concat(lines, "\n")
end

local function message_handler(err)
  if type(err) ~= "string" then return require("loom.cli").error_object_text(err) end
  return user_traceback(err)
end

-- Call fn in protected mode (Ctrl-C raises "interrupted!" inside it when native exists).
local function protected(fn)
  if native then return native.call(message_handler, fn) end
  return xpcall(fn, message_handler)
end

---- showing values ----

repl.MAX_DEPTH = 3   -- nested tables deeper than this print as {...}
repl.MAX_ITEMS = 30  -- fields shown per table
repl.WIDTH = 80      -- a table that fits prints on one line

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

-- A value inside a table, briefly: matrices as <3x4 matrix>, strings quoted, one line.
local function brief(v)
  local mt = getmetatable(v)
  local tname = type(mt) == "table" and rawget(mt, "__name")
  if tname == "matrix" then
    local ok, r, c = pcall(function() return v:rows(), v:cols() end)
    if ok then return string.format("<%dx%d matrix>", r, c) end
  end
  if type(v) == "string" then return string.format("%q", v):gsub("\\\n", "\\n") end
  local ok, text = pcall(tostring, v)
  text = ok and text or ("(tostring failed: " .. tostring(text) .. ")")
  local first = text:match("^[^\n]*")
  return first ~= text and (first .. " …") or text
end

-- Keys in display order: 1..n first, then the others (numbers, then names, in natural order).
local function ordered_keys(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local others = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then others[#others + 1] = k end
  end
  table.sort(others, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return n, others
end

local function pretty(v, depth, seen, indent)
  if type(v) ~= "table" then return brief(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then return brief(v) end
  if seen[v] then return "<cycle>" end
  local n, others = ordered_keys(v)
  if n + #others == 0 then return "{}" end
  if depth > repl.MAX_DEPTH then return "{...}" end
  seen[v] = true
  local items = {}
  local function add(text)
    if #items < repl.MAX_ITEMS then items[#items + 1] = text end
  end
  local inner = indent .. "  "
  for i = 1, n do add(pretty(rawget(v, i), depth + 1, seen, inner)) end
  for _, k in ipairs(others) do
    local key = is_identifier(k) and k or ("[" .. brief(k) .. "]")
    add(key .. " = " .. pretty(rawget(v, k), depth + 1, seen, inner))
  end
  seen[v] = nil
  local total = n + #others
  if total > #items then items[#items + 1] = string.format("... (%d more)", total - #items) end
  local line = "{" .. table.concat(items, ", ") .. "}"
  if #line + #indent <= repl.WIDTH and not line:find("\n", 1, true) then return line end
  -- Too long for one line: short items fill lines, long ones get a line each.
  local lines, current = {}, nil
  for i, item in ipairs(items) do
    local piece = item .. (i < #items and "," or "")
    if current and #item <= 16 and #current + 1 + #piece <= repl.WIDTH then
      current = current .. " " .. piece
    else
      if current then lines[#lines + 1] = current end
      current = inner .. piece
    end
  end
  lines[#lines + 1] = current
  return "{\n" .. table.concat(lines, "\n") .. "\n" .. indent .. "}"
end

-- The text of one value at the prompt: tables pretty-printed (nested up to MAX_DEPTH, matrices
-- in them as <r x c matrix>), anything else as tostring (a matrix in full, numpy-like).
function repl.format_value(v)
  if type(v) == "table" then
    local mt = getmetatable(v)
    if not (type(mt) == "table" and rawget(mt, "__tostring")) then return pretty(v, 1, {}, "") end
  end
  local ok, text = pcall(tostring, v)
  return ok and text or ("(tostring failed: " .. tostring(text) .. ")")
end

-- The text the REPL prints for the values v[1..n]: one per line, so that a matrix always
-- starts at the beginning of a line.
function repl.format_results(v, n)
  local parts = {}
  for i = 1, n do parts[i] = repl.format_value(v[i]) end
  return table.concat(parts, "\n")
end

-- Run one complete chunk, printing its results or its error; returns true on success.
function repl.execute(fn, out, err)
  out, err = out or io.stdout, err or io.stderr
  local results = table.pack(protected(fn))
  if not results[1] then
    err:write(tostring(results[2]), "\n")
    err:flush()
    return false
  end
  if results.n > 1 then
    out:write(repl.format_results({table.unpack(results, 2, results.n)}, results.n - 1), "\n")
  end
  out:flush()
  return true
end

---- completion ----

local KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
  "while"}

-- Keys of t (and of the tables its metatables' __index chain leads to) that start with
-- prefix and are identifiers; methods_only keeps functions (after ':').
local function fields(t, prefix, methods_only, into, seen)
  seen = seen or {}
  if seen[t] then return into end
  seen[t] = true
  if type(t) == "table" then
    for k, v in next, t do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #prefix) == prefix
          and (not methods_only or type(v) == "function") then
        into[k] = true
      end
    end
  end
  local mt = getmetatable(t)
  local index = type(mt) == "table" and rawget(mt, "__index")
  if type(index) == "table" then fields(index, prefix, methods_only, into, seen) end
  return into
end

-- The value a dotted path names, starting from the session's locals and the globals, or nil.
local function lookup(path)
  local v = repl.env
  for name in path:gmatch("[^%.]+") do
    local ok, field = pcall(function() return v[name] end)
    if not ok or field == nil then return nil end
    v = field
  end
  return v
end

-- Completions of the word text ("loom.ze", "A:su", "pri"): full words, sorted.
function repl.complete(text)
  local base, sep, partial = text:match("^(.-)([%.:])([%w_]*)$")
  local names = {}
  if not base then
    partial = text:match("[%w_]*$")
    if partial ~= text then return {} end
    fields(_G, partial, false, names)
    for k in pairs(declared) do
      if k:sub(1, #partial) == partial then names[k] = true end
    end
    for _, k in ipairs(KEYWORDS) do
      if k:sub(1, #partial) == partial then names[k] = true end
    end
    base, sep = "", ""
  else
    if not base:match("^[%a_][%w_%.]*$") or base:sub(-1) == "." then return {} end
    local value = lookup(base)
    if value == nil then return {} end
    fields(value, partial, sep == ":", names)
  end
  local list = {}
  for k in pairs(names) do list[#list + 1] = base .. sep .. k end
  table.sort(list)
  return list
end

---- the loop ----

-- Where history lives: $LOOM_HISTORY (empty: none), else ~/.loom_history.
function repl.history_path()
  local path = os.getenv("LOOM_HISTORY")
  if path then return path ~= "" and path or nil end
  local home = os.getenv("HOME")
  return home and home ~= "" and (home .. "/.loom_history") or nil
end

repl.HISTORY_LINES = 1000 -- lines kept in the history file

-- libedit's own history files are vis(3)-encoded ("x\040=\0401" after a "_HiStOrY_V2_"
-- line): read those too, and write plain lines, so the file stays readable.
local function unvis(line)
  return (line:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8) % 256) end)
    :gsub("\\\\", "\\"))
end

-- The history entries in path (plain lines; a libedit file decoded), oldest first.
function repl.read_history(path)
  local f = path and io.open(path, "rb")
  if not f then return {} end
  local lines, encoded = {}, false
  for line in f:lines() do
    if #lines == 0 and not encoded and line == "_HiStOrY_V2_" then
      encoded = true
    elseif line ~= "" then
      lines[#lines + 1] = encoded and unvis(line) or line
    end
  end
  f:close()
  return lines, encoded
end

-- One history line for a statement: its lines joined when that keeps its meaning.
function repl.history_line(source)
  if not source:find("\n", 1, true) then return source end
  if source:find("--", 1, true) or source:find("[[", 1, true) or source:find("[=", 1, true) then return nil end
  return (source:gsub("%s*\n%s*", " "))
end

local function write_history(path, lines)
  local f = io.open(path, "wb")
  if not f then return end
  local first = math.max(1, #lines - repl.HISTORY_LINES + 1)
  for i = first, #lines do f:write(lines[i], "\n") end
  f:close()
end

-- The input side of a session: read(prompt) -> line | false (Ctrl-C) | nil (end), and
-- remember(source) for history. libedit with prompts, banner and history on a terminal;
-- without libedit (stock lua5.4) prompts and banner on a terminal over plain stdio;
-- plain stdio, silent, otherwise.
local function open_session(interactive)
  if not interactive then
    return function() return io.stdin:read("l") end, function() end
  end
  local loom = require "loom"
  io.stdout:write(string.format("loom %s (%s)  help() for help, Ctrl-D to leave\n",
    loom.version, _VERSION))
  if not native then
    local function read(prompt)
      io.stdout:write(prompt)
      io.stdout:flush()
      return io.stdin:read("l")
    end
    return read, function() end
  end
  native.set_completer(repl.complete)
  local history = repl.history_path()
  local lines, encoded = repl.read_history(history)
  for _, line in ipairs(lines) do native.add_history(line) end
  if encoded or #lines > repl.HISTORY_LINES then write_history(history, lines) end
  local function remember(source)
    if not source:find("%S") then return end
    local line = repl.history_line(source)
    for part in (line or source):gmatch("[^\n]+") do
      native.add_history(part)
      lines[#lines + 1] = part
      if history then
        local f = io.open(history, "ab")
        if f then f:write(part, "\n"); f:close() end
      end
    end
  end
  return native.readline, remember
end

-- repl.run{interactive = bool}: the session; returns the exit status (non-interactive
-- sessions return 1 when any statement failed, so `loom < file` works in scripts).
function repl.run(opts)
  opts = opts or {}
  local interactive = opts.interactive
  if interactive == nil then
    if native then
      interactive = native.isatty("stdin")
    else
      local ok, core = pcall(require, "loom.core")
      interactive = ok and core.process.isatty(io.stdin) or false
    end
  end
  -- The loom executable sets these; from stock lua5.4 the REPL brings them itself.
  if rawget(_G, "loom") == nil then _G.loom = require "loom" end
  if rawget(_G, "help") == nil then _G.help = function(x) return require("loom.help").help(x) end end
  local read, remember = open_session(interactive)
  local failed = false
  local buffer = nil -- the lines of an incomplete statement
  while true do
    local line = read(buffer and repl.PROMPT2 or repl.PROMPT)
    if line == false then -- Ctrl-C at the prompt: drop what was typed
      io.stdout:write("\n")
      buffer = nil
    elseif line == nil then
      if buffer then -- input ended inside a statement: say why it never ran
        local _, err = repl.compile(buffer)
        io.stderr:write(err, "\n")
        failed = true
      end
      if interactive then io.stdout:write("\n") end
      break
    else
      local source = buffer and (buffer .. "\n" .. line) or line
      local fn, err, incomplete = repl.compile(source)
      if fn then
        buffer = nil
        remember(source)
        if not repl.execute(fn) then failed = true end
      elseif incomplete then
        buffer = source
      else
        buffer = nil
        remember(source)
        io.stderr:write(err, "\n")
        failed = true
      end
    end
  end
  return (failed and not interactive) and 1 or 0
end

return repl
