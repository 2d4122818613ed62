-- noisy.lua: an experiment for the report and seed-statistics tests: a loss that decays at
-- rate x with seed-dependent noise, a result per run, and a tiny red PNG as an artifact.
local loom = require "loom"

-- A valid 4x4 red PNG, so the report can be checked to inline an image.
local RED_PNG = "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x04\x00\x00\x00\x04"
  .. "\x08\x02\x00\x00\x00\x26\x93\x09\x29\x00\x00\x00\x10\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\x00\x47\x0c"
  .. "\xc4\x71\x00\xae\x93\x0f\xf1\xd0\x5f\x23\x9e\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82"

return loom.experiment{
  name = "noisy",
  params = {x = 1, steps = 20},
  run = function(p, run)
    local loss = 1.0
    for i in run:steps(p.steps) do
      loss = loss * (1 - 0.05 * p.x) * (1 + 0.1 * (math.random() - 0.5))
      run:log{step = i, loss = loss}
    end
    local f = assert(io.open(run:artifact("red.png"), "wb"))
    f:write(RED_PNG)
    f:close()
    return {score = p.x + math.random(), loss = loss}
  end,
}
