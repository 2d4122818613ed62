-- test_runs_safety.lua: the run store under faults: listing read-only (behind a writer, on a
-- read-only file or mount), a full disk while logging, damaged and foreign databases.
local store = require "loom.runs.store"
local core = require "loom.core"
local sqlite, process = core.sqlite, core.process
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

-- A database with one completed run and one 'running' run whose process is gone.
local function db_with_dead_run(dir, journal)
  local rc, out = H.loom(dir, "run --quiet " .. H.quote(H.COUNTER) .. " n=5")
  equal(rc, 0, "run: " .. out)
  local s = assert(store.open(dir .. "/runs.db", {journal = journal}))
  local done = s:list()[1].id
  -- A pid that has surely ended: a finished child of ours.
  local p = io.popen("sh -c 'echo $$'")
  local gone = tonumber(p:read("l"))
  p:close()
  local dead = s:create_run{name = "ghost", params = {}}
  s.db:run("UPDATE runs SET pid = ? WHERE id = ?", gone, dead)
  s:close()
  return done, dead
end

local function status_of(path, id)
  local s = assert(store.open(path, {readonly = true}))
  local r = s:get(id)
  s:close()
  return r.status
end

-- `loom runs ...` with a time limit; -> exit status, output, seconds taken
local function timed_loom(dir, args)
  local t0 = process.now()
  local rc, out = H.loom(dir, args)
  return rc, out, process.now() - t0
end

for _, journal in ipairs{"wal", "delete"} do
  test("loom runs lists at once behind a writer holding the lock (" .. journal .. " journal)", function()
    local dir = H.tempdir()
    local done, dead = db_with_dead_run(dir, journal)
    local writer = assert(sqlite.open(dir .. "/runs.db", {journal = journal}))
    writer:exec("BEGIN IMMEDIATE")
    writer:run("INSERT INTO meta (key, value) VALUES ('held', 1)")
    for _, cmd in ipairs{"runs", "runs show " .. done, "runs export --json", "runs compare " .. done .. " " .. dead} do
      local rc, out, took = timed_loom(dir, cmd)
      equal(rc, 0, cmd .. ": " .. out)
      check(out:find(done, 1, true), "%s shows the run: %s", cmd, out)
      check(took < 10, "%s took %.1f s behind the writer (it must not wait for the lock)", cmd, took)
    end
    -- The dead run could not be marked without waiting: it is left for later.
    equal(status_of(dir .. "/runs.db", dead), "running", "dead run while the lock is held")
    writer:exec("COMMIT")
    writer:close()
    local rc, out = timed_loom(dir, "runs")
    equal(rc, 0, "runs: " .. out)
    equal(status_of(dir .. "/runs.db", dead), "died", "dead run once the lock is free")
    H.cleanup(dir)
  end)
end

test("loom runs lists a database file nobody may write (chmod a-w)", function()
  local dir = H.tempdir()
  local done = db_with_dead_run(dir)
  assert(process.mkdir_p(dir .. "/copy"))
  assert(os.execute(string.format("cp %s %s && chmod a-w %s %s", H.quote(dir .. "/runs.db"),
    H.quote(dir .. "/copy/runs.db"), H.quote(dir .. "/copy/runs.db"), H.quote(dir .. "/copy"))))
  local rc, out = H.loom(dir .. "/copy", "runs")
  equal(rc, 0, "runs: " .. out)
  check(out:find(done, 1, true), "listed: %s", out)
  rc, out = H.loom(dir .. "/copy", "runs show " .. done)
  equal(rc, 0, "show: " .. out)
  -- As root nothing is read-only to us: ask again as nobody, who can write neither the file
  -- nor its folder.
  if select(2, H.sh("id -u")):match("^0\n") and os.execute("command -v setpriv >/dev/null") then
    os.execute("chmod 755 " .. H.quote(dir))
    rc, out = H.sh(string.format("cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups %s runs",
      H.quote(dir .. "/copy"), H.quote(H.LOOM)))
    equal(rc, 0, "runs as nobody: " .. out)
    check(out:find(done, 1, true), "listed as nobody: %s", out)
  end
  os.execute("chmod u+w " .. H.quote(dir .. "/copy"))
  H.cleanup(dir)
end)

-- fn(mount point) with a small tmpfs mounted there (root only); unmounted afterwards.
local function with_tmpfs(dir, size, fn)
  local mnt = dir .. "/mnt"
  assert(process.mkdir_p(mnt))
  if not os.execute(string.format("mount -t tmpfs -o size=%s tmpfs %s 2>/dev/null", size, H.quote(mnt))) then
    skip("cannot mount a tmpfs here (needs root): " .. size)
  end
  local ok, err = pcall(fn, mnt)
  os.execute("umount " .. H.quote(mnt))
  if not ok then error(err, 0) end
end

test("loom runs lists a database on a read-only mount", function()
  local dir = H.tempdir()
  local done, dead = db_with_dead_run(dir)
  with_tmpfs(dir, "4m", function(mnt)
    assert(os.execute(string.format("cp %s %s && cp %s %s && mount -o remount,ro %s", H.quote(dir .. "/runs.db"),
      H.quote(mnt .. "/runs.db"), H.quote(dir .. "/runs.db"), H.quote(mnt .. "/odd #1 %20?.db"), H.quote(mnt))))
    -- Read as an immutable file through a URI: characters that mean something there.
    local orc, oout = H.loom(mnt, "runs --db " .. H.quote(mnt .. "/odd #1 %20?.db"))
    equal(orc, 0, "odd name: " .. oout)
    check(oout:find(done, 1, true), "odd name lists: %s", oout)
    for _, cmd in ipairs{"runs", "runs show " .. dead, "runs export --csv", "runs status=running"} do
      local rc, out = H.loom(mnt, cmd)
      equal(rc, 0, cmd .. ": " .. out)
      check(out:find(cmd == "runs show " .. dead and dead or done, 1, true) or cmd == "runs status=running",
        "%s output: %s", cmd, out)
    end
    local rc, out = H.loom(mnt, "runs status=running")
    check(out:find(dead, 1, true), "the dead run stays 'running' where nothing can be written: %s", out)
    equal(table.concat(process.list_dir(mnt), ","), "odd #1 %20?.db,runs.db", "no file created on the mount")
    rc, out = H.loom(mnt, "runs rm " .. done)
    equal(rc, 1, "runs rm on a read-only mount")
    rc, out = H.loom(mnt, "run --quiet " .. H.quote(H.COUNTER))
    equal(rc, 1, "loom run into a read-only mount")
    equal(out, "loom run: cannot open database runs.db: unable to open database file\n", "its message")
  end)
  H.cleanup(dir)
end)

-- ---- a full disk while logging ----

local FILL = [[
local loom = require "loom"
return loom.experiment{
  name = "fill",
  params = {n = 5000},
  run = function(p, run)
    -- The database may not grow past what it holds now: the next batch of metrics is SQLITE_FULL.
    if os.getenv("LOOM_TEST_LIMIT_PAGES") then
      local pages = run.store.db:rows("PRAGMA page_count")[1].page_count
      run.store.db:exec("PRAGMA max_page_count = " .. pages)
    end
    for i = 1, p.n do
      run:log{step = i, loss = 1 / i, acc = 1 - 1 / i}
      if i == 1500 then io.stderr:write("still running at step 1500\n") end
    end
    return {done = true}
  end}
]]

-- A scratch folder with FILL in it; -> folder, script
local function fill_dir()
  local dir = H.tempdir()
  local script = dir .. "/fill.lua"
  local f = assert(io.open(script, "w"))
  f:write(FILL)
  f:close()
  return dir, script
end

local function check_full_disk_run(dir, db, out, rc)
  equal(rc, 1, "exit status: " .. out)
  local s = assert(store.open(db, {readonly = true}))
  local r = s:list()[1]
  s:close()
  local said = string.format("loom run: run %s (fill): cannot record metrics in %s: database or disk is full (at step 1000)",
    r.id, db)
  local at = out:find(said, 1, true)
  check(at, "the failure said when it happened:\n%s", out)
  -- Said at the step it happened, before the end of the run is reported.
  local ended = out:find("loom run: run " .. r.id .. " (fill) failed: ", 1, true)
  check(ended and ended > at, "said before the end: %s", out)
  equal(out:find("still running at step 1500", 1, true), nil, "the run stopped at the failure")
  equal(r.status, "failed", "recorded status")
  check(r.error:find("database or disk is full (at step 1000) (2000 metric rows lost)", 1, true),
    "recorded error: %s", r.error)
  -- Listing later does not turn it into "died ... (killed?)".
  local lrc, lout = H.loom(dir, "runs --db " .. H.quote(db))
  equal(lrc, 0, "runs: " .. lout)
  check(lout:find(r.id .. "%s+fill%s+failed"), "listed as failed: %s", lout)
end

test("a full database while logging (max_page_count): said at once, recorded as the end", function()
  local dir, script = fill_dir()
  local rc, out = H.loom(dir, "run --quiet --db runs.db " .. H.quote(script))
  equal(rc, 0, "without the limit: " .. out)
  rc, out = H.sh(string.format("cd %s && LOOM_TEST_LIMIT_PAGES=1 %s run --quiet --db limited.db %s",
    H.quote(dir), H.quote(H.LOOM), H.quote(script)))
  check_full_disk_run(dir, dir .. "/limited.db", out, rc)
  H.cleanup(dir)
end)

test("a full file system while logging (a 240 KB tmpfs): said at once, recorded as the end", function()
  local dir, script = fill_dir()
  with_tmpfs(dir, "240k", function(mnt)
    local rc, out = H.sh(string.format("cd %s && %s run --quiet --db %s %s", H.quote(dir), H.quote(H.LOOM),
      H.quote(mnt .. "/runs.db"), H.quote(script)))
    check_full_disk_run(dir, mnt .. "/runs.db", out, rc)
  end)
  H.cleanup(dir)
end)

-- ---- damaged and foreign databases ----

-- `loom runs` and `loom run` on the same database: -> both outputs without their prefixes
local function both_refuse(dir, db)
  local rc1, out1 = H.loom(dir, "runs --db " .. H.quote(db))
  local rc2, out2 = H.loom(dir, "run --quiet --db " .. H.quote(db) .. " " .. H.quote(H.COUNTER) .. " n=3")
  equal(rc1, 1, "loom runs exit status: " .. out1)
  equal(rc2, 1, "loom run exit status: " .. out2)
  local m1 = out1:match("^loom runs: (.-)\n") or out1
  local m2 = out2:match("^loom run: (.-)\n") or out2
  equal(m2, m1, "the same message from loom run as from loom runs")
  return m1
end

test("a database with a foreign runs table is not a loom run database, for readers and writers", function()
  local dir = H.tempdir()
  local db = assert(sqlite.open(dir .. "/other.db"))
  db:exec("CREATE TABLE runs (x INTEGER, note TEXT); INSERT INTO runs VALUES (1, 'mine')")
  db:close()
  local msg = both_refuse(dir, dir .. "/other.db")
  equal(msg, "cannot use " .. dir .. "/other.db: not a loom run database (no loom schema_version in a "
    .. "meta table, or no runs table)", "message")
  -- One with loom's meta but somebody else's runs table.
  db = assert(sqlite.open(dir .. "/half.db"))
  db:exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value); INSERT INTO meta VALUES ('schema_version', 1);"
    .. "CREATE TABLE runs (name TEXT, status TEXT)")
  db:close()
  msg = both_refuse(dir, dir .. "/half.db")
  equal(msg, "cannot use " .. dir .. "/half.db: not a loom run database (its runs table has no column id)",
    "message")
  local check_db = assert(sqlite.open(dir .. "/other.db", {readonly = true}))
  equal(#check_db:rows("SELECT name FROM sqlite_master WHERE type = 'table'"), 1, "nothing created in it")
  check_db:close()
  H.cleanup(dir)
end)

test("a damaged run database is refused by loom runs and loom run with the same message", function()
  local dir = H.tempdir()
  local path = dir .. "/runs.db"
  local s = assert(store.open(path, {journal = "delete"}))
  s.db:exec("PRAGMA synchronous = OFF") -- 600 small transactions: no fsync each
  for i = 1, 300 do
    local id = s:create_run{name = i == 150 and "damaged-page-marker" or "filler", params = {i = i}}
    s:finish(id, "completed")
  end
  local page_size = s.db:rows("PRAGMA page_size")[1].page_size
  s:close()
  local bytes = H.read(path)
  local at = assert(bytes:find("damaged-page-marker", 1, true), "marker in the file")
  local page_start = (at - 1) // page_size * page_size
  check(page_start > 0, "the marker is not on page 1")
  -- Break the b-tree page header of the runs table page holding the marker.
  local f = assert(io.open(path, "r+b"))
  f:seek("set", page_start)
  f:write(string.rep("\xff", 8))
  f:close()
  local before = H.read(path)
  local msg = both_refuse(dir, path)
  check(msg:find("^cannot use " .. path:gsub("%p", "%%%0") .. ": the database is damaged %("),
    "message names the file and the damage: %s", msg)
  check(msg:find("refusing to use it", 1, true), "message says it is refused: %s", msg)
  equal(H.read(path) == before, true, "loom run wrote nothing into the damaged file")
  -- A file that is not SQLite at all.
  local junk = dir .. "/junk.db"
  local f2 = assert(io.open(junk, "wb"))
  f2:write(string.rep("garbage!", 1000))
  f2:close()
  equal(both_refuse(dir, junk), "cannot use " .. junk .. ": the database is damaged (file is not a database); "
    .. "refusing to use it (`sqlite3 " .. junk .. " .recover` may save what is readable)", "message for junk")
  H.cleanup(dir)
end)
