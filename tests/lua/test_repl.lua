-- test_repl.lua: the REPL through a pipe (autoprint, error recovery, multi-line input) and a
-- pseudo-terminal (Ctrl-C, Tab, history), its completer, help(x), and the docstring files.
-- Not the command-line options (test_cli.lua).
local h = dofile(TEST_DIR .. "/cli_helpers.lua")
local run, contains = h.run, h.contains
local loom = require "loom"
local repl = require "loom.repl"
local help = require "loom.help"

---- through a pipe ----

test("expressions print without =, statements print nothing", function()
  local r = run({}, "1 + 1\nx = 5\nx * 2\n'text'\nnil\n")
  equal(r.out, "2\n10\ntext\nnil\n", "stdout")
  equal(r.err, "", "stderr")
  equal(r.status, 0, "status")
end)

test("all results are printed, one per line, so a matrix starts a line", function()
  local r = run({}, "return 1, nil, 'a'\nstring.find('hello', 'll')\nprint('p')\n=3\n")
  equal(r.out, "1\nnil\na\n3\n4\np\n3\n", "stdout")
  r = run({}, "loom.eye(2), loom.ones(1, 2)\n")
  equal(r.out, tostring(loom.eye(2)) .. "\n" .. tostring(loom.ones(1, 2)) .. "\n", "two matrices")
end)

test("tables pretty-print: nested, a depth limit, matrices in brief", function()
  local r = run({}, "{1, 2, {a = 1, m = loom.zeros(3, 4)}, 's'}\n{n = 1, t = {u = {v = {w = 1}}}}\n{}\n"
    .. "t = {} t.self = t\nt\nsetmetatable({}, {__tostring = function() return 'custom' end})\n")
  equal(r.out, '{1, 2, {a = 1, m = <3x4 matrix>}, "s"}\n{n = 1, t = {u = {v = {...}}}}\n{}\n'
    .. "{self = <cycle>}\ncustom\n", "stdout")
  r = run({}, "t = {} for i = 1, 40 do t[i] = i * 1000 end\nt\n")
  equal(r.out, "{\n  1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000,\n"
    .. "  13000, 14000, 15000, 16000, 17000, 18000, 19000, 20000, 21000, 22000, 23000,\n"
    .. "  24000, 25000, 26000, 27000, 28000, 29000, 30000, ... (10 more)\n}\n", "long list")
end)

test("matrices pretty-print like tostring", function()
  local r = run({}, "loom.eye(2)\nloom.matrix{{1.5, -2}, {3, 4}}\n")
  equal(r.out, tostring(loom.eye(2)) .. "\n" .. tostring(loom.matrix{{1.5, -2}, {3, 4}}) .. "\n", "stdout")
  contains(r.out, "matrix([[1., 0.],")
end)

test("large matrices are summarised", function()
  local r = run({}, "loom.zeros(100, 100)\n")
  contains(r.out, "...")
  contains(r.out, "shape=100x100")
end)

test("an error prints a traceback and the session continues", function()
  local r = run({}, "error('boom')\nprint('after')\nlocal t = nil; t.x = 1\n40 + 2\n")
  equal(r.out, "after\n42\n", "stdout")
  contains(r.err, "stdin:1: boom", "stderr")
  contains(r.err, "stack traceback:", "stderr")
  contains(r.err, "attempt to index a nil value (local 't')", "stderr")
  check(not r.err:find("repl.lua", 1, true), "the traceback shows the REPL's own frames:\n%s", r.err)
  equal(r.status, 1, "status (a statement failed)")
end)

test("an error raised in loom's Lua half is shown at the line typed", function()
  local r = run({}, "X = loom.zeros(5, 3)\nb = loom.linalg.lstsq(X, loom.zeros(3, 1))\n")
  check(r.err:find("^stdin:1: linalg.lstsq: X is 5x3 but y is 3x1 %(rows differ%)\nstack traceback:\n"), "stderr: %s", r.err)
  contains(r.err, "\tstdin:1: in main chunk")
end)

test("a syntax error is reported and the session continues", function()
  local r = run({}, "x = = 1\nprint('still here')\n")
  equal(r.out, "still here\n", "stdout")
  contains(r.err, "unexpected symbol near '='", "stderr")
end)

test("errors with non-string values", function()
  local r = run({}, "error({})\nerror(setmetatable({}, {__tostring = function() return 'custom' end}))\n1\n")
  equal(r.out, "1\n", "stdout")
  contains(r.err, "(error object is a table value)", "stderr")
  contains(r.err, "custom", "stderr")
end)

test("a failing __tostring does not end the session", function()
  local r = run({}, "setmetatable({}, {__tostring = function() error('no text') end})\n2\n")
  contains(r.out, "(tostring failed:")
  contains(r.out, "\n2\n")
end)

test("a function defined over three lines", function()
  local r = run({}, "function double(a)\n  return a * 2\nend\ndouble(21)\n")
  equal(r.out, "42\n", "stdout")
  equal(r.err, "", "stderr")
end)

test("an expression over several lines prints", function()
  local r = run({}, "loom.matrix{{1, 2},\n{3, 4}}\n")
  equal(r.out, tostring(loom.matrix{{1, 2}, {3, 4}}) .. "\n", "stdout")
end)

test("a loop over several lines, then more input", function()
  local r = run({}, "s = 0\nfor i = 1, 10 do\n  s = s + i\nend\ns\n")
  equal(r.out, "55\n", "stdout")
end)

test("input ending inside a statement reports it", function()
  local r = run({}, "for i = 1, 3 do\n")
  equal(r.out, "", "stdout")
  contains(r.err, "<eof>", "stderr")
  equal(r.status, 1, "status")
end)

test("top-level locals survive between lines, as globals do", function()
  local r = run({}, "local a = 1\na\nb = 2\nb\nlocal c, d <const> = 3, 4\nc + d\n"
    .. "local function f(n) return n < 2 and 1 or n * f(n - 1) end\nf(5)\nlocal e\ne\n"
    .. "local g = 1; g = g + 1\ng\na = 10\na\nrawget(_G, 'a')\n")
  equal(r.out, "1\n2\n7\n120\nnil\n2\n10\nnil\n", "stdout")
  equal(r.err, "", "stderr")
end)

test("local_names", function()
  equal(table.concat(repl.local_names("local x = 5"), ","), "x", "simple")
  equal(table.concat(repl.local_names("local a, b"), ","), "a,b", "no values")
  equal(table.concat(repl.local_names("local x <const>, y = 1 == 1"), ","), "x,y", "const")
  equal(repl.local_names("local f <close> = nil"), nil, "close keeps its scope")
  equal(repl.local_names("x = 1"), nil, "not a local")
  equal(repl.local_names("local function g() end")[1], "g", "local function")
end)

test("help(x) in the REPL", function()
  local r = run({}, "help(loom.zeros)\nhelp('matrix:sum')\nhelp(loom.eye(2))\n")
  contains(r.out, "loom.zeros(rows, cols) -> matrix")
  contains(r.out, "A:sum([dim]) -> number | matrix")
  contains(r.out, "methods:")
  contains(r.out, "matrix:allclose")
  equal(r.err, "", "stderr")
end)

---- the pieces, in process ----

test("compile: expressions, statements, incomplete input", function()
  local fn = repl.compile("1 + 2")
  equal(fn(), 3, "expression value")
  check(repl.compile("x = 1"), "a statement compiles")
  local f, err, incomplete = repl.compile("function f()")
  equal(f, nil, "incomplete chunk")
  check(incomplete, "'function f()' should be incomplete")
  contains(err, "<eof>")
  f, err, incomplete = repl.compile("x = = 1")
  equal(f, nil, "bad chunk")
  check(not incomplete, "a syntax error is not incomplete")
  equal(repl.compile("=4")(), 4, "= prefix")
end)

test("format_results", function()
  equal(repl.format_results({1, nil, "a"}, 3), "1\nnil\na", "results")
  equal(repl.format_results({loom.ones(1, 2)}, 1), "matrix([[1., 1.]])", "matrix")
end)

test("complete: loom fields", function()
  local list = repl.complete("loom.ze")
  equal(#list, 1, "candidates for loom.ze")
  equal(list[1], "loom.zeros", "candidate")
  local all = table.concat(repl.complete("loom.r"), " ")
  contains(all, "loom.rand loom.randn loom.random_int")
  contains(all, "loom.read_csv")
end)

test("complete: globals and keywords", function()
  local list = repl.complete("pri")
  equal(table.concat(list, " "), "print", "pri")
  equal(table.concat(repl.complete("whi"), " "), "while", "keyword")
  contains(table.concat(repl.complete("string.up"), " "), "string.upper")
end)

test("complete: methods after ':' on a matrix", function()
  COMPLETION_TEST_MATRIX = loom.zeros(2, 2)
  local list = table.concat(repl.complete("COMPLETION_TEST_MATRIX:su"), " ")
  equal(list, "COMPLETION_TEST_MATRIX:sub COMPLETION_TEST_MATRIX:sub_ COMPLETION_TEST_MATRIX:sum", "methods")
  COMPLETION_TEST_MATRIX = nil
end)

test("complete: the session's locals and their methods", function()
  repl.compile("local completion_probe = loom.eye(2)")()
  equal(table.concat(repl.complete("completion_pr"), " "), "completion_probe", "a kept local")
  equal(table.concat(repl.complete("completion_probe:nor"), " "), "completion_probe:norm", "its methods")
  repl.reset_locals()
  equal(#repl.complete("completion_pr"), 0, "forgotten")
end)

test("complete: nothing for unknown or odd words", function()
  equal(#repl.complete("no_such_global.x"), 0, "unknown base")
  equal(#repl.complete("loom..x"), 0, "empty name")
  equal(#repl.complete("loom.zeros.x"), 0, "a function has no fields")
end)

test("history path", function()
  check(repl.history_path() == nil or type(repl.history_path()) == "string", "path or nil")
end)

---- under a pseudo-terminal ----

local PTY_SESSION = TEST_DIR .. "/pty_session.py"

-- Run the REPL under a pty with steps (see pty_session.py); the transcript and success.
local function pty(history, steps, env, binary)
  local py = "/usr/bin/python3"
  local f = io.open(py)
  if not f then skip(py .. " not found: the pseudo-terminal tests need python3's pty module") end
  f:close()
  if not os.execute(py .. " -c 'import pty' 2>/dev/null") then
    skip(py .. " has no pty module: the pseudo-terminal tests cannot run")
  end
  local words = {}
  for _, s in ipairs(steps) do words[#words + 1] = h.quote(s) end
  local cmd = string.format("%s LOOM_HISTORY=%s %s %s %s %s 2>&1", env or "", h.quote(history), py,
    h.quote(PTY_SESSION), h.quote(binary or h.BIN), table.concat(words, " "))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

test("pty: banner, autoprint, Ctrl-C interrupts a loop, the session survives", function()
  local out, ok = pty("", {"send:1+2\\n", "expect:3",
    "send:print('looping') while true do end\\n", "expect:looping\\r\\n", "intr",
    "expect:interrupted!",
    "send:6*7\\n", "expect:42"})
  check(ok, "the pty session failed:\n%s", out)
  contains(out, "loom " .. loom.version)
  contains(out, "help() for help")
  contains(out, "interrupted!")
  contains(out, "EXIT 0")
end)

test("pty: Ctrl-C at the prompt clears the line", function()
  local out, ok = pty("", {"send:abc", "expect:> abc", "intr", "send:7*6\\n", "expect:42",
    "send:for i = 1, 2 do\\n", "expect:>> ", "intr", "send:'fresh'\\n", "expect:fresh"})
  check(ok, "the pty session failed:\n%s", out)
  check(not out:find("abc7", 1, true), "the interrupted text was kept:\n%s", out)
  contains(out, "EXIT 0")
end)

test("pty: Ctrl-Z then fg keeps line editing working", function()
  local out, ok = pty("", {"send:ab", "expect:> ab", "stop", "send:c = 5\\n", "send:abc * 5\\n", "expect:25"})
  check(ok, "the pty session failed:\n%s", out)
  check(not out:find("abc * 5abc", 1, true), "the line was echoed twice after resuming:\n%s", out)
  contains(out, "EXIT 0")
end)

test("pty: Tab completes loom.ze and methods after ':'", function()
  local out, ok = pty("", {"send:loom.ze\\t", "send:(1, 2)\\n", "expect:matrix([[0., 0.]])",
    "send:B = loom.eye(2)\\n", "send:B:nor\\t", "send:()\\n", "expect:1.414"})
  check(ok, "the pty session failed:\n%s", out)
end)

test("pty: history is saved to $LOOM_HISTORY", function()
  local path = os.tmpname()
  os.remove(path)
  local out, ok = pty(path, {"send:history_probe = 1\\n", "send:history_probe\\n", "expect:1"})
  check(ok, "the pty session failed:\n%s", out)
  local f = io.open(path)
  check(f, "no history file at %s", path)
  local text = f:read("a")
  f:close()
  os.remove(path)
  contains(text, "history_probe = 1\n", "history file in plain text")
  check(not text:find("\\040", 1, true) and not text:find("_HiStOrY_V2_", 1, true), "vis-encoded: %q", text)
end)

test("pty: a libedit (vis-encoded) history file is read and rewritten plain", function()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("_HiStOrY_V2_\nold_probe\\040=\\0403\n")
  f:close()
  local out, ok = pty(path, {"send:old_probe = 9\n", "send:\x1b[A\x1b[A\n", "send:old_probe\n", "expect:\r\n3\r\n"})
  check(ok, "the pty session failed:\n%s", out)
  f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  os.remove(path)
  equal(text, "old_probe = 3\nold_probe = 9\nold_probe = 3\nold_probe\n", "history file")
end)

test("pty: stock lua5.4 with require('loom.repl').run() has a prompt and help", function()
  local lua = "/usr/bin/lua5.4"
  local f = io.open(lua)
  if not f then skip(lua .. " not found") end
  f:close()
  if os.getenv("LOOM_ASAN_PRELOAD") then skip("stock lua5.4 cannot load the ASan-instrumented module under a pty") end
  local out, ok = pty("", {"arg:-e", "arg:require('loom.repl').run()", "send:1 + 2\n", "expect:3\r\n> ",
    "send:help(loom.zeros)\n", "expect:loom.zeros(rows, cols) -> matrix", "send:local z = 5\n", "send:z * 2\n",
    "expect:10"}, nil, lua)
  check(ok, "the pty session failed:\n%s", out)
  contains(out, "loom " .. loom.version)
  contains(out, "EXIT 0")
end)

test("pty: a long help entry goes through $PAGER on a terminal", function()
  local out, ok = pty("", {"send:help(loom.linalg.lstsq)\n", "expect:PAGED:loom.linalg.lstsq", "send:'after'\n",
    "expect:after"}, "PAGER='sed s/^/PAGED:/' LINES=20")
  check(ok, "the pty session failed:\n%s", out)
  contains(out, "PAGED:  Least squares")
  out, ok = pty("", {"send:help(loom.zeros)\n", "expect:loom.zeros(rows, cols)", "send:'after'\n", "expect:after"},
    "PAGER='sed s/^/PAGED:/' LINES=40")
  check(ok, "the pty session failed:\n%s", out)
  check(not out:find("PAGED:", 1, true), "a short entry is not paged:\n%s", out)
end)

---- the docstrings ----

test("every doc file loads and is valid", function()
  help.reload()
  local index = help.index()
  check(#index.areas >= 3, "expected at least the matrix, experiment and repl areas")
  for _, a in ipairs(index.areas) do
    for _, e in ipairs(a.entries) do
      check(#e.doc > 0, "%s has an empty doc", e.name)
    end
  end
end)

test("every doc file is one of help.AREAS", function()
  local known = {}
  for _, a in ipairs(help.AREAS) do known[a] = true end
  local p = assert(io.popen("ls " .. h.quote(PROJECT_DIR .. "/lua/loom/doc")))
  local stray = {}
  for name in p:lines() do
    local area = name:match("^(.*)%.lua$")
    if area and not known[area] then stray[#stray + 1] = name end
  end
  p:close()
  check(#stray == 0, "lua/loom/doc has files help.AREAS does not list (add them): %s",
    table.concat(stray, ", "))
end)

test("every loom function and matrix method has a doc entry", function()
  local missing = help.undocumented()
  check(#missing == 0, "%d names have no entry in lua/loom/doc/<area>.lua: %s", #missing,
    table.concat(missing, ", "))
end)

test("every matrix metamethod has a doc entry", function()
  local by_name = help.index().by_name
  for _, mm in ipairs{"__add", "__sub", "__mul", "__div", "__unm", "__tostring", "__close"} do
    check(by_name["matrix." .. mm], "no doc entry matrix.%s", mm)
  end
end)

test("docs/api.md is up to date with the doc files", function()
  local r = run({PROJECT_DIR .. "/scripts/gen-api-docs.lua", "--check"})
  check(r.status == 0, "%s", r.err)
end)

test("the generator writes every entry", function()
  local path = os.tmpname()
  local r = run({PROJECT_DIR .. "/scripts/gen-api-docs.lua", path})
  equal(r.status, 0, "status")
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  os.remove(path)
  for name in pairs(help.index().by_name) do
    contains(text, "### `" .. name .. "`", "api.md")
  end
end)

test("help.text: names, values, aliases and misses", function()
  contains(help.text("loom.zeros"), "loom.zeros(rows, cols) -> matrix")
  equal(help.text("zeros"), help.text("loom.zeros"), "short name")
  equal(help.text(loom.zeros), help.text("loom.zeros"), "function value")
  equal(help.text(loom.matrix_methods.sum), help.text("matrix:sum"), "method value")
  contains(help.text(loom.eye(1)), "methods:")
  contains(help.text("matrix"), "matrix:norm")
  contains(help.text("experiment"), "area experiment:")
  contains(help.text(), "areas:")
  local text, err = help.text("loom.nosuch")
  equal(text, nil, "unknown name")
  equal(err, "no documentation for loom.nosuch", "message")
  text, err = help.text(function() end)
  equal(text, nil, "unknown function")
  equal(err, "no documentation for this function", "message")
end)

test("help.text: instances of layers, containers and optimisers", function()
  local nn = loom.nn
  local text = assert(help.text(nn.LSTM(4, 8)))
  check(text:find("^nn.LSTM  %(rnn%)\n  nn.LSTM%(in, hidden"), "LSTM page: %s", text)
  contains(text, "nn.LSTM:forward")
  text = assert(help.text(nn.GRU(4, 8)))
  check(text:find("^nn.GRU  %(rnn%)"), "GRU page: %s", text)
  contains(text, "nn.LSTM:backward", "GRU lists the shared methods")
  check(help.text(nn.RNN(4, 8)):find("^nn.RNN  %(rnn%)"), "RNN page")
  check(help.text(nn.GRUCell(4, 8)):find("^nn.GRUCell  %(rnn%)"), "cell page")
  text = assert(help.text(nn.Sequential{nn.Linear(2, 3)}))
  check(text:find("^loom.nn.Sequential  %(nn%)"), "Sequential page: %s", text)
  contains(text, "loom.nn.Sequential:add")
  contains(text, "loom.nn.Module:state_dict")
  text = assert(help.text(nn.Linear(2, 3)))
  check(text:find("^loom.nn.Linear  %(nn%)\n  nn.Linear%(in, out"), "Linear's own page: %s", text)
  contains(text, "loom.nn.Module:forward")
  text = assert(help.text(loom.optim.adam(nn.Linear(2, 3):parameters(), {lr = 0.1})))
  check(text:find("^loom.optim.adam  %(optim%)"), "adam page: %s", text)
  contains(text, "loom.optim.Optimizer:step")
  check(help.text(loom.optim.sgd(nn.Linear(2, 3):parameters(), {lr = 0.1})):find("^loom.optim.sgd  %(optim%)"), "sgd")
  check(help.text(nn.MSELoss()):find("^loom.nn.MSELoss  %(nn%)"), "loss page")
end)

test("help.text: short names", function()
  equal(help.text("lstsq"), help.text("loom.linalg.lstsq"), "lstsq")
  local text = assert(help.text("forward"))
  check(text:find("^forward is documented as:\n"), "several: %s", text)
  contains(text, "loom.nn.Module:forward")
  contains(text, "nn.LSTM:forward")
  local _, err = help.text("nosuchname")
  equal(err, "no documentation for nosuchname", "miss")
end)

test("help.aliases: loom prefix and methods through class tables", function()
  equal(table.concat(help.aliases("loom.nn.Linear.forward"), " "),
    "loom.nn.Linear.forward nn.Linear.forward loom.nn.Linear:forward nn.Linear:forward", "aliases")
end)

test("a malformed doc file is reported with its path and entry", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. h.quote(dir .. "/loom/doc")))
  local f = assert(io.open(dir .. "/loom/doc/matrix.lua", "w"))
  f:write("return { {name = 'x', doc = 'ok'}, {name = 'y'} }\n")
  f:close()
  local saved = package.path
  package.path = dir .. "/?.lua;" .. saved
  help.reload()
  local ok, err = pcall(help.index)
  package.path = saved
  help.reload()
  os.execute("rm -rf " .. h.quote(dir))
  check(not ok, "a doc entry without doc should be an error")
  contains(err, "doc/matrix.lua: entry 2 (y): 'doc' must be a non-empty string")
end)
