-- loom.runs: the run store from Lua (the REPL, scripts): run an experiment and get its result,
-- open a database and query it. Not the commands (loom.runs.cli) nor the run object (loom.runner).
local experiment = require "loom.experiment"
local store = require "loom.runs.store"

local runs = {open = store.open}

-- loom.runs.run(script_or_experiment [, params [, {db = path, quiet = true}]])
--   -> result, run_id | nil, error, run_id
-- params: {lr = 0.1} or {"lr=0.1"}, checked like `loom run` overrides. Recorded in the
-- database (default $LOOM_DB, else runs.db) exactly as `loom run` would.
function runs.run(e, params, opts)
  opts = opts or {}
  if type(e) == "string" then
    local loaded, err = experiment.load(e)
    if not loaded then return nil, err end
    e = loaded
  end
  if not experiment.is_experiment(e) then
    error("loom.runs.run: expected a script path or a loom.experiment{...}, got " .. type(e), 2)
  end
  local p, perr = experiment.resolve(e, params)
  if not p then return nil, perr end
  local s, serr = store.open(opts.db)
  if not s then return nil, serr end
  local status, result, run = require("loom.runner").execute(e, p, {store = s, quiet = opts.quiet})
  s:close()
  if status ~= "completed" then return nil, status .. ": " .. tostring(result), run.id end
  return result, run.id
end

return runs
