-- loom.repl: the interactive loop: reads statements (several lines when incomplete), prints
-- every result, survives errors and Ctrl-C. Not line editing itself (main.c's loom.cli_native).
local repl = {}

-- The terminal pieces exist only in the loom executable; stock lua5.4 gets plain stdio.
local has_native, native = pcall(require, "loom.cli_native")
if not has_native then native = nil end

repl.PROMPT, repl.PROMPT2 = "> ", ">> "

---- compiling what was typed ----

-- The chunk for source: an expression first (its values get printed), else a statement.
-- Returns fn, or nil, message, incomplete (true when more lines could finish it).
function repl.compile(source)
  if source:sub(1, 1) == "=" then source = "return " .. source:sub(2) end -- Lua 5.1 habit
  local fn = load("return " .. source, "=stdin")
  if fn then return fn end
  local err
  fn, err = load(source, "=stdin")
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

-- The text the REPL prints for the values v[1..n]: tostring of each, tab-separated.
function repl.format_results(v, n)
  local parts = {}
  for i = 1, n do
    local ok, text = pcall(tostring, v[i])
    parts[i] = ok and text or ("(tostring failed: " .. tostring(text) .. ")")
  end
  return table.concat(parts, "\t")
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

-- The value a dotted path names, starting from the globals, or nil.
local function lookup(path)
  local v = _G
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

-- The input side of a session: read(prompt) -> line | false (Ctrl-C) | nil (end), and
-- remember(source) for history. libedit with prompts, banner and history on a terminal;
-- plain stdio, silent, otherwise.
local function open_session(interactive)
  if not interactive then
    return function() return io.stdin:read("l") end, function() end
  end
  local loom = require "loom"
  io.stdout:write(string.format("loom %s (%s)  help() for help, Ctrl-D to leave\n",
    loom.version, _VERSION))
  native.set_completer(repl.complete)
  local history = repl.history_path()
  if history then native.load_history(history) end
  local function remember(source)
    if not source:find("%S") then return end
    native.add_history(source)
    if history then native.save_history(history) end
  end
  return native.readline, remember
end

-- repl.run{interactive = bool}: the session; returns the exit status (non-interactive
-- sessions return 1 when any statement failed, so `loom < file` works in scripts).
function repl.run(opts)
  opts = opts or {}
  local interactive = opts.interactive
  if interactive == nil then interactive = native ~= nil and native.isatty("stdin") end
  interactive = interactive and native ~= nil
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
