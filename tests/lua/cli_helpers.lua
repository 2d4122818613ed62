-- cli_helpers.lua: running the loom executable from a test (test_cli.lua, test_repl.lua):
-- a command with given stdin, its stdout, stderr and exit status. Not a test file itself.
local helpers = {}

helpers.BIN = os.getenv("LOOM_BIN") or (BUILD_DIR .. "/bin/loom")

function helpers.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

-- Run loom with the argument list args (strings, quoted here) and stdin text (or none).
-- Returns {out = stdout, err = stderr, status = exit code}. History is off ($LOOM_HISTORY
-- empty) so tests never touch the user's file.
function helpers.run(args, stdin, env)
  local input, errfile = os.tmpname(), os.tmpname()
  local f = assert(io.open(input, "wb"))
  f:write(stdin or "")
  f:close()
  local words = {}
  for _, a in ipairs(args or {}) do words[#words + 1] = helpers.quote(a) end
  local cmd = string.format("%s LOOM_HISTORY= %s %s < %s 2> %s", env or "",
    helpers.quote(helpers.BIN), table.concat(words, " "), input, errfile)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, status = p:close()
  local err = slurp(errfile)
  os.remove(input)
  os.remove(errfile)
  return {out = out, err = err, status = status}
end

-- Write text to a fresh temporary file and return its path.
function helpers.tempfile(text, suffix)
  local path = os.tmpname() .. (suffix or "")
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- check that text contains the plain string part.
function helpers.contains(text, part, what)
  if not text:find(part, 1, true) then
    error(string.format("%s: expected to contain\n    %q\n  got\n    %q", what or "output", part, text), 2)
  end
end

return helpers
