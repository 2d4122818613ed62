-- counter.lua: a tiny experiment for the run store tests: logs n metrics, can fail or sleep.
local loom = require "loom"
return loom.experiment{
  name = "counter",
  description = "logs a decaying loss for n steps",
  params = {n = 100, lr = 0.1, fail = false, sleep = 0.0, tag = "a"},
  run = function(p, run)
    local core = require "loom.core"
    local loss = 1.0
    for i = 1, p.n do
      loss = loss * (1 - p.lr)
      run:log{step = i, loss = loss, acc = 1 - loss}
      run:progress(i, p.n)
      if p.sleep > 0 then core.process.sleep(p.sleep) end
      if p.fail and i == p.n // 2 then error("failing on purpose at step " .. i) end
    end
    return {loss = loss, acc = 1 - loss, steps = p.n, tag = p.tag}
  end,
}
