-- loom: the public Lua API. The engine is loom.core (C); this file gathers it into one
-- table with the Lua half (formatting, containers, experiments). Not the CLI (loom.cli).
local core = require "loom.core"

local loom = {version = core.version}
-- Submodules may require "loom" while it loads; they get this same table.
package.loaded["loom"] = loom

for name, fn in pairs(core.matrix) do
  if name ~= "metatable" then loom[name] = fn end
end

local matrix_mt = core.matrix.metatable
loom.matrix_methods = matrix_mt.__index
matrix_mt.__tostring = require("loom.format").matrix

loom.experiment = require("loom.experiment").new
loom.nn = require "loom.nn"
loom.optim = require "loom.optim"
loom.data = require "loom.data"
loom.seq = require "loom.seq"
loom.audio = require "loom.audio"

loom.save = core.safetensors.save
loom.load = core.safetensors.load
loom.checkpoint = require "loom.checkpoint"
loom.load_checkpoint = loom.checkpoint.load
loom.runs = require "loom.runs"
loom.text = require "loom.text"
loom.metrics = require "loom.metrics"
loom.seq2seq = require "loom.seq2seq"
loom.dictionary = require "loom.dictionary"
loom.spellout = core.numwords.open
loom.linalg = require "loom.linalg"
loom.regress = require("loom.regress").regress

return loom
