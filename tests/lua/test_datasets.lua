-- test_datasets.lua: where data lives: the bundled sets and their checksums, the registry,
-- loom.data.path, `loom data list|fetch|path|verify` through a mirror and through (file://)
-- upstream URLs, interrupted and corrupted fetches, checked gzip text. Not the formats.
local loom = require "loom"
local data = loom.data
local datasets = require "loom.datasets"
local native = require("loom.core").data
local helpers = dofile(TEST_DIR .. "/cli_helpers.lua")
local contains, quote = helpers.contains, helpers.quote

local function write(path, text)
  assert(require("loom.core").process.mkdir_p(path:match("^(.*)/[^/]*$")))
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local t = f:read("a")
  f:close()
  return t
end

local function tempdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(require("loom.core").process.mkdir_p(dir))
  return dir
end

local function sha(text)
  local path = os.tmpname()
  write(path, text)
  local sum = native.sha256_file(path)
  os.remove(path)
  return sum
end

-- A registry home of its own (LOOM_DATASETS_DIR) with one fetched set "toy" of two files,
-- a mirror holding them, and an empty cache; env is the prefix for helpers.run.
local TOY = {["a.txt"] = "alpha\n", ["sub/b.txt"] = "beta beta\n"}
local function toy_world(opts)
  opts = opts or {}
  local root = tempdir()
  local home, mirror, cache = root .. "/home", root .. "/mirror", root .. "/cache"
  local manifest = {}
  for _, path in ipairs{"a.txt", "sub/b.txt"} do
    manifest[#manifest + 1] = sha(TOY[path]) .. "  " .. path
    write(mirror .. "/toy/" .. path, opts.corrupt == path and "tampered\n" or TOY[path])
  end
  write(home .. "/manifests/toy.sha256", table.concat(manifest, "\n") .. "\n")
  write(home .. "/registry.lua", string.format([[return {
    toy = {title = "a toy set", licence = "CC0", source = "tests", size = 16,
      urls = {%q}, manifest = "manifests/toy.sha256"},
  }]], opts.url or "file:///nonexistent/loom-test/"))
  -- No mirror unless a test names one (test.sh exports the project's mirror for everything).
  local env = string.format("LOOM_DATASETS_DIR=%s LOOM_DATA=%s LOOM_DATA_MIRROR=", quote(home), quote(cache))
  return {root = root, home = home, mirror = mirror, cache = cache, env = env,
    with_mirror = string.format("LOOM_DATASETS_DIR=%s LOOM_DATA=%s LOOM_DATA_MIRROR=%s", quote(home), quote(cache),
      quote(mirror))}
end

local function cleanup(world)
  os.execute("rm -rf " .. quote(world.root))
end

test("every registered set says what it is, its licence, source and size", function()
  local names = 0
  for name, e in pairs(datasets.registry()) do
    names = names + 1
    for _, field in ipairs{"title", "licence", "source"} do
      check(type(e[field]) == "string" and e[field] ~= "", "%s has no %s", name, field)
    end
    check(math.type(e.size) == "integer" and e.size > 0, "%s has no size", name)
    if e.bundled then
      check(read(datasets.home() .. "/" .. name .. "/SOURCE.md"), "%s has no SOURCE.md", name)
    elseif e.generator then
      check(read(datasets.generator(e.generator)), "%s: no generator datasets/%s", name, e.generator)
    else
      check(#e.urls >= 1, "%s has no upstream URL", name)
      local list = datasets.manifest(e)
      check(#list > 0, "%s has an empty manifest", name)
      for _, item in ipairs(list) do
        check(#item.sha256 == 64, "%s: %s has no SHA-256", name, item.path)
      end
    end
  end
  check(names >= 6, "registry lists %d sets", names)
end)

test("the bundled sets verify against their SHA256SUMS and stay under 10 MB", function()
  local total = 0
  for _, row in ipairs(data.list()) do
    if row.kind == "bundled" then
      local ok, problems = data.verify(row.name)
      check(ok, "%s: %s", row.name, table.concat(problems or {}, ", "))
      for _, item in ipairs((datasets.manifest(datasets.registry()[row.name]))) do
        local f = assert(io.open(row.path .. "/" .. item.path, "rb"))
        total = total + f:seek("end")
        f:close()
      end
    end
  end
  check(total > 1e6 and total < 10e6, "bundled data is %d bytes", total)
end)

test("data.path: bundled sets are in the project's datasets/ folder", function()
  local dir = assert(data.path("digits"))
  equal(dir, datasets.normalize(PROJECT_DIR .. "/datasets/digits"), "digits folder")
  check(read(dir .. "/digits.csv.gz"), "digits.csv.gz is there")
  check(not dir:find("/%.%./"), "the path is normalised: %s", dir)
  local X = assert(loom.read_csv(data.path("regression") .. "/cars.csv"))
  equal(X:rows(), 50, "cars rows")
end)

test("data.path: unknown names raise, naming the known ones", function()
  local ok, err = pcall(data.path, "nope")
  check(not ok, "raises")
  contains(err, "data.path: unknown dataset 'nope' (known: bible, digits, fsdd, ")
  checkerror("data.path: expected a dataset name, got number", data.path, 3)
end)

test("loom data fetch from a mirror: verified, cached, then found by path", function()
  local w = toy_world()
  local r = helpers.run({"data", "path", "toy"}, nil, w.env)
  equal(r.status, 1, "missing set: exit 1")
  equal(r.err, "loom data path: dataset 'toy' (a toy set, 0 KB) is not here: run `loom data fetch toy`\n", "message")
  r = helpers.run({"data", "fetch", "toy"}, nil, w.with_mirror)
  equal(r.status, 0, "fetch: " .. r.err)
  contains(r.out, "toy: 2/2 files")
  contains(r.out, "toy: verified, in " .. w.cache .. "/toy")
  equal(read(w.cache .. "/toy/sub/b.txt"), TOY["sub/b.txt"], "file content")
  r = helpers.run({"data", "path", "toy"}, nil, w.env)
  equal(r.out, w.cache .. "/toy\n", "path after the fetch (no mirror needed any more)")
  r = helpers.run({"data", "list"}, nil, w.env)
  check(r.out:find("toy%s+fetched%s+present"), "list shows it present:\n%s", r.out)
  r = helpers.run({"data", "verify", "toy"}, nil, w.env)
  equal(r.out, "toy: ok\n", "verify")
  write(w.cache .. "/toy/a.txt", "changed\n")
  r = helpers.run({"data", "verify", "toy"}, nil, w.env)
  equal(r.status, 1, "verify fails after tampering")
  equal(r.out, "toy: 1 problem\n  a.txt: checksum mismatch\n", "verify names the file")
  cleanup(w)
end)

test("loom data fetch from upstream URLs (file:// stands in for the network)", function()
  local w = toy_world()
  local upstream = "file://" .. w.mirror .. "/toy/"
  write(w.home .. "/registry.lua", string.format([[return {toy = {title = "a toy set",
    licence = "CC0", source = "tests", size = 16, urls = {"file:///nonexistent/", %q},
    manifest = "manifests/toy.sha256"}}]], upstream))
  local r = helpers.run({"data", "fetch", "toy"}, nil, w.env)
  equal(r.status, 0, "fetch falls through to the second URL: " .. r.err)
  equal(read(w.cache .. "/toy/a.txt"), TOY["a.txt"], "content")
  cleanup(w)
end)

test("a corrupted download is refused, and the set is not present", function()
  local w = toy_world({corrupt = "sub/b.txt"})
  local r = helpers.run({"data", "fetch", "toy"}, nil, w.with_mirror)
  equal(r.status, 1, "fetch fails")
  contains(r.err, "loom data fetch toy: sub/b.txt: file://" .. w.mirror .. "/toy/sub/b.txt: checksum mismatch (got ")
  check(not read(w.cache .. "/toy/sub/b.txt"), "the bad file is not kept")
  check(not read(w.cache .. "/toy/sub/b.txt.part"), "no partial file is left")
  r = helpers.run({"data", "path", "toy"}, nil, w.env)
  equal(r.status, 1, "not present after a failed fetch")
  cleanup(w)
end)

test("an interrupted fetch resumes: good files are kept, partial ones replaced", function()
  local w = toy_world()
  write(w.cache .. "/toy/a.txt", TOY["a.txt"])
  write(w.cache .. "/toy/sub/b.txt.part", "bet")
  -- Without a mirror and with no reachable URL, only the missing file fails.
  local r = helpers.run({"data", "fetch", "toy"}, nil, w.env)
  equal(r.status, 1, "no source for the missing file")
  contains(r.err, "loom data fetch toy: sub/b.txt: file:///nonexistent/loom-test/sub/b.txt: ")
  contains(r.err, "(without a network, set LOOM_DATA_MIRROR to a folder holding toy/ in the upstream layout)")
  r = helpers.run({"data", "fetch", "toy"}, nil, w.with_mirror)
  equal(r.status, 0, "resumed: " .. r.err)
  equal(read(w.cache .. "/toy/sub/b.txt"), TOY["sub/b.txt"], "completed")
  check(not read(w.cache .. "/toy/sub/b.txt.part"), "the partial file is gone")
  cleanup(w)
end)

test("loom data: usage and errors", function()
  local r = helpers.run({"data"})
  equal(r.status, 2, "no subcommand")
  contains(r.out, "usage: loom data list")
  r = helpers.run({"data", "frobnicate"})
  equal(r.status, 2, "unknown subcommand")
  contains(r.err, "loom data: unknown command 'frobnicate'")
  r = helpers.run({"data", "fetch"})
  equal(r.err, "loom data fetch: name a dataset (loom data list) or --all\n", "fetch without a name")
  r = helpers.run({"data", "path", "nope"})
  equal(r.status, 1, "unknown set")
  contains(r.err, "loom data path: unknown dataset 'nope' (known: ")
end)

test("a missing dataset ends a run with one line naming the fetch command", function()
  local w = toy_world()
  local script = helpers.tempfile([[
local loom = require "loom"
return loom.experiment{name = "needs_toy", params = {}, run = function(p, run)
  local dir = loom.data.require("toy")
  return {dir = dir}
end}
]], ".lua")
  local db = os.tmpname()
  local r = helpers.run({"run", "--quiet", "--db", db, script}, nil, w.env)
  equal(r.status, 1, "the run fails")
  check(r.err:find("failed: dataset 'toy' %(a toy set, 0 KB%) is not here: run `loom data fetch toy`\n$"),
    "one line: %s", r.err)
  check(not r.err:find("traceback"), "no traceback: %s", r.err)
  os.remove(script)
  os.remove(db)
  os.execute("rm -rf " .. quote(db:match("^(.*)/") .. "/runs"))
  cleanup(w)
end)

test("read_text: plain, gzip, truncated gzip, bad CRC, size cap", function()
  local dir = tempdir()
  local text = string.rep("VBZ\tthe key to the cabinets\n", 2000)
  write(dir .. "/plain.txt", text)
  os.execute(string.format("gzip -c %s > %s", quote(dir .. "/plain.txt"), quote(dir .. "/t.gz")))
  equal(data.read_text(dir .. "/plain.txt"), text, "plain")
  equal(data.read_text(dir .. "/t.gz"), text, "gzip")
  local gz = read(dir .. "/t.gz")
  write(dir .. "/half.gz", gz:sub(1, #gz // 2))
  local got, err = data.read_text(dir .. "/half.gz")
  check(got == nil, "a truncated stream is an error")
  equal(err, dir .. "/half.gz: the gzip stream is truncated (unexpected end of file): the file is incomplete", "message")
  write(dir .. "/notrailer.gz", gz:sub(1, #gz - 8))
  got, err = data.read_text(dir .. "/notrailer.gz")
  check(got == nil, "a stream without its CRC trailer is an error: %s", tostring(err))
  local crc = gz:sub(1, #gz - 8) .. string.char((gz:byte(#gz - 7) + 1) % 256) .. gz:sub(#gz - 6)
  write(dir .. "/badcrc.gz", crc)
  got, err = data.read_text(dir .. "/badcrc.gz")
  check(got == nil, "a wrong CRC is an error")
  equal(err, dir .. "/badcrc.gz: gzip error: incorrect data check", "CRC message")
  got, err = data.read_text(dir .. "/t.gz", 1000)
  check(got == nil, "the cap holds")
  equal(err, dir .. "/t.gz: the text is longer than max_bytes = 1000 (decompressed); pass a larger max_bytes to read it", "cap message")
  equal(data.read_text(dir .. "/t.gz", #text), text, "a cap of exactly the size reads it")
  got, err = data.read_text(dir .. "/absent")
  equal(err, dir .. "/absent: cannot open: No such file or directory", "missing file")
  os.execute("rm -rf " .. quote(dir))
end)

test("the bundled agreement files read compressed give the upstream line counts", function()
  local agreement = require "loom.agreement"
  local counts = {["numpred.val"] = 15772, ["numpred.test.1"] = 52599, ["numpred.test.5"] = 159}
  for file, n in pairs(counts) do
    local list = assert(agreement.read(data.path("linzen-agreement") .. "/" .. file))
    equal(#list, n, file .. " lines")
  end
end)

test("the mirror: LOOM_DATA_MIRROR, else a shared/datasets folder beside the checkout", function()
  local root = tempdir()
  write(root .. "/proj/datasets/registry.lua", "return {}")
  local probe = {"-e", "print(require('loom.datasets').mirror())"}
  local home = "LOOM_DATASETS_DIR=" .. quote(root .. "/proj/datasets")
  local r = helpers.run(probe, nil, "env -u LOOM_DATA_MIRROR " .. home)
  equal(r.out, "nil\n", "no folder beside the checkout: no mirror")
  write(root .. "/shared/datasets/README.md", "mirror")
  r = helpers.run(probe, nil, "env -u LOOM_DATA_MIRROR " .. home)
  equal(r.out, root .. "/shared/datasets\n", "the folder beside the checkout")
  r = helpers.run(probe, nil, home .. " LOOM_DATA_MIRROR=")
  equal(r.out, "nil\n", "set but empty: none")
  r = helpers.run(probe, nil, home .. " LOOM_DATA_MIRROR=/elsewhere")
  equal(r.out, "/elsewhere\n", "the variable wins")
  os.execute("rm -rf " .. quote(root))
end)

test("a cache that cannot be made is one line from loom data fetch", function()
  local w = toy_world()
  write(w.root .. "/blocker", "a file, not a folder")
  local env = w.with_mirror:gsub("LOOM_DATA=%S+", "LOOM_DATA=" .. quote(w.root .. "/blocker/cache"))
  local r = helpers.run({"data", "fetch", "toy"}, nil, env)
  equal(r.status, 1, "fails")
  check(r.err:find("^loom data fetch toy: .*blocker.*\n$"), "one line naming the folder: %s", r.err)
  check(not r.err:find("traceback"), "no traceback: %s", r.err)
  cleanup(w)
end)
