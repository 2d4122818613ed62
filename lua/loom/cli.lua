-- loom.cli: the `loom` command line: scripts, -e, -i, --version, help, and subcommands
-- looked up in a table that later modules extend. Not the REPL itself (loom.repl).
local cli = {}

local USAGE = [==[
usage: loom [options] [script.lua [args...]]
       loom <command> [args...]

options:
  -e code        run the Lua code (may be repeated)
  -i             open the REPL after running the script or -e code
  -l name        require library 'name' into a global of the same name
  -v, --version  print loom's version
  -h, --help     print this help
  -              run standard input as a script

commands:
%s

environment:
  LOOM_HISTORY   the REPL's history file (default ~/.loom_history; empty: no history)
  LOOM_LUA_DIR   the directory holding loom/init.lua (default: found from the executable)

With no arguments, loom opens the REPL (`help()` there lists what loom has).]==]

-- Subcommands: name -> {summary = "...", run = function(args) -> exit status}.
-- Later modules register theirs with cli.register.
cli.commands = {}

function cli.register(name, summary, run)
  cli.commands[name] = {summary = summary, run = run}
end

local function command_list()
  local names = {}
  for name in pairs(cli.commands) do names[#names + 1] = name end
  table.sort(names)
  local lines = {}
  for _, name in ipairs(names) do
    lines[#lines + 1] = string.format("  %-14s %s", name, cli.commands[name].summary)
  end
  return table.concat(lines, "\n")
end

function cli.usage()
  return USAGE:format(command_list())
end

-- Sort strings in natural order: digit runs compare as numbers, so "n_9" < "n_10" and
-- "fastest_100000x10" < "fastest_1000000x10". Sorts list in place and returns it.
local function natural_key(s)
  return (s:gsub("%d+", function(d)
    d = d:gsub("^0+(%d)", "%1")
    return string.format("%03d", #d) .. d
  end))
end

function cli.natural_sort(list)
  local keys = {}
  for _, s in ipairs(list) do keys[s] = keys[s] or natural_key(tostring(s)) end
  table.sort(list, function(a, b)
    local ka, kb = keys[a], keys[b]
    if ka ~= kb then return ka < kb end
    return a < b
  end)
  return list
end

-- Run a chunk with a traceback; returns true or false, printing the error to stderr.
local function report(ok, err)
  if not ok then io.stderr:write("loom: ", tostring(err), "\n") end
  return ok
end

-- The text of an error value that is not a string (lua.c's wording).
function cli.error_object_text(err)
  local mt = getmetatable(err)
  if mt and mt.__tostring then return tostring(err) end
  return string.format("(error object is a %s value)", type(err))
end

-- The folder holding loom's Lua half ("/.../lua/loom/"): frames from there are loom's own.
cli.LOOM_DIR = debug.getinfo(1, "S").source:match("^@(.*/)cli%.lua$") or "loom/"

local function loom_frame(line)
  local file = line:match("^%s*(.-):%d*:? in ") or ""
  return file == "[C]" or file:sub(1, #cli.LOOM_DIR) == cli.LOOM_DIR or line:find("^%s*%(%.%.%.tail calls%.%.%.%)")
end

-- The first frame of a traceback that is the user's code (not loom's, not C): "file:line".
local function user_location(lines)
  for i = 2, #lines do
    local where = lines[i]:match("^%s*([^%[].-:%d+): in ")
    if where and not loom_frame(lines[i]) then return where end
  end
end

-- err with its traceback as the user needs it: the frames of loom's runner and command
-- line below the protected call are cut, and a message raised inside loom's Lua half is
-- placed at the user's line (as C functions place theirs), e.g. "s.lua:4: linalg.lstsq: ...".
-- level is the one debug.traceback takes (2 from a message handler).
function cli.user_traceback(err, level)
  if type(err) ~= "string" then return cli.error_object_text(err) end
  local lines = {}
  for line in (debug.traceback(err, (level or 1) + 1) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  -- The outermost xpcall below which every frame is loom's: the protected call loom made.
  local cut = #lines + 1
  for i = #lines, 1, -1 do
    if not loom_frame(lines[i]) then break end
    if lines[i]:find("^%s*%[C%]: in function 'xpcall'") then cut = i end
  end
  for i = #lines, cut, -1 do lines[i] = nil end
  while #lines > 1 and lines[#lines]:find("^%s*%(%.%.%.tail calls%.%.%.%)") do lines[#lines] = nil end
  cli.place_at_user(lines)
  if lines[#lines] == "stack traceback:" then lines[#lines] = nil end
  return table.concat(lines, "\n")
end

-- lines = {message, "stack traceback:", frames...}: a message raised inside loom's Lua half
-- is given the location of the first frame of the user's code instead (in place).
function cli.place_at_user(lines)
  local where = user_location(lines)
  local file = lines[1]:match("^(.-):%d+: ")
  if where and file and file:sub(1, #cli.LOOM_DIR) == cli.LOOM_DIR then
    lines[1] = where .. ": " .. lines[1]:gsub("^.-:%d+: ", "", 1)
  end
  return lines
end

local function traceback(err)
  local text = cli.user_traceback(err, 2) -- not a tail call: the level counts this frame
  return text
end

function cli.run_chunk(chunk, ...)
  return report(xpcall(chunk, traceback, ...))
end

local function run_file(path, script_args)
  local chunk, err = loadfile(path ~= "-" and path or nil)
  if not chunk then
    io.stderr:write("loom: ", err, "\n")
    return false
  end
  return cli.run_chunk(chunk, table.unpack(script_args))
end

-- Commands that come with the foundation.
cli.register("help", "print this help, or the documentation of a loom name: loom help loom.zeros",
  function(args)
    if args[1] then
      local text, err = require("loom.help").text(args[1])
      if not text then
        io.stderr:write("loom help: ", err, "\n")
        return 1
      end
      require("loom.help").show(text)
    else
      print(cli.usage())
    end
    return 0
  end)

-- The (0-based) global `arg` as lua.c sets it: arg[0] is the script, arg[-k] loom's own
-- options, arg[1..] the script's arguments.
local function make_arg(argv, script_index)
  local t = {}
  for i = 0, #argv do t[i - script_index] = argv[i] end
  return t
end

-- Modules that register subcommands; each calls cli.register when loaded.
cli.command_modules = {"loom.runner", "loom.runs.cli", "loom.datacli"}

function cli.main(argv)
  local loom = require "loom"
  _G.loom = loom
  _G.help = function(x) return require("loom.help").help(x) end
  for _, name in ipairs(cli.command_modules) do require(name) end
  local first = argv[1]
  if first and cli.commands[first] then
    local args = table.move(argv, 2, #argv, 1, {})
    return cli.commands[first].run(args) or 0
  end
  local interactive, ran_something, i = false, false, 1
  while i <= #argv do
    local a = argv[i]
    if a == "-v" or a == "--version" then
      print("loom " .. loom.version .. " (" .. _VERSION .. ")")
      return 0
    elseif a == "-h" or a == "--help" then
      print(cli.usage())
      return 0
    elseif a == "-i" then
      interactive = true
    elseif a == "-e" then
      local code = argv[i + 1]
      if not code then
        io.stderr:write("loom: '-e' needs an argument\n")
        return 1
      end
      local chunk, err = load(code, "=(command line)")
      if not chunk then
        io.stderr:write("loom: ", err, "\n")
        return 1
      end
      if not cli.run_chunk(chunk) then return 1 end
      ran_something = true
      i = i + 1
    elseif a == "-l" then
      local name = argv[i + 1]
      if not name then
        io.stderr:write("loom: '-l' needs an argument\n")
        return 1
      end
      if not report(pcall(function() _G[name] = require(name) end)) then return 1 end
      i = i + 1
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      io.stderr:write("loom: unknown option '", a, "'\n", cli.usage(), "\n")
      return 1
    else
      _G.arg = make_arg(argv, i)
      local script_args = table.move(argv, i + 1, #argv, 1, {})
      if not run_file(a, script_args) then return 1 end
      ran_something = true
      break
    end
    i = i + 1
  end
  if interactive or not ran_something then
    return require("loom.repl").run() or 0
  end
  return 0
end

return cli
