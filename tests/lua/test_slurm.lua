-- test_slurm.lua: a real Slurm: scripts/slurm-local.sh brings up a one-node cluster on this
-- machine, a 4-point sweep goes through sbatch as a job array, and 4 completed runs come back.
-- Skips only where the daemons cannot run (not root, no packages and no apt-get).
local store = require "loom.runs.store"
local H = dofile(TEST_DIR .. "/runs_helpers.lua")

local SCRIPT = PROJECT_DIR .. "/scripts/slurm-local.sh"
local CONF = (os.getenv("LOOM_SLURM_DIR") or "/tmp/loom-slurm") .. "/etc/slurm.conf"

test("a 4-point sweep through a one-node Slurm cluster", function()
  local _, uid = H.sh("id -u")
  if uid:match("%d+") ~= "0" then skip("needs root to start munged, slurmctld and slurmd") end
  -- A cluster that slurm-local.sh already runs is used and left running; else ours is stopped.
  local was_up = H.sh(string.format("timeout 20 %s status", H.quote(SCRIPT))) == 0
  if not was_up then
    local rc, out = H.sh(string.format("timeout 600 %s start", H.quote(SCRIPT)))
    if rc == 3 then skip("the Slurm daemons cannot start here: " .. out:gsub("%s+$", "")) end
    if rc ~= 0 then
      H.sh(string.format("timeout 60 %s stop", H.quote(SCRIPT)))
      error("slurm-local.sh start failed (" .. rc .. "): " .. out)
    end
  end
  local dir = H.tempdir()
  local ok, err = pcall(function()
    local rc, out = H.sh(string.format("cd %s && SLURM_CONF=%s timeout 300 %s sweep %s lr=0.1,0.2 n=10,20 --slurm "
      .. "--time 5 --cpus 1 --wait --timeout 240 --sort loss", H.quote(dir), H.quote(CONF), H.quote(H.LOOM),
      H.quote(H.COUNTER)))
    equal(rc, 0, "sweep --slurm --wait: " .. out)
    check(out:find("submitted Slurm job array", 1, true), "submitted: %s", out)
    check(out:find("4 completed", 1, true), "status: %s", out)
    rc, out = H.loom(dir, "runs status=completed")
    equal(rc, 0, "runs: " .. out)
    local s = assert(store.open(dir .. "/runs.db"))
    local sw = s.db:rows("SELECT * FROM sweeps")[1]
    equal(sw.mode, "slurm", "mode")
    check(sw.job_id and sw.job_id:match("^%d+$"), "job id recorded")
    local runs = s:list{sweep = sw.id, status = "completed"}
    equal(#runs, 4, "completed runs merged from the task databases")
    for _, r in ipairs(runs) do
      equal(s.db:rows("SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?", r.id)[1].n, 2 * r.params.n,
        "metrics of " .. r.id)
    end
    s:close()
  end)
  if not was_up then H.sh(string.format("timeout 60 %s stop", H.quote(SCRIPT))) end
  H.cleanup(dir)
  if not ok then error(err, 0) end
end)
