-- test_sweep.lua: parameter grids, the local sweep with worker processes, sorting of the
-- results table, --status, and the Slurm script --dry-run prints (no cluster needed here).
local store = require "loom.runs.store"
local sweep = require "loom.runs.sweep"
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

test("grid expansion is the cartesian product, last key fastest", function()
  local points = assert(sweep.grid{"lr=0.1,0.01", "hidden=32,64,128", "quick=true"})
  equal(#points, 6, "points")
  equal(table.concat(points[1], " "), "lr=0.1 hidden=32 quick=true", "first")
  equal(table.concat(points[2], " "), "lr=0.1 hidden=64 quick=true", "second")
  equal(table.concat(points[6], " "), "lr=0.01 hidden=128 quick=true", "last")
  equal(#assert(sweep.grid{}), 1, "no axes: one point")
  local p, err = sweep.grid{"lr"}
  equal(p, nil, "bad spec")
  equal(err, "expected key=v1,v2,..., got 'lr'", "message")
end)

test("sort direction: losses ascending, others descending, explicit suffix wins", function()
  local name, desc = sweep.sort_spec("acc")
  equal(name, "acc", "name")
  equal(desc, true, "acc descending")
  equal(select(2, sweep.sort_spec("val_loss")), false, "loss ascending")
  equal(select(2, sweep.sort_spec("acc:asc")), false, "explicit asc")
  equal(select(2, sweep.sort_spec("loss:desc")), true, "explicit desc")
end)

test("a local sweep runs every point with -j 2 and sorts the results", function()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "sweep " .. H.quote(H.COUNTER) .. " lr=0.1,0.2 n=10,20 -j 2 --sort loss")
  equal(rc, 0, "sweep: " .. out)
  local s = assert(store.open(dir .. "/runs.db"))
  local sw = s.db:rows("SELECT * FROM sweeps")[1]
  equal(sw.points, 4, "points recorded")
  equal(sw.mode, "local", "mode")
  local runs = s:list{sweep = sw.id}
  equal(#runs, 4, "runs")
  local seen = {}
  for _, r in ipairs(runs) do
    equal(r.status, "completed", "status of " .. r.id)
    seen[r.sweep_point] = string.format("lr=%s n=%d", r.params.lr, r.params.n)
  end
  equal(seen[0], "lr=0.1 n=10", "point 0")
  equal(seen[3], "lr=0.2 n=20", "point 3")
  s:close()
  -- The table is sorted by loss, ascending: lr=0.2 n=20 first, lr=0.1 n=10 last.
  local rows = {}
  for line in out:gmatch("[^\n]+") do
    if line:match("^%x+%s+completed") then rows[#rows + 1] = line end
  end
  equal(#rows, 4, "result rows: " .. out)
  check(rows[1]:find("0.2%s+20"), "best first: %s", rows[1])
  check(rows[4]:find("0.1%s+10"), "worst last: %s", rows[4])
  rc, out = H.loom(dir, "sweep --status")
  equal(rc, 0, "status: " .. out)
  check(out:find("4 completed", 1, true), "status counts: %s", out)
  H.cleanup(dir)
end)

test("a failing point makes the sweep exit non-zero and the rest still run", function()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "sweep " .. H.quote(H.COUNTER) .. " n=10 fail=false,true -j 2")
  equal(rc, 1, "exit status: " .. out)
  check(out:find("1 of 2 points failed", 1, true), "message: %s", out)
  local s = assert(store.open(dir .. "/runs.db"))
  equal(#s:list{status = "completed"}, 1, "completed")
  equal(#s:list{status = "failed"}, 1, "failed")
  s:close()
  H.cleanup(dir)
end)

test("bad grid values are rejected before anything runs", function()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "sweep " .. H.quote(H.COUNTER) .. " n=10,ten")
  equal(rc, 2, "exit status")
  check(out:find("param 'n' expects a number, got 'ten'", 1, true), "message: %s", out)
  equal(H.read(dir .. "/runs.db"), nil, "no database created")
  H.cleanup(dir)
end)

test("--slurm --dry-run prints a job array script", function()
  local dir = H.tempdir()
  local rc, out = H.loom(dir, "sweep " .. H.quote(H.COUNTER)
    .. " lr=0.1,0.2 n=5,6 --slurm --dry-run --partition gpu --time 00:10:00 --cpus 2 --mem 2G")
  equal(rc, 0, "dry run: " .. out)
  check(out:find("^#!/bin/bash\n"), "shebang")
  for _, want in ipairs{"#SBATCH --array=0-3", "#SBATCH --partition=gpu", "#SBATCH --time=00:10:00",
    "#SBATCH --cpus-per-task=2", "#SBATCH --mem=2G", "3) set -- 'lr=0.2' 'n=6' ;;",
    "export LOOM_DB_JOURNAL=delete", "--sweep "} do
    check(out:find(want, 1, true), "script lacks '%s':\n%s", want, out)
  end
  equal(H.read(dir .. "/runs.db"), nil, "a dry run records nothing")
  local f = io.open(dir .. "/s.sh", "w")
  f:write(out)
  f:close()
  equal((H.sh("bash -n " .. H.quote(dir .. "/s.sh"))), 0, "the script parses")
  H.cleanup(dir)
end)

-- SIGKILL the coordinator and the worker it was waiting for: the point being run is left
-- "running" (then died), the points after it "not started". --resume finishes the sweep.
test("loom sweep --resume runs the points a killed coordinator left, and continues died runs", function()
  local process = require("loom.core").process
  local dir = H.tempdir()
  local rc, out = H.sh(string.format("cd %s && { %s sweep %s n=40 sleep=0.02 tag=a,'b c',d,e -j 1 >sweep.log 2>&1 & echo $! ; }",
    H.quote(dir), H.quote(H.LOOM), H.quote(H.COUNTER)))
  equal(rc, 0, "start: " .. out)
  local coordinator = tonumber(out:match("(%d+)"))
  -- Wait until the second point's worker runs.
  local sid, worker
  check(H.wait_for(60, function()
    local s = store.open(dir .. "/runs.db", {readonly = true})
    if not s then return false end
    local ok, rows = pcall(s.db.rows, s.db,
      "SELECT sweep, pid FROM runs WHERE sweep_point = 1 AND status = 'running'")
    s:close()
    if ok and rows[1] then sid, worker = rows[1].sweep, rows[1].pid end
    return worker ~= nil
  end), "the second point never started")
  process.kill(coordinator, "KILL")
  process.kill(worker, "KILL")
  check(H.wait_for(20, function() return H.gone(coordinator) and H.gone(worker) end), "kills")
  rc, out = H.loom(dir, "sweep --status " .. sid)
  check(out:find("1 completed, 1 died, 2 not started", 1, true), "status after the kill: %s", out)
  local s = assert(store.open(dir .. "/runs.db"))
  local died = s:list{sweep = sid, status = "died"}[1]
  s:close()
  rc, out = H.loom(dir, "sweep --resume " .. sid:sub(1, 5) .. " -j 2")
  equal(rc, 0, "resume: " .. out)
  check(out:find("3 of 4 points to run", 1, true), "resume plan: %s", out)
  rc, out = H.loom(dir, "sweep --status " .. sid)
  check(out:find("4 completed", 1, true), "status after --resume: %s", out)
  s = assert(store.open(dir .. "/runs.db"))
  local runs = s:list{sweep = sid}
  equal(#runs, 4, "one run per point (the died one continued, not replaced)")
  local tags = {}
  for _, r in ipairs(runs) do
    equal(r.status, "completed", "status of point " .. r.sweep_point)
    tags[r.sweep_point + 1] = r.params.tag
    local n = s.db:rows("SELECT COUNT(DISTINCT step) AS n, MAX(step) AS m FROM metrics WHERE run_id = ?", r.id)[1]
    check(n.n == 40 and n.m == 40, "point %d: steps 1..40 once each (%d distinct, max %d)", r.sweep_point, n.n, n.m)
  end
  equal(table.concat(tags, "|"), "a|b c|d|e", "each point's params, a value with a space included")
  equal(s:get(died.id).status, "completed", "the died run, continued under its id")
  s:close()
  rc, out = H.loom(dir, "sweep --resume " .. sid)
  equal(rc, 0, "a second resume: " .. out)
  check(out:find("0 of 4 points to run", 1, true), "nothing left: %s", out)
  for _, name in ipairs{"counter", "last"} do
    rc, out = H.loom(dir, "sweep --resume " .. name)
    check(rc == 0 and out:find("sweep " .. sid .. ": 0 of 4 points to run", 1, true),
      "--resume %s finds the sweep: %s", name, out)
  end
  rc, out = H.loom(dir, "sweep --resume ffffffff")
  equal(rc, 1, "unknown sweep")
  check(out:find("loom sweep: no sweep ffffffff", 1, true), "message: %s", out)
  H.cleanup(dir)
end)

test("a local sweep whose script and database paths hold spaces and quotes", function()
  local process = require("loom.core").process
  local dir = H.tempdir()
  local sub = dir .. [[/it's a "sweep" $HOME]]
  assert(process.mkdir_p(sub))
  assert(os.execute(string.format("cp %s %s", H.quote(H.COUNTER), H.quote(sub .. "/count er.lua"))))
  local rc, out = H.loom(dir, string.format([[sweep --db %s %s n=5 tag='x y,"q"' -j 2]],
    H.quote(sub .. "/my runs.db"), H.quote(sub .. "/count er.lua")))
  equal(rc, 0, "sweep: " .. out)
  local s = assert(store.open(sub .. "/my runs.db", {readonly = true}))
  local tags = {}
  for _, r in ipairs(s:list{status = "completed"}) do tags[#tags + 1] = r.params.tag end
  s:close()
  table.sort(tags)
  equal(table.concat(tags, "|"), '"q"|x y', "both points ran with their values")
  H.cleanup(dir)
end)
