-- test_save_files.lua: what loom.save may replace: regular files only (never a device, fifo
-- or directory), symbolic links written through to their target, stale temporaries removed.
local loom = require "loom"
local process = require("loom.core").process
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

local function tensors(v)
  return {w = loom.fill(2, 3, v)}
end

local function saved_value(path)
  local t = assert(loom.load(path))
  return t.w:get(2, 3)
end

local function sh(cmd) return assert(os.execute(cmd), cmd) end

test("loom.save refuses to replace a device, a fifo or a directory", function()
  local dir = H.tempdir()
  for _, dev in ipairs{"/dev/null", "/dev/zero"} do
    local ok, err = loom.save(dev, tensors(1))
    equal(ok, nil, "loom.save over " .. dev)
    equal(err, dev .. ": is a character device, not a regular file: refusing to replace it", "its message")
    equal(process.file_type(dev), "character device", dev .. " afterwards")
  end
  sh("mkfifo " .. H.quote(dir .. "/fifo"))
  local ok, err = loom.save(dir .. "/fifo", tensors(1))
  equal(err, dir .. "/fifo: is a fifo, not a regular file: refusing to replace it", "a fifo")
  equal(process.file_type(dir .. "/fifo"), "fifo", "the fifo afterwards")
  assert(process.mkdir_p(dir .. "/empty dir"))
  ok, err = loom.save(dir .. "/empty dir", tensors(1))
  equal(err, dir .. "/empty dir: is a directory, not a regular file: refusing to replace it", "a directory")
  equal(process.file_type(dir .. "/empty dir"), "directory", "the directory afterwards")
  -- Through a link the message names where the link leads.
  sh(string.format("ln -s /dev/null %s", H.quote(dir .. "/to-null")))
  ok, err = loom.save(dir .. "/to-null", tensors(1))
  equal(err, dir .. "/to-null: its link target /dev/null is a character device, not a regular file: "
    .. "refusing to replace it", "a link to /dev/null")
  equal(process.readlink(dir .. "/to-null"), "/dev/null", "the link afterwards")
  -- No temporary file is left by a refused save.
  equal(table.concat(process.list_dir(dir), ","), "empty dir,fifo,to-null", "files in the folder")
  H.cleanup(dir)
end)

test("loom.save writes through a symbolic link, atomically in the target's directory", function()
  local dir = H.tempdir()
  assert(process.mkdir_p(dir .. "/store 'x'"))
  assert(process.mkdir_p(dir .. "/run"))
  local real = dir .. "/store 'x'/ckpt.safetensors"
  assert(loom.save(real, tensors(1)))
  -- An absolute link, a relative one, and a link to a link.
  sh(string.format("ln -s %s %s", H.quote(real), H.quote(dir .. "/run/abs.safetensors")))
  sh(string.format("ln -s %s %s", H.quote("../store 'x'/ckpt.safetensors"), H.quote(dir .. "/run/rel.safetensors")))
  sh(string.format("ln -s abs.safetensors %s", H.quote(dir .. "/run/chain.safetensors")))
  for i, name in ipairs{"abs", "rel", "chain"} do
    local link = dir .. "/run/" .. name .. ".safetensors"
    assert(loom.save(link, tensors(i + 1)))
    equal(process.file_type(link, false), "link", name .. " link is still a link")
    equal(saved_value(real), i + 1, "the target holds what was saved through the " .. name .. " link")
  end
  equal(process.readlink(dir .. "/run/rel.safetensors"), "../store 'x'/ckpt.safetensors", "relative link text")
  equal(table.concat(process.list_dir(dir .. "/run"), ","), "abs.safetensors,chain.safetensors,rel.safetensors",
    "nothing else in the link's folder")
  equal(table.concat(process.list_dir(dir .. "/store 'x'"), ","), "ckpt.safetensors",
    "nothing else in the target's folder")
  -- A dangling link: the save creates its target.
  sh(string.format("ln -s new.safetensors %s", H.quote(dir .. "/run/dangling.safetensors")))
  assert(loom.save(dir .. "/run/dangling.safetensors", tensors(7)))
  equal(process.file_type(dir .. "/run/dangling.safetensors", false), "link", "the dangling link stays")
  equal(saved_value(dir .. "/run/new.safetensors"), 7, "its new target")
  -- A loop of links fails with the OS's message.
  sh(string.format("ln -s loop2 %s && ln -s loop1 %s", H.quote(dir .. "/run/loop1"), H.quote(dir .. "/run/loop2")))
  local ok, err = loom.save(dir .. "/run/loop1", tensors(1))
  equal(ok, nil, "a loop of links")
  equal(err, dir .. "/run/loop1: Too many levels of symbolic links", "its message")
  H.cleanup(dir)
end)

-- A regular file of the given name and content.
local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

test("loom.save removes the temporaries a kill left for the same target, and only those", function()
  local dir = H.tempdir()
  local target = dir .. "/ck pt.safetensors"
  local stale = {target .. ".tmpAb12Yz", target .. ".tmp000000"}
  local kept = {
    target .. ".tmpAb12Y",                      -- 5 characters: not mkstemp's
    target .. ".tmpAb12Yz1",                     -- 7
    target .. ".tmpAb-2Yz",                      -- not alphanumeric
    dir .. "/other.safetensors.tmpAb12Yz",       -- another target's
  }
  for _, p in ipairs(stale) do write(p, "torn") end
  for _, p in ipairs(kept) do write(p, "keep") end
  assert(process.mkdir_p(target .. ".tmpDIRxyz"))  -- a directory of the pattern stays
  sh("mkfifo " .. H.quote(target .. ".tmpFIFOab"))  -- so does a fifo (and opening it cannot block)
  assert(loom.save(target, tensors(3)))
  for _, p in ipairs(stale) do equal(process.file_type(p), nil, "stale " .. p) end
  for _, p in ipairs(kept) do equal(H.read(p), "keep", "kept " .. p) end
  equal(process.file_type(target .. ".tmpDIRxyz"), "directory", "the directory of the pattern")
  equal(process.file_type(target .. ".tmpFIFOab"), "fifo", "the fifo of the pattern")
  equal(saved_value(target), 3, "the saved file")
  -- Through a link, the temporaries beside the target are the ones cleaned.
  assert(process.mkdir_p(dir .. "/elsewhere"))
  sh(string.format("ln -s %s %s", H.quote(target), H.quote(dir .. "/elsewhere/link.safetensors")))
  write(target .. ".tmpQWERTY", "torn")
  assert(loom.save(dir .. "/elsewhere/link.safetensors", tensors(4)))
  equal(process.file_type(target .. ".tmpQWERTY"), nil, "stale temporary beside the link's target")
  H.cleanup(dir)
end)

test("a temporary file locked by a live save is left alone", function()
  local py = io.open("/usr/bin/python3") and "/usr/bin/python3"
  if not py then skip("python3 is needed to hold a lock from another process") end
  local dir = H.tempdir()
  local target = dir .. "/m.safetensors"
  local live = target .. ".tmpLIVE01"
  write(live, "being written")
  -- Another process holds the POSIX write lock a save holds on its temporary file.
  local holder = io.popen(string.format([[%s -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)' %s & echo $!]],
    py, H.quote(live)))
  local pid = tonumber(holder:read("l"))
  equal(holder:read("l"), "locked", "the other process holds the lock")
  assert(loom.save(target, tensors(5)))
  equal(H.read(live), "being written", "the locked temporary file")
  process.kill(pid, "KILL")
  holder:close()
  -- The kernel drops the lock when the killed process is gone, a moment after the signal.
  for _ = 1, 50 do
    assert(loom.save(target, tensors(6)))
    if process.file_type(live) == nil then break end
    process.sleep(0.1)
  end
  equal(process.file_type(live), nil, "once its process is killed, the next save removes it")
  H.cleanup(dir)
end)
