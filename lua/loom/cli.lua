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

local function traceback(err)
  if type(err) ~= "string" then return cli.error_object_text(err) end
  return debug.traceback(err, 2)
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
      print(text)
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
