-- test_process.lua: the C OS binding's file system functions (mkdir_p, remove_tree, list_dir,
-- readlink, realpath, file_type, is_regular_file): results, error paths, awkward names.
local process = require("loom.core").process
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text or "x")
  f:close()
end

-- A name with spaces, both quotes, a $ and a ; : what a shell string would get wrong.
local AWKWARD = [[it's a "dir" $HOME; `x`]]

test("mkdir_p creates missing parents, accepts existing ones, and names the failing prefix", function()
  local dir = H.tempdir()
  local deep = dir .. "/" .. AWKWARD .. "/b//c/"
  equal(process.mkdir_p(deep), true, "mkdir_p of a new chain")
  equal(process.file_type(dir .. "/" .. AWKWARD .. "/b/c"), "directory", "the deepest directory")
  equal(process.mkdir_p(deep), true, "mkdir_p of an existing chain")
  equal(process.mkdir_p("/"), true, "mkdir_p of /")
  write(dir .. "/file")
  local ok, err = process.mkdir_p(dir .. "/file/sub")
  equal(ok, nil, "mkdir_p through a regular file")
  equal(err, dir .. "/file: Not a directory", "its message")
  ok, err = process.mkdir_p(dir .. "/file")
  equal(err, dir .. "/file: Not a directory", "mkdir_p of a regular file")
  checkerror("process.mkdir_p: path contains a NUL byte", process.mkdir_p, dir .. "/a\0b")
  checkerror("process.mkdir_p: path is empty", process.mkdir_p, "")
  checkerror("process.mkdir_p: path must be a string, got no value", process.mkdir_p)
  checkerror("process.list_dir: path must be a string, got number", process.list_dir, 42)
  H.cleanup(dir)
end)

test("remove_tree removes a tree, never follows links, and a missing path is no error", function()
  local dir = H.tempdir()
  local outside = dir .. "/outside"
  assert(process.mkdir_p(outside))
  write(outside .. "/keep", "kept")
  local tree = dir .. "/" .. AWKWARD
  assert(process.mkdir_p(tree .. "/x/y"))
  write(tree .. "/x/y/f")
  write(tree .. "/g")
  assert(os.execute(string.format("ln -s %s %s", H.quote(outside), H.quote(tree .. "/x/link"))))
  equal(process.remove_tree(tree), true, "remove_tree")
  equal(process.file_type(tree), nil, "the tree is gone")
  equal(H.read(outside .. "/keep"), "kept", "the file behind a link in the tree")
  equal(process.remove_tree(tree), true, "remove_tree of a missing path")
  -- A link given directly is removed itself, not its target.
  assert(os.execute(string.format("ln -s %s %s", H.quote(outside), H.quote(dir .. "/l"))))
  equal(process.remove_tree(dir .. "/l"), true, "remove_tree of a link")
  equal(process.file_type(dir .. "/l", false), nil, "the link is gone")
  equal(H.read(outside .. "/keep"), "kept", "the link's target")
  -- A directory that cannot be written: the error names the entry that stayed (as root,
  -- permissions do not stop removal, so the failure comes from a read-only mount there).
  local ok, err = process.remove_tree("/proc/self/fd")
  equal(ok, nil, "remove_tree of /proc/self/fd")
  check(err:match("^/proc/self/fd/%d+: ") or err:match("^/proc/self/fd: "), "its message: %s", err)
  checkerror("process.remove_tree: path contains a NUL byte", process.remove_tree, "a\0")
  H.cleanup(dir)
end)

test("list_dir lists names sorted, without . and .., and fails with the path", function()
  local dir = H.tempdir()
  equal(#process.list_dir(dir), 0, "an empty directory")
  for _, name in ipairs{"b.db", AWKWARD, "a.db", ".hidden", "with\nnewline"} do
    write(dir .. "/" .. name)
  end
  local names = process.list_dir(dir)
  equal(table.concat(names, "|"), table.concat({".hidden", "a.db", "b.db", AWKWARD, "with\nnewline"}, "|"),
    "names")
  local ok, err = process.list_dir(dir .. "/missing")
  equal(ok, nil, "list_dir of a missing directory")
  equal(err, dir .. "/missing: No such file or directory", "its message")
  ok, err = process.list_dir(dir .. "/a.db")
  equal(err, dir .. "/a.db: Not a directory", "list_dir of a file")
  H.cleanup(dir)
end)

test("readlink, realpath, file_type and is_regular_file", function()
  local dir = H.tempdir()
  local target = dir .. "/" .. AWKWARD
  write(target)
  local link = dir .. "/link 'q'"
  assert(os.execute(string.format("ln -s %s %s", H.quote(AWKWARD), H.quote(link))))
  equal(process.readlink(link), AWKWARD, "readlink gives the link's text")
  equal(process.realpath(link), process.realpath(dir) .. "/" .. AWKWARD, "realpath resolves it")
  local ok, err = process.readlink(target)
  equal(ok, nil, "readlink of a regular file")
  equal(err, target .. ": Invalid argument", "its message")
  ok, err = process.realpath(dir .. "/nope/x")
  equal(err, dir .. "/nope/x: No such file or directory", "realpath of a missing path")
  check(process.readlink("/proc/self/exe"):match("/"), "the executable's path")
  equal(process.file_type(link), "file", "file_type follows links")
  equal(process.file_type(link, false), "link", "file_type with follow = false")
  equal(process.file_type(dir), "directory", "a directory")
  equal(process.file_type("/dev/null"), "character device", "/dev/null")
  assert(os.execute("mkfifo " .. H.quote(dir .. "/fifo")))
  equal(process.file_type(dir .. "/fifo"), "fifo", "a fifo")
  ok, err = process.file_type(dir .. "/missing")
  equal(err, dir .. "/missing: No such file or directory", "file_type of a missing path")
  equal(process.is_regular_file(link), true, "a link to a file")
  equal(process.is_regular_file(target), true, "a file")
  for _, p in ipairs{dir, "/dev/null", "/dev/zero", dir .. "/fifo", dir .. "/missing"} do
    equal(process.is_regular_file(p), false, "is_regular_file " .. p)
  end
  checkerror("process.readlink: path contains a NUL byte", process.readlink, "x\0y")
  H.cleanup(dir)
end)

test("spawn runs a program with exact arguments and redirections; wait gives its status", function()
  local dir = H.tempdir()
  local out = dir .. "/" .. AWKWARD .. ".log"
  local pid = assert(process.spawn({"sh", "-c", 'printf "%s|" "$@"; read x || echo "stdin empty"; exit 3', "sh",
    AWKWARD, "two words", ""}, {stdout = out, stderr = "stdout"}))
  equal(process.wait(pid, true), 3, "exit status")
  equal(H.read(out), AWKWARD .. "|two words||stdin empty\n", "arguments arrive unchanged, stdin is /dev/null")
  -- stderr to its own file, stdin from a file.
  local input = dir .. "/in put"
  local f = assert(io.open(input, "w"))
  f:write("fed\n")
  f:close()
  pid = assert(process.spawn({"sh", "-c", "cat; echo oops >&2"}, {stdin = input, stdout = dir .. "/o",
    stderr = dir .. "/e"}))
  equal(process.wait(pid, true), 0, "exit status 0")
  equal(H.read(dir .. "/o"), "fed\n", "stdout")
  equal(H.read(dir .. "/e"), "oops\n", "stderr")
  -- Without block, nil while it runs; a signal gives 128 + its number.
  pid = assert(process.spawn({"sleep", "30"}))
  equal(process.wait(pid), nil, "still running")
  process.kill(pid, "KILL")
  equal(process.wait(pid, true), 128 + 9, "killed by SIGKILL")
  local ok, err = process.wait(pid)
  equal(ok, nil, "waiting twice")
  equal(err, "process " .. pid .. ": No child processes", "its message")
  ok, err = process.spawn({dir .. "/no such program"})
  equal(ok, nil, "a missing program")
  equal(err, dir .. "/no such program: No such file or directory", "its message")
  ok, err = process.spawn({"true"}, {stdout = dir .. "/missing/out"})
  equal(ok, nil, "an output file in a missing folder")
  checkerror("process.spawn: the argument list is empty", process.spawn, {})
  checkerror("process.spawn: argument 2 must be a string, got number", process.spawn, {"echo", 1})
  checkerror("process.spawn: argument 2 contains a NUL byte", process.spawn, {"echo", "a\0b"})
  checkerror("process.spawn: opts.stdout must be a path, got boolean", process.spawn, {"true"}, {stdout = true})
  H.cleanup(dir)
end)

test("spawn reads its options before it keeps pointers into the argument list", function()
  local dir = H.tempdir()
  local argv = {"sh", "-c", "echo ok"}
  -- An __index that empties the argument list and returns a string nothing else holds.
  local opts = setmetatable({}, {__index = function(_, k)
    if k == "stdout" then
      for i = #argv, 1, -1 do argv[i] = nil end
      collectgarbage()
      return dir .. "/o" .. string.rep("u", 1) .. "t"
    end
  end})
  checkerror("process.spawn: the argument list is empty", process.spawn, argv, opts)
  argv = {"sh", "-c", "echo ok"}
  opts = setmetatable({}, {__index = function(_, k)
    if k == "stdout" then collectgarbage(); return dir .. "/o" .. string.rep("u", 1) .. "t" end
  end})
  equal(process.wait(assert(process.spawn(argv, opts)), true), 0, "a generated path")
  equal(H.read(dir .. "/out"), "ok\n", "written to it")
  -- sqlite.open keeps the journal string it read from such a table alive too.
  local db = assert(require("loom.core").sqlite.open(dir .. "/x.db", setmetatable({}, {__index = function(_, k)
    if k == "journal" then collectgarbage(); return ("de"):rep(1) .. "lete" end
  end})))
  equal(db:rows("PRAGMA journal_mode")[1].journal_mode, "delete", "journal mode from a generated string")
  db:close()
  H.cleanup(dir)
end)

test("no Lua module of loom builds a shell command for mkdir, rm, ls or readlink", function()
  local p = io.popen("grep -rn -e os.execute -e io.popen " .. H.quote(PROJECT_DIR .. "/lua"))
  local bad = {}
  for line in p:lines() do
    for _, cmd in ipairs{"mkdir", "rm ", "ls ", "readlink"} do
      if line:find('"' .. cmd, 1, true) then bad[#bad + 1] = line end
    end
  end
  p:close()
  equal(table.concat(bad, "\n"), "", "shell file-system commands in lua/")
end)
